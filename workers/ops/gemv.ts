// GEMV op: y = W x (+ bias) for one token (decode). W is f32 [N, K] row-major, or a packed
// q4/q8 weight [N, K] (workers/storage/quant.ts). x and y are f32; per call, x and y may start
// at an element offset (e.g. the last row of a [T, K] activation) so the model can read only
// the positions it needs. The example of the op convention (workers/ops/README.md).
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type BufferBinding, type Recorder } from '../gpu/recorder';
import gemvF32Src from '../../shaders/gemv_f32.wgsl?raw';
import gemvQSrc from '../../shaders/gemv.wgsl?raw';
import gemmReduceSrc from '../../shaders/gemm_reduce.wgsl?raw';
import gemvVariantsSrc from '../../shaders/gemv_variants.wgsl?raw';
import gemvXq8Src from '../../shaders/gemv_xq8.wgsl?raw';
import type { KvLayer } from './kv-cache-ops';
import { bindScales, bindTensor, expectShape, grid2d, numel, OpShapeError, type GpuTensor, type Op } from './types';

/** Workgroup shape of the quantized GEMV (threads = tn * tk; rows per workgroup = tn * r). */
export interface GemvConfig {
  tn: number;
  tk: number;
  r: number;
  /** Groups of x staged in workgroup memory at a time. */
  chunk: number;
  /** Stage x in workgroup memory (default true); false reads x from the buffer. */
  xsmem?: boolean;
  /** Groups each thread loads per step: 1, 2, 4, 8 or 16 (default 1). */
  u?: number;
  /** Decode with the unpack4xU8/unpack4xI8 builtins instead of the exponent trick (needs caps.packed4x8). */
  unpackBuiltins?: boolean;
  /** q4 only: in-place nibble decode (no per-element shift; x staged pre-scaled), see gemv.wgsl. */
  q4InPlace?: boolean;
  /** Issue each chunk's first weight loads before staging x (needs r = 1 and x staged; see gemv.wgsl). */
  prefetch?: boolean;
  /**
   * Split-K: workgroups per row block, each covering 1/ksplit of K (default 1 = none). Ignored with
   * fuse.ropeKv (its epilogue needs whole sums).
   */
  ksplit?: number;
  /**
   * How split-K partial sums meet: 'pass' (default) writes partials [ksplit, N] to a scratch
   * buffer and a second dispatch (shaders/gemm_reduce.wgsl, M = 1) sums them with bias and residual add;
   * 'atomic' adds each slice into y with atomic float adds (only with fuse.accumulate: y += W x;
   * last-bit results vary with the order the slices land in).
   */
  ksplitReduce?: 'pass' | 'atomic';
  /**
   * q4 where the adapter has packed_4x8_integer_dot_product: x as int8 per group of 32
   * (shaders/xq8.wgsl), dot products as dot4I8Packed (4x fewer x reads, ~4x fewer instructions).
   * With x staged, each workgroup quantizes its chunk in workgroup memory; with xsmem false, a
   * dispatch before the GEMV quantizes the row once (shaders/gemv_xq8.wgsl, which also applies
   * fuse.norm / fuse.siluMul) and the GEMV reads it from the buffer with no staging or barrier.
   * LOSSY (activations rounded to 8 bits per group); ignored elsewhere.
   */
  xInt8?: boolean;
  /** With r = 2: read each x vector once for both rows of a thread (halves x reads per weight byte). */
  pairRows?: boolean;
  /**
   * Benchmark diagnostic, never for inference: q4 groups are not decoded (one integer op per
   * group instead of the dot product), so a sweep can time the same loads, staging, barriers and
   * reduction without the arithmetic. The result is not W x.
   */
  loadsOnly?: boolean;
}

export const GEMV_F32_WG = 256;
export const GEMV_F32_ROWS = 4;
/** Threads per quantized-GEMV workgroup when the adapter allows no more than WebGPU's default. */
export const GEMV_Q_WG = 256;
/** Threads per workgroup of the split-K second pass (one per output element). */
export const GEMV_REDUCE_WG = 128;
/** Threads per workgroup of the int8-x quantization before an xInt8 GEMV (one per group of 32). */
export const GEMV_XQ8_WG = 64;

