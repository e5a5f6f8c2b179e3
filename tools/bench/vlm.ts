// Photo to first token (SmolVLM / Idefics3) under plain Node + Dawn, bundled to dist-bench/vlm.mjs
// by tools/bench/build.mjs, and the Idefics3 parity runner for the GPU host.
//
//   node dist-bench/vlm.mjs ttft [--models smolvlm-256m,smolvlm-500m] [--quants q4,q8] [--chunks 1024]
//        [--tiling gpu,tiles,cpu] [--runs 3] [--photo 1536x1024] [--vision-batches 4,13] [--json FILE]
//   node dist-bench/vlm.mjs ttft --small          (= --models tiny-vlm-bench --photo 192x128, SwiftShader)
//   node dist-bench/vlm.mjs parity DIR [DIR...] [--quants f32,q8,q4] [--json FILE]
//
// ttft, per shape x weight format x LM chunk size: a random-weight repository laid out like the hub
// (vlm-model.ts) is installed (convertModel: quantize into a file tensor store) and loaded as the
// app loads it (Idefics3Session); after one warm-up answer (pipeline compilation), each run asks
// about a NEW photo (never cached) in a new conversation and stops after the first token:
// TTFT = photo decode + CPU preprocessing (--tiling gpu: none, the app's default: GPU Lanczos resize
// + tiling; tiles: transformers.js' resize on the CPU, tiling on the GPU; cpu: transformers.js'
// preprocess + tiles.ts) + vision encoder (upload, GPU preprocessing, patchify, SigLIP, connector;
// waited for) + LM prefill up to the first token
// (GPU argmax, one readback). Peak GPU memory = the most bytes alive in GPU buffers from load to
// the end of the runs, less what was alive before the load (vlm-memory.ts: every createBuffer,
// weights included). --vision-batches
// also times the encoder alone at other tiles-per-batch and each op class alone (profile).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { Recorder } from '../../workers/gpu/recorder';
import { Idefics3Vision } from '../../workers/models/idefics3/vision';
import { defaultSampling, type ChatTurn } from '../../workers/protocol/engine';
import { convertModel, policyFor } from '../../workers/storage/convert';
import { dirFileSource } from '../../workers/storage/fs-source';
import { requireManifest } from '../../workers/storage/tensor-store';
import { FsTensorStore } from '../../workers/storage/tensor-store-fs';
import { createImageProcessor, preprocessImage } from '../../workers/vision/preprocess';
import { Idefics3Session } from '../../workers/vision/session';
import { syntheticPhoto } from '../../workers/vision/test-photo';
import { trackGpuMemory, type GpuMemoryTracker } from './vlm-memory';
import { writeRandomVlm } from './vlm-model';
import { runVlmParity, type VlmParityReport } from './vlm-parity';
import { preprocessorConfig, VLM_SHAPES } from './vlm-shapes';
import { runMain } from '../cli';

const never = new AbortController().signal;
const MB = 1024 * 1024;

