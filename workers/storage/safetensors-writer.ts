// Writes safetensors files: in memory (writeSafetensors, small models for tests and the e2e
// harness), or header + per-tensor encoding for streaming writers (fixtures-fs.ts, large bench
// models). Values are given as f32 and encoded to F32, F16 or BF16 (round to nearest even).

export type WritableDtype = 'F32' | 'F16' | 'BF16';

export interface TensorToWrite {
  name: string;
  dtype: WritableDtype;
  shape: number[];
  data: Float32Array;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 -> IEEE half bits, round to nearest even; overflow to inf, underflow through subnormals. */
export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  e = h >>> 10;
  return sign | (e >= 31 ? 0x7c00 : h);
}

/** f32 -> bfloat16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

const DTYPE_BYTES: Record<WritableDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Encodes one tensor's values in its dtype (little-endian). */
export function encodeTensor(t: TensorToWrite): Uint8Array {
  if (t.dtype === 'F32') return new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  const out = new Uint16Array(t.data.length);
  const conv = t.dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < t.data.length; i++) out[i] = conv(t.data[i]);
  return new Uint8Array(out.buffer);
}

export interface TensorEntry {
  name: string;
  dtype: WritableDtype;
  shape: number[];
}

/**
 * The file's first bytes (u64 header length + JSON header padded to 8 bytes) for tensors stored
 * back to back in the given order; `dataBytes` is the size of the data that follows.
 */
export function safetensorsHeader(entries: TensorEntry[], metadata?: Record<string, string>): { header: Uint8Array; dataBytes: number } {
  const json: Record<string, unknown> = {};
  if (metadata) json.__metadata__ = metadata;
  let offset = 0;
  for (const t of entries) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(json);
  const rawLen = new TextEncoder().encode(text).byteLength;
  text += ' '.repeat((8 - (rawLen % 8)) % 8); // the format pads the header to a multiple of 8 bytes
  const body = new TextEncoder().encode(text);
  const header = new Uint8Array(8 + body.byteLength);
  new DataView(header.buffer).setUint32(0, body.byteLength, true);
  header.set(body, 8);
  return { header, dataBytes: offset };
}

/** Serializes tensors (in the given order) into one safetensors file. */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new RangeError(`writeSafetensors: ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
  }
  const { header, dataBytes } = safetensorsHeader(tensors, metadata);
  const out = new Uint8Array(header.byteLength + dataBytes);
  out.set(header, 0);
  let pos = header.byteLength;
  for (const t of tensors) {
    const b = encodeTensor(t);
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}
