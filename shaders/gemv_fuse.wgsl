// Matmul fusion prologue/epilogue (included with #include "gemv_fuse"): what a kernel reading
// one input row x as vec4s and writing rows of y does around its dot products, so the decode
// path needs no separate RMSNorm, SiLU·mul or residual-add dispatches. Shared by gemv.wgsl and
// gemv_f32.wgsl; the skinny GEMM (tree verification) is the next user.
// Expects the including kernel to declare `x: array<vec4<f32>>` (read), `y: array<f32>` (rw)
// and, with PRO_NORM, `nw: array<vec4<f32>>` (the RMSNorm weight, K elements).
// Defines (all optional, PRO_NORM and PRO_SILU exclusive):
//   PRO_NORM  fx(i) = x[i] * rsqrt(mean(x^2) + eps) * nw[i] over the row (HF LlamaRMSNorm);
//             each workgroup reduces the row's sum of squares itself (K ≤ a few thousand).
//   PRO_SILU  the raw row is [gate (K) | up (K)]: fx(i) = silu(gate[i]) * up[i].
//   EPI_ADD   fy(n, v): y[n] += v (residual stream updated in place; each n has one writer).
// Usage: fx_begin(row_base_vec4, K / 4, eps, lid) once, by every thread, in uniform control flow
// (it has barriers under PRO_NORM); then fx(i) for vec4 i of the row (0 ≤ i < K / 4); fy(n, v).

var<private> fx_base: u32;
var<private> fx_k4: u32;
var<private> fx_inv: f32;

#if PRO_NORM
var<workgroup> fx_red: array<f32, WG_SIZE>;
#endif

fn fx_begin(base: u32, k4: u32, eps: f32, lid: u32) {
  fx_base = base;
  fx_k4 = k4;
  fx_inv = 1.0;
#if PRO_NORM
  var s = 0.0;
  for (var i = lid; i < k4; i += WG_SIZE) { let v = x[base + i]; s += dot(v, v); }
  fx_red[lid] = s;
  workgroupBarrier();
  for (var st = WG_SIZE / 2u; st > 0u; st >>= 1u) {
    if (lid < st) { fx_red[lid] += fx_red[lid + st]; }
    workgroupBarrier();
  }
  fx_inv = inverseSqrt(fx_red[0] / f32(4u * k4) + eps);
#endif
}

// vec4 i (elements 4i..4i+3) of the row as the dot products see it.
fn fx(i: u32) -> vec4<f32> {
#if PRO_NORM
  return x[fx_base + i] * fx_inv * nw[i];
#elif PRO_SILU
  let g = x[fx_base + i];
  return g / (vec4<f32>(1.0) + exp(-g)) * x[fx_base + fx_k4 + i];
#else
  return x[fx_base + i];
#endif
}

#if !NO_Y
// Write (or, with EPI_ADD, accumulate) output element n.
fn fy(n: u32, v: f32) {
#if EPI_ADD
  y[n] = y[n] + v;
#else
  y[n] = v;
#endif
}
#endif
