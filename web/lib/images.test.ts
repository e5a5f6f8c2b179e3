// Byte-level photo validation, runnable in Node: format sniffing, header sizes, EXIF orientation,
// JPEG completeness (truncation), refusals, and the downscale target.
import { describe, expect, it } from 'vitest';
import { UnsupportedImageError } from '../../workers/protocol';
import { fitWithin, isJpegComplete, isPngComplete, readImageSize, readJpegOrientation, sniffImageKind, validateImageBytes } from './images';

const seg = (marker: number, payload: number[]) => [0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload];
const str = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** A structurally valid baseline JPEG: SOI, EXIF orientation, SOF0 (w x h), DHT, SOS, scan with stuffing and RST, EOI. */
function jpeg(w: number, h: number, orientation = 1): Uint8Array {
  const exif = [...str('Exif\0\0'), ...str('MM'), 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0];
  const sof = [8, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0];
  const scan = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0x78];
  return new Uint8Array([0xff, 0xd8, ...seg(0xe1, exif), ...seg(0xc0, sof), ...seg(0xc4, [0, 1, 2]), ...seg(0xda, [1, 1, 0, 0, 63, 0]), ...scan, 0xff, 0xd9]);
}

/** PNG chunk layout (CRCs are not checked by the parser): signature, IHDR, IDAT (5 bytes), IEND. */
function png(w: number, h: number): Uint8Array {
  const b = new Uint8Array(33 + 17 + 12);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...str('IHDR')]);
  new DataView(b.buffer).setUint32(16, w);
  new DataView(b.buffer).setUint32(20, h);
  b.set([0, 0, 0, 5, ...str('IDAT'), 1, 2, 3, 4, 5], 33);
  b.set([0, 0, 0, 0, ...str('IEND')], 50);
  return b;
}

const heic = new Uint8Array([0, 0, 0, 24, ...str('ftyp'), ...str('heic'), 0, 0, 0, 0, ...str('mif1'), ...str('heic'), 1, 2, 3]);

describe('sniffImageKind', () => {
  it('recognizes formats by magic bytes', () => {
    expect(sniffImageKind(jpeg(4, 3))).toBe('jpeg');
    expect(sniffImageKind(png(4, 3))).toBe('png');
    expect(sniffImageKind(new Uint8Array(str('GIF89a\x04\x00\x03\x00')))).toBe('gif');
    expect(sniffImageKind(new Uint8Array(str('RIFF\0\0\0\0WEBPVP8 ')))).toBe('webp');
    expect(sniffImageKind(heic)).toBe('heic');
    expect(sniffImageKind(new Uint8Array([0, 0, 0, 20, ...str('ftypavif'), 0, 0, 0, 0, ...str('avif')]))).toBe('avif');
    expect(sniffImageKind(new Uint8Array(str('hello, world')))).toBeNull();
  });
});

