// Writes a model directory with random weights (config.json + model.safetensors in BF16, as the
// hub ships them) for a Llama/Qwen2 config, streaming one tensor at a time so a 0.5B model never
// sits whole in memory. Values are uniform in ±(1/sqrt(in)): decoding speed does not depend on
// them, but they keep activations finite.
import { open, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeTensor, safetensorsHeader, type TensorEntry } from '../../workers/storage/safetensors-writer';
import type { HfConfig } from './shapes';

function tensorList(c: HfConfig): TensorEntry[] {
  const h = c.hidden_size;
  const hd = h / c.num_attention_heads;
  const q = c.num_attention_heads * hd;
  const kv = c.num_key_value_heads * hd;
  const i = c.intermediate_size;
  const bias = c.model_type === 'qwen2';
  const out: TensorEntry[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [c.vocab_size, h] }];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    out.push({ name: `${p}input_layernorm.weight`, dtype: 'BF16', shape: [h] });
    out.push({ name: `${p}self_attn.q_proj.weight`, dtype: 'BF16', shape: [q, h] });
    out.push({ name: `${p}self_attn.k_proj.weight`, dtype: 'BF16', shape: [kv, h] });
    out.push({ name: `${p}self_attn.v_proj.weight`, dtype: 'BF16', shape: [kv, h] });
    if (bias) {
      out.push({ name: `${p}self_attn.q_proj.bias`, dtype: 'BF16', shape: [q] });
      out.push({ name: `${p}self_attn.k_proj.bias`, dtype: 'BF16', shape: [kv] });
      out.push({ name: `${p}self_attn.v_proj.bias`, dtype: 'BF16', shape: [kv] });
    }
    out.push({ name: `${p}self_attn.o_proj.weight`, dtype: 'BF16', shape: [h, q] });
    out.push({ name: `${p}post_attention_layernorm.weight`, dtype: 'BF16', shape: [h] });
    out.push({ name: `${p}mlp.gate_proj.weight`, dtype: 'BF16', shape: [i, h] });
    out.push({ name: `${p}mlp.up_proj.weight`, dtype: 'BF16', shape: [i, h] });
    out.push({ name: `${p}mlp.down_proj.weight`, dtype: 'BF16', shape: [h, i] });
  }
  out.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [h] });
  return out;
}

/** xorshift32 uniform in [-1, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2147483648 - 1;
  };
}

/** Writes config.json + model.safetensors into dir; returns the safetensors size in bytes. */
export async function writeRandomModel(dir: string, config: HfConfig, seed = 1): Promise<number> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const entries = tensorList(config);
  const { header, dataBytes } = safetensorsHeader(entries, { format: 'pt' });
  const fh = await open(join(dir, 'model.safetensors'), 'w');
  const r = rng(seed);
  try {
    await fh.write(header);
    for (const e of entries) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (e.shape.length === 1) {
        const isNorm = e.name.endsWith('norm.weight');
        for (let k = 0; k < n; k++) data[k] = isNorm ? 1 + 0.1 * r() : 0.1 * r();
      } else {
        const amp = 1 / Math.sqrt(e.shape[1]);
        for (let k = 0; k < n; k++) data[k] = amp * r();
      }
      await fh.write(encodeTensor({ ...e, data }));
    }
  } finally {
    await fh.close();
  }
  return header.byteLength + dataBytes;
}
