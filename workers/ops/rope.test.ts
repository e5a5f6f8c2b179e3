// Parity of RoPE (standalone, in place) and the fused RoPE + KV-cache write against the CPU
// reference, with arbitrary (tree-like, non-consecutive) positions; and of KV compaction with
// overlapping source/destination lists. Tolerance: 1e-5 absolute (inputs in [-1, 1]).
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { maxAbs as maxAbsDiff } from './attention-cases';
import { createRope, createRopeKvWrite, createRopeTable } from './rope';
import { createKvCache, createKvCompact } from './kv-cache-ops';
import { ropeRef, ropeKvWriteRef, ropeTable } from './reference/rope';
import { kvCompactRef } from './reference/kv';
import { randomF32 } from './reference/matmul';
import { createF32, readF32, uploadF32, uploadU32 } from './types';

describe('rope', () => {
  it('table matches torch-style f32 angles (cos^2 + sin^2 = 1, pos 0 is identity)', () => {
    const t = ropeTable(8, 10000, 3);
    expect([...t.subarray(0, 8)]).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    for (let i = 0; i < 4; i++) expect(t[16 + i] ** 2 + t[16 + 4 + i] ** 2).toBeCloseTo(1, 6);
  });

  it.each([
    [32, 10000],
    [64, 100000],
  ])('in place on heads at a column offset, d=%i theta=%i', async (d, theta) => {
    const ctx = await testContext();
    const T = 5;
    const nHeads = 3;
    const row = (nHeads + 1) * d;
    const x = randomF32(T * row, d);
    const positions = Uint32Array.from([0, 7, 3, 2000, 9]);
    const table = createRopeTable(ctx, d, theta, 2048);
    const xt = uploadF32(ctx, x, [T, row]);
    const op = createRope(ctx, { x: xt, table, positions: uploadU32(ctx, positions, [T]), nHeads, headDim: d, colOffset: d });
    const rec = new Recorder(ctx);
    op.record(rec, { T });
    await rec.submitAndWait();
    const got = await readF32(ctx, xt);
    // reference on the heads at columns [d, row)
    const heads = new Float32Array(T * nHeads * d);
    for (let t = 0; t < T; t++) heads.set(x.subarray(t * row + d, (t + 1) * row), t * nHeads * d);
    const want = ropeRef(heads, positions, nHeads, d, ropeTable(d, theta, 2048));
    for (let t = 0; t < T; t++) {
      expect(maxAbsDiff(got.subarray(t * row + d, (t + 1) * row), want.subarray(t * nHeads * d, (t + 1) * nHeads * d))).toBeLessThan(1e-5);
      expect([...got.subarray(t * row, t * row + d)]).toEqual([...x.subarray(t * row, t * row + d)]);
    }
  });

  it('fused with the KV-cache write (GQA, slots after existing entries)', async () => {
    const ctx = await testContext();
    const d = 64;
    const nHeads = 6;
    const nKv = 2;
    const maxSeq = 24;
    const T = 7;
    const firstSlot = 10;
    const row = (nHeads + 2 * nKv) * d;
    const qkv = randomF32(T * row, 77);
    const positions = Uint32Array.from([10, 11, 11, 12, 12, 12, 13]);
    const [cache] = createKvCache(ctx, 1, nKv, maxSeq, d);
    const kPrev = randomF32(nKv * maxSeq * d, 78);
    const vPrev = randomF32(nKv * maxSeq * d, 79);
    ctx.buffers.write(cache.k.buffer, kPrev);
    ctx.buffers.write(cache.v.buffer, vPrev);
    const qOut = createF32(ctx, [T, nHeads * d]);
    const op = createRopeKvWrite(ctx, {
      qkv: uploadF32(ctx, qkv, [T, row]),
      table: createRopeTable(ctx, d, 10000, 64),
      positions: uploadU32(ctx, positions, [T]),
      qOut,
      cache,
      nHeads,
    });
    const rec = new Recorder(ctx);
    op.record(rec, { T, firstSlot });
    await rec.submitAndWait();
    const kWant = kPrev.slice();
    const vWant = vPrev.slice();
    const qWant = ropeKvWriteRef(qkv, positions, nHeads, nKv, d, ropeTable(d, 10000, 64), kWant, vWant, maxSeq, firstSlot);
    expect(maxAbsDiff(await readF32(ctx, qOut), qWant)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await readF32(ctx, cache.k), kWant)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await readF32(ctx, cache.v), vWant)).toBe(0);
    const bad = new Recorder(ctx);
    expect(() => op.record(bad, { T, firstSlot: maxSeq - 2 })).toThrow(/exceed/);
    bad.discard();
  });
});

describe('kv compaction', () => {
  it('moves the accepted path down, all layers, overlapping lists', async () => {
    const ctx = await testContext();
    const nKv = 3;
    const maxSeq = 40;
    const d = 32;
    const layers = createKvCache(ctx, 2, nKv, maxSeq, d);
    const init = layers.map((l, i) => {
      const k = randomF32(nKv * maxSeq * d, 100 + i);
      const v = randomF32(nKv * maxSeq * d, 200 + i);
      ctx.buffers.write(l.k.buffer, k);
      ctx.buffers.write(l.v.buffer, v);
      return { k, v };
    });
    // accepted path at slots 20, 21, 23, 26 -> 20, 21, 22, 23 (slot 23 is both read and written)
    const src = Uint32Array.from([20, 21, 23, 26]);
    const dst = Uint32Array.from([20, 21, 22, 23]);
    const op = createKvCompact(ctx, { layers, src: uploadU32(ctx, src, [4]), dst: uploadU32(ctx, dst, [4]) });
    const rec = new Recorder(ctx);
    op.record(rec, { n: 4 });
    await rec.submitAndWait();
    for (let i = 0; i < layers.length; i++) {
      expect(maxAbsDiff(await readF32(ctx, layers[i].k), kvCompactRef(init[i].k, nKv, maxSeq, d, src, dst))).toBe(0);
      expect(maxAbsDiff(await readF32(ctx, layers[i].v), kvCompactRef(init[i].v, nKv, maxSeq, d, src, dst))).toBe(0);
    }
  });
});
