// Prefill GEMM and decode-attention kernel sweep (issue 3, third session), Node + Dawn; bundled
// by `node tools/bench/build-kernels.mjs` to dist-bench/prefill-kernels.mjs for the GPU host.
//   gemm       every layer product of SmolLM2-135M / 360M / Qwen2-0.5B (q4; --quants) at M = 32..1024
//              prompt rows: the planner's choice (gemmPlan), the previous routing (64 x 128, no
//              split), and a grid of tiles x split-K slices x prefetch (suffix p); plus the skinny
//              GEMM where M ≤ 64.
//   attention  decode (1 query) and small trees (7 / 16 nodes) over 64..1024 cache slots at the
//              three models' head layouts: the one-dispatch kernel vs the split + combine (decode)
//              or flash + combine (tree) routing.
// Time per call = one timestamped compute pass holding `reps` back-to-back calls (kernel time
// plus the dispatch gaps a forward pass has), cycling through one weight copy per layer so the
// weights are not all L2-resident; median of 3 passes, each timing after ~150 ms of streaming reads
// that hold the GPU's clocks up (the fourth session added this; the third's sweep ran without). Without timestamp-query (SwiftShader) the
// wall time of the submit is used instead (--small: a smoke run of the harness only).
// Usage: node dist-bench/prefill-kernels.mjs [--small] [--json FILE] [--only gemm|attention] [--quants q4,q8]
//   [--models a,b] [--ms 16,512,...] [--keys 64,...] [--nodes 1,7,16]
import { writeFileSync } from 'node:fs';
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { Recorder } from '../../workers/gpu/recorder';
import { ATTN_SINGLE_MAX_KEYS, ATTN_SINGLE_MAX_Q, attentionRouting, createAttention } from '../../workers/ops/attention';
import { createGemm, GEMM_SPLIT_SCRATCH_BYTES, GEMM_TILE_LARGE, GEMM_TILE_SMALL, gemmPlan, type GemmPlan, type GemmTile } from '../../workers/ops/gemm';
import { createGemmSkinny } from '../../workers/ops/gemm-skinny';
import { randomF32 } from '../../workers/ops/reference/matmul';
import { treeMaskFromParents } from '../../workers/ops/reference/attention';
import { createF32, uploadF32, uploadPacked, uploadU32, type GpuTensor, type Op } from '../../workers/ops/types';
import { quantize, type QuantKind } from '../../workers/storage/quant';
import { runMain } from '../cli';
import { SHAPES } from './shapes';
import { clockWarmer } from './peak';
import { readTimestamps } from './timestamps';

const argv = process.argv.slice(2);
const small = argv.includes('--small');
const jsonIdx = argv.indexOf('--json');
const jsonPath = jsonIdx >= 0 ? argv[jsonIdx + 1] : null;
const onlyIdx = argv.indexOf('--only');
const only = onlyIdx >= 0 ? argv[onlyIdx + 1] : null;
const rows: Record<string, unknown>[] = [];
function log(row: Record<string, unknown>): void {
  rows.push(row);
  console.log(JSON.stringify(row));
}

/** Streaming reads right before each timing, so the GPU's clocks are up (peak.ts clockWarmer). */
let clockWarm: () => Promise<void> = async () => {};

/** µs per call: `reps` calls in one (timestamped) pass, median of 3, after a clock warm-up. */
async function perCall(ctx: GpuContext, reps: number, record: (rec: Recorder, i: number) => void): Promise<number> {
  const warm = new Recorder(ctx, 'warm');
  record(warm, 0);
  await warm.submitAndWait();
  await clockWarm();
  const times: number[] = [];
  for (let t = 0; t < 3; t++) {
    if (ctx.caps.timestampQuery) {
      const ts = await readTimestamps(ctx, 2, (rec, qs) => {
        rec.timedPass(qs, 0);
        for (let i = 0; i < reps; i++) record(rec, i);
      });
      times.push(Number(ts[1] - ts[0]) / 1000 / reps);
    } else {
      const rec = new Recorder(ctx, 'timed');
      for (let i = 0; i < reps; i++) record(rec, i);
      const t0 = performance.now();
      await rec.submitAndWait();
      times.push(((performance.now() - t0) * 1000) / reps);
    }
  }
  return times.sort((a, b) => a - b)[1];
}

function planName(p: GemmPlan | 'auto' | 'legacy' | 'skinny'): string {
  if (typeof p === 'string') return p;
  return `${4 * p.tile.ty}x${8 * p.tile.tx}/s${p.splits}${p.prefetch ? 'p' : ''}`;
}

