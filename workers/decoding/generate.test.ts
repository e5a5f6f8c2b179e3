// The token loop on the real tiny Llama (f32, Dawn on SwiftShader): the pipelined path (chained
// passes, the previous token fed on the GPU) gives exactly the tokens of a plain one-pass-per-
// token loop; EOS, maxNewTokens and abort end it with the right reason, in-flight passes are
// drained, and the KV cache bookkeeping ends with real ids only (no pending placeholders) and
// the right length, so a follow-up turn re-uses the prefix; chunked prefill equals one token per pass.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuContext, type GpuContext } from '../gpu/context';
import { nodeGpu } from '../gpu/node';
import { LlamaModel } from '../models/llama/model';
import { defaultSampling } from '../protocol/engine';
import { convertModel, policyFor } from '../storage/convert';
import { dirFileSource } from '../storage/fs-source';
import { FsTensorStore } from '../storage/tensor-store-fs';
import { generateTokens, type TokenOutcome } from './generate';

const fixture = join(__dirname, '../../tools/parity/fixtures/tiny-llama');
let ctx: GpuContext;
let root: string;
let model: LlamaModel;
const prompt = [1, 117, 115, 101, 114, 10, 72, 105, 2, 10, 1, 97, 10];
const greedy = { select: { kind: 'greedy' as const }, penalty: 1, history: [] };

async function run(maxNewTokens: number, eos: number[] = [], signal = new AbortController().signal): Promise<{ tokens: number[]; outcome: TokenOutcome }> {
  const it = generateTokens(model, prompt, { sampling: { ...defaultSampling, temperature: 0, maxNewTokens }, eosIds: new Set(eos), signal });
  const tokens: number[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { tokens, outcome: r.value };
    tokens.push(r.value);
  }
}

beforeAll(async () => {
  ctx = await createGpuContext(await nodeGpu());
  root = await mkdtemp(join(tmpdir(), 'lumen-gen-'));
  const store = new FsTensorStore(root);
  await convertModel(store, 'm', dirFileSource(fixture), { quantization: policyFor('f32') }, () => {});
  model = await LlamaModel.load(ctx, store, 'm', () => {}, new AbortController().signal, { capacity: 64, maxChunk: 16 });
});
afterAll(async () => {
  model?.destroy();
  ctx?.destroy();
  await rm(root, { recursive: true, force: true });
});

describe('generateTokens', () => {
  it('pipelined decoding equals one pass per token, and the cache holds real ids', async () => {
    // Reference: plain steps.
    model.kv.reset();
    const ref = [(await model.step(prompt, greedy))!];
    while (ref.length < 5) ref.push((await model.step([ref[ref.length - 1]], greedy))!);

    model.kv.reset();
    const { tokens, outcome } = await run(5);
    expect(tokens).toEqual(ref);
    expect(outcome.finishReason).toBe('length');
    expect(outcome.stats.generatedTokens).toBe(5);
    // Every fed token is in the cache with its id: the prompt and all generated tokens but the last.
    expect(model.kv.tokens).toEqual([...prompt, ...ref.slice(0, 4)]);

    // EOS at the 2nd token: stops there; a pass already in flight is drained, its entry is valid.
    model.kv.reset();
    const stopped = await run(10, [ref[1]]);
    expect(stopped.tokens).toEqual(ref.slice(0, 2));
    expect(stopped.outcome.finishReason).toBe('stop');
    expect(model.kv.tokens.includes(-1)).toBe(false);
    expect(model.kv.tokens.slice(0, prompt.length + 1)).toEqual([...prompt, ref[0]]);

    // A follow-up with the same prompt re-uses the cached prefix and gives the same tokens.
    const again = await run(3);
    expect(again.tokens).toEqual(ref.slice(0, 3));
    expect(again.outcome.stats.promptTokens).toBe(1);
  });

  it('prefill in chunks over the cache equals one token per pass', async () => {
    const long = Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 250));
    model.kv.reset();
    let chunked: Float32Array = new Float32Array(0);
    for (let i = 0; i < long.length; i += model.maxChunk) chunked = await model.stepLogits(long.slice(i, i + model.maxChunk), 'last');
    model.kv.reset();
    let single: Float32Array = new Float32Array(0);
    for (const id of long) single = await model.stepLogits([id], 'last');
    let max = 0;
    for (let i = 0; i < single.length; i++) max = Math.max(max, Math.abs(single[i] - chunked[i]));
    expect(max).toBeLessThan(1e-4);
    // generateTokens chunks the prompt the same way.
    model.kv.reset();
    const it = generateTokens(model, long, { sampling: { ...defaultSampling, temperature: 0, maxNewTokens: 1 }, eosIds: new Set(), signal: new AbortController().signal });
    const first = await it.next();
    let best = 0;
    for (let i = 1; i < single.length; i++) if (single[i] > single[best]) best = i;
    expect(first.value).toBe(best);
    const end = await it.next();
    expect(end.done && end.value.finishReason).toBe('length');
  });

  it('stops on abort between tokens', async () => {
    model.kv.reset();
    const ac = new AbortController();
    const it = generateTokens(model, prompt, { sampling: { ...defaultSampling, temperature: 0, maxNewTokens: 10 }, eosIds: new Set(), signal: ac.signal });
    const first = await it.next();
    expect(first.done).toBe(false);
    ac.abort();
    let r = await it.next();
    while (!r.done) r = await it.next();
    expect(r.value.finishReason).toBe('abort');
    expect(r.value.tokens.length).toBeLessThan(10);
    expect(model.kv.tokens.includes(-1)).toBe(false);
  });
});
