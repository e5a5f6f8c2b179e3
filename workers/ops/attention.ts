// Attention op family over one WGSL source (shaders/attention.wgsl), variant key = (mask mode,
// head_dim, kernel entry, stats). Modes:
//   causal  prefill (flash kernel) and decode / short chunks (split-K kernel) over the KV cache
//   tree    PPD verification: nodes see the committed cache [0, L) and their ancestors (bitmask)
// Decode over 65..ATTN_SINGLE_MAX_KEYS keys (≤ ATTN_SINGLE_MAX_Q queries) and trees of ≤ 16 nodes
// over ≤ ATTN_SINGLE_TREE_MAX_KEYS keys run one 256-thread workgroup per (query, head) over all
// keys: one dispatch, no combine pass (a layer's attention was split + combine = 2 dispatches from
// 65 cache slots on; trees always were). Limits from an H200 sweep (docs/BENCHMARKS.md).
//   full    bidirectional (vision encoder), batched; optionally HiRED per-key scores (mean
//           attention received over queries and heads) from a second pass over saved softmax stats
// Inputs are addressed by element offsets and strides, so Q/K/V can come straight from a fused
// QKV buffer ([B*T, 3*H*d]) or from the KV cache ([nKv, maxSeq, d], kv-cache-ops.ts).
// Output is always contiguous [B, nQ, nHeads, d]. Softmax scale defaults to 1/sqrt(d).
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type BufferBinding, type Recorder } from '../gpu/recorder';
import attnSrc from '../../shaders/attention.wgsl?raw';
import { bindTensor, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

export type AttentionMode = 'causal' | 'tree' | 'full';

export const ATTN_WG = 64;
/** Keys per split workgroup: a power of two in [ATTN_MIN_CHUNK, ATTN_MAX_CHUNK] (MAX_CHUNK in the shader). */
export const ATTN_MIN_CHUNK = 64;
export const ATTN_MAX_CHUNK = 1024;
/** At most this many key chunks per row (bounds the partials scratch). */
export const ATTN_MAX_CHUNKS = 32;
/** Split-over-keys aims for at least this many workgroups, so short query blocks fill the GPU. */
export const ATTN_SPLIT_TARGET_WG = 256;
/** Causal calls with at most this many queries use the per-query split kernel (decode). */
export const ATTN_SPLIT_MAX_Q = 4;
/** One-dispatch decode / small-tree attention: threads per workgroup, most keys (causal, tree), most queries. */
export const ATTN_SINGLE_WG = 256;
export const ATTN_SINGLE_MAX_KEYS = 320;
export const ATTN_SINGLE_TREE_MAX_KEYS = 1024;
export const ATTN_SINGLE_MAX_Q = 16;
/**
 * Benchmark switch (tools/bench/bench.ts --compare-prefill): `legacy` restores the routing before
 * the one-dispatch path (split + combine from 65 keys on, trees always through flash).
 */
export const attentionRouting = { legacy: false, singleMaxKeys: ATTN_SINGLE_MAX_KEYS, singleTreeMaxKeys: ATTN_SINGLE_TREE_MAX_KEYS, singleMaxQ: ATTN_SINGLE_MAX_Q };
/** Per (batch, head): query rows x partial slots the partials scratch holds. */
export const ATTN_SPLIT_ROWS = 8192;
/** Flash lanes per query (threads splitting each K/V tile's keys) when partials are combined. */
export const ATTN_FLASH_LANES = 4;
/** Flash uses lanes only when a workgroup's key chunk is at least this long. */
export const ATTN_LANES_MIN_CHUNK = 256;

/** Keys per chunk for `rows` independent (query block, head) rows over nKeys keys (power of two >= min). */
export function splitChunk(nKeys: number, rows: number, min = ATTN_MIN_CHUNK): number {
  const target = Math.max(1, Math.ceil(ATTN_SPLIT_TARGET_WG / rows));
  let c = min;
  while (c < ATTN_MAX_CHUNK && (c * target < nKeys || Math.ceil(nKeys / c) > ATTN_MAX_CHUNKS)) c *= 2;
  return c;
}

/**
 * Unroll each one-line `for (var c = 0u; c < NAME; c++) { body }` that follows a `// @unroll`
 * line into `{ const c = 0u; body } { const c = 1u; body } ...`, NAME taken from `bounds`.
 * Constant indices keep the flash kernel's per-thread vec4 arrays in registers.
 */
export function unrollLoops(src: string, bounds: Readonly<Record<string, number>>): string {
  const lines = src.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '// @unroll') {
      out.push(lines[i]);
      continue;
    }
    const m = /^(\s*)for \(var (\w+) = 0u; \2 < (\w+); \2\+\+\) \{ (.*) \}\s*$/.exec(lines[i + 1] ?? '');
    const n = m ? bounds[m[3]] : undefined;
    if (!m || n === undefined) throw new OpShapeError(`attention: cannot unroll line ${i + 2}: "${lines[i + 1]?.trim()}"`);
    out.push(m[1] + Array.from({ length: n }, (_, k) => `{ const ${m[2]} = ${k}u; ${m[4]} }`).join(' '));
    i++;
  }
  return out.join('\n');
}

