// Quantize one activation row to int8 per group of 32 (shaders/xq8.wgsl) for the q4 GEMV's
// xInt8 path with x read from the buffer (workers/ops/gemv.ts: the dispatch before the GEMV).
// The row is x[x_off ..], or what the GEMV's prologue fusion would see (PRO_NORM: RMSNorm with
// weight nw, the whole row reduced by every workgroup; PRO_SILU: silu(gate) * up of [gate | up]).
// Output xq [3 G] vec4<u32>, G = K / 32: per group g, xq[3g] = e, xq[3g + 1] = o and
// xq[3g + 2] = (bits of s.x, bits of s.y, 0, 0). One thread per group.
#include "common"
#include "xq8"

struct Params { K: u32, x_off: u32, eps: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> xq: array<vec4<u32>>;
#if PRO_NORM
@group(0) @binding(3) var<storage, read> nw: array<vec4<f32>>;
#endif
#include "gemv_fuse"

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  fx_begin(p.x_off / 4u, p.K / 4u, p.eps, lid); // barriers under PRO_NORM: before any return
  let g = flat_wg(wid, nwg) * WG_SIZE + lid;
  if (g >= p.K / 32u) { return; }
  var v: array<vec4<f32>, 8>;
  for (var i = 0u; i < 8u; i++) { v[i] = fx(g * 8u + i); }
  let q = xq8_group(v);
  xq[3u * g] = q.e;
  xq[3u * g + 1u] = q.o;
  xq[3u * g + 2u] = vec4<u32>(bitcast<u32>(q.s.x), bitcast<u32>(q.s.y), 0u, 0u);
}
