// Tiled GEMM op: Y[M, N] = X[M, K] W^T (+ bias) for prefill and the vision encoder. X f32
// row-major; W f32 [N, K] row-major or packed q4/q8 [N, K] (dequantized in the tile load).
// shaders/gemm.wgsl, 4 x 8 outputs per thread, tile BM x BN x 16 chosen per call (gemmPlan):
// 64 x 128 (256 threads) from 512 rows on, 32 x 128 (128 threads) below, and split-K whenever the
// tile grid alone is under GEMM_TARGET_WG workgroups: the K loop is cut into S slices of whole
// 32-groups, each workgroup writes raw partials [S, M, N] to a per-context scratch and a second
// dispatch (shaders/gemm_reduce.wgsl) sums them and applies bias / GELU. Before this, a
// 128-token prefill ran 10-48 workgroups each walking all of K, as slow as 1024 tokens; the
// rule follows an H200 sweep of tiles x slices at the models' shapes (docs/BENCHMARKS.md).
// On CPU adapters (SwiftShader) small products (≤ 4M multiply-adds, e.g. tiny test models) use a
// barrier-free one-output-per-thread kernel (shaders/gemm_simple.wgsl), larger ones the 64 x 128
// tile without split (few cores: more workgroups only cost). `simple` / `plan` force a kernel.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import gemmSrc from '../../shaders/gemm.wgsl?raw';
import gemmSimpleSrc from '../../shaders/gemm_simple.wgsl?raw';
import gemmReduceSrc from '../../shaders/gemm_reduce.wgsl?raw';
import type { GemmArgs } from './gemm-skinny';
import { bindScales, bindTensor, expectShape, grid2d, numel, OpShapeError, type GpuTensor, type Op } from './types';

/** Threads per tile: tx * ty; the tile is (4 * ty) rows x (8 * tx) columns. */
export interface GemmTile {
  tx: number;
  ty: number;
}
export const GEMM_TILE_LARGE: GemmTile = { tx: 16, ty: 16 }; // 64 x 128
export const GEMM_TILE_SMALL: GemmTile = { tx: 16, ty: 8 }; // 32 x 128

/**
 * Tile and split-K for one call; splits = 1 is the one-pass kernel with its own epilogue.
 * prefetch: the next K tile's global loads are issued before the current tile's multiply-adds.
 */
export interface GemmPlan {
  tile: GemmTile;
  splits: number;
  prefetch?: boolean;
}

/** Workgroups the planner aims for (2-3 per SM on a 132-SM H100 / H200: best in the sweep). */
export const GEMM_TARGET_WG = 300;
/** Rows from which the 64 x 128 tile beats 32 x 128 (more reuse per loaded tile). */
export const GEMM_LARGE_MIN_M = 512;
/** Most K slices (16 only reachable for K ≥ 1024: a 576x1536 product at M = 8-128 runs 10-20% faster than with 8). */
export const GEMM_MAX_SPLITS = 16;
/** K per split slice is at least this (4 tile steps), a multiple of 32 (quantization groups). */
export const GEMM_MIN_SLICE = 64;
/** Shared split-K partials scratch per context (f32 [S, M, N] must fit). */
export const GEMM_SPLIT_SCRATCH_BYTES = 16 << 20;

/**
 * Benchmark switches (tools/bench/bench.ts --compare-prefill), read at record time so one loaded
 * model can time both: `legacy` restores the routing before split-K (64 x 128 tile for every M,
 * no prefetch); `prefetch` is the planner's prefetch setting (off: measured slower end to end on an
 * H200, e.g. Qwen2-0.5B q4 prefill 512 tokens 22.1k vs 27.1k tok/s, and up to 1.5x slower per call
 * at M ≥ 512; kept for sweeps).
 */
export const gemmRouting = { legacy: false, prefetch: false };

export function tileRows(t: GemmTile): number {
  return 4 * t.ty;
}
export function tileCols(t: GemmTile): number {
  return 8 * t.tx;
}
function tileGrid(t: GemmTile, m: number, n: number): number {
  return Math.ceil(m / tileRows(t)) * Math.ceil(n / tileCols(t));
}

