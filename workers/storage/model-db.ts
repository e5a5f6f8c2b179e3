// The model database ("lumen-models"): the ONLY place it is opened, with one upgrade function for
// every store. Raw downloads live in `models` / `files` / `chunks` (written by the download
// manager); the engine-format weights the installer converts them to live in `tensors` /
// `tensorChunks`. Also exports openFileSource(), read access to a model's raw files without
// holding them whole in memory, and the helpers that free a model's space. No GPU code.
import type { DBSchema, IDBPDatabase } from 'idb';
import { openDB } from 'idb';
import type { ModelStatus } from '../protocol/library';
import type { SerializedError } from '../protocol/errors';
import { ModelNotInstalledError } from '../protocol/errors';
import type { FileSource } from './types';
import type { Sha256State } from './sha256';

export const MODEL_DB_NAME = 'lumen-models';
export const MODEL_DB_VERSION = 1;

/** One catalogue model's install manifest and state. */
export interface ModelRecord {
  id: string;
  status: ModelStatus;
  /** Hub commit the files came from ("bundled" for files served by the app). */
  revision: string;
  /** Repository paths of every file to fetch, in download order. */
  files: string[];
  /** Sum of the files' sizes. */
  totalBytes: number;
  createdAt: number;
  updatedAt: number;
  /** Set when the last attempt stopped on an error (kept across reloads). */
  error?: SerializedError;
}

/** One raw repository file and how far its download got. */
export interface FileRecord {
  modelId: string;
  path: string;
  url: string;
  size: number;
  /** sha-256 (hex) the hub reports for LFS files; null when unknown. */
  sha256: string | null;
  /** Git blob sha-1 (hex) the hub reports for small non-LFS files; null when unknown. */
  gitOid: string | null;
  chunkBytes: number;
  /** Chunks 0..chunksDone-1 are stored. */
  chunksDone: number;
  /** Running SHA-256 over the stored chunks (saved with each chunk, in the same transaction). */
  hashState: Sha256State | null;
  verified: boolean;
}

/** Engine-format tensor metadata, written by the installer (workers/storage/install.ts). */
export interface TensorRecord {
  modelId: string;
  name: string;
  shape: number[];
  dtype: string;
  /** Total bytes over all of this tensor's chunks (used for "size on disk"). */
  byteLength: number;
  chunkCount: number;
  /** Free-form layout details owned by the installer/engine (quant group size, packing...). */
  meta?: Record<string, unknown>;
}

export interface ModelDB extends DBSchema {
  models: { key: string; value: ModelRecord };
  files: { key: [string, string]; value: FileRecord; indexes: { modelId: string } };
  /** Raw file bytes: [modelId, path, chunk index] -> bytes. */
  chunks: { key: [string, string, number]; value: ArrayBuffer };
  tensors: { key: [string, string]; value: TensorRecord; indexes: { modelId: string } };
  /** Engine-format bytes: [modelId, tensor name, chunk index] -> bytes. */
  tensorChunks: { key: [string, string, number]; value: ArrayBuffer };
}

export type ModelDatabase = IDBPDatabase<ModelDB>;

let opened: Promise<ModelDatabase> | null = null;

/** Opens (once per realm) the model database; every store is created here. */
export function openModelDB(): Promise<ModelDatabase> {
  opened ??= openDB<ModelDB>(MODEL_DB_NAME, MODEL_DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('models', { keyPath: 'id' });
        const files = db.createObjectStore('files', { keyPath: ['modelId', 'path'] });
        files.createIndex('modelId', 'modelId');
        db.createObjectStore('chunks');
        const tensors = db.createObjectStore('tensors', { keyPath: ['modelId', 'name'] });
        tensors.createIndex('modelId', 'modelId');
        db.createObjectStore('tensorChunks');
      }
    },
    blocking() {
      // A newer version wants to upgrade (another tab after an app update): let it.
      void opened?.then((db) => db.close());
      opened = null;
    },
  }).catch((err: unknown) => {
    opened = null;
    throw err;
  });
  return opened;
}

