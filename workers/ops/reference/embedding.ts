// CPU reference for the embedding gather: out[t, :] = table[ids[t], :] (zeros for ids ≥ vocab).
// Quantized tables are compared through dequantize(packed) (workers/storage/quant.ts).

export function embeddingRef(table: Float32Array, vocab: number, hidden: number, ids: ArrayLike<number>): Float32Array {
  if (table.length !== vocab * hidden) throw new RangeError(`embeddingRef: table has ${table.length} values, need ${vocab * hidden}`);
  const out = new Float32Array(ids.length * hidden);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (id < vocab) out.set(table.subarray(id * hidden, (id + 1) * hidden), t * hidden);
  }
  return out;
}
