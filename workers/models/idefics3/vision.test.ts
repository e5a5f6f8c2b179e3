// Idefics3 image path on Dawn (SwiftShader) against the CPU reference (idefics3/reference.ts):
// random weights, 5 tiles encoded in batches of 2 (so batching and the one-submit recording
// are exercised), pixel shuffle with s = 2, projection to the LM width. Also pins the pixel
// shuffle element order on a hand-checkable case, and the patchify (c, ky, kx) row order.
// Tolerance: max |gpu - cpu| ≤ 2e-4 · max|cpu| (f32, LayerNorm-normalized activations).
import { describe, expect, it } from 'vitest';
import { testContext } from '../../gpu/test-context';
import { Recorder } from '../../gpu/recorder';
import { createGemm } from '../../ops/gemm';
import { geluRef } from '../../ops/reference/activation';
import { matmulRef, randomF32 } from '../../ops/reference/matmul';
import { createF32, readF32, uploadF32, type GpuTensor } from '../../ops/types';
import { patchify } from '../siglip/patchify';
import type { SiglipShape, SiglipWeights } from '../siglip/weights';
import { idefics3VisionRef, pixelShuffleRef, type RefWeights } from './reference';
import { Idefics3Vision } from './vision';

const shape: SiglipShape = { width: 32, inter: 64, layers: 2, nHeads: 2, headDim: 16, imageSize: 32, patch: 8, channels: 3, side: 4, tokens: 16, eps: 1e-6 };
const H = 48;
const SCALE = 2;

function randomWeights(): RefWeights {
  const s = shape;
  let seed = 100;
  const r = (n: number, scale: number, base = 0) => randomF32(n, seed++, scale).map((v) => v + base);
  const K = s.channels * s.patch * s.patch;
  return {
    patchEmbed: r(s.width * K, 1 / Math.sqrt(K)),
    patchBias: r(s.width, 0.1),
    pos: r(s.tokens * s.width, 0.5),
    layers: [0, 1].map(() => ({
      ln1: r(s.width, 0.2, 1), ln1Bias: r(s.width, 0.1),
      qkv: r(3 * s.width * s.width, 1 / Math.sqrt(s.width) * 1.7), qkvBias: r(3 * s.width, 0.1),
      o: r(s.width * s.width, 1 / Math.sqrt(s.width)), oBias: r(s.width, 0.1),
      ln2: r(s.width, 0.2, 1), ln2Bias: r(s.width, 0.1),
      fc1: r(s.inter * s.width, 1 / Math.sqrt(s.width)), fc1Bias: r(s.inter, 0.1),
      fc2: r(s.width * s.inter, 1 / Math.sqrt(s.inter)), fc2Bias: r(s.width, 0.1),
    })),
    postNorm: r(s.width, 0.2, 1),
    postNormBias: r(s.width, 0.1),
    proj: r(H * s.width * SCALE * SCALE, 1 / Math.sqrt(s.width * SCALE * SCALE)),
  };
}

