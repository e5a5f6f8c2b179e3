// Parity of the fused decode GEMVs (shaders/gemv_fuse.wgsl through workers/ops/gemv.ts) against
// CPU references on Dawn: RMSNorm prologue (+ bias), SiLU·mul prologue with the residual-add
// epilogue, for f32 / q4 / q8 W, with x staged in workgroup memory (GPU default shapes) and read
// directly (CPU-adapter shape), at offsets. Errors are relative to Σ|w·x| (+ |y0|).
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { dequantize, quantize } from '../storage/quant';
import { createGemv, type GemvConfig } from './gemv';
import { siluMulFusedRef } from './reference/activation';
import { matmulAbsRef, matmulRef, maxScaledError, randomF32 } from './reference/matmul';
import { rmsnormRef } from './reference/norm';
import { createF32, OpShapeError, readF32, uploadF32, uploadPacked } from './types';

const TOL = 1e-4;
const STAGED: GemvConfig = { tn: 16, tk: 16, r: 2, chunk: 3, u: 2 };
const DIRECT: GemvConfig = { tn: 32, tk: 2, r: 1, chunk: 64, u: 1, xsmem: false };

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
    dtype === 'f32' ? [['f32', undefined]] : [['staged x', STAGED], ['direct x', DIRECT], ['staged x, in-place q4 decode', { ...STAGED, q4InPlace: true }], ['staged x, prefetched', { ...STAGED, r: 1, u: 8, prefetch: true }]];
  it.each(configs)('rmsnorm prologue + bias (%s)', async (_, config) => {
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
