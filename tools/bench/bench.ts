// End-to-end benchmark (Node + Dawn; bundled to dist-bench/bench.mjs by build.mjs so it runs on
// the GPU host without node_modules). For each model shape (random BF16 weights written to a temp
// dir) and quantization: install (quantize) time, load time, prefill tok/s at two prompt lengths,
// decode tok/s through the real decoding loop (pipelined chained passes, GPU argmax, one u32
// readback per token) and through a plain step loop (no pipelining), decode bytes/s vs
// the measured streaming-read peak, dispatches per decode pass, and per-matrix GEMV bandwidth
// measured on the model's own weights (all layers in turn, so caches do not flatter it).
// --compare-unfused also loads each model with the fused decode path off (before/after in one run,
// measured after the main figures, alternating the two paths); --compare-gemv likewise with the
// split-K GEMV routing switched on (workers/ops/gemv.ts gemvRouting.splitK).
// --compare-prefill re-times prefill (every --prefill length) and decode on the same loaded model
// with the previous GEMM tile / split-K and attention routing (gemmRouting / attentionRouting
// .legacy, chosen at record time) and prefill also with the GEMM prefetch flipped, alternating,
// and compares prefill logits.
// Usage: npm run bench -- [--small] [--models a,b] [--quants q4,q8] [--decode N] [--json FILE]
//   [--record-only] [--compare-unfused] [--compare-gemv] [--compare-prefill]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { Recorder } from '../../workers/gpu/recorder';
import { generateTokens, PIPELINE_DEPTH } from '../../workers/decoding/generate';
import { LlamaModel } from '../../workers/models/llama/model';
import { gemvRouting } from '../../workers/ops/gemv';
import { gemmRouting } from '../../workers/ops/gemm';
import { attentionRouting } from '../../workers/ops/attention';
import { defaultSampling } from '../../workers/protocol/engine';
import { convertModel, policyFor } from '../../workers/storage/convert';
import { dirFileSource } from '../../workers/storage/fs-source';
import { FsTensorStore } from '../../workers/storage/tensor-store-fs';
import { clockWarmer, streamPeakGBs } from './peak';
import { writeRandomModel } from './random-model';
import { SHAPES } from './shapes';
import { readTimestamps } from './timestamps';
import { runMain } from '../cli';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const small = argv.includes('--small');
const models = arg('models', small ? 'tiny-llama-bench' : 'smollm2-135m,smollm2-360m,qwen2-0.5b').split(',');
const quants = arg('quants', 'q4,q8').split(',') as Array<'q4' | 'q8'>;
const decodeTokens = Number(arg('decode', small ? '8' : '128'));
const prefillLens = arg('prefill', small ? '16,64' : '128,1024').split(',').map(Number);
const jsonPath = arg('json', '');
/** Only measure the CPU cost of recording a decode pass (works on any adapter, even SwiftShader at full size). */
const recordOnly = argv.includes('--record-only');
const compareUnfused = argv.includes('--compare-unfused');
/** Also load each model with the split-K GEMV routing on (gemvRouting.splitK) and compare decode. */
const compareGemv = argv.includes('--compare-gemv');
/** Also time prefill and decode with the previous GEMM / attention routing (same model, alternating). */
const comparePrefill = argv.includes('--compare-prefill');
/** Decode passes recorded for the record-cost figure (more for a CPU profile). */
const recordReps = Number(arg('record-reps', '50'));

const rows: Record<string, unknown>[] = [];
function report(row: Record<string, unknown>): void {
  rows.push(row);
  console.log(JSON.stringify(row));
}

const greedy = { select: { kind: 'greedy' as const }, penalty: 1, history: [] as number[] };

function promptIds(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);
}

/**
 * Streaming reads right before each timing (peak.ts clockWarmer): after the seconds of CPU work
 * of writing and installing a model the GPU has idled and its clocks are down (the fourth
 * session's first model measured at half its prefill rate before this).
 */
let clockWarm: () => Promise<void> = async () => {};

async function timePrefill(m: LlamaModel, n: number): Promise<number> {
  const ids = promptIds(n, m.vocabSize);
  let best = Infinity;
  for (let trial = 0; trial < 3; trial++) {
    m.kv.reset();
    await clockWarm();
    const t0 = performance.now();
    await m.step(ids, greedy);
    best = Math.min(best, performance.now() - t0);
  }
  return (n * 1000) / best;
}

