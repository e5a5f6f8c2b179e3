// Idefics3 parity against transformers' outputs (tools/parity/idefics3_reference.py) for one oracle
// directory at one weight format: installs the directory (convertModel into a file tensor store),
// loads it as the app does (Idefics3Session) and compares
//   - preprocessing: transformers.js' path (preprocessImage) and the app's GPU path (the session's
//     vision input after prompt()) against the Python processor's pixel_values (reported),
//   - prompt ids (markers + <image> placeholders) with the Python processor's,
//   - vision features (SigLIP + pixel shuffle + projection) from the oracle's pixel_values,
//   - the last prompt row's logits, and G greedy tokens (the real KV-cached decode loop).
// Used by tools/bench/vlm.ts (`parity`, GPU host); tools/parity/idefics3.test.ts checks the same
// on the committed tiny fixture in CI.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuContext } from '../../workers/gpu/context';
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

export interface RefTensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** Reads a safetensors file of F32 / I32 tensors. */
export async function readReference(path: string): Promise<Record<string, RefTensor>> {
  const buf = await readFile(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, RefTensor> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = new Uint8Array(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]));
    out[name] = { data: e.dtype === 'I32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer), shape: e.shape };
  }
  return out;
}

/** max |got - want|, mean |got - want| and max |want|. */
export function errors(got: ArrayLike<number>, want: ArrayLike<number>): { max: number; mean: number; mag: number } {
  let max = 0;
  let sum = 0;
  let mag = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    max = Math.max(max, d);
    sum += d;
    mag = Math.max(mag, Math.abs(want[i]));
  }
  return { max, mean: sum / Math.max(1, want.length), mag };
}

export interface VlmParityReport {
  dir: string;
  quant: 'f32' | 'q8' | 'q4';
  tiles: number;
  promptTokens: number;
  cropsMaxErr: number;
  globalMaxErr: number;
  /** The app's path (transformers.js resize + GPU tiler) against the oracle's pixel_values. */
  gpuTiles: { crops: { max: number; mean: number }; global: { max: number; mean: number } } | null;
  promptIdsEqual: boolean;
  features: { max: number; mean: number; mag: number };
  lastLogits: { max: number; mean: number; mag: number };
  firstTokenEqual: boolean;
  greedy: { ours: number[]; reference: number[]; agree: number };
  installMs: number;
  loadMs: number;
}

const never = new AbortController().signal;

export async function runVlmParity(ctx: GpuContext, dir: string, quant: 'f32' | 'q8' | 'q4', imageTokenId = 257): Promise<VlmParityReport> {
  const ref = await readReference(join(dir, 'reference.safetensors'));
  const meta = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as { image: [number, number]; question: string };
  const photo = syntheticPhoto(meta.image[0], meta.image[1]);
  const root = await mkdtemp(join(tmpdir(), 'lumen-vlm-parity-'));
  let session: Idefics3Session | null = null;
  try {
    const store = new FsTensorStore(root);
    let t = performance.now();
    await convertModel(store, 'vlm-parity', dirFileSource(dir), { quantization: policyFor(quant) }, () => {});
    const installMs = performance.now() - t;
    t = performance.now();
    const T = ref.prompt_ids.data.length;
    const G = ref.greedy_ids.data.length;
    session = await Idefics3Session.load(ctx, store, await requireManifest(store, 'vlm-parity'), dirFileSource(dir), () => {}, never, { decode: async () => photo, capacity: T + G + 16 });
    const loadMs = performance.now() - t;

    // Preprocessing: our processor's tiles against the oracle's pixel_values.
    const pv = ref.pixel_values;
    const tiles = pv.shape[0];
    const per = pv.shape[1] * pv.shape[2] * pv.shape[3];
    const pre = await preprocessImage(createImageProcessor(parseJsonFile(await readFile(join(dir, 'preprocessor_config.json')), 'preprocessor_config.json')), photo);
    const same = pre.tiles === tiles;
    const cropsMaxErr = same ? errors(pre.pixels.subarray(0, (tiles - 1) * per), pv.data.subarray(0, (tiles - 1) * per)).max : Infinity;
    const globalMaxErr = same ? errors(pre.pixels.subarray((tiles - 1) * per), pv.data.subarray((tiles - 1) * per)).max : Infinity;

    // Prompt ids: the session's (photo rows as virtual ids) against the Python processor's.
    const chat: ChatTurn[] = [{ role: 'user', content: [{ type: 'image', id: 'photo', blob: new Blob([]) }, { type: 'text', text: meta.question }] }];
    const lm = session.lm;
    const V = lm.vocabSize;
    const { ids: ourIds } = await session.prompt(chat, () => {}, never);
    const promptIdsEqual = ourIds.length === T && ourIds.every((id, i) => (id >= V ? imageTokenId : id) === ref.prompt_ids.data[i]);
    let gpuTiles: VlmParityReport['gpuTiles'] = null;
    if (session.gpuTiling && same) {
      // prompt() just tiled the photo on the GPU into the vision input: compare with the oracle's tiles
      const got = (await readF32(ctx, session.vision.input)).subarray(0, tiles * per);
      const c = errors(got.subarray(0, (tiles - 1) * per), pv.data.subarray(0, (tiles - 1) * per));
      const g = errors(got.subarray((tiles - 1) * per), pv.data.subarray((tiles - 1) * per));
      gpuTiles = { crops: { max: c.max, mean: c.mean }, global: { max: g.max, mean: g.mean } };
    }

    // Vision features from the oracle's pixels, then the LM on the oracle's prompt ids.
    const enc = await session.vision.encode(pv.data as Float32Array, tiles);
    const feats = await readF32(ctx, enc.features);
    const features = errors(feats, ref.features.data);
    const base = lm.bindImage(enc.features);
    let j = 0;
    const ids = Array.from(ref.prompt_ids.data, (id) => (id === imageTokenId ? base + j++ : id));
    lm.kv.truncate(0);
    const logits = await lm.stepLogits(await lm.prefillLeading(ids), 'last');
    const lastLogits = errors(logits, ref.last_logits.data);
    let top = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[top]) top = i;
    const firstTokenEqual = top === ref.greedy_ids.data[0];

    // Free-running greedy decoding (KV cache, GPU argmax), as the app decodes.
    lm.kv.truncate(0);
    const tail = await lm.prefillLeading(ids);
    const greedySel = { select: { kind: 'greedy' as const }, penalty: 1, history: [] };
    const ours: number[] = [(await lm.step(tail, greedySel))!];
    while (ours.length < G) ours.push((await lm.step([ours[ours.length - 1]], greedySel))!);
    const reference = Array.from(ref.greedy_ids.data);
    let agree = 0;
    while (agree < G && ours[agree] === reference[agree]) agree++;
    lm.unbindImage(base);
    enc.destroy();
    return { dir, quant, tiles, promptTokens: T, cropsMaxErr, globalMaxErr, gpuTiles, promptIdsEqual, features, lastLogits, firstTokenEqual, greedy: { ours, reference, agree }, installMs, loadMs };
  } finally {
    session?.destroy();
    await rm(root, { recursive: true, force: true });
  }
}
