// Skinny GEMM: Y[y_off + m * N + n] = sum_k X[x_off + m * K + k] W[n, k] (+ bias[n]) for
// m < M ≤ MT (tree verification, small prefills), packed q4/q8 W [N, K] (QBITS = 4 or 8).
// Like gemv.wgsl, a workgroup is TN x TK threads; thread (ln, lk) owns row n = row0 + ln and
// groups g = lk, lk + TK, ...; each weight group is loaded and dequantized ONCE and applied to
// all M rows of X (X rows read with warp-uniform addresses, served by the cache). Partial sums
// over lk are reduced through workgroup memory RED_M rows of X at a time.
// Requires K % 32 == 0, x_off % 4 == 0, MT % 8 == 0.
#include "common"
#include "quant"

struct Params { N: u32, K: u32, M: u32, x_off: u32, y_off: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qw: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#if HAS_BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif

const RED_M = 8u;
var<workgroup> red: array<f32, TK * RED_M * TN>;

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row0 = flat_wg(wid, nwg) * TN;
  if (row0 >= p.N) { return; }
  let ln = lid % TN;
  let lk = lid / TN;
  let n = min(row0 + ln, p.N - 1u);
  let groups = p.K / 32u;
  let kv = p.K / 4u;
  let xo = p.x_off / 4u;
  var acc: array<f32, MT>;
  for (var g = lk; g < groups; g += TK) {
    let idx = g * p.N + n;
    let s = scales[idx];
#if QBITS == 4
    let wv = qw[idx];
    let w0 = q4_lo4(wv.x) * s;
    let w1 = q4_hi4(wv.x) * s;
    let w2 = q4_lo4(wv.y) * s;
    let w3 = q4_hi4(wv.y) * s;
    let w4 = q4_lo4(wv.z) * s;
    let w5 = q4_hi4(wv.z) * s;
    let w6 = q4_lo4(wv.w) * s;
    let w7 = q4_hi4(wv.w) * s;
#else
    let wa = qw[2u * idx];
    let wb = qw[2u * idx + 1u];
    let w0 = q8_4(wa.x) * s;
    let w1 = q8_4(wa.y) * s;
    let w2 = q8_4(wa.z) * s;
    let w3 = q8_4(wa.w) * s;
    let w4 = q8_4(wb.x) * s;
    let w5 = q8_4(wb.y) * s;
    let w6 = q8_4(wb.z) * s;
    let w7 = q8_4(wb.w) * s;
#endif
    let xg = xo + g * 8u;
    for (var m = 0u; m < MT; m++) {
      if (m < p.M) {
        let xb = xg + m * kv;
        acc[m] += (dot(w0, x[xb]) + dot(w1, x[xb + 1u])) + (dot(w2, x[xb + 2u]) + dot(w3, x[xb + 3u]))
                + (dot(w4, x[xb + 4u]) + dot(w5, x[xb + 5u])) + (dot(w6, x[xb + 6u]) + dot(w7, x[xb + 7u]));
      }
    }
  }
  // red is [TK][RED_M][TN]; reduce RED_M rows of X per round.
  for (var mb = 0u; mb < MT; mb += RED_M) {
    for (var j = 0u; j < RED_M; j++) { red[(lk * RED_M + j) * TN + ln] = acc[mb + j]; }
    workgroupBarrier();
    for (var i = lid; i < RED_M * TN; i += WG_SIZE) {
      let m = mb + i / TN;
      let c = i % TN;
      let nn = row0 + c;
      if (m < p.M && nn < p.N) {
        var v = 0.0;
        for (var k = 0u; k < TK; k++) { v += red[k * RED_M * TN + i]; }
#if HAS_BIAS
        v += bias[nn];
#endif
        y[p.y_off + m * p.N + nn] = v;
      }
    }
    workgroupBarrier();
  }
}