/**
 * Decode tok/s after a 128-token prompt: a plain step loop (record, submit, read back, repeat),
 * passes submitted back to back with no readback at all (the pipelining bound), and the real
 * decoding loop at pipeline depths 1-3.
 */
async function timeDecode(m: LlamaModel, n: number): Promise<Record<string, number>> {
  const prompt = promptIds(Math.min(128, m.maxChunk), m.vocabSize);
  m.kv.reset();
  await clockWarm();
  let tok = (await m.step(prompt, greedy))!;
  for (let i = 0; i < 4; i++) tok = (await m.step([tok], greedy))!; // warm-up
  let t0 = performance.now();
  for (let i = 0; i < n; i++) tok = (await m.step([tok], greedy))!;
  const out: Record<string, number> = { decodeStepLoopTokS: +((n * 1000) / (performance.now() - t0)).toFixed(1) };
  m.kv.reset();
  await m.step(prompt, greedy);
  t0 = performance.now();
  for (let i = 0; i < n; i++) await m.step([tok], null);
  await m.ctx.device.queue.onSubmittedWorkDone();
  out.decodeNoReadbackTokS = +((n * 1000) / (performance.now() - t0)).toFixed(1);
  for (const depth of [1, 2, 3]) {
    let best = 0;
    for (let trial = 0; trial < 2; trial++) {
      m.kv.reset();
      await clockWarm();
      const it = generateTokens(m, prompt, { sampling: { ...defaultSampling, temperature: 0, maxNewTokens: n + 1 }, eosIds: new Set(), signal: new AbortController().signal, pipelineDepth: depth });
      for (;;) {
        const r = await it.next();
        if (r.done) {
          best = Math.max(best, r.value.stats.decodeTokensPerSecond);
          break;
        }
      }
    }
    out[`decodeDepth${depth}TokS`] = +best.toFixed(1);
  }
  return out;
}

/** Decode tok/s through the real decoding loop at the default pipeline depth, best of 2. */
async function timeDecodeLoop(m: LlamaModel, n: number): Promise<number> {
  const prompt = promptIds(Math.min(128, m.maxChunk), m.vocabSize);
  let best = 0;
  for (let trial = 0; trial < 2; trial++) {
    m.kv.reset();
    await clockWarm();
    const it = generateTokens(m, prompt, { sampling: { ...defaultSampling, temperature: 0, maxNewTokens: n + 1 }, eosIds: new Set(), signal: new AbortController().signal });
    for (;;) {
      const r = await it.next();
      if (r.done) {
        best = Math.max(best, r.value.stats.decodeTokensPerSecond);
        break;
      }
    }
  }
  return best;
}

/**
 * GPU time per dispatch of one forward pass of T tokens (timestamp queries, each dispatch in its
 * own pass, so no dispatch gaps): total kernel µs and the op labels that cost most (T = 1 attends
 * over 129 cache slots, as decode after the bench's 128-token prompt does). Null without
 * timestamp-query. The pass reuses whatever ids/positions the buffers hold (timing only).
 */
async function profilePass(m: LlamaModel, T: number): Promise<Record<string, unknown> | null> {
  const ctx = m.ctx;
  if (!ctx.caps.timestampQuery) return null;
  const count = 4096; // WebGPU caps a query set at 4096 queries: 2048 dispatches
  const byOp = new Map<string, { us: number; n: number }>();
  let total = 0;
  let labels: readonly string[] = [];
  for (let trial = 0; trial < 2; trial++) {
    await clockWarm();
    const t = await readTimestamps(ctx, count, (rec, qs) => {
      labels = rec.profileDispatches(qs);
      m.fwd.record(rec, T, T === 1 ? 128 : 0); // decode: after a 128-token prompt, like timeDecode
      return 2 * labels.length;
    });
    if (trial === 0) continue; // first pass warms caches and clocks
    for (let i = 0; i < labels.length; i++) {
      const us = Number(t[2 * i + 1] - t[2 * i]) / 1000;
      total += us;
      const e = byOp.get(labels[i]) ?? { us: 0, n: 0 };
      e.us += us;
      e.n++;
      byOp.set(labels[i], e);
    }
  }
  const top = [...byOp].sort((a, b) => b[1].us - a[1].us).slice(0, 8).map(([op, e]) => `${op} ${e.n}x ${e.us.toFixed(1)}us`);
  return { T, dispatches: labels.length, kernelUsTotal: +total.toFixed(1), top };
}