// Scratch for partial results, shared by every attention op of a context (they run one after
// another on the queue), grown when a bigger one is needed.
const scratch = new WeakMap<GpuContext, Map<string, GPUBuffer>>();
function sharedScratch(ctx: GpuContext, label: string, bytes: number): GPUBuffer {
  let m = scratch.get(ctx);
  if (!m) scratch.set(ctx, (m = new Map()));
  const have = m.get(label);
  if (have && have.size >= bytes) return have;
  const buf = ctx.buffers.create(Math.max(bytes, 16), label);
  m.set(label, buf);
  return buf;
}

/** Tree verification supports up to this many nodes. */
export const ATTN_MAX_TREE = 64;

/** A strided view of Q (per row: heads contiguous, head h at column h * d). Elements. */
export interface QView {
  t: GpuTensor;
  offset?: number;
  /** Elements between batch items (default nQ * strideT, i.e. the call's rows). */
  strideB?: number;
  /** Elements between rows (tokens). */
  strideT: number;
}

/** A strided view of K or V: element (b, kvh, j, c) at offset + b*strideB + kvh*strideH + j*strideT + c. */
export interface KvView {
  t: GpuTensor;
  offset?: number;
  strideB?: number;
  strideH: number;
  strideT: number;
}

export interface AttentionInit {
  mode: AttentionMode;
  nHeads: number;
  nKv: number;
  headDim: number;
  q: QView;
  k: KvView;
  v: KvView;
  /** f32, >= maxBatch * maxQ * nHeads * headDim: out[b, i, h, c]. */
  out: GpuTensor;
  /** Most queries (rows) per batch item in one call. */
  maxQ: number;
  /** Most key slots a call may touch (cache max_seq, or T for vision). */
  maxKeys: number;
  maxBatch?: number;
  /** tree: u32 [maxQ * ceil(maxQ / 32)] ancestor bitmask, ceil(nQ/32) words per node per call. */
  mask?: GpuTensor;
  /** full: f32 [maxBatch, maxKeys], receives HiRED per-key scores each call. */
  keyScores?: GpuTensor;
  scale?: number;
  /** Tests: use 4 flash lanes whenever flash splits over keys (normally only for long chunks). */
  forceLanes?: boolean;
  /** Tests: threads of the one-dispatch kernel (default 256; 64 on CPU adapters). */
  singleWg?: number;
}

export interface AttentionArgs {
  /** Queries per batch item. */
  nQ: number;
  batch?: number;
  /** causal: position (= cache slot) of query 0; keys [0, start + nQ). */
  start?: number;
  /** tree: committed cache length L; the nQ nodes sit in slots L .. L + nQ - 1. */
  committed?: number;
  /** full: number of keys (default nQ). */
  nKeys?: number;
}

interface Variant {
  kernel: Kernel;
  group: GPUBindGroup;
}

export class Attention implements Op<AttentionArgs> {
  readonly name: string;
  private readonly flash?: Variant;
  private readonly flashLanes?: Variant;
  private readonly split?: Variant;
  private readonly single?: Variant;
  private readonly singleWg: number;
  private readonly combine?: Variant;
  private readonly scores?: Variant;
  private readonly keysum?: Variant;
  private readonly scale: number;

