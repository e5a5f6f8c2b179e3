// Greedy token selection on the GPU: argmax of each of M rows of logits [M, vocab] -> u32 [M]
// (M = 1 for decode, M = tree size for PPD verification). Two passes (chunk maxima, then per-row
// reduction) when the vocabulary spans several chunks. Ties pick the lowest id; NaN never wins.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import sampleSrc from '../../shaders/sample.wgsl?raw';
import { bindTensor, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

export const SAMPLE_WG = 256;
/** Values one argmax workgroup reduces (CHUNK_A in the shader). */
export const ARGMAX_CHUNK = 1024;

export interface ArgmaxInit {
  /** f32 [maxRows, vocab]. */
  logits: GpuTensor;
  /** u32 [>= maxRows]: receives the ids. */
  out: GpuTensor;
  vocab: number;
}

export class Argmax implements Op<{ rows?: number } | void> {
  readonly name = 'argmax';
  private readonly k1: Kernel;
  private readonly k2: Kernel;
  private readonly g1: GPUBindGroup;
  private readonly g2: GPUBindGroup;
  private readonly maxRows: number;
  private readonly nChunks: number;

  constructor(
    readonly ctx: GpuContext,
    readonly init: ArgmaxInit,
  ) {
    const { logits, out, vocab } = init;
    if (logits.dtype !== 'f32' || numel(logits.shape) % vocab !== 0) throw new OpShapeError(`argmax: logits [${logits.shape.join(', ')}] are not f32 [rows, ${vocab}]`);
    this.maxRows = numel(logits.shape) / vocab;
    if (out.dtype !== 'u32' || numel(out.shape) < this.maxRows) throw new OpShapeError(`argmax: out must be u32 with >= ${this.maxRows} elements`);
    this.nChunks = Math.ceil(vocab / ARGMAX_CHUNK);
    const part = ctx.buffers.create(this.maxRows * this.nChunks * 8, 'argmax.part');
    const spec = (entry: string, bindings: Array<'read' | 'rw'>) =>
      ctx.pipelines.get({ op: 'sample', source: sampleSrc, entryPoint: entry, workgroupSize: [SAMPLE_WG, 1, 1], defines: { ENTRY: entry }, bindings });
    this.k1 = spec('argmax', ['read', 'rw', 'rw']);
    this.k2 = spec('argmax2', ['read', 'rw']);
    this.g1 = createBindGroup(ctx, this.k1, [bindTensor(logits), part, bindTensor(out)], 'argmax');
    this.g2 = createBindGroup(ctx, this.k2, [part, bindTensor(out)], 'argmax2');
  }

  /** rows: how many rows (default all). */
  record(rec: Recorder, args: { rows?: number } | void): void {
    const rows = args?.rows ?? this.maxRows;
    if (rows < 1 || rows > this.maxRows) throw new OpShapeError(`argmax: ${rows} rows, op sized for ${this.maxRows}`);
    const p = packParams([this.init.vocab, this.nChunks, rows, 0]);
    rec.dispatch(this.k1, this.g1, p, this.nChunks, rows);
    if (this.nChunks > 1) rec.dispatch(this.k2, this.g2, p, rows);
  }
}

export function createArgmax(ctx: GpuContext, init: ArgmaxInit): Argmax {
  return new Argmax(ctx, init);
}
