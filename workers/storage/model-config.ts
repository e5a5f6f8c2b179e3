// Parses a Hugging Face config.json into the engine's normalized model config: Llama and Qwen2
// language models, and Idefics3 (SmolVLM: text_config + vision_config + connector). Unsupported
// or inconsistent configs raise ModelFormatError with what to do. Pure data, no I/O.
import { ModelFormatError } from '../protocol/errors';

export type TextArch = 'llama' | 'qwen2';

/** Decoder-only language model (Llama family). All sizes in elements. */
export interface TextModelConfig {
  arch: TextArch;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** As in config.json (null when absent); the forward decides what it supports. */
  ropeScaling: Record<string, unknown> | null;
  maxPositionEmbeddings: number;
  /** q/k/v projections carry biases (Qwen2; Llama with attention_bias). */
  qkvBias: boolean;
  /** o_proj carries a bias (Llama with attention_bias). */
  oBias: boolean;
  /** lm_head shares the embedding table (config flag, or lm_head.weight absent). Finalized at install. */
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
}

/** SigLIP-style vision tower of Idefics3. */
export interface VisionModelConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  layerNormEps: number;
  hiddenAct: string;
}

export type ModelConfig =
  | { kind: 'text'; text: TextModelConfig }
  | { kind: 'idefics3'; text: TextModelConfig; vision: VisionModelConfig; scaleFactor: number; imageTokenId: number | null };

type Json = Record<string, unknown>;

function num(c: Json, key: string, where: string, fallback?: number): number {
  const v = c[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(`config.json: ${where}${key} is missing; this does not look like a supported model config.`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(`config.json: ${where}${key} is ${JSON.stringify(v)}, expected a number.`);
  return v;
}

function posInt(c: Json, key: string, where: string, fallback?: number): number {
  const v = num(c, key, where, fallback);
  if (!Number.isSafeInteger(v) || v <= 0) throw new ModelFormatError(`config.json: ${where}${key} is ${v}, expected a positive integer.`);
  return v;
}

function parseText(c: Json, where: string, topLevel: Json): TextModelConfig {
  const type = String(c.model_type ?? 'llama');
  if (type !== 'llama' && type !== 'qwen2') {
    throw new ModelFormatError(`config.json: ${where}model_type "${type}" is not supported; Lumen runs Llama, Qwen2 and Idefics3 (SmolVLM) models.`);
  }
  if (c.mlp_bias === true) throw new ModelFormatError(`config.json: ${where}mlp_bias is true, which Lumen's Llama forward does not support.`);
  const act = String(c.hidden_act ?? 'silu');
  if (act !== 'silu') throw new ModelFormatError(`config.json: ${where}hidden_act "${act}" is not supported (only silu).`);
  const hiddenSize = posInt(c, 'hidden_size', where);
  const numHeads = posInt(c, 'num_attention_heads', where);
  const numKvHeads = posInt(c, 'num_key_value_heads', where, numHeads);
  if (numHeads % numKvHeads !== 0) throw new ModelFormatError(`config.json: ${where}num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}.`);
  const headDim = posInt(c, 'head_dim', where, hiddenSize / numHeads);
  const attnBias = c.attention_bias === true;
  const tie = c.tie_word_embeddings ?? topLevel.tie_word_embeddings;
  const rs = c.rope_scaling ?? (c.rope_parameters && typeof c.rope_parameters === 'object' && (c.rope_parameters as Json).rope_type !== 'default' ? c.rope_parameters : null);
  const ropeParams = (c.rope_parameters ?? {}) as Json;
  return {
    arch: type,
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where),
    numLayers: posInt(c, 'num_hidden_layers', where),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: posInt(c, 'vocab_size', where),
    rmsNormEps: num(c, 'rms_norm_eps', where, 1e-6),
    ropeTheta: num(c, 'rope_theta', where, typeof ropeParams.rope_theta === 'number' ? ropeParams.rope_theta : 10000),
    ropeScaling: rs && typeof rs === 'object' ? (rs as Json) : null,
    maxPositionEmbeddings: posInt(c, 'max_position_embeddings', where, 2048),
    qkvBias: type === 'qwen2' || attnBias,
    oBias: type === 'llama' && attnBias,
    tieWordEmbeddings: tie === undefined ? type === 'qwen2' : tie === true,
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : null,
    eosTokenId: typeof c.eos_token_id === 'number' || Array.isArray(c.eos_token_id) ? (c.eos_token_id as number | number[]) : null,
  };
}

function parseVision(c: Json): VisionModelConfig {
  const where = 'vision_config.';
  // Defaults are transformers' Idefics3VisionConfig defaults (used when a field is omitted).
  const hiddenSize = posInt(c, 'hidden_size', where, 1152);
  const numHeads = posInt(c, 'num_attention_heads', where, 16);
  if (hiddenSize % numHeads !== 0) throw new ModelFormatError(`config.json: vision_config.hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}.`);
  const imageSize = posInt(c, 'image_size', where, 224);
  const patchSize = posInt(c, 'patch_size', where, 32);
  if (imageSize % patchSize !== 0) throw new ModelFormatError(`config.json: vision_config.image_size ${imageSize} is not a multiple of patch_size ${patchSize}.`);
  return {
    hiddenSize,
    intermediateSize: posInt(c, 'intermediate_size', where, 3072),
    numLayers: posInt(c, 'num_hidden_layers', where, 12),
    numHeads,
    imageSize,
    patchSize,
    numChannels: posInt(c, 'num_channels', where, 3),
    layerNormEps: num(c, 'layer_norm_eps', where, 1e-6),
    hiddenAct: String(c.hidden_act ?? 'gelu_pytorch_tanh'),
  };
}

/** Parses config.json's object. */
export function parseModelConfig(raw: unknown): ModelConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelFormatError('config.json is not a JSON object. Download the model again.');
  const c = raw as Json;
  const type = String(c.model_type ?? '');
  if (type === 'idefics3' || type === 'smolvlm') {
    if (!c.text_config || typeof c.text_config !== 'object') throw new ModelFormatError('config.json: Idefics3 model without text_config.');
    const text = parseText(c.text_config as Json, 'text_config.', c);
    const vision = parseVision((c.vision_config ?? {}) as Json);
    const scaleFactor = posInt(c, 'scale_factor', '', 2);
    const side = vision.imageSize / vision.patchSize;
    if (side % scaleFactor !== 0) throw new ModelFormatError(`config.json: the ${side}x${side} patch grid is not divisible by scale_factor ${scaleFactor}.`);
    return { kind: 'idefics3', text, vision, scaleFactor, imageTokenId: typeof c.image_token_id === 'number' ? c.image_token_id : null };
  }
  if (type === 'llama' || type === 'qwen2') return { kind: 'text', text: parseText(c, '', c) };
  throw new ModelFormatError(`config.json: model_type "${type || '(none)'}" is not supported; Lumen runs Llama, Qwen2 and Idefics3 (SmolVLM) models.`);
}

/** Parses config.json bytes. */
export function parseModelConfigBytes(bytes: Uint8Array): ModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ModelFormatError(`config.json is not valid JSON (${(e as Error).message}). Download the model again.`);
  }
  return parseModelConfig(raw);
}
