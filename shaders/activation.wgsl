// Activations, elementwise over flat buffers; one thread per output element, 1-D grid folded
// into 2-D (idx = gid.y * nwg.x * 64 + gid.x).
// Defines: OP = silu_mul | gelu.
//   silu_mul: o[r, i] = silu(g) * u. FUSED: input a is [rows, 2 * inter] with gate in columns
//             [0, inter) and up in [inter, 2 inter); else gate = a, up = b (same shape as o).
//   gelu:     o = gelu_tanh(a) (torch approximate="tanh"); in place when IN_PLACE (a is o).

const WG: u32 = WG_X;

struct Params { n: u32, inter: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
#if !IN_PLACE
@group(0) @binding(2) var<storage, read> a: array<f32>;
#endif
#if OP == silu_mul
#if !FUSED
@group(0) @binding(3) var<storage, read> b: array<f32>;
#endif
#endif

#include "gelu"

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * WG + gid.x;
  if (idx >= params.n) { return; }
#if OP == silu_mul
#if FUSED
  let r = idx / params.inter;
  let i = idx % params.inter;
  let g = a[r * 2u * params.inter + i];
  let u = a[r * 2u * params.inter + params.inter + i];
#else
  let g = a[idx];
  let u = b[idx];
#endif
  o[idx] = g / (1.0 + exp(-g)) * u;
#else
#if IN_PLACE
  o[idx] = gelu_tanh(o[idx]);
#else
  o[idx] = gelu_tanh(a[idx]);
#endif
#endif
}
