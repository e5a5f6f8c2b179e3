// Elementwise add and scale over flat f32 tensors: out = a + b, out += b, out = a * s, out *= s.
// (The residual add before a norm is better fused into rmsnorm.ts / layernorm.ts.)
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type BufferBinding, type Recorder } from '../gpu/recorder';
import ewSrc from '../../shaders/elementwise.wgsl?raw';
import type { CountArgs } from './gelu';
import { ELEMENTWISE_WG } from './silu-mul';
import { bindTensor, grid2d, numel, OpShapeError, packParams, type GpuTensor, type Op } from './types';

export type ElementwiseInit =
  | { op: 'add'; a: GpuTensor; b: GpuTensor; out: GpuTensor }
  | { op: 'add_inplace'; out: GpuTensor; b: GpuTensor }
  | { op: 'scale'; a: GpuTensor; out: GpuTensor; s: number }
  | { op: 'scale_inplace'; out: GpuTensor; s: number };

export class Elementwise implements Op<CountArgs | void> {
  readonly name: string;
  readonly kernel: Kernel;
  private readonly size: number;
  private readonly s: number;
  private readonly bindGroup: GPUBindGroup;

  constructor(
    readonly ctx: GpuContext,
    init: ElementwiseInit,
  ) {
    this.name = init.op;
    this.size = numel(init.out.shape);
    const inputs = 'a' in init ? [init.a] : [];
    if ('b' in init) inputs.push(init.b);
    for (const t of [init.out, ...inputs]) {
      if (t.dtype !== 'f32' || numel(t.shape) < this.size) throw new OpShapeError(`${init.op}: tensor [${t.shape.join(', ')}] ${t.dtype} is not f32 with ${this.size} elements`);
      if (t !== init.out && t.buffer === init.out.buffer) throw new OpShapeError(`${init.op}: an input aliases out; use the _inplace form`);
    }
    this.s = 's' in init ? init.s : 0;
    const buffers: BufferBinding[] = [bindTensor(init.out), ...inputs.map(bindTensor)];
    this.kernel = ctx.pipelines.get({
      op: 'elementwise',
      source: ewSrc,
      workgroupSize: [ELEMENTWISE_WG, 1, 1],
      defines: { OP: init.op },
      bindings: ['rw', ...inputs.map(() => 'read' as const)],
    });
    this.bindGroup = createBindGroup(ctx, this.kernel, buffers, this.name);
  }

  record(rec: Recorder, args: CountArgs | void): void {
    const n = args?.n ?? this.size;
    if (n > this.size) throw new OpShapeError(`${this.name}: ${n} elements, tensor holds ${this.size}`);
    const [gx, gy] = grid2d(this.ctx, Math.ceil(n / ELEMENTWISE_WG));
    rec.dispatch(this.kernel, this.bindGroup, packParams([n], [this.s]), gx, gy);
  }
}

export function createElementwise(ctx: GpuContext, init: ElementwiseInit): Elementwise {
  return new Elementwise(ctx, init);
}
