// KV cache: layout, allocation, and the compaction op PPD uses after tree verification.
//
// Layout (per layer): K and V are separate f32 buffers of [nKv, maxSeq, headDim]; element
// (h, slot, c) at ((h * maxSeq) + slot) * headDim + c. Slot s of the committed sequence holds
// the token at position s. During a tree-verification step the n tree nodes are written at slots
// L .. L + n - 1 (L = committed length) in node order; after verification the accepted path's
// slots are compacted to L, L + 1, ... and the rest is simply ignored (overwritten next step).
// Written by rope.ts (RopeKvWrite), read by attention.ts.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import kvSrc from '../../shaders/kv.wgsl?raw';
import { bindTensor, createF32, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

export const KV_WG = 64;
/** Most (src, dst) pairs one compaction moves. */
export const KV_MAX_PAIRS = 256;

/** One layer's cache: k and v are f32 [nKv, maxSeq, headDim]. */
export interface KvLayer {
  k: GpuTensor;
  v: GpuTensor;
  nKv: number;
  maxSeq: number;
  headDim: number;
}

export function createKvCache(ctx: GpuContext, nLayers: number, nKv: number, maxSeq: number, headDim: number): KvLayer[] {
  if (headDim % 4 !== 0) throw new OpShapeError(`kv cache: head_dim ${headDim} must be a multiple of 4`);
  const layers: KvLayer[] = [];
  for (let l = 0; l < nLayers; l++) {
    layers.push({
      k: createF32(ctx, [nKv, maxSeq, headDim], `kv.k${l}`),
      v: createF32(ctx, [nKv, maxSeq, headDim], `kv.v${l}`),
      nKv,
      maxSeq,
      headDim,
    });
  }
  return layers;
}

export interface KvCompactInit {
  layers: KvLayer[];
  /** u32 [>= n]: source slots. */
  src: GpuTensor;
  /** u32 [>= n]: destination slots (distinct). */
  dst: GpuTensor;
}

/**
 * For every layer and kv head: cache[dst[p]] = old cache[src[p]] for p < n, K and V. Overlapping
 * lists are fine (all sources are read before any destination is written). One dispatch per layer.
 */
export class KvCompact implements Op<{ n: number }> {
  readonly name = 'kv_compact';
  readonly kernel: Kernel;
  private readonly groups: GPUBindGroup[];
  private readonly cap: number;

  constructor(
    readonly ctx: GpuContext,
    readonly init: KvCompactInit,
  ) {
    const { layers, src, dst } = init;
    if (layers.length === 0) throw new OpShapeError('kv_compact: no layers');
    const { headDim } = layers[0];
    this.cap = Math.min(numel(src.shape), numel(dst.shape), KV_MAX_PAIRS);
    this.kernel = ctx.pipelines.get({
      op: 'kv',
      source: kvSrc,
      workgroupSize: [KV_WG, 1, 1],
      defines: { HEAD_DIM: `${headDim}u` },
      bindings: ['read', 'read', 'rw', 'rw'],
    });
    this.groups = layers.map((l, i) => {
      if (l.headDim !== headDim) throw new OpShapeError('kv_compact: layers differ in head_dim');
      return createBindGroup(ctx, this.kernel, [bindTensor(src), bindTensor(dst), bindTensor(l.k), bindTensor(l.v)], `kv_compact.${i}`);
    });
  }

  record(rec: Recorder, args: { n: number }): void {
    if (args.n > this.cap) throw new OpShapeError(`kv_compact: ${args.n} pairs, at most ${this.cap}`);
    if (args.n === 0) return;
    this.init.layers.forEach((l, i) => {
      rec.dispatch(this.kernel, this.groups[i], packParams([args.n, l.maxSeq]), l.headDim / 4, l.nKv);
    });
  }
}

export function createKvCompact(ctx: GpuContext, init: KvCompactInit): KvCompact {
  return new KvCompact(ctx, init);
}
