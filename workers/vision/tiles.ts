// The tiling half of Idefics3's image processor (resize to a multiple of the tile size, split
// into tiles row-major, downscale the global image, which comes last), in plain TypeScript.
// transformers.js implements these steps with `interpolate_4d` / `slice`, which run tiny ONNX
// graphs through onnxruntime-web: that would download ORT's WebAssembly from a CDN at the first
// photo (a network request while answering, blocked by our CSP and impossible offline) and pull
// an ONNX runtime into the app. We keep transformers.js for everything else (resize to the
// processor's longest edge, rescale, normalize: `ImageProcessor.preprocess`) and reproduce these
// steps with the same arithmetic: ONNX Resize, mode "linear", half_pixel coordinates, no
// antialias; tiles.test.ts checks equality with transformers.js' own `_call` under Node.

/** Planar f32 image, [3, height, width]. */
export interface Planar {
  data: Float32Array;
  height: number;
  width: number;
}

/** Idefics3ImageProcessor.get_resize_for_vision_encoder: both sides up to a multiple of `tile`. */
export function resizeForVisionEncoder(height: number, width: number, tile: number): { height: number; width: number } {
  const aspect = width / height;
  if (width >= height) {
    width = Math.ceil(width / tile) * tile;
    height = Math.ceil(Math.floor(width / aspect) / tile) * tile;
  } else {
    height = Math.ceil(height / tile) * tile;
    width = Math.ceil(Math.floor(height * aspect) / tile) * tile;
  }
  return { height, width };
}

/** Source taps of a linear, half-pixel resize along one axis (ONNX Resize semantics, clamped). */
export function taps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  const f = Math.fround;
  const scale = f(outSize / inSize); // ORT works in f32: matching it keeps us bit-close

  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const x = Math.min(Math.max(f(f(f(o + 0.5) / scale) - 0.5), 0), inSize - 1);
    const a = Math.floor(x);
    const b = Math.min(a + 1, inSize - 1);
    const frac = a === b ? 0.5 : f(x - a);
    i0[o] = a;
    i1[o] = b;
    w0[o] = f(1 - frac);
    w1[o] = frac;
  }
  return { i0, i1, w0, w1 };
}

/** Bilinear resize of a planar image (3 channels). */
export function resizeBilinear(src: Planar, height: number, width: number): Planar {
  if (src.height === height && src.width === width) return src;
  const ty = taps(src.height, height);
  const tx = taps(src.width, width);
  const out = new Float32Array(3 * height * width);
  for (let c = 0; c < 3; c++) {
    const plane = c * src.height * src.width;
    for (let y = 0; y < height; y++) {
      const r0 = plane + ty.i0[y] * src.width;
      const r1 = plane + ty.i1[y] * src.width;
      const wy0 = ty.w0[y];
      const wy1 = ty.w1[y];
      const o = (c * height + y) * width;
      for (let x = 0; x < width; x++) {
        const a = tx.i0[x];
        const b = tx.i1[x];
        out[o + x] = wy0 * (tx.w0[x] * src.data[r0 + a] + tx.w1[x] * src.data[r0 + b]) + wy1 * (tx.w0[x] * src.data[r1 + a] + tx.w1[x] * src.data[r1 + b]);
      }
    }
  }
  return { data: out, height, width };
}

function crop(src: Planar, top: number, left: number, height: number, width: number, out: Float32Array, at: number): void {
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < height; y++) {
      const from = (c * src.height + top + y) * src.width + left;
      out.set(src.data.subarray(from, from + width), at + (c * height + y) * width);
    }
  }
}

/** Tile grid and resize-for-encoder size of a preprocessed image (splitIntoTiles' plan). */
export interface TilePlan {
  /** Size after resizeForVisionEncoder (tile x tile when the image is not split). */
  height: number;
  width: number;
  /** 0 x 0 when the image is one tile (no global image). */
  rows: number;
  cols: number;
  tiles: number;
}

export function planTiles(height: number, width: number, tile: number, splitting = true): TilePlan {
  if (!splitting) return { height: tile, width: tile, rows: 0, cols: 0, tiles: 1 };
  const size = resizeForVisionEncoder(height, width, tile);
  if (size.height <= tile && size.width <= tile) return { ...size, rows: 0, cols: 0, tiles: 1 };
  const rows = Math.ceil(size.height / tile);
  const cols = Math.ceil(size.width / tile);
  return { ...size, rows, cols, tiles: rows * cols + 1 };
}

export interface Tiles {
  /** f32 [tiles, 3, tile, tile]: row-major tiles, then the global image. */
  pixels: Float32Array;
  tiles: number;
  rows: number;
  cols: number;
}

/**
 * Idefics3ImageProcessor._call's splitting for one preprocessed image (do_image_splitting on):
 * resize to multiples of `tile`, cut ceil(h/tile) x ceil(w/tile) tiles (the last row/column
 * aligned to the far edge, as transformers does), then the whole image resized to tile x tile.
 */
export function splitIntoTiles(image: Planar, tile: number): Tiles {
  const size = resizeForVisionEncoder(image.height, image.width, tile);
  const resized = resizeBilinear(image, size.height, size.width);
  const { height, width } = resized;
  if (height <= tile && width <= tile) {
    return { pixels: resized.data, tiles: 1, rows: 0, cols: 0 };
  }
  const rows = Math.ceil(height / tile);
  const cols = Math.ceil(width / tile);
  const th = Math.ceil(height / rows);
  const tw = Math.ceil(width / cols);
  const per = 3 * th * tw;
  const global = resizeBilinear(resized, tile, tile);
  if (th !== tile || tw !== tile) throw new RangeError(`tiles of ${th}x${tw} for tile size ${tile}`);
  const pixels = new Float32Array((rows * cols + 1) * per);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const top = r === rows - 1 ? height - th : r * th;
      const left = c === cols - 1 ? width - tw : c * tw;
      crop(resized, top, left, th, tw, pixels, (r * cols + c) * per);
    }
  }
  pixels.set(global.data, rows * cols * per);
  return { pixels, tiles: rows * cols + 1, rows, cols };
}
