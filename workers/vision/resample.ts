// Lanczos resampling with PIL's arithmetic (Image.resize(..., Image.LANCZOS), what transformers'
// Python Idefics3 image processor does to a photo: resize to the longest edge): per axis, output
// o takes input taps around center = (o + 0.5) * scale with support 3 * max(scale, 1) (so a
// downscale averages, like PIL), weights lanczos3(x / max(scale, 1)) normalized to sum 1;
// horizontal pass first, each pass rounded to 8 bits and clamped (PIL resizes 8-bit images).
// lanczosTaps() feeds the GPU resize in gpu-tiles.ts; lanczosResizeRef() is its CPU reference.

export interface AxisTaps {
  /** First input index of each output. */
  start: Int32Array;
  /** Taps of each output (≤ stride). */
  count: Int32Array;
  /** Weights, `stride` per output (zero past count). */
  weights: Float32Array;
  stride: number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function lanczos3(x: number): number {
  return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

/** PIL's precompute_coeffs for a resize of `inSize` to `outSize` along one axis (Lanczos, support 3). */
export function lanczosTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 3 * filterscale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * stride);
  const ss = 1 / filterscale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    const k = new Float64Array(xmax);
    for (let x = 0; x < xmax; x++) {
      k[x] = lanczos3((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) weights[o * stride + x] = ww === 0 ? 0 : k[x] / ww;
    start[o] = xmin;
    count[o] = xmax;
  }
  return { start, count, weights, stride };
}

const round8 = (v: number) => Math.min(255, Math.max(0, Math.floor(v + 0.5)));

/**
 * CPU reference: HWC bytes (`channels` 3 or 4), or with `planar` a [3, height, width] image, ->
 * planar [3, outH, outW] of 8-bit values as f32.
 */
export function lanczosResizeRef(src: ArrayLike<number>, width: number, height: number, channels: number, outW: number, outH: number, planar = false): Float32Array {
  const at = planar ? (c: number, y: number, x: number) => src[(c * height + y) * width + x] : (c: number, y: number, x: number) => src[(y * width + x) * channels + c];
  const tx = lanczosTaps(width, outW);
  const ty = lanczosTaps(height, outH);
  const mid = new Float32Array(3 * height * outW);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < outW; x++) {
        let acc = 0;
        for (let k = 0; k < tx.count[x]; k++) acc += tx.weights[x * tx.stride + k] * at(c, y, tx.start[x] + k);
        mid[(c * height + y) * outW + x] = round8(acc);
      }
  const out = new Float32Array(3 * outH * outW);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < outH; y++)
      for (let x = 0; x < outW; x++) {
        let acc = 0;
        for (let k = 0; k < ty.count[y]; k++) acc += ty.weights[y * ty.stride + k] * mid[(c * height + ty.start[y] + k) * outW + x];
        out[(c * outH + y) * outW + x] = round8(acc);
      }
  return out;
}
