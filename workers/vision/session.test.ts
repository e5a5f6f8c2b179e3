// Idefics3 session end to end in Node on Dawn (SwiftShader): the tiny-idefics3 fixture's config,
// tokenizer and processor files with seeded random weights (workers/storage/fixtures.ts) are
// installed into a file tensor store and loaded; a question about a photo streams an answer with
// 'encode-image' progress and visual-token stats; a follow-up on the same photo re-uses the
// encoded photo (no encoder time) and the KV cache prefix; a different photo changes the answer's
// logits; the virtual ids of different photos never collide.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuContext, type GpuContext } from '../gpu/context';
import { nodeGpu } from '../gpu/node';
import { defaultSampling, type ChatTurn, type ProgressPhase } from '../protocol/engine';
import { convertModel, policyFor } from '../storage/convert';
import { memoryFileSource, modelFiles } from '../storage/fixtures';
import { requireManifest } from '../storage/tensor-store';
import { FsTensorStore } from '../storage/tensor-store-fs';
import { ModelFormatError } from '../protocol/errors';
import { pngBytes, syntheticPhoto } from './test-photo';
import { Idefics3Session } from './session';

const dir = join(__dirname, '../../tools/parity/fixtures/tiny-idefics3');
const never = new AbortController().signal;
let root: string;
let ctx: GpuContext;
let session: Idefics3Session;
let store: FsTensorStore;
let source: ReturnType<typeof memoryFileSource>;
let decode: (blob: Blob) => Promise<ReturnType<typeof syntheticPhoto>>;

beforeAll(async () => {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const files: Record<string, Uint8Array> = { ...modelFiles(config) };
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'processor_config.json', 'generation_config.json']) files[f] = await readFile(join(dir, f));
  source = memoryFileSource(files);
  root = await mkdtemp(join(tmpdir(), 'lumen-vlm-'));
  store = new FsTensorStore(root);
  await convertModel(store, 'tiny-vlm', source, { quantization: policyFor('f32') }, () => {});
  ctx = await createGpuContext(await nodeGpu());
  // Photo ids name the pixels: "wide" is the oracle's 192x128 photo, "tall" a 40x160 one.
  decode = async (blob: Blob) => (new TextDecoder().decode(await blob.arrayBuffer()) === 'wide' ? syntheticPhoto() : syntheticPhoto(40, 160));
  session = await Idefics3Session.load(ctx, store, await requireManifest(store, 'tiny-vlm'), source, () => {}, never, { decode, capacity: 512 });
}, 120_000);

afterAll(async () => {
  session?.destroy();
  ctx?.destroy();
  await rm(root, { recursive: true, force: true });
});

const photo = (name: string) => ({ type: 'image' as const, id: name, blob: new Blob([name]) });

async function answer(messages: ChatTurn[]) {
  const phases: ProgressPhase[] = [];
  const it = session.generate(messages, { ...defaultSampling, maxNewTokens: 4 }, (p) => phases.push(p), never);
  let text = '';
  for (;;) {
    const s = await it.next();
    if (s.done) return { text, outcome: s.value, phases };
    text += s.value.text;
  }
}

