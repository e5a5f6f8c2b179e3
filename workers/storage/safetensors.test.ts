// Safetensors reader on real files: exact F32/F16/BF16 round trips through a directory
// FileSource, row-block reads, sharded index.json, and one named ModelFormatError per kind of
// bad input (truncated, corrupt header, unknown dtype, overlapping or misaligned offsets).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError } from '../protocol/errors';
import { seededValues } from './fixtures';
import { dirFileSource } from './fs-source';
import { decodeToF32, openSafetensors, readSafetensorsHeader } from './safetensors';
import { f32ToBf16Bits, f32ToF16Bits, writeSafetensors } from './safetensors-writer';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lumen-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(sub: string, files: Record<string, Uint8Array | string>): Promise<string> {
  const root = join(dir, sub);
  await import('node:fs/promises').then((fs) => fs.mkdir(root, { recursive: true }));
  for (const [name, data] of Object.entries(files)) await writeFile(join(root, name), data);
  return root;
}

/** A file whose header is `header` (JSON text) followed by `dataBytes` zero bytes. */
function rawFile(header: string, dataBytes: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.byteLength + dataBytes);
  new DataView(out.buffer).setUint32(0, h.byteLength, true);
  out.set(h, 8);
  return out;
}

async function expectFormatError(files: Record<string, Uint8Array | string>, pattern: RegExp, sub: string): Promise<void> {
  const root = await put(sub, files);
  const err = await openSafetensors(dirFileSource(root)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModelFormatError);
  expect((err as Error).message).toMatch(pattern);
}