/** CPU time to record one decode pass (JS + WebGPU encoding calls), without submitting it. */
function recordCost(m: LlamaModel): { recordUsPerDecode: number; dispatches: number } {
  const reps = recordReps;
  m.dispatchCount(1);
  const t0 = performance.now();
  let d = 0;
  for (let i = 0; i < reps; i++) d = m.dispatchCount(1);
  return { recordUsPerDecode: +(((performance.now() - t0) * 1000) / reps).toFixed(1), dispatches: d };
}

/** Best of `rounds` for each of two timings, run alternately (so clocks and JIT favour neither). */
async function bestOfAlternating(a: () => Promise<number>, b: () => Promise<number>, rounds = 3): Promise<[number, number]> {
  let bestA = 0;
  let bestB = 0;
  for (let round = 0; round < rounds; round++) {
    bestA = Math.max(bestA, await a());
    bestB = Math.max(bestB, await b());
  }
  return [bestA, bestB];
}

/** Max |a - b| and max |b| over two logit rows, folded into `acc`. */
function foldLogitDiff(acc: { maxDiff: number; maxAbs: number }, a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    acc.maxDiff = Math.max(acc.maxDiff, Math.abs(a[i] - b[i]));
    acc.maxAbs = Math.max(acc.maxAbs, Math.abs(b[i]));
  }
}

/** Run `fn` with the GEMM tile / split-K and attention routing of before issue 3's third session. */
async function withLegacyRouting<T>(fn: () => Promise<T>): Promise<T> {
  gemmRouting.legacy = true;
  attentionRouting.legacy = true;
  try {
    return await fn();
  } finally {
    gemmRouting.legacy = false;
    attentionRouting.legacy = false;
  }
}

/** Dispatches of one forward pass of T tokens starting at cache slot `slot` (no argmax). */
function dispatchesAt(m: LlamaModel, T: number, slot: number): number {
  const rec = new Recorder(m.ctx, 'count');
  m.fwd.record(rec, T, slot);
  const n = rec.dispatches;
  rec.discard();
  return n;
}

/** --compare-prefill: prefill and decode tok/s with the previous and the current routing, alternating. */
async function comparePrefillRouting(m: LlamaModel, model: string, quant: string): Promise<void> {
  const row: Record<string, unknown> = { kind: 'prefill-routing', model, quant };
  for (const n of prefillLens) {
    let prev = 0;
    let cur = 0;
    // the GEMM prefetch flipped from its default (a sweep knob, off by default)
    const prefetch = gemmRouting.prefetch;
    let flipped = 0;
    for (let round = 0; round < 3; round++) {
      prev = Math.max(prev, await withLegacyRouting(() => timePrefill(m, n)));
      cur = Math.max(cur, await timePrefill(m, n));
      gemmRouting.prefetch = !prefetch;
      try {
        flipped = Math.max(flipped, await timePrefill(m, n));
      } finally {
        gemmRouting.prefetch = prefetch;
      }
    }
    Object.assign(row, { [`prefill${n}TokS`]: +cur.toFixed(1), [`prefill${n}PrevTokS`]: +prev.toFixed(1), [`prefill${n}${prefetch ? 'NoPrefetch' : 'Prefetch'}TokS`]: +flipped.toFixed(1), [`dispatches${n}`]: dispatchesAt(m, n, 0), [`dispatches${n}Prev`]: await withLegacyRouting(async () => dispatchesAt(m, n, 0)) });
  }
  const [prevDec, curDec] = await bestOfAlternating(() => withLegacyRouting(() => timeDecodeLoop(m, decodeTokens)), () => timeDecodeLoop(m, decodeTokens));
  // prompt logits (last row) at every prefill length, both routings
  const diff = { maxDiff: 0, maxAbs: 0 };
  for (const n of prefillLens) {
    const ids = promptIds(n, m.vocabSize);
    m.kv.reset();
    const a = await m.stepLogits(ids, 'last');
    m.kv.reset();
    foldLogitDiff(diff, a, await withLegacyRouting(() => m.stepLogits(ids, 'last')));
  }
  Object.assign(row, {
    decodeTokS: +curDec.toFixed(1), decodePrevTokS: +prevDec.toFixed(1),
    decodeDispatchesAt129: dispatchesAt(m, 1, 128), decodeDispatchesAt129Prev: await withLegacyRouting(async () => dispatchesAt(m, 1, 128)),
    prefillLogitMaxDiff: diff.maxDiff, prefillLogitMaxAbs: diff.maxAbs,
  });
  report(row);
}

