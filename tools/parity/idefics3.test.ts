// Idefics3 parity with transformers (tools/parity/idefics3_reference.py, run on the GPU host):
// the tiny-idefics3 fixture (random seeded f32 weights, real processor configs) is installed
// with convertModel into a file tensor store and run on Dawn (SwiftShader here):
//   - our Idefics3ImageProcessor tiles equal the Python processor's pixel_values: the 6 crops
//     exactly on transformers.js' CPU path (its global image is resampled bilinearly, Python's
//     with LANCZOS: reported only) and on the app's GPU path (PIL's Lanczos), whose global image
//     is within one 8-bit level of Python's,
//   - the prompt ids (markers + <image> placeholders) equal the Python processor's ids,
//   - vision features (SigLIP + pixel shuffle + projection) from the oracle's pixel_values:
//     max |ours - ref| ≤ 1e-4 · max |ref|,
//   - last prompt row logits: max |ours - ref| ≤ 1e-3 · max |ref|, and the 16 greedy tokens
//     (KV-cached decode, no EOS stop) are identical.
// Skips only when the oracle's outputs (model.safetensors, reference.safetensors) are absent.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { readF32 } from '../../workers/ops/types';
import type { ChatTurn } from '../../workers/protocol/engine';
import { convertModel, policyFor } from '../../workers/storage/convert';
import { dirFileSource } from '../../workers/storage/fs-source';
import { requireManifest } from '../../workers/storage/tensor-store';
import { FsTensorStore } from '../../workers/storage/tensor-store-fs';
import { createImageProcessor, preprocessImage } from '../../workers/vision/preprocess';
import { parseJsonFile } from '../../workers/vision/prompt';
import { Idefics3Session } from '../../workers/vision/session';
import { syntheticPhoto } from '../../workers/vision/test-photo';

const dir = join(__dirname, 'fixtures/tiny-idefics3');
const have = existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'reference.safetensors'));
const never = new AbortController().signal;
const IMAGE_TOKEN = 257;

interface Tensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

async function readRef(path: string): Promise<Record<string, Tensor>> {
  const buf = await readFile(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, Tensor> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = new Uint8Array(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]));
    out[name] = { data: e.dtype === 'I32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer), shape: e.shape };
  }
  return out;
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; mag: number } {
  let err = 0;
  let mag = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    mag = Math.max(mag, Math.abs(want[i]));
  }
  return { err, mag };
}

let ref: Record<string, Tensor>;
let ctx: GpuContext;
let session: Idefics3Session;
let root: string;

describe.skipIf(!have)('Idefics3 parity with transformers (tiny-idefics3)', () => {
  beforeAll(async () => {
    ref = await readRef(join(dir, 'reference.safetensors'));
    root = await mkdtemp(join(tmpdir(), 'lumen-idefics3-parity-'));
    const store = new FsTensorStore(root);
    await convertModel(store, 'tiny-idefics3', dirFileSource(dir), { quantization: policyFor('f32') }, () => {});
    ctx = await createGpuContext(await nodeGpu());
    session = await Idefics3Session.load(ctx, store, await requireManifest(store, 'tiny-idefics3'), dirFileSource(dir), () => {}, never, { decode: async () => syntheticPhoto(), capacity: 512 });
  }, 120_000);

  afterAll(async () => {
    session?.destroy();
    ctx?.destroy();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('preprocessing and prompt ids match the Python processor', async () => {
    const pv = ref.pixel_values;
    const tiles = pv.shape[0];
    const pre = await preprocessImage(createImageProcessor(parseJsonFile(await readFile(join(dir, 'preprocessor_config.json')), 'preprocessor_config.json')), syntheticPhoto());
    expect(pre.tiles).toBe(tiles);
    const per = 3 * 64 * 64;
    const crops = relErr(pre.pixels.subarray(0, (tiles - 1) * per), pv.data.subarray(0, (tiles - 1) * per));
    expect(crops.err).toBeLessThanOrEqual(1e-6);
    const global = relErr(pre.pixels.subarray((tiles - 1) * per), pv.data.subarray((tiles - 1) * per));
    console.log(`global image: max |js - python| = ${global.err.toFixed(4)} (resampling differs)`);
    const chat: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'photo', blob: new Blob([]) }, { type: 'text', text: 'What is in this photo?' }] }];
    const { ids } = await session.prompt(chat, () => {}, never);
    expect(ids.map((id) => (id >= session.lm.vocabSize ? IMAGE_TOKEN : id))).toEqual(Array.from(ref.prompt_ids.data));
    // prompt() tiled the photo on the GPU into the vision input (the app's path)
    expect(session.gpuTiling).toBe(true);
    const gpu = (await readF32(ctx, session.vision.input)).subarray(0, tiles * per);
    expect(relErr(gpu.subarray(0, (tiles - 1) * per), pv.data.subarray(0, (tiles - 1) * per)).err).toBeLessThanOrEqual(1e-5);
    // ... and its global image is PIL's Lanczos like Python's: within 8-bit rounding (2/255 a level)
    const gpuGlobal = relErr(gpu.subarray((tiles - 1) * per), pv.data.subarray((tiles - 1) * per));
    console.log(`global image: max |gpu - python| = ${gpuGlobal.err.toFixed(4)}`);
    expect(gpuGlobal.err).toBeLessThanOrEqual(2 / 255 + 1e-5);
  }, 60_000);

  it('vision features, prompt logits and 16 greedy tokens match', async () => {
    const pv = ref.pixel_values;
    const enc = await session.vision.encode(pv.data as Float32Array, pv.shape[0]);
    const feats = await readF32(ctx, enc.features);
    const f = relErr(feats, ref.features.data);
    console.log(`features: max abs err ${f.err.toExponential(2)} of max |ref| ${f.mag.toFixed(3)}`);
    expect(feats.length).toBe(ref.features.data.length);
    expect(f.err).toBeLessThanOrEqual(1e-4 * f.mag);

    const base = session.lm.bindImage(enc.features);
    let j = 0;
    const ids = Array.from(ref.prompt_ids.data, (id) => (id === IMAGE_TOKEN ? base + j++ : id));
    expect(j).toBe(enc.tiles * enc.tokensPerTile);
    const lm = session.lm;
    const V = lm.vocabSize;
    lm.kv.truncate(0);
    const logits = await lm.stepLogits(ids, 'last');
    const T = ids.length;
    const want = (ref.prompt_logits.data as Float32Array).subarray((T - 1) * V, T * V);
    const l = relErr(logits, want);
    console.log(`last-row logits: max abs err ${l.err.toExponential(2)} of max |ref| ${l.mag.toFixed(3)}`);
    expect(l.err).toBeLessThanOrEqual(1e-3 * l.mag);

    lm.kv.truncate(0);
    const greedy = { select: { kind: 'greedy' as const }, penalty: 1, history: [] };
    const out: number[] = [(await lm.step(ids, greedy))!];
    while (out.length < ref.greedy_ids.data.length) out.push((await lm.step([out[out.length - 1]], greedy))!);
    expect(out).toEqual(Array.from(ref.greedy_ids.data));
    lm.unbindImage(base);
    enc.destroy();
  }, 120_000);
});
