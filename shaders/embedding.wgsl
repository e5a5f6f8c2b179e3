// Embedding gather: out[out_off + t * H + h] = table[ids[ids_off + t], h] for t < T.
// Table f32 [V, H] row-major (QBITS = 0) or packed q4/q8 [V, H] (QBITS = 4 / 8, layout
// shaders/quant.wgsl, dequantized here). Ids ≥ V give zero rows. One thread per f32 element
// (f32), per packed word (8 values q4, 4 values q8). Grid folded to 2-D (flat_wg).
#include "common"
#include "quant"

struct Params { T: u32, H: u32, V: u32, out_off: u32, ids_off: u32 }

@group(0) @binding(0) var<uniform> p: Params;
#if QBITS == 0
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> outv: array<f32>;
#else
@group(0) @binding(1) var<storage, read> qw: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> outv: array<f32>;
#endif

#if QBITS == 4
const PER = 8u;
#elif QBITS == 8
const PER = 4u;
#else
const PER = 1u;
#endif

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_wg(wid, nwg) * WG_SIZE + lid;
  let per_row = p.H / PER;
  if (gid >= p.T * per_row) { return; }
  let t = gid / per_row;
  let c = gid % per_row;
  let id = ids[p.ids_off + t];
  let o = p.out_off + t * p.H + c * PER;
  if (id >= p.V) {
    for (var i = 0u; i < PER; i++) { outv[o + i] = 0.0; }
    return;
  }
#if QBITS == 0
  outv[o] = table[id * p.H + c];
#elif QBITS == 4
  let gi = (c / 4u) * p.V + id;
  let word = qw[gi * 4u + c % 4u];
  let s = scales[gi];
  let lo = q4_lo4(word) * s;
  let hi = q4_hi4(word) * s;
  for (var i = 0u; i < 4u; i++) {
    outv[o + i] = lo[i];
    outv[o + 4u + i] = hi[i];
  }
#else
  let gi = (c / 8u) * p.V + id;
  let v = q8_4(qw[gi * 8u + c % 8u]) * scales[gi];
  for (var i = 0u; i < 4u; i++) { outv[o + i] = v[i]; }
#endif
}
