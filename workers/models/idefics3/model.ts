// The Idefics3 language model as the decoder sees it (decoding/types.ts CausalLM): the Llama
// forward of workers/models/llama (weights, activations, LlamaForward) driven here so that visual
// tokens can be spliced in. Prompt ids ≥ vocab are VIRTUAL ids naming one row of a photo's
// visual features (registered with bindImage); the pass embeds them as <image>, then copies the
// feature rows over those rows of the embedding output on the GPU before the first layer. Since
// virtual ids differ per photo, the KV cache's common-prefix reuse stays correct across turns:
// the same photo reuses its cached keys/values, a different one does not.
import { KvCache, fitCapacity } from '../../decoding/kv-cache';
import type { CausalLM, SelectOptions, TokenSelection } from '../../decoding/types';
import type { GpuContext } from '../../gpu/context';
import { Recorder } from '../../gpu/recorder';
import { createArgmax, type Argmax } from '../../ops/argmax';
import { createSampler, type Sampler } from '../../ops/sample';
import { createU32, numel, type GpuTensor } from '../../ops/types';
import { GpuDeviceLostError, ModelFormatError } from '../../protocol/errors';
import type { TensorStore } from '../../storage/tensor-store';
import { createActivations, LlamaForward, type Activations } from '../llama/forward';
import { loadLlamaWeights, type LlamaWeights } from '../llama/weights';

export interface Idefics3LMOptions {
  capacity?: number;
  maxChunk?: number;
}

interface ImageRows {
  base: number; // first virtual id
  count: number;
  features: GpuTensor; // f32 [count, H]
}

const MAP_READ = 0x1;
const COPY_DST = 0x8;

export class Idefics3LM implements CausalLM {
  readonly kv: KvCache;
  readonly maxChunk: number;
  readonly vocabSize: number;
  readonly fwd: LlamaForward;
  private readonly acts: Activations;
  private readonly argmax: Argmax;
  private readonly sampler: Sampler;
  private readonly tokenOut: GpuTensor;
  private readonly history: GpuTensor;
  /** MAP_READ copies of tokenOut, a ring so chained decode passes can be in flight. */
  private readonly staging: GPUBuffer[];
  private stagingNext = 0;
  private readonly images: ImageRows[] = [];
  private nextVirtual: number;
  private destroyed = false;

  static async load(ctx: GpuContext, store: TensorStore, modelId: string, imageTokenId: number, onProgress: (d: number, t: number) => void, signal: AbortSignal, opts: Idefics3LMOptions = {}): Promise<Idefics3LM> {
    const w = await loadLlamaWeights(ctx.device, store, modelId, onProgress, signal);
    try {
      return new Idefics3LM(ctx, w, imageTokenId, opts);
    } catch (err) {
      for (const b of w.buffers) b.destroy();
      throw err;
    }
  }

  constructor(
    readonly ctx: GpuContext,
    readonly weights: LlamaWeights,
    readonly imageTokenId: number,
    opts: Idefics3LMOptions = {},
  ) {
    const s = weights.shape;
    if (!(imageTokenId >= 0 && imageTokenId < s.vocab)) throw new ModelFormatError(`image_token_id ${imageTokenId} is outside the vocabulary (${s.vocab}).`);
    this.vocabSize = s.vocab;
    this.nextVirtual = s.vocab;
    this.maxChunk = opts.maxChunk ?? 256;
    const capacity = fitCapacity(Math.min(opts.capacity ?? 4096, s.maxPositions), s.nKv, s.headDim, ctx.caps.maxStorageBufferBindingSize);
    this.kv = new KvCache(ctx, { numLayers: s.layers, numKvHeads: s.nKv, headDim: s.headDim, capacity });
    this.acts = createActivations(ctx, s, this.maxChunk);
    this.fwd = new LlamaForward(ctx, weights, this.acts, this.kv.layers, this.maxChunk);
    this.tokenOut = createU32(ctx, [4], 'token.out');
    this.history = createU32(ctx, [4096], 'token.history');
    this.argmax = createArgmax(ctx, { logits: this.acts.logits, out: this.tokenOut, vocab: s.vocab });
    this.sampler = createSampler(ctx, { logits: this.acts.logits, history: this.history, out: this.tokenOut, vocab: s.vocab });
    this.staging = [0, 1, 2, 3].map((i) => ctx.device.createBuffer({ size: 16, usage: MAP_READ | COPY_DST, label: `token.staging${i}` }));
  }

