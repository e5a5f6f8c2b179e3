// Parity of the fused decode GEMVs (shaders/gemv_fuse.wgsl through workers/ops/gemv.ts) against
// CPU references on Dawn: RMSNorm prologue (+ bias), SiLU·mul prologue with the residual-add
// epilogue, for f32 / q4 / q8 W, with x staged in workgroup memory (GPU default shapes) and read
// directly (CPU-adapter shape), at offsets; the QKV GEMV with RoPE + KV-cache write in its
// epilogue against the RoPE reference. Errors are relative to Σ|w·x| (+ |y0|).
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { dequantize, quantize } from '../storage/quant';
import { createGemv, type GemvConfig } from './gemv';
import { createKvCache } from './kv-cache-ops';
import { createRopeTable } from './rope';
import { ropeKvWriteRef, ropeTable } from './reference/rope';
import { siluMulFusedRef } from './reference/activation';
import { matmulAbsRef, matmulRef, maxScaledError, randomF32 } from './reference/matmul';
import { rmsnormRef } from './reference/norm';
import { createF32, OpShapeError, readF32, uploadF32, uploadPacked } from './types';

const TOL = 1e-4;
const STAGED: GemvConfig = { tn: 16, tk: 16, r: 2, chunk: 3, u: 2 };
const DIRECT: GemvConfig = { tn: 32, tk: 2, r: 1, chunk: 64, u: 1, xsmem: false };
/** q4 with int8 x quantized by the dispatch before the GEMV (which then applies the prologue fusion). */
const XQ8: GemvConfig = { tn: 16, tk: 4, r: 1, chunk: 64, u: 2, xsmem: false, xInt8: true };
/** Lossy int8 x: within 1% of Σ|w·x|, and above TOL (the int8 path ran) where the adapter has it. */
async function expectInt8Error(err: number): Promise<void> {
  const ctx = await testContext();
  expect(err).toBeLessThan(ctx.caps.packed4x8 ? 1e-2 : TOL);
  if (ctx.caps.packed4x8) expect(err).toBeGreaterThan(TOL);
}

type Fusion = 'norm' | 'silu-add';

async function runFused(dtype: 'f32' | 'q4' | 'q8', fusion: Fusion, n: number, k: number, config?: GemvConfig) {
  const ctx = await testContext();
  const seed = n * 13 + k + (fusion === 'norm' ? 0 : 5);
  const wf = randomF32(n * k, seed);
  const w = dtype === 'f32' ? uploadF32(ctx, wf, [n, k]) : uploadPacked(ctx, quantize(dtype, wf, n, k));
  const wRef = dtype === 'f32' ? wf : dequantize(quantize(dtype, wf, n, k));
  const xOff = 8; // one row of a [2, ...] activation: the second row
  const yOff = 3;
  const rowLen = fusion === 'norm' ? k : 2 * k;
  const xAll = randomF32(xOff + rowLen, seed + 1, 3);
  const xRow = xAll.subarray(xOff);
  const y0 = randomF32(yOff + n, seed + 2);
  const x = uploadF32(ctx, xAll, [xOff + rowLen]);
  const y = uploadF32(ctx, y0, [yOff + n]);
  let xEff: Float32Array;
  let bias: Float32Array | undefined;
  let op;
  if (fusion === 'norm') {
    const nwf = randomF32(k, seed + 3);
    bias = randomF32(n, seed + 4);
    xEff = rmsnormRef(xRow, nwf, 1, k, 1e-5);
    op = createGemv(ctx, { w, x, y, bias: uploadF32(ctx, bias, [n]), config, fuse: { norm: { weight: uploadF32(ctx, nwf, [k]), eps: 1e-5 } } });
  } else {
    xEff = siluMulFusedRef(xRow, 1, k);
    op = createGemv(ctx, { w, x, y, config, fuse: { siluMul: true, accumulate: true } });
  }
  const rec = new Recorder(ctx);
  op.record(rec, { xOffset: xOff, yOffset: yOff });
  await rec.submitAndWait();
  const all = await readF32(ctx, y);
  const want = matmulRef(xEff, wRef, 1, n, k, bias);
  const abs = matmulAbsRef(xEff, wRef, 1, n, k, bias);
  if (fusion === 'silu-add') {
    for (let i = 0; i < n; i++) {
      want[i] += y0[yOff + i];
      abs[i] += Math.abs(y0[yOff + i]);
    }
  }
  return { got: all.subarray(yOff), want, abs, head: all.subarray(0, yOff), y0head: y0.subarray(0, yOff) };
}

describe.each(['q4', 'q8', 'f32'] as const)('fused gemv %s', (dtype) => {
  const configs: Array<[string, GemvConfig | undefined]> =
    dtype === 'f32' ? [['f32', undefined]] : [['staged x', STAGED], ['direct x', DIRECT], ['staged x, in-place q4 decode', { ...STAGED, q4InPlace: true }], ['staged x, prefetched', { ...STAGED, r: 1, u: 8, prefetch: true }],
      ['split-K, second pass', { ...STAGED, r: 1, u: 1, ksplit: 2 }], ['split-K, atomic adds (residual add only)', { ...STAGED, r: 1, u: 2, ksplit: 3, ksplitReduce: 'atomic' }]];
  it.each(configs.filter(([, c]) => c?.ksplitReduce !== 'atomic'))('rmsnorm prologue + bias (%s)', async (_, config) => {
    const r = await runFused(dtype, 'norm', 70, 160, config);
    expect(maxScaledError(r.got, r.want, r.abs)).toBeLessThan(TOL);
    expect([...r.head]).toEqual([...r.y0head]); // rows before yOffset untouched
  });
  it.each(configs)('silu·mul prologue + residual-add epilogue (%s)', async (_, config) => {
    const r = await runFused(dtype, 'silu-add', 45, 96, config);
    expect(maxScaledError(r.got, r.want, r.abs)).toBeLessThan(TOL);
    expect([...r.head]).toEqual([...r.y0head]);
  });
});

