// Install-time conversion into the Node file store, with real files: tiny Llama / Qwen2 /
// Idefics3 models of seeded random weights. Checks the manifest, engine names and shapes,
// q/k/v and gate/up concatenation, dequantized values within quantization tolerance, tied
// embeddings, named errors for bad models (store left consistent), abort mid-way, and cleanup
// of a crashed install by the next run.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, IntegrityError, ModelFormatError } from '../protocol/errors';
import { convertModel, planInstall, policyFor } from './convert';
import { quotaShortfall } from './install';
import { modelFiles, modelTensors, seededValues, tinyIdefics3Config, tinyLlamaConfig } from './fixtures';
import { dirFileSource } from './fs-source';
import { writeModelDir } from './fixtures-fs';
import { dequantize } from './quant';
import { openSafetensors } from './safetensors';
import { writeSafetensors } from './safetensors-writer';
import { readTensorChunks, tensorMeta } from './tensor-store';
import type { ModelManifest, TensorStore } from './tensor-store';
import { FsTensorStore } from './tensor-store-fs';

let dir: string;
let store: FsTensorStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lumen-conv-'));
  store = new FsTensorStore(join(dir, 'store'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modelDir(name: string, files: Record<string, Uint8Array>): Promise<string> {
  const root = join(dir, 'src', name);
  await mkdir(root, { recursive: true });
  for (const [f, b] of Object.entries(files)) await writeFile(join(root, f), b);
  return root;
}

async function tensorBytes(s: TensorStore, m: ModelManifest, name: string): Promise<Uint8Array> {
  const meta = tensorMeta(m, name);
  const out = new Uint8Array(meta.byteLength);
  for await (const c of readTensorChunks(s, m.modelId, meta)) out.set(c.bytes, c.offset);
  return out;
}

/** Reassembles a stored q4/q8 tensor and dequantizes it to row-major f32. */
async function dequantStored(s: TensorStore, m: ModelManifest, name: string): Promise<Float32Array> {
  const meta = tensorMeta(m, name);
  const bytes = await tensorBytes(s, m, name);
  if (meta.dtype === 'f32') return new Float32Array(bytes.buffer);
  const q = meta.parts.find((p) => p.name === 'qweight')!;
  const sc = meta.parts.find((p) => p.name === 'scales')!;
  return dequantize({
    kind: meta.dtype,
    rows: meta.shape[0],
    cols: meta.shape[1],
    qweight: new Uint32Array(bytes.buffer, q.offset, q.byteLength / 4),
    scales: new Float32Array(bytes.buffer, sc.offset, sc.byteLength / 4),
  });
}

function concat(...xs: Float32Array[]): Float32Array {
  const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** Max |a - b| relative to the source's max |value| (values are in [-1, 1)). */
function maxErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const noProgress = (): void => undefined;

describe('install-time conversion (fs store)', () => {
  const llama = tinyLlamaConfig();
  const src = modelTensors(llama, 'BF16', { exact: true });
  const hf = (name: string): Float32Array => src.find((t) => t.name === name)!.data;

  it('installs a tiny Llama at q4 and q8: manifest, names, shapes, values within tolerance', async () => {
    const root = await modelDir('llama', modelFiles(llama, 'BF16', { exact: true }));
    for (const kind of ['q4', 'q8'] as const) {
      const progress: number[] = [];
      const m = await convertModel(store, `llama-${kind}`, dirFileSource(root), { quantization: policyFor(kind), sourceRevision: 'abc123', chunkBytes: 4096 }, (d, t) => progress.push(d / t));
      expect(progress.at(-1)).toBe(1);
      expect(await store.getManifest(`llama-${kind}`)).toEqual(m);
      expect(m.sourceRevision).toBe('abc123');
      expect(m.tiedEmbeddings).toBe(false);
      expect(m.config.kind).toBe('text');
      const names = m.tensors.map((t) => t.name);
      expect(names).toEqual([
        'embed',
        ...[0, 1].flatMap((l) => [`layers.${l}.attn_norm`, `layers.${l}.qkv`, `layers.${l}.o`, `layers.${l}.mlp_norm`, `layers.${l}.gate_up`, `layers.${l}.down`]),
        'norm', 'lm_head',
      ]);
      const qkv = tensorMeta(m, 'layers.1.qkv');
      expect(qkv).toMatchObject({ dtype: kind, shape: [(4 + 2 * 2) * 16, 64], cls: 'linear' });
      expect(qkv.parts[1].offset % 256).toBe(0);
      expect(tensorMeta(m, 'embed').dtype).toBe('q8');
      expect(tensorMeta(m, 'layers.0.attn_norm').dtype).toBe('f32');
      expect(qkv.chunkSha256.length).toBe(Math.ceil(qkv.byteLength / 4096));
      // q4 error <= scale / 2 = max|w| / 14; q8: max|w| / 254 (values in [-1, 1]).
      const tol = kind === 'q4' ? 1 / 14 : 1 / 254;
      const p = 'model.layers.1.';
      expect(maxErr(await dequantStored(store, m, 'layers.1.qkv'), concat(hf(`${p}self_attn.q_proj.weight`), hf(`${p}self_attn.k_proj.weight`), hf(`${p}self_attn.v_proj.weight`)))).toBeLessThanOrEqual(tol + 1e-6);
      expect(maxErr(await dequantStored(store, m, 'layers.1.gate_up'), concat(hf(`${p}mlp.gate_proj.weight`), hf(`${p}mlp.up_proj.weight`)))).toBeLessThanOrEqual(tol + 1e-6);
      expect(maxErr(await dequantStored(store, m, 'embed'), hf('model.embed_tokens.weight'))).toBeLessThanOrEqual(1 / 254 + 1e-6);
      expect(Array.from(await dequantStored(store, m, 'layers.0.attn_norm'))).toEqual(Array.from(hf('model.layers.0.input_layernorm.weight')));
    }
    expect(await store.listModels()).toEqual(['llama-q4', 'llama-q8']);
  });

  it('keeps f32 weights exact and concatenates Qwen2 q/k/v biases; tied embeddings give no lm_head', async () => {
    const qwen = tinyLlamaConfig({ model_type: 'qwen2', tie_word_embeddings: true });
    const tensors = modelTensors(qwen, 'F16', { exact: true });
    const root = await modelDir('qwen', { 'config.json': new TextEncoder().encode(JSON.stringify(qwen)), 'model.safetensors': writeSafetensors(tensors) });
    const m = await convertModel(store, 'qwen-f32', dirFileSource(root), { quantization: policyFor('f32') }, noProgress);
    const get = (n: string): Float32Array => tensors.find((t) => t.name === n)!.data;
    expect(m.tiedEmbeddings).toBe(true);
    expect(m.tensors.some((t) => t.name === 'lm_head')).toBe(false);
    expect(tensorMeta(m, 'layers.0.qkv_bias').shape).toEqual([128]);
    expect(Array.from(await dequantStored(store, m, 'layers.0.qkv_bias'))).toEqual(Array.from(concat(get('model.layers.0.self_attn.q_proj.bias'), get('model.layers.0.self_attn.k_proj.bias'), get('model.layers.0.self_attn.v_proj.bias'))));
    expect(Array.from(await dequantStored(store, m, 'layers.1.gate_up'))).toEqual(Array.from(concat(get('model.layers.1.mlp.gate_proj.weight'), get('model.layers.1.mlp.up_proj.weight'))));
    expect(tensorMeta(m, 'embed').dtype).toBe('f32');
  });

  it('installs a tiny Idefics3 (vision tower + connector + text model)', async () => {
    const cfg = tinyIdefics3Config();
    const root = await modelDir('idefics3', modelFiles(cfg, 'F32'));
    const m = await convertModel(store, 'idefics3', dirFileSource(root), { quantization: policyFor('q8') }, noProgress);
    expect(m.config.kind).toBe('idefics3');
    expect(tensorMeta(m, 'vision.patch_embed')).toMatchObject({ shape: [32, 3 * 8 * 8], dtype: 'f32' });
    expect(tensorMeta(m, 'vision.pos_embed').shape).toEqual([16, 32]);
    expect(tensorMeta(m, 'vision.layers.0.qkv')).toMatchObject({ shape: [96, 32], dtype: 'q8' });
    expect(tensorMeta(m, 'vision.layers.0.qkv_bias').shape).toEqual([96]);
    expect(tensorMeta(m, 'connector.proj')).toMatchObject({ shape: [64, 32 * 4], dtype: 'q8' });
    expect(tensorMeta(m, 'layers.1.down').shape).toEqual([64, 128]);
    expect(m.tiedEmbeddings).toBe(true);
  });

  it('writeModelDir streams the same bytes modelFiles builds in memory', async () => {
    const root = join(dir, 'src', 'streamed');
    const size = await writeModelDir(root, llama, 'BF16', { exact: true });
    const mem = modelFiles(llama, 'BF16', { exact: true });
    const disk = await readFile(join(root, 'model.safetensors'));
    expect(size).toBe(mem['model.safetensors'].byteLength);
    expect(Buffer.compare(disk, Buffer.from(mem['model.safetensors']))).toBe(0);
    expect(JSON.parse(await readFile(join(root, 'config.json'), 'utf8'))).toEqual(llama);
  });

  it('rejects bad models with named errors and leaves an existing install untouched', async () => {
    const id = 'llama-q4';
    const before = await store.getManifest(id);
    expect(before).not.toBeNull();
    const cases: [string, Record<string, Uint8Array>, RegExp][] = [];
    const missing = modelTensors(llama).filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight');
    cases.push(['missing', { 'config.json': modelFiles(llama)['config.json'], 'model.safetensors': writeSafetensors(missing) }, /Missing tensor "model.layers.1.mlp.up_proj.weight" \(needed for layers.1.gate_up\)/]);
    const wrong = modelFiles(tinyLlamaConfig({ intermediate_size: 96 }));
    cases.push(['shape', { 'config.json': modelFiles(llama)['config.json'], 'model.safetensors': wrong['model.safetensors'] }, /Tensor "model.layers.0.mlp.gate_proj.weight" has shape \[96, 64\] but config.json implies \[128, 64\]/]);
    const trunc = modelFiles(llama);
    cases.push(['truncated', { ...trunc, 'model.safetensors': trunc['model.safetensors'].subarray(0, 5000) }, /file is truncated/]);
    cases.push(['noconfig', { 'model.safetensors': trunc['model.safetensors'] }, /no config.json/]);
    cases.push(['badconfig', { ...trunc, 'config.json': new TextEncoder().encode('{"model_type": "gpt2"}') }, /model_type "gpt2" is not supported/]);
    for (const [name, files, pattern] of cases) {
      const err = await convertModel(store, id, dirFileSource(await modelDir(`bad-${name}`, files)), { quantization: policyFor('q4') }, noProgress).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message, name).toMatch(pattern);
    }
    expect(await store.getManifest(id)).toEqual(before);
  });

  it('rejects NaN / infinite weights (found while converting) and leaves the model not ready', async () => {
    const nan = modelTensors(llama);
    nan.find((t) => t.name === 'model.layers.0.self_attn.o_proj.weight')!.data[70] = NaN;
    const inf = modelTensors(llama);
    inf.find((t) => t.name === 'model.norm.weight')!.data[3] = Infinity;
    const cases: [string, typeof nan, RegExp][] = [
      ['nan', nan, /Tensor "model.layers.0.self_attn.o_proj.weight" contains NaN or infinite values \(rows 0\.\./],
      ['inf', inf, /Tensor "model.norm.weight" contains NaN or infinite/],
    ];
    for (const [name, tensors, pattern] of cases) {
      const root = await modelDir(`nonfinite-${name}`, { 'config.json': modelFiles(llama)['config.json'], 'model.safetensors': writeSafetensors(tensors) });
      const err = await convertModel(store, `nonfinite-${name}`, dirFileSource(root), { quantization: policyFor('q4') }, noProgress).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message).toMatch(pattern);
      expect(await store.getManifest(`nonfinite-${name}`)).toBeNull();
    }
  });

  it('plans the exact installed size before writing; a failing beforeWrite (quota) writes nothing', async () => {
    const root = await modelDir('plan', modelFiles(llama));
    const plan = await planInstall(dirFileSource(root), policyFor('q4'));
    const m = (await store.getManifest('llama-q4'))!;
    expect(plan.totalBytes).toBe(m.totalBytes);
    expect(plan.tensors.map((t) => t.layout.dtype)).toEqual(m.tensors.map((t) => t.dtype));
    const err = new Error('no space');
    await expect(convertModel(store, 'llama-q4', dirFileSource(root), { quantization: policyFor('q8'), beforeWrite: async () => { throw err; } }, noProgress)).rejects.toBe(err);
    expect(await store.getManifest('llama-q4')).toEqual(m);
    expect(quotaShortfall({ quota: 100e6, usage: 20e6 }, 50e6)).toBe(0);
    expect(quotaShortfall({ quota: 100e6, usage: 60e6 }, 50e6)).toBe(50e6 + 16 * 1024 * 1024 - 40e6);
    expect(quotaShortfall(undefined, 50e6)).toBe(0);
  });

  it('converts PPD prompt embeddings from ppd.safetensors and checks their width', async () => {
    const files = modelFiles(llama);
    const prompt = seededValues(3 * 64, 99);
    const ok = await modelDir('ppd', { ...files, 'ppd.safetensors': writeSafetensors([{ name: 'prompt_embeddings', dtype: 'F32', shape: [3, 64], data: prompt }]) });
    const m = await convertModel(store, 'ppd', dirFileSource(ok), { quantization: policyFor('q4') }, noProgress);
    expect(m.ppdPromptTokens).toBe(3);
    expect(tensorMeta(m, 'ppd.prompt_embeddings')).toMatchObject({ shape: [3, 64], dtype: 'f32', cls: 'prompt_embed' });
    expect(Array.from(await dequantStored(store, m, 'ppd.prompt_embeddings'))).toEqual(Array.from(prompt));
    expect((await store.getManifest('llama-q4'))!.ppdPromptTokens).toBe(0);
    const narrow = await modelDir('ppd-narrow', { ...files, 'ppd.safetensors': writeSafetensors([{ name: 'prompt_embeddings', dtype: 'F32', shape: [3, 32], data: prompt.subarray(0, 96) }]) });
    await expect(convertModel(store, 'ppd-narrow', dirFileSource(narrow), { quantization: policyFor('q4') }, noProgress)).rejects.toThrow(/Tensor "prompt_embeddings" has shape \[3, 32\] but config.json implies \[3, 64\]/);
    const flat = await modelDir('ppd-flat', { ...files, 'ppd.safetensors': writeSafetensors([{ name: 'prompt_embeddings', dtype: 'F32', shape: [192], data: prompt }]) });
    await expect(convertModel(store, 'ppd-flat', dirFileSource(flat), { quantization: policyFor('q4') }, noProgress)).rejects.toThrow(/prompt_embeddings has shape \[192\]; expected \[k, 64\]/);
  });

  it('an unknown dtype in a needed tensor names the tensor and dtype', async () => {
    const t = modelTensors(llama);
    const file = writeSafetensors(t);
    // Rewrite one F32 entry's dtype to "I32" (same element size, so offsets stay valid).
    const text = new TextDecoder().decode(file.subarray(8, 8 + new DataView(file.buffer).getUint32(0, true)));
    const patched = text.replace('"model.norm.weight":{"dtype":"F32"', '"model.norm.weight":{"dtype":"I32"');
    expect(patched).not.toBe(text);
    file.set(new TextEncoder().encode(patched), 8);
    const root = await modelDir('i32', { 'config.json': modelFiles(llama)['config.json'], 'model.safetensors': file });
    await expect(convertModel(store, 'i32', dirFileSource(root), { quantization: policyFor('q4') }, noProgress)).rejects.toThrow(/Tensor "model.norm.weight" has dtype I32/);
    expect(await store.getManifest('i32')).toBeNull();
  });

  it('an abort mid-way leaves no ready model; a crashed install is cleaned by the next run', async () => {
    const root = await modelDir('abort', modelFiles(llama));
    const ac = new AbortController();
    const err = await convertModel(store, 'aborted', dirFileSource(root), { quantization: policyFor('q4'), blockBytes: 1024 }, (d, t) => {
      if (d / t > 0.5) ac.abort();
    }, ac.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(await store.getManifest('aborted')).toBeNull();
    expect(await store.listModels()).not.toContain('aborted');
    // A crash (no cleanup ran): stale chunks without a manifest are "not installed"...
    await store.putChunk('aborted', 'layers.0.qkv', 0, new Uint8Array(16));
    await store.putChunk('aborted', 'stale.tensor', 0, new Uint8Array(16));
    expect(await store.getManifest('aborted')).toBeNull();
    // ...and the next run removes them and succeeds.
    const m = await convertModel(store, 'aborted', dirFileSource(root), { quantization: policyFor('q4') }, noProgress);
    const files = await readdir(join(store.root, 'aborted', 'tensors'));
    expect(files.some((f) => f.startsWith('stale'))).toBe(false);
    expect(files.filter((f) => f.endsWith('.bin')).length).toBe(m.tensors.reduce((a, t) => a + t.chunkSha256.length, 0));
    expect(await store.getManifest('aborted')).toEqual(m);
  });

  it('a reinstall over a ready model un-readies it before overwriting anything', async () => {
    const root = await modelDir('reinstall', modelFiles(llama));
    await convertModel(store, 'reinstall', dirFileSource(root), { quantization: policyFor('q8') }, noProgress);
    expect(await store.getManifest('reinstall')).not.toBeNull();
    const ac = new AbortController();
    let readyWhileWriting = false;
    const watched: TensorStore = {
      getManifest: (id) => store.getManifest(id),
      listModels: () => store.listModels(),
      deleteModel: (id) => store.deleteModel(id),
      putTensorMeta: (id, m) => store.putTensorMeta(id, m),
      putManifest: (m) => store.putManifest(m),
      getChunk: (id, t, i) => store.getChunk(id, t, i),
      putChunk: async (id, t, i, b) => {
        readyWhileWriting ||= (await store.getManifest(id)) !== null;
        if (t === 'layers.1.qkv') ac.abort();
        return store.putChunk(id, t, i, b);
      },
    };
    await expect(convertModel(watched, 'reinstall', dirFileSource(root), { quantization: policyFor('q4') }, noProgress, ac.signal)).rejects.toThrow(AbortedError);
    expect(readyWhileWriting).toBe(false);
    expect(await store.getManifest('reinstall')).toBeNull();
  });

  it.each(['tiny-llama', 'tiny-qwen2'])('converts the transformers-written parity fixture %s', async (name) => {
    const root = join(process.cwd(), 'tools/parity/fixtures', name);
    const m = await convertModel(store, name, dirFileSource(root), { quantization: policyFor('f32') }, noProgress);
    const set = await openSafetensors(dirFileSource(root));
    expect(m.tiedEmbeddings).toBe(true);
    expect(Array.from(await dequantStored(store, m, 'embed'))).toEqual(Array.from(await set.readAll('model.embed_tokens.weight')));
    const p = 'model.layers.1.self_attn.';
    const qkv = concat(await set.readAll(`${p}q_proj.weight`), await set.readAll(`${p}k_proj.weight`), await set.readAll(`${p}v_proj.weight`));
    expect(Array.from(await dequantStored(store, m, 'layers.1.qkv'))).toEqual(Array.from(qkv));
    expect(m.tensors.some((t) => t.name === 'layers.0.qkv_bias')).toBe(name === 'tiny-qwen2');
  });

  it('detects a corrupted chunk while reading', async () => {
    const m = (await store.getManifest('llama-q8'))!;
    const meta = tensorMeta(m, 'layers.0.o');
    const path = join(store.root, 'llama-q8', 'tensors', 'layers%2E0%2Eo.0.bin');
    const good = await store.getChunk('llama-q8', 'layers.0.o', 0);
    const bad = good.slice();
    bad[10] ^= 1;
    await writeFile(path, bad);
    await expect(async () => {
      for await (const c of readTensorChunks(store, 'llama-q8', meta)) void c;
    }).rejects.toThrow(IntegrityError);
    await writeFile(path, good);
  });
});
