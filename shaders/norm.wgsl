// Row normalizations: RMSNorm (Llama) and LayerNorm (SigLIP), optionally fused with the residual
// add that precedes them. One workgroup per row of x [rows, h]; grid2d(rows) (row = wg.y * nwg.x + wg.x).
// Defines: LAYER (LayerNorm with bias instead of RMSNorm), RESIDUAL (x += r first, in place,
// and normalize the sum: the residual stream is updated and the normed copy written to `o`).

const WG: u32 = WG_X;

struct Params { rows: u32, h: u32, eps: f32, _p: u32 }

@group(0) @binding(0) var<uniform> params: Params;
#if RESIDUAL
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
#if LAYER
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#if RESIDUAL
#if LAYER
@group(0) @binding(5) var<storage, read> r: array<f32>;
#else
@group(0) @binding(4) var<storage, read> r: array<f32>;
#endif
#endif

var<workgroup> red: array<f32, WG>;

fn reduceSum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let t = red[0];
  workgroupBarrier();
  return t;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.y * nwg.x + wg.x;
  if (row >= params.rows) { return; }
  let base = row * params.h;
#if RESIDUAL
  for (var i = lid; i < params.h; i += WG) { x[base + i] = x[base + i] + r[base + i]; }
#endif
#if LAYER
  var s = 0.0;
  for (var i = lid; i < params.h; i += WG) { s += x[base + i]; }
  let mean = reduceSum(s, lid) / f32(params.h);
  var s2 = 0.0;
  for (var i = lid; i < params.h; i += WG) { let d = x[base + i] - mean; s2 += d * d; }
  let inv = inverseSqrt(reduceSum(s2, lid) / f32(params.h) + params.eps);
  for (var i = lid; i < params.h; i += WG) { o[base + i] = (x[base + i] - mean) * inv * w[i] + bias[i]; }
#else
  var s2 = 0.0;
  for (var i = lid; i < params.h; i += WG) { let v = x[base + i]; s2 += v * v; }
  let inv = inverseSqrt(reduceSum(s2, lid) / f32(params.h) + params.eps);
  for (var i = lid; i < params.h; i += WG) { o[base + i] = x[base + i] * inv * w[i]; }
#endif
}
