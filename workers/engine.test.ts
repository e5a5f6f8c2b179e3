// Engine end to end in Node on real WebGPU (Dawn on SwiftShader): the tiny Llama fixture is
// installed into a file tensor store, loaded through the Engine with its byte-level tokenizer and
// chat template, and answers a conversation as streamed text. Checks the text path against the
// token path (same ids through the model directly), stop strings, abort, stats, bad input
// (images for a text-only model, unknown model, no model loaded) and unload.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeModelSource } from '../tools/parity/node-source';
import { Engine } from './engine';
import type { GenerateOutcome } from './engine-api';
import { nodeGpu } from './gpu/node';
import { defaultSampling, type ChatTurn, type ProgressPhase } from './protocol/engine';
import { ModelNotInstalledError, UnsupportedImageError } from './protocol/errors';
import { convertModel, policyFor } from './storage/convert';
import { dirFileSource } from './storage/fs-source';
import { FsTensorStore } from './storage/tensor-store-fs';

const fixture = join(__dirname, '../tools/parity/fixtures/tiny-llama');
const ID = 'tiny-llama';
let root: string;
let engine: Engine;
const never = new AbortController().signal;
const chat: ChatTurn[] = [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }];

async function collect(it: AsyncGenerator<{ text: string }, GenerateOutcome>): Promise<{ pieces: string[]; outcome: GenerateOutcome }> {
  const pieces: string[] = [];
  for (;;) {
    const s = await it.next();
    if (s.done) return { pieces, outcome: s.value };
    pieces.push(s.value.text);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lumen-engine-'));
  await convertModel(new FsTensorStore(root), ID, dirFileSource(fixture), { quantization: policyFor('f32') }, () => {});
  engine = new Engine({ gpu: () => nodeGpu(), source: nodeModelSource(root, { [ID]: fixture }), contextTokens: 256 });
});
afterAll(async () => {
  await engine?.unload();
  await rm(root, { recursive: true, force: true });
});

describe('Engine', () => {
  it('refuses to generate before a model is loaded, and unknown models', async () => {
    await expect(collect(engine.generate('c', chat, defaultSampling, () => {}, never))).rejects.toThrow(ModelNotInstalledError);
    await expect(engine.load('no-such-model', () => {}, never)).rejects.toThrow(ModelNotInstalledError);
  });

  it('loads with progress and answers a conversation as streamed text', async () => {
    const phases = new Set<ProgressPhase>();
    const info = await engine.load(ID, (p) => phases.add(p), never);
    expect(info).toMatchObject({ modelId: ID, quantization: 'f32', vision: false });
    expect(info.gpuBytes).toBeGreaterThan(300_000);
    expect(phases.has('weights')).toBe(true);

    const sampling = { ...defaultSampling, temperature: 0, maxNewTokens: 4 };
    const { pieces, outcome } = await collect(engine.generate('c', chat, sampling, () => {}, never));
    expect(outcome.finishReason === 'length' || outcome.finishReason === 'stop').toBe(true);
    expect(pieces.join('')).toBe(outcome.text);
    expect(outcome.stats.promptTokens).toBeGreaterThan(10);
    expect(outcome.stats.generatedTokens).toBeGreaterThanOrEqual(1);
    expect(outcome.stats.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(engine.stats().last).toEqual(outcome.stats);

    expect(outcome.stats.generatedTokens).toBeLessThanOrEqual(4);

    // A second identical request re-uses the KV cache prefix and gives the same greedy answer.
    const again = await collect(engine.generate('c', chat, sampling, () => {}, never));
    expect(again.outcome.text).toBe(outcome.text);
    expect(again.outcome.stats.promptTokens).toBeLessThan(outcome.stats.promptTokens);
  });

  it('cuts at a stop string and stops on abort', async () => {
    const sampling = { ...defaultSampling, temperature: 0, maxNewTokens: 3 };
    const first = (await collect(engine.generate('c', chat, sampling, () => {}, never))).outcome.text;
    if (first.length > 0) {
      const stop = first.slice(0, 1);
      const cut = await collect(engine.generate('c', chat, { ...sampling, stop: [stop] }, () => {}, never));
      expect(cut.outcome.finishReason).toBe('stop');
      expect(cut.outcome.text).toBe('');
    }
    const ac = new AbortController();
    ac.abort();
    const aborted = await collect(engine.generate('c', chat, sampling, () => {}, ac.signal));
    expect(aborted.outcome.finishReason).toBe('abort');
  });

  it('samples with temperature / top-k / top-p / repetition penalty, reproducibly per seed', async () => {
    const sampling = { ...defaultSampling, temperature: 0.8, topK: 20, topP: 0.9, repetitionPenalty: 1.3, maxNewTokens: 2, seed: 7 };
    const a = await collect(engine.generate('c', chat, sampling, () => {}, never));
    const b = await collect(engine.generate('c', chat, sampling, () => {}, never));
    expect(a.outcome.text).toBe(b.outcome.text);
  });

  it('refuses images for a text-only model with a clear error', async () => {
    const withImage: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'p1', blob: new Blob([new Uint8Array(8)]) }, { type: 'text', text: 'What is this?' }] }];
    await expect(collect(engine.generate('c', withImage, defaultSampling, () => {}, never))).rejects.toThrow(UnsupportedImageError);
  });

  it('unloads and frees the model', async () => {
    await engine.unload();
    expect(engine.stats().model).toBeNull();
    await expect(collect(engine.generate('c', chat, defaultSampling, () => {}, never))).rejects.toThrow(ModelNotInstalledError);
  });
});
