// Parity cases of the matmul family that run anywhere a GpuContext exists: the Chromium kernel
// harness (e2e/kernels) runs them in a real browser; the Node tests cover the same kernels in
// more depth. Each case builds random inputs, runs one op, and reports its error against the
// CPU reference (relative to Σ|x·w| for products; relative per value for gathers).
import type { GpuContext } from '../gpu/context';
import { Recorder } from '../gpu/recorder';
import { dequantize, quantize } from '../storage/quant';
import { createEmbedding } from './embedding';
import { createGemm, GEMM_TILE_SMALL } from './gemm';
import { createGemv, defaultGemvConfig } from './gemv';
import { createMatmul } from './matmul';
import { embeddingRef } from './reference/embedding';
import { matmulAbsRef, matmulRef, maxScaledError, randomF32 } from './reference/matmul';
import { createF32, readF32, uploadF32, uploadPacked, type GpuTensor } from './types';

export interface KernelCaseResult {
  name: string;
  error: number;
  tolerance: number;
  ok: boolean;
}

export type WeightType = 'f32' | 'q4' | 'q8';

function uploadWeight(ctx: GpuContext, dtype: WeightType, wf: Float32Array, n: number, k: number): { w: GpuTensor; ref: Float32Array } {
  if (dtype === 'f32') return { w: uploadF32(ctx, wf, [n, k]), ref: wf };
  const p = quantize(dtype, wf, n, k);
  return { w: uploadPacked(ctx, p), ref: dequantize(p) };
}

/** Which kernel to force instead of createMatmul's choice (the GPU shapes on a CPU adapter). */
export type ForcedKernel = 'tiled' | 'gemv-gpu' | 'tiled-splitk' | 'gemv-splitk' | 'gemv-xq8';

/** Y[M, N] = X[M, K] W^T + bias through createMatmul (GEMV / skinny / tiled by M), or a forced kernel. */
export async function matmulCase(ctx: GpuContext, dtype: WeightType, m: number, n: number, k: number, bias = false, force?: ForcedKernel): Promise<KernelCaseResult> {
  const seed = m * 1009 + n * 31 + k;
  const wf = randomF32(n * k, seed);
  const xf = randomF32(m * k, seed + 1);
  const bf = bias ? randomF32(n, seed + 2) : undefined;
  const { w, ref } = uploadWeight(ctx, dtype, wf, n, k);
  const x = uploadF32(ctx, xf, [m, k]);
  const y = createF32(ctx, [m, n]);
  const b = bf ? uploadF32(ctx, bf, [n]) : undefined;
  const rec = new Recorder(ctx, 'matmul-case');
  if (force === 'tiled') {
    createGemm(ctx, { w, x, y, bias: b, maxM: m, simple: false }).record(rec, { m });
  } else if (force === 'tiled-splitk') {
    // the 32 x 64 tile, K in 3 slices + the reduce pass (what short prompts get on a GPU)
    createGemm(ctx, { w, x, y, bias: b, maxM: m, simple: false, plan: { tile: GEMM_TILE_SMALL, splits: 3 } }).record(rec, { m });
  } else if (force === 'gemv-splitk') {
    // the GPU GEMV shape with K in 3 slices + the gemm_reduce pass (bias there): GemvConfig.ksplit
    const config = { ...defaultGemvConfig(n, k, ctx.caps.maxComputeInvocationsPerWorkgroup, false), ksplit: 3 };
    createGemv(ctx, { w, x, y, bias: b, config }).record(rec);
  } else if (force === 'gemv-xq8') {
    // q4 with x quantized to int8 by a dispatch before the GEMV, read from the buffer (lossy)
    const config = { ...defaultGemvConfig(n, k, ctx.caps.maxComputeInvocationsPerWorkgroup, false), xsmem: false, xInt8: true };
    createGemv(ctx, { w, x, y, bias: b, config }).record(rec);
  } else if (force === 'gemv-gpu') {
    const config = defaultGemvConfig(n, k, ctx.caps.maxComputeInvocationsPerWorkgroup, false);
    createGemv(ctx, { w, x, y, bias: b, config }).record(rec);
  } else {
    createMatmul(ctx, { w, x, y, bias: b, maxM: m }).record(rec, { m });
  }
  await rec.submitAndWait();
  const got = await readF32(ctx, y);
  const error = maxScaledError(got, matmulRef(xf, ref, m, n, k, bf), matmulAbsRef(xf, ref, m, n, k, bf));
  // int8 activations round each element to 1/254 of its group's max |x| (where the adapter has them)
  const tolerance = force === 'gemv-xq8' && dtype === 'q4' && ctx.caps.packed4x8 ? 1e-2 : 1e-5;
  for (const t of [w, x, y, ...(b ? [b] : [])]) {
    ctx.buffers.destroy(t.buffer);
    if (t.scales) ctx.buffers.destroy(t.scales.buffer);
  }
  return { name: `matmul${force ? ` (${force})` : ''} ${dtype} M=${m} N=${n} K=${k}${bias ? ' +bias' : ''}`, error, tolerance, ok: error <= tolerance };
}

