// Parity of the attention family against reference/attention.ts on Dawn (SwiftShader in CI):
// causal prefill (flash) and decode (split-K, several chunks), tree verification with an
// ancestor mask, the one-dispatch decode / small-tree kernel (64 and 256 threads, at the
// key-count limit and one past it), each cache case also under the previous routing
// (attentionRouting.legacy), bidirectional batched vision attention from a fused QKV buffer,
// HiRED key scores. Odd lengths, GQA, head_dim 32/64/128. Tolerance: max |gpu - ref| < 1e-4 (outputs are
// convex combinations of values in [-1, 1]); key scores relative 1e-4.
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { ATTN_SINGLE_MAX_KEYS, attentionRouting, createAttention, type AttentionMode } from './attention';
import { maxAbs as maxAbsDiff, splitFusedQkv } from './attention-cases';
import { attentionRef, keyScoresRef, treeMaskFromParents, type AttentionRefArgs } from './reference/attention';
import { randomF32 } from './reference/matmul';
import { createF32, readF32, uploadF32, uploadU32 } from './types';

const TOL = 1e-4;


interface CacheCase {
  mode: Exclude<AttentionMode, 'full'>;
  nQ: number;
  nHeads: number;
  nKv: number;
  d: number;
  keyCap: number;
  start?: number;
  committed?: number;
  parents?: number[];
  forceLanes?: boolean;
  singleWg?: number;
}

/** Q [nQ, nHeads*d] contiguous, K/V in cache layout [nKv, keyCap, d]. */
async function runCache(c: CacheCase, seed: number) {
  const ctx = await testContext();
  const { nQ, nHeads, nKv, d, keyCap } = c;
  const q = randomF32(nQ * nHeads * d, seed);
  const k = randomF32(nKv * keyCap * d, seed + 1);
  const v = randomF32(nKv * keyCap * d, seed + 2);
  const treeMask = c.parents ? treeMaskFromParents(c.parents) : undefined;
  const ref: AttentionRefArgs = { mode: c.mode, q, k, v, batch: 1, nQ, nHeads, nKv, headDim: d, keyCap, start: c.start, committed: c.committed, treeMask };
  const out = createF32(ctx, [nQ, nHeads * d]);
  const kvView = (t: Float32Array) => ({ t: uploadF32(ctx, t, [nKv, keyCap, d]), strideH: keyCap * d, strideT: d });
  const op = createAttention(ctx, {
    mode: c.mode,
    nHeads,
    nKv,
    headDim: d,
    q: { t: uploadF32(ctx, q, [nQ, nHeads * d]), strideT: nHeads * d },
    k: kvView(k),
    v: kvView(v),
    out,
    maxQ: nQ,
    maxKeys: keyCap,
    mask: treeMask ? uploadU32(ctx, treeMask, [treeMask.length]) : undefined,
    forceLanes: c.forceLanes,
    singleWg: c.singleWg,
  });
  const rec = new Recorder(ctx);
  op.record(rec, { nQ, start: c.start, committed: c.committed });
  await rec.submitAndWait();
  return { got: await readF32(ctx, out), want: attentionRef(ref), dispatches: rec.dispatches };
}

describe('attention over the KV cache', () => {
  it.each<[string, CacheCase]>([
    ['prefill flash, GQA, d=32, odd length past one block', { mode: 'causal', nQ: 70, nHeads: 4, nKv: 2, d: 32, keyCap: 80, start: 3 }],
    ['prefill flash with 4 lanes per query', { mode: 'causal', nQ: 70, nHeads: 2, nKv: 1, d: 32, keyCap: 80, start: 5, forceLanes: true }],
    ['tree with 4 lanes per query', { mode: 'tree', nQ: 7, nHeads: 2, nKv: 1, d: 64, keyCap: 140, committed: 130, parents: [-1, 0, 0, 1, 1, 2, 5], forceLanes: true }],
    ['prefill flash, d=64, from 0', { mode: 'causal', nQ: 33, nHeads: 3, nKv: 1, d: 64, keyCap: 40, start: 0 }],
    ['prefill flash, d=128', { mode: 'causal', nQ: 9, nHeads: 2, nKv: 2, d: 128, keyCap: 20, start: 7 }],
    ['decode split-K, 2 chunks + combine', { mode: 'causal', nQ: 1, nHeads: 3, nKv: 1, d: 64, keyCap: 320, start: 300 }],
    ['short chunk over a long cache (flash split over keys + combine)', { mode: 'causal', nQ: 20, nHeads: 3, nKv: 3, d: 64, keyCap: 330, start: 301 }],
    ['decode split-K, d=128, 4 chunks', { mode: 'causal', nQ: 1, nHeads: 2, nKv: 1, d: 128, keyCap: 200, start: 199 }],
    ['decode split-K, one chunk', { mode: 'causal', nQ: 1, nHeads: 4, nKv: 2, d: 32, keyCap: 64, start: 40 }],
    ['short chunk split-K (3 queries)', { mode: 'causal', nQ: 3, nHeads: 2, nKv: 1, d: 64, keyCap: 300, start: 257 }],
    ['tree of 7 nodes after 260 committed', { mode: 'tree', nQ: 7, nHeads: 3, nKv: 1, d: 64, keyCap: 272, committed: 260, parents: [-1, 0, 0, 1, 1, 2, 5] }],
    ['tree of 40 nodes (2 mask words), nothing committed', { mode: 'tree', nQ: 40, nHeads: 2, nKv: 2, d: 32, keyCap: 40, committed: 0, parents: Array.from({ length: 40 }, (_, i) => (i === 0 ? -1 : Math.floor((i - 1) / 2))) }],
  ])('%s', async (_name, c) => {
    for (const legacy of [false, true]) {
      attentionRouting.legacy = legacy;
      try {
        const { got, want } = await runCache(c, c.nQ * 31 + c.d);
        expect(maxAbsDiff(got, want)).toBeLessThan(TOL);
      } finally {
        attentionRouting.legacy = false;
      }
    }
  });
});

