// Parity of the tiled GEMM, the skinny GEMM and the matmul front door against the CPU
// reference on Dawn, on awkward shapes (edges of the 64x128 and 32x64 tiles, K not a multiple of
// 4 for f32, M across the skinny buckets, split-K with a short last slice), with bias, GELU and
// row offsets. Quantized W is compared with the reference on dequantize(packed). Error relative
// to Σ|x·w| per output, bound 1e-5. Also the planner's choices (gemmPlan) at model shapes.
import { describe, expect, it, vi } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { dequantize, quantize } from '../storage/quant';
import { createGemm, GEMM_SPLIT_SCRATCH_BYTES, GEMM_TILE_LARGE, GEMM_TILE_SMALL, gemmPlan, gemmRouting, type GemmPlan } from './gemm';
import { createGemmSkinny } from './gemm-skinny';
import { createMatmul, matmulKernelFor } from './matmul';
import { geluRef } from './reference/activation';
import { matmulAbsRef, matmulRef, maxScaledError, randomF32 } from './reference/matmul';
import { createF32, readF32, uploadF32, uploadPacked, type GpuTensor } from './types';

const TOL = 1e-5;
type WType = 'f32' | 'q4' | 'q8';

async function setup(dtype: WType, m: number, n: number, k: number, opts: { bias?: boolean; xOff?: number; yOff?: number; gelu?: boolean } = {}) {
  const ctx = await testContext();
  const seed = m * 131 + n * 7 + k;
  const wf = randomF32(n * k, seed);
  const xOff = opts.xOff ?? 0;
  const yOff = opts.yOff ?? 0;
  const xAll = randomF32(xOff + m * k, seed + 1);
  const bias = opts.bias ? randomF32(n, seed + 2) : undefined;
  let wRef = wf;
  let w: GpuTensor;
  if (dtype === 'f32') {
    w = uploadF32(ctx, wf, [n, k]);
  } else {
    const packed = quantize(dtype, wf, n, k);
    wRef = dequantize(packed);
    w = uploadPacked(ctx, packed);
  }
  const x = uploadF32(ctx, xAll, [xOff + m * k]);
  const y = createF32(ctx, [yOff + m * n]);
  const b = bias ? uploadF32(ctx, bias, [n]) : undefined;
  const xs = xAll.subarray(xOff);
  // Poison y so a kernel that writes nothing cannot pass on an earlier kernel's result.
  const reset = () => ctx.buffers.write(y.buffer, new Float32Array(yOff + m * n).fill(NaN));
  const check = async () => {
    const got = (await readF32(ctx, y)).subarray(yOff);
    const want = matmulRef(xs, wRef, m, n, k, bias);
    // GELU's slope is at most ~1.13, so the pre-activation error bound carries over
    return maxScaledError(got, opts.gelu ? geluRef(want) : want, matmulAbsRef(xs, wRef, m, n, k, bias));
  };
  return { ctx, w, x, y, b, xOff, yOff, check, reset };
}

describe('gemm (tiled)', () => {
  it.each([
    ['f32', 1, 1, 4],
    ['f32', 65, 129, 45],
    ['f32', 130, 300, 64],
    ['q4', 64, 128, 64],
    ['q4', 70, 257, 96],
    ['q8', 3, 130, 160],
    ['q8', 129, 61, 32],
  ] as const)('%s M=%i N=%i K=%i (tiled and barrier-free kernels)', async (dtype, m, n, k) => {
    const s = await setup(dtype, m, n, k);
    for (const simple of [false, true]) {
      s.reset();
      const op = createGemm(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: m, simple });
      const rec = new Recorder(s.ctx);
      op.record(rec, { m });
      await rec.submitAndWait();
      expect(await s.check()).toBeLessThan(TOL);
    }
  });

  it.each(['f32', 'q4', 'q8'] as const)('%s with bias and row offsets (scalar f32 path when misaligned)', async (dtype) => {
    const s = await setup(dtype, 67, 140, 64, { bias: true, xOff: dtype === 'f32' ? 3 : 4, yOff: 9 });
    for (const simple of [false, true]) {
      s.reset();
      const op = createGemm(s.ctx, { w: s.w, x: s.x, y: s.y, bias: s.b, maxM: 67, simple });
      const rec = new Recorder(s.ctx);
      op.record(rec, { m: 67, xOffset: s.xOff, yOffset: s.yOff });
      await rec.submitAndWait();
      expect(await s.check()).toBeLessThan(TOL);
    }
  });
});