/** K elements per slice for `splits` slices: a multiple of 32. */
export function splitChunkK(k: number, splits: number): number {
  return Math.ceil(k / splits / 32) * 32;
}

/**
 * Tile / split-K for an M x N x K product on a GPU adapter: 64 x 128 from GEMM_LARGE_MIN_M rows,
 * else 32 x 128; then the fewest slices (1, 2, 4, 8, 16) that bring the grid to GEMM_TARGET_WG
 * workgroups, within slices of ≥ GEMM_MIN_SLICE and partials that fit the scratch (the most
 * allowed when none reaches it). K % 32 != 0 (f32 only) never splits.
 */
export function gemmPlan(m: number, n: number, k: number): GemmPlan {
  if (gemmRouting.legacy) return { tile: GEMM_TILE_LARGE, splits: 1 };
  const tile = m >= GEMM_LARGE_MIN_M ? GEMM_TILE_LARGE : GEMM_TILE_SMALL;
  const prefetch = gemmRouting.prefetch;
  const grid = tileGrid(tile, m, n);
  if (k % 32 !== 0) return { tile, splits: 1, prefetch };
  let splits = 1;
  while (
    grid * splits < GEMM_TARGET_WG &&
    splits * 2 <= GEMM_MAX_SPLITS &&
    k / (splits * 2) >= GEMM_MIN_SLICE &&
    splits * 2 * m * n * 4 <= GEMM_SPLIT_SCRATCH_BYTES
  ) {
    splits *= 2;
  }
  return { tile, splits: Math.ceil(k / splitChunkK(k, splits)), prefetch };
}

export interface GemmInit {
  /** f32 / q4 / q8 [N, K]. */
  w: GpuTensor;
  /** f32, at least maxM * K elements. */
  x: GpuTensor;
  /** f32, at least maxM * N elements. */
  y: GpuTensor;
  bias?: GpuTensor;
  /** Most rows a call will pass. */
  maxM: number;
  /** Force the barrier-free kernel on or off (default: CPU adapters, small products). */
  simple?: boolean;
  /** Force a tile / split-K for every call (tests, benchmarks); default gemmPlan (GPU adapters). */
  plan?: GemmPlan;
  /** y = gelu_tanh(X W^T + b) (SigLIP's fc1 with its activation fused). */
  gelu?: boolean;
}

export const GEMM_SIMPLE_WG = 64;
export const GEMM_REDUCE_WG = 256;
const SIMPLE_MAX_MACS = 1 << 22;

// Split-K partials, shared by every GEMM of a context (they run one after another on the queue).
const scratch = new WeakMap<GpuContext, GPUBuffer>();
function splitScratch(ctx: GpuContext): GPUBuffer {
  let b = scratch.get(ctx);
  if (!b) scratch.set(ctx, (b = ctx.buffers.create(GEMM_SPLIT_SCRATCH_BYTES, 'gemm.splitk')));
  return b;
}

type Variant = { kernel: Kernel; bindGroup: GPUBindGroup };

export class Gemm implements Op<GemmArgs> {
  readonly name: string;
  readonly n: number;
  readonly k: number;
  private readonly kernels = new Map<string, Variant>();
  private readonly params = new Uint32Array(8);
  private readonly reduceParams = new Uint32Array(4);
  private readonly xLen: number;
  private readonly yLen: number;

