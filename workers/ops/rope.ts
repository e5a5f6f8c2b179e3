// Rotary position embedding (HF Llama "rotate_half" convention) with positions from a u32 buffer,
// standalone (in place on some heads of a row buffer) or fused with writing K and V into the
// KV cache (the usual call in a Llama layer: one dispatch after the fused QKV GEMV).
// cos/sin come from a table built once on the CPU (reference/rope.ts ropeTable), so results match
// torch's f32 arithmetic and do not depend on the GPU's sin/cos accuracy at large angles.
// Positions are read on the GPU and cannot be checked there: every position must be < the
// table's maxPos (size the table to the KV cache's max_seq; tree positions never exceed it).
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type BufferBinding, type Recorder } from '../gpu/recorder';
import ropeSrc from '../../shaders/rope.wgsl?raw';
import { ropeTable } from './reference/rope';
import { ELEMENTWISE_WG } from './silu-mul';
import type { KvLayer } from './kv-cache-ops';
import { bindTensor, grid2d, numel, OpShapeError, packParams, uploadF32, type GpuTensor, type Op } from './types';

/** Upload the cos/sin table [maxPos, headDim] for `theta` (rope_theta in the HF config). */
export function createRopeTable(ctx: GpuContext, headDim: number, theta: number, maxPos: number): GpuTensor {
  if (headDim % 2 !== 0) throw new OpShapeError(`rope: head_dim ${headDim} must be even`);
  return uploadF32(ctx, ropeTable(headDim, theta, maxPos), [maxPos, headDim], 'rope-table');
}

export interface RopeKvInit {
  /** f32 [T_max, rowStride]: per row nHeads Q heads, nKv K heads, nKv V heads (at qOff/kOff/vOff). */
  qkv: GpuTensor;
  /** From createRopeTable. */
  table: GpuTensor;
  /** u32 [T_max]: position of each row (tree nodes: committed length + depth). */
  positions: GpuTensor;
  /** f32 [T_max, nHeads, headDim]: rotated queries. */
  qOut: GpuTensor;
  /** This layer's caches (kv-cache-ops.ts). */
  cache: KvLayer;
  nHeads: number;
  /** Column offsets within a row; default Q, K, V packed in that order from 0. */
  qOff?: number;
  kOff?: number;
  vOff?: number;
}

export interface RopeKvArgs {
  /** Rows (tokens) this call. */
  T: number;
  /** Cache slot of row 0 (rows go to slots firstSlot .. firstSlot + T - 1). */
  firstSlot: number;
}

export class RopeKvWrite implements Op<RopeKvArgs> {
  readonly name = 'rope_kv';
  readonly kernel: Kernel;
  private readonly bindGroup: GPUBindGroup;
  private readonly maxT: number;
  /** Params, allocated once; record() fills in T and firstSlot. */
  private readonly params: Uint32Array;

  constructor(
    readonly ctx: GpuContext,
    readonly init: RopeKvInit,
  ) {
    const { qkv, table, positions, qOut, cache, nHeads } = init;
    const { headDim: d, nKv, maxSeq } = cache;
    const rowStride = qkv.shape[qkv.shape.length - 1];
    const qOff = init.qOff ?? 0;
    const kOff = init.kOff ?? nHeads * d;
    const vOff = init.vOff ?? (nHeads + nKv) * d;
    if (Math.max(qOff + nHeads * d, kOff + nKv * d, vOff + nKv * d) > rowStride) throw new OpShapeError(`rope_kv: heads do not fit a row of ${rowStride}`);
    this.maxT = numel(qkv.shape) / rowStride;
    if (table.shape[1] !== d) throw new OpShapeError(`rope_kv: table is for head_dim ${table.shape[1]}, cache has ${d}`);
    if (numel(positions.shape) < this.maxT) throw new OpShapeError('rope_kv: positions shorter than qkv rows');
    if (numel(qOut.shape) < this.maxT * nHeads * d) throw new OpShapeError('rope_kv: qOut too small');
    this.params = packParams([0, nHeads, nKv, rowStride, qOff, kOff, vOff, maxSeq, 0]);
    this.kernel = ctx.pipelines.get({
      op: 'rope',
      source: ropeSrc,
      workgroupSize: [ELEMENTWISE_WG, 1, 1],
      defines: { HEAD_DIM: `${d}u`, KV_WRITE: true },
      bindings: ['read', 'read', 'read', 'rw', 'rw', 'rw'],
    });
    const buffers: BufferBinding[] = [bindTensor(table), bindTensor(positions), bindTensor(qkv), bindTensor(qOut), bindTensor(cache.k), bindTensor(cache.v)];
    this.bindGroup = createBindGroup(ctx, this.kernel, buffers, this.name);
  }

