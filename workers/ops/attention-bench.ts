// Kernel timings for this folder's non-matmul ops (attention modes, RoPE+KV write, norms,
// argmax, sampling) at SmolLM2 / SigLIP shapes. Node + Dawn script, not a test: bundle it
// (esbuild, with WGSL ?raw imports as text) and run on the GPU host with the .gpu-host prefix.
// Each case records the op R and 2R times in one command buffer each; the per-call time is the
// difference over R (includes per-dispatch overhead as in a forward pass, not the submit).
import { createGpuContext, type GpuContext } from '../gpu/context';
import { nodeGpu } from '../gpu/node';
import { Recorder } from '../gpu/recorder';
import { createArgmax } from './argmax';
import { createCacheAttention, createVisionAttention } from './attention-presets';
import { createKvCache } from './kv-cache-ops';
import { createRmsNorm } from './rmsnorm';
import { createRopeKvWrite, createRopeTable } from './rope';
import { createSampler } from './sample';
import { randomF32 } from './reference/matmul';
import { treeMaskFromParents } from './reference/attention';
import { createF32, createU32, uploadF32, uploadU32, type Op } from './types';

async function wall<A>(ctx: GpuContext, op: Op<A>, args: A, reps: number): Promise<number> {
  const rec = new Recorder(ctx);
  for (let i = 0; i < reps; i++) op.record(rec, args);
  const t0 = performance.now();
  await rec.submitAndWait();
  return performance.now() - t0;
}

/** Per-call time: (t(2R) - t(R)) / R, median of 5, with R sized for ~30 ms of work per run, so
 * the submit/readback round trip cancels and timer noise is small. */
async function time<A>(ctx: GpuContext, op: Op<A>, args: A, _hint = 0): Promise<number> {
  await wall(ctx, op, args, 2);
  const w = await wall(ctx, op, args, 10);
  const reps = Math.max(10, Math.min(2000, Math.ceil((10 * 30) / Math.max(w, 0.01))));
  const d: number[] = [];
  for (let t = 0; t < 5; t++) {
    const a = await wall(ctx, op, args, reps);
    const b = await wall(ctx, op, args, 2 * reps);
    d.push(((b - a) * 1000) / reps);
  }
  d.sort((x, y) => x - y);
  return d[2];
}

function line(name: string, us: number, extra = ''): void {
  console.log(`${name.padEnd(58)} ${us.toFixed(1).padStart(9)} us ${extra}`);
}

async function main(): Promise<void> {
  const ctx = await createGpuContext(await nodeGpu());
  console.log(`adapter: ${ctx.caps.vendor} ${ctx.caps.architecture} ${ctx.caps.description}`);
  const quick = process.argv.includes('--quick');
  const R = quick ? 3 : 100;

  // Llama 135M-ish layer: 9 heads, 3 kv heads, d 64
  const [nH, nKv, d, maxSeq] = [9, 3, 64, 4096];
  const [cache] = createKvCache(ctx, 1, nKv, maxSeq, d);
  ctx.buffers.write(cache.k.buffer, randomF32(nKv * maxSeq * d, 1));
  ctx.buffers.write(cache.v.buffer, randomF32(nKv * maxSeq * d, 2));
  const maxQ = quick ? 128 : 1024;
  const q = uploadF32(ctx, randomF32(maxQ * nH * d, 3), [maxQ, nH * d]);
  const out = createF32(ctx, [maxQ, nH * d]);
  const parents = Array.from({ length: 64 }, (_, i) => (i === 0 ? -1 : Math.floor((i - 1) / 3)));
  const mask = uploadU32(ctx, treeMaskFromParents(parents), [64 * 2]);
  const attn = createCacheAttention(ctx, { q, cache, out, nHeads: nH, maxQ, treeMask: mask, maxTree: 64 });
  for (const L of quick ? [128] : [128, 1024, 4000]) line(`decode attention 9x64 / 3 kv, L=${L}`, await time(ctx, attn, { kind: 'causal', start: L - 1, nQ: 1 }, R));
  for (const L of quick ? [128] : [128, 1024, 3000]) line(`tree attention 64 nodes, L=${L}`, await time(ctx, attn, { kind: 'tree', committed: L, nQ: 64 }, R));
  for (const T of quick ? [128] : [128, 1024]) {
    const us = await time(ctx, attn, { kind: 'causal', start: 0, nQ: T }, quick ? 2 : 10);
    const flops = 4 * nH * d * (T * (T + 1)) / 2;
    line(`prefill attention causal T=${T}`, us, `${(flops / us / 1e6).toFixed(2)} TFLOP/s`);
  }

  // SigLIP: 12 heads of 64, 1024 tokens per tile, 7 tiles
  const [B, T, H] = quick ? [1, 256, 12] : [7, 1024, 12];
  const row = 3 * H * 64;
  const qkv = uploadF32(ctx, randomF32(B * T * row, 5), [B * T, row]);
  const vout = createF32(ctx, [B * T, H * 64]);
  const scores = createF32(ctx, [B, T]);
  const vis = createVisionAttention(ctx, { qkv, out: vout, nHeads: H, headDim: 64, tokens: T, maxBatch: B });
  const visS = createVisionAttention(ctx, { qkv, out: vout, nHeads: H, headDim: 64, tokens: T, maxBatch: B, keyScores: scores });
  const vflops = 4 * B * H * 64 * T * T;
  const v1 = await time(ctx, vis, { batch: B }, quick ? 1 : 5);
  line(`vision attention ${B}x${T} tokens, 12x64`, v1, `${(vflops / v1 / 1e6).toFixed(2)} TFLOP/s`);
  line(`vision attention + HiRED scores`, await time(ctx, visS, { batch: B }, quick ? 1 : 5));

  // small per-token ops
  const rowQkv = (nH + 2 * nKv) * d;
  const rope = createRopeKvWrite(ctx, {
    qkv: uploadF32(ctx, randomF32(64 * rowQkv, 6), [64, rowQkv]),
    table: createRopeTable(ctx, d, 100000, maxSeq),
    positions: uploadU32(ctx, Uint32Array.from({ length: 64 }, (_, i) => 100 + i), [64]),
    qOut: createF32(ctx, [64, nH * d]),
    cache,
    nHeads: nH,
  });
  line('rope + kv write, 1 token', await time(ctx, rope, { T: 1, firstSlot: 100 }, R));
  const xs = uploadF32(ctx, randomF32(576, 7), [1, 576]);
  const norm = createRmsNorm(ctx, { x: xs, weight: uploadF32(ctx, randomF32(576, 8), [576]), out: createF32(ctx, [1, 576]), eps: 1e-5, residual: uploadF32(ctx, randomF32(576, 9), [1, 576]) });
  line('add + rmsnorm, 1 x 576', await time(ctx, norm, undefined, R));
  const vocab = 49152;
  const logits = uploadF32(ctx, randomF32(64 * vocab, 10, 5), [64, vocab]);
  const ids = createU32(ctx, [64]);
  const am = createArgmax(ctx, { logits, out: ids, vocab });
  line('argmax 1 x 49152', await time(ctx, am, { rows: 1 }, R));
  line('argmax 64 x 49152', await time(ctx, am, { rows: 64 }, R));
  const smp = createSampler(ctx, { logits, history: uploadU32(ctx, Uint32Array.from({ length: 256 }, (_, i) => i * 7), [256]), out: ids, vocab });
  line('sample top-k 40 / top-p 0.95 / penalty, 49152', await time(ctx, smp, { temperature: 0.7, topK: 40, topP: 0.95, repetitionPenalty: 1.1, historyLength: 256, u: 0.5 }, R));
  ctx.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
