// Parity of RMSNorm / LayerNorm (plain and fused residual add) and the elementwise ops (SiLU*mul
// fused and split, GELU tanh, add, scale) against the CPU references on Dawn. Tolerances: norms
// 1e-5 relative to max |ref|, elementwise 1e-5 relative. Also: bad shapes give OpShapeError.
import { describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { createRmsNorm } from './rmsnorm';
import { createLayerNorm } from './layernorm';
import { createSiluMul } from './silu-mul';
import { createGelu } from './gelu';
import { createElementwise } from './add';
import { addNormRef, layernormRef, rmsnormRef } from './reference/norm';
import { addRef, geluRef, scaleRef, siluMulFusedRef, siluMulRef } from './reference/activation';
import { randomF32 } from './reference/matmul';
import { createF32, OpShapeError, readF32, uploadF32, type GpuTensor } from './types';
import { createAttention } from './attention';
import { createKvCache } from './kv-cache-ops';
import type { GpuContext } from '../gpu/context';

function relErr(got: Float32Array, want: Float32Array): number {
  let m = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) {
    m = Math.max(m, Math.abs(got[i] - want[i]));
    s = Math.max(s, Math.abs(want[i]));
  }
  return Number.isNaN(m) ? Infinity : m / (s + 1e-30);
}

async function run(ctx: GpuContext, fn: (rec: Recorder) => void, read: GpuTensor): Promise<Float32Array> {
  const rec = new Recorder(ctx);
  fn(rec);
  await rec.submitAndWait();
  return readF32(ctx, read);
}

describe('norms', () => {
  it.each([
    [1, 4],
    [3, 576],
    [5, 131],
    [2, 960],
  ])('rmsnorm rows=%i h=%i (+ fused residual)', async (rows, h) => {
    const ctx = await testContext();
    const x = randomF32(rows * h, rows + h, 3);
    const r = randomF32(rows * h, rows + h + 1);
    const w = randomF32(h, h);
    const eps = 1e-5;
    const out = createF32(ctx, [rows, h]);
    const xt = uploadF32(ctx, x, [rows, h]);
    const wt = uploadF32(ctx, w, [h]);
    const got = await run(ctx, (rec) => createRmsNorm(ctx, { x: xt, weight: wt, out, eps }).record(rec), out);
    expect(relErr(got, rmsnormRef(x, w, rows, h, eps))).toBeLessThan(1e-5);
    const rt = uploadF32(ctx, r, [rows, h]);
    const fused = await run(ctx, (rec) => createRmsNorm(ctx, { x: xt, weight: wt, out, eps, residual: rt }).record(rec), out);
    const want = addNormRef('rms', x, r, w, null, rows, h, eps);
    expect(relErr(fused, want.out)).toBeLessThan(1e-5);
    expect(relErr(await readF32(ctx, xt), want.sum)).toBeLessThan(1e-6);
  });

  it.each([
    [3, 768],
    [7, 45],
  ])('layernorm rows=%i h=%i (+ fused residual), only the first rows when asked', async (rows, h) => {
    const ctx = await testContext();
    const x = randomF32(rows * h, rows * h, 2);
    for (let i = 0; i < x.length; i++) x[i] += 1.5; // non-zero mean
    const r = randomF32(rows * h, 5);
    const w = randomF32(h, 6);
    const b = randomF32(h, 7);
    const eps = 1e-6;
    const xt = uploadF32(ctx, x, [rows, h]);
    const wt = uploadF32(ctx, w, [h]);
    const bt = uploadF32(ctx, b, [h]);
    const out = createF32(ctx, [rows, h]);
    const got = await run(ctx, (rec) => createLayerNorm(ctx, { x: xt, weight: wt, bias: bt, out, eps }).record(rec), out);
    expect(relErr(got, layernormRef(x, w, b, rows, h, eps))).toBeLessThan(1e-5);
    const out2 = createF32(ctx, [rows, h]);
    const rt = uploadF32(ctx, r, [rows, h]);
    const part = await run(ctx, (rec) => createLayerNorm(ctx, { x: xt, weight: wt, bias: bt, out: out2, eps, residual: rt }).record(rec, { rows: rows - 1 }), out2);
    const want = addNormRef('layer', x, r, w, b, rows, h, eps);
    const n = (rows - 1) * h;
    expect(relErr(part.subarray(0, n), want.out.subarray(0, n))).toBeLessThan(1e-5);
    expect([...part.subarray(n)].every((v) => v === 0)).toBe(true);
  });
});

