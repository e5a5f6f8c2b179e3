// The GPU tiler (gpu-tiles.ts + shaders/image_tiles.wgsl) against the CPU path it replaces in the app
// (transformers.js' preprocess, then tiles.ts): after the same transformers.js resize, the
// tiles and the global image it writes equal preprocessImage's within 1e-5 (f32 tap arithmetic
// on both sides; the CPU path rescales/normalizes in JS numbers). Covers a photo at the
// processor's size (no resize), up- and down-scaled photos, the tile grid's far-edge alignment,
// a photo small enough for one tile, a config without splitting, and RGBA input. The app's default
// mode (recordFromPhoto: the Python processor's PIL Lanczos resizes, shaders/image_resample.wgsl) against a CPU
// reference of the same steps (resample.ts); its distance from transformers.js' preprocessing
// (sharp's lanczos3 under Node, then bilinear) is reported and loosely bounded.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/context';
import { Recorder } from '../gpu/recorder';
import { testContext } from '../gpu/test-context';
import { createF32, readF32, type GpuTensor } from '../ops/types';
import { GpuTiler } from './gpu-tiles';
import { createImageProcessor, gpuTilerConfig, preprocessImage, processorResizeSize, resizeForProcessor } from './preprocess';
import { lanczosResizeRef } from './resample';
import { planTiles } from './tiles';
import { parseJsonFile } from './prompt';
import { syntheticPhoto } from './test-photo';

const config = (dir: string) => parseJsonFile(readFileSync(join(__dirname, '../..', dir, 'preprocessor_config.json')), 'preprocessor_config.json');
const TINY = 'tools/parity/fixtures/tiny-idefics3';
const DEMO = 'public/models/lumen-demo';

let ctx: GpuContext;
const outs: GpuTensor[] = [];
beforeAll(async () => {
  ctx = await testContext();
});
afterAll(() => {
  for (const o of outs) ctx.buffers.destroy(o.buffer);
});

async function compare(cfg: Record<string, unknown>, photo: RawImage): Promise<{ tiles: number; err: number }> {
  const proc = createImageProcessor(cfg);
  const want = await preprocessImage(proc, photo);
  const tc = gpuTilerConfig(proc);
  expect(tc).not.toBeNull();
  const out = createF32(ctx, [want.tiles, 3, tc!.tile, tc!.tile], 'test.tiles');
  outs.push(out);
  const tiler = new GpuTiler(ctx, tc!, out);
  try {
    const resized = await resizeForProcessor(proc, photo);
    const plan = tiler.plan(resized.height, resized.width);
    expect([plan.tiles, plan.rows, plan.cols]).toEqual([want.tiles, want.rows, want.cols]);
    const rec = new Recorder(ctx, 'test-tiles');
    tiler.record(rec, resized, plan);
    await rec.submitAndWait();
    const got = await readF32(ctx, out);
    let err = 0;
    for (let i = 0; i < want.pixels.length; i++) err = Math.max(err, Math.abs(got[i] - want.pixels[i]));
    return { tiles: plan.tiles, err };
  } finally {
    tiler.destroy();
  }
}

