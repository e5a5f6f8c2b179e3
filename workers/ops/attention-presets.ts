// Ready-made attention call sites for the models, over attention.ts:
//   CacheAttention   Llama layers: Q [T, nHeads*d] (from RopeKvWrite) against this layer's KV
//                    cache, causal (prefill chunks, decode) or tree (PPD verification), one op.
//   VisionAttention  SigLIP layers: bidirectional attention straight from the fused QKV GEMM
//                    output [B*T, 3*H*d], B tiles batched, optional HiRED key scores [B, T].
// Both write out [rows, nHeads*d] (heads contiguous per row), ready for the output projection.
import type { GpuContext } from '../gpu/context';
import type { Recorder } from '../gpu/recorder';
import { Attention } from './attention';
import type { KvLayer } from './kv-cache-ops';
import { numel, OpShapeError, type GpuTensor, type Op } from './types';

export interface CacheAttentionInit {
  /** f32 [maxQ, nHeads * headDim], rotated queries (RopeKvWrite's qOut). */
  q: GpuTensor;
  cache: KvLayer;
  /** f32 [maxQ, nHeads * headDim]. */
  out: GpuTensor;
  nHeads: number;
  /** Most rows per call (prefill chunk size; tree size for verification). */
  maxQ: number;
  /** u32 [maxTree * ceil(maxTree / 32)]: PPD ancestor bitmask; enables the tree form. */
  treeMask?: GpuTensor;
  /** Most tree nodes per verification (default min(maxQ, 64)). */
  maxTree?: number;
}

export type CacheAttentionArgs =
  /** Rows at positions start .. start+nQ-1, already written to cache slots with the same numbers. */
  | { kind: 'causal'; start: number; nQ: number }
  /** nQ tree nodes in slots committed .. committed+nQ-1; node i sees [0, committed) and its mask bits. */
  | { kind: 'tree'; committed: number; nQ: number };

export class CacheAttention implements Op<CacheAttentionArgs> {
  readonly name = 'cache_attention';
  private readonly causal: Attention;
  private readonly tree?: Attention;

  constructor(ctx: GpuContext, init: CacheAttentionInit) {
    const { q, cache, out, nHeads, maxQ, treeMask } = init;
    const d = cache.headDim;
    if (numel(q.shape) < maxQ * nHeads * d) throw new OpShapeError(`cache_attention: q holds fewer than ${maxQ} rows of ${nHeads * d}`);
    const common = {
      nHeads,
      nKv: cache.nKv,
      headDim: d,
      q: { t: q, strideT: nHeads * d },
      k: { t: cache.k, strideH: cache.maxSeq * d, strideT: d },
      v: { t: cache.v, strideH: cache.maxSeq * d, strideT: d },
      out,
      maxKeys: cache.maxSeq,
    };
    this.causal = new Attention(ctx, { ...common, mode: 'causal', maxQ });
    if (treeMask) this.tree = new Attention(ctx, { ...common, mode: 'tree', maxQ: Math.min(init.maxTree ?? maxQ, maxQ, 64), mask: treeMask });
  }

  record(rec: Recorder, args: CacheAttentionArgs): void {
    if (args.kind === 'causal') {
      this.causal.record(rec, { nQ: args.nQ, start: args.start });
    } else {
      if (!this.tree) throw new OpShapeError('cache_attention: created without a treeMask, cannot verify a tree');
      this.tree.record(rec, { nQ: args.nQ, committed: args.committed });
    }
  }
}

export function createCacheAttention(ctx: GpuContext, init: CacheAttentionInit): CacheAttention {
  return new CacheAttention(ctx, init);
}

export interface VisionAttentionInit {
  /** f32 [maxBatch * tokens, 3 * nHeads * headDim]: per row Q heads, K heads, V heads. */
  qkv: GpuTensor;
  /** f32 [maxBatch * tokens, nHeads * headDim]. */
  out: GpuTensor;
  nHeads: number;
  headDim: number;
  /** Tokens per image tile (1024 for SigLIP at 512 px / patch 16). */
  tokens: number;
  maxBatch: number;
  /** f32 [maxBatch, tokens]: HiRED score of each patch (mean attention received over queries and heads). */
  keyScores?: GpuTensor;
}

export class VisionAttention implements Op<{ batch: number }> {
  readonly name = 'vision_attention';
  private readonly op: Attention;
  private readonly tokens: number;

  constructor(ctx: GpuContext, init: VisionAttentionInit) {
    const { qkv, out, nHeads, headDim: d, tokens: T, maxBatch } = init;
    const row = 3 * nHeads * d;
    if (numel(qkv.shape) < maxBatch * T * row) throw new OpShapeError(`vision_attention: qkv holds fewer than ${maxBatch} x ${T} rows of ${row}`);
    this.tokens = T;
    const view = (off: number) => ({ t: qkv, offset: off, strideB: T * row, strideH: d, strideT: row });
    this.op = new Attention(ctx, {
      mode: 'full',
      nHeads,
      nKv: nHeads,
      headDim: d,
      q: { t: qkv, strideB: T * row, strideT: row },
      k: view(nHeads * d),
      v: view(2 * nHeads * d),
      out,
      maxQ: T,
      maxKeys: T,
      maxBatch,
      keyScores: init.keyScores,
    });
  }

  record(rec: Recorder, args: { batch: number }): void {
    this.op.record(rec, { nQ: this.tokens, batch: args.batch, nKeys: this.tokens });
  }
}

export function createVisionAttention(ctx: GpuContext, init: VisionAttentionInit): VisionAttention {
  return new VisionAttention(ctx, init);
}
