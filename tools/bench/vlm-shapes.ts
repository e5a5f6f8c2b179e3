// Idefics3 (SmolVLM) shapes for the photo-to-first-token benchmark (tools/bench/vlm.ts): the real
// config.json of SmolVLM-256M-Instruct and SmolVLM-500M-Instruct, their processor settings
// (longest edge 2048, 512 px tiles, 64 visual tokens per tile), and a tiny shape for SwiftShader.
// image_token_id is the <image> id of the byte-level parity tokenizer the bench installs with
// (tools/parity/fixtures/tiny-idefics3), the only change from the hub's files. Data only.

export interface VlmShape {
  config: Record<string, unknown>;
  /** preprocessor_config.json fields that differ between shapes. */
  longestEdge: number;
  tile: number;
  imageSeqLen: number;
}

const vision = { model_type: 'idefics3_vision', hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, num_channels: 3, image_size: 512, patch_size: 16, hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6 };
const text = { model_type: 'llama', hidden_act: 'silu', rms_norm_eps: 1e-5, rope_theta: 100000, max_position_embeddings: 8192, vocab_size: 49280, tie_word_embeddings: false, attention_bias: false, mlp_bias: false, bos_token_id: 1, eos_token_id: 259, pad_token_id: 0 };
const idefics3 = { architectures: ['Idefics3ForConditionalGeneration'], model_type: 'idefics3', image_token_id: 257, tie_word_embeddings: false, vocab_size: 49280 };

export const VLM_SHAPES: Record<string, VlmShape> = {
  'smolvlm-256m': {
    config: { ...idefics3, scale_factor: 4, vision_config: vision, text_config: { ...text, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64 } },
    longestEdge: 2048,
    tile: 512,
    imageSeqLen: 64,
  },
  'smolvlm-500m': {
    config: { ...idefics3, scale_factor: 4, vision_config: vision, text_config: { ...text, hidden_size: 960, intermediate_size: 2560, num_hidden_layers: 32, num_attention_heads: 15, num_key_value_heads: 5, head_dim: 64 } },
    longestEdge: 2048,
    tile: 512,
    imageSeqLen: 64,
  },
  // SwiftShader-sized: SigLIP 64 wide / 2 layers on 64 px tiles, a 2-layer LM, same structure.
  'tiny-vlm-bench': {
    config: {
      ...idefics3,
      vocab_size: 288,
      scale_factor: 2,
      vision_config: { ...vision, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 2, image_size: 64 },
      text_config: { ...text, vocab_size: 288, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16 },
    },
    longestEdge: 256,
    tile: 64,
    imageSeqLen: 4,
  },
};

/** preprocessor_config.json of a shape (SmolVLM's, with the shape's sizes). */
export function preprocessorConfig(s: VlmShape): Record<string, unknown> {
  return {
    image_processor_type: 'Idefics3ImageProcessor',
    processor_class: 'Idefics3Processor',
    do_convert_rgb: true,
    do_resize: true,
    size: { longest_edge: s.longestEdge },
    resample: 1,
    do_image_splitting: true,
    max_image_size: { longest_edge: s.tile },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    do_pad: true,
  };
}