  get gpuBytes(): number {
    return this.weights.gpuBytes + this.kv.gpuBytes;
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

  /** Records embed + visual row copies + layers + head for `ids` at the next cache slots. */
  private record(ids: readonly number[]): Recorder {
    if (this.destroyed) throw new GpuDeviceLostError('The model was unloaded; load it again.');
    if (this.ctx.isLost()) throw new GpuDeviceLostError('The GPU device was lost. Reload the model to continue.');
    const T = ids.length;
    if (T < 1 || T > this.maxChunk) throw new RangeError(`forward of ${T} tokens (1..${this.maxChunk})`);
    const real = new Uint32Array(T);
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`token id ${id}`);
      real[t] = id < this.vocabSize ? id : this.imageTokenId;
    });
    const firstSlot = this.kv.reserve(T);
    this.ctx.buffers.write(this.acts.ids.buffer, real);
    this.ctx.buffers.write(this.acts.positions.buffer, this.kv.sequentialPositions(T));
    const H = this.weights.shape.hidden;
    const rec = new Recorder(this.ctx, 'forward');
    try {
      this.fwd.embed.record(rec, { count: T }); //                 x = embed[ids]             (T, H)
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
      for (const layer of this.fwd.layers) {
        this.fwd.attentionBlock(rec, layer, T, firstSlot);
        this.fwd.mlpBlock(rec, layer, T);
      }
      this.fwd.head(rec, T); //                                     logits of the last row     (V)
    } catch (err) {
      rec.discard();
      throw err;
    }
    return rec;
  }

  async step(ids: readonly number[], select: SelectOptions | null): Promise<number | null> {
    const rec = this.record(ids);
    if (!select) {
      rec.submit();
      this.kv.commit(ids);
      return null;
    }
    try {
      this.recordSelect(rec, select);
    } catch (err) {
      rec.discard();
      throw err;
    }
    const read = this.finishWithToken(rec);
    this.kv.commit(ids);
    return read;
  }

  /** Ends a pass that selected a token: feed it to the next chained pass on the GPU, read it back. */
  private finishWithToken(rec: Recorder): Promise<number> {
    const staging = this.staging[this.stagingNext];
    this.stagingNext = (this.stagingNext + 1) % this.staging.length;
    rec.copy(this.tokenOut.buffer, 0, this.acts.ids.buffer, 0, 4); // the next chained pass's input
    rec.copy(this.tokenOut.buffer, 0, staging, 0, 4);
    rec.submit();
    return (async () => {
      await staging.mapAsync(MAP_READ);
      const id = new Uint32Array(staging.getMappedRange(0, 4))[0];
      staging.unmap();
      return id;
    })();
  }

  /** Pipelined decode (decoding/types.ts): a one-token pass whose input is the previous pass's pick. */
  submitChained(select: TokenSelection, input?: number): Promise<number> {
    if (this.destroyed || this.ctx.isLost()) throw new GpuDeviceLostError('The GPU device was lost. Reload the model to continue.');
    if (input !== undefined && !(Number.isInteger(input) && input >= 0 && input < this.vocabSize)) throw new RangeError(`token id ${input} outside the vocabulary`);
    const firstSlot = this.kv.reserve(1);
    if (input !== undefined) this.ctx.buffers.write(this.acts.ids.buffer, new Uint32Array([input]));
    this.ctx.buffers.write(this.acts.positions.buffer, new Uint32Array([firstSlot]));
    const rec = new Recorder(this.ctx, 'decode');
    try {
      this.fwd.record(rec, 1, firstSlot); // generated tokens are real ids: no visual rows to splice
      this.recordSelect(rec, { select, penalty: 1, history: [] });
    } catch (err) {
      rec.discard();
      throw err;
    }
    const read = this.finishWithToken(rec);
    if (input !== undefined) this.kv.commit([input]);
    else this.kv.commitPending();
    return read;
  }

  private recordSelect(rec: Recorder, o: SelectOptions): void {
    const hist = o.history.filter((id) => id < this.vocabSize); // visual tokens carry no penalty
    const usePenalty = o.penalty !== 1 && hist.length > 0;
    const n = Math.min(hist.length, numel(this.history.shape));
    if (usePenalty) this.ctx.buffers.write(this.history.buffer, new Uint32Array(hist.slice(hist.length - n)));
    if (o.select.kind === 'greedy' && !usePenalty) {
      this.argmax.record(rec, { rows: 1 });
      return;
    }
    const s = o.select.kind === 'sample' ? o.select : { temperature: 1, topK: 1, topP: 1, u: 0 };
    this.sampler.record(rec, { temperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: o.penalty, historyLength: usePenalty ? n : 0, u: s.u });
  }

  async stepLogits(ids: readonly number[], rows: 'last' | 'all'): Promise<Float32Array> {
    if (rows === 'all') throw new RangeError('Idefics3LM.stepLogits returns the last row only');
    const rec = this.record(ids);
    rec.submit();
    this.kv.commit(ids);
    return this.ctx.buffers.readF32(this.acts.logits.buffer, this.vocabSize);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.kv.destroy();
    for (const b of this.weights.buffers) b.destroy();
    for (const b of this.staging) b.destroy();
  }
}
