// Parity of the GEMV op (f32, q4, q8; bias; offsets; several workgroup shapes) against the CPU
// reference on Dawn. Quantized kernels are compared with the reference on the dequantized
// weight; error is measured relative to Σ|w·x| (f32 accumulation-order noise), bound 1e-5.
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { dequantize, quantize } from '../storage/quant';
import { createGemv, defaultGemvConfig, gemvRouting, type GemvConfig } from './gemv';
import { matmulAbsRef, matmulRef, maxScaledError, randomF32 } from './reference/matmul';
import { createF32, readF32, uploadF32, uploadPacked } from './types';

const TOL = 1e-5;

async function runGemv(dtype: 'f32' | 'q4' | 'q8', n: number, k: number, opts: { bias?: boolean; xOff?: number; yOff?: number; config?: GemvConfig; seed?: number } = {}) {
  const ctx = await testContext();
  const seed = opts.seed ?? n * 7 + k;
  const wf = randomF32(n * k, seed);
  const xOff = opts.xOff ?? 0;
  const yOff = opts.yOff ?? 0;
  const xAll = randomF32(xOff + k, seed + 1);
  const bias = opts.bias ? randomF32(n, seed + 2) : undefined;
  let wRef = wf;
  let w;
  if (dtype === 'f32') {
    w = uploadF32(ctx, wf, [n, k]);
  } else {
    const packed = quantize(dtype, wf, n, k);
    wRef = dequantize(packed);
    w = uploadPacked(ctx, packed);
  }
  const x = uploadF32(ctx, xAll, [xOff + k]);
  const y = createF32(ctx, [yOff + n]);
  const b = bias ? uploadF32(ctx, bias, [n]) : undefined;
  const op = createGemv(ctx, { w, x, y, bias: b, config: opts.config });
  const rec = new Recorder(ctx);
  op.record(rec, { xOffset: xOff, yOffset: yOff });
  await rec.submitAndWait();
  const got = (await readF32(ctx, y)).subarray(yOff);
  const xs = xAll.subarray(xOff);
  return { got, want: matmulRef(xs, wRef, 1, n, k, bias), abs: matmulAbsRef(xs, wRef, 1, n, k, bias), yHead: (await readF32(ctx, y)).subarray(0, yOff) };
}

