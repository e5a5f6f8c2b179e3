// A loaded Llama / Qwen2 model as the decoder sees it (workers/decoding/types.ts CausalLM):
// weights + activations + KV cache + the forward ops, and token selection on the GPU in the
// same command buffer, so each step reads back one u32 (the chosen id) and nothing else.
// Every pass that selects a token also copies it into the ids buffer on the GPU, so a chained
// decode pass (submitChained) can start before the CPU has read the previous token back.
// Subclasses change only the input embedding (Idefics3LM splices visual feature rows in through
// embedId + recordEmbed); the KV cache, passes, token selection and readback live here once.
import type { GpuContext } from '../../gpu/context';
import { Recorder } from '../../gpu/recorder';
import { KvCache, fitCapacity } from '../../decoding/kv-cache';
import type { CausalLM, SelectOptions, TokenSelection } from '../../decoding/types';
import { createArgmax, type Argmax } from '../../ops/argmax';
import { createSampler, type Sampler } from '../../ops/sample';
import type { Matmul } from '../../ops/matmul';
import { createF32, createU32, numel, type GpuTensor } from '../../ops/types';
import { GpuDeviceLostError } from '../../protocol/errors';
import type { TensorStore } from '../../storage/tensor-store';
import { createActivations, LlamaForward, type Activations } from './forward';
import { loadLlamaWeights, type LlamaWeights } from './weights';

export interface LlamaModelOptions {
  /** KV cache slots (context length); capped by max_position_embeddings and buffer limits. Default 2048. */
  capacity?: number;
  /** Most tokens per forward pass (prefill chunk). Default 256. */
  maxChunk?: number;
  /** Most distinct ids the repetition penalty tracks. Default 4096. */
  maxHistory?: number;
  /** Use the fused one-token decode path where the adapter allows it (default true; off: benchmarks, tests). */
  fusedDecode?: boolean;
}

const MAP_READ = 0x1;
const COPY_DST = 0x8;

export class LlamaModel implements CausalLM {
  readonly kv: KvCache;
  readonly maxChunk: number;
  readonly vocabSize: number;
  protected readonly acts: Activations;
  readonly fwd: LlamaForward;
  private readonly argmax: Argmax;
  private readonly sampler: Sampler;
  private readonly tokenOut: GpuTensor; // u32 [1]
  private readonly history: GpuTensor; // u32 [maxHistory]
  /** MAP_READ copies of tokenOut, a ring so chained passes can be in flight. */
  private readonly staging: GPUBuffer[];
  private stagingNext = 0;
  private readonly idsScratch: Uint32Array<ArrayBuffer>;
  private readonly posScratch: Uint32Array<ArrayBuffer>;
  private destroyed = false;
  private allRows: { out: GpuTensor; head: Matmul } | null = null;

  static async load(
    ctx: GpuContext,
    store: TensorStore,
    modelId: string,
    onProgress: (done: number, total: number) => void,
    signal: AbortSignal,
    opts: LlamaModelOptions = {},
  ): Promise<LlamaModel> {
    return LlamaModel.build(ctx, store, modelId, onProgress, signal, (w) => new LlamaModel(ctx, w, opts));
  }

  /** Loads the weights of `modelId` and makes a model on them; the weights are freed if that throws. */
  protected static async build<M>(
    ctx: GpuContext,
    store: TensorStore,
    modelId: string,
    onProgress: (done: number, total: number) => void,
    signal: AbortSignal,
    make: (w: LlamaWeights) => M,
  ): Promise<M> {
    const w = await loadLlamaWeights(ctx.device, store, modelId, onProgress, signal);
    try {
      return make(w);
    } catch (err) {
      for (const b of w.buffers) b.destroy();
      throw err;
    }
  }

