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

/**
 * The HF tensors a config implies, with seeded random values (norm weights near 1). `exact`
 * values (multiples of 1/64) survive F16/BF16 encoding unchanged.
 */
export function modelTensors(config: Record<string, unknown>, dtype: WritableDtype = 'F32', opts: { lmHead?: boolean; exact?: boolean } = {}): TensorToWrite[] {
  const parsed = parseModelConfig(config);
  const { tensors } = planTensors(parsed, opts.lmHead ?? !parsed.text.tieWordEmbeddings);
  const out: TensorToWrite[] = [];
  let seed = 1;
  for (const t of tensors) {
    for (const s of t.sources) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const data = seededValues(n, seed++, opts.exact);
      // Norm weights near 1 (multiples of 1/128 when exact: representable in bf16 and f16).
      if (t.cls === 'norm') for (let i = 0; i < n; i++) data[i] = opts.exact ? 1 + Math.round(data[i] * 16) / 128 : 1 + data[i] / 8;
      out.push({ name: s.hf, dtype, shape: s.shape, data });
    }
  }
  return out;
}

/** config.json + model.safetensors bytes for a config. */
export function modelFiles(config: Record<string, unknown>, dtype: WritableDtype = 'F32', opts: { lmHead?: boolean; exact?: boolean } = {}): Record<string, Uint8Array> {
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
