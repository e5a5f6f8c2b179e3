// Writes the tiny-idefics3 parity fixture's tokenizer files (Hugging Face formats): the byte-level
// BPE of make-tiny-tokenizer.mjs (ids 0..2 specials, id b = byte b for b in 3..255) plus the
// Idefics3 added tokens at 256.. (<fake_token_around_image>, <image>, <global-img>,
// <end_of_utterance>, <row_r_col_c> for r, c in 1..4), and a SmolVLM-style chat template whose
// image parts render as <image>. Both the Python oracle and the Node test read these files.
// Usage: node tools/parity/idefics3_make_tokenizer.mjs DIR
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function byteToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = new Map();
  bs.forEach((b, i) => map.set(b, String.fromCodePoint(cs[i])));
  return map;
}

const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const added = ['<fake_token_around_image>', '<image>', '<global-img>', '<end_of_utterance>'];
for (let r = 1; r <= 4; r++) for (let c = 1; c <= 4; c++) added.push(`<row_${r}_col_${c}>`);
const b2u = byteToUnicode();
const vocab = {};
specials.forEach((s, i) => (vocab[s] = i));
for (let b = 3; b < 256; b++) vocab[b2u.get(b)] = b;
added.forEach((s, i) => (vocab[s] = 256 + i));
const tok = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [...specials.map((s, i) => tok(s, i)), ...added.map((s, i) => tok(s, 256 + i))],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null,
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
};
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
const dir = process.argv[2];
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
      size: { longest_edge: 192 },
      resample: 1,
      do_image_splitting: true,
      max_image_size: { longest_edge: 64 },
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
writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_seq_len: 4, processor_class: 'Idefics3Processor' }, null, 2));
