// Loads engine-format tensors from a TensorStore into GPU buffers: each stored chunk (a few
// MiB, sha-256 checked) is written with queue.writeBuffer at its offset, so a model never sits
// whole in JS memory. A quantized tensor is ONE buffer holding its parts (qweight, then scales
// at a 256-byte-aligned offset). The result IS an ops GpuTensor (workers/ops/types.ts): pass it
// straight to createGemv / createEmbedding; `binding(part)` gives a raw range when needed.
import type { GpuTensor } from '../ops/types';
import { LumenError, ModelNotInstalledError } from '../protocol/errors';
import { readTensorChunks, requireManifest, tensorMeta } from '../storage/tensor-store';
import type { ModelManifest, TensorMeta, TensorPart, TensorStore } from '../storage/tensor-store';

/** An uploaded tensor: an ops GpuTensor (buffer at offset 0, scales in the same buffer) plus its metadata. */
export interface LoadedTensor extends GpuTensor {
  readonly meta: TensorMeta;
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: TensorMeta['dtype'];
  /** Buffer range of one part ("data" for f32; "qweight" / "scales" for q4/q8). */
  binding(part: TensorPart['name']): GPUBufferBinding;
}

export interface UploadOptions {
  /** Extra usage bits beyond STORAGE | COPY_DST (e.g. COPY_SRC to read back in tests). */
  usage?: number;
  /** Check each chunk's sha-256 while streaming (default true). */
  verify?: boolean;
  signal?: AbortSignal;
  /** Called with bytes uploaded so far for this tensor. */
  onBytes?: (n: number) => void;
  /** Manifest already read by the caller (saves a store lookup per tensor). */
  manifest?: ModelManifest;
}

function loadedTensor(meta: TensorMeta, buffer: GPUBuffer): LoadedTensor {
  const scales = meta.parts.find((p) => p.name === 'scales');
  return {
    meta,
    buffer,
    offset: 0,
    shape: meta.shape,
    dtype: meta.dtype,
    ...(scales ? { scales: { buffer, offset: scales.offset } } : {}),
    binding(part) {
      const p = meta.parts.find((x) => x.name === part);
      if (!p) throw new ModelNotInstalledError(`Tensor "${meta.name}" (${meta.dtype}) has no part "${part}".`);
      return { buffer, offset: p.offset, size: p.byteLength };
    },
  };
}

/** Creates a buffer for one stored tensor and streams its chunks into it. */
export async function uploadTensor(
  device: GPUDevice,
  store: TensorStore,
  modelId: string,
  name: string,
  opts: UploadOptions = {},
): Promise<LoadedTensor> {
  const manifest = opts.manifest ?? (await requireManifest(store, modelId));
  const meta = tensorMeta(manifest, name);
  if (meta.byteLength > device.limits.maxBufferSize) {
    throw new LumenError(`Tensor "${name}" of "${modelId}" needs ${meta.byteLength} bytes, more than this GPU's largest buffer (${device.limits.maxBufferSize}). Choose a smaller model or a stronger quantization.`);
  }
  const buffer = device.createBuffer({
    label: `${modelId}:${name}`,
    size: Math.max(4, Math.ceil(meta.byteLength / 4) * 4),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | (opts.usage ?? 0),
  });
  try {
    let done = 0;
    for await (const { offset, bytes } of readTensorChunks(store, modelId, meta, { verify: opts.verify, signal: opts.signal })) {
      // writeBuffer needs 4-byte multiples; every stored tensor is a whole number of f32/u32 words.
      device.queue.writeBuffer(buffer, offset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
      done += bytes.byteLength;
      opts.onBytes?.(done);
    }
  } catch (err) {
    buffer.destroy();
    throw err;
  }
  return loadedTensor(meta, buffer);
}

/**
 * Uploads the tensors of an installed model (all, or those `only` accepts, e.g. the language
 * model without `vision.*`); progress is in bytes over the selected tensors' total.
 */
export async function uploadModel(
  device: GPUDevice,
  store: TensorStore,
  modelId: string,
  opts: Omit<UploadOptions, 'manifest' | 'onBytes'> & { onProgress?: (done: number, total: number) => void; only?: (name: string) => boolean } = {},
): Promise<{ manifest: ModelManifest; tensors: Map<string, LoadedTensor> }> {
  const manifest = await requireManifest(store, modelId);
  const selected = opts.only ? manifest.tensors.filter((m) => opts.only!(m.name)) : manifest.tensors;
  const total = selected.reduce((a, m) => a + m.byteLength, 0);
  const tensors = new Map<string, LoadedTensor>();
  let base = 0;
  try {
    for (const meta of selected) {
      const t = await uploadTensor(device, store, modelId, meta.name, {
        ...opts,
        manifest,
        onBytes: (n) => opts.onProgress?.(base + n, total),
      });
      tensors.set(meta.name, t);
      base += meta.byteLength;
    }
  } catch (err) {
    for (const t of tensors.values()) t.buffer.destroy();
    throw err;
  }
  return { manifest, tensors };
}
