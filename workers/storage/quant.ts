// Engine weight formats for linear layers and how to pack them. Pure CPU code, no GPU.
//
// A weight W of shape [N, K] (N output rows, K inputs; K % 32 == 0) is cut into groups of 32
// consecutive inputs. G = K / 32 groups per row. Symmetric quantization, one f32 scale per group.
//
// The packed layout is GROUP-MAJOR: all N rows' copies of group 0, then all rows' group 1, ...
// so that consecutive GPU threads (consecutive rows n) read consecutive 16-byte blocks of the
// same group: coalesced loads in GEMV, and a [32 x tileN] slab is contiguous for GEMM tiles.
//
//   q4: qweight u32[G * N * 4]; group (g, n) is the vec4<u32> at word ((g * N) + n) * 4.
//       word j (0..3) holds elements 8j..8j+7 of the group; element 8j+b sits in bits 4b..4b+3
//       as the unsigned nibble q + 8, q in [-8, 7]. scale = max|w| / 7.
//   q8: qweight u32[G * N * 8]; group (g, n) is two vec4<u32> at word ((g * N) + n) * 8.
//       word j (0..7) holds elements 4j..4j+3; element 4j+b is byte b (two's complement int8).
//       scale = max|w| / 127.
//   scales: f32[G * N], index g * N + n.  Dequantized value = q * scale.

export type QuantKind = 'q4' | 'q8';

export const GROUP_SIZE = 32;

export interface PackedWeight {
  kind: QuantKind;
  rows: number; // N
  cols: number; // K
  qweight: Uint32Array;
  scales: Float32Array;
}

export function wordsPerGroup(kind: QuantKind): number {
  return kind === 'q4' ? 4 : 8;
}

/** Quantize a row-major f32 [rows, cols] matrix. */
export function quantize(kind: QuantKind, w: Float32Array, rows: number, cols: number): PackedWeight {
  if (cols % GROUP_SIZE !== 0) throw new RangeError(`quantize: cols ${cols} is not a multiple of ${GROUP_SIZE}`);
  if (w.length !== rows * cols) throw new RangeError(`quantize: ${w.length} values for [${rows}, ${cols}]`);
  const groups = cols / GROUP_SIZE;
  const wpg = wordsPerGroup(kind);
  const qmax = kind === 'q4' ? 7 : 127;
  const qmin = kind === 'q4' ? -8 : -128;
  const qweight = new Uint32Array(groups * rows * wpg);
  const scales = new Float32Array(groups * rows);
  for (let n = 0; n < rows; n++) {
    for (let g = 0; g < groups; g++) {
      const base = n * cols + g * GROUP_SIZE;
      let amax = 0;
      for (let i = 0; i < GROUP_SIZE; i++) amax = Math.max(amax, Math.abs(w[base + i]));
      const scale = amax / qmax;
      const inv = scale > 0 ? 1 / scale : 0;
      scales[g * rows + n] = scale;
      const wordBase = (g * rows + n) * wpg;
      for (let i = 0; i < GROUP_SIZE; i++) {
        const q = Math.max(qmin, Math.min(qmax, Math.round(w[base + i] * inv)));
        if (kind === 'q4') {
          qweight[wordBase + (i >> 3)] |= ((q + 8) & 0xf) << ((i & 7) * 4);
        } else {
          qweight[wordBase + (i >> 2)] |= (q & 0xff) << ((i & 3) * 8);
        }
      }
    }
  }
  return { kind, rows, cols, qweight, scales };
}

/** Inverse of quantize(): the row-major f32 matrix the GPU kernels effectively multiply with. */
export function dequantize(p: PackedWeight): Float32Array {
  const { rows, cols, kind, qweight, scales } = p;
  const groups = cols / GROUP_SIZE;
  const wpg = wordsPerGroup(kind);
  const out = new Float32Array(rows * cols);
  for (let g = 0; g < groups; g++) {
    for (let n = 0; n < rows; n++) {
      const scale = scales[g * rows + n];
      const wordBase = (g * rows + n) * wpg;
      for (let i = 0; i < GROUP_SIZE; i++) {
        let q: number;
        if (kind === 'q4') {
          q = ((qweight[wordBase + (i >> 3)] >>> ((i & 7) * 4)) & 0xf) - 8;
        } else {
          q = (((qweight[wordBase + (i >> 2)] >>> ((i & 3) * 8)) & 0xff) << 24) >> 24;
        }
        out[n * cols + g * GROUP_SIZE + i] = q * scale;
      }
    }
  }
  return out;
}

/** Bytes a packed weight occupies (qweight + scales). */
export function packedBytes(kind: QuantKind, rows: number, cols: number): number {
  const groups = cols / GROUP_SIZE;
  return groups * rows * (wordsPerGroup(kind) * 4 + 4);
}