async function gemmSweep(ctx: GpuContext): Promise<void> {
  const mi = argv.indexOf('--models');
  const models = mi >= 0 ? argv[mi + 1].split(',') : small ? ['tiny-llama-bench'] : ['smollm2-135m', 'smollm2-360m', 'qwen2-0.5b'];
  const msi = argv.indexOf('--ms');
  const ms = msi >= 0 ? argv[msi + 1].split(',').map(Number) : small ? [16, 64] : [32, 64, 128, 256, 512, 1024];
  const qi = argv.indexOf('--quants');
  const quants = (qi >= 0 ? argv[qi + 1] : 'q4').split(',') as QuantKind[];
  const tiles: GemmTile[] = [{ tx: 8, ty: 8 }, GEMM_TILE_SMALL, { tx: 8, ty: 16 }, GEMM_TILE_LARGE];
  for (const model of models) {
    const c = SHAPES[model];
    const hd = c.hidden_size / c.num_attention_heads;
    const layers = small ? 2 : c.num_hidden_layers;
    const mats: Array<[string, number, number]> = [
      ['qkv', (c.num_attention_heads + 2 * c.num_key_value_heads) * hd, c.hidden_size],
      ['o', c.hidden_size, c.hidden_size],
      ['gate_up', 2 * c.intermediate_size, c.hidden_size],
      ['down', c.hidden_size, c.intermediate_size],
    ];
    for (const q of quants) {
      for (const [mat, n, k] of mats) {
        // one copy per layer (different random values do not change the timing; copies do)
        const packed = quantize(q, randomF32(n * k, n + k), n, k);
        const ws: GpuTensor[] = Array.from({ length: layers }, () => uploadPacked(ctx, packed));
        const maxM = Math.max(...ms);
        const x = uploadF32(ctx, randomF32(maxM * k, 7), [maxM, k]);
        const y = createF32(ctx, [maxM, n]);
        const opsFor = new Map<string, Op<{ m: number }>[] | null>();
        const build = (cand: GemmPlan | 'auto' | 'legacy' | 'skinny'): Op<{ m: number }>[] | null => {
          const key = planName(cand);
          if (!opsFor.has(key)) {
            try {
              if (cand === 'skinny') opsFor.set(key, ws.map((w) => createGemmSkinny(ctx, { w, x, y, maxM: Math.min(64, maxM) })));
              else if (cand === 'auto') opsFor.set(key, ws.map((w) => createGemm(ctx, { w, x, y, maxM, simple: false })));
              else opsFor.set(key, ws.map((w) => createGemm(ctx, { w, x, y, maxM, simple: false, plan: cand === 'legacy' ? { tile: GEMM_TILE_LARGE, splits: 1 } : cand })));
            } catch {
              opsFor.set(key, null); // not possible here (split scratch at maxM)
            }
          }
          return opsFor.get(key) ?? null;
        };
        for (const m of ms) {
          const cands: Array<GemmPlan | 'auto' | 'legacy' | 'skinny'> = ['auto', 'legacy'];
          if (m <= 64) cands.push('skinny');
          const grid: GemmPlan[] = [];
          if (m < 32) grid.push({ tile: { tx: 16, ty: 4 }, splits: 8 }, { tile: { tx: 16, ty: 4 }, splits: 4 });
          for (const tile of tiles) for (const s of [1, 2, 4, 8, 16]) if (k / s >= 64 && (s === 1 || s * m * n * 4 <= GEMM_SPLIT_SCRATCH_BYTES)) grid.push({ tile, splits: s });
          for (const g of grid) cands.push({ ...g, prefetch: false }, { ...g, prefetch: true });
          const res: Record<string, number> = {};
          for (const cand of cands) {
            const ops = build(cand);
            if (!ops) continue;
            const reps = Math.min(120, 3 * layers);
            res[planName(cand)] = +(await perCall(ctx, reps, (rec, i) => ops[i % ops.length].record(rec, { m }))).toFixed(2);
          }
          const best = Object.entries(res).filter(([k2]) => k2 !== 'auto' && k2 !== 'legacy').sort((a, b) => a[1] - b[1])[0];
          log({ bench: 'gemm', model, q, mat, m, n, k, plan: planName(gemmPlan(m, n, k)), autoUs: res.auto, legacyUs: res.legacy, best: best?.[0], bestUs: best?.[1], all: res });
        }
        for (const w of ws) {
          ctx.buffers.destroy(w.buffer);
          if (w.scales) ctx.buffers.destroy(w.scales.buffer);
        }
        ctx.buffers.destroy(x.buffer);
        ctx.buffers.destroy(y.buffer);
      }
    }
  }
}