describe('elementwise', () => {
  it('silu(gate) * up, fused [rows, 2I] and split inputs', async () => {
    const ctx = await testContext();
    const rows = 3;
    const inter = 37;
    const gu = randomF32(rows * 2 * inter, 11, 4);
    const out = createF32(ctx, [rows, inter]);
    const got = await run(ctx, (rec) => createSiluMul(ctx, { gateUp: uploadF32(ctx, gu, [rows, 2 * inter]), inter, out }).record(rec), out);
    expect(relErr(got, siluMulFusedRef(gu, rows, inter))).toBeLessThan(1e-5);
    const g = randomF32(rows * inter, 12, 4);
    const u = randomF32(rows * inter, 13);
    const got2 = await run(
      ctx,
      (rec) => createSiluMul(ctx, { gate: uploadF32(ctx, g, [rows, inter]), up: uploadF32(ctx, u, [rows, inter]), out }).record(rec),
      out,
    );
    expect(relErr(got2, siluMulRef(g, u))).toBeLessThan(1e-5);
  });

  it('gelu tanh (out of place and in place), add, scale', async () => {
    const ctx = await testContext();
    const n = 1001;
    const a = randomF32(n, 21, 6);
    const b = randomF32(n, 22);
    const at = uploadF32(ctx, a, [n]);
    const bt = uploadF32(ctx, b, [n]);
    const out = createF32(ctx, [n]);
    expect(relErr(await run(ctx, (rec) => createGelu(ctx, { x: at, out }).record(rec), out), geluRef(a))).toBeLessThan(1e-5);
    expect(relErr(await run(ctx, (rec) => createElementwise(ctx, { op: 'add', a: at, b: bt, out }).record(rec), out), addRef(a, b))).toBeLessThan(1e-6);
    expect(relErr(await run(ctx, (rec) => createElementwise(ctx, { op: 'scale', a: at, out, s: 0.125 }).record(rec), out), scaleRef(a, 0.125))).toBeLessThan(1e-6);
    const c = uploadF32(ctx, a, [n]);
    const got = await run(
      ctx,
      (rec) => {
        createElementwise(ctx, { op: 'add_inplace', out: c, b: bt }).record(rec);
        createElementwise(ctx, { op: 'scale_inplace', out: c, s: -2 }).record(rec);
        createGelu(ctx, { x: c }).record(rec);
      },
      c,
    );
    expect(relErr(got, geluRef(scaleRef(addRef(a, b), -2)))).toBeLessThan(1e-5);
  });
});

describe('bad shapes are named errors at creation or record time', () => {
  it('throws OpShapeError with an actionable message', async () => {
    const ctx = await testContext();
    const x = createF32(ctx, [2, 8]);
    expect(() => createRmsNorm(ctx, { x, weight: createF32(ctx, [7]), out: createF32(ctx, [2, 8]), eps: 1e-5 })).toThrow(OpShapeError);
    expect(() => createRmsNorm(ctx, { x, weight: createF32(ctx, [8]), out: x, eps: 1e-5 })).toThrow(/alias/);
    const [cache] = createKvCache(ctx, 1, 2, 16, 32);
    const q = createF32(ctx, [4, 3 * 32]);
    const base = { nKv: 2, headDim: 32, q: { t: q, strideT: 96 }, k: { t: cache.k, strideH: 16 * 32, strideT: 32 }, v: { t: cache.v, strideH: 16 * 32, strideT: 32 }, out: createF32(ctx, [4, 96]), maxQ: 4, maxKeys: 16 };
    expect(() => createAttention(ctx, { ...base, mode: 'causal', nHeads: 3 })).toThrow(/multiple of 2 kv heads/);
    expect(() => createAttention(ctx, { ...base, mode: 'tree', nHeads: 4, out: createF32(ctx, [4, 128]), q: { t: createF32(ctx, [4, 128]), strideT: 128 } })).toThrow(/mask/);
    const ok = createAttention(ctx, { ...base, mode: 'causal', nHeads: 4, out: createF32(ctx, [4, 128]), q: { t: createF32(ctx, [4, 128]), strideT: 128 } });
    const rec = new Recorder(ctx);
    expect(() => ok.record(rec, { nQ: 4, start: 13 })).toThrow(/17 keys exceed/);
    expect(() => ok.record(rec, { nQ: 5, start: 0 })).toThrow(/5 queries/);
    rec.discard();
  });
});
