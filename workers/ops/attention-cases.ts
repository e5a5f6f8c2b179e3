// Parity cases for the non-matmul ops (attention modes incl. HiRED scores, KV compaction, fused
// RoPE + KV write, norms, activations, argmax, sampling) that run anywhere a GpuContext exists:
// the Chromium kernel harness (e2e/kernels, suite "ops") runs them in a real browser; the Node
// tests (*.test.ts here) cover the same kernels in more depth. Errors: max |gpu - ref| (attention
// 1e-4, RoPE 1e-5), max relative to max |ref| for norms (1e-5), mismatching ids for selection (0).
import type { GpuContext } from '../gpu/context';
import { Recorder } from '../gpu/recorder';
import { createArgmax } from './argmax';
import { createAttention, type AttentionMode } from './attention';
import { createKvCache, createKvCompact } from './kv-cache-ops';
import { createLayerNorm } from './layernorm';
import type { KernelCaseResult } from './matmul-cases';
import { createRmsNorm } from './rmsnorm';
import { createRopeKvWrite, createRopeTable } from './rope';
import { createSampler } from './sample';
import { createSiluMul } from './silu-mul';
import { createGelu } from './gelu';
import { attentionRef, keyScoresRef, treeMaskFromParents, type AttentionRefArgs } from './reference/attention';
import { geluRef, siluMulFusedRef } from './reference/activation';
import { kvCompactRef } from './reference/kv';
import { randomF32 } from './reference/matmul';
import { addNormRef, layernormRef } from './reference/norm';
import { ropeKvWriteRef, ropeTable } from './reference/rope';
import { argmaxRef, sampleRef } from './reference/sample';
import { createF32, createU32, readF32, uploadF32, uploadU32, type GpuTensor } from './types';

/** max |a - b| over b's length (Infinity if any is NaN). */
export function maxAbs(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (const v of b) s = Math.max(s, Math.abs(v));
  return maxAbs(a, b) / (s || 1);
}

function result(name: string, error: number, tolerance: number): KernelCaseResult {
  return { name, error, tolerance, ok: error <= tolerance };
}

async function submit(ctx: GpuContext, fn: (rec: Recorder) => void): Promise<void> {
  const rec = new Recorder(ctx, 'ops-case');
  fn(rec);
  await rec.submitAndWait();
}

function release(ctx: GpuContext, ts: GpuTensor[]): void {
  for (const t of ts) ctx.buffers.destroy(t.buffer);
}

/** reference/attention.ts layouts of a fused QKV buffer x [B*T, 3*H*d]: q [B, T, H, d]; k, v [B, H, T, d]. */
export function splitFusedQkv(x: Float32Array, B: number, T: number, H: number, d: number): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const row = 3 * H * d;
  const q = new Float32Array(B * T * H * d);
  const k = new Float32Array(B * H * T * d);
  const v = new Float32Array(B * H * T * d);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++)
        for (let c = 0; c < d; c++) {
          const i = (b * T + t) * row + h * d + c;
          q[((b * T + t) * H + h) * d + c] = x[i];
          k[((b * H + h) * T + t) * d + c] = x[i + H * d];
          v[((b * H + h) * T + t) * d + c] = x[i + 2 * H * d];
        }
  return { q, k, v };
}

/** Attention on the cache layout: q [nQ, nH*d], k/v [nKv, keyCap, d]. */
export async function attentionCase(ctx: GpuContext, mode: Exclude<AttentionMode, 'full'>, nQ: number, nH: number, nKv: number, d: number, keyCap: number, at: number, parents?: number[], singleWg?: number): Promise<KernelCaseResult> {
  const q = randomF32(nQ * nH * d, nQ + at);
  const k = randomF32(nKv * keyCap * d, keyCap);
  const v = randomF32(nKv * keyCap * d, keyCap + 1);
  const treeMask = parents ? treeMaskFromParents(parents) : undefined;
  const ts = [uploadF32(ctx, q, [nQ, nH * d]), uploadF32(ctx, k, [nKv, keyCap, d]), uploadF32(ctx, v, [nKv, keyCap, d]), createF32(ctx, [nQ, nH * d])];
  const mask = treeMask ? uploadU32(ctx, treeMask, [treeMask.length]) : undefined;
  const op = createAttention(ctx, {
    mode, nHeads: nH, nKv, headDim: d, out: ts[3], maxQ: nQ, maxKeys: keyCap, mask, singleWg,
    q: { t: ts[0], strideT: nH * d },
    k: { t: ts[1], strideH: keyCap * d, strideT: d },
    v: { t: ts[2], strideH: keyCap * d, strideT: d },
  });
  await submit(ctx, (rec) => op.record(rec, { nQ, start: at, committed: at }));
  const ref: AttentionRefArgs = { mode, q, k, v, batch: 1, nQ, nHeads: nH, nKv, headDim: d, keyCap, start: at, committed: at, treeMask };
  const err = maxAbs(await readF32(ctx, ts[3]), attentionRef(ref));
  release(ctx, mask ? [...ts, mask] : ts);
  return result(`attention ${mode} nQ=${nQ} heads=${nH}/${nKv} d=${d} at ${at}${singleWg ? ` (${singleWg} threads)` : ''}`, err, 1e-4);
}