describe('Idefics3Session', () => {
  it('answers about a photo, then re-uses the encoded photo and the KV cache for a follow-up', async () => {
    const turn1: ChatTurn[] = [{ role: 'user', content: [photo('wide'), { type: 'text', text: 'What is this?' }] }];
    const a = await answer(turn1);
    expect(a.phases).toContain('encode-image');
    expect(a.outcome.stats.visualTokens).toBe(7 * 4);
    expect(a.outcome.stats.encodeMs).toBeGreaterThan(0);
    expect(a.outcome.stats.generatedTokens).toBeGreaterThan(0);
    expect(session.isCached('wide')).toBe(true);
    const promptLen = session.lm.kv.length;
    // The streamed answer (pipelined decode) equals a plain step-by-step greedy loop.
    const { ids } = await session.prompt(turn1, () => {}, never);
    session.lm.kv.truncate(0);
    const greedy = { select: { kind: 'greedy' as const }, penalty: 1, history: [] };
    const steps = [(await session.lm.step(ids, greedy))!];
    while (steps.length < a.outcome.stats.generatedTokens) steps.push((await session.lm.step([steps[steps.length - 1]], greedy))!);
    expect(session.decode(steps)).toBe(a.text);

    const turn2: ChatTurn[] = [...turn1, { role: 'assistant', content: [{ type: 'text', text: a.text }] }, { role: 'user', content: [{ type: 'text', text: 'And the colour?' }] }];
    const b = await answer(turn2);
    expect(b.outcome.stats.encodeMs).toBe(0);
    expect(b.outcome.stats.visualTokens).toBe(28);
    // Prefill ran only past the cached prefix (the photo's tokens were not recomputed).
    expect(b.outcome.stats.promptTokens).toBeLessThan(promptLen - 28);
  }, 120_000);

  it('a different photo gets its own visual tokens and changes the logits', async () => {
    const q = (name: string): ChatTurn[] => [{ role: 'user', content: [photo(name), { type: 'text', text: 'What is this?' }] }];
    const wide = await session.prompt(q('wide'), () => {}, never);
    const tall = await session.prompt(q('tall'), () => {}, never);
    expect(wide.encodeMs).toBe(0); // cached by the first test
    expect(tall.encodeMs).toBeGreaterThan(0);
    expect(tall.visualTokens).toBe((3 * 1 + 1) * 4); // 40x160 -> 48x192 -> 3 rows x 1 col + global
    const vocab = session.lm.vocabSize;
    const vWide = new Set(wide.ids.filter((i) => i >= vocab));
    expect(tall.ids.filter((i) => i >= vocab).some((i) => vWide.has(i))).toBe(false);
    session.lm.kv.truncate(0);
    const lw = await session.lm.stepLogits(wide.ids, 'last');
    session.lm.kv.truncate(0);
    const lt = await session.lm.stepLogits(tall.ids, 'last');
    session.lm.kv.truncate(0);
    const lw2 = await session.lm.stepLogits(wide.ids, 'last');
    let diff = 0;
    let same = 0;
    for (let i = 0; i < vocab; i++) {
      diff = Math.max(diff, Math.abs(lw[i] - lt[i]));
      same = Math.max(same, Math.abs(lw[i] - lw2[i]));
    }
    expect(diff).toBeGreaterThan(1e-3);
    expect(same).toBeLessThan(1e-5);
  }, 120_000);

  it('keeps every photo of a request even past the cache limit, and evicts older ones after', async () => {
    const small = await Idefics3Session.load(ctx, store, await requireManifest(store, 'tiny-vlm'), source, () => {}, never, { decode, capacity: 512, cachedPhotos: 1 });
    try {
      const two: ChatTurn[] = [{ role: 'user', content: [photo('wide'), photo('tall'), { type: 'text', text: 'Compare.' }] }];
      const r = await small.prompt(two, () => {}, never);
      expect(r.visualTokens).toBe(28 + 16);
      small.lm.kv.truncate(0);
      await small.lm.step(r.ids.slice(0, 200), null); // every visual row still bound
      expect(small.isCached('wide') && small.isCached('tall')).toBe(true);
      await small.prompt([{ role: 'user', content: [photo('wide'), { type: 'text', text: 'Again?' }] }], () => {}, never);
      expect(small.isCached('tall')).toBe(false);
    } finally {
      small.destroy();
    }
  }, 120_000);

  it('resizes a photo larger than the processor limit instead of refusing it (real PNG decode)', async () => {
    // 3000x2000 PNG, decoded by the session's own decoder: resized to the 192 px longest edge
    // (192x128 -> 3 x 2 tiles of 64 px + the global image).
    const plain = await Idefics3Session.load(ctx, store, await requireManifest(store, 'tiny-vlm'), source, () => {}, never, { capacity: 512 });
    try {
      const blob = new Blob([await pngBytes(syntheticPhoto(3000, 2000))], { type: 'image/png' });
      const chat: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'huge', blob }, { type: 'text', text: 'What is this?' }] }];
      const it = plain.generate(chat, { ...defaultSampling, maxNewTokens: 2 }, () => {}, never);
      let step = await it.next();
      while (!step.done) step = await it.next();
      expect(step.value.stats.visualTokens).toBe(7 * 4);
      expect(step.value.stats.generatedTokens).toBeGreaterThan(0);
    } finally {
      plain.destroy();
    }
  }, 120_000);

  it('refuses to load when the processor files disagree with the model, saying which files', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const f of await source.list()) files[f] = await source.read(f, 0, await source.size(f));
    files['processor_config.json'] = new TextEncoder().encode(JSON.stringify({ image_seq_len: 9, processor_class: 'Idefics3Processor' }));
    const bad = memoryFileSource(files);
    const load = Idefics3Session.load(ctx, store, await requireManifest(store, 'tiny-vlm'), bad, () => {}, never, { decode, capacity: 512 });
    await expect(load).rejects.toThrow(ModelFormatError);
    await expect(load).rejects.toThrow(/processor_config\.json says 9 tokens per image tile but the vision tower makes 4/);
  }, 120_000);
});
