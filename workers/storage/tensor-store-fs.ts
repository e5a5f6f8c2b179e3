// Node implementation of TensorStore on plain files, for tests, tools and the benchmark:
//   <root>/<modelId>/manifest.json            written last, atomically (temp file + rename)
//   <root>/<modelId>/tensors/<name>.<i>.bin   chunk i of a tensor
//   <root>/<modelId>/tensors/<name>.json      the tensor's metadata
// Model ids and tensor names are URI-encoded into file names. Never imported by browser code.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelNotInstalledError } from '../protocol/errors';
import type { ModelManifest, TensorMeta, TensorStore } from './tensor-store';

function enc(s: string): string {
  return encodeURIComponent(s).replace(/\./g, '%2E');
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

export class FsTensorStore implements TensorStore {
  constructor(readonly root: string) {}

  private modelDir(modelId: string): string {
    return join(this.root, enc(modelId));
  }

  private chunkPath(modelId: string, tensor: string, index: number): string {
    return join(this.modelDir(modelId), 'tensors', `${enc(tensor)}.${index}.bin`);
  }

  async getManifest(modelId: string): Promise<ModelManifest | null> {
    try {
      return JSON.parse(await readFile(join(this.modelDir(modelId), 'manifest.json'), 'utf8')) as ModelManifest;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async listModels(): Promise<string[]> {
    let dirs: string[];
    try {
      dirs = await readdir(this.root);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    const out: string[] = [];
    for (const d of dirs) {
      const m = await this.getManifest(decodeURIComponent(d));
      if (m) out.push(m.modelId);
    }
    return out.sort();
  }

  async deleteModel(modelId: string): Promise<void> {
    await rm(join(this.modelDir(modelId), 'manifest.json'), { force: true });
    await rm(this.modelDir(modelId), { recursive: true, force: true });
  }

  async putChunk(modelId: string, tensor: string, index: number, bytes: Uint8Array): Promise<void> {
    await mkdir(join(this.modelDir(modelId), 'tensors'), { recursive: true });
    await writeFile(this.chunkPath(modelId, tensor, index), bytes);
  }

  async getChunk(modelId: string, tensor: string, index: number): Promise<Uint8Array> {
    try {
      const b = await readFile(this.chunkPath(modelId, tensor, index));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (err) {
      if (isMissing(err)) throw new ModelNotInstalledError(`Model "${modelId}": chunk ${index} of tensor "${tensor}" is missing. Reinstall the model.`);
      throw err;
    }
  }

  async putTensorMeta(modelId: string, meta: TensorMeta): Promise<void> {
    await mkdir(join(this.modelDir(modelId), 'tensors'), { recursive: true });
    await writeFile(join(this.modelDir(modelId), 'tensors', `${enc(meta.name)}.json`), JSON.stringify(meta));
  }

  async putManifest(manifest: ModelManifest): Promise<void> {
    const dir = this.modelDir(manifest.modelId);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `manifest.json.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(manifest));
    await rename(tmp, join(dir, 'manifest.json'));
  }
}