/** Gather `ids` rows of a random [vocab, hidden] table. */
export async function embeddingCase(ctx: GpuContext, dtype: WeightType, vocab: number, hidden: number, ids: number[]): Promise<KernelCaseResult> {
  const tf = randomF32(vocab * hidden, vocab * 3 + hidden);
  const { w: table, ref } = uploadWeight(ctx, dtype, tf, vocab, hidden);
  const idT: GpuTensor = { buffer: ctx.buffers.upload(new Uint32Array(ids)), shape: [ids.length], dtype: 'u32' };
  const out = createF32(ctx, [ids.length, hidden]);
  const op = createEmbedding(ctx, { table, ids: idT, out, maxTokens: ids.length });
  const rec = new Recorder(ctx, 'embedding-case');
  op.record(rec, { count: ids.length });
  await rec.submitAndWait();
  const got = await readF32(ctx, out);
  const want = embeddingRef(ref, vocab, hidden, ids);
  let error = 0;
  for (let i = 0; i < want.length; i++) error = Math.max(error, Math.abs(got[i] - want[i]) / (Math.abs(want[i]) + 1e-30));
  const tolerance = dtype === 'f32' ? 0 : 1e-6;
  for (const t of [table, idT, out]) {
    ctx.buffers.destroy(t.buffer);
    if (t.scales) ctx.buffers.destroy(t.scales.buffer);
  }
  return { name: `embedding ${dtype} V=${vocab} H=${hidden} T=${ids.length}`, error, tolerance, ok: error <= tolerance };
}

/** The browser harness's set: every kernel and dtype once, on awkward small shapes. */
export async function runMatmulCases(ctx: GpuContext): Promise<KernelCaseResult[]> {
  const out: KernelCaseResult[] = [];
  out.push(await matmulCase(ctx, 'f32', 1, 37, 45, true)); // gemv f32, scalar path
  out.push(await matmulCase(ctx, 'q4', 1, 300, 96, true)); // gemv q4
  out.push(await matmulCase(ctx, 'q8', 1, 129, 64)); // gemv q8
  out.push(await matmulCase(ctx, 'q4', 9, 70, 64)); // skinny q4
  out.push(await matmulCase(ctx, 'q8', 16, 45, 32, true)); // skinny q8
  out.push(await matmulCase(ctx, 'q4', 33, 45, 64)); // tiled q4, small M
  out.push(await matmulCase(ctx, 'f32', 65, 130, 44)); // tiled f32
  out.push(await matmulCase(ctx, 'q4', 70, 129, 64, true)); // tiled q4
  out.push(await matmulCase(ctx, 'q8', 66, 61, 32)); // tiled q8
  // On a CPU adapter the router picks barrier-light kernels: run the GPU shapes explicitly too.
  out.push(await matmulCase(ctx, 'q4', 1, 200, 128, true, 'gemv-gpu'));
  out.push(await matmulCase(ctx, 'q8', 1, 130, 224, true, 'gemv-splitk'));
  out.push(await matmulCase(ctx, 'q4', 1, 200, 160, true, 'gemv-xq8'));
  out.push(await matmulCase(ctx, 'f32', 65, 130, 44, false, 'tiled'));
  out.push(await matmulCase(ctx, 'q8', 70, 129, 64, true, 'tiled'));
  out.push(await matmulCase(ctx, 'q4', 37, 130, 160, true, 'tiled-splitk'));
  out.push(await matmulCase(ctx, 'f32', 31, 129, 96, false, 'tiled-splitk'));
  for (const d of ['f32', 'q4', 'q8'] as const) out.push(await embeddingCase(ctx, d, 40, 64, [0, 39, 5, 5, 99]));
  return out;
}
