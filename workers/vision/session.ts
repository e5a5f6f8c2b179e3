// A loaded Idefics3 (SmolVLM) model in the engine: language model + vision tower + processor +
// tokenizer, and the generate path for conversations with photos. Each photo is decoded on the
// CPU, then preprocessed (gpu-tiles.ts: the Python processor's resizes, tiles, normalization) and
// encoded on the GPU in one command buffer, once: its visual tokens stay on the GPU in a cache keyed by the
// photo's id (a content hash, see protocol ContentPart), so follow-up questions and repeated
// photos cost no encoder time, and the KV cache reuses the prefix up to the first change.
import type { RawImage } from '@huggingface/transformers';
import type { GenerateChunk, GenerateOutcome, ProgressFn } from '../engine-api';
import { generateText } from '../decoding/generate-text';
import type { ChatTokenizer } from '../decoding/tokenizer';
import type { GpuContext } from '../gpu/context';
import { Idefics3LM, type Idefics3LMOptions } from '../models/idefics3/model';
import { Idefics3Vision, type EncodedImage } from '../models/idefics3/vision';
import type { ChatTurn, SamplingParams } from '../protocol/engine';
import { AbortedError, ModelFormatError, ModelNotInstalledError } from '../protocol/errors';
import type { ModelManifest, TensorStore } from '../storage/tensor-store';
import type { FileSource } from '../storage/types';
import { GpuTiler } from './gpu-tiles';
import { createImageProcessor, decodePhoto, gpuTilerConfig, preprocessImage, processorResizeSize, resizeForProcessor } from './preprocess';
import { createVlmTokenizer, encodeVlmPrompt, parseJsonFile, renderChat, type PromptPhoto } from './prompt';

export interface Idefics3SessionOptions extends Idefics3LMOptions {
  /** Photo decoder (default createImageBitmap + OffscreenCanvas; Node tests pass pixels). */
  decode?: (blob: Blob) => Promise<RawImage>;
  /** Encoded photos kept on the GPU (least recently used dropped first). Default 8. */
  cachedPhotos?: number;
  /** Tiles per vision-encoder batch (Idefics3VisionOptions.maxBatch). */
  visionBatch?: number;
  /**
   * Rescale, normalize and tile photos on the GPU (gpu-tiles.ts) after transformers.js' resize;
   * default true where the processor config allows it. false: transformers.js' preprocess +
   * tiles.ts on the CPU (the reference path).
   */
  gpuTiling?: boolean;
  /**
   * With GPU tiling, also resize on the GPU with PIL's Lanczos (resample.ts: what transformers'
   * Python processor does) instead of transformers.js' resize (canvas / sharp) on the CPU.
   * Default true.
   */
  gpuResize?: boolean;
}

interface CachedPhoto extends PromptPhoto {
  enc: EncodedImage;
}

async function readFile(files: FileSource, path: string, modelId: string, required: boolean): Promise<Uint8Array | null> {
  if (!(await files.list()).includes(path)) {
    if (required) throw new ModelNotInstalledError(`Model "${modelId}" is missing ${path}. Download it again from the Library.`);
    return null;
  }
  return files.read(path, 0, await files.size(path));
}

export class Idefics3Session {
  private readonly cache = new Map<string, CachedPhoto>();
  /** Encoder time of the photos encoded by the last generate() (ms). */
  lastEncodeMs = 0;
  /** Decode + preprocessing time of the photos encoded by the last prompt() (ms, CPU). */
  lastPreprocessMs = 0;

