// Temperature / top-k / top-p sampling with a repetition penalty, on the GPU, for one row of
// logits [vocab]; the caller supplies the uniform random number u in [0, 1) (seeded PRNG on the
// CPU), so a step reads back one u32. Semantics: reference/sample.ts (top-k capped at
// SAMPLE_MAX_K = 128 candidates). Passes: scale (x / T), penalty (history tokens), then top-k
// rounds that sort 1024-candidate chunks in workgroup memory and keep the best 128 of each,
// until one chunk remains, whose workgroup picks the token. Greedy (temperature 0): argmax.ts.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type BufferBinding, type Recorder } from '../gpu/recorder';
import sampleSrc from '../../shaders/sample.wgsl?raw';
import { SAMPLE_WG } from './argmax';
import { SAMPLE_MAX_K } from './reference/sample';
import { bindTensor, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

/** Candidates one top-k workgroup sorts (SORT_N in the shader). */
export const SAMPLE_SORT_N = 1024;

export interface SamplerInit {
  /** f32 [vocab] (or a longer buffer: the first vocab values are used). */
  logits: GpuTensor;
  /** u32 [maxHistory]: token ids the repetition penalty applies to. */
  history: GpuTensor;
  /** u32 [>= 1]: receives the sampled id at index 0. */
  out: GpuTensor;
  vocab: number;
}

export interface SampleArgs {
  temperature: number;
  /** 0 = no top-k (still capped at SAMPLE_MAX_K candidates). */
  topK: number;
  /** 1 = no top-p. */
  topP: number;
  /** 1 = none. */
  repetitionPenalty: number;
  /** Entries of `history` to penalize. */
  historyLength: number;
  /** Uniform random number in [0, 1). */
  u: number;
}

export class Sampler implements Op<SampleArgs> {
  readonly name = 'sample';
  private readonly kScale: Kernel;
  private readonly kPen: Kernel;
  private readonly kFirst: Kernel;
  private readonly kNext: Kernel;
  private readonly gScale: GPUBindGroup;
  private readonly gPen: GPUBindGroup;
  private readonly gFirst: GPUBindGroup;
  /** gNext[0]: candidates A -> B, gNext[1]: B -> A. */
  private readonly gNext: [GPUBindGroup, GPUBindGroup];
  private readonly maxHistory: number;

  constructor(
    readonly ctx: GpuContext,
    readonly init: SamplerInit,
  ) {
    const { logits, history, out, vocab } = init;
    if (logits.dtype !== 'f32' || numel(logits.shape) < vocab) throw new OpShapeError(`sample: logits must be f32 with >= ${vocab} values`);
    if (history.dtype !== 'u32') throw new OpShapeError('sample: history must be u32');
    if (out.dtype !== 'u32') throw new OpShapeError('sample: out must be u32');
    this.maxHistory = numel(history.shape);
    const scaled = ctx.buffers.create(vocab * 4, 'sample.scaled');
    const chunks1 = Math.ceil(vocab / SAMPLE_SORT_N);
    const candBytes = Math.max(1, chunks1) * SAMPLE_MAX_K * 8;
    const candA = ctx.buffers.create(candBytes, 'sample.candA');
    const candB = ctx.buffers.create(candBytes, 'sample.candB');
    const get = (entry: string, bindings: Array<'read' | 'rw'>, first = false) =>
      ctx.pipelines.get({ op: 'sample', source: sampleSrc, entryPoint: entry, workgroupSize: [SAMPLE_WG, 1, 1], defines: { ENTRY: entry, FIRST: first }, bindings });
    this.kScale = get('scale', ['read', 'rw']);
    this.kPen = get('penalty', ['read', 'rw', 'read']);
    this.kFirst = get('topk', ['read', 'rw', 'rw'], true);
    this.kNext = get('topk', ['read', 'rw', 'rw']);
    const lg: BufferBinding = bindTensor(logits);
    this.gScale = createBindGroup(ctx, this.kScale, [lg, scaled], 'sample.scale');
    this.gPen = createBindGroup(ctx, this.kPen, [lg, scaled, bindTensor(history)], 'sample.penalty');
    this.gFirst = createBindGroup(ctx, this.kFirst, [scaled, bindTensor(out), candA], 'sample.topk0');
    this.gNext = [
      createBindGroup(ctx, this.kNext, [candA, bindTensor(out), candB], 'sample.topkA'),
      createBindGroup(ctx, this.kNext, [candB, bindTensor(out), candA], 'sample.topkB'),
    ];
  }

  record(rec: Recorder, a: SampleArgs): void {
    const { vocab } = this.init;
    if (!(a.temperature > 0)) throw new OpShapeError('sample: temperature must be > 0 (use argmax for greedy decoding)');
    if (!(a.repetitionPenalty > 0)) throw new OpShapeError('sample: repetition penalty must be > 0');
    if (!(a.u >= 0 && a.u < 1)) throw new OpShapeError(`sample: u = ${a.u} is not in [0, 1)`);
    if (a.historyLength > this.maxHistory) throw new OpShapeError(`sample: history of ${a.historyLength}, buffer holds ${this.maxHistory}`);
    const k = Math.max(0, Math.floor(a.topK));
    const f = [a.topP, a.u, a.temperature, a.repetitionPenalty];
    rec.dispatch(this.kScale, this.gScale, packParams([vocab, 1, 0, k], f), Math.ceil(vocab / SAMPLE_WG));
    if (a.historyLength > 0 && a.repetitionPenalty !== 1) {
      rec.dispatch(this.kPen, this.gPen, packParams([vocab, 1, a.historyLength, k], f), Math.ceil(a.historyLength / SAMPLE_WG));
    }
    let n = vocab;
    let chunks = Math.ceil(n / SAMPLE_SORT_N);
    rec.dispatch(this.kFirst, this.gFirst, packParams([n, chunks, 0, k], f), chunks);
    let src = 0;
    while (chunks > 1) {
      n = chunks * SAMPLE_MAX_K;
      chunks = Math.ceil(n / SAMPLE_SORT_N);
      rec.dispatch(this.kNext, this.gNext[src], packParams([n, chunks, 0, k], f), chunks);
      src = 1 - src;
    }
  }
}

export function createSampler(ctx: GpuContext, init: SamplerInit): Sampler {
  return new Sampler(ctx, init);
}
