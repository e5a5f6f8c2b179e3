// Parity of on-GPU token selection with reference/sample.ts: argmax over several rows (ties,
// multi-chunk vocab), and temperature / top-k / top-p / repetition-penalty sampling with fixed
// uniform numbers. Exact equality of token ids is required.
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { createArgmax } from './argmax';
import { createSampler, type SampleArgs } from './sample';
import { argmaxRef, candidatesRef, sampleRef } from './reference/sample';
import { randomF32 } from './reference/matmul';
import { createU32, uploadF32, uploadU32 } from './types';

describe('argmax', () => {
  it.each([
    [1, 50],
    [5, 4096],
    [3, 10007],
  ])('rows=%i vocab=%i', async (rows, vocab) => {
    const ctx = await testContext();
    const x = randomF32(rows * vocab, rows + vocab, 10);
    if (vocab > 4096) {
      x[vocab + 4100] = 50; // row 1's max in the second chunk
      x[vocab + 9000] = 50; // tie in the third chunk: the lower id wins
    }
    x[3] = NaN; // never wins
    const out = createU32(ctx, [rows]);
    const op = createArgmax(ctx, { logits: uploadF32(ctx, x, [rows, vocab]), out, vocab });
    const rec = new Recorder(ctx);
    op.record(rec);
    await rec.submitAndWait();
    const got = await ctx.buffers.readU32(out.buffer, rows);
    expect([...got]).toEqual([...argmaxRef(x, rows, vocab)]);
    if (vocab > 4096) expect(got[1]).toBe(4100);
  });
});

describe('sampling', () => {
  const vocab = 3000;
  const logits = randomF32(vocab, 5, 6);
  const history = Uint32Array.from([5, 17, 17, 2999, 400, 1234]);
  logits[17] = 9; // strongly preferred until penalized
  const cases: Array<Omit<SampleArgs, 'u' | 'historyLength'>> = [
    { temperature: 1, topK: 40, topP: 0.95, repetitionPenalty: 1 },
    { temperature: 0.7, topK: 0, topP: 0.9, repetitionPenalty: 1.3 },
    { temperature: 1.5, topK: 5, topP: 1, repetitionPenalty: 1.1 },
    { temperature: 1, topK: 1, topP: 1, repetitionPenalty: 1 },
    { temperature: 2, topK: 128, topP: 0.5, repetitionPenalty: 2 },
  ];
  it.each(cases)('%o matches the reference for 12 fixed u', async (p) => {
    const ctx = await testContext();
    const out = createU32(ctx, [1]);
    const op = createSampler(ctx, { logits: uploadF32(ctx, logits, [vocab]), history: uploadU32(ctx, history, [history.length]), out, vocab });
    const us = [0, 0.05, 0.13, 0.21, 0.33, 0.42, 0.5, 0.61, 0.74, 0.86, 0.93, 0.999];
    const got: number[] = [];
    for (const u of us) {
      const rec = new Recorder(ctx);
      op.record(rec, { ...p, u, historyLength: history.length });
      await rec.submitAndWait();
      got.push((await ctx.buffers.readU32(out.buffer, 1))[0]);
    }
    const want = us.map((u) => sampleRef(logits, history, p, u));
    expect(got).toEqual(want);
    // where several candidates survive, the fixed u's reach more than one of them
    const kept = candidatesRef(logits, history, p).ids.length;
    if (kept > 1) expect(new Set(got).size).toBeGreaterThan(1);
    else expect(new Set(got).size).toBe(1);
  });

  it('large vocabulary (three top-k rounds), penalty flips the favourite', async () => {
    const ctx = await testContext();
    const v = 20000;
    const lg = randomF32(v, 9, 3);
    lg[15000] = 8;
    lg[15001] = -0.5;
    const hist = Uint32Array.from([15000, 15001]);
    const out = createU32(ctx, [1]);
    const op = createSampler(ctx, { logits: uploadF32(ctx, lg, [v]), history: uploadU32(ctx, hist, [2]), out, vocab: v });
    for (const [pen, u] of [
      [1, 0.3],
      [4, 0.3],
      [4, 0.97],
    ]) {
      const p = { temperature: 0.8, topK: 50, topP: 0.9, repetitionPenalty: pen };
      const rec = new Recorder(ctx);
      op.record(rec, { ...p, u, historyLength: 2 });
      await rec.submitAndWait();
      const got = (await ctx.buffers.readU32(out.buffer, 1))[0];
      expect(got).toBe(sampleRef(lg, hist, p, u));
      if (pen === 1) expect(got).toBe(15000);
      else expect(got).not.toBe(15000);
    }
  });

  it('rejects bad arguments with OpShapeError', async () => {
    const ctx = await testContext();
    const op = createSampler(ctx, { logits: uploadF32(ctx, logits, [vocab]), history: uploadU32(ctx, history, [history.length]), out: createU32(ctx, [1]), vocab });
    const rec = new Recorder(ctx);
    expect(() => op.record(rec, { temperature: 0, topK: 1, topP: 1, repetitionPenalty: 1, u: 0.5, historyLength: 0 })).toThrow(/greedy/);
    expect(() => op.record(rec, { temperature: 1, topK: 1, topP: 1, repetitionPenalty: 1, u: 1, historyLength: 0 })).toThrow(/\[0, 1\)/);
    rec.discard();
  });
});
