// Install-time fast path of quant.ts `quantize`: quantizes a block of rows straight into the
// group-major packed arrays of the WHOLE tensor (no per-block packing and scatter), packing each
// u32 word in a local. Bit-identical to quant.ts (same scale, same inverse, same rounding); the
// test checks that on random data, so quant.ts stays the one definition of the format.
import { GROUP_SIZE, wordsPerGroup } from './quant';
import type { QuantKind } from './quant';

/**
 * Quantizes `block` = rows [row0, row0 + B) of an [N, K] weight (row-major f32, B * K values)
 * into `qweight` (u32[G * N * wpg]) and `scales` (f32[G * N]) laid out as quant.ts describes.
 * Returns false when the block holds NaN or infinity (the caller rejects the model).
 */
export function quantizeRowsInto(
  kind: QuantKind,
  block: Float32Array,
  B: number,
  K: number,
  N: number,
  row0: number,
  qweight: Uint32Array,
  scales: Float32Array,
): boolean {
  if (K % GROUP_SIZE !== 0) throw new RangeError(`quantizeRowsInto: K ${K} is not a multiple of ${GROUP_SIZE}`);
  if (block.length !== B * K || row0 + B > N) throw new RangeError(`quantizeRowsInto: block of ${block.length} values for rows ${row0}+${B} of [${N}, ${K}]`);
  const G = K / GROUP_SIZE;
  const wpg = wordsPerGroup(kind);
  const q4 = kind === 'q4';
  const qmax = q4 ? 7 : 127;
  const qmin = q4 ? -8 : -128;
  let finite = true;
  for (let r = 0; r < B; r++) {
    const n = row0 + r;
    for (let g = 0; g < G; g++) {
      const base = r * K + g * GROUP_SIZE;
      let amax = 0;
      for (let i = 0; i < GROUP_SIZE; i++) {
        const a = Math.abs(block[base + i]);
        if (a > amax) amax = a;
        else if (!(a <= amax)) finite = false; // NaN
      }
      if (amax === Infinity) finite = false;
      const scale = amax / qmax;
      const inv = scale > 0 ? 1 / scale : 0;
      scales[g * N + n] = scale;
      let word = (g * N + n) * wpg;
      if (q4) {
        for (let j = 0; j < 32; j += 8) {
          let packed = 0;
          for (let b = 0; b < 8; b++) {
            let q = Math.round(block[base + j + b] * inv);
            q = q < qmin ? qmin : q > qmax ? qmax : q;
            packed |= (q + 8) << (b * 4);
          }
          qweight[word++] = packed;
        }
      } else {
        for (let j = 0; j < 32; j += 4) {
          let packed = 0;
          for (let b = 0; b < 4; b++) {
            let q = Math.round(block[base + j + b] * inv);
            q = q < qmin ? qmin : q > qmax ? qmax : q;
            packed |= (q & 0xff) << (b * 8);
          }
          qweight[word++] = packed;
        }
      }
    }
  }
  return finite;
}
