// Tokenizer glue on the tiny fixture tokenizer (a real byte-level BPE tokenizer.json): chat
// template (checked against transformers.js's apply_chat_template), EOS ids, and incremental
// detokenization that never splits a multi-byte character.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedImageError, ModelFormatError } from '../protocol/errors';
import { IncrementalDetokenizer } from './detokenizer';
import { StopStringMatcher } from './stop-strings';
import { createChatTokenizer } from './tokenizer';

const dir = join(__dirname, '../../tools/parity/fixtures/tiny-llama');
const read = (f: string) => readFileSync(join(dir, f));

describe('chat tokenizer', () => {
  const tok = createChatTokenizer(read('tokenizer.json'), read('tokenizer_config.json'), read('generation_config.json'));

  it('applies the chat template and encodes bytes', () => {
    const ids = tok.encodeChat([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
    // <|im_start|> u s e r \n H i <|im_end|> \n <|im_start|> a s s i s t a n t \n
    const expected = [1, ...'user\nHi'].map((c) => (typeof c === 'number' ? c : c.charCodeAt(0)));
    expect(ids.slice(0, expected.length)).toEqual(expected);
    expect(ids[expected.length]).toBe(2);
    expect(tok.decode(ids)).toBe('user\nHi\nassistant\n');
    expect([...tok.eosIds]).toEqual([2]);
  });

  it('matches transformers.js apply_chat_template and decode on the same files', async () => {
    const { PreTrainedTokenizer } = await import('@huggingface/transformers');
    const ref = new PreTrainedTokenizer(JSON.parse(read('tokenizer.json').toString()), JSON.parse(read('tokenizer_config.json').toString()));
    const conv = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Qu’est-ce que c’est ? 日本' },
      { role: 'assistant' as const, content: 'Un test.' },
      { role: 'user' as const, content: 'Encore' },
    ];
    const want = ref.apply_chat_template(conv, { add_generation_prompt: true, tokenize: true, return_tensor: false, return_dict: false }) as unknown as number[];
    const got = tok.encodeChat(conv.map((m) => ({ role: m.role, content: [{ type: 'text' as const, text: m.content }] })));
    expect(got).toEqual(Array.from(want, Number));
    expect(tok.decode(got)).toBe(ref.decode(got, { skip_special_tokens: true }));
  });

  it('refuses images for a text-only model', () => {
    const blob = new Blob([new Uint8Array(4)]);
    expect(() => tok.encodeChat([{ role: 'user', content: [{ type: 'image', id: 'x', blob }] }])).toThrow(UnsupportedImageError);
  });

  it('rejects malformed tokenizer files with a named error', () => {
    expect(() => createChatTokenizer('{', read('tokenizer_config.json'))).toThrow(ModelFormatError);
    expect(() => createChatTokenizer('{}', read('tokenizer_config.json'))).toThrow(ModelFormatError);
  });

  it('detokenizes incrementally without splitting UTF-8 characters', () => {
    const text = 'héllo → 世界 🙂!';
    const ids = tok.encode(text);
    expect(ids.length).toBe(new TextEncoder().encode(text).length);
    const d = new IncrementalDetokenizer((x) => tok.decode(x));
    const pieces = ids.map((id) => d.push(id));
    pieces.push(d.flush());
    expect(pieces.join('')).toBe(text);
    for (const p of pieces) expect(p.includes('\uFFFD')).toBe(false);
    // The 4-byte emoji arrives as one piece after its last byte, nothing before.
    expect(pieces.filter((p) => p === '🙂').length).toBe(1);
  });
});

describe('stop strings', () => {
  it('holds back possible prefixes and cuts at the stop string', () => {
    const m = new StopStringMatcher(['END', '\n\n']);
    expect(m.push('abc E')).toEqual({ emit: 'abc ', stopped: false });
    expect(m.push('N')).toEqual({ emit: '', stopped: false });
    expect(m.push('X')).toEqual({ emit: 'ENX', stopped: false });
    expect(m.push('y\n')).toEqual({ emit: 'y', stopped: false });
    expect(m.push('\nzzz')).toEqual({ emit: '', stopped: true });
  });
  it('flushes held text when generation ends without a stop', () => {
    const m = new StopStringMatcher(['STOP']);
    expect(m.push('a ST')).toEqual({ emit: 'a ', stopped: false });
    expect(m.flush()).toBe('ST');
    const none = new StopStringMatcher([]);
    expect(none.push('x')).toEqual({ emit: 'x', stopped: false });
  });
  it('finds a stop string split across pushes', () => {
    const m = new StopStringMatcher(['<|end|>']);
    expect(m.push('ok <|e').emit).toBe('ok ');
    expect(m.push('nd|> more')).toEqual({ emit: '', stopped: true });
  });
});