describe('GPU tiler', () => {
  const cases: [string, number, number, number, Record<string, unknown>?][] = [
    [TINY, 192, 128, 7], // the processor's own size: 2 x 3 tiles + global
    [TINY, 40, 160, 4], // upscaled, 3 x 1
    [TINY, 500, 300, 7], // downscaled to 192x115, then up to 192x128: 2 x 3
    [TINY, 30, 20, 1, { size: { longest_edge: 64 } }], // one tile, no global image
    [DEMO, 700, 413, 13], // the demo model's 256 px tiles
  ];
  for (const [dir, w, h, tiles, over] of cases) {
    it(`${dir.split('/').pop()}: ${w}x${h} equals transformers.js + tiles.ts`, async () => {
      const r = await compare({ ...config(dir), ...over }, syntheticPhoto(w, h));
      expect(r.tiles).toBe(tiles);
      expect(r.err).toBeLessThanOrEqual(1e-5);
    }, 60_000);
  }

  it('without splitting, and from the RGBA pixels a browser decode gives', async () => {
    const noSplit = { ...config(TINY), do_image_splitting: false };
    expect((await compare(noSplit, syntheticPhoto(150, 90))).err).toBeLessThanOrEqual(1e-5);
    const rgb = syntheticPhoto(120, 90);
    const rgba = new Uint8ClampedArray(120 * 90 * 4);
    for (let i = 0; i < 120 * 90; i++) rgba.set([...rgb.data.subarray(3 * i, 3 * i + 3), 255], 4 * i);
    expect((await compare(config(TINY), new RawImage(rgba, 120, 90, 4))).err).toBeLessThanOrEqual(1e-5);
    // A config that keeps the channels as decoded stays on the CPU path (transformers.js semantics).
    expect(gpuTilerConfig(createImageProcessor({ ...config(TINY), do_convert_rgb: false }))).toBeNull();
  }, 60_000);

  const resizeCases: [string, number, number, number][] = [
    [TINY, 40, 30, 3], // upscaled to 192x144
    [TINY, 500, 333, 4], // downscaled (antialiased taps) to 192x127, RGBA as a browser decodes
    [DEMO, 700, 413, 3],
    [TINY, 20, 190, 3], // narrow: the resized image holds fewer values than one tile (scratch sizing)
  ];
  for (const [dir, w, h, channels] of resizeCases) {
    it(`Python-processor mode: a ${w}x${h} photo (${channels} channels) equals the CPU reference (PIL arithmetic)`, async () => {
      const proc = createImageProcessor(config(dir));
      const tc = gpuTilerConfig(proc)!;
      const rgb = syntheticPhoto(w, h);
      const photo = channels === 3 ? rgb : new RawImage(Uint8ClampedArray.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : rgb.data[(i >> 2) * 3 + (i % 4)])), w, h, 4);
      const [W1, H1] = processorResizeSize(proc, photo);
      // CPU reference, the Python processor's steps: Lanczos to the longest edge, Lanczos to tile
      // multiples, crops, global = Lanczos of that to S x S; then rescale + normalize
      const S = tc.tile;
      const a = lanczosResizeRef(photo.data, w, h, channels, W1, H1);
      const plan = planTiles(H1, W1, S);
      const parts: Float32Array[] = [];
      if (plan.rows === 0) parts.push(lanczosResizeRef(a, W1, H1, 3, S, S, true));
      else {
        const b = lanczosResizeRef(a, W1, H1, 3, plan.width, plan.height, true);
        for (let r = 0; r < plan.rows; r++)
          for (let c = 0; c < plan.cols; c++) {
            const tile = new Float32Array(3 * S * S);
            for (let ch = 0; ch < 3; ch++) for (let y = 0; y < S; y++) tile.set(b.subarray((ch * plan.height + r * S + y) * plan.width + c * S, (ch * plan.height + r * S + y) * plan.width + c * S + S), (ch * S + y) * S);
            parts.push(tile);
          }
        parts.push(lanczosResizeRef(b, plan.width, plan.height, 3, S, S, true));
      }
      const want = { tiles: parts.length, pixels: new Float32Array(parts.length * 3 * S * S) };
      parts.forEach((t, i) => want.pixels.set(t.map((v, j) => (v * tc.rescale - tc.mean[Math.floor(j / (S * S))]) / tc.std[Math.floor(j / (S * S))]), i * 3 * S * S));
      const out = createF32(ctx, [want.tiles, 3, tc.tile, tc.tile], 'test.tiles');
      outs.push(out);
      const tiler = new GpuTiler(ctx, tc, out);
      try {
        const plan = tiler.plan(H1, W1);
        expect(plan.tiles).toBe(want.tiles);
        const rec = new Recorder(ctx, 'test-resize');
        tiler.recordFromPhoto(rec, photo, W1, H1, plan);
        await rec.submitAndWait();
        const got = await readF32(ctx, out);
        let err = 0;
        let off = 0;
        for (let i = 0; i < want.pixels.length; i++) {
          const d = Math.abs(got[i] - want.pixels[i]);
          err = Math.max(err, d);
          if (d > 1e-5) off++;
        }
        // 8-bit rounding may flip where f32 (GPU) and f64 (here) sums straddle .5, and a flip can
        // carry through the next resize: at most two levels (2/255 each after normalize), rarely
        expect(err).toBeLessThanOrEqual(4 / 255 + 1e-5);
        expect(off / want.pixels.length).toBeLessThan(0.01);
        // transformers.js' preprocessing (sharp lanczos3 here, a canvas in browsers, then bilinear) is close, not equal
        const js = await preprocessImage(proc, photo);
        let sum = 0;
        for (let i = 0; i < js.pixels.length; i++) sum += Math.abs(got[i] - js.pixels[i]);
        console.log(`${w}x${h}: GPU vs CPU reference max ${err.toExponential(2)} (${off} values off), vs transformers.js resize mean |d| ${(sum / js.pixels.length).toFixed(4)}`);
        expect(sum / js.pixels.length).toBeLessThan(0.1); // the synthetic photo is a sawtooth: a worst case for filter differences
      } finally {
        tiler.destroy();
      }
    }, 60_000);
  }
});
