// A small PNG decoder for the Node tools (the engine eval on the GPU host has no node_modules,
// so no sharp): 8-bit greyscale / RGB / RGBA / grey+alpha, non-interlaced, all five scanline
// filters, zlib through node:zlib. Enough for the PNGs PIL writes for the held-out set; anything
// else fails with UnsupportedImageError naming what is missing. png.test.ts compares it with
// sharp's decoding (through transformers.js) of the demo fixtures.
import { inflateSync } from 'node:zlib';
import { UnsupportedImageError } from '../../workers/protocol/errors';

export interface DecodedPng {
  width: number;
  height: number;
  /** Interleaved 8-bit samples, `channels` per pixel, row-major. */
  data: Uint8Array;
  channels: 1 | 2 | 3 | 4;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CHANNELS: Record<number, 1 | 2 | 3 | 4> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(bytes: Uint8Array, name = 'image'): DecodedPng {
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) throw new UnsupportedImageError(`${name} is not a PNG file.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let channels: 1 | 2 | 3 | 4 = 3;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const body = bytes.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, colour, , , interlace] = body.subarray(8, 13);
      if (depth !== 8 || !(colour in CHANNELS) || interlace !== 0) {
        throw new UnsupportedImageError(`${name}: only 8-bit, non-interlaced grey/RGB/RGBA PNGs are supported (bit depth ${depth}, colour type ${colour}, interlace ${interlace}).`);
      }
      channels = CHANNELS[colour];
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    at += 12 + len;
  }
  if (!width || !height || idat.length === 0) throw new UnsupportedImageError(`${name}: the PNG has no header or no image data.`);
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (e) {
    throw new UnsupportedImageError(`${name}: the PNG's image data is damaged (${(e as Error).message}).`);
  }
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) throw new UnsupportedImageError(`${name}: the PNG's image data is truncated.`);
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const up = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[row + x - channels] : 0;
      const b = y > 0 ? out[up + x] : 0;
      const c = x >= channels && y > 0 ? out[up + x - channels] : 0;
      const v = raw[src + x];
      let pred: number;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw new UnsupportedImageError(`${name}: unknown PNG filter ${filter} in row ${y}.`);
      }
      out[row + x] = (v + pred) & 255;
    }
  }
  return { width, height, data: out, channels };
}
