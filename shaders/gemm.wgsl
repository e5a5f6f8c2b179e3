// Tiled GEMM: Y[y_off + m * N + n] = sum_k X[x_off + m * K + k] W[n, k] (+ bias[n]),
// X f32 [M, K]; W f32 [N, K] row-major (WQ = 0) or packed q4/q8 (WQ = 4 / 8, dequantized in the
// tile load; K % 32 == 0). Tile BM (M) x BN (N) x 16 (K) with BM = 4 * TY, BN = 8 * TX, TX * TY
// threads, 4 x 8 outputs each: thread (tx, ty) owns rows ty*4..ty*4+3 and columns tx*4..tx*4+3
// and BN/2+tx*4..BN/2+tx*4+3 (conflict-free vec4 reads of the B tile). workers/ops/gemm.ts
// (gemmPlan) picks 64 x 128 (TX = TY = 16) from 512 rows, 32 x 128 (TX = 16, TY = 8) below.
// Edges: out-of-range rows/columns load clamped or zero and are not written; f32 K needs no
// alignment (VEC4 = K % 4 == 0 && x_off % 4 == 0).
// PREFETCH: the next K tile's global loads go into registers before the current tile's
// multiply-adds (measured slower on an H200; off by default, kept for sweeps).
// SPLITK: workgroup z takes K slice [z * k_chunk, min(K, (z + 1) * k_chunk)) (k_chunk % 32 == 0)
// and writes its raw partial sums to y[(z * M + m) * N + n] (y is then the split scratch; no
// bias, no GELU); shaders/gemm_reduce.wgsl sums the slices and applies the epilogue.
// GELU: the output goes through gelu_tanh after the bias.
#include "common"
#include "quant"

struct Params { M: u32, N: u32, K: u32, x_off: u32, y_off: u32, k_chunk: u32 }

const BM = 4u * TY;
const BN = 8u * TX;
const BK = 16u;
const WG = TX * TY;

@group(0) @binding(0) var<uniform> p: Params;
#define QW_T u32
#include "matmul_bindings"

#if GELU
// Epilogue y = gelu_tanh(y), for SigLIP's fc1: saves a pass over the [M, 3072] activations.
#include "gelu"
#endif

var<workgroup> As: array<vec4<f32>, 4u * BM>; // [BK][BM / 4]
var<workgroup> Bs: array<vec4<f32>, 4u * BN>; // [BK][BN / 4]

// 4 consecutive X (or f32 W) values starting at element `e` of a row, zero past `rem` valid ones.
#if VEC4
fn load_x4(e: u32, rem: u32) -> vec4<f32> {
  if (rem < 4u) { return vec4<f32>(0.0); }
  return x[e / 4u];
}
#else
fn load_x4(e: u32, rem: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < min(rem, 4u); i++) { v[i] = x[e + i]; }
  return v;
}
#endif
#if WQ == 0
#if VEC4
fn load_w4(e: u32, rem: u32) -> vec4<f32> {
  if (rem < 4u) { return vec4<f32>(0.0); }
  return w[e / 4u];
}
#else
fn load_w4(e: u32, rem: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < min(rem, 4u); i++) { v[i] = w[e + i]; }
  return v;
}
#endif
#endif

