// CPU reference for rotary position embeddings, Hugging Face Llama convention ("rotate_half":
// element i pairs with i + d/2), and for the fused "RoPE + write K/V into the cache" op.
//
// The cos/sin table mirrors torch's float32 arithmetic: inv_freq = 1 / theta^(2i/d) rounded to
// f32, angle = f32(pos * inv_freq), then cos/sin of that f32 angle. The GPU op reads the same
// table (built on the CPU once), so parity with transformers does not depend on the GPU's sin/cos.

/** Table [maxPos, d]: row p holds cos(angle_i) for i < d/2, then sin(angle_i) for i < d/2. */
export function ropeTable(headDim: number, theta: number, maxPos: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  const t = new Float32Array(maxPos * headDim);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(p * inv[i]);
      t[p * headDim + i] = Math.cos(a);
      t[p * headDim + half + i] = Math.sin(a);
    }
  }
  return t;
}

/** Rotate one head vector in place-free form: out[i] = x[i] cos - x[i+h] sin; out[i+h] = x[i+h] cos + x[i] sin. */
export function rotate(x: Float32Array, xOff: number, out: Float32Array, oOff: number, table: Float32Array, pos: number, d: number): void {
  const half = d / 2;
  for (let i = 0; i < half; i++) {
    const c = table[pos * d + i];
    const s = table[pos * d + half + i];
    const a = x[xOff + i];
    const b = x[xOff + half + i];
    out[oOff + i] = a * c - b * s;
    out[oOff + half + i] = b * c + a * s;
  }
}

/** RoPE on x [T, nHeads, d] with positions[T]. */
export function ropeRef(x: Float32Array, positions: Uint32Array, nHeads: number, d: number, table: Float32Array): Float32Array {
  const T = positions.length;
  const out = new Float32Array(T * nHeads * d);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) rotate(x, (t * nHeads + h) * d, out, (t * nHeads + h) * d, table, positions[t], d);
  }
  return out;
}

/**
 * Fused op over a QKV row buffer qkv [T, (nHeads + 2 nKv) d] (Q heads, then K heads, then V heads):
 * returns rotated Q [T, nHeads, d] and writes rotated K and plain V into caches
 * kCache/vCache [nKv, maxSeq, d] at slot firstSlot + t.
 */
export function ropeKvWriteRef(
  qkv: Float32Array,
  positions: Uint32Array,
  nHeads: number,
  nKv: number,
  d: number,
  table: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  maxSeq: number,
  firstSlot: number,
): Float32Array {
  const T = positions.length;
  const row = (nHeads + 2 * nKv) * d;
  const q = new Float32Array(T * nHeads * d);
  for (let t = 0; t < T; t++) {
    const p = positions[t];
    for (let h = 0; h < nHeads; h++) rotate(qkv, t * row + h * d, q, (t * nHeads + h) * d, table, p, d);
    for (let h = 0; h < nKv; h++) {
      const slot = (h * maxSeq + firstSlot + t) * d;
      rotate(qkv, t * row + (nHeads + h) * d, kCache, slot, table, p, d);
      for (let i = 0; i < d; i++) vCache[slot + i] = qkv[t * row + (nHeads + nKv + h) * d + i];
    }
  }
  return q;
}