  constructor(
    readonly ctx: GpuContext,
    private readonly init: GemmInit,
  ) {
    const { w, x, y, bias, maxM, plan } = init;
    expectShape('gemm W', w, ['f32', 'q4', 'q8'], 2);
    const [n, k] = w.shape;
    this.n = n;
    this.k = k;
    this.name = `gemm_${w.dtype}`;
    this.xLen = numel(x.shape);
    this.yLen = numel(y.shape);
    if (!(maxM >= 1)) throw new OpShapeError(`${this.name}: maxM ${maxM} must be ≥ 1`);
    if (x.dtype !== 'f32' || this.xLen < maxM * k) throw new OpShapeError(`${this.name}: x [${x.shape.join(', ')}] cannot hold ${maxM} x ${k}`);
    if (y.dtype !== 'f32' || this.yLen < maxM * n) throw new OpShapeError(`${this.name}: y [${y.shape.join(', ')}] cannot hold ${maxM} x ${n}`);
    if (bias && (bias.dtype !== 'f32' || numel(bias.shape) !== n)) throw new OpShapeError(`${this.name}: bias is not f32 [${n}]`);
    if (Math.ceil(maxM / tileRows(GEMM_TILE_SMALL)) > ctx.caps.maxComputeWorkgroupsPerDimension) throw new OpShapeError(`${this.name}: maxM ${maxM} needs too many row tiles`);
    if (plan) {
      const { tx, ty } = plan.tile;
      if (![tx, ty].every((v) => v >= 1 && (v & (v - 1)) === 0) || tx * ty > ctx.caps.maxComputeInvocationsPerWorkgroup) throw new OpShapeError(`${this.name}: tile ${tx}x${ty} threads unsupported`);
      if (plan.splits > 1 && k % 32 !== 0) throw new OpShapeError(`${this.name}: split-K needs K % 32 == 0 (K = ${k})`);
    }
  }

  // vec4 loads need every row start 4-aligned: K % 4 == 0 and a 4-aligned x offset.
  private variant(vec4: boolean, kind: 'simple' | 'reduce' | GemmPlan): Variant {
    const key = typeof kind === 'string' ? `${kind}/${vec4}` : `${kind.tile.tx}x${kind.tile.ty}/${kind.splits > 1}/${!!kind.prefetch}/${vec4}`;
    let v = this.kernels.get(key);
    if (v) return v;
    const { w, x, y, bias, gelu } = this.init;
    const wq = w.dtype === 'q4' ? 4 : w.dtype === 'q8' ? 8 : 0;
    const epilogue = { HAS_BIAS: !!bias, GELU: !!gelu };
    const bias1 = bias ? (['read'] as const) : [];
    if (kind === 'reduce') {
      const kernel = this.ctx.pipelines.get({ op: 'gemm_reduce', source: gemmReduceSrc, workgroupSize: [GEMM_REDUCE_WG, 1, 1], defines: epilogue, bindings: ['read', 'rw', ...bias1] });
      const bufs = [splitScratch(this.ctx), bindTensor(y), ...(bias ? [bindTensor(bias)] : [])];
      v = { kernel, bindGroup: createBindGroup(this.ctx, kernel, bufs, `${this.name}.reduce`) };
    } else {
      const simple = kind === 'simple';
      const split = !simple && kind.splits > 1;
      const tile = simple ? GEMM_TILE_LARGE : kind.tile;
      // the split kernel writes raw partials into the scratch (bound as y) and has no epilogue
      const kernel = this.ctx.pipelines.get({
        op: simple ? 'gemm_simple' : 'gemm',
        source: simple ? gemmSimpleSrc : gemmSrc,
        workgroupSize: [simple ? GEMM_SIMPLE_WG : tile.tx * tile.ty, 1, 1],
        defines: { WQ: wq, VEC4: vec4, TX: `${tile.tx}u`, TY: `${tile.ty}u`, SPLITK: split, PREFETCH: typeof kind === 'object' && !!kind.prefetch, HAS_BIAS: !split && !!bias, GELU: !split && !!gelu },
        bindings: [...(wq ? (['read', 'read'] as const) : (['read'] as const)), 'read', 'rw', ...(split ? [] : bias1)],
      });
      const out = split ? splitScratch(this.ctx) : bindTensor(y);
      const bufs = wq ? [bindTensor(w), bindScales(w), bindTensor(x), out] : [bindTensor(w), bindTensor(x), out];
      if (bias && !split) bufs.push(bindTensor(bias));
      v = { kernel, bindGroup: createBindGroup(this.ctx, kernel, bufs, this.name) };
    }
    this.kernels.set(key, v);
    return v;
  }