// Tile loads, split in a global fetch (into registers) and a store into workgroup memory, so
// PREFETCH can issue the next tile's fetches before the current tile's multiply-adds.
// A: vec4 e of the [BK][BM] tile = row e / 4, k offset (e % 4) * 4.
const NA = (4u * BM + WG - 1u) / WG;
fn fetch_a(e: u32, m0: u32, k0: u32, k_end: u32) -> vec4<f32> {
  let m = m0 + e / 4u;
  let k = k0 + (e % 4u) * 4u;
  if (e >= 4u * BM || m >= p.M || k >= k_end) { return vec4<f32>(0.0); }
  return load_x4(p.x_off + m * p.K + k, k_end - k);
}
fn store_a(e: u32, v: vec4<f32>) {
  if (e >= 4u * BM) { return; }
  let r = e / 4u;
  let kq = (e % 4u) * 4u;
  As[(kq + 0u) * TY + r / 4u][r % 4u] = v.x;
  As[(kq + 1u) * TY + r / 4u][r % 4u] = v.y;
  As[(kq + 2u) * TY + r / 4u][r % 4u] = v.z;
  As[(kq + 3u) * TY + r / 4u][r % 4u] = v.w;
}
#if WQ == 0
// B (f32 W): vec4 e = row e / 4, k offset (e % 4) * 4.
const EB = 4u * BN;
alias BRaw = vec4<f32>;
fn fetch_b(e: u32, n0: u32, k0: u32, k_end: u32) -> BRaw {
  let n = min(n0 + e / 4u, p.N - 1u);
  let k = k0 + (e % 4u) * 4u;
  if (e >= EB || k >= k_end) { return vec4<f32>(0.0); }
  return load_w4(n * p.K + k, k_end - k);
}
fn store_b(e: u32, v: BRaw) {
  if (e >= EB) { return; }
  let r = e / 4u;
  let kq = (e % 4u) * 4u;
  Bs[(kq + 0u) * 2u * TX + r / 4u][r % 4u] = v.x;
  Bs[(kq + 1u) * 2u * TX + r / 4u][r % 4u] = v.y;
  Bs[(kq + 2u) * 2u * TX + r / 4u][r % 4u] = v.z;
  Bs[(kq + 3u) * 2u * TX + r / 4u][r % 4u] = v.w;
}
#else
// B (q4 / q8): WQ / 2 words (16 elements) of group k0 / 32 per row (a group is WQ words): e = row
// e % BN, word (k0 / 16 % 2) * WQ / 2 + e / BN; fetched raw (word, scale bits), dequantized in the store.
const EB = (WQ / 2u) * BN;
alias BRaw = vec2<u32>;
fn fetch_b(e: u32, n0: u32, k0: u32, k_end: u32) -> BRaw {
  if (e >= EB) { return vec2<u32>(0u); }
  let n = min(n0 + e % BN, p.N - 1u);
  let gi = (k0 / 32u) * p.N + n;
  return vec2<u32>(qw[gi * WQ + ((k0 / 16u) % 2u) * (WQ / 2u) + e / BN], bitcast<u32>(scales[gi]));
}
#if WQ == 4
// q4: a word holds 8 elements (low nibbles 0-3, high 4-7).
fn store_b(e: u32, v: BRaw) {
  if (e >= EB) { return; }
  let r = e % BN;
  let kb = (e / BN) * 8u;
  let s = bitcast<f32>(v.y);
  let lo = q4_lo4(v.x) * s;
  let hi = q4_hi4(v.x) * s;
  for (var i = 0u; i < 4u; i++) {
    Bs[(kb + i) * 2u * TX + r / 4u][r % 4u] = lo[i];
    Bs[(kb + 4u + i) * 2u * TX + r / 4u][r % 4u] = hi[i];
  }
}
#else
// q8: a word holds 4 elements.
fn store_b(e: u32, v: BRaw) {
  if (e >= EB) { return; }
  let r = e % BN;
  let ws = e / BN;
  let d = q8_4(v.x) * bitcast<f32>(v.y);
  for (var i = 0u; i < 4u; i++) { Bs[(ws * 4u + i) * 2u * TX + r / 4u][r % 4u] = d[i]; }
}
#endif
#endif
const NB = (EB + WG - 1u) / WG;

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n0 = wid.x * BN;
  let m0 = wid.y * BM;
  let tx = t % TX;
  let ty = t / TX;
  var acc: array<vec4<f32>, 8>;
#if SPLITK
  let k_begin = wid.z * p.k_chunk;
  let k_end = min(p.K, k_begin + p.k_chunk);
#else
  let k_begin = 0u;
  let k_end = p.K;
#endif
  var ra: array<vec4<f32>, NA>;
  var rb: array<BRaw, NB>;
#if PREFETCH
  for (var i = 0u; i < NA; i++) { ra[i] = fetch_a(t + i * WG, m0, k_begin, k_end); }
  for (var i = 0u; i < NB; i++) { rb[i] = fetch_b(t + i * WG, n0, k_begin, k_end); }
#endif

  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
#if !PREFETCH
    for (var i = 0u; i < NA; i++) { ra[i] = fetch_a(t + i * WG, m0, k0, k_end); }
    for (var i = 0u; i < NB; i++) { rb[i] = fetch_b(t + i * WG, n0, k0, k_end); }
#endif
    for (var i = 0u; i < NA; i++) { store_a(t + i * WG, ra[i]); }
    for (var i = 0u; i < NB; i++) { store_b(t + i * WG, rb[i]); }
#if PREFETCH
    // the next tile's global loads are in flight during this tile's multiply-adds
    let kn = k0 + BK;
    if (kn < k_end) {
      for (var i = 0u; i < NA; i++) { ra[i] = fetch_a(t + i * WG, m0, kn, k_end); }
      for (var i = 0u; i < NB; i++) { rb[i] = fetch_b(t + i * WG, n0, kn, k_end); }
    }
#endif
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a = As[k * TY + ty];
      let b0 = Bs[k * 2u * TX + tx];
      let b1 = Bs[k * 2u * TX + TX + tx];
      acc[0] += a.x * b0;
      acc[1] += a.x * b1;
      acc[2] += a.y * b0;
      acc[3] += a.y * b1;
      acc[4] += a.z * b0;
      acc[5] += a.z * b1;
      acc[6] += a.w * b0;
      acc[7] += a.w * b1;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty * 4u + i;
    if (m >= p.M) { break; }
    for (var h = 0u; h < 2u; h++) {
      let v = acc[i * 2u + h];
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + h * 4u * TX + tx * 4u + j;
        if (n < p.N) {
#if SPLITK
          y[(wid.z * p.M + m) * p.N + n] = v[j];
#else
#if HAS_BIAS
          let out = v[j] + bias[n];
#else
          let out = v[j];
#endif
#if GELU
          y[p.y_off + m * p.N + n] = gelu_tanh(out);
#else
          y[p.y_off + m * p.N + n] = out;
#endif
#endif
        }
      }
    }
  }
}
