// Browser implementation of TensorStore on the "lumen-models" IndexedDB database (opened only
// by model-db.ts): `tensorChunks` holds [modelId, tensor, index] -> bytes, `tensors` holds one
// record per tensor ([modelId, name], TensorMeta in `meta.tensor`) plus, under the reserved name
// MANIFEST_NAME, the model manifest — written last, in its own transaction, so its presence is
// what makes a model "installed". deleteModel removes manifest, records and chunks atomically.
import { ModelNotInstalledError } from '../protocol/errors';
import { openModelDB, prefixRange } from './model-db';
import type { ModelDatabase, TensorRecord } from './model-db';
import type { ModelManifest, TensorMeta, TensorStore } from './tensor-store';

/** Reserved `tensors` record name holding the manifest (no engine tensor starts with '#'). */
export const MANIFEST_NAME = '#manifest';

export class IdbTensorStore implements TensorStore {
  constructor(private readonly db: ModelDatabase) {}

  static async open(): Promise<IdbTensorStore> {
    return new IdbTensorStore(await openModelDB());
  }

  async getManifest(modelId: string): Promise<ModelManifest | null> {
    const rec = await this.db.get('tensors', [modelId, MANIFEST_NAME]);
    const m = rec?.meta?.manifest as ModelManifest | undefined;
    return m ?? null;
  }

  async listModels(): Promise<string[]> {
    const out: string[] = [];
    let cursor = await this.db.transaction('tensors').store.openCursor();
    while (cursor) {
      if (cursor.value.name === MANIFEST_NAME) out.push(cursor.value.modelId);
      cursor = await cursor.continue();
    }
    return out.sort();
  }

  async deleteModel(modelId: string): Promise<void> {
    const tx = this.db.transaction(['tensors', 'tensorChunks'], 'readwrite');
    await Promise.all([
      tx.objectStore('tensors').delete([modelId, MANIFEST_NAME]),
      tx.objectStore('tensors').delete(prefixRange(modelId)),
      tx.objectStore('tensorChunks').delete(prefixRange(modelId)),
      tx.done,
    ]);
  }

  async putChunk(modelId: string, tensor: string, index: number, bytes: Uint8Array): Promise<void> {
    // Store an exact-size copy (the view may be a window into a larger conversion buffer).
    const copy = bytes.slice().buffer;
    await this.db.put('tensorChunks', copy, [modelId, tensor, index]);
  }

  async getChunk(modelId: string, tensor: string, index: number): Promise<Uint8Array> {
    const buf = await this.db.get('tensorChunks', [modelId, tensor, index]);
    if (!buf) throw new ModelNotInstalledError(`Model "${modelId}": chunk ${index} of tensor "${tensor}" is missing. Reinstall the model.`);
    return new Uint8Array(buf);
  }

  async putTensorMeta(modelId: string, meta: TensorMeta): Promise<void> {
    const rec: TensorRecord = {
      modelId,
      name: meta.name,
      shape: meta.shape,
      dtype: meta.dtype,
      byteLength: meta.byteLength,
      chunkCount: meta.chunkSha256.length,
      meta: { tensor: meta },
    };
    await this.db.put('tensors', rec);
  }

  async putManifest(manifest: ModelManifest): Promise<void> {
    const rec: TensorRecord = {
      modelId: manifest.modelId,
      name: MANIFEST_NAME,
      shape: [],
      dtype: 'manifest',
      byteLength: 0,
      chunkCount: 0,
      meta: { manifest },
    };
    await this.db.put('tensors', rec);
  }
}
