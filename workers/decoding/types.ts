// What the decoding loop needs from a causal language model (workers/models/llama implements it):
// run a few tokens after the committed KV cache, and either pick the next token on the GPU (one
// u32 read back) or return logits (parity tools, debugging).
import type { KvCache } from './kv-cache';

/** How the next token is chosen from the last row's logits. */
export type TokenSelection =
  | { kind: 'greedy' }
  /** u: a uniform random number in [0, 1) that picks from the top-k / top-p distribution. */
  | { kind: 'sample'; temperature: number; topK: number; topP: number; u: number };

export interface SelectOptions {
  select: TokenSelection;
  /** HF repetition penalty (1 = off): logits of `history` ids are divided (positive) or multiplied (negative) by it. */
  penalty: number;
  /** Distinct ids seen so far (prompt + generated); only read when penalty != 1. */
  history: readonly number[];
}

export interface CausalLM {
  readonly vocabSize: number;
  readonly kv: KvCache;
  /** Most tokens one forward pass takes (prefill runs in chunks of this many). */
  readonly maxChunk: number;
  /**
   * Runs `ids` at the next cache slots (positions continue the committed sequence) and commits
   * them. With `select`: picks the next token from the last row and returns it. Without: records
   * and submits the pass, reads nothing back and returns null.
   */
  step(ids: readonly number[], select: SelectOptions | null): Promise<number | null>;
  /**
   * Optional pipelined decode: records and submits a one-token pass whose input is the token the
   * previous pass selected (kept on the GPU; `input` when the CPU already knows it), commits it
   * (pending until resolved, see KvCache.commitPending) and returns a promise of the token this
   * pass selects. Several chained passes can be in flight, so the CPU records the next pass
   * while the GPU runs the current one. No repetition penalty here (the history would lag).
   */
  submitChained?(select: TokenSelection, input?: number): Promise<number>;
  /** Like step(), but reads back f32 logits of the last row ([V]) or of all rows ([T, V]). */
  stepLogits(ids: readonly number[], rows: 'last' | 'all'): Promise<Float32Array>;
}
