// Quantized Idefics3 against the same weights in f32 (Node, Dawn on SwiftShader): the
// tiny-idefics3 config with seeded random weights (scaled by 1/sqrt(fan-in)) is installed three times (f32, q8, q4: every
// linear layer of the vision tower, connector and LM quantized; norms, biases, patch kernel and
// position table stay f32). Reports, for the synthetic photo, the visual tokens' error relative
// to f32, the first answer token's logits' error, and the greedy agreement over 16 tokens (a
// random LM's near-flat logits make long agreement a weak signal). Bounds (max err over max |f32|):
// features 5% (q8) / 30% (q4), logits 5% / 30%; the q8 first token is the f32 one.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuContext, type GpuContext } from '../gpu/context';
import { nodeGpu } from '../gpu/node';
import { readF32 } from '../ops/types';
import type { ChatTurn } from '../protocol/engine';
import { convertModel, policyFor } from '../storage/convert';
import { memoryFileSource, modelTensors } from '../storage/fixtures';
import { writeSafetensors } from '../storage/safetensors-writer';
import { requireManifest } from '../storage/tensor-store';
import { FsTensorStore } from '../storage/tensor-store-fs';
import { Idefics3Session } from './session';
import { syntheticPhoto } from './test-photo';

const dir = join(__dirname, '../../tools/parity/fixtures/tiny-idefics3');
const never = new AbortController().signal;
const KINDS = ['f32', 'q8', 'q4'] as const;
type Kind = (typeof KINDS)[number];
let root: string;
let ctx: GpuContext;
const results = new Map<Kind, { features: Float32Array; logits: Float32Array; greedy: number[] }>();

beforeAll(async () => {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  // Seeded weights scaled like a trained model's (matrices by 1/sqrt(fan-in)), so attention is
  // not saturated and the comparison measures quantization, not chaos.
  const tensors = modelTensors(config).map((t) => {
    const fanIn = t.shape.length >= 2 && !/embed_tokens|position_embedding/.test(t.name) ? t.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    return { ...t, data: t.data.map((v) => v / Math.sqrt(fanIn)) };
  });
  const files: Record<string, Uint8Array> = { 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': writeSafetensors(tensors) };
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'processor_config.json', 'generation_config.json']) files[f] = await readFile(join(dir, f));
  const source = memoryFileSource(files);
  root = await mkdtemp(join(tmpdir(), 'lumen-vlm-quant-'));
  const store = new FsTensorStore(root);
  ctx = await createGpuContext(await nodeGpu());
  const chat: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'p', blob: new Blob([]) }, { type: 'text', text: 'What is in this photo?' }] }];
  for (const kind of KINDS) {
    await convertModel(store, kind, source, { quantization: policyFor(kind) }, () => {});
    const s = await Idefics3Session.load(ctx, store, await requireManifest(store, kind), source, () => {}, never, { decode: async () => syntheticPhoto(), capacity: 256 });
    try {
      const { ids } = await s.prompt(chat, () => {}, never);
      const enc = await s.vision.encode(await pixels(), 7);
      const features = await readF32(ctx, enc.features);
      enc.destroy();
      const greedy = { select: { kind: 'greedy' as const }, penalty: 1, history: [] };
      s.lm.kv.truncate(0);
      const logits = await s.lm.stepLogits(ids, 'last');
      s.lm.kv.truncate(0);
      const out: number[] = [(await s.lm.step(ids, greedy))!];
      while (out.length < 16) out.push((await s.lm.step([out[out.length - 1]], greedy))!);
      results.set(kind, { features, logits, greedy: out });
    } finally {
      s.destroy();
    }
  }
}, 180_000);

async function pixels(): Promise<Float32Array> {
  const { createImageProcessor, preprocessImage } = await import('./preprocess');
  const { parseJsonFile } = await import('./prompt');
  const proc = createImageProcessor(parseJsonFile(await readFile(join(dir, 'preprocessor_config.json')), 'preprocessor_config.json'));
  return (await preprocessImage(proc, syntheticPhoto())).pixels;
}

afterAll(async () => {
  ctx?.destroy();
  await rm(root, { recursive: true, force: true });
});

describe('quantized Idefics3 vs f32', () => {
  it('visual tokens and greedy answers stay close', () => {
    const ref = results.get('f32')!;
    let mag = 0;
    for (const v of ref.features) mag = Math.max(mag, Math.abs(v));
    let lmag = 0;
    for (const v of ref.logits) lmag = Math.max(lmag, Math.abs(v));
    const figures: Record<string, { featureErr: number; logitErr: number; greedySame: number }> = {};
    for (const kind of ['q8', 'q4'] as const) {
      const r = results.get(kind)!;
      let err = 0;
      for (let i = 0; i < ref.features.length; i++) err = Math.max(err, Math.abs(r.features[i] - ref.features[i]));
      let lerr = 0;
      for (let i = 0; i < ref.logits.length; i++) lerr = Math.max(lerr, Math.abs(r.logits[i] - ref.logits[i]));
      let same = 0;
      while (same < 16 && r.greedy[same] === ref.greedy[same]) same++;
      figures[kind] = { featureErr: err / mag, logitErr: lerr / lmag, greedySame: same };
    }
    console.log(`quantized vs f32 (tiny-idefics3, random weights): ${JSON.stringify(figures)}`);
    expect(figures.q8.featureErr).toBeLessThanOrEqual(0.05);
    expect(figures.q4.featureErr).toBeLessThanOrEqual(0.3);
    expect(figures.q8.logitErr).toBeLessThanOrEqual(0.05);
    expect(figures.q4.logitErr).toBeLessThanOrEqual(0.3);
    expect(figures.q8.greedySame).toBeGreaterThanOrEqual(1);
  });
});
