// Idefics3 image path on the GPU: SigLIP encoder (../siglip) over every tile of a photo, then the
// connector (pixel shuffle with scale s, then connector.proj without bias) into visual tokens of
// the language model's width. All batches of a photo are recorded into ONE command buffer; the
// only readback is the caller's (none in the app: the features feed the LM prefill on the GPU).
//
// Shapes: N tiles (row-major tiles, then the global image), T = side² patches per tile,
// vh vision width, s scale factor, Tv = T / s² visual tokens per tile, H LM width.
import type { GpuContext } from '../../gpu/context';
import { Recorder } from '../../gpu/recorder';
import { createGemm, type Gemm } from '../../ops/gemm';
import { createF32, numel, OpShapeError, type GpuTensor } from '../../ops/types';
import { ModelFormatError } from '../../protocol/errors';
import type { ModelManifest, TensorStore } from '../../storage/tensor-store';
import { SiglipEncoder, type EncoderPart } from '../siglip/encoder';
import { Patchify, PixelShuffle } from '../siglip/vision-ops';
import { siglipShape, siglipWeights, uploadNamed, type SiglipShape, type SiglipWeights } from '../siglip/weights';

export interface Idefics3VisionOptions {
  /** Most tiles one photo may have (processor tiles + the global image). */
  maxTiles: number;
  /**
   * Tiles per encoder batch. Activation memory grows with it (SigLIP-B/512: ~41 MB a tile) and
   * bigger batches fill a big GPU better (H200, 13 tiles: 111 ms in one batch, 131 ms in batches
   * of 4). Default: as many as fit ACTIVATION_BUDGET and the largest storage binding.
   */
  maxBatch?: number;
}

/** Bytes of encoder activations the default batch may take. */
export const ACTIVATION_BUDGET = 320 * 1024 * 1024;

/** Default tiles per batch for a shape (see Idefics3VisionOptions.maxBatch). */
export function defaultVisionBatch(s: SiglipShape, maxTiles: number, maxBinding: number): number {
  const perTile = s.tokens * (9 * s.width + s.inter) * 4; // x xn qkv attn o mlp out + h, f32
  const byBudget = Math.floor(ACTIVATION_BUDGET / perTile);
  const byBinding = Math.floor(maxBinding / (s.tokens * Math.max(s.inter, 3 * s.width) * 4));
  return Math.max(1, Math.min(maxTiles, byBudget, byBinding));
}

/** A photo's visual tokens on the GPU, with the HiRED scores of its tiles. */
export interface EncodedImage {
  /** f32 [tiles Tv, H]: rows tile-major, each tile's tokens in raster order. */
  features: GpuTensor;
  /** f32 [tiles, T]: final-layer attention received per patch (mean over queries and heads). */
  scores: GpuTensor;
  tiles: number;
  tokensPerTile: number;
  encodeMs: number;
  destroy(): void;
}

export class Idefics3Vision {
  readonly shape: SiglipShape;
  readonly tokensPerTile: number;
  readonly lmWidth: number;
  private readonly pixels: GpuTensor; // (maxTiles, C, S, S) the processor's tiles
  private readonly patches: GpuTensor; // (maxTiles T, C P P)
  private readonly scoresAll: GpuTensor; // (maxTiles, T)
  private readonly shuffled: GpuTensor; // (maxBatch Tv, vh s²)
  private readonly featuresAll: GpuTensor; // (maxTiles Tv, H)
  private readonly encoder: SiglipEncoder;
  private readonly patchify: Patchify;
  private readonly shuffle: PixelShuffle;
  private readonly proj: Gemm;
  readonly maxBatch: number;