/** A dispatch a Gemv records beside its main kernel (split-K reduction, int8-x quantization). */
type ExtraPass = { kernel: Kernel; bindGroup: GPUBindGroup; params: Uint32Array; workgroups: [number, number] };

/**
 * Process-wide GEMV routing switches, read when a Gemv is built. `splitK` (default off, see
 * splitKConfig) routes few-row long-K residual-add GEMVs to atomic split-K; benchmarks turn it on
 * to load a model beside the default one (tools/bench/bench.ts --compare-gemv).
 */
export const gemvRouting = { splitK: false };

/**
 * Default quantized workgroup shape, from the sweeps in tools/bench/kernels.ts (H200 and H100,
 * recorded in docs/BENCHMARKS.md): vocabulary-sized N wants 4 rows per thread (2 KB contiguous per warp
 * step, fewer workgroups staging x); long K wants more k-lanes and 2-4 groups in flight per
 * thread; small matrices are launch-bound and want many small workgroups. `maxWg` is the
 * adapter's maxComputeInvocationsPerWorkgroup (≥ 256 everywhere).
 */
export function defaultGemvConfig(n: number, k: number, maxWg = GEMV_Q_WG, software = false, accumulate = false): GemvConfig {
  const groups = k / 32;
  // CPU adapters (SwiftShader): workgroup barriers and staging dominate; 64 threads reading x
  // directly are ~9x faster there (576x1536 q4: 12 ms vs 105 ms).
  if (software) return { tn: 32, tk: 2, r: 1, u: 1, chunk: 64, xsmem: false };
  const split = gemvRouting.splitK ? splitKConfig(n, k, maxWg, accumulate) : null;
  if (split) return split;
  const fallback: GemvConfig = { tn: 16, tk: 16, r: 1, u: 2, chunk: 64 };
  // Vocabulary-sized: 4 rows per thread; 16 k-lanes where 512 threads are allowed (151936x896
  // on the H200, both sweeps of 2026-11-26: q8 3356 vs 3089 GB/s, q4 2106 vs 2027).
  if (n >= 32768) return { tn: 32, tk: maxWg >= 512 ? 16 : 8, r: 4, u: 1, chunk: 64 };
  // Few rows: spread K over many lanes (896x4864: 8 x 128 lanes is 2x faster than 32 x 16).
  if (n < 4096) {
    const tn = groups >= 128 ? 8 : 16;
    let tk = 1;
    while (tk * 2 <= Math.min(groups, maxWg / tn)) tk *= 2;
    return tn * tk >= 64 ? { tn, tk, r: 1, u: 1, chunk: 64 } : fallback;
  }
  // Mid-sized rows with long K: 32 rows x 16 lanes, 8 groups in flight per thread, 128 groups of
  // x staged at once, so each thread issues all its loads for a chunk in one step (11008x4096 q4,
  // H100 2026-11-26: 18.5 us against 20.2 for 32 x 32 lanes with 2 in flight); q4 with the
  // in-place nibble decode (1-3% less GPU time in both H200 runs; q8 ignores the flag).
  if (k >= 4096 && maxWg >= 512) return { tn: 32, tk: 16, r: 1, u: 8, chunk: 128, q4InPlace: true };
  // 32 rows x 32 lanes, 2 groups in flight per thread.
  if (k >= 2048 && maxWg >= 1024) return { tn: 32, tk: 32, r: 1, u: 2, chunk: 64 };
  return fallback;
}

/**
 * Split-K routing (only while gemvRouting.splitK is on; off by default). H200 sweeps of
 * 2026-11-26 with the GPU clocks held up (docs/BENCHMARKS.md "Kernels", third session): split-K
 * pays only for few rows with long K as y += W x (896x4864: 4 slices with atomic adds, 8.0 -> 7.2
 * µs of GPU time for q4, 7.9 -> 7.5 for q8); with a second pass, and for every other decode shape
 * measured (9728x896, 5120x960, 960x2560, 11008x4096, the 135M matrices), it is slower or level.
 * Off by default: decode is CPU-bound (no tok/s gain measured) and the atomic adds make the sums'
 * order, hence the last bits of the logits, vary from run to run.
 */
