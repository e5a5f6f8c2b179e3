// Streaming safetensors reader over a FileSource: parses the 8-byte little-endian header length
// and the JSON header with two small reads, validates every entry against the file size, and
// decodes F32 / F16 / BF16 tensors to f32 in caller-bounded row blocks. Never reads a whole file.
// Sharded checkpoints (model.safetensors.index.json with a weight_map) open as one tensor set.
//
// File layout: u64 N | N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__"?: {...}} | data; offsets are relative to the first data byte (8 + N).
import { ModelFormatError } from '../protocol/errors';
import type { FileSource } from './types';

/** Element sizes of every dtype the format defines; only F32/F16/BF16 can be converted. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};
export const DECODABLE_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type DecodableDtype = (typeof DECODABLE_DTYPES)[number];

/** Largest header we accept; real headers are well under 1 MiB. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

export interface SafetensorInfo {
  name: string;
  /** The file (FileSource path) holding the tensor. */
  path: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

function bad(path: string, what: string): ModelFormatError {
  return new ModelFormatError(`${path}: ${what}. Delete the model and download it again; if it persists, the repository's file is not a valid safetensors file.`);
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Opens one .safetensors file: two small reads, then validation of all entries. */
export async function readSafetensorsHeader(source: FileSource, path: string): Promise<SafetensorInfo[]> {
  const size = await source.size(path);
  if (size < 8) throw bad(path, `file is truncated (${size} bytes, shorter than the 8-byte header length)`);
  const lenBytes = await source.read(path, 0, 8);
  const lenView = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const headerLen = lenView.getUint32(0, true) + lenView.getUint32(4, true) * 2 ** 32;
  if (headerLen > size - 8) throw bad(path, `corrupt header: header length ${headerLen} runs past the end of the ${size}-byte file (truncated or not safetensors)`);
  if (headerLen > MAX_HEADER_BYTES) throw bad(path, `corrupt header: header length ${headerLen} is implausibly large`);
  const headerBytes = await source.read(path, 8, headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw bad(path, `corrupt header: not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad(path, 'corrupt header: JSON is not an object');
  const dataStart = 8 + headerLen;
  const infos: SafetensorInfo[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (!e || typeof e !== 'object' || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)
      || e.data_offsets.length !== 2 || !e.shape.every(isUint) || !e.data_offsets.every(isUint)) {
      throw bad(path, `corrupt header: entry "${name}" lacks a valid dtype, shape or data_offsets`);
    }
    const [b, en] = e.data_offsets as number[];
    if (en < b) throw bad(path, `corrupt header: tensor "${name}" has data_offsets [${b}, ${en}] that end before they begin`);
    const shape = e.shape as number[];
    const elem = DTYPE_BYTES[e.dtype];
    if (elem !== undefined) {
      const want = elementCount(shape) * elem;
      if (want !== en - b) throw bad(path, `corrupt header: tensor "${name}" (${e.dtype} [${shape.join(', ')}]) needs ${want} bytes but data_offsets span ${en - b}`);
      if (b % elem !== 0) throw bad(path, `misaligned data: tensor "${name}" starts at data offset ${b}, not a multiple of its ${elem}-byte ${e.dtype} element`);
    }
    if (dataStart + en > size) {
      throw bad(path, `file is truncated: tensor "${name}" needs bytes up to ${dataStart + en} but the file has ${size}`);
    }
    infos.push({ name, path, dtype: e.dtype, shape, begin: dataStart + b, end: dataStart + en });
  }
  const sorted = [...infos].sort((x, y) => x.begin - y.begin || x.end - y.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.begin < prev.end) throw bad(path, `corrupt header: tensors "${prev.name}" and "${cur.name}" overlap (bytes ${cur.begin}..${prev.end})`);
  }
  return infos;
}

// f16 -> f32 through a 64K-entry table (256 KiB, built once).
let f16Table: Float32Array | null = null;
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

/** Decodes little-endian F32/F16/BF16 bytes into `out` (length = element count). */
export function decodeToF32(dtype: DecodableDtype, bytes: Uint8Array, out: Float32Array): void {
  // Copy to an aligned buffer when the view is not aligned (FileSource may hand out any view).
  const elem = dtype === 'F32' ? 4 : 2;
  const src = bytes.byteOffset % elem === 0 ? bytes : bytes.slice();
  if (dtype === 'F32') {
    out.set(new Float32Array(src.buffer, src.byteOffset, out.length));
    return;
  }
  const u16 = new Uint16Array(src.buffer, src.byteOffset, out.length);
  if (dtype === 'F16') {
    const t = halfTable();
    for (let i = 0; i < u16.length; i++) out[i] = t[u16[i]];
  } else {
    const u32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < u16.length; i++) u32[i] = u16[i] << 16;
  }
}

/** A set of tensors from one file or several shards, readable by name. */
export class SafetensorsSet {
  readonly tensors = new Map<string, SafetensorInfo>();

  constructor(private readonly source: FileSource, infos: Iterable<SafetensorInfo>) {
    for (const t of infos) {
      const prev = this.tensors.get(t.name);
      if (prev) throw new ModelFormatError(`Tensor "${t.name}" appears in both ${prev.path} and ${t.path}; the checkpoint is inconsistent. Download it again.`);
      this.tensors.set(t.name, t);
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): SafetensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new ModelFormatError(`Tensor "${name}" is missing from the model's safetensors files.`);
    return t;
  }

  /** Elements per leading-dimension row (product of all dims but the first). */
  rowElements(name: string): number {
    const s = this.info(name).shape;
    return s.length === 0 ? 1 : elementCount(s.slice(1));
  }

  /**
   * Rows [r0, r1) along the first dimension, decoded to f32 (one source read). Callers bound r1 - r0
   * so a block stays a few MiB.
   */
  async readRows(name: string, r0: number, r1: number): Promise<Float32Array> {
    const t = this.info(name);
    if (!(DECODABLE_DTYPES as readonly string[]).includes(t.dtype)) {
      throw new ModelFormatError(`Tensor "${name}" in ${t.path} has dtype ${t.dtype}; Lumen can only convert ${DECODABLE_DTYPES.join(', ')} weights. Choose the repository's f32/f16/bf16 safetensors.`);
    }
    const dtype = t.dtype as DecodableDtype;
    const rows = t.shape.length === 0 ? 1 : t.shape[0];
    if (r0 < 0 || r1 > rows || r0 > r1) throw new RangeError(`readRows(${name}, ${r0}, ${r1}): tensor has ${rows} rows`);
    const per = this.rowElements(name);
    const elem = DTYPE_BYTES[dtype];
    const count = (r1 - r0) * per;
    const out = new Float32Array(count);
    if (count === 0) return out;
    const bytes = await this.source.read(t.path, t.begin + r0 * per * elem, count * elem);
    if (bytes.byteLength !== count * elem) {
      throw new ModelFormatError(`${t.path}: file is truncated while reading tensor "${name}" (got ${bytes.byteLength} of ${count * elem} bytes). Download the model again.`);
    }
    decodeToF32(dtype, bytes, out);
    return out;
  }

  /** The whole tensor as f32; only for small tensors (norms, biases). */
  async readAll(name: string): Promise<Float32Array> {
    const s = this.info(name).shape;
    return this.readRows(name, 0, s.length === 0 ? 1 : s[0]);
  }
}

/** Lumen's per-model PPD artifact (DESIGN.md section 5): tensor `prompt_embeddings` [k, hidden]. */
export const PPD_FILE = 'ppd.safetensors';

/**
 * Opens a model's safetensors: through model.safetensors.index.json's weight_map when present
 * (plus ppd.safetensors), else every top-level *.safetensors file.
 */
export async function openSafetensors(source: FileSource): Promise<SafetensorsSet> {
  const files = await source.list();
  const indexPath = files.find((f) => f === 'model.safetensors.index.json');
  let shards: string[];
  let weightMap: Record<string, string> | null = null;
  if (indexPath) {
    const bytes = await source.read(indexPath, 0, await source.size(indexPath));
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new ModelFormatError(`${indexPath} is not valid JSON (${(e as Error).message}). Download the model again.`);
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new ModelFormatError(`${indexPath} has no weight_map. Download the model again.`);
    weightMap = index.weight_map;
    shards = [...new Set(Object.values(index.weight_map))];
    for (const s of shards) if (!files.includes(s)) throw new ModelFormatError(`${indexPath} names shard "${s}", which was not downloaded.`);
    if (files.includes(PPD_FILE) && !shards.includes(PPD_FILE)) shards.push(PPD_FILE);
  } else {
    shards = files.filter((f) => f.endsWith('.safetensors') && !f.includes('/')).sort();
  }
  if (shards.length === 0) throw new ModelFormatError('The model has no .safetensors weights file. Lumen needs the repository\'s safetensors weights.');
  const infos: SafetensorInfo[] = [];
  for (const s of shards) infos.push(...(await readSafetensorsHeader(source, s)));
  const set = new SafetensorsSet(source, infos);
  for (const [name, shard] of Object.entries(weightMap ?? {})) {
    const where = set.tensors.get(name)?.path;
    if (where !== shard) throw new ModelFormatError(`${indexPath} places tensor "${name}" in ${shard}, but ${where ? `it is in ${where}` : 'no shard contains it'}. Download the model again.`);
  }
  return set;
}
