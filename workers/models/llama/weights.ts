// Llama/Qwen2 weights on the GPU: streams every tensor of an installed model from the tensor
// store into GPU buffers (workers/models/weights.ts; each is an ops GpuTensor: f32 row-major,
// or packed q4/q8 with the scales part in the same buffer) and groups them per layer.
import { ModelFormatError } from '../../protocol/errors';
import type { GpuTensor } from '../../ops/types';
import type { ModelManifest, TensorStore } from '../../storage/tensor-store';
import { requireManifest } from '../../storage/tensor-store';
import { uploadTensor, type LoadedTensor } from '../weights';
import { layerNames, llamaShape, type LlamaShape } from './config';

export interface LlamaLayerWeights {
  attnNorm: GpuTensor; // f32 [H]
  qkv: GpuTensor; // [(nH + 2 nKv) hd, H]
  qkvBias?: GpuTensor; // f32 [(nH + 2 nKv) hd]
  o: GpuTensor; // [H, nH hd]
  oBias?: GpuTensor; // f32 [H]
  mlpNorm: GpuTensor; // f32 [H]
  gateUp: GpuTensor; // [2 I, H]
  down: GpuTensor; // [H, I]
}

export interface LlamaWeights {
  shape: LlamaShape;
  manifest: ModelManifest;
  embed: GpuTensor; // [V, H]
  layers: LlamaLayerWeights[];
  norm: GpuTensor; // f32 [H]
  lmHead: GpuTensor; // [V, H] (the embed table when tied)
  /** Every buffer, for unload. */
  buffers: GPUBuffer[];
  gpuBytes: number;
  /** Weight format of the linear layers ("q4", "q8", "f32"). */
  quantization: string;
}

export async function loadLlamaWeights(
  device: GPUDevice,
  store: TensorStore,
  modelId: string,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
): Promise<LlamaWeights> {
  // Only the language model's tensors (an Idefics3 install also holds vision.* / connector.*).
  const manifest = await requireManifest(store, modelId);
  const metas = manifest.tensors.filter((t) => !t.name.startsWith('vision.') && !t.name.startsWith('connector.'));
  const total = metas.reduce((a, t) => a + t.byteLength, 0);
  const tensors = new Map<string, LoadedTensor>();
  let base = 0;
  try {
    for (const meta of metas) {
      tensors.set(meta.name, await uploadTensor(device, store, modelId, meta.name, { manifest, signal, onBytes: (n) => onProgress(base + n, total) }));
      base += meta.byteLength;
    }
  } catch (err) {
    for (const t of tensors.values()) t.buffer.destroy();
    throw err;
  }
  const buffers = [...tensors.values()].map((t) => t.buffer);
  try {
    const shape = llamaShape(manifest.config.text, manifest.tiedEmbeddings);
    const get = (name: string): GpuTensor => {
      const t = tensors.get(name);
      if (!t) throw new ModelFormatError(`Installed model "${modelId}" lacks tensor "${name}". Reinstall the model.`);
      return t;
    };
    const opt = (name: string, want: boolean): GpuTensor | undefined => (want ? get(name) : undefined);
    const layers: LlamaLayerWeights[] = [];
    for (let l = 0; l < shape.layers; l++) {
      const n = layerNames(l);
      layers.push({
        attnNorm: get(n.attnNorm),
        qkv: get(n.qkv),
        qkvBias: opt(n.qkvBias, shape.qkvBias),
        o: get(n.o),
        oBias: opt(n.oBias, shape.oBias),
        mlpNorm: get(n.mlpNorm),
        gateUp: get(n.gateUp),
        down: get(n.down),
      });
    }
    const embed = get('embed');
    return {
      shape,
      manifest,
      embed,
      layers,
      norm: get('norm'),
      lmHead: manifest.tiedEmbeddings ? embed : get('lm_head'),
      buffers,
      gpuBytes: buffers.reduce((a, b) => a + b.size, 0),
      quantization: layers[0]?.qkv.dtype ?? 'f32',
    };
  } catch (err) {
    for (const b of buffers) b.destroy();
    throw err;
  }
}