describe('header parsing', () => {
  it('reads sizes from PNG, GIF and JPEG headers', () => {
    expect(readImageSize(png(8660, 5774), 'png')).toEqual({ width: 8660, height: 5774 });
    expect(readImageSize(new Uint8Array(str('GIF89a\x04\x01\x03\x00')), 'gif')).toEqual({ width: 260, height: 3 });
    expect(readImageSize(jpeg(4032, 3024), 'jpeg')).toEqual({ width: 4032, height: 3024 });
  });

  it('reads sizes from WebP (lossy, lossless, extended) and BMP headers', () => {
    const webp = (chunk: string, body: number[]) => new Uint8Array([...str('RIFF'), 0, 0, 0, 0, ...str('WEBP'), ...str(chunk), 0, 0, 0, 0, ...body, ...new Array(16).fill(0)]);
    // VP8X: flags + reserved (4 bytes), then width-1 and height-1 as 24-bit little endian.
    expect(readImageSize(webp('VP8X', [0, 0, 0, 0, 0x3f, 0x1f, 0, 0x7f, 0x0f, 0]), 'webp')).toEqual({ width: 8000, height: 3968 });
    // VP8: frame tag (3), start code 9d 01 2a, then 14-bit width and height.
    expect(readImageSize(webp('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x07, 0x38, 0x04]), 'webp')).toEqual({ width: 1920, height: 1080 });
    // VP8L: signature 0x2f, then (width-1) and (height-1) packed in 14 bits each.
    const w = 4000 - 1, h = 3000 - 1, bits = w | (h << 14);
    expect(readImageSize(webp('VP8L', [0x2f, bits & 255, (bits >> 8) & 255, (bits >> 16) & 255, (bits >>> 24) & 255, 0, 0, 0, 0]), 'webp')).toEqual({ width: 4000, height: 3000 });
    const bmp = new Uint8Array(30);
    bmp.set(str('BM'));
    new DataView(bmp.buffer).setInt32(18, 640, true);
    new DataView(bmp.buffer).setInt32(22, -480, true);
    expect(readImageSize(bmp, 'bmp')).toEqual({ width: 640, height: 480 });
  });

  it('reads the EXIF orientation of a JPEG', () => {
    expect(readJpegOrientation(jpeg(4, 3, 6))).toBe(6);
    expect(readJpegOrientation(jpeg(4, 3))).toBe(1);
  });
});

describe('isJpegComplete', () => {
  it('accepts a whole JPEG, also with data after the end marker', () => {
    expect(isJpegComplete(jpeg(4, 3))).toBe(true);
    expect(isJpegComplete(new Uint8Array([...jpeg(4, 3), 1, 2, 3, 4]))).toBe(true);
  });

  it('rejects a JPEG cut anywhere', () => {
    const whole = jpeg(4, 3);
    for (let cut = 3; cut < whole.length - 1; cut++) expect(isJpegComplete(whole.subarray(0, cut)), `cut at ${cut}`).toBe(false);
  });
});

describe('isPngComplete', () => {
  it('accepts a whole PNG and rejects one cut anywhere', () => {
    const whole = png(4, 3);
    expect(isPngComplete(whole)).toBe(true);
    for (let cut = 8; cut < whole.length; cut++) expect(isPngComplete(whole.subarray(0, cut)), `cut at ${cut}`).toBe(false);
  });
});

describe('validateImageBytes', () => {
  const refuse = (name: string, bytes: Uint8Array) => {
    try {
      validateImageBytes(name, bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(UnsupportedImageError);
      return (err as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it('refuses empty files, non-images, truncated JPEGs and decoding bombs with clear messages', () => {
    expect(refuse('empty.jpg', new Uint8Array())).toMatch(/"empty.jpg" is empty \(0 bytes\)/);
    expect(refuse('notes.txt', new Uint8Array(str('just some text')))).toMatch(/not a photo.*JPEG, PNG/);
    const j = jpeg(400, 300);
    expect(refuse('cut.jpg', j.subarray(0, j.length - 6))).toMatch(/damaged.*cut short/);
    expect(refuse('huge.png', png(20000, 10000))).toMatch(/200 megapixels/);
    const p = png(400, 300);
    expect(refuse('cut.png', p.subarray(0, p.length - 4))).toMatch(/"cut.png" is damaged: the PNG data is cut short/);
  });

  it('accepts images, including a 50-megapixel PNG header and HEIC (decoded by browsers that can)', () => {
    expect(validateImageBytes('big.png', png(8660, 5774))).toBe('png');
    expect(validateImageBytes('a.jpg', jpeg(4, 3))).toBe('jpeg');
    expect(validateImageBytes('IMG_1.HEIC', heic)).toBe('heic');
  });
});

describe('fitWithin', () => {
  it('caps the longest edge at 2048 and never upscales', () => {
    expect(fitWithin(8660, 5774)).toEqual({ width: 2048, height: 1365 });
    expect(fitWithin(3024, 4032)).toEqual({ width: 1536, height: 2048 });
    expect(fitWithin(640, 480)).toEqual({ width: 640, height: 480 });
    expect(fitWithin(100000, 1)).toEqual({ width: 2048, height: 1 });
  });
});