async function attentionSweep(ctx: GpuContext): Promise<void> {
  const layouts: Array<[string, number, number]> = small ? [['tiny', 4, 2]] : [['smollm2-135m', 9, 3], ['smollm2-360m', 15, 5], ['qwen2-0.5b', 14, 2]];
  const li = argv.indexOf('--keys');
  const lens = li >= 0 ? argv[li + 1].split(',').map(Number) : small ? [64, 300] : [64, 128, 192, 256, 384, 512, 768, 1024];
  const ni = argv.indexOf('--nodes');
  const attnNodes = ni >= 0 ? argv[ni + 1].split(',').map(Number) : [1, 7, 16];
  const d = 64;
  const maxSeq = Math.max(...lens) + 64;
  const copies = small ? 2 : 24;
  for (const [model, nH, nKv] of layouts) {
    const kv = Array.from({ length: copies }, (_, i) => ({
      k: uploadF32(ctx, randomF32(nKv * maxSeq * d, 2 * i + 1), [nKv, maxSeq, d]),
      v: uploadF32(ctx, randomF32(nKv * maxSeq * d, 2 * i + 2), [nKv, maxSeq, d]),
    }));
    const q = uploadF32(ctx, randomF32(64 * nH * d, 3), [64, nH * d]);
    const out = createF32(ctx, [64, nH * d]);
    for (const nodes of attnNodes) {
      const mode = nodes === 1 ? ('causal' as const) : ('tree' as const);
      const parents = Array.from({ length: nodes }, (_, i) => (i === 0 ? -1 : Math.floor((i - 1) / 2)));
      const mask = uploadU32(ctx, treeMaskFromParents(parents), [nodes]);
      const ops = kv.map((c) =>
        createAttention(ctx, {
          mode, nHeads: nH, nKv, headDim: d, out, maxQ: nodes, maxKeys: maxSeq, mask: mode === 'tree' ? mask : undefined,
          q: { t: q, strideT: nH * d }, k: { t: c.k, strideH: maxSeq * d, strideT: d }, v: { t: c.v, strideH: maxSeq * d, strideT: d },
        }),
      );
      for (const L of lens) {
        const args = mode === 'causal' ? { nQ: 1, start: L - 1 } : { nQ: nodes, committed: L - nodes };
        const res: Record<string, number> = {};
        for (const route of ['single', 'legacy'] as const) {
          attentionRouting.legacy = route === 'legacy';
          attentionRouting.singleMaxKeys = 1024;
          attentionRouting.singleMaxQ = 64;
          try {
            const rec0 = new Recorder(ctx, 'count');
            ops[0].record(rec0, args);
            const dispatches = rec0.dispatches;
            await rec0.submitAndWait();
            res[route] = +(await perCall(ctx, copies * 4, (rec, i) => ops[i % ops.length].record(rec, args))).toFixed(2);
            res[`${route}Dispatches`] = dispatches;
          } finally {
            attentionRouting.legacy = false;
            attentionRouting.singleMaxKeys = ATTN_SINGLE_MAX_KEYS;
            attentionRouting.singleMaxQ = ATTN_SINGLE_MAX_Q;
          }
        }
        log({ bench: 'attention', model, mode, nodes, keys: L, singleUs: res.single, legacyUs: res.legacy, singleDispatches: res.singleDispatches, legacyDispatches: res.legacyDispatches });
      }
      ctx.buffers.destroy(mask.buffer);
    }
    for (const c of kv) {
      ctx.buffers.destroy(c.k.buffer);
      ctx.buffers.destroy(c.v.buffer);
    }
  }
}

async function main(): Promise<void> {
  const ctx = await createGpuContext(await nodeGpu(['disable-dawn-features=timestamp_quantization']), { timestampQuery: true });
  const c = ctx.caps;
  log({ bench: 'device', date: new Date().toISOString(), timestamps: c.timestampQuery, vendor: c.vendor, architecture: c.architecture, description: c.description, subgroups: c.subgroups });
  if (!small) clockWarm = clockWarmer(ctx);
  if (only !== 'gemm') await attentionSweep(ctx);
  if (only !== 'attention') await gemmSweep(ctx);
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify(rows, null, 1));
  ctx.destroy();
}

runMain(main);