  constructor(
    readonly ctx: GpuContext,
    readonly init: AttentionInit,
  ) {
    const { mode, nHeads, nKv, headDim: d, q, k, v, out, maxQ, maxKeys } = init;
    const maxBatch = init.maxBatch ?? 1;
    this.name = `attention_${mode}`;
    if (nKv < 1 || nHeads % nKv !== 0) throw new OpShapeError(`attention: ${nHeads} heads is not a multiple of ${nKv} kv heads`);
    if (d % 4 !== 0 || 1024 % d !== 0) throw new OpShapeError(`attention: head_dim ${d} unsupported (use 32, 64 or 128)`);
    for (const [name, x] of [['q', q], ['k', k], ['v', v]] as const) {
      const vals = [x.offset ?? 0, x.strideB ?? 0, x.strideT, 'strideH' in x ? x.strideH : 0];
      if (vals.some((n) => n % 4 !== 0)) throw new OpShapeError(`attention: ${name} offset/strides must be multiples of 4 elements`);
      if (x.t.dtype !== 'f32') throw new OpShapeError(`attention: ${name} must be f32`);
    }
    if (numel(out.shape) < maxBatch * maxQ * nHeads * d) throw new OpShapeError('attention: out too small for maxBatch * maxQ * nHeads * headDim');
    if (mode === 'tree') {
      if (!init.mask) throw new OpShapeError('attention: tree mode needs a mask tensor');
      if (maxQ > ATTN_MAX_TREE) throw new OpShapeError(`attention: tree of ${maxQ} nodes, at most ${ATTN_MAX_TREE}`);
    }
    if (init.keyScores && mode !== 'full') throw new OpShapeError('attention: keyScores need mode "full"');
    if (init.keyScores && numel(init.keyScores.shape) < maxBatch * maxKeys) throw new OpShapeError('attention: keyScores too small');
    this.scale = init.scale ?? 1 / Math.sqrt(d);
    if (maxKeys > ATTN_MAX_CHUNK * ATTN_MAX_CHUNKS) throw new OpShapeError(`attention: ${maxKeys} keys, at most ${ATTN_MAX_CHUNK * ATTN_MAX_CHUNKS}`);

    const splits = mode !== 'full';
    const useFlash = !(mode === 'causal' && maxQ <= ATTN_SPLIT_MAX_Q);
    const splitRows = maxBatch * nHeads * ATTN_SPLIT_ROWS;
    const statsLen = Math.max(splits ? splitRows : 0, init.keyScores ? maxBatch * maxQ * nHeads : 0, 2);
    const stats: BufferBinding = sharedScratch(ctx, 'attn.stats', statsLen * 8);
    const part: BufferBinding = sharedScratch(ctx, 'attn.part', (splits ? splitRows * d : 4) * 4);
    const maskB: BufferBinding = init.mask ? bindTensor(init.mask) : ctx.buffers.create(16, 'attn.nomask');
    // keyscores: per-head sums [maxBatch, nHeads, maxKeys]
    const aux: BufferBinding = sharedScratch(ctx, 'attn.aux', (init.keyScores ? maxBatch * nHeads * maxKeys : 4) * 4);
    const base: BufferBinding[] = [bindTensor(q.t), bindTensor(k.t), bindTensor(v.t), bindTensor(out), maskB, stats];
    const make = (entryPoint: string, stat: boolean, last: BufferBinding, lanes = 1, wg = ATTN_WG * lanes): Variant => {
      const kernel = ctx.pipelines.get({
        op: 'attention',
        source: unrollLoops(attnSrc, { D4: d / 4 }),
        entryPoint,
        workgroupSize: [wg, 1, 1],
        defines: { HEAD_DIM: `${d}u`, MASK: mode, STATS: stat, KSPLIT: `${lanes}u` },
        bindings: ['read', 'read', 'read', 'rw', 'read', 'rw', 'rw', 'rw'],
      });
      return { kernel, group: createBindGroup(ctx, kernel, [...base, last, aux], `${this.name}.${entryPoint}`) };
    };
    if (useFlash) this.flash = make('flash', !!init.keyScores, part);
    if (useFlash && splits) this.flashLanes = make('flash', false, part, ATTN_FLASH_LANES);
    if (mode === 'causal') this.split = make('split', false, part);
    // CPU adapters: 64 threads (barriers there cost per thread), i.e. the split kernel's one-chunk case
    this.singleWg = init.singleWg ?? (ctx.caps.software ? ATTN_WG : ATTN_SINGLE_WG);
    if (![64, 128, 256].includes(this.singleWg)) throw new OpShapeError(`attention: singleWg ${this.singleWg} must be 64, 128 or 256`);
    if (splits) this.single = make('split', false, part, 1, this.singleWg);
    if (splits) this.combine = make('combine', false, part);
    if (init.keyScores) {
      this.scores = make('keyscores', true, part);
      this.keysum = make('keysum', true, bindTensor(init.keyScores));
    }
  }

