// f32 GEMV: y[y_off + n] = dot(W[n, :], x[x_off .. x_off + K]) (+ bias[n]), W f32 [N, K] row-major.
// One workgroup per ROWS consecutive rows; its WG_SIZE threads stride along K (vec4 loads when
// VEC4, i.e. K % 4 == 0 and x_off % 4 == 0) and tree-reduce in workgroup memory.
// Defines: ROWS, VEC4, HAS_BIAS. WG_SIZE must be a power of two. With VEC4, the fusions of
// shaders/gemv_fuse.wgsl (PRO_NORM / PRO_SILU on x, EPI_ADD on y; NW_BINDING = norm weight).
#include "common"

struct Params { N: u32, K: u32, x_off: u32, y_off: u32, eps: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
#define WQ 0
#include "matmul_bindings"
#if VEC4
#if PRO_NORM
@group(0) @binding(NW_BINDING) var<storage, read> nw: array<vec4<f32>>;
#endif
#include "gemv_fuse"
#endif

var<workgroup> red: array<f32, WG_SIZE * ROWS>;

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row0 = flat_wg(wid, nwg) * ROWS;
  if (row0 >= p.N) { return; }
#if VEC4
  let kv = p.K / 4u;
  let xo = p.x_off / 4u;
#else
  let kv = p.K;
  let xo = p.x_off;
#endif
  var acc: array<f32, ROWS>;
#if VEC4
  fx_begin(xo, kv, p.eps, lid);
#endif
  for (var k = lid; k < kv; k += WG_SIZE) {
#if VEC4
    let xv = fx(k);
#else
    let xv = x[xo + k];
#endif
    for (var r = 0u; r < ROWS; r++) {
      let n = min(row0 + r, p.N - 1u);
#if VEC4
      acc[r] += dot(w[n * kv + k], xv);
#else
      acc[r] += w[n * kv + k] * xv;
#endif
    }
  }
  for (var r = 0u; r < ROWS; r++) { red[r * WG_SIZE + lid] = acc[r]; }
  workgroupBarrier();
  for (var s = WG_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var r = 0u; r < ROWS; r++) { red[r * WG_SIZE + lid] += red[r * WG_SIZE + lid + s]; }
    }
    workgroupBarrier();
  }
  if (lid < ROWS && row0 + lid < p.N) {
    var v = red[lid * WG_SIZE];
#if HAS_BIAS
    v += bias[row0 + lid];
#endif
#if VEC4
    fy(p.y_off + row0 + lid, v);
#else
    y[p.y_off + row0 + lid] = v;
#endif
  }
}