/** Bidirectional attention from a fused QKV buffer [B*T, 3*H*d] with HiRED key scores. */
export async function visionCase(ctx: GpuContext, B: number, T: number, H: number, d: number): Promise<KernelCaseResult[]> {
  const row = 3 * H * d;
  const x = randomF32(B * T * row, T * 7 + B);
  const { q, k, v } = splitFusedQkv(x, B, T, H, d);
  const ts = [uploadF32(ctx, x, [B * T, row]), createF32(ctx, [B * T, H * d]), createF32(ctx, [B, T])];
  const view = (off: number) => ({ t: ts[0], offset: off, strideB: T * row, strideH: d, strideT: row });
  const op = createAttention(ctx, {
    mode: 'full', nHeads: H, nKv: H, headDim: d, out: ts[1], maxQ: T, maxKeys: T, maxBatch: B, keyScores: ts[2],
    q: { t: ts[0], strideB: T * row, strideT: row }, k: view(H * d), v: view(2 * H * d),
  });
  await submit(ctx, (rec) => op.record(rec, { nQ: T, batch: B }));
  const ref: AttentionRefArgs = { mode: 'full', q, k, v, batch: B, nQ: T, nHeads: H, nKv: H, headDim: d, keyCap: T, nKeys: T };
  const out = [
    result(`attention full B=${B} T=${T} heads=${H} d=${d}`, maxAbs(await readF32(ctx, ts[1]), attentionRef(ref)), 1e-4),
    result(`HiRED key scores B=${B} T=${T}`, maxRel(await readF32(ctx, ts[2]), keyScoresRef(ref)), 1e-4),
  ];
  release(ctx, ts);
  return out;
}