/** Key range covering every [modelId, x, ...] key (and [modelId, path, ...] when path is given). */
export function prefixRange(modelId: string, path?: string): IDBKeyRange {
  return path === undefined
    ? IDBKeyRange.bound([modelId], [modelId, []])
    : IDBKeyRange.bound([modelId, path], [modelId, path, []]);
}

/** Bytes a model occupies: stored raw chunks plus the installed tensors. */
export async function sizeOnDisk(db: ModelDatabase, modelId: string): Promise<number> {
  const tx = db.transaction(['files', 'tensors'], 'readonly');
  let bytes = 0;
  for (const f of await tx.objectStore('files').index('modelId').getAll(modelId)) {
    bytes += Math.min(f.size, f.chunksDone * f.chunkBytes);
  }
  for (const t of await tx.objectStore('tensors').index('modelId').getAll(modelId)) bytes += t.byteLength;
  await tx.done;
  return bytes;
}

/** Removes a raw file's chunks and resets its record to nothing downloaded. */
export async function discardFile(db: ModelDatabase, modelId: string, path: string): Promise<void> {
  const tx = db.transaction(['files', 'chunks'], 'readwrite');
  const rec = await tx.objectStore('files').get([modelId, path]);
  await tx.objectStore('chunks').delete(prefixRange(modelId, path));
  if (rec) await tx.objectStore('files').put({ ...rec, chunksDone: 0, hashState: null, verified: false });
  await tx.done;
}

/** Frees everything stored for a model: record, raw files and installed tensors. */
export async function deleteModelData(db: ModelDatabase, modelId: string): Promise<void> {
  const tx = db.transaction(['models', 'files', 'chunks', 'tensors', 'tensorChunks'], 'readwrite');
  const range = prefixRange(modelId);
  await Promise.all([
    tx.objectStore('models').delete(modelId),
    tx.objectStore('files').delete(range),
    tx.objectStore('chunks').delete(range),
    tx.objectStore('tensors').delete(range),
    tx.objectStore('tensorChunks').delete(range),
    tx.done,
  ]);
}

/**
 * Read access to a model's downloaded raw files (config, tokenizer, safetensors) straight from
 * the stored chunks: a read touches only the chunks that overlap it.
 */
export async function openFileSource(modelId: string): Promise<FileSource> {
  const db = await openModelDB();
  const records = await db.getAllFromIndex('files', 'modelId', modelId);
  const byPath = new Map(records.filter((r) => r.verified).map((r) => [r.path, r]));
  if (byPath.size === 0) throw new ModelNotInstalledError(`Model "${modelId}" has no downloaded files. Download it from the Library first.`);
  const get = (path: string): FileRecord => {
    const r = byPath.get(path);
    if (!r) throw new ModelNotInstalledError(`Model "${modelId}" has no downloaded file "${path}".`);
    return r;
  };
  return {
    async list() {
      return [...byPath.keys()];
    },
    async size(path) {
      return get(path).size;
    },
    async read(path, offset, length) {
      const r = get(path);
      if (offset < 0 || length < 0 || offset + length > r.size) {
        throw new RangeError(`read ${offset}+${length} outside "${path}" (${r.size} bytes)`);
      }
      const out = new Uint8Array(length);
      if (length === 0) return out;
      const first = Math.floor(offset / r.chunkBytes);
      const last = Math.floor((offset + length - 1) / r.chunkBytes);
      const range = IDBKeyRange.bound([modelId, path, first], [modelId, path, last]);
      const chunks = await db.getAll('chunks', range);
      if (chunks.length !== last - first + 1) throw new ModelNotInstalledError(`"${path}" of "${modelId}" is missing chunks; download it again.`);
      chunks.forEach((buf, k) => {
        const chunkStart = (first + k) * r.chunkBytes;
        const from = Math.max(offset, chunkStart);
        const to = Math.min(offset + length, chunkStart + buf.byteLength);
        out.set(new Uint8Array(buf, from - chunkStart, to - from), from - offset);
      });
      return out;
    },
  };
}
