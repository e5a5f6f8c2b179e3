// Photo preprocessing for Idefics3 (SmolVLM) in the worker, with @huggingface/transformers'
// Idefics3ImageProcessor built from the model's own preprocessor_config.json (no network):
// resize to the processor's longest edge, rescale and normalize; then split into max_image_size
// tiles (row-major) plus the global image (last) without ONNX Runtime (tiles.ts). Photos are
// decoded with createImageBitmap + OffscreenCanvas in the browser (sharp through transformers.js
// under Node).
// Also the prompt expansion of Idefics3Processor (<row_r_col_c> / <global-img> markers around
// image_seq_len <image> placeholders), done here so a cached photo needs no preprocessing.
import { Idefics3ImageProcessor, RawImage } from '@huggingface/transformers';
import { ModelFormatError, UnsupportedImageError } from '../protocol/errors';
import type { TilerConfig } from './gpu-tiles';
import { resizeBilinear, splitIntoTiles } from './tiles';

export interface ProcessedImage {
  /** f32 [tiles, 3, S, S], tiles row-major then the global image. */
  pixels: Float32Array;
  tiles: number;
  /** Tile grid (0 x 0 when the photo was not split). */
  rows: number;
  cols: number;
  /** Tile side in pixels. */
  size: number;
}

type Json = Record<string, unknown>;

export function createImageProcessor(preprocessorConfig: Json): Idefics3ImageProcessor {
  const maxEdge = (preprocessorConfig.max_image_size as { longest_edge?: unknown } | undefined)?.longest_edge;
  if (typeof maxEdge !== 'number') throw new ModelFormatError('preprocessor_config.json has no max_image_size.longest_edge; it is not an Idefics3 image processor config. Download the model again.');
  return new Idefics3ImageProcessor(preprocessorConfig);
}

/**
 * Runs the Idefics3 image processor on one photo: transformers.js' `preprocess` (resize to the
 * longest edge, rescale, normalize), then our ONNX-free tiling (tiles.ts explains why).
 */
export async function preprocessImage(proc: Idefics3ImageProcessor, image: RawImage): Promise<ProcessedImage> {
  const { pixel_values } = (await proc.preprocess(image)) as { pixel_values: { dims: number[]; data: Float32Array } };
  const [c, height, width] = pixel_values.dims;
  if (c !== 3) throw new UnsupportedImageError(`The image processor produced ${c} channels; expected RGB.`);
  const tile = (proc as unknown as { max_image_size: { longest_edge: number } }).max_image_size.longest_edge;
  const planar = { data: Float32Array.from(pixel_values.data), height, width };
  const splitting = (proc as unknown as { do_image_splitting?: boolean }).do_image_splitting ?? true;
  if (!splitting) return { pixels: resizeBilinear(planar, tile, tile).data, tiles: 1, rows: 0, cols: 0, size: tile };
  const t = splitIntoTiles(planar, tile);
  return { pixels: t.pixels, tiles: t.tiles, rows: t.rows, cols: t.cols, size: tile };
}

type ProcFields = {
  do_convert_rgb?: boolean;
  do_resize?: boolean;
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number | number[];
  image_std?: number | number[];
  do_image_splitting?: boolean;
  max_image_size: { longest_edge: number };
  size?: { longest_edge?: number };
  do_crop_margin?: boolean;
  do_thumbnail?: boolean;
  do_center_crop?: boolean;
  do_flip_channel_order?: boolean;
  pad_size?: unknown;
  size_divisibility?: unknown;
};

/**
 * The processor's settings for the GPU tiler (gpu-tiles.ts), or null when the config uses a step
 * the GPU path does not reproduce (channels kept as decoded, margin crop, thumbnail, center
 * crop, padding, channel flip):
 * such models keep the CPU path.
 */