export async function runOpsCases(ctx: GpuContext): Promise<KernelCaseResult[]> {
  const out: KernelCaseResult[] = [];
  out.push(await attentionCase(ctx, 'causal', 70, 4, 2, 32, 80, 3)); // flash prefill
  out.push(await attentionCase(ctx, 'causal', 1, 3, 1, 64, 620, 600)); // decode split-K + combine
  out.push(await attentionCase(ctx, 'causal', 1, 3, 1, 64, 320, 300, undefined, 256)); // one-dispatch decode
  out.push(await attentionCase(ctx, 'causal', 20, 2, 2, 64, 330, 301)); // flash split over keys
  out.push(await attentionCase(ctx, 'tree', 7, 3, 1, 64, 272, 260, [-1, 0, 0, 1, 1, 2, 5], 256)); // one-dispatch tree
  out.push(await attentionCase(ctx, 'tree', 7, 3, 1, 64, 620, 600, [-1, 0, 0, 1, 1, 2, 5])); // tree through flash + combine
  out.push(...(await visionCase(ctx, 2, 37, 3, 32)));

  // fused RoPE + KV write at tree-like positions
  {
    const [nH, nKv, d, maxSeq, T] = [6, 2, 64, 24, 5];
    const row = (nH + 2 * nKv) * d;
    const x = randomF32(T * row, 5);
    const pos = Uint32Array.from([10, 11, 11, 12, 12]);
    const [cache] = createKvCache(ctx, 1, nKv, maxSeq, d);
    const ts = [uploadF32(ctx, x, [T, row]), createRopeTable(ctx, d, 10000, 64), uploadU32(ctx, pos, [T]), createF32(ctx, [T, nH * d])];
    const op = createRopeKvWrite(ctx, { qkv: ts[0], table: ts[1], positions: ts[2], qOut: ts[3], cache, nHeads: nH });
    await submit(ctx, (rec) => op.record(rec, { T, firstSlot: 10 }));
    const kw = new Float32Array(nKv * maxSeq * d);
    const vw = new Float32Array(nKv * maxSeq * d);
    const qw = ropeKvWriteRef(x, pos, nH, nKv, d, ropeTable(d, 10000, 64), kw, vw, maxSeq, 10);
    const err = Math.max(maxAbs(await readF32(ctx, ts[3]), qw), maxAbs(await readF32(ctx, cache.k), kw), maxAbs(await readF32(ctx, cache.v), vw));
    out.push(result('rope + kv write (GQA, tree positions)', err, 1e-5));
    // compaction of an accepted path (overlapping lists)
    const src = Uint32Array.from([10, 12, 14]);
    const dst = Uint32Array.from([10, 11, 12]);
    const lists = [uploadU32(ctx, src, [3]), uploadU32(ctx, dst, [3])];
    const kBefore = await readF32(ctx, cache.k);
    await submit(ctx, (rec) => createKvCompact(ctx, { layers: [cache], src: lists[0], dst: lists[1] }).record(rec, { n: 3 }));
    out.push(result('kv compaction', maxAbs(await readF32(ctx, cache.k), kvCompactRef(kBefore, nKv, maxSeq, d, src, dst)), 0));
    release(ctx, [...ts, ...lists, cache.k, cache.v]);
  }

  // norms and activations
  {
    const [rows, h] = [3, 131];
    const x = randomF32(rows * h, 1, 3);
    const r = randomF32(rows * h, 2);
    const w = randomF32(h, 3);
    const b = randomF32(h, 4);
    const ts = [uploadF32(ctx, x, [rows, h]), uploadF32(ctx, r, [rows, h]), uploadF32(ctx, w, [h]), uploadF32(ctx, b, [h]), createF32(ctx, [rows, h]), uploadF32(ctx, x, [rows, h]), createF32(ctx, [rows, h])];
    await submit(ctx, (rec) => {
      createRmsNorm(ctx, { x: ts[0], residual: ts[1], weight: ts[2], out: ts[4], eps: 1e-5 }).record(rec);
      createLayerNorm(ctx, { x: ts[5], weight: ts[2], bias: ts[3], out: ts[6], eps: 1e-6 }).record(rec);
    });
    out.push(result('add + rmsnorm', maxRel(await readF32(ctx, ts[4]), addNormRef('rms', x, r, w, null, rows, h, 1e-5).out), 1e-5));
    out.push(result('layernorm', maxRel(await readF32(ctx, ts[6]), layernormRef(x, w, b, rows, h, 1e-6)), 1e-5));
    const inter = 37;
    const gu = randomF32(rows * 2 * inter, 6, 4);
    const act = [uploadF32(ctx, gu, [rows, 2 * inter]), createF32(ctx, [rows, inter]), createF32(ctx, [rows * 2 * inter])];
    await submit(ctx, (rec) => {
      createSiluMul(ctx, { gateUp: act[0], inter, out: act[1] }).record(rec);
      createGelu(ctx, { x: act[0], out: act[2] }).record(rec);
    });
    out.push(result('silu * up (fused input)', maxRel(await readF32(ctx, act[1]), siluMulFusedRef(gu, rows, inter)), 1e-5));
    out.push(result('gelu tanh', maxRel(await readF32(ctx, act[2]), geluRef(gu)), 1e-5));
    release(ctx, [...ts, ...act]);
  }

  // token selection
  {
    const [rows, vocab] = [3, 5000];
    const x = randomF32(rows * vocab, 8, 8);
    const hist = Uint32Array.from([1, 2, 3, 2]);
    const ts = [uploadF32(ctx, x, [rows, vocab]), createU32(ctx, [rows]), uploadU32(ctx, hist, [4])];
    await submit(ctx, (rec) => createArgmax(ctx, { logits: ts[0], out: ts[1], vocab }).record(rec));
    const got = await ctx.buffers.readU32(ts[1].buffer, rows);
    const want = argmaxRef(x, rows, vocab);
    out.push(result(`argmax ${rows} x ${vocab}`, got.reduce((n, v, i) => n + (v === want[i] ? 0 : 1), 0), 0));
    const sampler = createSampler(ctx, { logits: ts[0], history: ts[2], out: ts[1], vocab });
    const p = { temperature: 0.8, topK: 40, topP: 0.9, repetitionPenalty: 1.2 };
    let miss = 0;
    for (const u of [0.01, 0.3, 0.55, 0.8, 0.99]) {
      await submit(ctx, (rec) => sampler.record(rec, { ...p, u, historyLength: 4 }));
      if ((await ctx.buffers.readU32(ts[1].buffer, 1))[0] !== sampleRef(x.subarray(0, vocab), hist, p, u)) miss++;
    }
    out.push(result('sample top-k/top-p/penalty, 5 fixed u', miss, 0));
    release(ctx, ts);
  }
  return out;
}