  record(rec: Recorder, args: RopeKvArgs): void {
    const { T, firstSlot } = args;
    const { cache, nHeads } = this.init;
    if (T > this.maxT) throw new OpShapeError(`rope_kv: ${T} rows, buffers hold ${this.maxT}`);
    if (firstSlot + T > cache.maxSeq) throw new OpShapeError(`rope_kv: slots up to ${firstSlot + T} exceed the cache's ${cache.maxSeq}`);
    const u = this.params; // [T, nHeads, nKv, rowStride, qOff, kOff, vOff, maxSeq, firstSlot, pad x3]
    u[0] = T;
    u[8] = firstSlot;
    const threads = T * (nHeads + cache.nKv) * (cache.headDim / 2);
    const [gx, gy] = grid2d(this.ctx, Math.ceil(threads / ELEMENTWISE_WG));
    rec.dispatch(this.kernel, this.bindGroup, u, gx, gy);
  }
}

export interface RopeInit {
  /** f32 [T_max, rowStride], rotated in place. */
  x: GpuTensor;
  table: GpuTensor;
  positions: GpuTensor;
  nHeads: number;
  headDim: number;
  /** Column of the first head in a row (default 0). */
  colOffset?: number;
}

/** In-place RoPE of nHeads heads of each row of x. */
export class Rope implements Op<{ T: number }> {
  readonly name = 'rope';
  readonly kernel: Kernel;
  private readonly bindGroup: GPUBindGroup;
  private readonly maxT: number;
  private readonly rowStride: number;

  constructor(
    readonly ctx: GpuContext,
    readonly init: RopeInit,
  ) {
    const { x, table, positions, nHeads, headDim: d } = init;
    this.rowStride = x.shape[x.shape.length - 1];
    if ((init.colOffset ?? 0) + nHeads * d > this.rowStride) throw new OpShapeError(`rope: ${nHeads} heads of ${d} do not fit a row of ${this.rowStride}`);
    if (table.shape[1] !== d) throw new OpShapeError(`rope: table is for head_dim ${table.shape[1]}, not ${d}`);
    this.maxT = numel(x.shape) / this.rowStride;
    if (numel(positions.shape) < this.maxT) throw new OpShapeError('rope: positions shorter than x rows');
    this.kernel = ctx.pipelines.get({
      op: 'rope',
      source: ropeSrc,
      workgroupSize: [ELEMENTWISE_WG, 1, 1],
      defines: { HEAD_DIM: `${d}u`, KV_WRITE: false },
      bindings: ['read', 'read', 'rw'],
    });
    this.bindGroup = createBindGroup(ctx, this.kernel, [bindTensor(table), bindTensor(positions), bindTensor(x)], this.name);
  }

  record(rec: Recorder, args: { T: number }): void {
    if (args.T > this.maxT) throw new OpShapeError(`rope: ${args.T} rows, x holds ${this.maxT}`);
    const { nHeads, headDim } = this.init;
    const threads = args.T * nHeads * (headDim / 2);
    const [gx, gy] = grid2d(this.ctx, Math.ceil(threads / ELEMENTWISE_WG));
    rec.dispatch(this.kernel, this.bindGroup, packParams([args.T, nHeads, 0, this.rowStride, this.init.colOffset ?? 0, 0, 0, 0, 0]), gx, gy);
  }
}

export function createRopeKvWrite(ctx: GpuContext, init: RopeKvInit): RopeKvWrite {
  return new RopeKvWrite(ctx, init);
}

export function createRope(ctx: GpuContext, init: RopeInit): Rope {
  return new Rope(ctx, init);
}
