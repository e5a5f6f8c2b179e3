// Patchify (im2col) on the CPU: pixel tiles [B, C, S, S] (the processor's normalized output)
// become GEMM rows [B * (S/P)², C P P], one row per patch in raster order, each row in the
// conv kernel's (c, ky, kx) order, so the patch embedding is one GEMM against
// vision.patch_embed [vh, C P P] (a stride-P convolution with a P x P kernel).

/** Rows for `batch` tiles starting at tile `first` of `pixels` ([N, C, S, S] f32). */
export function patchify(pixels: Float32Array, first: number, batch: number, channels: number, size: number, patch: number, out?: Float32Array): Float32Array {
  const side = size / patch;
  const rowLen = channels * patch * patch;
  const rows = batch * side * side;
  const dst = out ?? new Float32Array(rows * rowLen);
  if (dst.length < rows * rowLen) throw new RangeError(`patchify: output holds ${dst.length} values, needs ${rows * rowLen}`);
  const tileLen = channels * size * size;
  if ((first + batch) * tileLen > pixels.length) throw new RangeError(`patchify: tiles ${first}..${first + batch - 1} outside the ${pixels.length / tileLen} given`);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    const tile = (first + b) * tileLen;
    for (let py = 0; py < side; py++) {
      for (let px = 0; px < side; px++) {
        for (let c = 0; c < channels; c++) {
          const plane = tile + c * size * size;
          for (let ky = 0; ky < patch; ky++) {
            const src = plane + (py * patch + ky) * size + px * patch;
            dst.set(pixels.subarray(src, src + patch), o);
            o += patch;
          }
        }
      }
    }
  }
  return dst;
}