  record(rec: Recorder, args: AttentionArgs): void {
    const { mode, nHeads, nKv, headDim: d, q, k, v, maxQ, maxKeys } = this.init;
    const nQ = args.nQ;
    const batch = args.batch ?? 1;
    if (nQ < 1 || nQ > maxQ) throw new OpShapeError(`${this.name}: ${nQ} queries, op sized for ${maxQ}`);
    if (batch > (this.init.maxBatch ?? 1)) throw new OpShapeError(`${this.name}: batch ${batch} exceeds ${this.init.maxBatch ?? 1}`);
    let start = 0;
    let nKeys: number;
    if (mode === 'causal') {
      start = args.start ?? 0;
      nKeys = start + nQ;
    } else if (mode === 'tree') {
      start = args.committed ?? 0;
      nKeys = start + nQ;
    } else {
      nKeys = args.nKeys ?? nQ;
    }
    if (nKeys > maxKeys) throw new OpShapeError(`${this.name}: ${nKeys} keys exceed the ${maxKeys} the op was sized for`);
    // kernel: per-query split over keys (decode); flash with 4 lanes per query and a split over
    // keys (tree, prefill chunks: fills the GPU, balances the causal triangle), within the
    // partials budget; plain flash (full attention, or very long query blocks)
    // one workgroup per (query, head) over every key: decode and small trees at short contexts
    // (causal over ≤ 64 keys: the split kernel's one 64-thread chunk, also one dispatch, is faster)
    const maxKeys1 = mode === 'tree' ? attentionRouting.singleTreeMaxKeys : attentionRouting.singleMaxKeys;
    const single =
      !attentionRouting.legacy && mode !== 'full' && nQ <= attentionRouting.singleMaxQ && nKeys <= Math.min(maxKeys1, ATTN_MAX_CHUNK) && (mode === 'tree' || nKeys > ATTN_MIN_CHUNK);
    const perQuery = !single && mode === 'causal' && nQ <= ATTN_SPLIT_MAX_Q;
    const qBlocks = Math.ceil(nQ / ATTN_WG);
    let chunk = Math.max(nKeys, 1);
    let lanes = 1;
    if (single) {
      chunk = Math.ceil(nKeys / this.singleWg) * this.singleWg;
    } else if (perQuery) {
      chunk = splitChunk(nKeys, nHeads * batch * nQ);
    } else if (mode !== 'full' && nQ <= ATTN_SPLIT_ROWS) {
      chunk = splitChunk(nKeys, nHeads * batch * qBlocks, 1024 / d);
      const fit = (l: number) => {
        const maxChunks = Math.max(1, Math.floor(ATTN_SPLIT_ROWS / (nQ * l)));
        while (Math.ceil(nKeys / chunk) > maxChunks) chunk *= 2;
      };
      fit(1);
      // long chunks (big prefill blocks): 4 lanes per query shorten each thread's key chain;
      // short ones (tree, decode-sized blocks) gain nothing and would pay for 4x the partials
      if ((chunk >= ATTN_LANES_MIN_CHUNK || this.init.forceLanes) && nQ * ATTN_FLASH_LANES <= ATTN_SPLIT_ROWS) {
        lanes = ATTN_FLASH_LANES;
        fit(lanes);
      }
    }
    const nChunks = Math.ceil(nKeys / chunk) * lanes;
    const u = [
      nQ, nHeads, nKv, nKeys,
      q.offset ?? 0, q.strideB ?? nQ * q.strideT, q.strideT, start,
      k.offset ?? 0, k.strideB ?? 0, k.strideH, k.strideT,
      v.offset ?? 0, v.strideB ?? 0, v.strideH, v.strideT,
      nQ * nHeads * d, nHeads * d, nChunks, Math.ceil(nQ / 32),
      chunk,
    ];
    const params = packParams(u, [this.scale]);
    if (single) {
      rec.dispatch(this.single!.kernel, this.single!.group, params, 1, nHeads, batch * nQ);
    } else if (perQuery) {
      rec.dispatch(this.split!.kernel, this.split!.group, params, nChunks, nHeads, batch * nQ);
    } else if (lanes > 1) {
      rec.dispatch(this.flashLanes!.kernel, this.flashLanes!.group, params, nChunks / lanes, nHeads, batch * qBlocks);
    } else {
      rec.dispatch(this.flash!.kernel, this.flash!.group, params, nChunks, nHeads, batch * qBlocks);
    }
    if (nChunks > 1) rec.dispatch(this.combine!.kernel, this.combine!.group, params, nHeads, batch * nQ);
    if (this.scores && this.keysum) {
      rec.dispatch(this.scores.kernel, this.scores.group, params, Math.ceil(nKeys / ATTN_WG), nHeads, batch);
      rec.dispatch(this.keysum.kernel, this.keysum.group, params, Math.ceil(nKeys / ATTN_WG), batch);
    }
  }
}

export function createAttention(ctx: GpuContext, init: AttentionInit): Attention {
  return new Attention(ctx, init);
}