  static async load(
    ctx: GpuContext,
    store: TensorStore,
    manifest: ModelManifest,
    opts: Idefics3VisionOptions,
    onProgress: (done: number, total: number) => void,
    signal: AbortSignal,
  ): Promise<Idefics3Vision> {
    const c = manifest.config;
    if (c.kind !== 'idefics3') throw new ModelFormatError(`Model "${manifest.modelId}" has no vision tower.`);
    const shape = siglipShape(c.vision);
    const tensors = await uploadNamed(ctx.device, store, manifest, (n) => n.startsWith('vision.') || n === 'connector.proj', onProgress, signal);
    try {
      const w = siglipWeights(shape, tensors, manifest.modelId);
      const proj = tensors.get('connector.proj');
      if (!proj) throw new ModelFormatError(`Installed model "${manifest.modelId}" lacks tensor "connector.proj". Reinstall the model.`);
      return new Idefics3Vision(ctx, w, proj, c.scaleFactor, opts);
    } catch (err) {
      for (const t of tensors.values()) t.buffer.destroy();
      throw err;
    }
  }

  constructor(
    readonly ctx: GpuContext,
    readonly w: SiglipWeights,
    readonly projW: GpuTensor,
    readonly scale: number,
    opts: Idefics3VisionOptions,
  ) {
    const s = w.shape;
    this.shape = s;
    if (s.side % scale !== 0) throw new ModelFormatError(`the ${s.side}x${s.side} patch grid is not divisible by scale_factor ${scale}`);
    this.tokensPerTile = s.tokens / (scale * scale);
    const [H, K] = projW.shape;
    if (K !== s.width * scale * scale) throw new ModelFormatError(`connector.proj is [${H}, ${K}], expected ${s.width * scale * scale} inputs`);
    this.lmWidth = H;
    this.maxBatch = Math.max(1, Math.min(opts.maxTiles, opts.maxBatch ?? defaultVisionBatch(s, opts.maxTiles, ctx.device.limits.maxStorageBufferBindingSize)));
    const rowLen = s.channels * s.patch * s.patch;
    this.pixels = createF32(ctx, [opts.maxTiles, s.channels, s.imageSize, s.imageSize], 'vis.pixels');
    this.patches = createF32(ctx, [opts.maxTiles * s.tokens, rowLen], 'vis.patches');
    this.patchify = new Patchify(ctx, { pixels: this.pixels, rows: this.patches, channels: s.channels, size: s.imageSize, patch: s.patch, maxBatch: opts.maxTiles });
    this.scoresAll = createF32(ctx, [opts.maxTiles, s.tokens], 'vis.scores.all');
    this.shuffled = createF32(ctx, [this.maxBatch * this.tokensPerTile, K], 'vis.shuffled');
    this.featuresAll = createF32(ctx, [opts.maxTiles * this.tokensPerTile, H], 'vis.features');
    this.encoder = new SiglipEncoder(ctx, w, this.patches, this.scoresAll, this.maxBatch);
    this.shuffle = new PixelShuffle(ctx, { x: this.encoder.a.out, out: this.shuffled, side: s.side, width: s.width, scale, maxBatch: this.maxBatch });
    this.proj = createGemm(ctx, { w: projW, x: this.shuffled, y: this.featuresAll, maxM: this.maxBatch * this.tokensPerTile });
  }

  get maxTiles(): number {
    return this.scoresAll.shape[0];
  }

  get gpuBytes(): number {
    return this.w.buffers.reduce((a, b) => a + b.size, 0) + this.projW.buffer.size;
  }

  /**
   * Encodes `tiles` normalized tiles ([tiles, C, S, S] f32, the processor's pixel_values) into
   * visual tokens. Returns a NEW features buffer (the caller caches it per photo) once the GPU
   * has finished.
   */
  async encode(pixels: Float32Array, tiles: number): Promise<EncodedImage> {
    const s = this.shape;
    if (tiles < 1 || tiles > this.maxTiles) throw new OpShapeError(`a photo of ${tiles} tiles (this model is set up for 1..${this.maxTiles})`);
    if (pixels.length !== tiles * s.channels * s.imageSize * s.imageSize) throw new OpShapeError(`pixel values hold ${pixels.length} numbers, expected ${tiles} tiles of ${s.channels}x${s.imageSize}x${s.imageSize}`);
    return this.encodeWith(tiles, () => this.ctx.buffers.write(this.pixels.buffer, pixels));
  }