  constructor(
    readonly ctx: GpuContext,
    readonly weights: LlamaWeights,
    opts: LlamaModelOptions = {},
  ) {
    const s = weights.shape;
    this.vocabSize = s.vocab;
    this.maxChunk = opts.maxChunk ?? 256;
    const capacity = fitCapacity(Math.min(opts.capacity ?? 2048, s.maxPositions), s.nKv, s.headDim, ctx.caps.maxStorageBufferBindingSize);
    this.kv = new KvCache(ctx, { numLayers: s.layers, numKvHeads: s.nKv, headDim: s.headDim, capacity });
    this.acts = createActivations(ctx, s, this.maxChunk);
    this.fwd = new LlamaForward(ctx, weights, this.acts, this.kv.layers, this.maxChunk, opts.fusedDecode ?? true);
    this.tokenOut = createU32(ctx, [4], 'token.out');
    this.history = createU32(ctx, [opts.maxHistory ?? 4096], 'token.history');
    this.argmax = createArgmax(ctx, { logits: this.acts.logits, out: this.tokenOut, vocab: s.vocab });
    this.sampler = createSampler(ctx, { logits: this.acts.logits, history: this.history, out: this.tokenOut, vocab: s.vocab });
    this.staging = [0, 1, 2, 3, 4, 5].map((i) => ctx.device.createBuffer({ size: 16, usage: MAP_READ | COPY_DST, label: `token.staging${i}` }));
    this.idsScratch = new Uint32Array(this.maxChunk);
    this.posScratch = new Uint32Array(this.maxChunk);
  }

  get gpuBytes(): number {
    return this.weights.gpuBytes + this.kv.gpuBytes;
  }

