// Skinny GEMM op: Y[M, N] = X[M, K] W^T (+ bias) for 1 ≤ M ≤ 64 rows (tree verification in
// speculative decoding, small prefills) with a packed q4/q8 W [N, K]: every weight group is read
// and dequantized once for all M rows. The accumulator count MT (8/16/32/64) is a pipeline
// variant; record() picks the smallest one that fits M.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import skinnySrc from '../../shaders/gemm_skinny.wgsl?raw';
import { bindScales, bindTensor, expectShape, grid2d, numel, OpShapeError, type GpuTensor, type Op } from './types';

export const SKINNY_WG = 256;
export const SKINNY_MAX_M = 64;
const MT_BUCKETS = [8, 16, 32, 64] as const;

export interface GemmSkinnyInit {
  /** q4 / q8 [N, K]. */
  w: GpuTensor;
  /** f32, at least maxM * K elements (row-major [M, K]). */
  x: GpuTensor;
  /** f32, at least maxM * N elements. */
  y: GpuTensor;
  bias?: GpuTensor;
  /** Most rows a call will pass (≤ 64). */
  maxM: number;
  /** Override the workgroup shape (tests, benchmarks): tn rows x tk k-lanes. */
  config?: { tn: number; tk: number };
}

export interface GemmArgs {
  /** Rows of X this call multiplies. */
  m: number;
  /** Element offset of X's first row (multiple of 4). */
  xOffset?: number;
  /** Element offset of Y's first row. */
  yOffset?: number;
}

export class GemmSkinny implements Op<GemmArgs> {
  readonly name: string;
  readonly n: number;
  readonly k: number;
  private readonly tn: number;
  private readonly tk: number;
  private readonly variants = new Map<number, { kernel: Kernel; bindGroup: GPUBindGroup }>();
  private readonly params = new Uint32Array(8);
  private readonly workgroups: [number, number];
  private readonly xLen: number;
  private readonly yLen: number;

  constructor(
    readonly ctx: GpuContext,
    private readonly init: GemmSkinnyInit,
  ) {
    const { w, x, y, bias, maxM } = init;
    expectShape('gemm_skinny W', w, ['q4', 'q8'], 2);
    const [n, k] = w.shape;
    this.n = n;
    this.k = k;
    this.name = `gemm_skinny_${w.dtype}`;
    if (!(maxM >= 1 && maxM <= SKINNY_MAX_M)) throw new OpShapeError(`${this.name}: maxM ${maxM} must be 1..${SKINNY_MAX_M}`);
    this.xLen = numel(x.shape);
    this.yLen = numel(y.shape);
    if (x.dtype !== 'f32' || this.xLen < maxM * k) throw new OpShapeError(`${this.name}: x [${x.shape.join(', ')}] cannot hold ${maxM} x ${k}`);
    if (y.dtype !== 'f32' || this.yLen < maxM * n) throw new OpShapeError(`${this.name}: y [${y.shape.join(', ')}] cannot hold ${maxM} x ${n}`);
    if (bias && (bias.dtype !== 'f32' || numel(bias.shape) !== n)) throw new OpShapeError(`${this.name}: bias is not f32 [${n}]`);
    const wide = Math.ceil(n / 32) >= 128;
    // CPU adapters (SwiftShader) run far faster with small, barrier-light workgroups.
    this.tn = init.config?.tn ?? (wide || ctx.caps.software ? 32 : 16);
    this.tk = init.config?.tk ?? (ctx.caps.software ? 2 : SKINNY_WG / this.tn);
    const wg = this.tn * this.tk;
    if (wg > ctx.caps.maxComputeInvocationsPerWorkgroup || wg < 32) throw new OpShapeError(`${this.name}: workgroup ${this.tn}x${this.tk} outside 32..${ctx.caps.maxComputeInvocationsPerWorkgroup}`);
    this.workgroups = grid2d(ctx, Math.ceil(n / this.tn));
  }

  private variant(m: number): { kernel: Kernel; bindGroup: GPUBindGroup } {
    const mt = MT_BUCKETS.find((b) => b >= m) ?? SKINNY_MAX_M;
    let v = this.variants.get(mt);
    if (!v) {
      const { w, x, y, bias } = this.init;
      const kernel = this.ctx.pipelines.get({
        op: 'gemm_skinny',
        source: skinnySrc,
        workgroupSize: [this.tn * this.tk, 1, 1],
        defines: { QBITS: w.dtype === 'q4' ? 4 : 8, TN: this.tn, TK: this.tk, MT: mt, HAS_BIAS: !!bias },
        bindings: bias ? ['read', 'read', 'read', 'rw', 'read'] : ['read', 'read', 'read', 'rw'],
      });
      const bufs = [bindTensor(w), bindScales(w), bindTensor(x), bindTensor(y)];
      if (bias) bufs.push(bindTensor(bias));
      v = { kernel, bindGroup: createBindGroup(this.ctx, kernel, bufs, this.name) };
      this.variants.set(mt, v);
    }
    return v;
  }

  /** Compile the pipelines for all M up to maxM now (load time) instead of on first use. */
  warm(): void {
    for (const b of MT_BUCKETS) {
      this.variant(b);
      if (b >= this.init.maxM) break;
    }
  }

  record(rec: Recorder, args: GemmArgs): void {
    const { m } = args;
    const xOff = args.xOffset ?? 0;
    const yOff = args.yOffset ?? 0;
    if (!(m >= 1 && m <= this.init.maxM)) throw new OpShapeError(`${this.name}: m = ${m} outside 1..${this.init.maxM}`);
    if (xOff % 4 !== 0) throw new OpShapeError(`${this.name}: xOffset ${xOff} must be a multiple of 4`);
    if (xOff + m * this.k > this.xLen || yOff + m * this.n > this.yLen) throw new OpShapeError(`${this.name}: offsets run past the tensors`);
    const { kernel, bindGroup } = this.variant(m);
    const p = this.params;
    p[0] = this.n;
    p[1] = this.k;
    p[2] = m;
    p[3] = xOff;
    p[4] = yOff;
    rec.dispatch(kernel, bindGroup, p, this.workgroups[0], this.workgroups[1]);
  }
}

export function createGemmSkinny(ctx: GpuContext, init: GemmSkinnyInit): GemmSkinny {
  return new GemmSkinny(ctx, init);
}