/** Max |Δ| between two models' logits over 4 one-token decode steps after a 16-token prompt (same weights). */
async function decodeLogitDiff(a: LlamaModel, b: LlamaModel): Promise<{ maxDiff: number; maxAbs: number }> {
  const diff = { maxDiff: 0, maxAbs: 0 };
  const steps = [promptIds(16, a.vocabSize), [1], [2], [3], [4]];
  for (const model of [a, b]) model.kv.reset();
  for (const ids of steps) {
    const la = await a.stepLogits(ids, 'last');
    const lb = await b.stepLogits(ids, 'last');
    if (ids.length > 1) continue;
    foldLogitDiff(diff, la, lb);
  }
  return diff;
}

/** GEMV GB/s of one matrix class, cycling through every layer's copy (reps passes). */
async function gemvBandwidth(ctx: GpuContext, m: LlamaModel, cls: 'qkv' | 'o' | 'gateUp' | 'down', reps: number): Promise<{ us: number; gbs: number; n: number; k: number }> {
  const layers = m.fwd.layers;
  const w = m.weights.layers[0][cls];
  const bytes = m.weights.layers.reduce((a, l) => a + l[cls].buffer.size, 0);
  const run = async () => {
    const rec = new Recorder(ctx, 'gemv-bench');
    for (let r = 0; r < reps; r++) for (const L of layers) L[cls].record(rec, { m: 1 });
    const t0 = performance.now();
    await rec.submitAndWait();
    return performance.now() - t0;
  };
  await run();
  const ms = Math.min(await run(), await run());
  return { us: (ms * 1000) / (reps * layers.length), gbs: (bytes * reps) / (ms * 1e6), n: w.shape[0], k: w.shape[1] };
}