describe('fused gemv q4 with int8 x (quantized with the prologue before the GEMV)', () => {
  it('rmsnorm prologue + bias', async () => {
    const r = await runFused('q4', 'norm', 70, 160, XQ8);
    await expectInt8Error(maxScaledError(r.got, r.want, r.abs));
    expect([...r.head]).toEqual([...r.y0head]);
  });
  it('silu·mul prologue + residual-add epilogue, with and without split-K', async () => {
    for (const config of [XQ8, { ...XQ8, ksplit: 2, ksplitReduce: 'atomic' as const }]) {
      const r = await runFused('q4', 'silu-add', 45, 96, config);
      await expectInt8Error(maxScaledError(r.got, r.want, r.abs));
      expect([...r.head]).toEqual([...r.y0head]);
    }
  });
});

describe.each(['q4', 'q8'] as const)('fused QKV gemv + RoPE + KV write %s', (dtype) => {
  it.each([
    ['staged x', STAGED],
    ['direct x', DIRECT],
    ['int8 x (q4; q8 ignores the flag)', XQ8],
  ] as Array<[string, GemvConfig]>)('norm prologue, bias, rotated Q and cache slot (%s)', async (_, config) => {
    const ctx = await testContext();
    const [nH, nKv, d, k, maxSeq, slot] = [4, 2, 32, 96, 12, 7];
    const n = (nH + 2 * nKv) * d;
    const seed = 77;
    const wf = randomF32(n * k, seed);
    const packed = quantize(dtype, wf, n, k);
    const wRef = dequantize(packed);
    const xf = randomF32(k, seed + 1, 3);
    const nwf = randomF32(k, seed + 2);
    const bias = randomF32(n, seed + 3);
    const [cache] = createKvCache(ctx, 1, nKv, maxSeq, d);
    const table = createRopeTable(ctx, d, 10000, maxSeq);
    const qOut = createF32(ctx, [nH, d]);
    const op = createGemv(ctx, {
      w: uploadPacked(ctx, packed), x: uploadF32(ctx, xf, [k]), y: createF32(ctx, [n]), bias: uploadF32(ctx, bias, [n]), config,
      fuse: { norm: { weight: uploadF32(ctx, nwf, [k]), eps: 1e-5 }, ropeKv: { table, qOut, cache, nHeads: nH } },
    });
    const rec = new Recorder(ctx);
    op.record(rec, { slot });
    await rec.submitAndWait();
    const xn = rmsnormRef(xf, nwf, 1, k, 1e-5);
    const qkv = matmulRef(xn, wRef, 1, n, k, bias);
    const kWant = new Float32Array(nKv * maxSeq * d);
    const vWant = new Float32Array(nKv * maxSeq * d);
    const qWant = ropeKvWriteRef(qkv, new Uint32Array([slot]), nH, nKv, d, ropeTable(d, 10000, maxSeq), kWant, vWant, maxSeq, slot);
    // Rotation mixes two outputs of norm Σ|w·x|: bound the error by the larger row's scale.
    const abs = matmulAbsRef(xn, wRef, 1, n, k, bias);
    const scale = Math.max(...abs);
    const maxErr = (got: Float32Array, want: Float32Array) => got.reduce((m, g, i) => Math.max(m, Math.abs(g - want[i])), 0) / scale;
    const tol = dtype === 'q4' && config.xInt8 && ctx.caps.packed4x8 ? 1e-2 : TOL;
    expect(maxErr(await readF32(ctx, qOut), qWant)).toBeLessThan(tol);
    const kGot = await readF32(ctx, cache.k);
    const vGot = await readF32(ctx, cache.v);
    expect(maxErr(kGot, kWant)).toBeLessThan(tol); // other slots stay zero in both
    expect(maxErr(vGot, vWant)).toBeLessThan(tol);
    expect(kGot.some((v, i) => v !== 0 && Math.floor(i / d) % maxSeq !== slot)).toBe(false);
    expect(() => op.record(new Recorder(ctx), { slot: maxSeq })).toThrow(/slot/);
  });
});

describe('fused gemv: bad input', () => {
  it('names what disagrees', async () => {
    const ctx = await testContext();
    const w = uploadF32(ctx, randomF32(8 * 16, 1), [8, 16]);
    const x = createF32(ctx, [16]);
    const y = createF32(ctx, [8]);
    const nw = createF32(ctx, [16]);
    expect(() => createGemv(ctx, { w, x, y, fuse: { siluMul: true } })).toThrow(/gate and up: 2K/);
    expect(() => createGemv(ctx, { w, x, y, fuse: { norm: { weight: createF32(ctx, [8]), eps: 1e-5 } } })).toThrow(OpShapeError);
    expect(() => createGemv(ctx, { w, x: createF32(ctx, [32]), y, fuse: { norm: { weight: nw, eps: 1e-5 }, siluMul: true } })).toThrow(/exclude/);
    expect(() => createGemv(ctx, { w: uploadF32(ctx, randomF32(8 * 6, 1), [8, 6]), x, y, fuse: { accumulate: true } })).toThrow(/K % 4/);
  });
});