function opt(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

type Tiling = 'gpu' | 'tiles' | 'cpu';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r1 = (x: number) => Math.round(x * 10) / 10;

export interface TtftRow {
  model: string;
  quant: string;
  maxChunk: number;
  tiling: Tiling;
  tiles: number;
  visualTokens: number;
  promptTokens: number;
  installMs: number;
  loadMs: number;
  warmupMs: number;
  /** Medians over the runs. */
  ttftMs: number;
  preprocessMs: number;
  encodeMs: number;
  prefillMs: number;
  runs: { ttftMs: number; preprocessMs: number; encodeMs: number; prefillMs: number }[];
  weightsMB: number;
  peakGpuMB: number;
}

async function ttftOne(ctx: GpuContext, mem: GpuMemoryTracker, store: FsTensorStore, dir: string, model: string, quant: string, maxChunk: number, tiling: Tiling, photo: [number, number], runs: number): Promise<TtftRow> {
  const manifest = await requireManifest(store, `${model}-${quant}`);
  const image = syntheticPhoto(photo[0], photo[1]);
  mem.resetPeak();
  const liveBefore = mem.live; // buffers left by earlier sessions (pool free lists) are not this one's
  let t = performance.now();
  const session = await Idefics3Session.load(ctx, store, manifest, dirFileSource(dir), () => {}, never, { decode: async () => image, capacity: 2048, maxChunk, gpuTiling: tiling !== 'cpu', gpuResize: tiling === 'gpu' });
  const loadMs = performance.now() - t;
  try {
    const ask = async (id: string) => {
      const chat: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id, blob: new Blob([id]) }, { type: 'text', text: 'What is in this photo?' }] }];
      const start = performance.now();
      const it = session.generate(chat, { ...defaultSampling, maxNewTokens: 1 }, () => {}, never);
      let step = await it.next();
      while (!step.done) step = await it.next();
      const wall = performance.now() - start;
      const st = step.value.stats;
      const pre = session.lastPreprocessMs;
      return { ttftMs: wall, preprocessMs: pre, encodeMs: st.encodeMs, prefillMs: wall - pre - st.encodeMs, visualTokens: st.visualTokens, promptTokens: st.promptTokens };
    };
    t = performance.now();
    const warm = await ask('warm-up');
    const warmupMs = performance.now() - t;
    const rows: Awaited<ReturnType<typeof ask>>[] = [];
    for (let i = 0; i < runs; i++) rows.push(await ask(`photo-${i}`));
    const pick = (k: 'ttftMs' | 'preprocessMs' | 'encodeMs' | 'prefillMs') => r1(median(rows.map((x) => x[k])));
    return {
      model,
      quant,
      maxChunk,
      tiling: session.gpuTiling ? tiling : 'cpu',
      tiles: warm.visualTokens / session.seqLen,
      visualTokens: warm.visualTokens,
      promptTokens: warm.promptTokens,
      installMs: 0,
      loadMs: r1(loadMs),
      warmupMs: r1(warmupMs),
      ttftMs: pick('ttftMs'),
      preprocessMs: pick('preprocessMs'),
      encodeMs: pick('encodeMs'),
      prefillMs: pick('prefillMs'),
      runs: rows.map((x) => ({ ttftMs: r1(x.ttftMs), preprocessMs: r1(x.preprocessMs), encodeMs: r1(x.encodeMs), prefillMs: r1(x.prefillMs) })),
      weightsMB: r1(session.gpuBytes / MB),
      peakGpuMB: r1((mem.peak - liveBefore) / MB),
    };
  } finally {
    session.destroy();
  }
}

/** Encoder alone at other tiles-per-batch, and each op class alone (ms, best of 3). */
async function visionProfile(ctx: GpuContext, store: FsTensorStore, manifestId: string, pixels: Float32Array, tiles: number, batches: number[]): Promise<Record<string, unknown>[]> {
  const manifest = await requireManifest(store, manifestId);
  const out: Record<string, unknown>[] = [];
  for (const maxBatch of batches) {
    const vision = await Idefics3Vision.load(ctx, store, manifest, { maxTiles: tiles, maxBatch }, () => {}, never);
    try {
      (await vision.encode(pixels, tiles)).destroy(); // compile
      let encode = Infinity;
      for (let i = 0; i < 3; i++) {
        const e = await vision.encode(pixels, tiles);
        encode = Math.min(encode, e.encodeMs);
        e.destroy();
      }
      const parts: Record<string, number> = {};
      for (const part of ['gemm', 'attention', 'norm', 'connector'] as const) {
        let best = Infinity;
        for (let i = 0; i < 3; i++) {
          const rec = new Recorder(ctx, `profile-${part}`);
          vision.recordPart(rec, part, tiles);
          const t = performance.now();
          await rec.submitAndWait();
          best = Math.min(best, performance.now() - t);
        }
        parts[part] = r1(best);
      }
      out.push({ maxBatch: vision.maxBatch, encodeMs: r1(encode), parts });
      console.log(JSON.stringify({ profile: manifestId, maxBatch: vision.maxBatch, tiles, encodeMs: r1(encode), parts }));
    } finally {
      vision.destroy();
    }
  }
  return out;
}

