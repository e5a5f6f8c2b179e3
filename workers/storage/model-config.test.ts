// Config parsing for the shapes Lumen targets (SmolLM2-135M, Qwen2-0.5B, SmolVLM-256M as their
// config.json files state them) and the named errors for configs it cannot run.
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../protocol/errors';
import { parseModelConfig, parseModelConfigBytes } from './model-config';
import { planTensors } from './tensor-plan';

const smollm135 = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
  num_attention_heads: 9, num_key_value_heads: 3, vocab_size: 49152, rms_norm_eps: 1e-5, rope_theta: 100000,
  max_position_embeddings: 8192, tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 0, eos_token_id: 0,
};
const qwen05 = {
  model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 32768,
  tie_word_embeddings: true, hidden_act: 'silu', eos_token_id: 151643,
};
const smolvlm256 = {
  model_type: 'idefics3', scale_factor: 4, image_token_id: 49190,
  text_config: { ...smollm135, vocab_size: 49280, tie_word_embeddings: false },
  vision_config: { hidden_size: 768, image_size: 512, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, patch_size: 16, model_type: 'smolvlm_vision' },
};

describe('parseModelConfig', () => {
  it('SmolLM2-135M: Llama, GQA 9/3, head_dim 64, tied', () => {
    const c = parseModelConfig(smollm135);
    expect(c.kind).toBe('text');
    expect(c.text).toMatchObject({ arch: 'llama', hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64, qkvBias: false, oBias: false, tieWordEmbeddings: true, ropeTheta: 100000 });
    const { tensors, tied } = planTensors(c, false);
    expect(tied).toBe(true);
    expect(tensors.length).toBe(1 + 30 * 6 + 1);
    expect(tensors.find((t) => t.name === 'layers.29.qkv')!.shape).toEqual([(9 + 6) * 64, 576]);
    expect(tensors.find((t) => t.name === 'layers.0.gate_up')!.shape).toEqual([2 * 1536, 576]);
  });

  it('Qwen2-0.5B: q/k/v biases, head_dim 64', () => {
    const c = parseModelConfig(qwen05);
    expect(c.text).toMatchObject({ arch: 'qwen2', headDim: 64, qkvBias: true, oBias: false, tieWordEmbeddings: true });
    const bias = planTensors(c, false).tensors.find((t) => t.name === 'layers.3.qkv_bias')!;
    expect(bias.shape).toEqual([(14 + 4) * 64]);
    expect(bias.sources.map((s) => s.hf)).toEqual(['q', 'k', 'v'].map((x) => `model.layers.3.self_attn.${x}_proj.bias`));
  });

  it('SmolVLM-256M: Idefics3 text + vision + connector names and shapes', () => {
    const c = parseModelConfig(smolvlm256);
    if (c.kind !== 'idefics3') throw new Error('expected idefics3');
    expect(c.vision).toMatchObject({ hiddenSize: 768, patchSize: 16, imageSize: 512, numLayers: 12 });
    const { tensors, tied } = planTensors(c, true);
    expect(tied).toBe(false);
    const by = (n: string) => tensors.find((t) => t.name === n)!;
    expect(by('lm_head').sources[0]).toEqual({ hf: 'lm_head.weight', shape: [49280, 576] });
    expect(by('embed').sources[0].hf).toBe('model.text_model.embed_tokens.weight');
    expect(by('vision.patch_embed').sources[0]).toEqual({ hf: 'model.vision_model.embeddings.patch_embedding.weight', shape: [768, 3, 16, 16] });
    expect(by('vision.pos_embed').shape).toEqual([1024, 768]);
    expect(by('vision.layers.11.fc1').sources[0].hf).toBe('model.vision_model.encoder.layers.11.mlp.fc1.weight');
    expect(by('connector.proj').sources[0]).toEqual({ hf: 'model.connector.modality_projection.proj.weight', shape: [576, 768 * 16] });
  });

  it('names what it cannot run', () => {
    const cases: [unknown, RegExp][] = [
      [{ model_type: 'gpt2' }, /model_type "gpt2" is not supported/],
      [{ ...smollm135, hidden_size: undefined }, /hidden_size is missing/],
      [{ ...smollm135, num_key_value_heads: 4 }, /num_attention_heads 9 is not a multiple of num_key_value_heads 4/],
      [{ ...smollm135, hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
      [{ ...smollm135, mlp_bias: true }, /mlp_bias/],
      [{ ...smollm135, num_hidden_layers: 2.5 }, /num_hidden_layers is 2.5, expected a positive integer/],
      [{ ...smolvlm256, text_config: undefined }, /without text_config/],
      [{ ...smolvlm256, scale_factor: 3 }, /32x32 patch grid is not divisible by scale_factor 3/],
      [[], /not a JSON object/],
    ];
    for (const [cfg, re] of cases) expect(() => parseModelConfig(cfg), String(re)).toThrow(re);
    expect(() => parseModelConfigBytes(new TextEncoder().encode('{oops'))).toThrow(ModelFormatError);
  });
});
