// Parity of the embedding gather (f32 / q4 / q8 tables) against the CPU reference on Dawn,
// including repeated ids, an out-of-range id (zero row) and id/output offsets. Exact match for
// f32; quantized tables match dequantize(packed) to 1e-6 relative (one multiply per value).
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { dequantize, quantize } from '../storage/quant';
import { createEmbedding } from './embedding';
import { embeddingRef } from './reference/embedding';
import { randomF32 } from './reference/matmul';
import { createF32, readF32, uploadF32, uploadPacked, type GpuTensor } from './types';

describe.each(['f32', 'q4', 'q8'] as const)('embedding %s', (dtype) => {
  it.each([
    [50, 64, [0, 49, 7, 7, 1000, 3]],
    [300, 96, [299, 0, 150]],
  ])('V=%i H=%i', async (vocab, hidden, idList) => {
    const ctx = await testContext();
    const tf = randomF32(vocab * hidden, vocab + hidden);
    let ref = tf;
    let table: GpuTensor;
    if (dtype === 'f32') {
      table = uploadF32(ctx, tf, [vocab, hidden]);
    } else {
      const p = quantize(dtype, tf, vocab, hidden);
      ref = dequantize(p);
      table = uploadPacked(ctx, p);
    }
    const ids: GpuTensor = { buffer: ctx.buffers.upload(new Uint32Array([9, ...idList])), shape: [idList.length + 1], dtype: 'u32' };
    const out = createF32(ctx, [hidden * (idList.length + 1)]);
    const op = createEmbedding(ctx, { table, ids, out, maxTokens: idList.length });
    const rec = new Recorder(ctx);
    op.record(rec, { count: idList.length, idsOffset: 1, outOffset: hidden });
    await rec.submitAndWait();
    const got = await readF32(ctx, out);
    const want = embeddingRef(ref, vocab, hidden, idList);
    expect([...got.subarray(0, hidden)].every((v) => v === 0)).toBe(true);
    const g = got.subarray(hidden);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(g[i] - want[i]) / (Math.abs(want[i]) + 1e-30));
    expect(worst).toBeLessThanOrEqual(dtype === 'f32' ? 0 : 1e-6);
  });
});
