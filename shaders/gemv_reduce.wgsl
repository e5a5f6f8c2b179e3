// Second pass of the split-K GEMV (shaders/gemv.wgsl with SPLIT_PART): y[y_off + n] = Σ_s
// part[s, n] (+ bias[n]) for n < N, part [KSPLIT, N] the K-slices' partial sums. With EPI_ADD the
// sum is added to y instead (residual stream, one writer per n). One thread per output element.
#include "common"

struct Params { N: u32, y_off: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#if HAS_BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
#endif

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = flat_wg(wid, nwg) * WG_SIZE + lid;
  if (n >= p.N) { return; }
  var v = part[n];
  for (var s = 1u; s < KSPLIT; s++) { v += part[s * p.N + n]; }
#if HAS_BIAS
  v += bias[n];
#endif
#if EPI_ADD
  y[p.y_off + n] = y[p.y_off + n] + v;
#else
  y[p.y_off + n] = v;
#endif
}
