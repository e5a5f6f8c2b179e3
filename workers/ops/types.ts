// Op calling convention shared by every kernel in workers/ops (see workers/ops/README.md):
// GPU tensors, how they bind, and the Op interface (create once per call site, record many times).
import { LumenError } from '../protocol/errors';
import type { GpuContext } from '../gpu/context';
import type { BufferBinding, Recorder } from '../gpu/recorder';
import { GROUP_SIZE, type PackedWeight } from '../storage/quant';

/** u32: index data (token ids, positions, masks, slot lists); 4 bytes per element like f32. */
export type DType = 'f32' | 'q4' | 'q8' | 'u32';

/** Where a tensor's bytes live: a buffer and a byte offset (a multiple of 256 when nonzero). */
export interface GpuRegion {
  buffer: GPUBuffer;
  offset?: number;
}

/**
 * A tensor on the GPU. Row-major f32, or a packed q4/q8 weight [N, K] in the layout of
 * workers/storage/quant.ts (buffer = qweight words, scales = f32 [K/32, N]).
 */
export interface GpuTensor extends GpuRegion {
  shape: readonly number[];
  dtype: DType;
  scales?: GpuRegion;
}

/** One op instance per call site: buffers, bind groups and pipelines are fixed at creation. */
export interface Op<A = void> {
  readonly name: string;
  /** Record this op's dispatches; `args` carries per-call values (row counts, offsets). */
  record(rec: Recorder, args: A): void;
}

/** Bad shapes/dtypes passed to an op: a programming or model-format error, caught at creation. */
export class OpShapeError extends LumenError {
  override name = 'OpShapeError';
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes of the main buffer region of a tensor (qweight words for q4/q8). */
export function tensorBytes(t: Pick<GpuTensor, 'shape' | 'dtype'>): number {
  const n = numel(t.shape);
  if (t.dtype === 'f32' || t.dtype === 'u32') return n * 4;
  return (n / GROUP_SIZE) * (t.dtype === 'q4' ? 16 : 32);
}

/** Binding for the tensor's main region. */
export function bindTensor(t: GpuTensor): BufferBinding {
  return { buffer: t.buffer, offset: t.offset ?? 0, size: tensorBytes(t) };
}

/** Binding for a quantized tensor's scales. */
export function bindScales(t: GpuTensor): BufferBinding {
  if (!t.scales) throw new OpShapeError(`${t.dtype} tensor [${t.shape.join(', ')}] has no scales`);
  return { buffer: t.scales.buffer, offset: t.scales.offset ?? 0, size: (numel(t.shape) / GROUP_SIZE) * 4 };
}

export function expectShape(what: string, t: GpuTensor, dtype: DType | readonly DType[], rank: number): void {
  const ok = typeof dtype === 'string' ? t.dtype === dtype : dtype.includes(t.dtype);
  if (!ok) throw new OpShapeError(`${what}: dtype ${t.dtype}, expected ${String(dtype)}`);
  if (t.shape.length !== rank) throw new OpShapeError(`${what}: shape [${t.shape.join(', ')}], expected rank ${rank}`);
  if (t.dtype === 'q4' || t.dtype === 'q8') {
    if (t.shape[rank - 1] % GROUP_SIZE !== 0) throw new OpShapeError(`${what}: quantized inner dim ${t.shape[rank - 1]} is not a multiple of ${GROUP_SIZE}`);
    if (!t.scales) throw new OpShapeError(`${what}: ${t.dtype} tensor has no scales`);
  }
}

/** Upload a row-major f32 tensor. */
export function uploadF32(ctx: GpuContext, data: Float32Array, shape: readonly number[], label = 'f32'): GpuTensor {
  if (data.length !== numel(shape)) throw new OpShapeError(`uploadF32: ${data.length} values for shape [${shape.join(', ')}]`);
  return { buffer: ctx.buffers.upload(data, label), shape, dtype: 'f32' };
}

/** Upload a packed q4/q8 weight (from quantize()) as an [N, K] tensor. */
export function uploadPacked(ctx: GpuContext, p: PackedWeight, label = p.kind): GpuTensor {
  return {
    buffer: ctx.buffers.upload(p.qweight, `${label}.q`),
    scales: { buffer: ctx.buffers.upload(p.scales, `${label}.scales`) },
    shape: [p.rows, p.cols],
    dtype: p.kind,
  };
}

/** Upload a u32 tensor (token ids, positions, tree masks, slot lists). */
export function uploadU32(ctx: GpuContext, data: Uint32Array, shape: readonly number[], label = 'u32'): GpuTensor {
  if (data.length !== numel(shape)) throw new OpShapeError(`uploadU32: ${data.length} values for shape [${shape.join(', ')}]`);
  return { buffer: ctx.buffers.upload(data, label), shape, dtype: 'u32' };
}

/** A new zero-initialised u32 tensor. */
export function createU32(ctx: GpuContext, shape: readonly number[], label = 'u32'): GpuTensor {
  return { buffer: ctx.buffers.create(numel(shape) * 4, label), shape, dtype: 'u32' };
}

/** A new zero-initialised f32 tensor. */
export function createF32(ctx: GpuContext, shape: readonly number[], label = 'f32'): GpuTensor {
  return { buffer: ctx.buffers.create(numel(shape) * 4, label), shape, dtype: 'f32' };
}

/** Read an f32 tensor back (tests, final outputs; never between layers). */
export async function readF32(ctx: GpuContext, t: GpuTensor): Promise<Float32Array> {
  if (t.dtype !== 'f32') throw new OpShapeError(`readF32: tensor is ${t.dtype}`);
  return ctx.buffers.readF32(t.buffer, numel(t.shape), t.offset ?? 0);
}

/** Pack uniform params: u32 fields then f32 fields, in declaration order of the WGSL struct. */
export function packParams(u32s: readonly number[], f32s: readonly number[] = []): Uint32Array {
  const out = new Uint32Array(Math.max(4, Math.ceil((u32s.length + f32s.length) / 4) * 4));
  out.set(u32s);
  new Float32Array(out.buffer).set(f32s, u32s.length);
  return out;
}

/** Split a workgroup count over x and y so neither exceeds the per-dimension limit. */
export function grid2d(ctx: GpuContext, count: number): [number, number] {
  const max = ctx.caps.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y];
}
