// CPU references for the normalization ops (RMSNorm for Llama, LayerNorm for SigLIP) and the
// fused "residual add + norm". Accumulate in f64 so they serve as the truth for GPU parity tests.

/** RMSNorm over rows: x [rows, h] -> out [rows, h] = x / sqrt(mean(x^2) + eps) * weight. */
export function rmsnormRef(x: Float32Array, weight: Float32Array, rows: number, h: number, eps: number): Float32Array {
  const out = new Float32Array(rows * h);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < h; i++) ss += x[r * h + i] ** 2;
    const inv = 1 / Math.sqrt(ss / h + eps);
    for (let i = 0; i < h; i++) out[r * h + i] = x[r * h + i] * inv * weight[i];
  }
  return out;
}

/** LayerNorm over rows: (x - mean) / sqrt(var + eps) * weight + bias (biased variance, like torch). */
export function layernormRef(
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array,
  rows: number,
  h: number,
  eps: number,
): Float32Array {
  const out = new Float32Array(rows * h);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < h; i++) mean += x[r * h + i];
    mean /= h;
    let v = 0;
    for (let i = 0; i < h; i++) v += (x[r * h + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / h + eps);
    for (let i = 0; i < h; i++) out[r * h + i] = (x[r * h + i] - mean) * inv * weight[i] + bias[i];
  }
  return out;
}

/** Residual sum s = x + r (rounded to f32 like the GPU stores it), then the chosen norm of s. */
export function addNormRef(
  kind: 'rms' | 'layer',
  x: Float32Array,
  r: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  rows: number,
  h: number,
  eps: number,
): { sum: Float32Array; out: Float32Array } {
  const sum = new Float32Array(rows * h);
  for (let i = 0; i < sum.length; i++) sum[i] = x[i] + r[i];
  const out =
    kind === 'rms'
      ? rmsnormRef(sum, weight, rows, h, eps)
      : layernormRef(sum, weight, bias ?? new Float32Array(h), rows, h, eps);
  return { sum, out };
}
