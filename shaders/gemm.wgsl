// Tiled GEMM: Y[y_off + m * N + n] = sum_k X[x_off + m * K + k] W[n, k] (+ bias[n]),
// X f32 [M, K]; W f32 [N, K] row-major (WQ = 0) or packed q4/q8 (WQ = 4 / 8, dequantized in the
// tile load; K % 32 == 0). Tile 64 (M) x 128 (N) x 16 (K), 256 threads, 4 x 8 outputs each:
// thread (tx, ty) owns rows ty*4..ty*4+3 and columns tx*4..tx*4+3 and 64+tx*4..64+tx*4+3
// (conflict-free vec4 reads of the B tile). Edges: out-of-range rows/columns load clamped or
// zero and are not written; f32 K needs no alignment (VEC4 = K % 4 == 0 && x_off % 4 == 0).
// GELU: the output goes through gelu_tanh after the bias.
#include "common"
#include "quant"

struct Params { M: u32, N: u32, K: u32, x_off: u32, y_off: u32 }

const BM = 64u;
const BN = 128u;
const BK = 16u;

@group(0) @binding(0) var<uniform> p: Params;
#define QW_T u32
#include "matmul_bindings"

#if GELU
// Epilogue y = gelu_tanh(y), for SigLIP's fc1: saves a pass over the [M, 3072] activations.
#include "gelu"
#endif

var<workgroup> As: array<vec4<f32>, 256>; // [BK][BM / 4]
var<workgroup> Bs: array<vec4<f32>, 512>; // [BK][BN / 4]

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

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n0 = wid.x * BN;
  let m0 = wid.y * BM;
  let tx = t % 16u;
  let ty = t / 16u;
  var acc: array<vec4<f32>, 8>;

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // A tile: row t / 4, k offset (t % 4) * 4.
    {
      let r = t / 4u;
      let kq = (t % 4u) * 4u;
      let m = m0 + r;
      let k = k0 + kq;
      var v = vec4<f32>(0.0);
      if (m < p.M && k < p.K) { v = load_x4(p.x_off + m * p.K + k, p.K - k); }
      As[(kq + 0u) * 16u + r / 4u][r % 4u] = v.x;
      As[(kq + 1u) * 16u + r / 4u][r % 4u] = v.y;
      As[(kq + 2u) * 16u + r / 4u][r % 4u] = v.z;
      As[(kq + 3u) * 16u + r / 4u][r % 4u] = v.w;
    }
#if WQ == 0
    for (var j = 0u; j < 2u; j++) {
      let idx = t + j * 256u;
      let r = idx / 4u;
      let kq = (idx % 4u) * 4u;
      let n = min(n0 + r, p.N - 1u);
      let k = k0 + kq;
      var v = vec4<f32>(0.0);
      if (k < p.K) { v = load_w4(n * p.K + k, p.K - k); }
      Bs[(kq + 0u) * 32u + r / 4u][r % 4u] = v.x;
      Bs[(kq + 1u) * 32u + r / 4u][r % 4u] = v.y;
      Bs[(kq + 2u) * 32u + r / 4u][r % 4u] = v.z;
      Bs[(kq + 3u) * 32u + r / 4u][r % 4u] = v.w;
    }
#elif WQ == 4
    {
      // 2 words (16 elements) of group k0 / 32 per row: word (k0 / 16 % 2) * 2 + t / 128.
      let r = t % 128u;
      let ws = t / 128u;
      let n = min(n0 + r, p.N - 1u);
      let gi = (k0 / 32u) * p.N + n;
      let word = qw[gi * 4u + ((k0 / 16u) % 2u) * 2u + ws];
      let s = scales[gi];
      let lo = q4_lo4(word) * s;
      let hi = q4_hi4(word) * s;
      let kb = ws * 8u;
      for (var i = 0u; i < 4u; i++) {
        Bs[(kb + i) * 32u + r / 4u][r % 4u] = lo[i];
        Bs[(kb + 4u + i) * 32u + r / 4u][r % 4u] = hi[i];
      }
    }
#else
    for (var j = 0u; j < 2u; j++) {
      // 4 words (16 elements) of group k0 / 32 per row: word (k0 / 16 % 2) * 4 + idx / 128.
      let idx = t + j * 256u;
      let r = idx % 128u;
      let ws = idx / 128u;
      let n = min(n0 + r, p.N - 1u);
      let gi = (k0 / 32u) * p.N + n;
      let v = q8_4(qw[gi * 8u + ((k0 / 16u) % 2u) * 4u + ws]) * scales[gi];
      for (var i = 0u; i < 4u; i++) { Bs[(ws * 4u + i) * 32u + r / 4u][r % 4u] = v[i]; }
    }
#endif
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a = As[k * 16u + ty];
      let b0 = Bs[k * 32u + tx];
      let b1 = Bs[k * 32u + 16u + tx];
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
        let n = n0 + h * 64u + tx * 4u + j;
        if (n < p.N) {
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
        }
      }
    }
  }
}