describe('gemv f32', () => {
  it.each([
    [1, 4],
    [37, 45],
    [300, 256],
    [129, 1000],
  ])('N=%i K=%i', async (n, k) => {
    const { got, want, abs } = await runGemv('f32', n, k);
    expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
  });

  it('adds bias and honours x/y offsets', async () => {
    const { got, want, abs, yHead } = await runGemv('f32', 70, 64, { bias: true, xOff: 128, yOff: 5 });
    expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
    expect([...yHead]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe.each(['q4', 'q8'] as const)('gemv %s', (dtype) => {
  it.each([
    [1, 32],
    [77, 96],
    [1100, 64],
    [513, 320],
  ])('N=%i K=%i', async (n, k) => {
    const { got, want, abs } = await runGemv(dtype, n, k);
    expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
  });

  it('GPU default shape (x staged in workgroup memory) on a mid-size matrix', async () => {
    const { got, want, abs } = await runGemv(dtype, 300, 256, { config: defaultGemvConfig(300, 256, 256, false) });
    expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
  });

  it('GPU default shape for long K (8 groups in flight, 128 staged) with a short last chunk', async () => {
    const config = defaultGemvConfig(4096, 4096 + 640, 1024, false);
    expect(config).toMatchObject({ u: 8, chunk: 128, tk: 16, q4InPlace: true });
    // 16 rows instead of 32 per workgroup: SwiftShader allows 256 threads.
    const { got, want, abs } = await runGemv(dtype, 40, 4096 + 640, { config: { ...config, tn: 16 } });
    expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
  });

  it('crosses x chunks, several rows per thread, bias and offsets', async () => {
    const config = { tn: 32, tk: 8, r: 4, chunk: 3, u: 2 };
    const config4 = { tn: 8, tk: 32, r: 1, chunk: 7, u: 4 };
    const direct = await runGemv(dtype, 300, 352, { bias: true, xOff: 64, yOff: 3, config: { tn: 32, tk: 8, r: 2, chunk: 3, u: 4, xsmem: false } });
    expect(maxScaledError(direct.got, direct.want, direct.abs)).toBeLessThan(TOL);
    const r4 = await runGemv(dtype, 45, 1024, { bias: true, xOff: 32, yOff: 3, config: config4 });
    expect(maxScaledError(r4.got, r4.want, r4.abs)).toBeLessThan(TOL);
    const { got, want, abs } = await runGemv(dtype, 300, 352, { bias: true, xOff: 64, yOff: 3, config });
    expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
    // 8 groups in flight per thread, padding slots past a short chunk (11 groups, chunk 6, 2 lanes).
    const r8 = await runGemv(dtype, 70, 352, { bias: true, xOff: 32, config: { tn: 32, tk: 2, r: 1, chunk: 6, u: 8 } });
    expect(maxScaledError(r8.got, r8.want, r8.abs)).toBeLessThan(TOL);
  });

  it('matches with the first step prefetched before x is staged (several chunks, padding slots)', async () => {
    for (const config of [
      { tn: 16, tk: 4, r: 1, chunk: 13, u: 8, prefetch: true }, // 13 groups per chunk: slots past it
      { tn: 32, tk: 8, r: 1, chunk: 6, u: 2, prefetch: true }, // lanes past a 6-group chunk
      { tn: 16, tk: 16, r: 1, chunk: 64, u: 1, prefetch: true, q4InPlace: true },
    ]) {
      const { got, want, abs } = await runGemv(dtype, 70, 416, { bias: true, xOff: 32, yOff: 2, config });
      expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
    }
  });

  it('matches with the in-place q4 decode (staged and direct x; q8 ignores the flag)', async () => {
    for (const config of [
      { tn: 16, tk: 16, r: 2, chunk: 5, u: 4, q4InPlace: true },
      { tn: 32, tk: 8, r: 1, chunk: 64, u: 8, q4InPlace: true, xsmem: false },
    ]) {
      const { got, want, abs } = await runGemv(dtype, 70, 416, { bias: true, xOff: 32, yOff: 2, config });
      expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
    }
  });

  it('matches with split-K and a second pass (ragged slices, an empty slice, bias, offsets, several chunks)', async () => {
    for (const config of [
      // 13 groups over 4 slices of 4 (last one short), 8 in flight per thread.
      { tn: 16, tk: 4, r: 1, chunk: 64, u: 8, ksplit: 4, q4InPlace: true },
      // 11 groups over 6 slices of 2: the last slice is empty; chunks of 1 cross each slice.
      { tn: 32, tk: 2, r: 2, chunk: 1, u: 2, ksplit: 6 },
      // x read directly, 3 slices.
      { tn: 32, tk: 8, r: 1, chunk: 64, u: 4, ksplit: 3, xsmem: false },
      // more slices than groups: clamped to one group each.
      { tn: 8, tk: 8, r: 1, chunk: 64, u: 1, ksplit: 64 },
      // 16 groups in flight per thread: 2 lanes x 16 cover a 7-group slice (padding slots).
      { tn: 32, tk: 2, r: 1, chunk: 32, u: 16, ksplit: 2, q4InPlace: true },
    ]) {
      const k = config.ksplit === 4 ? 416 : 352;
      const { got, want, abs, yHead } = await runGemv(dtype, 70, k, { bias: true, xOff: 32, yOff: 3, config });
      expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
      expect([...yHead]).toEqual([0, 0, 0]);
    }
  });

  it('matches with the routed split-K default (few rows, long K, y += W x; 8 rows at 256 threads)', async () => {
    gemvRouting.splitK = true;
    const config = defaultGemvConfig(896, 4864, 1024, false, true);
    gemvRouting.splitK = false;
    expect(config.ksplitReduce).toBe('atomic');
    const { got, want, abs } = await runGemv(dtype, 40, 4864, { bias: true, config: { ...config, tn: 8, ksplitReduce: undefined } });
    expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
  });

  it('matches with x shared by row pairs (staged/direct x, in-place q4, chunks, padding slots, split-K)', async () => {
    for (const config of [
      { tn: 16, tk: 8, r: 2, chunk: 5, u: 4, pairRows: true },
      { tn: 16, tk: 8, r: 2, chunk: 64, u: 8, pairRows: true, q4InPlace: true },
      { tn: 32, tk: 4, r: 2, chunk: 64, u: 2, pairRows: true, xsmem: false },
      { tn: 16, tk: 4, r: 2, chunk: 16, u: 16, pairRows: true, q4InPlace: true, ksplit: 2 },
    ]) {
      const { got, want, abs } = await runGemv(dtype, 75, 416, { bias: true, xOff: 32, yOff: 2, config });
      expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
    }
  });

  it('int8 x (q4, lossy: within 1% of Σ|w·x|; q8 ignores the flag and stays exact)', async () => {
    const ctx = await testContext();
    for (const config of [
      { tn: 16, tk: 8, r: 1, chunk: 5, u: 4, xInt8: true },
      { tn: 16, tk: 16, r: 1, chunk: 128, u: 8, xInt8: true, q4InPlace: true, ksplit: 2 },
      // quantized once by a dispatch before the GEMV, read from the buffer: padding slots, split-K
      { tn: 16, tk: 4, r: 2, chunk: 64, u: 8, xInt8: true, xsmem: false },
      { tn: 32, tk: 2, r: 1, chunk: 64, u: 4, xInt8: true, xsmem: false, ksplit: 3 },
    ]) {
      const { got, want, abs } = await runGemv(dtype, 75, 416, { bias: true, xOff: 32, yOff: 2, config });
      const err = maxScaledError(got, want, abs);
      if (dtype === 'q8' || !ctx.caps.packed4x8) expect(err).toBeLessThan(TOL);
      else {
        expect(err).toBeLessThan(1e-2);
        expect(err).toBeGreaterThan(TOL); // the int8 path ran (x rounding shows)
      }
    }
  });

  it('rejects atomic split-K without the residual-add epilogue', async () => {
    const ctx = await testContext();
    const w = uploadPacked(ctx, quantize(dtype, randomF32(40 * 64, 2), 40, 64));
    expect(() => createGemv(ctx, { w, x: createF32(ctx, [64]), y: createF32(ctx, [40]), config: { tn: 16, tk: 4, r: 1, chunk: 64, ksplit: 2, ksplitReduce: 'atomic' } })).toThrow(/atomic/);
  });

  it('matches with the exponent-trick decode and with the unpack builtins', async () => {
    for (const unpackBuiltins of [false, true]) {
      const { got, want, abs } = await runGemv(dtype, 64, 128, { config: { tn: 16, tk: 16, r: 2, chunk: 5, u: 4, unpackBuiltins } });
      expect(maxScaledError(got, want, abs)).toBeLessThan(TOL);
    }
  });
});

describe('defaultGemvConfig', () => {
  it('picks the shapes the H200 sweep measured best, within the adapter\'s workgroup limit', () => {
    const name = (c: GemvConfig) => `${c.tn}x${c.tk}r${c.r}u${c.u ?? 1}`;
    expect(name(defaultGemvConfig(151936, 896, 1024))).toBe('32x16r4u1');
    expect(name(defaultGemvConfig(151936, 896, 256))).toBe('32x8r4u1');
    expect(name(defaultGemvConfig(896, 4864, 1024))).toBe('8x128r1u1');
    expect(name(defaultGemvConfig(896, 4864, 256))).toBe('8x32r1u1');
    expect(name(defaultGemvConfig(11008, 4096, 1024))).toBe('32x16r1u8');
    expect(name(defaultGemvConfig(11008, 2048, 1024))).toBe('32x32r1u2');
    expect(name(defaultGemvConfig(11008, 4096, 256))).toBe('16x16r1u2');
    expect(name(defaultGemvConfig(1536, 576, 1024))).toBe('16x16r1u1');
    expect(defaultGemvConfig(1536, 576, 256, true)).toMatchObject({ tn: 32, tk: 2, xsmem: false });
    for (const [n, k] of [[1, 32], [5, 64], [4864, 896], [576, 1536]]) {
      const c = defaultGemvConfig(n, k, 256);
      expect(c.tn * c.tk).toBeLessThanOrEqual(256);
      expect(c.tn * c.tk).toBeGreaterThanOrEqual(64);
    }
  });
});

describe('split-K routing', () => {
  it('is off by default; on, it splits only few-row long-K y += W x GEMVs (atomic adds)', () => {
    expect(defaultGemvConfig(896, 4864, 1024, false, true).ksplit ?? 1).toBe(1);
    gemvRouting.splitK = true;
    try {
      expect(defaultGemvConfig(896, 4864, 1024, false, true)).toMatchObject({ ksplit: 4, ksplitReduce: 'atomic' });
      for (const [n, k] of [[896, 4864], [11008, 4096], [4096, 11008], [9728, 896], [151936, 896], [576, 1536], [3072, 576]]) {
        expect(defaultGemvConfig(n, k, 1024).ksplit ?? 1).toBe(1); // y = W x: never
      }
      expect(defaultGemvConfig(576, 1536, 1024, false, true).ksplit ?? 1).toBe(1);
      expect(defaultGemvConfig(896, 4864, 256, false, true).ksplit ?? 1).toBe(1); // needs 1024 threads
      expect(defaultGemvConfig(896, 4864, 1024, true, true).ksplit ?? 1).toBe(1); // CPU adapters: never
    } finally {
      gemvRouting.splitK = false;
    }
  });
});

describe('recorder', () => {
  it('records many dispatches with different params into one command buffer', async () => {
    const ctx = await testContext();
    const n = 40;
    const k = 64;
    const t = 6;
    const wf = randomF32(n * k, 3);
    const xf = randomF32(t * k, 4);
    const w = uploadPacked(ctx, quantize('q8', wf, n, k));
    const x = uploadF32(ctx, xf, [t, k]);
    const y = createF32(ctx, [t, n]);
    const op = createGemv(ctx, { w, x, y });
    const rec = new Recorder(ctx);
    for (let i = 0; i < t; i++) op.record(rec, { xOffset: i * k, yOffset: i * n });
    expect(rec.dispatches).toBe(t);
    await rec.submitAndWait();
    const wRef = dequantize(quantize('q8', wf, n, k));
    const got = await readF32(ctx, y);
    expect(maxScaledError(got, matmulRef(xf, wRef, t, n, k), matmulAbsRef(xf, wRef, t, n, k))).toBeLessThan(TOL);
  });

  it('rejects shapes that disagree', async () => {
    const ctx = await testContext();
    const w = uploadF32(ctx, randomF32(8 * 16, 1), [8, 16]);
    const x = createF32(ctx, [15]);
    const y = createF32(ctx, [8]);
    expect(() => createGemv(ctx, { w, x, y })).toThrow(/cannot feed K = 16/);
  });
});
