// CPU references for the matmul family (GEMV, skinny GEMM, tiled GEMM): Y[M, N] = X[M, K] W^T
// (+ bias), W row-major [N, K]. Quantized kernels are compared against these run on
// dequantize(packed) (workers/storage/quant.ts). Accumulates in f64.

/** Y[M, N] = X[M, K] W^T + bias. */
export function matmulRef(x: Float32Array, w: Float32Array, m: number, n: number, k: number, bias?: Float32Array): Float32Array {
  if (x.length < m * k) throw new RangeError(`matmulRef: x has ${x.length} values, need ${m * k}`);
  if (w.length !== n * k) throw new RangeError(`matmulRef: w has ${w.length} values, need ${n * k}`);
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const xo = i * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let s = 0;
      for (let t = 0; t < k; t++) s += x[xo + t] * w[wo + t];
      y[i * n + j] = s + (bias ? bias[j] : 0);
    }
  }
  return y;
}

/** Σ_k |X[i, k] W[j, k]| (+ |bias|): the scale a float dot product's rounding error is relative to. */
export function matmulAbsRef(x: Float32Array, w: Float32Array, m: number, n: number, k: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += Math.abs(x[i * k + t] * w[j * k + t]);
      y[i * n + j] = s + (bias ? Math.abs(bias[j]) : 0);
    }
  }
  return y;
}

/**
 * Largest error of `got` against `want`, relative to the dot-product scale `abs`:
 * max_i |got_i - want_i| / (abs_i + tiny). Kernels pass at ≤ 1e-5 (f32 accumulation order).
 */
export function maxScaledError(got: Float32Array, want: Float32Array, abs: Float32Array): number {
  if (got.length < want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (abs[i] + 1e-30);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

/** Deterministic pseudo-random f32 values in [-scale, scale) (mulberry32). */
export function randomF32(count: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = (r * 2 - 1) * scale;
  }
  return out;
}
