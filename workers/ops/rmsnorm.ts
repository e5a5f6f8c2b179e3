// Row normalization ops over x [rows, h]: RMSNorm (Llama) and, sharing the kernel
// (shaders/norm.wgsl), LayerNorm (layernorm.ts). Optional fused residual: x += r in place first,
// then out = norm(x), so a transformer block needs one dispatch for "add + norm".
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type BufferBinding, type Recorder } from '../gpu/recorder';
import normSrc from '../../shaders/norm.wgsl?raw';
import { bindTensor, grid2d, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

export const NORM_WG = 128;

export interface NormInit {
  /** f32 [rows, h]; with `residual`, updated in place to x + residual. */
  x: GpuTensor;
  /** f32 [h]. */
  weight: GpuTensor;
  /** f32 [h] (LayerNorm only). */
  bias?: GpuTensor;
  /** f32 [rows, h]; receives the normalized rows (must not alias x). */
  out: GpuTensor;
  /** f32 [rows, h], added to x before normalizing. */
  residual?: GpuTensor;
  eps: number;
}

export interface NormArgs {
  /** Rows to process (default: all rows of x). */
  rows?: number;
}

export class RowNorm implements Op<NormArgs | void> {
  readonly name: string;
  readonly kernel: Kernel;
  readonly h: number;
  private readonly maxRows: number;
  private readonly bindGroup: GPUBindGroup;

  constructor(
    readonly ctx: GpuContext,
    readonly kind: 'rms' | 'layer',
    private readonly init: NormInit,
  ) {
    const { x, weight, bias, out, residual } = init;
    this.name = kind === 'rms' ? 'rmsnorm' : 'layernorm';
    if (x.dtype !== 'f32' || x.shape.length < 1) throw new OpShapeError(`${this.name}: x must be f32 [rows, h]`);
    this.h = x.shape[x.shape.length - 1];
    this.maxRows = numel(x.shape) / this.h;
    const need = (t: GpuTensor | undefined, what: string, n: number): void => {
      if (!t) throw new OpShapeError(`${this.name}: ${what} is required`);
      if (t.dtype !== 'f32' || numel(t.shape) !== n) throw new OpShapeError(`${this.name}: ${what} [${t.shape.join(', ')}] must be f32 with ${n} elements`);
    };
    need(weight, 'weight', this.h);
    need(out, 'out', numel(x.shape));
    if (kind === 'layer') need(bias, 'bias', this.h);
    if (residual) need(residual, 'residual', numel(x.shape));
    if (out.buffer === x.buffer) throw new OpShapeError(`${this.name}: out must not alias x`);
    const bindings: Array<'read' | 'rw'> = [residual ? 'rw' : 'read', 'read', 'rw'];
    const buffers: BufferBinding[] = [bindTensor(x), bindTensor(weight), bindTensor(out)];
    if (kind === 'layer') {
      bindings.push('read');
      buffers.push(bindTensor(bias!));
    }
    if (residual) {
      bindings.push('read');
      buffers.push(bindTensor(residual));
    }
    this.kernel = ctx.pipelines.get({
      op: 'norm',
      source: normSrc,
      workgroupSize: [NORM_WG, 1, 1],
      defines: { LAYER: kind === 'layer', RESIDUAL: !!residual },
      bindings,
    });
    this.bindGroup = createBindGroup(ctx, this.kernel, buffers, this.name);
  }

  record(rec: Recorder, args: NormArgs | void): void {
    const rows = args?.rows ?? this.maxRows;
    if (!Number.isInteger(rows) || rows < 0 || rows > this.maxRows) throw new OpShapeError(`${this.name}: ${rows} rows, tensor holds ${this.maxRows}`);
    const [gx, gy] = grid2d(this.ctx, rows);
    rec.dispatch(this.kernel, this.bindGroup, packParams([rows, this.h], [this.init.eps]), gx, gy);
  }
}

/** RMSNorm (HF LlamaRMSNorm): out = x / sqrt(mean(x^2) + eps) * weight; with `residual`, x += residual first. */
export function createRmsNorm(ctx: GpuContext, init: Omit<NormInit, 'bias'>): RowNorm {
  return new RowNorm(ctx, 'rms', init);
}
