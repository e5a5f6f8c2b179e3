// The GPU tiler (gpu-tiles.ts + tiles.wgsl) against the CPU path it replaces in the app
// (transformers.js' preprocess, then tiles.ts): after the same transformers.js resize, the
// tiles and the global image it writes equal preprocessImage's within 1e-5 (f32 tap arithmetic
// on both sides; the CPU path rescales/normalizes in JS numbers). Covers a photo at the
// processor's size (no resize), up- and down-scaled photos, the tile grid's far-edge alignment,
// a photo small enough for one tile, a config without splitting, and RGBA input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/context';
import { Recorder } from '../gpu/recorder';
import { testContext } from '../gpu/test-context';
import { createF32, readF32, type GpuTensor } from '../ops/types';
import { GpuTiler } from './gpu-tiles';
import { createImageProcessor, gpuTilerConfig, preprocessImage, resizeForProcessor } from './preprocess';
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
});