export function gpuTilerConfig(proc: Idefics3ImageProcessor): TilerConfig | null {
  const p = proc as unknown as ProcFields;
  if (p.do_convert_rgb === false || p.do_crop_margin || p.do_thumbnail || p.do_center_crop || p.do_flip_channel_order || p.pad_size || p.size_divisibility) return null;
  const three = (v: number | number[] | undefined, fallback: number): [number, number, number] | null => {
    const a = Array.isArray(v) ? v : new Array(3).fill(v ?? fallback);
    return a.length === 3 && a.every((x) => typeof x === 'number') ? [a[0], a[1], a[2]] : null;
  };
  const normalize = p.do_normalize ?? false;
  const mean = normalize ? three(p.image_mean, 0) : [0, 0, 0];
  const std = normalize ? three(p.image_std, 1) : [1, 1, 1];
  if (!mean || !std) return null;
  return {
    tile: p.max_image_size.longest_edge,
    splitting: p.do_image_splitting ?? true,
    rescale: p.do_rescale ? (p.rescale_factor ?? 1 / 255) : 1,
    mean: mean as [number, number, number],
    std: std as [number, number, number],
  };
}

/**
 * transformers.js' preprocess up to and including its resize (RGB conversion, resize to the
 * longest edge with the configured filter): the part the GPU tiler does not do.
 */
export async function resizeForProcessor(proc: Idefics3ImageProcessor, image: RawImage): Promise<RawImage> {
  const p = proc as unknown as ProcFields & { resize(img: RawImage): Promise<RawImage> };
  let img = image.rgb();
  if (p.do_resize) img = await p.resize(img);
  return img;
}

/** The size transformers.js' resize step gives `image` ([width, height]; the image itself when do_resize is off). */
export function processorResizeSize(proc: Idefics3ImageProcessor, image: RawImage): [number, number] {
  const p = proc as unknown as ProcFields & { get_resize_output_image_size(img: RawImage, size: unknown): [number, number] };
  return p.do_resize ? p.get_resize_output_image_size(image, p.size) : [image.width, image.height];
}

/** Decodes a photo (JPEG/PNG/WebP ... blob) into RGBA pixels, in a worker or a page. */
export async function decodePhoto(blob: Blob): Promise<RawImage> {
  if (typeof createImageBitmap === 'undefined') {
    // Node (tests, tools): transformers.js decodes with sharp there.
    try {
      return await RawImage.fromBlob(blob);
    } catch (e) {
      throw new UnsupportedImageError(`This photo could not be decoded (${(e as Error).message}). Use a JPEG, PNG or WebP image.`);
    }
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch (e) {
    throw new UnsupportedImageError(`This photo could not be decoded (${(e as Error).message}). Use a JPEG, PNG or WebP image.`);
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = canvas.getContext('2d');
    if (!g) throw new UnsupportedImageError('This browser cannot draw images in a worker (no OffscreenCanvas 2D context).');
    g.drawImage(bitmap, 0, 0);
    const data = g.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return new RawImage(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), bitmap.width, bitmap.height, 4);
  } finally {
    bitmap.close();
  }
}

/** The text Idefics3Processor puts in place of one <image> for a photo split rows x cols. */
export function imagePromptString(rows: number, cols: number, seqLen: number): string {
  const fake = '<fake_token_around_image>';
  const img = '<image>'.repeat(seqLen);
  if (rows === 0 && cols === 0) return `${fake}<global-img>${img}${fake}`;
  let s = '';
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) s += `${fake}<row_${r + 1}_col_${c + 1}>${img}`;
    s += '\n';
  }
  return `${s}\n${fake}<global-img>${img}${fake}`;
}

/** Replaces the k-th <image> of `text` with the expansion of the k-th photo. */
export function expandImagePrompt(text: string, photos: readonly { rows: number; cols: number }[], seqLen: number): string {
  const parts = text.split('<image>');
  if (parts.length - 1 !== photos.length) throw new UnsupportedImageError(`The prompt has ${parts.length - 1} image slots for ${photos.length} photos.`);
  let out = parts[0];
  photos.forEach((p, i) => (out += imagePromptString(p.rows, p.cols, seqLen) + parts[i + 1]));
  return out;
}
