// Small vision ops that the shared op set lacks, in the workers/ops calling convention (kernel in
// shaders/siglip_vision.wgsl): patchify (the processor's tiles -> patch-embedding GEMM rows, on the GPU so the
// CPU never loops over every pixel), the broadcast position-embedding add of SigLIP, and
// Idefics3's pixel shuffle (a gather that merges s x s patch blocks into one token of s² D channels).
import type { GpuContext } from '../../gpu/context';
import type { Kernel } from '../../gpu/pipelines';
import { createBindGroup, type Recorder } from '../../gpu/recorder';
import { bindTensor, grid2d, numel, OpShapeError, type GpuTensor, type Op } from '../../ops/types';
import visionSrc from '../../../shaders/siglip_vision.wgsl?raw';

export const VISION_WG = 256;

interface Batch {
  batch: number;
}

abstract class VisionGlue implements Op<Batch> {
  abstract readonly name: string;
  protected kernel!: Kernel;
  protected bindGroup!: GPUBindGroup;
  protected readonly params = new Uint32Array(8);

  constructor(
    readonly ctx: GpuContext,
    readonly maxBatch: number,
  ) {}

  protected build(op: string, tensors: [GpuTensor, GpuTensor], rw: 0 | 1): void {
    this.kernel = this.ctx.pipelines.get({
      op: `vision_${op}`,
      source: visionSrc,
      workgroupSize: [VISION_WG, 1, 1],
      defines: { OP: op },
      bindings: rw === 0 ? ['rw', 'read'] : ['read', 'rw'],
    });
    this.bindGroup = createBindGroup(this.ctx, this.kernel, tensors.map(bindTensor), op);
  }

  /** Elements written per tile. */
  protected abstract perTile(): number;

  record(rec: Recorder, args: Batch): void {
    if (!(args.batch >= 1 && args.batch <= this.maxBatch)) throw new OpShapeError(`${this.name}: batch ${args.batch} outside 1..${this.maxBatch}`);
    const total = args.batch * this.perTile();
    this.params[0] = total;
    const [gx, gy] = grid2d(this.ctx, Math.ceil(total / VISION_WG));
    rec.dispatch(this.kernel, this.bindGroup, this.params, gx, gy);
  }
}

/** rows [B T, C P P] = im2col(pixels [B, C, S, S]) for patches of P x P (patchify.ts is the CPU twin). */
export class Patchify extends VisionGlue {
  readonly name = 'vision_patchify';

  constructor(ctx: GpuContext, init: { pixels: GpuTensor; rows: GpuTensor; channels: number; size: number; patch: number; maxBatch: number }) {
    super(ctx, init.maxBatch);
    const { channels: C, size: S, patch: P, maxBatch } = init;
    if (S % P !== 0) throw new OpShapeError(`patchify: ${S} px tiles are not divisible into ${P} px patches`);
    const side = S / P;
    if (numel(init.pixels.shape) < maxBatch * C * S * S || numel(init.rows.shape) < maxBatch * C * S * S) throw new OpShapeError(`patchify: pixels/rows cannot hold ${maxBatch} tiles of ${C}x${S}x${S}`);
    this.params.set([0, side * side, C, side, P]);
    this.build('patchify', [init.pixels, init.rows], 1);
  }

  protected perTile(): number {
    const P = this.params[4];
    return this.params[1] * this.params[2] * P * P;
  }
}

/** x [B, T, D] += pos [T, D] (every tile gets the same table). */
export class AddPositions extends VisionGlue {
  readonly name = 'vision_add_pos';

  constructor(ctx: GpuContext, init: { x: GpuTensor; pos: GpuTensor; maxBatch: number }) {
    super(ctx, init.maxBatch);
    const [T, D] = init.pos.shape;
    if (init.pos.dtype !== 'f32' || init.pos.shape.length !== 2) throw new OpShapeError('vision_add_pos: pos must be f32 [T, D]');
    if (init.x.dtype !== 'f32' || numel(init.x.shape) < init.maxBatch * T * D) throw new OpShapeError(`vision_add_pos: x cannot hold ${init.maxBatch} x ${T} x ${D}`);
    this.params.set([0, T, D, 0, 0]);
    this.build('add_pos', [init.x, init.pos], 0);
  }

  protected perTile(): number {
    return this.params[1] * this.params[2];
  }
}

/** out [B, (n/s)², s² D] = pixel_shuffle(x [B, n², D], s). */
export class PixelShuffle extends VisionGlue {
  readonly name = 'vision_pixel_shuffle';

  constructor(ctx: GpuContext, init: { x: GpuTensor; out: GpuTensor; side: number; width: number; scale: number; maxBatch: number }) {
    super(ctx, init.maxBatch);
    const { side: n, width: D, scale: s, maxBatch } = init;
    if (n % s !== 0) throw new OpShapeError(`pixel_shuffle: a ${n}x${n} grid is not divisible by scale ${s}`);
    const T = n * n;
    if (numel(init.x.shape) < maxBatch * T * D || numel(init.out.shape) < maxBatch * T * D) throw new OpShapeError(`pixel_shuffle: x/out cannot hold ${maxBatch} x ${T} x ${D}`);
    this.params.set([0, T, D, n, s]);
    this.build('pixel_shuffle', [init.x, init.out], 1);
  }

  protected perTile(): number {
    return this.params[1] * this.params[2];
  }
}
