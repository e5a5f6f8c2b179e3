// Test helper: the parity oracle's synthetic photo (tools/parity/idefics3_reference.py
// synthetic_photo) as a RawImage, at any size. Not used by the app.
import { RawImage } from '@huggingface/transformers';

export function syntheticPhoto(W = 192, H = 128): RawImage {
  const d = new Uint8ClampedArray(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      d[i] = (x * 5 + y * 2) % 256;
      d[i + 1] = (x * 3 + y * 7 + 40) % 256;
      d[i + 2] = ((x ^ y) * 3) % 256;
    }
  }
  return new RawImage(d, W, H, 3);
}

/** A PNG file (8-bit RGB, no filtering) of an RGB RawImage, for Node tests of the decode path. */
export async function pngBytes(img: RawImage): Promise<Uint8Array<ArrayBuffer>> {
  const { deflateSync, crc32 } = await import('node:zlib');
  const { width: W, height: H } = img;
  const rows = new Uint8Array(H * (1 + W * 3));
  for (let y = 0; y < H; y++) rows.set(img.data.subarray(y * W * 3, (y + 1) * W * 3), y * (1 + W * 3) + 1);
  const chunk = (type: string, data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, W);
  dv.setUint32(4, H);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, RGB, deflate, no filter, no interlace
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', new Uint8Array(deflateSync(rows))), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
