// Reads the oracle's reference outputs (reference.safetensors written by make_reference.py):
// prompt ids, prompt logits, 32 greedy ids and the logits that chose each of them. A small
// self-contained reader (F32 / I32 only) so the parity runner does not depend on the weight
// reader it is partly testing.
import { readFile } from 'node:fs/promises';

export interface Reference {
  promptIds: number[];
  /** [rows, V]: every prompt position (tiny fixtures) or only the last one. */
  promptLogits: Float32Array;
  promptRows: number;
  greedyIds: number[];
  /** [N, V]: stepLogits row i chose greedyIds[i]; row 0 is the last prompt position. */
  stepLogits: Float32Array;
  vocab: number;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export async function readReference(path: string): Promise<Reference> {
  const buf = await readFile(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, HeaderEntry>;
  const base = 8 + headerLen;
  const get = (name: string, dtype: 'F32' | 'I32'): { data: Float32Array | Int32Array; shape: number[] } => {
    const e = header[name];
    if (!e || e.dtype !== dtype) throw new Error(`${path}: tensor ${name} missing or not ${dtype}`);
    const bytes = buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1]);
    const copy = new Uint8Array(bytes); // aligned copy
    return { data: dtype === 'F32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer), shape: e.shape };
  };
  const prompt = get('prompt_ids', 'I32');
  const pl = get('prompt_logits', 'F32');
  const greedy = get('greedy_ids', 'I32');
  const sl = get('step_logits', 'F32');
  return {
    promptIds: Array.from(prompt.data),
    promptLogits: pl.data as Float32Array,
    promptRows: pl.shape[0],
    greedyIds: Array.from(greedy.data),
    stepLogits: sl.data as Float32Array,
    vocab: sl.shape[1],
  };
}

/** max |a - b| and mean |a - b| over equal-length arrays. */
export function logitError(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`logitError: ${a.length} vs ${b.length} values`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max || Number.isNaN(d)) max = Number.isNaN(d) ? Infinity : d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}