describe('gemm tiles and split-K', () => {
  const small = (splits: number): GemmPlan => ({ tile: GEMM_TILE_SMALL, splits });
  it.each([
    // dtype, M, N, K, plan: ragged M / N against both tiles, a short (K % chunk) last slice,
    // more slices requested than K has groups for, f32 K not a multiple of 4 (unsplit)
    ['q4', 33, 70, 96, small(1)],
    ['q4', 37, 130, 160, small(3)],
    ['q8', 70, 65, 224, small(4)],
    ['q4', 5, 200, 64, small(8)],
    ['f32', 31, 129, 96, small(2)],
    ['f32', 45, 63, 45, small(1)],
    ['q8', 66, 129, 96, { tile: GEMM_TILE_LARGE, splits: 2 }],
    ['q4', 17, 100, 128, { tile: { tx: 8, ty: 8 }, splits: 2 }],
    ['q8', 7, 300, 256, { tile: { tx: 16, ty: 4 }, splits: 4 }],
    ['q4', 9, 70, 1024, small(16)],
  ] as const)('%s M=%i N=%i K=%i plan %o, without and with prefetch', async (dtype, m, n, k, plan) => {
    const s = await setup(dtype, m, n, k);
    for (const prefetch of [false, true]) {
      s.reset();
      const op = createGemm(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: m, plan: { ...plan, prefetch }, simple: false });
      const rec = new Recorder(s.ctx);
      op.record(rec, { m });
      await rec.submitAndWait();
      expect(await s.check()).toBeLessThan(TOL);
    }
  });

  it.each(['q4', 'q8', 'f32'] as const)('%s split-K with bias, GELU and row offsets (the reduce pass carries the epilogue)', async (dtype) => {
    const s = await setup(dtype, 21, 90, 128, { bias: true, gelu: true, xOff: 8, yOff: 5 });
    s.reset();
    const op = createGemm(s.ctx, { w: s.w, x: s.x, y: s.y, bias: s.b, gelu: true, maxM: 21, plan: { ...small(3), prefetch: true }, simple: false });
    const rec = new Recorder(s.ctx);
    op.record(rec, { m: 21, xOffset: s.xOff, yOffset: s.yOff });
    await rec.submitAndWait();
    expect(await s.check()).toBeLessThan(TOL);
  });

  it('two split GEMMs in one pass share the scratch in order', async () => {
    const a = await setup('q4', 9, 64, 128, { bias: true });
    const b = await setup('q8', 12, 96, 64);
    a.reset();
    b.reset();
    const opA = createGemm(a.ctx, { w: a.w, x: a.x, y: a.y, bias: a.b, maxM: 9, plan: small(4), simple: false });
    const opB = createGemm(b.ctx, { w: b.w, x: b.x, y: b.y, maxM: 12, plan: small(2), simple: false });
    const rec = new Recorder(a.ctx);
    opA.record(rec, { m: 9 });
    opB.record(rec, { m: 12 });
    await rec.submitAndWait();
    expect(await a.check()).toBeLessThan(TOL);
    expect(await b.check()).toBeLessThan(TOL);
  });

  it('plans: 32 x 128 below 512 rows, 64 x 128 above, slices until ~300 workgroups', () => {
    // SmolLM2-135M layer products (N x K): qkv 960x576, o 576x576, gate_up 3072x576, down 576x1536
    expect(gemmPlan(128, 576, 576)).toMatchObject({ tile: GEMM_TILE_SMALL, splits: 6 }); // 4 x 5 tiles; 8 asked, 18 groups → 6 slices of 3
    expect(gemmPlan(128, 3072, 576)).toMatchObject({ tile: GEMM_TILE_SMALL, splits: 4 }); // 96 tiles
    expect(gemmPlan(1024, 3072, 576)).toMatchObject({ tile: GEMM_TILE_LARGE, splits: 1 }); // 384 tiles
    expect(gemmPlan(512, 896, 4864)).toMatchObject({ tile: GEMM_TILE_LARGE, splits: 8 }); // Qwen2 down
    expect(gemmPlan(16, 896, 4864)).toMatchObject({ tile: GEMM_TILE_SMALL, splits: 16 }); // 7 tiles, long K
    // slices are whole 32-groups of at least 64 elements, and partials fit the scratch
    for (const [m, n, k] of [[32, 576, 576], [128, 576, 1536], [256, 3072, 576], [512, 896, 4864], [64, 960, 64], [300, 4864, 896], [1024, 9728, 896]]) {
      const p = gemmPlan(m, n, k);
      expect(p.splits).toBeGreaterThanOrEqual(1);
      if (p.splits > 1) {
        expect(Math.ceil(k / p.splits)).toBeGreaterThanOrEqual(64);
        expect(p.splits * m * n * 4).toBeLessThanOrEqual(GEMM_SPLIT_SCRATCH_BYTES);
      }
    }
    expect(gemmPlan(64, 960, 64).splits).toBe(1); // K = 64: one slice of ≥ 64
    expect(gemmPlan(64, 576, 100).splits).toBe(1); // f32 K % 32 != 0
    gemmRouting.legacy = true;
    try {
      expect(gemmPlan(128, 576, 576)).toMatchObject({ tile: GEMM_TILE_LARGE, splits: 1 });
    } finally {
      gemmRouting.legacy = false;
    }
  });

  it('refuses a forced split that K or the scratch cannot take', async () => {
    const s = await setup('f32', 4, 8, 36);
    expect(() => createGemm(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: 4, plan: small(2) })).toThrow(/K % 32/);
    const q = await setup('q4', 8200, 64, 256); // 8 slices of 32 x 8200 x 64 f32 > 16 MiB
    const op = createGemm(q.ctx, { w: q.w, x: q.x, y: q.y, maxM: 8200, plan: small(8) });
    expect(() => op.record(new Recorder(q.ctx), { m: 8200 })).toThrow(/scratch/);
  });
});

