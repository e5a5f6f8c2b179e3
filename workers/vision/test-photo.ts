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