  /** The vocabulary row the embedding gathers for input id `id`; throws for an id it cannot embed. */
  protected embedId(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`token id ${id} outside the vocabulary (${this.vocabSize})`);
    return id;
  }

  /** Records x = embed[embedId(ids)] (T, H); a subclass may then overwrite rows of acts.x. */
  protected recordEmbed(rec: Recorder, _ids: readonly number[], T: number): void {
    this.fwd.embed.record(rec, { count: T });
  }

  /**
   * Uploads ids/positions, records embed + layers + head (the last row's logits, or every row's
   * into `allRows`); returns the recorder (not yet submitted).
   */
  private record(ids: readonly number[], allRows: Matmul | null = null): Recorder {
    this.assertUsable();
    const T = ids.length;
    if (T < 1 || T > this.maxChunk) throw new RangeError(`forward of ${T} tokens (1..${this.maxChunk})`);
    for (let t = 0; t < T; t++) this.idsScratch[t] = this.embedId(ids[t]);
    const firstSlot = this.kv.reserve(T);
    this.kv.sequentialPositions(T, this.posScratch);
    this.ctx.buffers.write(this.acts.ids.buffer, this.idsScratch.subarray(0, T));
    this.ctx.buffers.write(this.acts.positions.buffer, this.posScratch.subarray(0, T));
    const rec = new Recorder(this.ctx, 'forward');
    try {
      this.recordEmbed(rec, ids, T); //                  x = embed[ids] (+ spliced rows)  (T, H)
      this.fwd.recordLayers(rec, T, firstSlot); //                                        (T, H)
      if (allRows) this.fwd.headAllRows(rec, T, allRows); //   logits of every row       (T, V)
      else this.fwd.head(rec, T); //                           logits of the last row    (V)
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

  /** Ends a pass that selected a token: feed it to the next pass on the GPU, read it back. */
  private finishWithToken(rec: Recorder): Promise<number> {
    const staging = this.staging[this.stagingNext];
    this.stagingNext = (this.stagingNext + 1) % this.staging.length;
    rec.copy(this.tokenOut.buffer, 0, this.acts.ids.buffer, 0, 4); // next chained pass's input
    rec.copy(this.tokenOut.buffer, 0, staging, 0, 4);
    rec.submit();
    return (async () => {
      await staging.mapAsync(MAP_READ);
      const id = new Uint32Array(staging.getMappedRange(0, 4))[0];
      staging.unmap();
      return id;
    })();
  }

  submitChained(select: TokenSelection, input?: number): Promise<number> {
    this.assertUsable();
    const firstSlot = this.kv.reserve(1);
    if (input !== undefined) {
      this.idsScratch[0] = input;
      this.ctx.buffers.write(this.acts.ids.buffer, this.idsScratch.subarray(0, 1));
    }
    this.posScratch[0] = firstSlot;
    this.ctx.buffers.write(this.acts.positions.buffer, this.posScratch.subarray(0, 1));
    const rec = new Recorder(this.ctx, 'decode');
    try {
      this.fwd.record(rec, 1, firstSlot);
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

  protected assertUsable(): void {
    if (this.destroyed) throw new GpuDeviceLostError('The model was unloaded; load it again.');
    if (this.ctx.isLost()) throw new GpuDeviceLostError('The GPU device was lost. Reload the model to continue.');
  }

  private recordSelect(rec: Recorder, o: SelectOptions): void {
    const hist = o.history.filter((id) => id < this.vocabSize); // ids past the vocabulary (a subclass's visual tokens) carry no penalty
    const usePenalty = o.penalty !== 1 && hist.length > 0;
    const n = Math.min(hist.length, numel(this.history.shape));
    if (usePenalty) this.ctx.buffers.write(this.history.buffer, new Uint32Array(hist.slice(hist.length - n)));
    if (o.select.kind === 'greedy' && !usePenalty) {
      this.argmax.record(rec, { rows: 1 });
      return;
    }
    // Greedy with a repetition penalty: sampling at top-k 1 is the argmax of the penalized logits.
    const s = o.select.kind === 'sample' ? o.select : { temperature: 1, topK: 1, topP: 1, u: 0 };
    this.sampler.record(rec, {
      temperature: s.temperature,
      topK: s.topK,
      topP: s.topP,
      repetitionPenalty: o.penalty,
      historyLength: usePenalty ? n : 0,
      u: s.u,
    });
  }

  /**
   * Runs every maxChunk-sized pass of a prompt but the last (no readback) after the committed
   * cache and returns the last chunk (1..maxChunk ids) for the caller's own step / stepLogits.
   */
  async prefillLeading(ids: readonly number[]): Promise<readonly number[]> {
    let pos = 0;
    while (ids.length - pos > this.maxChunk) {
      await this.step(ids.slice(pos, pos + this.maxChunk), null);
      pos += this.maxChunk;
    }
    return ids.slice(pos);
  }

  async stepLogits(ids: readonly number[], rows: 'last' | 'all'): Promise<Float32Array> {
    if (rows === 'all') {
      // One pass; the LM head runs on every row into a lazily created [maxChunk, V] buffer.
      if (!this.allRows) {
        const out = createF32(this.ctx, [this.maxChunk, this.vocabSize], 'logits.all');
        this.allRows = { out, head: this.fwd.createAllRowsHead(out) };
      }
      const rec = this.record(ids, this.allRows.head);
      rec.submit();
      this.kv.commit(ids);
      return this.ctx.buffers.readF32(this.allRows.out.buffer, ids.length * this.vocabSize);
    }
    const rec = this.record(ids);
    rec.submit();
    this.kv.commit(ids);
    return this.ctx.buffers.readF32(this.acts.logits.buffer, this.vocabSize);
  }

  /** Dispatches one forward pass of T tokens records (benchmarks; nothing is submitted). */
  dispatchCount(T: number): number {
    const rec = new Recorder(this.ctx, 'count');
    this.fwd.record(rec, T, 0);
    this.argmax.record(rec, { rows: 1 });
    const n = rec.dispatches;
    rec.discard();
    return n;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.kv.destroy();
    for (const b of this.weights.buffers) b.destroy();
    for (const b of this.staging) b.destroy();
  }
}
