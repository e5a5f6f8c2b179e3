// Kernel benchmark (Node + Dawn): streaming-read peak bandwidth, q4/q8 GEMV GB/s on the model
// shapes (default workgroup shape and a sweep of alternatives), skinny GEMM, tiled GEMM TFLOP/s.
// Weights are replicated into enough copies (≥ 256 MiB in all) that consecutive dispatches miss
// the GPU's L2, and each timing is many dispatches in one command buffer (best of 3 trials).
// With timestamp-query (GPU host), each GEMV is also timed on the GPU: one dispatch per timed
// pass (kernel time, no dispatch gap) and all dispatches in one timed pass (kernel + gap).
// --split sweeps split-K (workgroups per row block along K, partials summed by a second pass or,
// for y += Wx, by atomic adds; see gemv.wgsl) over workgroup shapes whose lanes x groups in flight
// cover one K-slice, and times a streaming read of the GEMV's own byte count (same copies, same
// dependent dispatches): what a pure read of that size achieves per call.
// --confirm times the default against the split-K routing (gemvRouting), x-sharing row pairs,
// int8-x q4 and the loads-only diagnostic. --xq8 sweeps q4 with int8 x quantized by a dispatch
// before the GEMV (also timed alone) and checks every result against the default's. Every
// GEMV timing is preceded by ~150 ms of streaming reads so the GPU's clocks are up (clockWarm).
// Build + run: node tools/bench/build-kernels.mjs && node dist-bench/kernels.mjs [--small]
//   [--json FILE] [--gemv-only] [--quick | --split | --confirm | --xq8] [--shapes 11008x4096,...] [--kinds q4,q8]
import { writeFileSync } from 'node:fs';
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { createBindGroup, Recorder } from '../../workers/gpu/recorder';
import { createGemm } from '../../workers/ops/gemm';
import { createGemmSkinny } from '../../workers/ops/gemm-skinny';
import { createGemv, defaultGemvConfig } from '../../workers/ops/gemv';
import { createF32, readF32, type GpuTensor } from '../../workers/ops/types';
import { packedBytes, type QuantKind } from '../../workers/storage/quant';
import { clockWarmer, STREAM_WGSL } from './peak';
import { runMain } from '../cli';
import { readTimestamps } from './timestamps';
import { cfgName, confirmConfigs, fullConfigs, quickConfigs, splitConfigs, xq8Configs, type SweepCfg } from './gemv-sweeps';

const small = process.argv.includes('--small');
const jsonIdx = process.argv.indexOf('--json');
const jsonPath = jsonIdx > 0 ? process.argv[jsonIdx + 1] : null;
const results: Record<string, unknown>[] = [];
const argVal = (name: string): string | null => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? null) : null;
};
const gemvOnly = process.argv.includes('--gemv-only');
/** A short GEMV sweep: the default and the shapes that led earlier sweeps. */
const quickSweep = process.argv.includes('--quick');
/** Split-K sweep (and the size-matched streaming read). */
const splitSweep = process.argv.includes('--split');
/** The default vs split-K, row pairs, int8 x and diagnostics (gemv-sweeps.ts confirmConfigs). */
const confirmSweep = process.argv.includes('--confirm');
/** q4 with int8 x quantized before the GEMV (gemv-sweeps.ts xq8Configs), results checked. */
const xq8Sweep = process.argv.includes('--xq8');
const shapesArg = argVal('shapes');
const kindsArg = (argVal('kinds') ?? 'q4,q8').split(',') as QuantKind[];

function log(row: Record<string, unknown>): void {
  results.push(row);
  console.log(JSON.stringify(row));
}

