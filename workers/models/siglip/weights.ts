// SigLIP vision tower shapes and weights on the GPU: the `vision.*` engine tensors of an
// installed Idefics3 model (workers/storage/tensor-plan.ts), streamed from the tensor store.
// Linear weights may be f32 or q4/q8 (the GEMM dequantizes); norms, biases, the patch kernel
// and the position table are f32.
import type { GpuTensor } from '../../ops/types';
import { ModelFormatError } from '../../protocol/errors';
import type { VisionModelConfig } from '../../storage/model-config';
import type { ModelManifest, TensorStore } from '../../storage/tensor-store';
import { uploadTensor, type LoadedTensor } from '../weights';

export interface SiglipShape {
  width: number; // vh
  inter: number;
  layers: number;
  nHeads: number;
  headDim: number;
  imageSize: number;
  patch: number;
  channels: number;
  /** Patches per side (imageSize / patch) and per tile (side²). */
  side: number;
  tokens: number;
  eps: number;
}

export function siglipShape(v: VisionModelConfig): SiglipShape {
  if (v.hiddenAct !== 'gelu_pytorch_tanh' && v.hiddenAct !== 'gelu_new' && v.hiddenAct !== 'gelu_fast') {
    throw new ModelFormatError(`vision_config.hidden_act "${v.hiddenAct}" is not supported by Lumen's SigLIP encoder (only the tanh GELU).`);
  }
  const headDim = v.hiddenSize / v.numHeads;
  if (headDim % 4 !== 0) throw new ModelFormatError(`vision head_dim ${headDim} is not a multiple of 4.`);
  const side = v.imageSize / v.patchSize;
  return {
    width: v.hiddenSize,
    inter: v.intermediateSize,
    layers: v.numLayers,
    nHeads: v.numHeads,
    headDim,
    imageSize: v.imageSize,
    patch: v.patchSize,
    channels: v.numChannels,
    side,
    tokens: side * side,
    eps: v.layerNormEps,
  };
}

export interface SiglipLayerWeights {
  ln1: GpuTensor; // f32 [vh]
  ln1Bias: GpuTensor;
  qkv: GpuTensor; // [3 vh, vh]
  qkvBias: GpuTensor; // f32 [3 vh]
  o: GpuTensor; // [vh, vh]
  oBias: GpuTensor;
  ln2: GpuTensor;
  ln2Bias: GpuTensor;
  fc1: GpuTensor; // [I, vh]
  fc1Bias: GpuTensor;
  fc2: GpuTensor; // [vh, I]
  fc2Bias: GpuTensor;
}

export interface SiglipWeights {
  shape: SiglipShape;
  patchEmbed: GpuTensor; // f32 [vh, C P P], (c, ky, kx) order
  patchBias: GpuTensor; // f32 [vh]
  pos: GpuTensor; // f32 [side², vh]
  layers: SiglipLayerWeights[];
  postNorm: GpuTensor;
  postNormBias: GpuTensor;
  buffers: GPUBuffer[];
}

/** Uploads the tensors whose engine names satisfy `want`; destroys what it made on failure. */
export async function uploadNamed(
  device: GPUDevice,
  store: TensorStore,
  manifest: ModelManifest,
  want: (name: string) => boolean,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
): Promise<Map<string, LoadedTensor>> {
  const metas = manifest.tensors.filter((t) => want(t.name));
  const total = metas.reduce((a, t) => a + t.byteLength, 0);
  const out = new Map<string, LoadedTensor>();
  let base = 0;
  try {
    for (const meta of metas) {
      out.set(meta.name, await uploadTensor(device, store, manifest.modelId, meta.name, { manifest, signal, onBytes: (n) => onProgress(base + n, total) }));
      base += meta.byteLength;
    }
  } catch (err) {
    for (const t of out.values()) t.buffer.destroy();
    throw err;
  }
  return out;
}

/** Groups uploaded `vision.*` tensors; throws ModelFormatError naming a missing one. */
export function siglipWeights(shape: SiglipShape, tensors: Map<string, LoadedTensor>, modelId: string): SiglipWeights {
  const get = (name: string): GpuTensor => {
    const t = tensors.get(name);
    if (!t) throw new ModelFormatError(`Installed model "${modelId}" lacks tensor "${name}". Reinstall the model.`);
    return t;
  };
  const layers: SiglipLayerWeights[] = [];
  for (let l = 0; l < shape.layers; l++) {
    const p = `vision.layers.${l}.`;
    layers.push({
      ln1: get(`${p}ln1`),
      ln1Bias: get(`${p}ln1_bias`),
      qkv: get(`${p}qkv`),
      qkvBias: get(`${p}qkv_bias`),
      o: get(`${p}o`),
      oBias: get(`${p}o_bias`),
      ln2: get(`${p}ln2`),
      ln2Bias: get(`${p}ln2_bias`),
      fc1: get(`${p}fc1`),
      fc1Bias: get(`${p}fc1_bias`),
      fc2: get(`${p}fc2`),
      fc2Bias: get(`${p}fc2_bias`),
    });
  }
  return {
    shape,
    patchEmbed: get('vision.patch_embed'),
    patchBias: get('vision.patch_embed_bias'),
    pos: get('vision.pos_embed'),
    layers,
    postNorm: get('vision.post_norm'),
    postNormBias: get('vision.post_norm_bias'),
    buffers: [...tensors.entries()].filter(([n]) => n.startsWith('vision.')).map(([, t]) => t.buffer),
  };
}