  static async load(
    ctx: GpuContext,
    store: TensorStore,
    manifest: ModelManifest,
    files: FileSource,
    onProgress: ProgressFn,
    signal: AbortSignal,
    opts: Idefics3SessionOptions = {},
  ): Promise<Idefics3Session> {
    const c = manifest.config;
    const id = manifest.modelId;
    if (c.kind !== 'idefics3') throw new ModelFormatError(`Model "${id}" is not an Idefics3 (SmolVLM) model.`);
    const json = async (f: string, req: boolean) => {
      const b = await readFile(files, f, id, req);
      return b ? parseJsonFile(b, f) : null;
    };
    const tok = createVlmTokenizer((await json('tokenizer.json', true))!, (await json('tokenizer_config.json', true))!, await json('chat_template.json', false));
    const pre = (await json('preprocessor_config.json', true))!;
    const procCfg = await json('processor_config.json', false);
    const gen = await json('generation_config.json', false);
    const imageProc = createImageProcessor(pre);
    const edge = (pre.size as { longest_edge?: number } | undefined)?.longest_edge ?? 2048;
    const tile = (pre.max_image_size as { longest_edge: number }).longest_edge;
    const maxTiles = Math.ceil(edge / tile) ** 2 + 1;
    const imageTokenId = c.imageTokenId ?? tok.encode('<image>', { add_special_tokens: false })[0];
    if (signal.aborted) throw new AbortedError('Loading was cancelled.');
    const total = manifest.totalBytes;
    // Prompts with photos are long (64 tokens a tile): prefill them in chunks of up to 1024 tokens
    // (H200, 903-token prompt, 256M q4: 24 ms against 51 ms in chunks of 256).
    const lm = await Idefics3LM.loadWithImageToken(ctx, store, id, imageTokenId, (d) => onProgress('weights', d, total), signal, { ...opts, maxChunk: opts.maxChunk ?? 1024 });
    let vision: Idefics3Vision;
    try {
      const lmBytes = lm.weights.gpuBytes;
      vision = await Idefics3Vision.load(ctx, store, manifest, { maxTiles, maxBatch: opts.visionBatch }, (d) => onProgress('weights', Math.min(total, lmBytes + d), total), signal);
    } catch (err) {
      lm.destroy();
      throw err;
    }
    const seqLen = typeof procCfg?.image_seq_len === 'number' ? procCfg.image_seq_len : vision.tokensPerTile;
    if (seqLen !== vision.tokensPerTile) {
      lm.destroy();
      vision.destroy();
      throw new ModelFormatError(`processor_config.json says ${seqLen} tokens per image tile but the vision tower makes ${vision.tokensPerTile}: the files disagree with config.json.`);
    }
    const eos = new Set<number>();
    for (const v of [gen?.eos_token_id, tok.eos_token_id].flat()) if (typeof v === 'number') eos.add(v);
    const chatTok: ChatTokenizer = {
      eosIds: eos,
      encodeChat: () => {
        throw new ModelFormatError('Idefics3 prompts are built by the session');
      },
      encode: (text) => tok.encode(text, { add_special_tokens: false }),
      decode: (ids) => (ids.length === 0 ? '' : tok.decode(ids as number[], { skip_special_tokens: true, clean_up_tokenization_spaces: false })),
    };
    const tilerCfg = opts.gpuTiling === false ? null : gpuTilerConfig(imageProc);
    const tiler = tilerCfg && tilerCfg.tile === vision.shape.imageSize ? new GpuTiler(ctx, tilerCfg, vision.input) : null;
    return new Idefics3Session(lm, vision, imageProc, tok, chatTok, seqLen, opts, tiler);
  }

  private constructor(
    readonly lm: Idefics3LM,
    readonly vision: Idefics3Vision,
    private readonly imageProc: ReturnType<typeof createImageProcessor>,
    private readonly tok: ReturnType<typeof createVlmTokenizer>,
    private readonly chatTok: ChatTokenizer,
    readonly seqLen: number,
    private readonly opts: Idefics3SessionOptions,
    private readonly tiler: GpuTiler | null,
  ) {}

  /** Whether photos are tiled on the GPU (gpu-tiles.ts) rather than by preprocessImage. */
  get gpuTiling(): boolean {
    return this.tiler !== null;
  }

  get gpuBytes(): number {
    return this.lm.gpuBytes + this.vision.gpuBytes;
  }

