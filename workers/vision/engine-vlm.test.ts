// The Engine with an Idefics3 model in Node on Dawn (SwiftShader): the tiny-idefics3 fixture's
// config/tokenizer/processor files with seeded random weights, installed into a file tensor store;
// a real PNG photo in a chat message goes through decoding, the Idefics3
// processor, the vision tower and the LM, and the answer streams with encode-image progress,
// visual-token count and encoder time in the stats; asking again about the same photo encodes
// nothing. An undecodable photo is refused with UnsupportedImageError.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeModelSource } from '../../tools/parity/node-source';
import { Engine } from '../engine';
import type { GenerateOutcome } from '../engine-api';
import { nodeGpu } from '../gpu/node';
import { defaultSampling, type ChatTurn, type ProgressPhase } from '../protocol/engine';
import { UnsupportedImageError } from '../protocol/errors';
import { convertModel, policyFor } from '../storage/convert';
import { dirFileSource } from '../storage/fs-source';
import { writeModelDir } from '../storage/fixtures-fs';
import { FsTensorStore } from '../storage/tensor-store-fs';
import { pngBytes, syntheticPhoto } from './test-photo';

const fixture = join(__dirname, '../../tools/parity/fixtures/tiny-idefics3');
const ID = 'tiny-vlm';
const never = new AbortController().signal;
let tmp: string;
let engine: Engine;
let png: Blob;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lumen-engine-vlm-'));
  const raw = join(tmp, 'raw');
  await writeModelDir(raw, JSON.parse(await readFile(join(fixture, 'config.json'), 'utf8')) as Record<string, unknown>, 'F32');
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'processor_config.json', 'generation_config.json']) await copyFile(join(fixture, f), join(raw, f));
  const storeRoot = join(tmp, 'store');
  await convertModel(new FsTensorStore(storeRoot), ID, dirFileSource(raw), { quantization: policyFor('q8') }, () => {});
  engine = new Engine({ gpu: () => nodeGpu(), source: nodeModelSource(storeRoot, { [ID]: raw }), contextTokens: 512 });
  png = new Blob([await pngBytes(syntheticPhoto())], { type: 'image/png' });
}, 120_000);

afterAll(async () => {
  await engine?.unload();
  await rm(tmp, { recursive: true, force: true });
});

async function run(messages: ChatTurn[]) {
  const phases = new Set<ProgressPhase>();
  const it = engine.generate('c1', messages, { ...defaultSampling, maxNewTokens: 3 }, (p) => phases.add(p), never);
  let text = '';
  for (;;) {
    const s = await it.next();
    if (s.done) return { text, outcome: s.value as GenerateOutcome, phases };
    text += s.value.text;
  }
}

describe('Engine with an Idefics3 model', () => {
  it('loads as a vision model and answers about a PNG photo, then re-uses it', async () => {
    const info = await engine.load(ID, () => {}, never);
    expect(info).toMatchObject({ modelId: ID, vision: true, quantization: 'q8' });
    const turn: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'sha-1', blob: png }, { type: 'text', text: 'What is this?' }] }];
    const a = await run(turn);
    expect(a.phases.has('encode-image')).toBe(true);
    expect(a.outcome.stats).toMatchObject({ visualTokens: 28 });
    expect(a.outcome.stats.encodeMs).toBeGreaterThan(0);
    expect(a.outcome.stats.generatedTokens).toBeGreaterThan(0);
    expect(engine.stats().last?.visualTokens).toBe(28);
    const b = await run([...turn, { role: 'assistant', content: [{ type: 'text', text: a.text }] }, { role: 'user', content: [{ type: 'text', text: 'Sure?' }] }]);
    expect(b.outcome.stats.encodeMs).toBe(0);
    expect(b.outcome.stats.visualTokens).toBe(28);
  }, 120_000);

  it('refuses a photo that cannot be decoded, and keeps working', async () => {
    const bad: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'junk', blob: new Blob([new Uint8Array([1, 2, 3, 4])]) }, { type: 'text', text: 'Hi' }] }];
    await expect(run(bad)).rejects.toThrow(UnsupportedImageError);
    const ok = await run([{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }]);
    expect(ok.outcome.stats.visualTokens).toBe(0);
  }, 60_000);
});
