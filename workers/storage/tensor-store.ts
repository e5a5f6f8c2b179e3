// Engine-format tensor store: the platform-neutral interface (IndexedDB in the browser,
// tensor-store-idb.ts; files under Node, tensor-store-fs.ts), the manifest and tensor metadata
// types, and the two helpers every backend shares: writing a tensor as hashed chunks of a few
// MiB, and reading one back as an async iterator of chunks (straight into GPU buffers).
//
// Readiness: a model is installed exactly when its manifest exists. The installer deletes any
// old manifest first, writes tensors, and writes the manifest LAST; an interrupted install
// therefore leaves tensors without a manifest, which reads as "not installed" and is cleaned up
// by the next run.
import { AbortedError, IntegrityError, ModelNotInstalledError } from '../protocol/errors';
import type { ModelConfig } from './model-config';
import type { TensorClass } from './tensor-plan';

export type EngineDtype = 'f32' | 'q4' | 'q8';
/** What a class of tensors is stored as ('f32' keeps full precision). */
export type StoredKind = EngineDtype;

/** A named byte range inside a tensor's bytes. f32: one part "data". q4/q8: "qweight" then "scales". */
export interface TensorPart {
  name: 'data' | 'qweight' | 'scales';
  offset: number;
  byteLength: number;
}

export interface TensorMeta {
  /** Engine name (see tensor-plan.ts), e.g. "layers.3.qkv". */
  name: string;
  cls: TensorClass;
  /** Logical shape: [N, K] for matrices (q4/q8 packing per quant.ts), [n] for vectors. */
  shape: number[];
  dtype: EngineDtype;
  /** Total stored bytes (all parts plus alignment padding); a multiple of 4. */
  byteLength: number;
  /** sha-256 (hex) of the whole tensor's bytes. */
  sha256: string;
  /** Part offsets are multiples of PART_ALIGN, so each part can be bound from one GPU buffer. */
  parts: TensorPart[];
  /** Bytes per stored chunk (the last one may be shorter). */
  chunkBytes: number;
  /** sha-256 (hex) of every chunk, in order; verified while loading. */
  chunkSha256: string[];
}

/** Stored kind per tensor class chosen at install. */
export interface QuantizationPolicy {
  /** Language-model projections (qkv, o, gate_up, down). */
  linear: StoredKind;
  /** Embedding table and an untied lm_head. */
  embed: StoredKind;
  /** Vision tower projections and the connector. */
  vision: StoredKind;
}

/** Version of the engine format; bump when the packed layout or tensor names change. */
export const ENGINE_FORMAT = 1;

export interface ModelManifest {
  format: typeof ENGINE_FORMAT;
  modelId: string;
  config: ModelConfig;
  /** No `lm_head` tensor: the forward multiplies by `embed`. */
  tiedEmbeddings: boolean;
  /** k of `ppd.prompt_embeddings` [k, hidden] when the model ships PPD prompt embeddings, else 0. */
  ppdPromptTokens: number;
  quantization: QuantizationPolicy;
  /** Hub commit the source files came from, when known. */
  sourceRevision: string | null;
  createdAt: number;
  /** Sum of all tensors' byteLength. */
  totalBytes: number;
  tensors: TensorMeta[];
}

/** Backend operations. Keys are (modelId, tensor name, chunk index). */
export interface TensorStore {
  /** The manifest when the model is completely installed, else null. */
  getManifest(modelId: string): Promise<ModelManifest | null>;
  /** Model ids with a manifest. */
  listModels(): Promise<string[]>;
  /** Deletes the manifest FIRST (the model stops being ready), then every tensor and chunk. */
  deleteModel(modelId: string): Promise<void>;
  putChunk(modelId: string, tensor: string, index: number, bytes: Uint8Array): Promise<void>;
  /** Throws ModelNotInstalledError when the chunk is missing. */
  getChunk(modelId: string, tensor: string, index: number): Promise<Uint8Array>;
  /** Per-tensor record, written after its chunks (informational: size on disk). */
  putTensorMeta(modelId: string, meta: TensorMeta): Promise<void>;
  /** Written last: marks the model ready. */
  putManifest(manifest: ModelManifest): Promise<void>;
}

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
/** Part offsets are aligned to this (minStorageBufferOffsetAlignment's upper bound). */
export const PART_ALIGN = 256;

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // Copy into a plain ArrayBuffer-backed view when needed (digest rejects shared buffers).
  const view = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', view)));
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('Cancelled.');
}

