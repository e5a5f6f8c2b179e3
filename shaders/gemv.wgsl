// Quantized GEMV: y[y_off + n] = sum_k W[n, k] x[x_off + k] (+ bias[n]) for a packed q4/q8
// W [N, K] (layout: shaders/quant.wgsl). QBITS = 4 or 8.
// A workgroup is TN x TK threads and covers TN * R consecutive rows. Thread (ln, lk) owns rows
// row0 + ln + r * TN (r < R) and groups g = lk, lk + TK, ...: a warp's 32 threads read 32
// consecutive 16-byte blocks of one group (coalesced), one vec4<u32> (q4) or two (q8) and one
// scale per group and row. x is staged in workgroup memory CHUNK groups at a time (for q4
// permuted into even/odd element order to match q4_even_u/q4_odd_u, and the "- 8" of every
// nibble folded into one "- 8 * sum(x)" per group); partial sums over lk are reduced at the end.
// Each step issues the loads of U groups x R rows before any math (memory-level parallelism).
// Requires K % 32 == 0 and x_off % 4 == 0.
#include "common"
#include "quant"

struct Params { N: u32, K: u32, x_off: u32, y_off: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qw: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#if HAS_BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif

const ROWS_PER_WG = TN * R;

var<workgroup> xs: array<vec4<f32>, CHUNK * 8>;
var<workgroup> red: array<f32, TK * ROWS_PER_WG>;

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row0 = flat_wg(wid, nwg) * ROWS_PER_WG;
  if (row0 >= p.N) { return; }
  let ln = lid % TN;
  let lk = lid / TN;
  let groups = p.K / 32u;
  let xo = p.x_off / 4u;
  var acc: array<f32, R>;
  var rows: array<u32, R>;
  for (var r = 0u; r < R; r++) { rows[r] = min(row0 + ln + r * TN, p.N - 1u); }

  for (var c0 = 0u; c0 < groups; c0 += CHUNK) {
    let cg = min(CHUNK, groups - c0);
    // Stage x[c0 * 32 ..]: 4 pairs of vec4 (8 elements = one packed word) per group.
    for (var i = lid; i < cg * 4u; i += WG_SIZE) {
      let a = x[xo + c0 * 8u + 2u * i];
      let b = x[xo + c0 * 8u + 2u * i + 1u];
#if QBITS == 4
      xs[2u * i] = vec4<f32>(a.x, a.z, b.x, b.z);
      xs[2u * i + 1u] = vec4<f32>(a.y, a.w, b.y, b.w);
#else
      xs[2u * i] = a;
      xs[2u * i + 1u] = b;
#endif
    }
    workgroupBarrier();
    for (var gl = lk; gl < cg; gl += TK * U) {
      // Issue all U * R weight loads first (U groups per step, R rows each), then the math.
      var wa: array<vec4<u32>, U * R>;
#if QBITS == 8
      var wb: array<vec4<u32>, U * R>;
#endif
      var sc: array<f32, U * R>;
      for (var u = 0u; u < U; u++) {
        let gu = gl + u * TK;
        let g = c0 + min(gu, cg - 1u);
        for (var r = 0u; r < R; r++) {
          let idx = g * p.N + rows[r];
#if QBITS == 4
          wa[u * R + r] = qw[idx];
#else
          wa[u * R + r] = qw[2u * idx];
          wb[u * R + r] = qw[2u * idx + 1u];
#endif
          sc[u * R + r] = select(0.0, scales[idx], gu < cg);
        }
      }
      for (var u = 0u; u < U; u++) {
        let xb = min(gl + u * TK, cg - 1u) * 8u;
        let x0 = xs[xb];
        let x1 = xs[xb + 1u];
        let x2 = xs[xb + 2u];
        let x3 = xs[xb + 3u];
        let x4 = xs[xb + 4u];
        let x5 = xs[xb + 5u];
        let x6 = xs[xb + 6u];
        let x7 = xs[xb + 7u];
#if QBITS == 4
        let xsum8 = 8.0 * dot(((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)), vec4<f32>(1.0));
#endif
        for (var r = 0u; r < R; r++) {
          let wv = wa[u * R + r];
#if QBITS == 4
          let d = (dot(q4_even_u(wv.x), x0) + dot(q4_odd_u(wv.x), x1))
                + (dot(q4_even_u(wv.y), x2) + dot(q4_odd_u(wv.y), x3))
                + (dot(q4_even_u(wv.z), x4) + dot(q4_odd_u(wv.z), x5))
                + (dot(q4_even_u(wv.w), x6) + dot(q4_odd_u(wv.w), x7));
          acc[r] += sc[u * R + r] * (d - xsum8);
#else
          let wv2 = wb[u * R + r];
          let d = (dot(q8_4(wv.x), x0) + dot(q8_4(wv.y), x1)) + (dot(q8_4(wv.z), x2) + dot(q8_4(wv.w), x3))
                + (dot(q8_4(wv2.x), x4) + dot(q8_4(wv2.y), x5)) + (dot(q8_4(wv2.z), x6) + dot(q8_4(wv2.w), x7));
          acc[r] += sc[u * R + r] * d;
#endif
        }
      }
    }
    workgroupBarrier();
  }

  // red is [TK][ROWS_PER_WG]; entry i = r * TN + ln is row row0 + i.
  for (var r = 0u; r < R; r++) { red[lk * ROWS_PER_WG + r * TN + ln] = acc[r]; }
  workgroupBarrier();
  for (var i = lid; i < ROWS_PER_WG; i += WG_SIZE) {
    let n = row0 + i;
    if (n < p.N) {
      var v = 0.0;
      for (var k = 0u; k < TK; k++) { v += red[k * ROWS_PER_WG + i]; }
#if HAS_BIAS
      v += bias[n];
#endif
      y[p.y_off + n] = v;
    }
  }
}
