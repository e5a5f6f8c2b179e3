// Elementwise arithmetic over flat f32 buffers; one thread per element, 1-D grid folded into 2-D.
// Defines: OP = add (o = a + b) | scale (o = a * s) | add_inplace (o += b) | scale_inplace (o *= s).

const WG: u32 = WG_X;

struct Params { n: u32, s: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
#if OP == add
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
#elif OP == scale
@group(0) @binding(2) var<storage, read> a: array<f32>;
#elif OP == add_inplace
@group(0) @binding(2) var<storage, read> b: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * WG + gid.x;
  if (idx >= params.n) { return; }
#if OP == add
  o[idx] = a[idx] + b[idx];
#elif OP == scale
  o[idx] = a[idx] * params.s;
#elif OP == add_inplace
  o[idx] = o[idx] + b[idx];
#else
  o[idx] = o[idx] * params.s;
#endif
}
