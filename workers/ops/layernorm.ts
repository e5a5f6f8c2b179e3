// LayerNorm op (SigLIP): out = (x - mean) / sqrt(var + eps) * weight + bias over rows of x [rows, h],
// optionally after x += residual in place. Same kernel as RMSNorm (rmsnorm.ts, shaders/norm.wgsl).
import type { GpuContext } from '../gpu/context';
import { RowNorm, type NormInit } from './rmsnorm';

export function createLayerNorm(ctx: GpuContext, init: NormInit & { bias: NormInit['bias'] }): RowNorm {
  return new RowNorm(ctx, 'layer', init);
}
