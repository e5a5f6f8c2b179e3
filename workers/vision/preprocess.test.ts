// Idefics3 preprocessing and prompt glue against @huggingface/transformers' own Idefics3Processor,
// on the tiny-idefics3 fixture's tokenizer + processor configs and a fixed synthetic 192x128 photo:
// tiling (2x3 tiles of 64 px + the global image), our prompt expansion = the processor's ids, and
// virtual ids replacing every <image> in order. A bigger photo is resized, not refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Idefics3Processor } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import type { ChatTurn } from '../protocol/engine';
import { createImageProcessor, imagePromptString, preprocessImage } from './preprocess';
import { createVlmTokenizer, encodeVlmPrompt, parseJsonFile, renderChat } from './prompt';
import { syntheticPhoto } from './test-photo';

const dir = join(__dirname, '../../tools/parity/fixtures/tiny-idefics3');
const json = (f: string) => parseJsonFile(readFileSync(join(dir, f)), f);

const chat: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'p1', blob: new Blob([]) }, { type: 'text', text: 'What is in this photo?' }] }];

describe('Idefics3 preprocessing', () => {
  it('tiles the photo row-major plus the global image, normalized to [-1, 1]', async () => {
    const proc = createImageProcessor(json('preprocessor_config.json'));
    const r = await preprocessImage(proc, syntheticPhoto());
    expect(r).toMatchObject({ tiles: 7, rows: 2, cols: 3, size: 64 });
    expect(r.pixels.length).toBe(7 * 3 * 64 * 64);
    // tile (row 1, col 2) pixel (0, 0) is photo pixel (x = 64, y = 0): r = 320 % 256 = 64
    expect(r.pixels[1 * 3 * 64 * 64]).toBeCloseTo(64 / 127.5 - 1, 5);
    expect(Math.max(...r.pixels)).toBeLessThanOrEqual(1);
    expect(Math.min(...r.pixels)).toBeGreaterThanOrEqual(-1);
    const big = await preprocessImage(proc, syntheticPhoto(900, 300));
    expect(big).toMatchObject({ rows: 1, cols: 3, tiles: 4 });
  });

  it('prompt ids equal Idefics3Processor output, with <image> ids made virtual', async () => {
    const tok = createVlmTokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    const text = renderChat(tok, chat);
    expect(text).toBe('<|im_start|>User:<image>What is in this photo?<end_of_utterance>\nAssistant:');
    const ip = createImageProcessor(json('preprocessor_config.json'));
    const processor = new Idefics3Processor(json('processor_config.json'), { image_processor: ip, tokenizer: tok }, null);
    const theirs = (await processor._call(text, [syntheticPhoto()])) as { input_ids: { data: ArrayLike<bigint> } };
    const want = Array.from(theirs.input_ids.data, Number);
    const ours = encodeVlmPrompt(tok, text, [{ rows: 2, cols: 3, base: 1000, count: 28 }], 4);
    expect(ours.length).toBe(want.length);
    const virtual = ours.map((id, i) => (id >= 1000 ? i : -1)).filter((i) => i >= 0);
    expect(virtual.length).toBe(28);
    expect(virtual.map((i) => ours[i])).toEqual(Array.from({ length: 28 }, (_, j) => 1000 + j));
    expect(ours.map((id) => (id >= 1000 ? 257 : id))).toEqual(want);
    expect(imagePromptString(0, 0, 2)).toBe('<fake_token_around_image><global-img><image><image><fake_token_around_image>');
    // Two photos: each gets its own run of virtual ids.
    const two = renderChat(tok, [{ role: 'user', content: [chat[0].content[0], { type: 'image', id: 'p2', blob: new Blob([]) }, { type: 'text', text: 'Same?' }] }]);
    const ids = encodeVlmPrompt(tok, two, [{ rows: 0, cols: 0, base: 1000, count: 4 }, { rows: 0, cols: 0, base: 2000, count: 4 }], 4);
    expect(ids.filter((i) => i >= 1000)).toEqual([1000, 1001, 1002, 1003, 2000, 2001, 2002, 2003]);
  });
});