  /** The encoder's input, f32 [maxTiles, C, S, S]: what encodeWith's `prelude` must fill. */
  get input(): GpuTensor {
    return this.pixels;
  }

  /**
   * Like encode(), with the tiles written into `input` by `prelude` (recorded first in the same
   * command buffer, e.g. the GPU tiler of workers/vision/gpu-tiles.ts).
   */
  async encodeWith(tiles: number, prelude: (rec: Recorder) => void): Promise<EncodedImage> {
    const s = this.shape;
    const t0 = performance.now();
    if (tiles < 1 || tiles > this.maxTiles) throw new OpShapeError(`a photo of ${tiles} tiles (this model is set up for 1..${this.maxTiles})`);
    const H = this.lmWidth;
    const Tv = this.tokensPerTile;
    const features = createF32(this.ctx, [tiles * Tv, H], 'image.features');
    const scores = createF32(this.ctx, [tiles, s.tokens], 'image.scores');
    const rec = new Recorder(this.ctx, 'encode-image');
    try {
      prelude(rec);
      this.patchify.record(rec, { batch: tiles }); //                       patches = im2col(pixels)  (N T, C P P)
      for (let first = 0; first < tiles; first += this.maxBatch) {
        const batch = Math.min(this.maxBatch, tiles - first);
        this.encoder.record(rec, first, batch); //                       out = siglip(tiles)        (B T, vh)
        this.shuffle.record(rec, { batch }); //                           shuffled = shuffle(out)    (B Tv, vh s²)
        this.proj.record(rec, { m: batch * Tv, yOffset: first * Tv * H }); // features = shuffled Wc^T (B Tv, H)
      }
      rec.copy(this.featuresAll.buffer, 0, features.buffer, 0, tiles * Tv * H * 4);
      rec.copy(this.scoresAll.buffer, 0, scores.buffer, 0, tiles * s.tokens * 4);
      await rec.submitAndWait();
    } catch (err) {
      rec.discard();
      this.ctx.buffers.destroy(features.buffer);
      this.ctx.buffers.destroy(scores.buffer);
      throw err;
    }
    const ctx = this.ctx;
    return {
      features,
      scores,
      tiles,
      tokensPerTile: Tv,
      encodeMs: performance.now() - t0,
      destroy() {
        ctx.buffers.destroy(features.buffer);
        ctx.buffers.destroy(scores.buffer);
      },
    };
  }

  /**
   * Records one op class of the encoder (or the connector: pixel shuffle + projection) over
   * `tiles` tiles in this model's batches, nothing else: profiling only (tools/bench/vlm.ts).
   */
  recordPart(rec: Recorder, part: EncoderPart | 'connector', tiles: number): void {
    for (let first = 0; first < tiles; first += this.maxBatch) {
      const batch = Math.min(this.maxBatch, tiles - first);
      if (part !== 'connector') this.encoder.recordPart(rec, part, first, batch);
      else {
        this.shuffle.record(rec, { batch });
        this.proj.record(rec, { m: batch * this.tokensPerTile, yOffset: first * this.tokensPerTile * this.lmWidth });
      }
    }
  }

  /** The encoder's last-batch output (B T, vh) for tests. */
  get encoderOut(): GpuTensor {
    return this.encoder.a.out;
  }

  destroy(): void {
    this.encoder.destroy();
    for (const t of [this.pixels, this.patches, this.scoresAll, this.shuffled, this.featuresAll]) this.ctx.buffers.destroy(t.buffer);
    for (const b of this.w.buffers) b.destroy();
    this.projW.buffer.destroy();
  }
}

export function featureCount(e: EncodedImage): number {
  return numel(e.features.shape);
}
