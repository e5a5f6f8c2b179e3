// quantizeRowsInto (install fast path) must be bit-identical to quant.ts `quantize`, the
// authoritative packing, for q4 and q8, whole tensors and row blocks, with zero groups and
// values at the rounding edges; and it must report non-finite input.
import { describe, expect, it } from 'vitest';
import { seededValues } from './fixtures';
import { quantize, wordsPerGroup } from './quant';
import { quantizeRowsInto } from './quantize-into';

describe('quantizeRowsInto', () => {
  it.each(['q4', 'q8'] as const)('%s: block-wise packing equals quant.ts quantize bit for bit', (kind) => {
    const N = 37;
    const K = 96;
    const w = seededValues(N * K, 11);
    w.fill(0, 5 * K, 5 * K + 32); // an all-zero group (scale 0)
    for (let i = 0; i < 64; i++) w[7 * K + i] = (i - 32) / 4.5; // values on rounding edges
    const want = quantize(kind, w, N, K);
    const qw = new Uint32Array((K / 32) * N * wordsPerGroup(kind));
    const sc = new Float32Array((K / 32) * N);
    for (let r0 = 0; r0 < N; r0 += 10) {
      const r1 = Math.min(N, r0 + 10);
      expect(quantizeRowsInto(kind, w.subarray(r0 * K, r1 * K), r1 - r0, K, N, r0, qw, sc)).toBe(true);
    }
    expect(Array.from(qw)).toEqual(Array.from(want.qweight));
    expect(Array.from(sc)).toEqual(Array.from(want.scales));
  });

  it('reports NaN and infinity', () => {
    const qw = new Uint32Array(8);
    const sc = new Float32Array(2);
    const w = new Float32Array(64);
    w[40] = NaN;
    expect(quantizeRowsInto('q4', w, 1, 64, 1, 0, qw, sc)).toBe(false);
    w[40] = -Infinity;
    expect(quantizeRowsInto('q4', w, 1, 64, 1, 0, qw, sc)).toBe(false);
    w[40] = 1;
    expect(quantizeRowsInto('q4', w, 1, 64, 1, 0, qw, sc)).toBe(true);
  });
});