function splitKConfig(n: number, k: number, maxWg: number, accumulate: boolean): GemvConfig | null {
  if (accumulate && n < 4096 && k / 32 >= 128 && maxWg >= 1024) return { tn: 32, tk: 32, r: 1, u: 2, chunk: 64, q4InPlace: true, ksplit: 4, ksplitReduce: 'atomic' };
  return null;
}

/** What the GEMV does around its dot products (decode-path fusion; f32 W needs K % 4 == 0). */
export interface GemvFusion {
  /** x is the raw residual row: the GEMV sees rmsnorm(x) * weight (weight f32 [K]). */
  norm?: { weight: GpuTensor; eps: number };
  /** x holds [gate (K) | up (K)] from xOffset: the GEMV sees silu(gate) * up. */
  siluMul?: boolean;
  /** y += W x (+ bias) instead of y = W x: the residual add in the epilogue. */
  accumulate?: boolean;
  /**
   * W is a fused QKV weight [(nHeads + 2 nKv) headDim, K] (quantized): instead of writing y, apply
   * RoPE (table from createRopeTable) and write rotated Q to qOut [nHeads, headDim] and rotated K
   * and plain V into `cache` at the slot given to record() (also the position: sequential decode).
   */
  ropeKv?: { table: GpuTensor; qOut: GpuTensor; cache: KvLayer; nHeads: number };
}

export interface GemvInit {
  /** f32 / q4 / q8 [N, K]. */
  w: GpuTensor;
  /** f32, at least K elements (more when xOffset is used). */
  x: GpuTensor;
  /** f32, at least N elements. */
  y: GpuTensor;
  /** f32 [N]. */
  bias?: GpuTensor;
  /** Override the quantized workgroup shape (benchmarks). */
  config?: GemvConfig;
  fuse?: GemvFusion;
}

export interface GemvArgs {
  /** Element offset of x in its tensor (multiple of 4 for quantized W or vec4 f32 W). */
  xOffset?: number;
  /** Element offset of y in its tensor. */
  yOffset?: number;
  /** With fuse.ropeKv: the KV-cache slot (= position) this token goes to. */
  slot?: number;
}

/** Storage buffers a quantized GEMV binds (for checking maxStorageBuffersPerShaderStage first). */
export function gemvStorageBuffers(fuse: GemvFusion, bias: boolean): number {
  return (fuse.ropeKv ? 3 + 4 : 4) + (bias ? 1 : 0) + (fuse.norm ? 1 : 0);
}

export class Gemv implements Op<GemvArgs | void> {
  readonly name: string;
  readonly n: number;
  readonly k: number;
  readonly kernel: Kernel;
  private readonly bindGroup: GPUBindGroup;
  private readonly params = new Uint32Array(8);
  private readonly workgroups: [number, number];
  /** Split-K second pass (ksplit > 1 with 'pass'): kernel, bindings, params [M = 1, N, S = ksplit, y_off], grid. */
  private readonly reduce: ExtraPass | null = null;
  /**
   * int8-x quantization before the GEMV (xInt8 with x read from the buffer): kernel, bindings,
   * params [K, x_off, eps (f32), 0], grid; it writes xq, which the GEMV binds in place of x.
   */
  private readonly xq8: ExtraPass | null = null;
  /** Workgroups per row block along K (1 without split-K). */
  readonly ksplit: number = 1;
  private readonly vec4: boolean;
  private readonly xLen: number;
  private readonly yLen: number;
  /** Elements of x one call reads from xOffset (2K with fuse.siluMul). */
  private readonly xRow: number;
  private readonly eps: number;
  /** KV-cache slots with fuse.ropeKv (0 without). */
  private readonly maxSlot: number;