describe('one-dispatch decode / small-tree attention (short contexts)', () => {
  const K = ATTN_SINGLE_MAX_KEYS;
  it.each<[string, CacheCase, number]>([
    ['decode, 256 threads, GQA, d=64, 129 keys', { mode: 'causal', nQ: 1, nHeads: 6, nKv: 2, d: 64, keyCap: 140, start: 128, singleWg: 256 }, 1],
    ['decode, 256 threads, d=128, at the key limit', { mode: 'causal', nQ: 1, nHeads: 2, nKv: 1, d: 128, keyCap: K, start: K - 1, singleWg: 256 }, 1],
    ['decode, 256 threads, one key past the limit (split + combine)', { mode: 'causal', nQ: 1, nHeads: 2, nKv: 1, d: 64, keyCap: K + 1, start: K, singleWg: 256 }, 2],
    ['decode, 128 threads, d=32, 100 keys', { mode: 'causal', nQ: 1, nHeads: 4, nKv: 4, d: 32, keyCap: 104, start: 99, singleWg: 128 }, 1],
    ['decode over 40 keys (the split kernel, one chunk)', { mode: 'causal', nQ: 1, nHeads: 2, nKv: 1, d: 64, keyCap: 40, start: 39, singleWg: 256 }, 1],
    ['tree of 5 nodes after 1000 committed (tree limit), 256 threads', { mode: 'tree', nQ: 5, nHeads: 2, nKv: 1, d: 64, keyCap: 1005, committed: 1000, parents: [-1, 0, 0, 1, 3], singleWg: 256 }, 1],
    ['3-query chunk, 256 threads, 300 keys', { mode: 'causal', nQ: 3, nHeads: 2, nKv: 1, d: 64, keyCap: 300, start: 297, singleWg: 256 }, 1],
    ['tree of 7 nodes after 90 committed, 256 threads', { mode: 'tree', nQ: 7, nHeads: 3, nKv: 1, d: 64, keyCap: 100, committed: 90, parents: [-1, 0, 0, 1, 1, 2, 5], singleWg: 256 }, 1],
    ['tree of 8 nodes, nothing committed, 64 threads', { mode: 'tree', nQ: 8, nHeads: 2, nKv: 2, d: 32, keyCap: 8, committed: 0, parents: [-1, 0, 1, 1, 0, 4, 4, 6], singleWg: 64 }, 1],
    ['tree of 16 nodes after 200 committed, 256 threads', { mode: 'tree', nQ: 16, nHeads: 3, nKv: 1, d: 64, keyCap: 216, committed: 200, parents: Array.from({ length: 16 }, (_, i) => (i === 0 ? -1 : Math.floor((i - 1) / 2))), singleWg: 256 }, 1],
    ['tree of 17 nodes (flash + combine)', { mode: 'tree', nQ: 17, nHeads: 2, nKv: 1, d: 64, keyCap: 217, committed: 200, parents: Array.from({ length: 17 }, (_, i) => (i === 0 ? -1 : i - 1)), singleWg: 256 }, 2],
  ])('%s', async (_name, c, dispatches) => {
    const r = await runCache(c, c.nQ * 17 + c.keyCap);
    expect(maxAbsDiff(r.got, r.want)).toBeLessThan(TOL);
    expect(r.dispatches).toBe(dispatches);
  });
});

describe('bidirectional vision attention from a fused QKV buffer', () => {
  it.each([
    [2, 37, 3, 32, true],
    [1, 70, 2, 64, true],
    [3, 20, 2, 128, false],
  ])('B=%i T=%i H=%i d=%i scores=%s', async (B, T, H, d, withScores) => {
    const ctx = await testContext();
    const row = 3 * H * d;
    const qkv = randomF32(B * T * row, B * 100 + T);
    const { q, k, v } = splitFusedQkv(qkv, B, T, H, d); // canonical copies for the reference
    const ref: AttentionRefArgs = { mode: 'full', q, k, v, batch: B, nQ: T, nHeads: H, nKv: H, headDim: d, keyCap: T, nKeys: T };
    const buf = uploadF32(ctx, qkv, [B * T, row]);
    const out = createF32(ctx, [B * T, H * d]);
    const scores = withScores ? createF32(ctx, [B, T]) : undefined;
    const view = (off: number) => ({ t: buf, offset: off, strideB: T * row, strideH: d, strideT: row });
    const op = createAttention(ctx, {
      mode: 'full',
      nHeads: H,
      nKv: H,
      headDim: d,
      q: { t: buf, strideT: row, strideB: T * row },
      k: view(H * d),
      v: view(2 * H * d),
      out,
      maxQ: T,
      maxKeys: T,
      maxBatch: B,
      keyScores: scores,
    });
    const rec = new Recorder(ctx);
    op.record(rec, { nQ: T, batch: B });
    await rec.submitAndWait();
    expect(maxAbsDiff(await readF32(ctx, out), attentionRef(ref))).toBeLessThan(TOL);
    if (scores) {
      const want = keyScoresRef(ref);
      const got = await readF32(ctx, scores);
      let rel = 0;
      for (let i = 0; i < want.length; i++) rel = Math.max(rel, Math.abs(got[i] - want[i]) / want[i]);
      expect(rel).toBeLessThan(TOL);
      // every batch item's scores average to 1 / T (each query row sums to 1)
      for (let b = 0; b < B; b++) expect(got.subarray(b * T, b * T + T).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 4);
    }
  });
});
