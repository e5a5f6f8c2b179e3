// Split-K epilogue of the tiled GEMM (shaders/gemm.wgsl with SPLITK) and of the split-K GEMV
// (shaders/gemv.wgsl with SPLIT_PART, M = 1): sums the S raw partial products
// part[(s * M + m) * N + n] over the K slices and writes Y[y_off + m * N + n] = sum_s part
// (+ bias[n]) (then gelu_tanh with GELU; with EPI_ADD the sum is added to Y instead: the GEMV's
// residual stream, one writer per element). One thread per output, grid folded to 2-D
// (flat_wg). Slices are summed in order, so the result does not depend on scheduling.
#include "common"

struct Params { M: u32, N: u32, S: u32, y_off: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#if HAS_BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
#endif

#if GELU
#include "gelu"
#endif

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_wg(wid, nwg) * WG_SIZE + lid;
  let mn = p.M * p.N;
  if (id >= mn) { return; }
  var acc = 0.0;
  for (var s = 0u; s < p.S; s++) { acc += part[s * mn + id]; }
#if HAS_BIAS
  acc += bias[id % p.N];
#endif
#if GELU
  acc = gelu_tanh(acc);
#endif
#if EPI_ADD
  y[p.y_off + id] = y[p.y_off + id] + acc;
#else
  y[p.y_off + id] = acc;
#endif
}
