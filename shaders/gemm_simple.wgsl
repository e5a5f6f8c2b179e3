// Barrier-free GEMM for CPU adapters (SwiftShader), where the tiled kernel's workgroup barriers
// dominate: one thread per output, no workgroup memory. Same math, bindings and params as
// gemm.wgsl (Y[y_off + m * N + n] = sum_k X[x_off + m * K + k] W[n, k] (+ bias[n]); WQ = 0 f32,
// 4 q4, 8 q8; VEC4 for f32 when K % 4 == 0 and x_off % 4 == 0; GELU epilogue). Grid folded to 2-D.
#include "common"
#include "quant"

struct Params { M: u32, N: u32, K: u32, x_off: u32, y_off: u32 }

@group(0) @binding(0) var<uniform> p: Params;
#define QW_T vec4<u32>
#include "matmul_bindings"

#if GELU
// Epilogue y = gelu_tanh(y), for SigLIP's fc1: saves a pass over the [M, 3072] activations.
#include "gelu"
#endif

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_wg(wid, nwg) * WG_SIZE + lid;
  if (id >= p.M * p.N) { return; }
  let m = id / p.N;
  let n = id % p.N;
  var acc = 0.0;
#if WQ == 0
#if VEC4
  let kv = p.K / 4u;
  let xo = (p.x_off + m * p.K) / 4u;
  for (var k = 0u; k < kv; k++) { acc += dot(w[n * kv + k], x[xo + k]); }
#else
  let xo = p.x_off + m * p.K;
  for (var k = 0u; k < p.K; k++) { acc += w[n * p.K + k] * x[xo + k]; }
#endif
#else
  let xo = (p.x_off + m * p.K) / 4u;
  for (var g = 0u; g < p.K / 32u; g++) {
    let gi = g * p.N + n;
    let xb = xo + g * 8u;
#if WQ == 4
    let wv = qw[gi];
    let d = (dot(q4_lo4(wv.x), x[xb]) + dot(q4_hi4(wv.x), x[xb + 1u])) + (dot(q4_lo4(wv.y), x[xb + 2u]) + dot(q4_hi4(wv.y), x[xb + 3u]))
          + (dot(q4_lo4(wv.z), x[xb + 4u]) + dot(q4_hi4(wv.z), x[xb + 5u])) + (dot(q4_lo4(wv.w), x[xb + 6u]) + dot(q4_hi4(wv.w), x[xb + 7u]));
#else
    let wa = qw[2u * gi];
    let wb = qw[2u * gi + 1u];
    let d = (dot(q8_4(wa.x), x[xb]) + dot(q8_4(wa.y), x[xb + 1u])) + (dot(q8_4(wa.z), x[xb + 2u]) + dot(q8_4(wa.w), x[xb + 3u]))
          + (dot(q8_4(wb.x), x[xb + 4u]) + dot(q8_4(wb.y), x[xb + 5u])) + (dot(q8_4(wb.z), x[xb + 6u]) + dot(q8_4(wb.w), x[xb + 7u]));
#endif
    acc += scales[gi] * d;
  }
#endif
#if HAS_BIAS
  acc += bias[n];
#endif
#if GELU
  acc = gelu_tanh(acc);
#endif
  y[p.y_off + m * p.N + n] = acc;
}