describe('safetensors reader', () => {
  it('round-trips F32, F16 and BF16 exactly, in row blocks', async () => {
    const a = seededValues(6 * 10, 1, true);
    const b = seededValues(4 * 8, 2, true);
    const c = seededValues(3 * 2 * 5, 3, true);
    const root = await put('ok', {
      'model.safetensors': writeSafetensors([
        { name: 'a', dtype: 'F32', shape: [6, 10], data: seededValues(60, 1) },
        { name: 'b', dtype: 'F16', shape: [4, 8], data: b },
        { name: 'c', dtype: 'BF16', shape: [3, 2, 5], data: c },
        { name: 'e', dtype: 'F32', shape: [6, 10], data: a },
      ], { format: 'pt' }),
    });
    const set = await openSafetensors(dirFileSource(root));
    expect([...set.tensors.keys()].sort()).toEqual(['a', 'b', 'c', 'e']);
    expect(Array.from(await set.readAll('a'))).toEqual(Array.from(seededValues(60, 1)));
    expect(Array.from(await set.readAll('b'))).toEqual(Array.from(b));
    expect(Array.from(await set.readAll('c'))).toEqual(Array.from(c));
    expect(set.rowElements('c')).toBe(10);
    expect(Array.from(await set.readRows('c', 1, 3))).toEqual(Array.from(c.subarray(10, 30)));
    expect(Array.from(await set.readRows('e', 2, 5))).toEqual(Array.from(a.subarray(20, 50)));
  });

  it('decodes half and bfloat16 special values', () => {
    const vals = [0, -0, 1, -2.5, 65504, 2 ** -24, Infinity, -Infinity];
    const h = new Uint16Array(vals.map(f32ToF16Bits));
    const out = new Float32Array(vals.length);
    decodeToF32('F16', new Uint8Array(h.buffer), out);
    expect(Array.from(out)).toEqual(vals);
    const bf = new Uint16Array([f32ToBf16Bits(3.140625), f32ToBf16Bits(-1e30), f32ToBf16Bits(NaN)]);
    decodeToF32('BF16', new Uint8Array(bf.buffer), out.subarray(0, 3));
    expect(out[0]).toBe(3.140625);
    expect(Math.abs(out[1] / -1e30 - 1)).toBeLessThan(1 / 128);
    expect(Number.isNaN(out[2])).toBe(true);
    // A view at an odd byte offset (FileSources may return one) decodes the same.
    const backing = new Uint8Array(1 + 8);
    backing.set(new Uint8Array(new Float32Array([1.5, -7]).buffer), 1);
    const two = new Float32Array(2);
    decodeToF32('F32', backing.subarray(1), two);
    expect(Array.from(two)).toEqual([1.5, -7]);
    backing.set(new Uint8Array(new Uint16Array([f32ToF16Bits(0.25), f32ToF16Bits(2 ** -20)]).buffer), 1);
    decodeToF32('F16', backing.subarray(1, 5), two);
    expect(Array.from(two)).toEqual([0.25, 2 ** -20]); // 2^-20 is subnormal in f16
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie rounds to even
    expect(f32ToF16Bits(1e6)).toBe(0x7c00); // overflow to +inf
  });

  it('opens sharded checkpoints through model.safetensors.index.json', async () => {
    const x = seededValues(8, 4);
    const y = seededValues(12, 5);
    const root = await put('sharded', {
      'model-00001-of-00002.safetensors': writeSafetensors([{ name: 'x', dtype: 'F32', shape: [8], data: x }]),
      'model-00002-of-00002.safetensors': writeSafetensors([{ name: 'y', dtype: 'F32', shape: [3, 4], data: y }]),
      'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' } }),
      'ppd.safetensors': writeSafetensors([{ name: 'prompt_embeddings', dtype: 'F32', shape: [1, 4], data: seededValues(4, 6) }]),
      'consolidated.safetensors': writeSafetensors([{ name: 'x', dtype: 'F32', shape: [8], data: x }]),
    });
    const set = await openSafetensors(dirFileSource(root));
    expect([...set.tensors.keys()].sort()).toEqual(['prompt_embeddings', 'x', 'y']); // not the stray consolidated copy
    expect(set.info('y').path).toBe('model-00002-of-00002.safetensors');
    expect(Array.from(await set.readAll('x'))).toEqual(Array.from(x));
    expect(Array.from(await set.readRows('y', 2, 3))).toEqual(Array.from(y.subarray(8)));
  });

  it('names a shard index that disagrees with the shards', async () => {
    const one = writeSafetensors([{ name: 'x', dtype: 'F32', shape: [2], data: seededValues(2, 1) }]);
    await expectFormatError({
      'a.safetensors': one,
      'model.safetensors.index.json': JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'a.safetensors' } }),
    }, /places tensor "y" in a.safetensors, but no shard contains it/, 'badindex');
    await expectFormatError({ 'model.safetensors.index.json': JSON.stringify({ weight_map: { x: 'b.safetensors' } }) }, /names shard "b.safetensors", which was not downloaded/, 'noshard');
    await expectFormatError({ 'model.safetensors.index.json': '{"weight_map": ' }, /is not valid JSON/, 'badjson');
  });

  it('reads only the header, not the whole file, when opening', async () => {
    const big = writeSafetensors([{ name: 'w', dtype: 'F32', shape: [256, 256], data: new Float32Array(65536) }]);
    let bytesRead = 0;
    const src = dirFileSource(await put('big', { 'model.safetensors': big }));
    const counting = { ...src, read: async (p: string, o: number, l: number) => ((bytesRead += l), src.read(p, o, l)) };
    await readSafetensorsHeader(counting, 'model.safetensors');
    expect(bytesRead).toBeLessThan(200);
  });

  it('names a truncated file', async () => {
    const full = writeSafetensors([{ name: 'w', dtype: 'F32', shape: [4, 4], data: seededValues(16, 6) }]);
    await expectFormatError({ 'model.safetensors': full.subarray(0, full.byteLength - 5) }, /truncated: tensor "w" needs bytes up to/, 'trunc');
    await expectFormatError({ 'model.safetensors': new Uint8Array(5) }, /truncated/, 'trunc2');
  });

  it('names a corrupt header: length beyond the file, or bad JSON', async () => {
    const f = rawFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4);
    new DataView(f.buffer).setUint32(0, 1 << 20, true);
    await expectFormatError({ 'model.safetensors': f }, /corrupt header: header length 1048576 runs past the end/, 'hdrlen');
    await expectFormatError({ 'model.safetensors': rawFile('{"w": {"dtype": "F32", ', 0) }, /corrupt header: not valid UTF-8 JSON/, 'json');
    await expectFormatError({ 'model.safetensors': rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4) }, /needs 8 bytes but data_offsets span 4/, 'size');
  });

  it('names overlapping and misaligned offsets', async () => {
    const overlap = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
    await expectFormatError({ 'model.safetensors': rawFile(overlap, 12) }, /tensors "a" and "b" overlap/, 'overlap');
    const mis = '{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}';
    await expectFormatError({ 'model.safetensors': rawFile(mis, 6) }, /misaligned data: tensor "b" starts at data offset 2/, 'misaligned');
  });

  it('names the tensor and dtype it cannot convert', async () => {
    const root = await put('i8', { 'model.safetensors': rawFile('{"q":{"dtype":"I8","shape":[4],"data_offsets":[0,4]},"f":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[4,8]}}', 8) });
    const set = await openSafetensors(dirFileSource(root));
    await expect(set.readAll('q')).rejects.toThrow(/Tensor "q" in model.safetensors has dtype I8/);
    await expect(set.readAll('f')).rejects.toThrow(ModelFormatError);
    await expect(set.readAll('missing')).rejects.toThrow(/Tensor "missing" is missing/);
  });
});