async function main(): Promise<void> {
  const ctx = await createGpuContext(await nodeGpu(['disable-dawn-features=timestamp_quantization']), { timestampQuery: true });
  const c = ctx.caps;
  report({ kind: 'adapter', vendor: c.vendor, architecture: c.architecture, description: c.description, f16: c.shaderF16, subgroups: c.subgroups, date: new Date().toISOString() });
  const peak = await streamPeakGBs(ctx, small ? 32 << 20 : 256 << 20);
  report({ kind: 'peak', streamReadGBs: +peak.toFixed(1) });
  if (!small) clockWarm = clockWarmer(ctx);
  const work = await mkdtemp(join(tmpdir(), 'lumen-bench-'));
  try {
    for (const name of models) {
      const cfg = SHAPES[name];
      if (!cfg) throw new Error(`unknown model shape ${name}; known: ${Object.keys(SHAPES).join(', ')}`);
      const dir = join(work, name);
      const tw = performance.now();
      const srcBytes = await writeRandomModel(dir, cfg);
      report({ kind: 'random-weights', model: name, safetensorsMB: +(srcBytes / 2 ** 20).toFixed(1), writeMs: Math.round(performance.now() - tw) });
      for (const q of quants) {
        const store = new FsTensorStore(join(work, `store-${name}-${q}`));
        const t0 = performance.now();
        await convertModel(store, name, dirFileSource(dir), { quantization: policyFor(q) }, () => {});
        const installMs = performance.now() - t0;
        const t1 = performance.now();
        const maxChunk = Math.max(...prefillLens);
        const opts = { capacity: Math.max(2048, maxChunk + decodeTokens + 160), maxChunk };
        const m = await LlamaModel.load(ctx, store, name, () => {}, new AbortController().signal, opts);
        await ctx.device.queue.onSubmittedWorkDone();
        const loadMs = performance.now() - t1;
        const rec = recordCost(m);
        report({ kind: 'record', model: name, quant: q, fused: m.fwd.fused !== null, ...rec });
        if (recordOnly) {
          if (compareUnfused) {
            const u = await LlamaModel.load(ctx, store, name, () => {}, new AbortController().signal, { ...opts, fusedDecode: false });
            const urec = recordCost(u);
            const again = recordCost(m); // interleaved, so JIT warm-up does not favour one path
            report({ kind: 'record-fused-vs-unfused', model: name, quant: q, fusedRecordUs: again.recordUsPerDecode, fusedDispatches: again.dispatches, unfusedRecordUs: urec.recordUsPerDecode, unfusedDispatches: urec.dispatches });
            u.destroy();
          }
          m.destroy();
          continue;
        }
        for (const T of [1, ...prefillLens]) {
          const prof = await profilePass(m, T);
          if (prof) report({ kind: 'profile', model: name, quant: q, fused: m.fwd.fused !== null, ...prof });
        }
        const prefill: Record<string, number> = {};
        for (const n of prefillLens) prefill[`prefill${n}TokS`] = +(await timePrefill(m, n)).toFixed(1);
        const dec = await timeDecode(m, decodeTokens);
        const decode = dec[`decodeDepth${PIPELINE_DEPTH}TokS`];
        const weightBytes = m.weights.gpuBytes;
        const decodeGBs = (weightBytes * decode) / 1e9;
        report({
          kind: 'model', model: name, quant: q, weightsMB: +(weightBytes / 2 ** 20).toFixed(1),
          installMs: Math.round(installMs), loadMs: Math.round(loadMs), ...prefill,
          decodeTokS: +decode.toFixed(1), ...dec, decodeMsPerTok: +(1000 / decode).toFixed(3),
          decodeGBs: +decodeGBs.toFixed(1), decodePctPeak: +((100 * decodeGBs) / peak).toFixed(1),
          dispatchesPerDecode: m.dispatchCount(1),
        });
        if (compareUnfused) {
          // The same weights through the unfused decode path (separate norm / SiLU·mul / residual ops).
          const u = await LlamaModel.load(ctx, store, name, () => {}, new AbortController().signal, { ...opts, fusedDecode: false });
          const urec = recordCost(u);
          // Alternate the two paths (after the main measurements warmed JIT and clocks), best of 3 each.
          const [tokS, fusedTokS] = await bestOfAlternating(() => timeDecodeLoop(u, decodeTokens), () => timeDecodeLoop(m, decodeTokens));
          // Same weights, both paths: logits of 4 one-token decode steps after a prompt.
          const { maxDiff, maxAbs } = await decodeLogitDiff(m, u);
          report({
            kind: 'fused-vs-unfused', model: name, quant: q, unfusedDecodeTokS: +tokS.toFixed(1), fusedDecodeTokS: +fusedTokS.toFixed(1),
            unfusedRecordUs: urec.recordUsPerDecode, unfusedDispatches: urec.dispatches, fusedRecordUs: rec.recordUsPerDecode, fusedDispatches: rec.dispatches,
            decodeLogitMaxDiff: maxDiff, decodeLogitMaxAbs: maxAbs,
          });
          u.destroy();
        }
        if (compareGemv && !recordOnly) {
          // The same weights with the split-K routing on (gemvRouting.splitK, off by default):
          // both in one run, alternating the two models' decoding loops, best of 3 each.
          gemvRouting.splitK = true;
          const alt = await LlamaModel.load(ctx, store, name, () => {}, new AbortController().signal, opts).finally(() => {
            gemvRouting.splitK = false;
          });
          const [altTokS, newTokS] = await bestOfAlternating(() => timeDecodeLoop(alt, decodeTokens), () => timeDecodeLoop(m, decodeTokens));
          const { maxDiff, maxAbs } = await decodeLogitDiff(m, alt);
          report({
            kind: 'gemv-routing', model: name, quant: q, splitKDecodeTokS: +altTokS.toFixed(1), defaultDecodeTokS: +newTokS.toFixed(1),
            splitKDispatches: alt.dispatchCount(1), defaultDispatches: m.dispatchCount(1), decodeLogitMaxDiff: maxDiff, decodeLogitMaxAbs: maxAbs,
          });
          alt.destroy();
        }
        if (comparePrefill && !recordOnly) await comparePrefillRouting(m, name, q);
        for (const cls of ['qkv', 'o', 'gateUp', 'down'] as const) {
          const g = await gemvBandwidth(ctx, m, cls, small ? 1 : 20);
          report({ kind: 'gemv', model: name, quant: q, matrix: cls, n: g.n, k: g.k, usPerCall: +g.us.toFixed(2), gbs: +g.gbs.toFixed(1), pctPeak: +((100 * g.gbs) / peak).toFixed(1) });
        }
        m.destroy();
        await rm(store.root, { recursive: true, force: true });
      }
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    if (jsonPath) writeFileSync(jsonPath, JSON.stringify(rows, null, 1));
    ctx.destroy();
  }
}

runMain(main);