describe('gemm skinny', () => {
  it.each([
    ['q4', 2, 70, 64],
    ['q4', 9, 300, 96],
    ['q8', 17, 45, 64],
    ['q4', 33, 64, 32],
    ['q8', 64, 129, 64],
  ] as const)('%s M=%i N=%i K=%i', async (dtype, m, n, k) => {
    const s = await setup(dtype, m, n, k);
    const op = createGemmSkinny(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: m });
    const rec = new Recorder(s.ctx);
    op.record(rec, { m });
    await rec.submitAndWait();
    expect(await s.check()).toBeLessThan(TOL);
  });

  it.each([
    [16, 16],
    [32, 8],
  ])('GPU workgroup shape %ix%i (the CPU-adapter default is 32x2)', async (tn, tk) => {
    const s = await setup('q4', 11, 100, 96, { bias: true });
    const op = createGemmSkinny(s.ctx, { w: s.w, x: s.x, y: s.y, bias: s.b, maxM: 11, config: { tn, tk } });
    const rec = new Recorder(s.ctx);
    op.record(rec, { m: 11 });
    await rec.submitAndWait();
    expect(await s.check()).toBeLessThan(TOL);
  });

  it('bias, offsets, and wide N (32-row workgroups)', async () => {
    const s = await setup('q4', 5, 4100, 32, { bias: true, xOff: 8, yOff: 1 });
    const op = createGemmSkinny(s.ctx, { w: s.w, x: s.x, y: s.y, bias: s.b, maxM: 5 });
    const rec = new Recorder(s.ctx);
    op.record(rec, { m: 5, xOffset: s.xOff, yOffset: s.yOff });
    await rec.submitAndWait();
    expect(await s.check()).toBeLessThan(TOL);
  });

  it('refuses f32 weights and M beyond maxM', async () => {
    const s = await setup('f32', 2, 8, 32);
    expect(() => createGemmSkinny(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: 2 })).toThrow(/dtype f32/);
    const q = await setup('q8', 2, 8, 32);
    const op = createGemmSkinny(q.ctx, { w: q.w, x: q.x, y: q.y, maxM: 2 });
    expect(() => op.record(new Recorder(q.ctx), { m: 3 })).toThrow(/outside 1..2/);
  });
});

describe('recorder takeover', () => {
  it('a recorder abandoned mid-recording is refused, the next one works', async () => {
    const s = await setup('q8', 2, 8, 32);
    const op = createGemmSkinny(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: 2 });
    const old = new Recorder(s.ctx);
    op.record(old, { m: 2 });
    const rec = new Recorder(s.ctx);
    expect(() => op.record(old, { m: 2 })).toThrow(/newer Recorder/);
    op.record(rec, { m: 2 });
    await rec.submitAndWait();
    expect(await s.check()).toBeLessThan(TOL);
  });
});

describe('matmul warm-up', () => {
  it('compiles every kernel the tiled route will use at load, none at record time', async () => {
    // 256 x 1024 on a CPU adapter: the barrier-free kernel up to 16 rows, the 64 x 128 tile above
    const s = await setup('q8', 300, 256, 1024);
    const op = createMatmul(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: 300 });
    op.warm();
    const get = vi.spyOn(s.ctx.pipelines, 'get');
    try {
      const rec = new Recorder(s.ctx);
      for (const m of [1, 5, 17, 40, 300]) op.record(rec, { m });
      rec.discard();
      expect(get).not.toHaveBeenCalled();
    } finally {
      get.mockRestore();
    }
  });
});

describe('matmul front door', () => {
  it('routes by M and matches the reference for each route', async () => {
    expect([1, 2, 8, 9, 65].map((m) => matmulKernelFor('q4', m))).toEqual(['gemv', 'skinny', 'skinny', 'tiled', 'tiled']);
    // CPU adapters keep the skinny kernel up to 16 rows
    expect([16, 17].map((m) => matmulKernelFor('q8', m, true))).toEqual(['skinny', 'tiled']);
    expect(matmulKernelFor('f32', 8)).toBe('tiled');
    // CPU adapters: f32 decode uses the barrier-free tiled path; quantized W keeps the GEMV.
    expect([matmulKernelFor('f32', 1, true), matmulKernelFor('q4', 1, true), matmulKernelFor('f32', 1)]).toEqual(['tiled', 'gemv', 'gemv']);
    for (const m of [1, 12, 70]) {
      const s = await setup('q8', m, 96, 64);
      const op = createMatmul(s.ctx, { w: s.w, x: s.x, y: s.y, maxM: m });
      const rec = new Recorder(s.ctx);
      op.record(rec, { m });
      await rec.submitAndWait();
      expect(await s.check()).toBeLessThan(TOL);
    }
  });
});