describe('Idefics3 vision path', () => {
  it('patchify rows are (c, ky, kx) per patch, patches in raster order', () => {
    // 1 tile, 2 channels, 4x4 pixels, patch 2: value = c*100 + y*10 + x
    const px = new Float32Array(2 * 16).map((_, i) => Math.floor(i / 16) * 100 + Math.floor((i % 16) / 4) * 10 + (i % 4));
    const rows = patchify(px, 0, 1, 2, 4, 2);
    expect(Array.from(rows.subarray(0, 8))).toEqual([0, 1, 10, 11, 100, 101, 110, 111]);
    expect(Array.from(rows.subarray(8, 16))).toEqual([2, 3, 12, 13, 102, 103, 112, 113]); // patch (0, 1)
    expect(Array.from(rows.subarray(16, 24))).toEqual([20, 21, 30, 31, 120, 121, 130, 131]); // patch (1, 0)
  });

  it('pixel shuffle merges s x s blocks, channels ordered (dy, dx, c)', () => {
    // 4x4 grid, D = 1, s = 2: token value = its index
    const out = pixelShuffleRef(Float32Array.from({ length: 16 }, (_, i) => i), 1, 4, 1, 2);
    expect(Array.from(out)).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  });

  it('GPU encoder + connector match the CPU reference over batched tiles', async () => {
    const ctx = await testContext();
    const w = randomWeights();
    const up = (a: Float32Array, sh: number[]): GpuTensor => uploadF32(ctx, a, sh);
    const s = shape;
    const gw: SiglipWeights = {
      shape: s,
      patchEmbed: up(w.patchEmbed, [s.width, 3 * 64]),
      patchBias: up(w.patchBias, [s.width]),
      pos: up(w.pos, [s.tokens, s.width]),
      layers: w.layers.map((L) => ({
        ln1: up(L.ln1, [s.width]), ln1Bias: up(L.ln1Bias, [s.width]),
        qkv: up(L.qkv, [3 * s.width, s.width]), qkvBias: up(L.qkvBias, [3 * s.width]),
        o: up(L.o, [s.width, s.width]), oBias: up(L.oBias, [s.width]),
        ln2: up(L.ln2, [s.width]), ln2Bias: up(L.ln2Bias, [s.width]),
        fc1: up(L.fc1, [s.inter, s.width]), fc1Bias: up(L.fc1Bias, [s.inter]),
        fc2: up(L.fc2, [s.width, s.inter]), fc2Bias: up(L.fc2Bias, [s.width]),
      })),
      postNorm: up(w.postNorm, [s.width]),
      postNormBias: up(w.postNormBias, [s.width]),
      buffers: [],
    };
    const vision = new Idefics3Vision(ctx, gw, up(w.proj, [H, s.width * 4]), SCALE, { maxTiles: 6, maxBatch: 2 });
    const tiles = 5;
    const pixels = randomF32(tiles * 3 * 32 * 32, 7);
    const enc = await vision.encode(pixels, tiles);
    expect(enc.tokensPerTile).toBe(4);
    const got = await readF32(ctx, enc.features);
    const want = idefics3VisionRef(s, w, SCALE, H, pixels, tiles);
    expect(got.length).toBe(want.length);
    let err = 0;
    let mag = 0;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(got[i] - want[i]));
      mag = Math.max(mag, Math.abs(want[i]));
    }
    expect(err).toBeLessThanOrEqual(2e-4 * mag);
    // HiRED scores: per tile, mean attention received over queries and heads sums to 1 over keys.
    const scores = await readF32(ctx, enc.scores);
    for (let b = 0; b < tiles; b++) {
      const sum = scores.subarray(b * 16, (b + 1) * 16).reduce((a, v) => a + v, 0);
      expect(sum).toBeCloseTo(1, 4);
    }
    enc.destroy();
  }, 60_000);

  it('GEMM with the fused GELU epilogue (SigLIP fc1) matches gelu(x W^T + b), tiled and barrier-free kernels', async () => {
    const ctx = await testContext();
    const [M, N, K] = [70, 136, 48]; // edges in M and N for the 64 x 128 tile
    const x = randomF32(M * K, 11, 2);
    const w = randomF32(N * K, 12, 0.3);
    const b = randomF32(N, 13, 0.5);
    const want = geluRef(matmulRef(x, w, M, N, K, b));
    for (const simple of [false, true]) {
      const y = createF32(ctx, [M, N], 'test.y');
      const g = createGemm(ctx, { w: uploadF32(ctx, w, [N, K]), x: uploadF32(ctx, x, [M, K]), y, bias: uploadF32(ctx, b, [N]), maxM: M, simple, gelu: true });
      const rec = new Recorder(ctx, 'gemm-gelu');
      g.record(rec, { m: M });
      await rec.submitAndWait();
      const got = await readF32(ctx, y);
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
      expect(err, `simple=${simple}`).toBeLessThanOrEqual(1e-4);
    }
  }, 60_000);
});
