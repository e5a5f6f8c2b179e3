// CPU reference for every attention mode the GPU kernel family supports, on canonical layouts:
//   q   [B, nQ, nHeads, d]         (query rows, heads contiguous)
//   k,v [B, nKv, nKeysCap, d]      (the KV-cache layout; nKeysCap >= keys that are visible)
//   out [B, nQ, nHeads, d]
// Masks (query i of this call, key slot j):
//   causal: j <= start + i                          (prefill at positions start.., decode = nQ 1)
//   tree:   j < L, or j = L + t with bit t of mask[i] (nodes sit in slots L..L+nQ-1; a node's own
//           bit must be set by the caller; mask is u32 words, `words` per node, LSB first)
//   full:   j < nKeys                               (vision encoder, no mask)
// GQA: head h reads kv head floor(h / (nHeads / nKv)). Softmax scale 1/sqrt(d) unless given.
// A query that sees no key outputs zeros.

export type AttentionMode = 'causal' | 'tree' | 'full';

export interface AttentionRefArgs {
  mode: AttentionMode;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  batch: number;
  nQ: number;
  nHeads: number;
  nKv: number;
  headDim: number;
  /** Capacity of the key axis in k/v (max_seq for a cache). */
  keyCap: number;
  /** causal: position of query 0. */
  start?: number;
  /** tree: committed cache length L. */
  committed?: number;
  /** tree: ancestor bitmask, u32[nQ * words]. */
  treeMask?: Uint32Array;
  /** full: number of keys. */
  nKeys?: number;
  scale?: number;
}

/** Whether query i may see key j. */
export function visible(a: AttentionRefArgs, i: number, j: number): boolean {
  switch (a.mode) {
    case 'causal':
      return j <= (a.start ?? 0) + i;
    case 'full':
      return j < (a.nKeys ?? a.keyCap);
    case 'tree': {
      const L = a.committed ?? 0;
      if (j < L) return true;
      const t = j - L;
      if (t >= a.nQ) return false;
      const words = Math.ceil(a.nQ / 32);
      return ((a.treeMask![i * words + (t >> 5)] >>> (t & 31)) & 1) === 1;
    }
  }
}

/** Number of key slots the mode can touch. */
export function keyCount(a: AttentionRefArgs): number {
  switch (a.mode) {
    case 'causal':
      return (a.start ?? 0) + a.nQ;
    case 'full':
      return a.nKeys ?? a.keyCap;
    case 'tree':
      return (a.committed ?? 0) + a.nQ;
  }
}

/** Attention probabilities P[b, h, i, j] (f64) for keys j < keyCount; masked entries are 0. */
export function attentionProbs(a: AttentionRefArgs): Float64Array {
  const { batch, nQ, nHeads, nKv, headDim: d, keyCap } = a;
  const nk = keyCount(a);
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const group = nHeads / nKv;
  const P = new Float64Array(batch * nHeads * nQ * nk);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < nQ; i++) {
        const base = ((b * nHeads + h) * nQ + i) * nk;
        const qo = ((b * nQ + i) * nHeads + h) * d;
        let m = -Infinity;
        for (let j = 0; j < nk; j++) {
          if (!visible(a, i, j)) {
            P[base + j] = -Infinity;
            continue;
          }
          const ko = ((b * nKv + kvh) * keyCap + j) * d;
          let s = 0;
          for (let c = 0; c < d; c++) s += a.q[qo + c] * a.k[ko + c];
          P[base + j] = s * scale;
          m = Math.max(m, s * scale);
        }
        let l = 0;
        for (let j = 0; j < nk; j++) {
          const e = m === -Infinity ? 0 : Math.exp(P[base + j] - m);
          P[base + j] = e;
          l += e;
        }
        for (let j = 0; j < nk; j++) P[base + j] = l > 0 ? P[base + j] / l : 0;
      }
    }
  }
  return P;
}

export function attentionRef(a: AttentionRefArgs): Float32Array {
  const { batch, nQ, nHeads, nKv, headDim: d, keyCap } = a;
  const nk = keyCount(a);
  const P = attentionProbs(a);
  const group = nHeads / nKv;
  const out = new Float32Array(batch * nQ * nHeads * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < nQ; i++) {
        const base = ((b * nHeads + h) * nQ + i) * nk;
        const oo = ((b * nQ + i) * nHeads + h) * d;
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j < nk; j++) {
            if (P[base + j] !== 0) acc += P[base + j] * a.v[((b * nKv + kvh) * keyCap + j) * d + c];
          }
          out[oo + c] = acc;
        }
      }
    }
  }
  return out;
}

/** HiRED score: attention each key receives, averaged over queries and heads. Out [B, nKeys]. */
export function keyScoresRef(a: AttentionRefArgs): Float32Array {
  const { batch, nQ, nHeads } = a;
  const nk = keyCount(a);
  const P = attentionProbs(a);
  const out = new Float32Array(batch * nk);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < nk; j++) {
      let s = 0;
      for (let h = 0; h < nHeads; h++) for (let i = 0; i < nQ; i++) s += P[((b * nHeads + h) * nQ + i) * nk + j];
      out[b * nk + j] = s / (nHeads * nQ);
    }
  }
  return out;
}

/** Build a tree ancestor mask from parent indices (parent[i] < i, -1 for a root). Includes self. */
export function treeMaskFromParents(parents: number[]): Uint32Array {
  const n = parents.length;
  const words = Math.ceil(n / 32);
  const mask = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) {
    for (let a = i; a >= 0; a = parents[a]) mask[i * words + (a >> 5)] |= 1 << (a & 31);
  }
  return mask;
}
