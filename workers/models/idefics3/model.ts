// The Idefics3 language model as the decoder sees it (decoding/types.ts CausalLM): the LlamaModel
// of workers/models/llama with one change, its input embedding, so that visual tokens can be
// spliced in. Prompt ids ≥ vocab are VIRTUAL ids naming one row of a photo's visual features
// (registered with bindImage); the pass embeds them as <image>, then copies the feature rows over
// those rows of the embedding output on the GPU before the first layer. Since virtual ids differ
// per photo, the KV cache's common-prefix reuse stays correct across turns: the same photo reuses
// its cached keys/values, a different one does not. Cache, passes, selection and pipelined decode
// are LlamaModel's.
import type { TokenSelection } from '../../decoding/types';
import type { GpuContext } from '../../gpu/context';
import type { Recorder } from '../../gpu/recorder';
import type { GpuTensor } from '../../ops/types';
import { ModelFormatError } from '../../protocol/errors';
import type { TensorStore } from '../../storage/tensor-store';
import { LlamaModel, type LlamaModelOptions } from '../llama/model';
import type { LlamaWeights } from '../llama/weights';

/** capacity defaults to 4096 here (prompts carry visual tokens). */
export type Idefics3LMOptions = Pick<LlamaModelOptions, 'capacity' | 'maxChunk'>;

interface ImageRows {
  base: number; // first virtual id
  count: number;
  features: GpuTensor; // f32 [count, H]
}

export class Idefics3LM extends LlamaModel {
  private readonly images: ImageRows[] = [];
  private nextVirtual: number;

  static async loadWithImageToken(ctx: GpuContext, store: TensorStore, modelId: string, imageTokenId: number, onProgress: (d: number, t: number) => void, signal: AbortSignal, opts: Idefics3LMOptions = {}): Promise<Idefics3LM> {
    return LlamaModel.build(ctx, store, modelId, onProgress, signal, (w) => new Idefics3LM(ctx, w, imageTokenId, opts));
  }

  constructor(
    ctx: GpuContext,
    weights: LlamaWeights,
    readonly imageTokenId: number,
    opts: Idefics3LMOptions = {},
  ) {
    const V = weights.shape.vocab;
    if (!(imageTokenId >= 0 && imageTokenId < V)) throw new ModelFormatError(`image_token_id ${imageTokenId} is outside the vocabulary (${V}).`);
    super(ctx, weights, { capacity: opts.capacity ?? 4096, maxChunk: opts.maxChunk });
    this.nextVirtual = V;
  }

  /** Registers a photo's visual tokens ([count, H] on the GPU); returns their virtual ids' base. */
  bindImage(features: GpuTensor): number {
    const [count, H] = features.shape;
    if (H !== this.weights.shape.hidden) throw new ModelFormatError(`visual tokens of width ${H} for a language model of width ${this.weights.shape.hidden}`);
    const base = this.nextVirtual;
    this.nextVirtual += count;
    this.images.push({ base, count, features });
    return base;
  }

  /** Forgets a photo's rows (its virtual ids are never reused, so stale cache entries cannot match). */
  unbindImage(base: number): void {
    const i = this.images.findIndex((im) => im.base === base);
    if (i >= 0) this.images.splice(i, 1);
  }

  private imageOf(id: number): ImageRows {
    const im = this.images.find((x) => id >= x.base && id < x.base + x.count);
    if (!im) throw new RangeError(`token id ${id} is neither in the vocabulary nor a bound visual token`);
    return im;
  }

  /** Virtual ids are embedded as <image>; their rows are overwritten in recordEmbed. */
  protected override embedId(id: number): number {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`token id ${id}`);
    return id < this.vocabSize ? id : this.imageTokenId;
  }

  /** x = embed[ids], then the rows of virtual ids become the photo's feature rows.  (T, H) */
  protected override recordEmbed(rec: Recorder, ids: readonly number[], T: number): void {
    super.recordEmbed(rec, ids, T);
    const H = this.weights.shape.hidden;
    // Splice: runs of consecutive virtual ids of one photo become one copy of feature rows.
    for (let t = 0; t < T; ) {
      if (ids[t] < this.vocabSize) {
        t++;
        continue;
      }
      const im = this.imageOf(ids[t]);
      let end = t + 1;
      while (end < T && ids[end] === ids[end - 1] + 1 && ids[end] < im.base + im.count) end++;
      const row = ids[t] - im.base;
      rec.copy(im.features.buffer, (im.features.offset ?? 0) + row * H * 4, this.acts.x.buffer, t * H * 4, (end - t) * H * 4); // x[t..end) = features  (n, H)
      t = end;
    }
  }

  /** Generated tokens are real ids: a chained pass has no visual rows to splice. */
  override submitChained(select: TokenSelection, input?: number): Promise<number> {
    this.assertUsable();
    if (input !== undefined && !(Number.isInteger(input) && input >= 0 && input < this.vocabSize)) throw new RangeError(`token id ${input} outside the vocabulary`);
    return super.submitChained(select, input);
  }

  override async stepLogits(ids: readonly number[], rows: 'last' | 'all'): Promise<Float32Array> {
    if (rows === 'all') throw new RangeError('Idefics3LM.stepLogits returns the last row only');
    return super.stepLogits(ids, rows);
  }
}
