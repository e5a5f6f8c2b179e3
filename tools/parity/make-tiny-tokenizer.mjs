// Writes a tiny byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json, Hugging Face
// formats) for the 256-token parity fixtures, so tests drive the whole text path (chat template,
// encode, incremental decode) on a real @huggingface/transformers tokenizer. Ids 0..2 are the
// special tokens <|endoftext|>, <|im_start|>, <|im_end|>; id b (3..255) is the byte b (GPT-2
// byte-to-unicode mapping, no merges). Bytes 0..2 (control characters) are not encodable.
// Usage: node tools/parity/make-tiny-tokenizer.mjs DIR [DIR...]
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
const b2u = byteToUnicode();
const vocab = {};
specials.forEach((s, i) => (vocab[s] = i));
for (let b = 3; b < 256; b++) vocab[b2u.get(b)] = b;

const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null,
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
};
const config = {
  tokenizer_class: 'GPT2Tokenizer',
  bos_token: '<|im_start|>',
  eos_token: '<|im_end|>',
  pad_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  add_prefix_space: false,
  clean_up_tokenization_spaces: false,
  model_max_length: 512,
  chat_template:
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
};
for (const dir of process.argv.slice(2)) {
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
}
