// SiLU-gated MLP activation: out = silu(gate) * up. Input either one fused [rows, 2 * inter]
// buffer (gate columns first, then up: the fused gate/up GEMV output) or two [rows, inter] buffers.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type BufferBinding, type Recorder } from '../gpu/recorder';
import actSrc from '../../shaders/activation.wgsl?raw';
import { bindTensor, grid2d, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

export const ELEMENTWISE_WG = 64;

export type SiluMulInit =
  | { /** f32 [rows, 2 * inter]. */ gateUp: GpuTensor; inter: number; /** f32 [rows, inter]. */ out: GpuTensor }
  | { gate: GpuTensor; up: GpuTensor; out: GpuTensor };

export interface RowsArgs {
  /** Rows to process (default: all). */
  rows?: number;
}

export class SiluMul implements Op<RowsArgs | void> {
  readonly name = 'silu_mul';
  readonly kernel: Kernel;
  readonly inter: number;
  private readonly maxRows: number;
  private readonly bindGroup: GPUBindGroup;

  constructor(
    readonly ctx: GpuContext,
    init: SiluMulInit,
  ) {
    const fused = 'gateUp' in init;
    const out = init.out;
    let buffers: BufferBinding[];
    if (fused) {
      this.inter = init.inter;
      const n = numel(init.gateUp.shape);
      if (init.gateUp.dtype !== 'f32' || n % (2 * init.inter) !== 0) throw new OpShapeError(`silu_mul: gateUp [${init.gateUp.shape.join(', ')}] is not [rows, ${2 * init.inter}]`);
      this.maxRows = n / (2 * init.inter);
      buffers = [bindTensor(out), bindTensor(init.gateUp)];
    } else {
      this.inter = init.gate.shape[init.gate.shape.length - 1];
      if (numel(init.gate.shape) !== numel(init.up.shape)) throw new OpShapeError('silu_mul: gate and up differ in size');
      this.maxRows = numel(init.gate.shape) / this.inter;
      buffers = [bindTensor(out), bindTensor(init.gate), bindTensor(init.up)];
    }
    if (out.dtype !== 'f32' || numel(out.shape) < this.maxRows * this.inter) throw new OpShapeError(`silu_mul: out [${out.shape.join(', ')}] is too small`);
    this.kernel = ctx.pipelines.get({
      op: 'activation',
      source: actSrc,
      workgroupSize: [ELEMENTWISE_WG, 1, 1],
      defines: { OP: 'silu_mul', FUSED: fused },
      bindings: fused ? ['rw', 'read'] : ['rw', 'read', 'read'],
    });
    this.bindGroup = createBindGroup(ctx, this.kernel, buffers, this.name);
  }

  record(rec: Recorder, args: RowsArgs | void): void {
    const rows = args?.rows ?? this.maxRows;
    if (rows > this.maxRows) throw new OpShapeError(`silu_mul: ${rows} rows, tensors hold ${this.maxRows}`);
    const n = rows * this.inter;
    const [gx, gy] = grid2d(this.ctx, Math.ceil(n / ELEMENTWISE_WG));
    rec.dispatch(this.kernel, this.bindGroup, packParams([n, this.inter]), gx, gy);
  }
}

export function createSiluMul(ctx: GpuContext, init: SiluMulInit): SiluMul {
  return new SiluMul(ctx, init);
}
