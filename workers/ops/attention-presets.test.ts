// The KV-cache protocol end to end, as the Llama forward and PPD will drive it: prefill (fused
// RoPE + KV write, causal attention), a decode step, a tree-verification step (nodes at slots
// L.., positions = L + depth, ancestor mask), compaction of the accepted path, and a decode step
// on the compacted cache. Every attention output is checked against reference/attention.ts
// run on a CPU mirror of the cache (tolerance 1e-4 absolute), and the caches agree at the end.
// Also: VisionAttention's HiRED scores on a batched QKV buffer.
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { maxAbs as maxAbsDiff, splitFusedQkv } from './attention-cases';
import { createCacheAttention, createVisionAttention } from './attention-presets';
import { createKvCache, createKvCompact } from './kv-cache-ops';
import { createRopeKvWrite, createRopeTable } from './rope';
import { attentionRef, keyScoresRef, treeMaskFromParents, type AttentionRefArgs } from './reference/attention';
import { kvCompactRef } from './reference/kv';
import { randomF32 } from './reference/matmul';
import { ropeKvWriteRef, ropeTable } from './reference/rope';
import { createF32, createU32, readF32, uploadF32, uploadU32 } from './types';


describe('cache attention protocol (prefill, decode, tree, compaction)', () => {
  it('matches a CPU mirror at every step', async () => {
    const ctx = await testContext();
    const nHeads = 4;
    const nKv = 2;
    const d = 32;
    const maxSeq = 48;
    const maxQ = 16;
    const theta = 10000;
    const row = (nHeads + 2 * nKv) * d;
    const [cache] = createKvCache(ctx, 1, nKv, maxSeq, d);
    const qkv = createF32(ctx, [maxQ, row]);
    const positions = createU32(ctx, [maxQ]);
    const qOut = createF32(ctx, [maxQ, nHeads * d]);
    const out = createF32(ctx, [maxQ, nHeads * d]);
    const mask = createU32(ctx, [maxQ]);
    const rope = createRopeKvWrite(ctx, { qkv, table: createRopeTable(ctx, d, theta, maxSeq), positions, qOut, cache, nHeads });
    const attn = createCacheAttention(ctx, { q: qOut, cache, out, nHeads, maxQ, treeMask: mask });
    const src = uploadU32(ctx, new Uint32Array(8), [8]);
    const dst = uploadU32(ctx, new Uint32Array(8), [8]);
    const compact = createKvCompact(ctx, { layers: [cache], src, dst });

    const table = ropeTable(d, theta, maxSeq);
    const kCpu = new Float32Array(nKv * maxSeq * d);
    const vCpu = new Float32Array(nKv * maxSeq * d);
    let seed = 1;

    // One forward step: rows at `pos`, written to slots firstSlot..; returns GPU and CPU outputs.
    const step = async (pos: number[], firstSlot: number, attnArgs: Parameters<typeof attn.record>[1], ref: Omit<AttentionRefArgs, 'q' | 'k' | 'v'>) => {
      const T = pos.length;
      const x = randomF32(T * row, seed++);
      ctx.buffers.write(qkv.buffer, x);
      ctx.buffers.write(positions.buffer, Uint32Array.from(pos));
      const rec = new Recorder(ctx);
      rope.record(rec, { T, firstSlot });
      attn.record(rec, attnArgs);
      await rec.submitAndWait();
      const q = ropeKvWriteRef(x, Uint32Array.from(pos), nHeads, nKv, d, table, kCpu, vCpu, maxSeq, firstSlot);
      const want = attentionRef({ ...ref, q, k: kCpu, v: vCpu });
      const got = (await readF32(ctx, out)).subarray(0, want.length);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    };
    const base = { batch: 1, nHeads, nKv, headDim: d, keyCap: maxSeq } as const;

    // prefill 9 tokens, then decode position 9
    await step([0, 1, 2, 3, 4, 5, 6, 7, 8], 0, { kind: 'causal', start: 0, nQ: 9 }, { ...base, mode: 'causal', nQ: 9, start: 0 });
    await step([9], 9, { kind: 'causal', start: 9, nQ: 1 }, { ...base, mode: 'causal', nQ: 1, start: 9 });
    // tree: root (next token) + two children + one grandchild each; positions L + depth
    const parents = [-1, 0, 0, 1, 2];
    const treeMask = treeMaskFromParents(parents);
    ctx.buffers.write(mask.buffer, treeMask);
    await step([10, 11, 11, 12, 12], 10, { kind: 'tree', committed: 10, nQ: 5 }, { ...base, mode: 'tree', nQ: 5, committed: 10, treeMask });
    // accept root -> node 2 -> node 4 (slots 10, 12, 14) -> slots 10, 11, 12
    const s = Uint32Array.from([10, 12, 14]);
    const t = Uint32Array.from([10, 11, 12]);
    ctx.buffers.write(src.buffer, s);
    ctx.buffers.write(dst.buffer, t);
    const rec = new Recorder(ctx);
    compact.record(rec, { n: 3 });
    await rec.submitAndWait();
    kCpu.set(kvCompactRef(kCpu, nKv, maxSeq, d, s, t));
    vCpu.set(kvCompactRef(vCpu, nKv, maxSeq, d, s, t));
    // next decode step continues at position/slot 13 on the compacted cache
    await step([13], 13, { kind: 'causal', start: 13, nQ: 1 }, { ...base, mode: 'causal', nQ: 1, start: 13 });
    const gk = await readF32(ctx, cache.k);
    const gv = await readF32(ctx, cache.v);
    for (let h = 0; h < nKv; h++) {
      const r = [h * maxSeq * d, (h * maxSeq + 14) * d] as const;
      expect(maxAbsDiff(gk.subarray(...r), kCpu.subarray(...r))).toBeLessThan(1e-5);
      expect(maxAbsDiff(gv.subarray(...r), vCpu.subarray(...r))).toBe(0);
    }
  });
});

describe('vision attention preset', () => {
  it('batched tiles from fused QKV, with HiRED scores', async () => {
    const ctx = await testContext();
    const [B, T, H, d] = [2, 29, 2, 32];
    const row = 3 * H * d;
    const x = randomF32(B * T * row, 99);
    const { q, k, v } = splitFusedQkv(x, B, T, H, d);
    const out = createF32(ctx, [B * T, H * d]);
    const scores = createF32(ctx, [B, T]);
    const op = createVisionAttention(ctx, { qkv: uploadF32(ctx, x, [B * T, row]), out, nHeads: H, headDim: d, tokens: T, maxBatch: B, keyScores: scores });
    const rec = new Recorder(ctx);
    op.record(rec, { batch: B });
    await rec.submitAndWait();
    const ref: AttentionRefArgs = { mode: 'full', q, k, v, batch: B, nQ: T, nHeads: H, nKv: H, headDim: d, keyCap: T, nKeys: T };
    expect(maxAbsDiff(await readF32(ctx, out), attentionRef(ref))).toBeLessThan(1e-4);
    expect(maxAbsDiff(await readF32(ctx, scores), keyScoresRef(ref))).toBeLessThan(1e-6);
  });
});
