// Browser harness for e2e/tensor-store.spec.ts, bundled by the spec with esbuild and served on
// the app's origin: drives the REAL IndexedDB tensor store and installer (workers/storage) and
// the GPU upload helper on Chromium's WebGPU, and exposes the steps as window.lumenStore.
import { uploadTensor } from '../../workers/models/weights';
import { openModelDB, prefixRange } from '../../workers/storage/model-db';
import { installModel } from '../../workers/storage/install';
import { memoryFileSource, modelFiles, tinyLlamaConfig } from '../../workers/storage/fixtures';
import { dequantize } from '../../workers/storage/quant';
import { readTensorChunks, tensorMeta } from '../../workers/storage/tensor-store';
import { IdbTensorStore } from '../../workers/storage/tensor-store-idb';
import { openSafetensors } from '../../workers/storage/safetensors';
import type { FileSource } from '../../workers/storage/types';

const files = modelFiles(tinyLlamaConfig({ num_hidden_layers: 4 }));

/** The fixture's files, with every read delayed (a slow disk) so an install can be interrupted. */
function slowSource(delayMs: number): FileSource {
  const src = memoryFileSource(files);
  return { ...src, read: async (p, o, l) => (await new Promise((r) => setTimeout(r, delayMs)), src.read(p, o, l)) };
}

async function storedBytes(store: IdbTensorStore, modelId: string, name: string): Promise<Uint8Array> {
  const m = (await store.getManifest(modelId))!;
  const meta = tensorMeta(m, name);
  const out = new Uint8Array(meta.byteLength);
  for await (const c of readTensorChunks(store, modelId, meta)) out.set(c.bytes, c.offset);
  return out;
}

const api = {
  progress: 0,

  async install(modelId: string, slowMs = 0, chunkBytes = 4096): Promise<{ tensors: number; totalBytes: number; revision: string | null }> {
    await installModel(modelId, slowMs ? slowSource(slowMs) : memoryFileSource(files), (d, t) => (api.progress = d / t), new AbortController().signal, {
      chunkBytes,
      blockBytes: 4 * 1024,
      sourceRevision: 'e2e-rev',
    });
    const m = (await (await IdbTensorStore.open()).getManifest(modelId))!;
    return { tensors: m.tensors.length, totalBytes: m.totalBytes, revision: m.sourceRevision };
  },

  /** Starts an install that aborts once half done; resolves with the error's name. */
  async installAndAbort(modelId: string): Promise<string> {
    const ac = new AbortController();
    try {
      await installModel(modelId, memoryFileSource(files), (d, t) => {
        if (d / t > 0.5) ac.abort();
      }, ac.signal, { chunkBytes: 4096, blockBytes: 4 * 1024 });
      return 'completed';
    } catch (e) {
      return (e as Error).name;
    }
  },

  /**
   * Starts a slow install and does not wait for it (the spec reloads the page mid-way). Its
   * smaller chunks leave chunk indices a normal install never writes: only cleanup removes them.
   */
  startSlowInstall(modelId: string): void {
    api.progress = 0;
    void api.install(modelId, 25, 1024).catch(() => undefined);
  },

  async state(modelId: string): Promise<{ ready: boolean; listed: boolean; tensorRecords: number; chunks: number }> {
    const db = await openModelDB();
    const store = new IdbTensorStore(db);
    return {
      ready: (await store.getManifest(modelId)) !== null,
      listed: (await store.listModels()).includes(modelId),
      tensorRecords: await db.count('tensors', prefixRange(modelId)),
      chunks: await db.count('tensorChunks', prefixRange(modelId)),
    };
  },

  /** Expected chunk count from the manifest (after a complete install). */
  async manifestChunks(modelId: string): Promise<number> {
    const m = (await (await IdbTensorStore.open()).getManifest(modelId))!;
    return m.tensors.reduce((a, t) => a + t.chunkSha256.length, 0);
  },

  /** Stored q4 tensor vs the source weights, and the same bytes through a GPU buffer. */
  async verifyTensor(modelId: string, name: string, hfNames: string[]): Promise<{ maxErr: number; gpuIdentical: boolean; bytes: number; chunks: number }> {
    const store = await IdbTensorStore.open();
    const m = (await store.getManifest(modelId))!;
    const meta = tensorMeta(m, name);
    const bytes = await storedBytes(store, modelId, name);
    const q = meta.parts.find((p) => p.name === 'qweight')!;
    const s = meta.parts.find((p) => p.name === 'scales')!;
    const deq = dequantize({
      kind: meta.dtype as 'q4' | 'q8',
      rows: meta.shape[0],
      cols: meta.shape[1],
      qweight: new Uint32Array(bytes.buffer, q.offset, q.byteLength / 4),
      scales: new Float32Array(bytes.buffer, s.offset, s.byteLength / 4),
    });
    const set = await openSafetensors(memoryFileSource(files));
    let maxErr = 0;
    let o = 0;
    for (const hf of hfNames) {
      const src = await set.readAll(hf);
      for (let i = 0; i < src.length; i++) maxErr = Math.max(maxErr, Math.abs(src[i] - deq[o + i]));
      o += src.length;
    }
    if (o !== deq.length) throw new Error(`sources cover ${o} of ${deq.length} values`);
    const adapter = await navigator.gpu.requestAdapter();
    const device = await adapter!.requestDevice();
    const t = await uploadTensor(device, store, modelId, name, { usage: GPUBufferUsage.COPY_SRC });
    const staging = device.createBuffer({ size: t.buffer.size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(t.buffer, 0, staging, 0, t.buffer.size);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const gpu = new Uint8Array(staging.getMappedRange().slice(0, meta.byteLength));
    staging.unmap();
    device.destroy();
    const gpuIdentical = gpu.length === bytes.length && gpu.every((b, i) => b === bytes[i]);
    return { maxErr, gpuIdentical, bytes: meta.byteLength, chunks: meta.chunkSha256.length };
  },
};

declare global {
  interface Window {
    lumenStore: typeof api;
  }
}
window.lumenStore = api;