  constructor(
    readonly ctx: GpuContext,
    init: GemvInit,
  ) {
    const { w, x, y, bias, fuse = {} } = init;
    expectShape('gemv W', w, ['f32', 'q4', 'q8'], 2);
    const [n, k] = w.shape;
    this.n = n;
    this.k = k;
    this.xRow = fuse.siluMul ? 2 * k : k;
    if (x.dtype !== 'f32' || numel(x.shape) < this.xRow) throw new OpShapeError(`gemv: x [${x.shape.join(', ')}] ${x.dtype} cannot feed K = ${k}${fuse.siluMul ? ' (gate and up: 2K)' : ''}`);
    if (y.dtype !== 'f32' || numel(y.shape) < n) throw new OpShapeError(`gemv: y [${y.shape.join(', ')}] ${y.dtype} cannot hold N = ${n}`);
    if (bias && (bias.dtype !== 'f32' || numel(bias.shape) !== n)) throw new OpShapeError(`gemv: bias [${bias.shape.join(', ')}] is not f32 [${n}]`);
    if (fuse.norm && fuse.siluMul) throw new OpShapeError('gemv: fuse.norm and fuse.siluMul exclude each other');
    const nw = fuse.norm?.weight;
    if (nw && (nw.dtype !== 'f32' || numel(nw.shape) !== k)) throw new OpShapeError(`gemv: norm weight [${nw.shape.join(', ')}] is not f32 [${k}]`);
    if (nw && nw.buffer === x.buffer) throw new OpShapeError('gemv: norm weight must not alias x');
    if (fuse.accumulate && y.buffer === x.buffer) throw new OpShapeError('gemv: an accumulating y must not alias x');
    this.eps = fuse.norm?.eps ?? 0;
    const rk = fuse.ropeKv;
    this.maxSlot = rk ? rk.cache.maxSeq : 0;
    if (rk) {
      const { cache, nHeads, qOut, table } = rk;
      const hd = cache.headDim;
      if (w.dtype === 'f32') throw new OpShapeError('gemv: fuse.ropeKv needs a quantized W');
      if (fuse.accumulate) throw new OpShapeError('gemv: fuse.ropeKv and fuse.accumulate exclude each other');
      if (n !== (nHeads + 2 * cache.nKv) * hd) throw new OpShapeError(`gemv: ropeKv W has ${n} rows, not (${nHeads} + 2 x ${cache.nKv}) x ${hd}`);
      if ((hd & (hd - 1)) !== 0 || hd > ctx.caps.maxComputeInvocationsPerWorkgroup) throw new OpShapeError(`gemv: ropeKv head_dim ${hd} must be a power of two ≤ the workgroup size limit`);
      if (table.shape[1] !== hd || table.shape[0] < cache.maxSeq) throw new OpShapeError(`gemv: ropeKv table [${table.shape.join(', ')}] does not cover ${cache.maxSeq} positions of head_dim ${hd}`);
      if (numel(qOut.shape) < nHeads * hd) throw new OpShapeError('gemv: ropeKv qOut too small');
      const need = gemvStorageBuffers(fuse, !!bias);
      if (need > ctx.caps.maxStorageBuffersPerShaderStage) throw new OpShapeError(`gemv: ropeKv binds ${need} storage buffers, this GPU allows ${ctx.caps.maxStorageBuffersPerShaderStage}`);
    }
    const fusing = !!(fuse.norm || fuse.siluMul || fuse.accumulate || rk);
    const fuseDefines = { PRO_NORM: !!nw, PRO_SILU: !!fuse.siluMul, EPI_ADD: !!fuse.accumulate };
    const buffers: BufferBinding[] = [];
    /** The RMSNorm weight the main kernel binds (with the int8-x prologue, that dispatch applies it). */
    let mainNw = nw;
    /** What the main kernel binds as x (the int8 copy with the prologue). */
    let mainX: BufferBinding = bindTensor(x);
    if (w.dtype === 'f32') {
      this.vec4 = k % 4 === 0;
      if (fusing && !this.vec4) throw new OpShapeError(`gemv: fused f32 GEMV needs K % 4 == 0 (K = ${k})`);
      this.name = 'gemv_f32';
      this.kernel = ctx.pipelines.get({
        op: 'gemv_f32',
        source: gemvF32Src,
        workgroupSize: [GEMV_F32_WG, 1, 1],
        defines: { ROWS: GEMV_F32_ROWS, VEC4: this.vec4, HAS_BIAS: !!bias, ...fuseDefines, NW_BINDING: bias ? 5 : 4 },
        bindings: [...(['read', 'read', 'rw'] as const), ...(bias ? (['read'] as const) : []), ...(nw ? (['read'] as const) : [])],
      });
      buffers.push(bindTensor(w), bindTensor(x), bindTensor(y));
      this.workgroups = grid2d(ctx, Math.ceil(n / GEMV_F32_ROWS));
    } else {
      this.vec4 = true;
      const maxWg = ctx.caps.maxComputeInvocationsPerWorkgroup;
      let cfg = init.config ?? defaultGemvConfig(n, k, maxWg, ctx.caps.software, !!fuse.accumulate);
      if (rk) {
        // Whole heads per workgroup: head_dim rows, one per thread lane, k-lanes filling the rest.
        const hd = rk.cache.headDim;
        cfg = { ...cfg, tn: hd, r: 1, tk: Math.max(1, Math.min(maxWg, Math.max(cfg.tn * cfg.tk, hd)) / hd) };
      }
      const wg = cfg.tn * cfg.tk;
      const groups = k / 32;
      const ks = rk ? 1 : Math.max(1, Math.min(cfg.ksplit ?? 1, groups));
      if (!Number.isInteger(ks)) throw new OpShapeError(`gemv: ksplit ${cfg.ksplit} must be a whole number`);
      const atomic = ks > 1 && cfg.ksplitReduce === 'atomic';
      if (atomic && !fuse.accumulate) throw new OpShapeError("gemv: ksplitReduce 'atomic' needs fuse.accumulate (y += W x)");
      const partial = ks > 1 && !atomic;
      const kslice = Math.ceil(groups / ks);
      this.ksplit = ks;
      this.params[6] = kslice;
      if (![1, 2, 4, 8, 16].includes(cfg.u ?? 1)) throw new OpShapeError(`gemv: u = ${cfg.u} must be 1, 2, 4, 8 or 16`);
      if (wg > ctx.caps.maxComputeInvocationsPerWorkgroup || wg < 32 || (wg & (wg - 1)) !== 0) {
        throw new OpShapeError(`gemv: config ${cfg.tn}x${cfg.tk} needs a power-of-two workgroup of 32..${ctx.caps.maxComputeInvocationsPerWorkgroup} threads`);
      }
      const xInt8 = w.dtype === 'q4' && !!cfg.xInt8 && ctx.caps.packed4x8 && !cfg.pairRows;
      const xq8 = xInt8 && cfg.xsmem === false;
      if (xq8) {
        // The quantization dispatch reads x (and applies norm / silu); the GEMV reads only xq.
        const xq = ctx.buffers.create((k / 32) * 48, 'gemv.xq8');
        mainX = xq;
        mainNw = undefined;
        const kernel = ctx.pipelines.get({
          op: 'gemv_xq8',
          source: gemvXq8Src,
          workgroupSize: [GEMV_XQ8_WG, 1, 1],
          defines: { PRO_NORM: !!nw, PRO_SILU: !!fuse.siluMul, NO_Y: true },
          bindings: ['read', 'rw', ...(nw ? (['read'] as const) : [])],
        });
        const params = new Uint32Array([k, 0, 0, 0]);
        new Float32Array(params.buffer, 8, 1)[0] = this.eps;
        this.xq8 = {
          kernel,
          bindGroup: createBindGroup(ctx, kernel, [bindTensor(x), xq, ...(nw ? [bindTensor(nw)] : [])], `gemv_xq8 ${k}`),
          params,
          workgroups: grid2d(ctx, Math.ceil(k / 32 / GEMV_XQ8_WG)),
        };
      }
      this.name = `gemv_${w.dtype}`;
      this.kernel = ctx.pipelines.get({
        op: 'gemv_q',
        source: gemvQSrc,
        includes: { gemv_variants: gemvVariantsSrc },
        workgroupSize: [wg, 1, 1],
        defines: {
          QBITS: w.dtype === 'q4' ? 4 : 8, WQ: w.dtype === 'q4' ? 4 : 8, TN: cfg.tn, TK: cfg.tk, R: cfg.r, U: cfg.u ?? 1, XSMEM: cfg.xsmem ?? true,
          CHUNK: (cfg.xsmem ?? true) ? cfg.chunk : 1 << 24, HAS_BIAS: !!bias, UNPACK_BUILTINS: !!cfg.unpackBuiltins && ctx.caps.packed4x8,
          Q4_INPLACE: w.dtype === 'q4' && !!cfg.q4InPlace,
          LOADS_ONLY: !!cfg.loadsOnly,
          RPAIR: !!cfg.pairRows && cfg.r === 2,
          X_INT8: xInt8,
          PREFETCH: !!cfg.prefetch && cfg.r === 1 && (cfg.xsmem ?? true),
          ...fuseDefines,
          ...(xq8 ? { PRO_NORM: false, PRO_SILU: false } : {}),
          ...this.ropeDefines(rk, !!bias, !!mainNw),
          KSPLIT: ks,
          // Split-K: the partials carry no bias and no epilogue (gemm_reduce.wgsl adds them);
          // atomic adds go to y as bits after the other bindings (NO_Y).
          ...(partial ? { HAS_BIAS: false, EPI_ADD: false, NW_BINDING: 5, SPLIT_PART: true } : {}),
          ...(atomic ? { EPI_ADD: false, NO_Y: true, NW_BINDING: bias ? 5 : 4, SPLIT_ATOMIC: true, YA_BINDING: 4 + (bias ? 1 : 0) + (mainNw ? 1 : 0) } : {}),
        },
        bindings: [
          ...(['read', 'read', 'read'] as const),
          ...(rk || atomic ? [] : (['rw'] as const)),
          ...(bias && !partial ? (['read'] as const) : []),
          ...(mainNw ? (['read'] as const) : []),
          ...(rk ? (['read', 'rw', 'rw', 'rw'] as const) : []),
          ...(atomic ? (['rw'] as const) : []),
        ],
      });
      buffers.push(bindTensor(w), bindScales(w), mainX);
      const rowBlocks = Math.ceil(n / (cfg.tn * cfg.r));
      this.workgroups = grid2d(ctx, rowBlocks * ks);
      if (partial) {
        // Partials [ks, N] in a scratch buffer of this op; the second pass reads them.
        const part = ctx.buffers.create(ks * n * 4, 'gemv.partials');
        buffers.push(part);
        const reduceKernel = ctx.pipelines.get({
          op: 'gemm_reduce',
          source: gemmReduceSrc,
          workgroupSize: [GEMV_REDUCE_WG, 1, 1],
          defines: { HAS_BIAS: !!bias, EPI_ADD: !!fuse.accumulate },
          bindings: ['read', 'rw', ...(bias ? (['read'] as const) : [])],
        });
        const rb: BufferBinding[] = [part, bindTensor(y), ...(bias ? [bindTensor(bias)] : [])];
        this.reduce = {
          kernel: reduceKernel,
          bindGroup: createBindGroup(ctx, reduceKernel, rb, `gemv_reduce ${n}x${ks}`),
          params: new Uint32Array([1, n, ks, 0]),
          workgroups: grid2d(ctx, Math.ceil(n / GEMV_REDUCE_WG)),
        };
      } else if (!rk && !atomic) {
        buffers.push(bindTensor(y));
      }
    }
    if (bias && !this.reduce) buffers.push(bindTensor(bias));
    if (mainNw) buffers.push(bindTensor(mainNw));
    if (rk) buffers.push(bindTensor(rk.table), bindTensor(rk.qOut), bindTensor(rk.cache.k), bindTensor(rk.cache.v));
    if (this.ksplit > 1 && !this.reduce) buffers.push(bindTensor(y)); // atomic split-K: y last
    const split = this.ksplit > 1 ? `+k${this.ksplit}${this.reduce ? '' : 'atomic'}` : '';
    const label = `${this.name} ${n}x${k}${this.xq8 ? '+xq8' : ''}${nw ? '+norm' : ''}${fuse.siluMul ? '+silu' : ''}${fuse.accumulate ? '+add' : ''}${rk ? '+rope_kv' : ''}${split}`;
    this.bindGroup = createBindGroup(ctx, this.kernel, buffers, label); // profiles name dispatches by it
    this.xLen = numel(x.shape);
    this.yLen = numel(y.shape);
    this.params[0] = n;
    this.params[1] = k;
    new Float32Array(this.params.buffer, 16, 1)[0] = this.eps;
  }

