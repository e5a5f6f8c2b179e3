// GELU, tanh approximation (torch approximate="tanh", HF "gelu_pytorch_tanh"), elementwise;
// in place when `out` is omitted.
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import actSrc from '../../shaders/activation.wgsl?raw';
import { ELEMENTWISE_WG } from './silu-mul';
import { bindTensor, grid2d, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

export interface CountArgs {
  /** Elements to process (default: all). */
  n?: number;
}

export class Gelu implements Op<CountArgs | void> {
  readonly name = 'gelu';
  readonly kernel: Kernel;
  private readonly size: number;
  private readonly bindGroup: GPUBindGroup;

  constructor(
    readonly ctx: GpuContext,
    init: { x: GpuTensor; out?: GpuTensor },
  ) {
    this.size = numel(init.x.shape);
    if (init.x.dtype !== 'f32') throw new OpShapeError('gelu: x must be f32');
    if (init.out && (init.out.dtype !== 'f32' || numel(init.out.shape) < this.size)) throw new OpShapeError('gelu: out is too small');
    const inPlace = !init.out || init.out.buffer === init.x.buffer;
    if (init.out && inPlace && (init.out.offset ?? 0) !== (init.x.offset ?? 0)) throw new OpShapeError('gelu: out overlaps x at another offset');
    this.kernel = ctx.pipelines.get({
      op: 'activation',
      source: actSrc,
      workgroupSize: [ELEMENTWISE_WG, 1, 1],
      defines: { OP: 'gelu', IN_PLACE: inPlace },
      bindings: inPlace ? ['rw'] : ['rw', 'read'],
    });
    this.bindGroup = createBindGroup(ctx, this.kernel, inPlace ? [bindTensor(init.x)] : [bindTensor(init.out!), bindTensor(init.x)], this.name);
  }

  record(rec: Recorder, args: CountArgs | void): void {
    const n = args?.n ?? this.size;
    if (n > this.size) throw new OpShapeError(`gelu: ${n} elements, tensor holds ${this.size}`);
    const [gx, gy] = grid2d(this.ctx, Math.ceil(n / ELEMENTWISE_WG));
    rec.dispatch(this.kernel, this.bindGroup, packParams([n, 0]), gx, gy);
  }
}

export function createGelu(ctx: GpuContext, init: { x: GpuTensor; out?: GpuTensor }): Gelu {
  return new Gelu(ctx, init);
}
