// CPU reference for on-GPU token selection: argmax per row, and temperature / top-k / top-p
// sampling with a repetition penalty, driven by a caller-supplied uniform number u in [0, 1).
//
// Sampling semantics (same order as transformers' logits processors):
//   1. repetition penalty over the distinct tokens in the history: x < 0 ? x * p : x / p
//   2. temperature: x / T (f32 arithmetic, as the GPU does it)
//   3. top-k: keep the k largest (ties: lower token id first). k = 0 means "no top-k", but the
//      GPU keeps at most SAMPLE_MAX_K candidates, so k is clamped to that: top-p alone then acts
//      on the SAMPLE_MAX_K most likely tokens (documented limitation; the tail beyond them is
//      negligible for p < 1 on language-model distributions, and is exactly what is sampled).
//   4. softmax over the kept candidates; top-p keeps a candidate while the probability mass of
//      the candidates ranked above it is < p (so at least one is kept), like TopPLogitsWarper.
//   5. r = u * (kept mass); the token is the first kept candidate whose cumulative mass > r.

export const SAMPLE_MAX_K = 128;

/** Index of the largest value per row (first one on ties; NaN never wins). x [rows, n]. */
export function argmaxRef(x: Float32Array, rows: number, n: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = -Infinity;
    let bi = 0;
    for (let i = 0; i < n; i++) {
      const v = x[r * n + i];
      if (v > best) {
        best = v;
        bi = i;
      }
    }
    out[r] = bi;
  }
  return out;
}

export interface SampleParams {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
}

/** Penalized, temperature-scaled logits (f32), as the first GPU pass writes them. */
export function prepareLogitsRef(logits: Float32Array, history: Uint32Array, p: SampleParams): Float32Array {
  const x = new Float32Array(logits.length);
  const temp = p.temperature;
  for (let i = 0; i < logits.length; i++) x[i] = Math.fround(logits[i] / temp);
  for (const t of history) {
    if (t >= logits.length) continue;
    const v = logits[t];
    const pen = Math.fround(v < 0 ? Math.fround(v * p.repetitionPenalty) : Math.fround(v / p.repetitionPenalty));
    x[t] = Math.fround(pen / temp);
  }
  return x;
}

/** Sorted candidates (value desc, id asc) after top-k, with their kept probabilities. */
export function candidatesRef(logits: Float32Array, history: Uint32Array, p: SampleParams): { ids: number[]; probs: number[] } {
  const x = prepareLogitsRef(logits, history, p);
  const k = Math.min(p.topK > 0 ? p.topK : SAMPLE_MAX_K, SAMPLE_MAX_K, x.length);
  const order = Array.from(x.keys()).sort((a, b) => (x[b] !== x[a] ? (x[b] > x[a] ? 1 : -1) : a - b));
  const ids = order.slice(0, k);
  const m = x[ids[0]];
  const e = ids.map((i) => Math.exp(x[i] - m));
  const z = e.reduce((s, v) => s + v, 0);
  const probs = e.map((v) => v / z);
  let keep = 0;
  let mass = 0;
  while (keep < ids.length && (keep === 0 || mass < p.topP)) mass += probs[keep++];
  return { ids: ids.slice(0, keep), probs: probs.slice(0, keep) };
}

export function sampleRef(logits: Float32Array, history: Uint32Array, p: SampleParams, u: number): number {
  const { ids, probs } = candidatesRef(logits, history, p);
  const total = probs.reduce((s, v) => s + v, 0);
  const r = u * total;
  let c = 0;
  for (let i = 0; i < ids.length; i++) {
    c += probs[i];
    if (c > r) return ids[i];
  }
  return ids[ids.length - 1];
}