async function ttft(argv: string[]): Promise<void> {
  const small = argv.includes('--small');
  const models = opt(argv, '--models', small ? 'tiny-vlm-bench' : 'smolvlm-256m,smolvlm-500m').split(',');
  const quants = opt(argv, '--quants', 'q4,q8').split(',') as Array<'q4' | 'q8' | 'f32'>;
  const chunks = opt(argv, '--chunks', '1024').split(',').map(Number);
  const tilings = opt(argv, '--tiling', 'gpu').split(',') as Tiling[];
  const runs = Number(opt(argv, '--runs', '3'));
  const [pw, ph] = opt(argv, '--photo', small ? '192x128' : '1536x1024').split('x').map(Number);
  const batches = argv.includes('--vision-batches') ? opt(argv, '--vision-batches', '4').split(',').map(Number) : [];
  const jsonPath = opt(argv, '--json', '');
  const ctx = await createGpuContext(await nodeGpu());
  const mem = trackGpuMemory(ctx.device);
  console.log(JSON.stringify({ adapter: ctx.caps.description || ctx.caps.architecture, vendor: ctx.caps.vendor, photo: `${pw}x${ph}` }));
  const rows: TtftRow[] = [];
  const profiles: Record<string, unknown> = {};
  for (const model of models) {
    const shape = VLM_SHAPES[model];
    if (!shape) throw new RangeError(`unknown model shape "${model}" (${Object.keys(VLM_SHAPES).join(', ')})`);
    const dir = await mkdtemp(join(tmpdir(), `lumen-vlm-${model}-`));
    const root = await mkdtemp(join(tmpdir(), 'lumen-vlm-store-'));
    try {
      let t = performance.now();
      const bytes = await writeRandomVlm(dir, shape);
      console.log(JSON.stringify({ model, wrote: `${r1(bytes / MB)} MB`, ms: r1(performance.now() - t) }));
      const store = new FsTensorStore(root);
      for (const quant of quants) {
        t = performance.now();
        await convertModel(store, `${model}-${quant}`, dirFileSource(dir), { quantization: policyFor(quant) }, () => {});
        const installMs = r1(performance.now() - t);
        for (const maxChunk of chunks) {
          for (const tiling of tilings) {
            const row = { ...(await ttftOne(ctx, mem, store, dir, model, quant, maxChunk, tiling, [pw, ph], runs)), installMs };
            rows.push(row);
            const { runs: per, ...summary } = row;
            console.log(JSON.stringify({ ...summary, runs: per.map((x) => x.ttftMs).join(' ') }));
          }
        }
        if (batches.length && quant === quants[0]) {
          const pre = await preprocessImage(createImageProcessor(preprocessorConfig(shape)), syntheticPhoto(pw, ph));
          profiles[`${model}-${quant}`] = await visionProfile(ctx, store, `${model}-${quant}`, pre.pixels, pre.tiles, batches);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(root, { recursive: true, force: true });
    }
  }
  if (jsonPath) await writeFile(jsonPath, JSON.stringify({ adapter: ctx.caps.description || ctx.caps.architecture, photo: [pw, ph], rows, profiles }, null, 1));
  ctx.destroy();
}

async function parity(argv: string[]): Promise<void> {
  const quants = opt(argv, '--quants', 'f32,q8,q4').split(',') as Array<'f32' | 'q8' | 'q4'>;
  const jsonPath = opt(argv, '--json', '');
  const skip = new Set(['--quants', '--json'].map((o) => argv.indexOf(o) + 1).filter((i) => i > 0));
  const dirs = argv.filter((a, i) => !a.startsWith('--') && !skip.has(i));
  const ctx = await createGpuContext(await nodeGpu());
  console.log(JSON.stringify({ adapter: ctx.caps.description || ctx.caps.architecture, vendor: ctx.caps.vendor }));
  const out: VlmParityReport[] = [];
  for (const dir of dirs) {
    for (const q of quants) {
      const r = await runVlmParity(ctx, dir, q);
      out.push(r);
      const { greedy, ...rest } = r;
      console.log(JSON.stringify({ ...rest, greedyAgree: `${greedy.agree}/${greedy.reference.length}`, ours: greedy.ours.join(' '), ref: greedy.reference.join(' ') }));
    }
  }
  if (jsonPath) await writeFile(jsonPath, JSON.stringify(out, null, 1));
  ctx.destroy();
}

const [cmd, ...rest] = process.argv.slice(2);
const run = cmd === 'parity' ? parity : cmd === 'ttft' ? ttft : null;
if (!run) {
  console.error('usage: vlm.mjs ttft [--small] [...] | vlm.mjs parity DIR [...]');
  process.exit(2);
}
runMain(() => run(rest));