  /** Visual tokens of a photo: from the cache, or decoded + preprocessed + encoded now. */
  private async photo(part: { id: string; blob: Blob }): Promise<{ photo: CachedPhoto; encodeMs: number; preprocessMs: number }> {
    const hit = this.cache.get(part.id);
    if (hit) {
      this.cache.delete(part.id); // re-insert: most recently used last
      this.cache.set(part.id, hit);
      return { photo: hit, encodeMs: 0, preprocessMs: 0 };
    }
    const t0 = performance.now();
    const image = await (this.opts.decode ?? decodePhoto)(part.blob);
    let enc: EncodedImage;
    let grid: { rows: number; cols: number };
    let preprocessMs: number;
    const tiler = this.tiler;
    if (tiler && this.opts.gpuResize !== false) {
      // GPU: Lanczos resize to the processor's size, rescale, normalize, tiles, global image, encoder.
      const photo = image.channels === 3 || image.channels === 4 ? image : image.rgb();
      const [w, h] = processorResizeSize(this.imageProc, photo);
      const plan = tiler.plan(h, w);
      preprocessMs = performance.now() - t0;
      try {
        enc = await this.vision.encodeWith(plan.tiles, (rec) => tiler.recordFromPhoto(rec, photo, w, h, plan));
      } finally {
        tiler.releaseScratch(); // ~110 MB for a 2048 px photo: not kept between photos
      }
      grid = plan;
    } else if (tiler) {
      // CPU: transformers.js' resize only; GPU: rescale, normalize, tiles, global image, encoder.
      const resized = await resizeForProcessor(this.imageProc, image);
      const plan = tiler.plan(resized.height, resized.width);
      preprocessMs = performance.now() - t0;
      try {
        enc = await this.vision.encodeWith(plan.tiles, (rec) => tiler.record(rec, resized, plan));
      } finally {
        tiler.releaseScratch();
      }
      grid = plan;
    } else {
      const pre = await preprocessImage(this.imageProc, image);
      preprocessMs = performance.now() - t0;
      enc = await this.vision.encode(pre.pixels, pre.tiles);
      grid = pre;
    }
    const base = this.lm.bindImage(enc.features);
    const photo: CachedPhoto = { rows: grid.rows, cols: grid.cols, base, count: enc.tiles * enc.tokensPerTile, enc };
    this.cache.set(part.id, photo);
    return { photo, encodeMs: enc.encodeMs, preprocessMs };
  }

  /** Drops least recently used photos beyond the limit, never one the current request needs. */
  private trim(inUse: ReadonlySet<string>): void {
    for (const [oldId, old] of this.cache) {
      if (this.cache.size <= (this.opts.cachedPhotos ?? 8)) break;
      if (inUse.has(oldId)) continue;
      this.cache.delete(oldId);
      this.lm.unbindImage(old.base);
      old.enc.destroy();
    }
  }

  /** Ids to text (special tokens dropped), as the answer stream decodes them. */
  decode(ids: readonly number[]): string {
    return this.chatTok.decode(ids);
  }

  /** Whether a photo's visual tokens are cached (tests, UI hints). */
  isCached(photoId: string): boolean {
    return this.cache.has(photoId);
  }

  /** Prompt ids (photos as virtual ids), encoding the photos not cached yet. */
  async prompt(messages: readonly ChatTurn[], onProgress: ProgressFn, signal: AbortSignal): Promise<{ ids: number[]; visualTokens: number; encodeMs: number }> {
    const parts = messages.flatMap((m) => m.content).filter((p): p is Extract<typeof p, { type: 'image' }> => p.type === 'image');
    const photos: CachedPhoto[] = [];
    let encodeMs = 0;
    this.lastPreprocessMs = 0;
    const inUse = new Set(parts.map((p) => p.id));
    for (const [i, part] of parts.entries()) {
      if (signal.aborted) throw new AbortedError('The answer was stopped.');
      onProgress('encode-image', i, parts.length);
      const r = await this.photo(part);
      photos.push(r.photo);
      encodeMs += r.encodeMs;
      this.lastPreprocessMs += r.preprocessMs;
    }
    if (parts.length) onProgress('encode-image', parts.length, parts.length);
    this.trim(inUse);
    const ids = encodeVlmPrompt(this.tok, renderChat(this.tok, messages), photos, this.seqLen);
    return { ids, visualTokens: photos.reduce((a, p) => a + p.count, 0), encodeMs };
  }

  async *generate(messages: readonly ChatTurn[], sampling: SamplingParams, onProgress: ProgressFn, signal: AbortSignal): AsyncGenerator<GenerateChunk, GenerateOutcome> {
    const t0 = performance.now();
    const { ids, visualTokens, encodeMs } = await this.prompt(messages, onProgress, signal);
    this.lastEncodeMs = encodeMs;
    const prepMs = performance.now() - t0;
    const tokenizer: ChatTokenizer = { ...this.chatTok, encodeChat: () => ids };
    const outcome = yield* generateText(this.lm, tokenizer, messages, sampling, signal, (d, t) => onProgress('prefill', d, t));
    outcome.stats.visualTokens = visualTokens;
    outcome.stats.encodeMs = encodeMs;
    outcome.stats.timeToFirstTokenMs += prepMs;
    return outcome;
  }

  destroy(): void {
    for (const p of this.cache.values()) p.enc.destroy();
    this.cache.clear();
    this.tiler?.destroy();
    this.vision.destroy();
    this.lm.destroy();
  }
}