  /**
   * Compile now (load time, not the first prompt) every kernel variant the calls with these row
   * counts will use: the tile / split kernels of their plans and the reduce pass (row-aligned x).
   */
  warm(ms: readonly number[]): void {
    const vec4 = this.k % 4 === 0;
    for (const m of ms) {
      if (!(m >= 1 && m <= this.init.maxM)) continue;
      const plan = this.planFor(m);
      this.variant(vec4, plan ?? 'simple');
      if (plan && plan.splits > 1) this.variant(vec4, 'reduce'); // record() reduces every split plan
    }
  }

  /** The tile / split-K a call with `m` rows runs (null: the barrier-free kernel). */
  planFor(m: number, xOffset = 0): GemmPlan | null {
    const simple = this.init.simple ?? (this.ctx.caps.software && m * this.n * this.k <= SIMPLE_MAX_MACS);
    if (simple) return null;
    if (this.init.plan) return this.init.plan;
    if (this.ctx.caps.software) return { tile: GEMM_TILE_LARGE, splits: 1 };
    const plan = gemmPlan(m, this.n, this.k);
    // f32 rows that are not 4-aligned take the scalar path; keep that one unsplit as well
    return plan.splits > 1 && xOffset % 4 !== 0 ? { ...plan, splits: 1 } : plan;
  }

  record(rec: Recorder, args: GemmArgs): void {
    const { m } = args;
    const xOff = args.xOffset ?? 0;
    const yOff = args.yOffset ?? 0;
    if (!(m >= 1 && m <= this.init.maxM)) throw new OpShapeError(`${this.name}: m = ${m} outside 1..${this.init.maxM}`);
    if (xOff + m * this.k > this.xLen || yOff + m * this.n > this.yLen) throw new OpShapeError(`${this.name}: offsets run past the tensors`);
    const quant = this.init.w.dtype !== 'f32';
    const vec4 = this.k % 4 === 0 && xOff % 4 === 0;
    if (quant && !vec4) throw new OpShapeError(`${this.name}: xOffset ${xOff} must be a multiple of 4`);
    const plan = this.planFor(m, xOff);
    const { kernel, bindGroup } = this.variant(vec4, plan ?? 'simple');
    const p = this.params;
    p[0] = m;
    p[1] = this.n;
    p[2] = this.k;
    p[3] = xOff;
    p[4] = yOff;
    p[5] = this.k;
    if (!plan) {
      const [gx, gy] = grid2d(this.ctx, Math.ceil((m * this.n) / GEMM_SIMPLE_WG));
      rec.dispatch(kernel, bindGroup, p, gx, gy);
      return;
    }
    const gx = Math.ceil(this.n / tileCols(plan.tile));
    const gy = Math.ceil(m / tileRows(plan.tile));
    if (plan.splits <= 1) {
      rec.dispatch(kernel, bindGroup, p, gx, gy);
      return;
    }
    // K slices of whole 32-groups; the last may be short (or, rounding up, absent: fewer slices)
    const chunk = splitChunkK(this.k, plan.splits);
    const splits = Math.ceil(this.k / chunk);
    if (splits * m * this.n * 4 > GEMM_SPLIT_SCRATCH_BYTES) throw new OpShapeError(`${this.name}: ${splits} slices of ${m} x ${this.n} exceed the split-K scratch`);
    p[5] = chunk;
    rec.dispatch(kernel, bindGroup, p, gx, gy, splits);
    const r = this.variant(vec4, 'reduce');
    const q = this.reduceParams;
    q[0] = m;
    q[1] = this.n;
    q[2] = splits;
    q[3] = yOff;
    const [rx, ry] = grid2d(this.ctx, Math.ceil((m * this.n) / GEMM_REDUCE_WG));
    rec.dispatch(r.kernel, r.bindGroup, q, rx, ry);
  }
}

export function createGemm(ctx: GpuContext, init: GemmInit): Gemm {
  return new Gemm(ctx, init);
}