  /** Defines for the quantized kernel's bindings after x (NO_Y + RoPE epilogue with ropeKv). */
  private ropeDefines(rk: GemvFusion['ropeKv'], bias: boolean, nw: boolean): Record<string, number | string | boolean> {
    if (!rk) return { NW_BINDING: bias ? 6 : 5 };
    const next = 4 + (bias ? 1 : 0) + (nw ? 1 : 0); // qw 1, scales 2, x 3, [bias], [nw], then the RoPE buffers
    const { cache, nHeads } = rk;
    return {
      NO_Y: true, EPI_ROPE: true, NW_BINDING: bias ? 5 : 4,
      ROPE_BINDING: next, QO_BINDING: next + 1, KC_BINDING: next + 2, VC_BINDING: next + 3,
      HEAD_DIM: `${cache.headDim}u`, NQ: `${nHeads}u`, NKV: `${cache.nKv}u`, MAX_SEQ: `${cache.maxSeq}u`,
    };
  }

  record(rec: Recorder, args: GemvArgs | void): void {
    const xOff = args?.xOffset ?? 0;
    const yOff = args?.yOffset ?? 0;
    if (this.vec4 && xOff % 4 !== 0) throw new OpShapeError(`${this.name}: xOffset ${xOff} must be a multiple of 4`);
    if (xOff + this.xRow > this.xLen || yOff + this.n > this.yLen) throw new OpShapeError(`${this.name}: offsets x ${xOff} / y ${yOff} run past the tensors`);
    const p = this.params; // [N, K, x_off, y_off, eps (f32), slot, pad x2]; N, K, eps set once
    p[2] = this.xq8 ? 0 : xOff;
    p[3] = yOff;
    if (this.maxSlot > 0) {
      const slot = args?.slot ?? -1;
      if (!(Number.isInteger(slot) && slot >= 0 && slot < this.maxSlot)) throw new OpShapeError(`${this.name}: ropeKv slot ${slot} outside the cache's 0..${this.maxSlot - 1}`);
      p[5] = slot;
    }
    const q = this.xq8;
    if (q) {
      q.params[1] = xOff;
      rec.dispatch(q.kernel, q.bindGroup, q.params, q.workgroups[0], q.workgroups[1]);
    }
    this.recordMain(rec, p);
  }

  /**
   * The GEMV dispatch (and split-K's second pass) alone, without the int8-x quantization before
   * it: for benchmarks that time the two apart; inference calls record().
   */
  recordMain(rec: Recorder, p = this.params): void {
    rec.dispatch(this.kernel, this.bindGroup, p, this.workgroups[0], this.workgroups[1]);
    const r = this.reduce;
    if (r) {
      r.params[3] = p[3];
      rec.dispatch(r.kernel, r.bindGroup, r.params, r.workgroups[0], r.workgroups[1]);
    }
  }
}

export function createGemv(ctx: GpuContext, init: GemvInit): Gemv {
  return new Gemv(ctx, init);
}
