// Embedding gather op: out[t, :] = table[ids[t], :] for t < count, table f32 [V, H] or packed
// q4/q8 [V, H] (workers/storage/quant.ts layout, dequantized in the shader), ids u32 on the GPU
// (written by the sampler or uploaded), out f32 [T, H]. Ids ≥ V give zero rows.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import embeddingSrc from '../../shaders/embedding.wgsl?raw';
import { bindScales, bindTensor, expectShape, grid2d, numel, OpShapeError, type GpuTensor, type Op } from './types';

export const EMBEDDING_WG = 256;

export interface EmbeddingInit {
  /** f32 / q4 / q8 [V, H]. */
  table: GpuTensor;
  /** u32 (or any 4-byte) ids, at least maxTokens elements. */
  ids: GpuTensor;
  /** f32, at least maxTokens * H elements. */
  out: GpuTensor;
  maxTokens: number;
}

export interface EmbeddingArgs {
  /** Tokens to gather this call. */
  count: number;
  /** Element offset of the first id. */
  idsOffset?: number;
  /** Element offset of the first output row. */
  outOffset?: number;
}

export class Embedding implements Op<EmbeddingArgs> {
  readonly name: string;
  readonly vocab: number;
  readonly hidden: number;
  private readonly kernel: Kernel;
  private readonly bindGroup: GPUBindGroup;
  private readonly params = new Uint32Array(8);
  private readonly per: number;
  private readonly idsLen: number;
  private readonly outLen: number;

  constructor(
    readonly ctx: GpuContext,
    private readonly init: EmbeddingInit,
  ) {
    const { table, ids, out, maxTokens } = init;
    expectShape('embedding table', table, ['f32', 'q4', 'q8'], 2);
    const [v, h] = table.shape;
    this.vocab = v;
    this.hidden = h;
    this.name = `embedding_${table.dtype}`;
    this.idsLen = numel(ids.shape);
    this.outLen = numel(out.shape);
    if (ids.dtype === 'q4' || ids.dtype === 'q8' || this.idsLen < maxTokens) throw new OpShapeError(`${this.name}: ids [${ids.shape.join(', ')}] cannot hold ${maxTokens} ids`);
    if (out.dtype !== 'f32' || this.outLen < maxTokens * h) throw new OpShapeError(`${this.name}: out cannot hold ${maxTokens} x ${h}`);
    const qbits = table.dtype === 'q4' ? 4 : table.dtype === 'q8' ? 8 : 0;
    this.per = qbits === 4 ? 8 : qbits === 8 ? 4 : 1;
    this.kernel = ctx.pipelines.get({
      op: 'embedding',
      source: embeddingSrc,
      workgroupSize: [EMBEDDING_WG, 1, 1],
      defines: { QBITS: qbits },
      bindings: qbits ? ['read', 'read', 'read', 'rw'] : ['read', 'read', 'rw'],
    });
    const bufs = qbits ? [bindTensor(table), bindScales(table), bindTensor(ids), bindTensor(out)] : [bindTensor(table), bindTensor(ids), bindTensor(out)];
    this.bindGroup = createBindGroup(ctx, this.kernel, bufs, this.name);
  }

  record(rec: Recorder, args: EmbeddingArgs): void {
    const { count } = args;
    const idsOff = args.idsOffset ?? 0;
    const outOff = args.outOffset ?? 0;
    if (!(count >= 0 && count <= this.init.maxTokens)) throw new OpShapeError(`${this.name}: count ${count} outside 0..${this.init.maxTokens}`);
    if (idsOff + count > this.idsLen || outOff + count * this.hidden > this.outLen) throw new OpShapeError(`${this.name}: offsets run past the tensors`);
    if (count === 0) return;
    const p = this.params;
    p[0] = count;
    p[1] = this.hidden;
    p[2] = this.vocab;
    p[3] = outOff;
    p[4] = idsOff;
    const [x, y] = grid2d(this.ctx, Math.ceil((count * this.hidden) / this.per / EMBEDDING_WG));
    rec.dispatch(this.kernel, this.bindGroup, p, x, y);
  }
}

export function createEmbedding(ctx: GpuContext, init: EmbeddingInit): Embedding {
  return new Embedding(ctx, init);
}
