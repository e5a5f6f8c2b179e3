// Llama-family shapes the forward pass needs, derived from the installed model's normalized
// config (workers/storage/model-config.ts) and checked against what this forward supports:
// Llama (SmolLM2) and Qwen2 (Llama + QKV bias). Unsupported features fail at load with a
// ModelFormatError instead of producing wrong text.
import { ModelFormatError } from '../../protocol/errors';
import type { TextModelConfig } from '../../storage/model-config';

export interface LlamaShape {
  arch: 'llama' | 'qwen2';
  hidden: number;
  inter: number;
  layers: number;
  nHeads: number;
  nKv: number;
  headDim: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
  maxPositions: number;
  qkvBias: boolean;
  oBias: boolean;
  tied: boolean;
  /** Width of the fused QKV row: (nHeads + 2 nKv) headDim. */
  qkvWidth: number;
}

export function llamaShape(t: TextModelConfig, tied: boolean): LlamaShape {
  if (t.ropeScaling && (t.ropeScaling as { rope_type?: unknown; type?: unknown }).rope_type !== 'default') {
    throw new ModelFormatError(`This model uses RoPE scaling (${JSON.stringify(t.ropeScaling)}), which Lumen's Llama forward does not implement yet.`);
  }
  if (t.headDim % 4 !== 0 || 1024 % t.headDim !== 0) throw new ModelFormatError(`head_dim ${t.headDim} is not supported (32, 64 or 128).`);
  if (t.hiddenSize % 32 !== 0 || t.intermediateSize % 32 !== 0 || (t.numHeads * t.headDim) % 32 !== 0) {
    throw new ModelFormatError(`hidden ${t.hiddenSize} / intermediate ${t.intermediateSize} must be multiples of 32 for the engine's weight format.`);
  }
  return {
    arch: t.arch,
    hidden: t.hiddenSize,
    inter: t.intermediateSize,
    layers: t.numLayers,
    nHeads: t.numHeads,
    nKv: t.numKvHeads,
    headDim: t.headDim,
    vocab: t.vocabSize,
    eps: t.rmsNormEps,
    ropeTheta: t.ropeTheta,
    maxPositions: t.maxPositionEmbeddings,
    qkvBias: t.qkvBias,
    oBias: t.oBias,
    tied,
    qkvWidth: (t.numHeads + 2 * t.numKvHeads) * t.headDim,
  };
}

/** Engine tensor names of layer l (workers/storage/tensor-plan.ts). */
export function layerNames(l: number) {
  const p = `layers.${l}.`;
  return {
    attnNorm: `${p}attn_norm`,
    qkv: `${p}qkv`,
    qkvBias: `${p}qkv_bias`,
    o: `${p}o`,
    oBias: `${p}o_bias`,
    mlpNorm: `${p}mlp_norm`,
    gateUp: `${p}gate_up`,
    down: `${p}down`,
  };
}
