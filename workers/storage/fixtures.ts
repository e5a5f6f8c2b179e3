// Small synthetic models for tests, the e2e harness and tools: a config.json plus a safetensors
// file of seeded random weights laid out exactly as Hugging Face names them (Llama, Qwen2,
// Idefics3), and an in-memory FileSource over such files. Not used by the app at run time.
import { writeSafetensors } from './safetensors-writer';
import type { TensorToWrite, WritableDtype } from './safetensors-writer';
import { parseModelConfig } from './model-config';
import { planTensors } from './tensor-plan';
import type { FileSource } from './types';

/** Deterministic uniform values in [-1, 1) (mulberry32), rounded to multiples of 1/64 when `exact`. */
export function seededValues(n: number, seed: number, exact = false): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = exact ? Math.round((u * 2 - 1) * 64) / 64 : u * 2 - 1;
  }
  return out;
}

export function tinyLlamaConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_type: 'llama',
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 96,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 256,
    tie_word_embeddings: false,
    hidden_act: 'silu',
    ...over,
  };
}

export function tinyIdefics3Config(): Record<string, unknown> {
  return {
    model_type: 'idefics3',
    scale_factor: 2,
    image_token_id: 95,
    text_config: tinyLlamaConfig({ tie_word_embeddings: true }),
    vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, image_size: 32, patch_size: 8, num_channels: 3 },
  };
}

export interface FixtureOptions {
  /** Store lm_head.weight (default: when the config does not tie it). */
  lmHead?: boolean;
  /** Values that survive F16/BF16 encoding unchanged (multiples of 1/64; norms of 1/128). */
  exact?: boolean;
}

/** Name, shape and seed of every HF tensor a config implies, in file order. */
export function modelTensorSpecs(config: Record<string, unknown>, opts: FixtureOptions = {}): { name: string; shape: number[]; norm: boolean; seed: number }[] {
  const parsed = parseModelConfig(config);
  const { tensors } = planTensors(parsed, opts.lmHead ?? !parsed.text.tieWordEmbeddings);
  let seed = 1;
  return tensors.flatMap((t) => t.sources.map((s) => ({ name: s.hf, shape: s.shape, norm: t.cls === 'norm', seed: seed++ })));
}

/** Seeded values of one spec (norm weights near 1). */
export function specValues(spec: { shape: number[]; norm: boolean; seed: number }, exact = false): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const data = seededValues(n, spec.seed, exact);
  // Norm weights near 1 (multiples of 1/128 when exact: representable in bf16 and f16).
  if (spec.norm) for (let i = 0; i < n; i++) data[i] = exact ? 1 + Math.round(data[i] * 16) / 128 : 1 + data[i] / 8;
  return data;
}

/** The HF tensors a config implies, with seeded random values, as in a transformers checkpoint. */
export function modelTensors(config: Record<string, unknown>, dtype: WritableDtype = 'F32', opts: FixtureOptions = {}): TensorToWrite[] {
  return modelTensorSpecs(config, opts).map((s) => ({ name: s.name, dtype, shape: s.shape, data: specValues(s, opts.exact) }));
}

/** config.json + model.safetensors bytes for a config. */
export function modelFiles(config: Record<string, unknown>, dtype: WritableDtype = 'F32', opts: FixtureOptions = {}): Record<string, Uint8Array> {
  return {
    'config.json': new TextEncoder().encode(JSON.stringify(config)),
    'model.safetensors': writeSafetensors(modelTensors(config, dtype, opts)),
  };
}

/** FileSource over in-memory files (tests and the browser e2e harness). */
export function memoryFileSource(files: Record<string, Uint8Array>): FileSource {
  const get = (p: string): Uint8Array => {
    const f = files[p];
    if (!f) throw new RangeError(`no file "${p}"`);
    return f;
  };
  return {
    async list() {
      return Object.keys(files).sort();
    },
    async size(p) {
      return get(p).byteLength;
    },
    async read(p, offset, length) {
      const f = get(p);
      if (offset < 0 || length < 0 || offset + length > f.byteLength) throw new RangeError(`read ${offset}+${length} outside "${p}" (${f.byteLength} bytes)`);
      return f.slice(offset, offset + length);
    },
  };
}
