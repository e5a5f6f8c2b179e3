// GPU context: adapter + device setup with a capability probe, and device loss turned into a
// reported, recoverable GpuDeviceLostError. Runs unchanged in a browser worker (navigator.gpu)
// and in Node (the `webgpu` package's `create()` result is passed in as `gpu`).
import { GpuDeviceLostError, WebGpuUnavailableError } from '../protocol/errors';
import { BufferPool } from './buffers';
import { PipelineCache } from './pipelines';
import { ParamsRing } from './recorder';

/** What the adapter/device can do; kernels pick variants from this. */
export interface GpuCapabilities {
  vendor: string;
  architecture: string;
  description: string;
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /** A CPU implementation (SwiftShader, lavapipe, llvmpipe): kernels may pick barrier-free variants. */
  software: boolean;
  /** WGSL `packed_4x8_integer_dot_product` (unpack4xU8 / dot4U8Packed builtins). */
  packed4x8: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
  maxStorageBuffersPerShaderStage: number;
}

export interface GpuContextOptions {
  powerPreference?: GPUPowerPreference;
  /** Request shader-f16 when offered (default true). */
  f16?: boolean;
  /** Request subgroups when offered (default true). */
  subgroups?: boolean;
  /** Request timestamp-query when offered (default false; benchmarks turn it on). */
  timestampQuery?: boolean;
  /** Called once if the device is lost (not for `destroy()`): report it and rebuild the context. */
  onLost?: (err: GpuDeviceLostError) => void;
  /** WebGPU validation / out-of-memory errors nobody captured (default: console.error). */
  onError?: (err: GPUError) => void;
  /** Bytes of the per-context uniform params ring (default 1 MiB). */
  paramsRingBytes?: number;
}

export interface GpuContext {
  readonly gpu: GPU;
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly caps: GpuCapabilities;
  readonly buffers: BufferPool;
  readonly pipelines: PipelineCache;
  readonly params: ParamsRing;
  /** Resolves when the device is lost (never on a deliberate destroy()). */
  readonly lost: Promise<GpuDeviceLostError>;
  /** True once the device has been lost or destroyed. */
  isLost(): boolean;
  destroy(): void;
}

const LIMITS_TO_MAX = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxDynamicUniformBuffersPerPipelineLayout',
] as const;

/** Probe the adapter and open a device with the largest buffer limits it offers. */
export async function createGpuContext(gpu: GPU | undefined | null, opts: GpuContextOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new WebGpuUnavailableError('WebGPU is not available here. Use a recent Chrome, Edge or Safari 26+ with hardware acceleration enabled.');
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError('WebGPU is present but no GPU adapter was granted. Enable hardware acceleration or update your graphics driver.');
  }
  const features: GPUFeatureName[] = [];
  const wantF16 = (opts.f16 ?? true) && adapter.features.has('shader-f16');
  const wantSub = (opts.subgroups ?? true) && adapter.features.has('subgroups');
  const wantTs = (opts.timestampQuery ?? false) && adapter.features.has('timestamp-query');
  if (wantF16) features.push('shader-f16');
  if (wantSub) features.push('subgroups' as GPUFeatureName);
  if (wantTs) features.push('timestamp-query');
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_TO_MAX) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  } catch (e) {
    throw new WebGpuUnavailableError(`The GPU adapter refused to open a device (${(e as Error).message}). Close other GPU-heavy tabs and retry.`);
  }
  const lim = device.limits;
  const info = adapter.info;
  const wgslFeatures = (gpu as GPU & { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
  const caps: GpuCapabilities = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    description: info?.description ?? '',
    software: /swiftshader|lavapipe|llvmpipe/i.test(`${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.description ?? ''}`),
    shaderF16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    timestampQuery: device.features.has('timestamp-query'),
    packed4x8: wgslFeatures?.has('packed_4x8_integer_dot_product') ?? false,
    maxBufferSize: lim.maxBufferSize,
    maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
    minStorageBufferOffsetAlignment: lim.minStorageBufferOffsetAlignment,
    minUniformBufferOffsetAlignment: lim.minUniformBufferOffsetAlignment,
    maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
  };

  let lostFlag = false;
  let destroyed = false;
  const lost = device.lost.then((infoLost) => {
    lostFlag = true;
    const err = new GpuDeviceLostError(
      `The GPU device was lost (${infoLost.reason}: ${infoLost.message || 'no detail'}). Reload the model to continue; if it repeats, close other GPU-heavy tabs.`,
    );
    if (!destroyed && infoLost.reason !== 'destroyed') opts.onLost?.(err);
    return err;
  });

  device.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    if (opts.onError) opts.onError(err);
    else console.error(`WebGPU error: ${err.message}`);
  });

  const buffers = new BufferPool(device);
  const pipelines = new PipelineCache(device, caps);
  const params = new ParamsRing(device, opts.paramsRingBytes ?? 1 << 20);
  return {
    gpu,
    adapter,
    device,
    caps,
    buffers,
    pipelines,
    params,
    lost,
    isLost: () => lostFlag || destroyed,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      buffers.destroyAll();
      params.destroy();
      device.destroy();
    },
  };
}

/** Throws the reported error if the context's device is gone (call before long work). */
export function assertAlive(ctx: GpuContext): void {
  if (ctx.isLost()) throw new GpuDeviceLostError('The GPU device is no longer available. Reload the model to continue.');
}
