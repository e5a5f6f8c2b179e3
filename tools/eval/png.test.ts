// tools/eval/png.ts decodes the PNGs PIL writes (held-out set, demo fixtures) exactly like
// sharp does through transformers.js, and rejects what it cannot read with a named error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { RawImage } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { UnsupportedImageError } from '../../workers/protocol/errors';
import { decodePng } from './png';

const mini = join(__dirname, 'fixtures/heldout-mini');
const files = [
  join(__dirname, '../demo-model/fixtures/sample.png'),
  // the held-out fixture's PNGs (make_engine_fixture.py), as listed in its heldout.jsonl
  ...readFileSync(join(mini, 'heldout.jsonl'), 'utf8').trim().split('\n').map((l) => join(mini, (JSON.parse(l) as { image: string }).image)),
];

function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, Buffer.from(body), Buffer.alloc(4)]); // CRC is not checked
}

describe('decodePng', () => {
  it.each(files)('matches sharp on %s', async (path) => {
    const bytes = new Uint8Array(readFileSync(path));
    const ours = decodePng(bytes);
    const ref = await RawImage.fromBlob(new Blob([bytes], { type: 'image/png' }));
    expect([ours.width, ours.height, ours.channels]).toEqual([ref.width, ref.height, ref.channels]);
    expect(Buffer.from(ours.data).equals(Buffer.from(ref.data))).toBe(true);
  });

  it('decodes every scanline filter of a hand-made RGBA image', () => {
    const width = 3;
    const height = 5;
    const pixels = Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 37 + 11) & 255);
    const stride = width * 4;
    const raw: number[] = [];
    for (let y = 0; y < height; y++) {
      const filter = y; // 0 none, 1 sub, 2 up, 3 average, 4 paeth
      raw.push(filter);
      for (let x = 0; x < stride; x++) {
        const v = pixels[y * stride + x];
        const a = x >= 4 ? pixels[y * stride + x - 4] : 0;
        const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
        const c = x >= 4 && y > 0 ? pixels[(y - 1) * stride + x - 4] : 0;
        const p = a + b - c;
        const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
        const pred = [0, a, b, (a + b) >> 1, paeth][filter];
        raw.push((v - pred) & 255);
      }
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([8, 6, 0, 0, 0], 8);
    const png = Buffer.concat([
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.from(raw))),
      chunk('IEND', new Uint8Array(0)),
    ]);
    const out = decodePng(new Uint8Array(png));
    expect([out.width, out.height, out.channels]).toEqual([width, height, 4]);
    expect(Array.from(out.data)).toEqual(Array.from(pixels));
  });

  it('names what it cannot read', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.jpg')).toThrow(UnsupportedImageError);
    const bytes = new Uint8Array(readFileSync(files[0]));
    expect(() => decodePng(bytes.subarray(0, 200), 'cut.png')).toThrow(UnsupportedImageError);
  });
});