let seed = 12345;
function fillRandomWords(a: Uint32Array): void {
  for (let i = 0; i < a.length; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    a[i] = seed >>> 0;
  }
}
function randomF32(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

/** Seconds per call: `reps` calls in one command buffer, best of `trials`. */
async function timeIt(ctx: GpuContext, reps: number, record: (rec: Recorder, i: number) => void, trials = small ? 1 : 3): Promise<number> {
  if (small) reps = Math.min(reps, 3); // SwiftShader: a few calls are enough
  const warm = new Recorder(ctx, 'warm');
  record(warm, 0);
  await warm.submitAndWait();
  let best = Infinity;
  for (let t = 0; t < trials; t++) {
    const rec = new Recorder(ctx, 'bench');
    for (let i = 0; i < reps; i++) record(rec, i);
    const t0 = performance.now();
    await rec.submitAndWait();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

/**
 * GPU-side time of `record`'s dispatches from timestamp queries (null without timestamp-query):
 * kernelUs = median over `n` passes of one dispatch each (kernel alone, no gap to the next);
 * passUs = one pass holding all `n` dispatches, per dispatch (kernel + dispatch gap).
 */
async function gpuTime(ctx: GpuContext, n: number, record: (rec: Recorder, i: number) => void): Promise<{ kernelUs: number; passUs: number } | null> {
  if (!ctx.caps.timestampQuery) return null;
  n = Math.min(n, 200);
  const count = 2 * n + 2;
  const t = await readTimestamps(ctx, count, (rec, qs) => {
    for (let i = 0; i < n; i++) {
      rec.timedPass(qs, 2 * i);
      record(rec, i);
    }
    rec.timedPass(qs, 2 * n);
    for (let i = 0; i < n; i++) record(rec, i);
  });
  const single = Array.from({ length: n }, (_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1000).sort((a, b) => a - b);
  return { kernelUs: single[Math.floor(n / 2)], passUs: Number(t[2 * n + 1] - t[2 * n]) / 1000 / n };
}

const EMPTY_WGSL = `
struct Params { a: u32, b: u32, c: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) { if (gid.x == p.a) { dst[0] = p.b; } }`;

/** GPU time per empty dispatch in one pass (timestamps): the dispatch gap subtracted from GEMV pass times. */
let emptyPassUs = 0;

/** Cost of one tiny dependent dispatch in a long pass: the floor under every small kernel. */
async function emptyDispatch(ctx: GpuContext): Promise<void> {
  const dst = ctx.buffers.create(256, 'empty-dst');
  const kernel = ctx.pipelines.get({ op: 'bench_empty', source: EMPTY_WGSL, workgroupSize: [64, 1, 1], bindings: ['rw'] });
  const bg = createBindGroup(ctx, kernel, [dst]);
  const params = new Uint32Array([1 << 30, 1, 0, 0]);
  const record = (rec: Recorder) => rec.dispatch(kernel, bg, params, 1);
  const s = await timeIt(ctx, small ? 10 : 1000, record);
  const g = await gpuTime(ctx, small ? 4 : 200, record);
  emptyPassUs = g?.passUs ?? 0;
  log({ bench: 'empty_dispatch', us: +(s * 1e6).toFixed(2), passUsPerCall: g ? +g.passUs.toFixed(2) : undefined });
}

/** Streaming reads right before every timing so the GPU's clocks are up (peak.ts clockWarmer). */
let clockWarm: () => Promise<void> = async () => {};

async function streamPeak(ctx: GpuContext): Promise<number> {
  const bytes = small ? 32 << 20 : 256 << 20;
  const src = ctx.buffers.create(bytes, 'stream-src');
  let best = 0;
  for (const wgs of small ? [256] : [1024, 4096, 16384]) {
    const threads = wgs * 256;
    const dst = ctx.buffers.create(threads * 4, 'stream-dst');
    const kernel = ctx.pipelines.get({ op: 'bench_stream', source: STREAM_WGSL, workgroupSize: [256, 1, 1], bindings: ['read', 'rw'] });
    const bg = createBindGroup(ctx, kernel, [src, dst]);
    const params = new Uint32Array([bytes / 16, threads, 0, 0]);
    const s = await timeIt(ctx, small ? 5 : 40, (rec) => rec.dispatch(kernel, bg, params, wgs));
    const gbs = bytes / s / 1e9;
    log({ bench: 'stream_read', bytes, workgroups: wgs, us: +(s * 1e6).toFixed(1), GBps: +gbs.toFixed(0) });
    best = Math.max(best, gbs);
  }
  return best;
}

function makeQuantCopies(ctx: GpuContext, kind: QuantKind, n: number, k: number, copies: number): GpuTensor[] {
  const words = new Uint32Array(((n * k) / 32) * (kind === 'q4' ? 4 : 8));
  fillRandomWords(words);
  const scales = randomF32((n * k) / 32, 0.01);
  const out: GpuTensor[] = [];
  for (let c = 0; c < copies; c++) {
    out.push({ buffer: ctx.buffers.upload(words, 'w'), scales: { buffer: ctx.buffers.upload(scales, 's') }, shape: [n, k], dtype: kind });
  }
  return out;
}

function copiesFor(bytes: number): number {
  return Math.max(1, Math.min(small ? 4 : 512, Math.ceil((small ? 8 << 20 : 256 << 20) / bytes)));
}

/** Streaming read of `bytes` per call over the same number of copies as a GEMV of that size, dependent dispatches. */
async function streamSized(ctx: GpuContext, bytes: number, peak: number): Promise<void> {
  bytes = Math.ceil(bytes / 16) * 16;
  const copies = copiesFor(bytes);
  const srcs = Array.from({ length: copies }, () => ctx.buffers.create(bytes, 'stream-src'));
  const kernel = ctx.pipelines.get({ op: 'bench_stream', source: STREAM_WGSL, workgroupSize: [256, 1, 1], bindings: ['read', 'rw'] });
  for (const perThread of [1, 4, 16]) {
    const threads = Math.ceil(bytes / 16 / perThread / 256) * 256;
    const dst = ctx.buffers.create(threads * 4, 'stream-dst');
    const bgs = srcs.map((src) => createBindGroup(ctx, kernel, [src, dst]));
    const params = new Uint32Array([bytes / 16, threads, 0, 0]);
    const record = (rec: Recorder, i: number) => rec.dispatch(kernel, bgs[i % copies], params, threads / 256);
    const reps = Math.max(20, Math.min(2000, Math.ceil((small ? 2e7 : 4e9) / bytes)));
    await clockWarm();
    const s = await timeIt(ctx, reps, record);
    const g = await gpuTime(ctx, small ? 2 : Math.min(reps, 4 * copies), record);
    const pct = (us: number) => +((100 * bytes) / us / 1e3 / peak).toFixed(1);
    log({ bench: 'stream_sized', bytes, vec4PerThread: perThread, workgroups: threads / 256, copies, us: +(s * 1e6).toFixed(2), pctPeak: pct(s * 1e6), ...(g ? { passUsPerCall: +g.passUs.toFixed(2), passPctPeak: pct(g.passUs), kernelUs: +(g.passUs - emptyPassUs).toFixed(2), kernelPctPeak: pct(g.passUs - emptyPassUs) } : {}) });
    ctx.buffers.destroy(dst);
  }
  for (const b of srcs) ctx.buffers.destroy(b);
}

async function benchGemv(ctx: GpuContext, kind: QuantKind, n: number, k: number, peak: number): Promise<void> {
  const bytes = packedBytes(kind, n, k) + k * 4 + n * 4;
  const copies = copiesFor(bytes);
  const ws = makeQuantCopies(ctx, kind, n, k, copies);
  const x = { buffer: ctx.buffers.upload(randomF32(k)), shape: [k], dtype: 'f32' as const };
  const y = createF32(ctx, [n]);
  const def = defaultGemvConfig(n, k, ctx.caps.maxComputeInvocationsPerWorkgroup, ctx.caps.software);
  const maxWg = ctx.caps.maxComputeInvocationsPerWorkgroup;
  if (splitSweep || confirmSweep || xq8Sweep) await streamSized(ctx, bytes, peak);
  const sweep: SweepCfg[] = small
    ? [def, ...(splitSweep ? [{ ...def, ksplit: 2 }, { ...def, ksplit: 2, ksplitReduce: 'atomic' as const, acc: true }] : []), ...(xq8Sweep && kind === 'q4' ? xq8Configs(n, k, 256).filter((c) => c.xInt8 && c.xsmem === false).slice(0, 1) : [])]
    : confirmSweep
    ? confirmConfigs(n, k, kind, maxWg)
    : xq8Sweep && kind === 'q4'
    ? xq8Configs(n, k, maxWg)
    : splitSweep
    ? splitConfigs(def, k, kind, maxWg)
    : quickSweep
    ? quickConfigs(def, kind, maxWg)
    : fullConfigs(def, maxWg);
  const reps = Math.max(20, Math.min(2000, Math.ceil((small ? 2e7 : 4e9) / bytes)));
  let best = { gbs: 0, name: '' };
  const seen = new Set<string>();
  /** The first config's y = W x (the default), what --xq8 checks the others against. */
  let yRef: Float32Array | null = null;
  for (const cfg of sweep) {
    const name = cfgName(cfg);
    if (seen.has(name)) continue;
    seen.add(name);
    const ops = ws.map((w) => createGemv(ctx, { w, x, y, config: cfg, fuse: { accumulate: !!cfg.acc } }));
    await clockWarm();
    const s = await timeIt(ctx, reps, (rec, i) => ops[i % ops.length].record(rec));
    const gbs = bytes / s / 1e9;
    const isDefault = cfgName(cfg) === cfgName(def);
    const g = await gpuTime(ctx, small ? 2 : Math.min(reps, 4 * ops.length), (rec, i) => ops[i % ops.length].record(rec));
    // passUsPerCall: GPU time per call with all calls in one pass (kernel + dispatch gap);
    // kernelUs: that minus an empty dispatch's (the gap); isolatedPassUs: one call per timed
    // pass (includes the pass's own start/end cost, so it overstates the kernel).
    const kernelUs = g ? g.passUs - emptyPassUs : 0;
    const gpu = g
      ? { passUsPerCall: +g.passUs.toFixed(2), passGBps: +(bytes / g.passUs / 1e3).toFixed(0), passPctPeak: +((100 * bytes) / g.passUs / 1e3 / peak).toFixed(1), kernelUs: +kernelUs.toFixed(2), kernelGBps: +(bytes / kernelUs / 1e3).toFixed(0), kernelPctPeak: +((100 * bytes) / kernelUs / 1e3 / peak).toFixed(1), isolatedPassUs: +g.kernelUs.toFixed(2) }
      : {};
    const xq8 = kind === 'q4' && !!cfg.xInt8 && cfg.xsmem === false && ctx.caps.packed4x8;
    // With the int8-x quantization before it: the GEMV dispatch alone, x already quantized.
    const main = xq8 ? await gpuTime(ctx, small ? 2 : Math.min(reps, 4 * ops.length), (rec, i) => ops[i % ops.length].recordMain(rec)) : null;
    const mainUs = main ? { mainPassUs: +main.passUs.toFixed(2), mainPassPctPeak: +((100 * bytes) / main.passUs / 1e3 / peak).toFixed(1), mainKernelUs: +(main.passUs - emptyPassUs).toFixed(2) } : {};
    let check = {};
    if (xq8Sweep && !cfg.acc && !cfg.loadsOnly) {
      const got = await readF32(ctx, y);
      if (!yRef) yRef = got;
      else {
        const scale = yRef.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        check = { maxDiffVsDefault: +(got.reduce((m, v, i) => Math.max(m, Math.abs(v - yRef![i])), 0) / scale).toExponential(2) };
      }
    }
    const dispatches = (ops[0].ksplit > 1 && cfg.ksplitReduce !== 'atomic' ? 2 : 1) + (xq8 ? 1 : 0);
    log({ bench: 'gemv', kind, shape: `${n}x${k}`, config: name, default: isDefault, dispatches, us: +(s * 1e6).toFixed(2), GBps: +gbs.toFixed(0), pctPeak: +((100 * gbs) / peak).toFixed(1), copies, ...gpu, ...mainUs, ...check });
    if (gbs > best.gbs) best = { gbs, name };
  }
  log({ bench: 'gemv_best', kind, shape: `${n}x${k}`, config: best.name, GBps: +best.gbs.toFixed(0), pctPeak: +((100 * best.gbs) / peak).toFixed(1) });
  for (const w of ws) {
    ctx.buffers.destroy(w.buffer);
    if (w.scales) ctx.buffers.destroy(w.scales.buffer);
  }
}

async function benchSkinny(ctx: GpuContext, kind: QuantKind, m: number, n: number, k: number, peak: number): Promise<void> {
  const bytes = packedBytes(kind, n, k);
  const copies = copiesFor(bytes);
  const ws = makeQuantCopies(ctx, kind, n, k, copies);
  const x = { buffer: ctx.buffers.upload(randomF32(m * k)), shape: [m, k], dtype: 'f32' as const };
  const y = createF32(ctx, [m, n]);
  const ops = ws.map((w) => createGemmSkinny(ctx, { w, x, y, maxM: m }));
  const reps = Math.max(20, Math.min(1000, Math.ceil((small ? 2e7 : 2e9) / bytes)));
  const s = await timeIt(ctx, reps, (rec, i) => ops[i % ops.length].record(rec, { m }));
  log({ bench: 'gemm_skinny', kind, shape: `${m}x${n}x${k}`, us: +(s * 1e6).toFixed(2), GBps: +(bytes / s / 1e9).toFixed(0), pctPeak: +((100 * bytes) / s / 1e9 / peak).toFixed(1), TFLOPs: +((2 * m * n * k) / s / 1e12).toFixed(2) });
  for (const w of ws) ctx.buffers.destroy(w.buffer);
}

async function benchGemm(ctx: GpuContext, dtype: 'f32' | QuantKind, m: number, n: number, k: number): Promise<void> {
  const w: GpuTensor =
    dtype === 'f32' ? { buffer: ctx.buffers.upload(randomF32(n * k, 0.05)), shape: [n, k], dtype } : makeQuantCopies(ctx, dtype, n, k, 1)[0];
  const x = { buffer: ctx.buffers.upload(randomF32(m * k)), shape: [m, k], dtype: 'f32' as const };
  const y = createF32(ctx, [m, n]);
  const op = createGemm(ctx, { w, x, y, maxM: m });
  const flops = 2 * m * n * k;
  const reps = Math.max(5, Math.min(200, Math.ceil((small ? 1e9 : 2e12) / flops)));
  const s = await timeIt(ctx, reps, (rec) => op.record(rec, { m }));
  log({ bench: 'gemm', dtype, shape: `${m}x${n}x${k}`, ms: +(s * 1e3).toFixed(3), TFLOPs: +(flops / s / 1e12).toFixed(2) });
}

/** Run one benchmark case; a failure is logged and the rest go on. */
async function guarded(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    log({ bench: 'error', what, message: (e as Error).message });
  }
}

async function main(): Promise<void> {
  // Dawn quantizes timestamps unless told not to (benchmark only).
  const ctx = await createGpuContext(await nodeGpu(['disable-dawn-features=timestamp_quantization']), { timestampQuery: true });
  const c = ctx.caps;
  log({ bench: 'device', date: new Date().toISOString(), timestamps: c.timestampQuery, vendor: c.vendor, architecture: c.architecture, description: c.description, shaderF16: c.shaderF16, subgroups: c.subgroups, packed4x8: c.packed4x8, maxBufferSize: c.maxBufferSize, maxStorageBufferBindingSize: c.maxStorageBufferBindingSize });
  await emptyDispatch(ctx);
  if (!small) clockWarm = clockWarmer(ctx);
  const peak = await streamPeak(ctx);
  log({ bench: 'stream_peak', GBps: +peak.toFixed(0) });
  const gemvShapes: Array<[number, number]> = small
    ? [
        [1536, 576],
        [576, 1536],
      ]
    : [
        [4864, 896],
        [896, 4864],
        [151936, 896],
        [11008, 4096],
        [4096, 11008],
        [1536, 576],
        [576, 1536],
      ];
  const shapes = shapesArg ? shapesArg.split(',').map((t) => t.split('x').map(Number) as [number, number]) : gemvShapes;
  for (const kind of kindsArg) for (const [n, k] of shapes) await guarded(`gemv ${kind} ${n}x${k}`, () => benchGemv(ctx, kind, n, k, peak));
  if (gemvOnly) {
    if (jsonPath) writeFileSync(jsonPath, JSON.stringify(results, null, 1));
    ctx.destroy();
    return;
  }
  const skinny: Array<[number, number, number]> = small ? [[16, 1536, 576]] : [[8, 4864, 896], [64, 4864, 896], [16, 1536, 576], [64, 1536, 576], [64, 11008, 4096]];
  for (const [m, n, k] of skinny) await guarded(`skinny ${m}x${n}x${k}`, () => benchSkinny(ctx, 'q4', m, n, k, peak));
  if (!small) {
    for (const [m, n, k] of [[8, 4864, 896], [16, 4864, 896], [32, 4864, 896], [64, 4864, 896], [16, 1536, 576], [64, 1536, 576], [64, 11008, 4096]] as const) {
      await guarded(`gemm q4 ${m}x${n}x${k}`, () => benchGemm(ctx, 'q4', m, n, k));
    }
  }
  const gemms: Array<[number, number, number]> = small ? [[128, 576, 576]] : [[1024, 3072, 768], [7168, 3072, 768], [1024, 4864, 896], [4096, 4096, 4096]];
  for (const [m, n, k] of gemms) await guarded(`gemm f32 ${m}x${n}x${k}`, () => benchGemm(ctx, 'f32', m, n, k));
  if (!small) for (const [m, n, k] of [[1024, 4864, 896], [128, 1536, 576]] as const) for (const d of ['q4', 'q8'] as const) await guarded(`gemm ${d} ${m}x${n}x${k}`, () => benchGemm(ctx, d, m, n, k));
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify(results, null, 1));
  ctx.destroy();
}

runMain(main);
