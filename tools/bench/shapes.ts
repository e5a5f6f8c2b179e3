// Model shapes the benchmark runs (Hugging Face config.json objects): the real configs of
// SmolLM2-135M, SmolLM2-360M and Qwen2-0.5B, and a tiny one for SwiftShader. Data only.

export type HfConfig = Record<string, unknown> & {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  intermediate_size: number;
  vocab_size: number;
};

const llama = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', tie_word_embeddings: true, rms_norm_eps: 1e-5, rope_theta: 100000, max_position_embeddings: 8192 };

export const SHAPES: Record<string, HfConfig> = {
  'smollm2-135m': { ...llama, hidden_size: 576, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, intermediate_size: 1536, vocab_size: 49152 },
  'smollm2-360m': { ...llama, hidden_size: 960, num_hidden_layers: 32, num_attention_heads: 15, num_key_value_heads: 5, intermediate_size: 2560, vocab_size: 49152 },
  'qwen2-0.5b': {
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_act: 'silu', tie_word_embeddings: true, rms_norm_eps: 1e-6, rope_theta: 1000000,
    max_position_embeddings: 131072, hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, intermediate_size: 4864, vocab_size: 151936,
  },
  // SwiftShader-sized: same structure, small enough for a CPU.
  'tiny-llama-bench': { ...llama, hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 256, vocab_size: 1024 },
};