/** Splits a tensor's bytes into chunks, hashes and stores them, then stores its metadata. */
export async function writeTensor(
  store: TensorStore,
  modelId: string,
  desc: Omit<TensorMeta, 'byteLength' | 'sha256' | 'chunkBytes' | 'chunkSha256'>,
  bytes: Uint8Array,
  signal?: AbortSignal,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Promise<TensorMeta> {
  const chunkSha256: string[] = [];
  const count = Math.max(1, Math.ceil(bytes.byteLength / chunkBytes));
  for (let i = 0; i < count; i++) {
    throwIfAborted(signal);
    const chunk = bytes.subarray(i * chunkBytes, Math.min((i + 1) * chunkBytes, bytes.byteLength));
    chunkSha256.push(await sha256Hex(chunk));
    await store.putChunk(modelId, desc.name, i, chunk);
  }
  const meta: TensorMeta = { ...desc, byteLength: bytes.byteLength, sha256: await sha256Hex(bytes), chunkBytes, chunkSha256 };
  await store.putTensorMeta(modelId, meta);
  return meta;
}

export interface TensorChunk {
  /** Byte offset of this chunk in the tensor. */
  offset: number;
  bytes: Uint8Array;
}

/**
 * Streams a tensor's chunks in order, checking each against its sha-256 (unless verify is false).
 * Holds at most two chunks: the next one is fetched while the current one is checked and used.
 */
export async function* readTensorChunks(
  store: TensorStore,
  modelId: string,
  meta: TensorMeta,
  opts: { verify?: boolean; signal?: AbortSignal } = {},
): AsyncGenerator<TensorChunk> {
  const count = meta.chunkSha256.length;
  const fetchChunk = (i: number): Promise<Uint8Array> | null => {
    if (i >= count) return null;
    const p = store.getChunk(modelId, meta.name, i);
    p.catch(() => undefined); // handled when awaited; silences a prefetch the consumer abandons
    return p;
  };
  let next = fetchChunk(0);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    throwIfAborted(opts.signal);
    const bytes = await next!;
    next = fetchChunk(i + 1);
    const want = Math.min(meta.chunkBytes, meta.byteLength - offset);
    if (bytes.byteLength !== want) {
      throw new IntegrityError(`Model "${modelId}": tensor "${meta.name}" chunk ${i} has ${bytes.byteLength} bytes, expected ${want}. Reinstall the model.`);
    }
    if (opts.verify !== false && (await sha256Hex(bytes)) !== meta.chunkSha256[i]) {
      throw new IntegrityError(`Model "${modelId}": tensor "${meta.name}" chunk ${i} is corrupted (sha-256 mismatch). Reinstall the model.`);
    }
    yield { offset, bytes };
    offset += bytes.byteLength;
  }
}

/** The manifest of an installed model, or ModelNotInstalledError. */
export async function requireManifest(store: TensorStore, modelId: string): Promise<ModelManifest> {
  const m = await store.getManifest(modelId);
  if (!m) throw new ModelNotInstalledError(`Model "${modelId}" is not installed (or its installation did not finish). Install it from the Library.`);
  if (m.format !== ENGINE_FORMAT) {
    throw new ModelNotInstalledError(`Model "${modelId}" was installed by another version of Lumen (engine format ${String(m.format)}, this one reads ${ENGINE_FORMAT}). Remove it and install it again.`);
  }
  return m;
}

/** A tensor's metadata from the manifest, or ModelNotInstalledError naming it. */
export function tensorMeta(manifest: ModelManifest, name: string): TensorMeta {
  const t = manifest.tensors.find((x) => x.name === name);
  if (!t) throw new ModelNotInstalledError(`Model "${manifest.modelId}" has no tensor "${name}" in its installed engine format. Reinstall the model.`);
  return t;
}
