// Our ONNX-free Idefics3 tiling against transformers.js' own Idefics3ImageProcessor._call (which
// runs its resize/slice through onnxruntime under Node): same tile grid, same pixels.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createImageProcessor, preprocessImage } from './preprocess';
import { parseJsonFile } from './prompt';
import { syntheticPhoto } from './test-photo';
import { resizeForVisionEncoder } from './tiles';

const fixture = (dir: string, f: string) => parseJsonFile(readFileSync(join(__dirname, '../..', dir, f)), f);

describe('Idefics3 tiling without ONNX Runtime', () => {
  it('rounds both sides up to tile multiples like transformers', () => {
    expect(resizeForVisionEncoder(300, 900, 256)).toEqual({ height: 512, width: 1024 });
    expect(resizeForVisionEncoder(1000, 400, 256)).toEqual({ height: 1024, width: 512 });
  });

  const cases: [string, number, number][] = [
    ['tools/parity/fixtures/tiny-idefics3', 192, 128],
    ['tools/parity/fixtures/tiny-idefics3', 900, 300],
    ['tools/parity/fixtures/tiny-idefics3', 50, 70],
    ['public/models/lumen-demo', 700, 413],
    ['public/models/lumen-demo', 333, 1200],
  ];
  for (const [dir, w, h] of cases) {
    it(`${dir.split('/').pop()}: ${w}x${h} photo matches Idefics3ImageProcessor._call`, async () => {
      const proc = createImageProcessor(fixture(dir, 'preprocessor_config.json'));
      const photo = syntheticPhoto(w, h);
      const ours = await preprocessImage(proc, photo);
      const theirs = (await proc._call(photo, { return_row_col_info: true })) as {
        pixel_values: { dims: number[]; data: Float32Array };
        rows: number[][];
        cols: number[][];
      };
      expect([ours.tiles, ours.rows, ours.cols]).toEqual([theirs.pixel_values.dims[1], theirs.rows[0][0], theirs.cols[0][0]]);
      expect(ours.pixels.length).toBe(theirs.pixel_values.data.length);
      let maxErr = 0;
      for (let i = 0; i < ours.pixels.length; i++) maxErr = Math.max(maxErr, Math.abs(ours.pixels[i] - theirs.pixel_values.data[i]));
      expect(maxErr).toBeLessThan(1e-5);
    });
  }
});
