// Writes the tiny-idefics3 parity fixture's tokenizer files (Hugging Face formats): the byte-level
// BPE of make-tiny-tokenizer.mjs (ids 0..2 specials, id b = byte b for b in 3..255) plus the
// Idefics3 added tokens at 256.. (<fake_token_around_image>, <image>, <global-img>,
// <end_of_utterance>, <row_r_col_c> for r, c in 1..4), and a SmolVLM-style chat template whose
// image parts render as <image>. Both the Python oracle and the Node test read these files.
// --preset smolvlm-256m writes SmolVLM-256M-Instruct's real processor settings instead of the tiny
// ones (longest edge 2048, 512 px tiles, 64 tokens per tile); the tokenizer is the same.
// Usage: node tools/parity/idefics3_make_tokenizer.mjs DIR [--preset tiny|smolvlm-256m]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { byteLevelTokenizer } from './make-tiny-tokenizer.mjs';

const added = ['<fake_token_around_image>', '<image>', '<global-img>', '<end_of_utterance>'];
for (let r = 1; r <= 4; r++) for (let c = 1; c <= 4; c++) added.push(`<row_${r}_col_${c}>`);
const tokenizer = byteLevelTokenizer(added);
const config = {
  tokenizer_class: 'GPT2Tokenizer',
  bos_token: '<|im_start|>',
  eos_token: '<end_of_utterance>',
  pad_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  additional_special_tokens: ['<fake_token_around_image>', '<image>', '<end_of_utterance>'],
  add_prefix_space: false,
  clean_up_tokenization_spaces: false,
  model_max_length: 2048,
  chat_template:
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
};
const PRESETS = {
  tiny: { longestEdge: 192, tile: 64, imageSeqLen: 4 },
  'smolvlm-256m': { longestEdge: 2048, tile: 512, imageSeqLen: 64 },
};
const dir = process.argv[2];
const pi = process.argv.indexOf('--preset');
const preset = PRESETS[pi > 0 ? process.argv[pi + 1] : 'tiny'];
if (!dir || !preset) throw new Error(`usage: idefics3_make_tokenizer.mjs DIR [--preset ${Object.keys(PRESETS).join('|')}]`);
writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 259 }, null, 2));
writeFileSync(
  join(dir, 'preprocessor_config.json'),
  JSON.stringify(
    {
      image_processor_type: 'Idefics3ImageProcessor',
      processor_class: 'Idefics3Processor',
      do_convert_rgb: true,
      do_resize: true,
      size: { longest_edge: preset.longestEdge },
      resample: 1,
      do_image_splitting: true,
      max_image_size: { longest_edge: preset.tile },
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      do_pad: true,
    },
    null,
    2,
  ),
);
writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_seq_len: preset.imageSeqLen, processor_class: 'Idefics3Processor' }, null, 2));
