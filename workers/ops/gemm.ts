// Tiled GEMM op: Y[M, N] = X[M, K] W^T (+ bias) for prefill and the vision encoder. X f32
// row-major; W f32 [N, K] row-major or packed q4/q8 [N, K] (dequantized in the tile load).
// Tile 64 x 128 x 16, 256 threads, 4 x 8 outputs per thread (shaders/gemm.wgsl). On CPU
// adapters (SwiftShader) small products (≤ 4M multiply-adds, e.g. tiny test models) use a
// barrier-free one-output-per-thread kernel (shaders/gemm_simple.wgsl): 4-5x faster there at
// 16x64x64, 2.5x slower at 128x576x576. `simple` forces either kernel.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import gemmSrc from '../../shaders/gemm.wgsl?raw';
import gemmSimpleSrc from '../../shaders/gemm_simple.wgsl?raw';
import type { GemmArgs } from './gemm-skinny';
import { bindScales, bindTensor, expectShape, grid2d, numel, OpShapeError, type GpuTensor, type Op } from './types';

export const GEMM_WG = 256;
export const GEMM_TILE_M = 64;
export const GEMM_TILE_N = 128;

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
  /** y = gelu_tanh(X W^T + b) (SigLIP's fc1 with its activation fused). */
  gelu?: boolean;
}

export const GEMM_SIMPLE_WG = 64;
const SIMPLE_MAX_MACS = 1 << 22;

export class Gemm implements Op<GemmArgs> {
  readonly name: string;
  readonly n: number;
  readonly k: number;
  private readonly kernels = new Map<string, { kernel: Kernel; bindGroup: GPUBindGroup }>();
  private readonly params = new Uint32Array(8);
  private readonly xLen: number;
  private readonly yLen: number;

  constructor(
    readonly ctx: GpuContext,
    private readonly init: GemmInit,
  ) {
    const { w, x, y, bias, maxM } = init;
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
    if (Math.ceil(maxM / GEMM_TILE_M) > ctx.caps.maxComputeWorkgroupsPerDimension) throw new OpShapeError(`${this.name}: maxM ${maxM} needs too many row tiles`);
  }

  // vec4 loads need every row start 4-aligned: K % 4 == 0 and a 4-aligned x offset.
  private variant(vec4: boolean, simple: boolean): { kernel: Kernel; bindGroup: GPUBindGroup } {
    const key = `${vec4}/${simple}`;
    let v = this.kernels.get(key);
    if (!v) {
      const { w, x, y, bias } = this.init;
      const wq = w.dtype === 'q4' ? 4 : w.dtype === 'q8' ? 8 : 0;
      const kernel = this.ctx.pipelines.get({
        op: simple ? 'gemm_simple' : 'gemm',
        source: simple ? gemmSimpleSrc : gemmSrc,
        workgroupSize: [simple ? GEMM_SIMPLE_WG : GEMM_WG, 1, 1],
        defines: { WQ: wq, VEC4: vec4, HAS_BIAS: !!bias, GELU: !!this.init.gelu },
        bindings: [...(wq ? (['read', 'read'] as const) : (['read'] as const)), 'read', 'rw', ...(bias ? (['read'] as const) : [])],
      });
      const bufs = wq ? [bindTensor(w), bindScales(w), bindTensor(x), bindTensor(y)] : [bindTensor(w), bindTensor(x), bindTensor(y)];
      if (bias) bufs.push(bindTensor(bias));
      v = { kernel, bindGroup: createBindGroup(this.ctx, kernel, bufs, this.name) };
      this.kernels.set(key, v);
    }
    return v;
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
    const simple = this.init.simple ?? (this.ctx.caps.software && m * this.n * this.k <= SIMPLE_MAX_MACS);
    const { kernel, bindGroup } = this.variant(vec4, simple);
    const p = this.params;
    p[0] = m;
    p[1] = this.n;
    p[2] = this.k;
    p[3] = xOff;
    p[4] = yOff;
    if (simple) {
      const [gx, gy] = grid2d(this.ctx, Math.ceil((m * this.n) / GEMM_SIMPLE_WG));
      rec.dispatch(kernel, bindGroup, p, gx, gy);
    } else {
      rec.dispatch(kernel, bindGroup, p, Math.ceil(this.n / GEMM_TILE_N), Math.ceil(m / GEMM_TILE_M));
    }
  }
}

export function createGemm(ctx: GpuContext, init: GemmInit): Gemm {
  return new Gemm(ctx, init);
}
