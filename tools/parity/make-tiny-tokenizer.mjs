// Writes a tiny byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json, Hugging Face
// formats) for the 256-token parity fixtures, so tests drive the whole text path (chat template,
// encode, incremental decode) on a real @huggingface/transformers tokenizer. Ids 0..2 are the
// special tokens <|endoftext|>, <|im_start|>, <|im_end|>; id b (3..255) is the byte b (GPT-2
// byte-to-unicode mapping, no merges). Bytes 0..2 (control characters) are not encodable.
// byteLevelTokenizer() is also the tokenizer.json of idefics3_make_tokenizer.mjs (with added tokens).
// Usage: node tools/parity/make-tiny-tokenizer.mjs DIR [DIR...]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

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

/** tokenizer.json: the specials at 0..2, byte b at id b (3..255), then `added` special tokens at 256... */
export function byteLevelTokenizer(added = []) {
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const b2u = byteToUnicode();
  const vocab = {};
  specials.forEach((s, i) => (vocab[s] = i));
  for (let b = 3; b < 256; b++) vocab[b2u.get(b)] = b;
  added.forEach((s, i) => (vocab[s] = 256 + i));
  const tok = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
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
}

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
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tokenizer = byteLevelTokenizer();
  for (const dir of process.argv.slice(2)) {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  }
}
