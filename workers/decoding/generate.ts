// The token loop: prefill (in chunks, re-using the KV cache's common prefix with the previous
// turn) then decode one token per forward pass, as an async iterable of token ids. Stops on an
// EOS id, maxNewTokens, or the AbortSignal; the iterator's return value says why, with stats.
// Text (detokenization, stop strings) is layered on top in generate-text.ts.
import type { GenerateStats, SamplingParams } from '../protocol/engine';
import { ContextFullError } from './kv-cache';
import { Selector } from './sampling';
import { GenerationTimer } from './stats';
import type { CausalLM, SelectOptions } from './types';

export type FinishReason = 'stop' | 'length' | 'abort';

/** Chained decode passes in flight at once (pipelined path). */
export const PIPELINE_DEPTH = 2;
/** The model keeps this many readback buffers in its ring, so no more passes may be in flight. */
export const MAX_PIPELINE_DEPTH = 4;

export interface TokenOutcome {
  finishReason: FinishReason;
  /** Generated ids (including the EOS id when it ended generation). */
  tokens: number[];
  stats: GenerateStats;
}

export interface TokenLoopOptions {
  sampling: SamplingParams;
  eosIds: ReadonlySet<number>;
  signal: AbortSignal;
  /** Prefill progress in prompt tokens. */
  onPrefill?: (done: number, total: number) => void;
  /** Set by the caller to add vision-encoder time to the stats. */
  timer?: GenerationTimer;
  /** Chained passes in flight on the pipelined path (default PIPELINE_DEPTH; 1 = no overlap). */
  pipelineDepth?: number;
}

export async function* generateTokens(lm: CausalLM, promptIds: readonly number[], opts: TokenLoopOptions): AsyncGenerator<number, TokenOutcome> {
  if (promptIds.length === 0) throw new RangeError('generateTokens: empty prompt');
  const selector = new Selector(opts.sampling);
  const timer = opts.timer ?? new GenerationTimer();
  const tokens: number[] = [];
  const history = new Set<number>(opts.sampling.repetitionPenalty !== 1 ? promptIds : []);
  const done = (finishReason: FinishReason): TokenOutcome => ({ finishReason, tokens, stats: timer.stats() });
  const selectOpts = (): SelectOptions => ({ select: selector.selection(), penalty: opts.sampling.repetitionPenalty, history: [...history] });

  // Re-use the cached prefix; at least the last prompt token must run to produce logits.
  const kv = lm.kv;
  const reuse = Math.min(kv.commonPrefix(promptIds), promptIds.length - 1);
  kv.truncate(reuse);
  if (promptIds.length > kv.capacity) {
    throw new ContextFullError(`The prompt has ${promptIds.length} tokens but this model holds ${kv.capacity}: start a new conversation or shorten the message.`);
  }
  const maxNew = Math.min(opts.sampling.maxNewTokens, kv.capacity - promptIds.length + 1);

  // Prefill: all chunks but the last are recorded without a readback.
  if (opts.signal.aborted) return done('abort');
  let pos = reuse;
  let next: number | null = null;
  while (pos < promptIds.length) {
    const end = Math.min(promptIds.length, pos + lm.maxChunk);
    const last = end === promptIds.length;
    next = await lm.step(promptIds.slice(pos, end), last ? selectOpts() : null);
    pos = end;
    opts.onPrefill?.(pos - reuse, promptIds.length - reuse);
    if (!last && opts.signal.aborted) return done('abort');
  }
  timer.prefillDone(promptIds.length - reuse);
  if (next === null) throw new Error('generateTokens: prefill produced no token');

  const chained = lm.submitChained && opts.sampling.repetitionPenalty === 1 ? lm.submitChained.bind(lm) : null;
  if (!chained) {
    for (;;) {
      tokens.push(next);
      history.add(next);
      yield next;
      if (opts.eosIds.has(next)) return done('stop');
      if (tokens.length >= maxNew) return done('length');
      if (opts.signal.aborted) return done('abort');
      const picked: number | null = await lm.step([next], selectOpts());
      if (picked === null) throw new Error('generateTokens: decode step produced no token');
      timer.step(1);
      next = picked;
    }
  }

  // Pipelined: up to DEPTH passes in flight; each takes the previous pass's token on the GPU, so
  // the CPU records pass n+1 while the GPU runs pass n. A pass submitted past the end (EOS,
  // abort) only costs GPU time: its input's KV entry is valid, its output is dropped.
  const inflight: Promise<number>[] = [];
  const depth = Math.max(1, Math.min(opts.pipelineDepth ?? PIPELINE_DEPTH, MAX_PIPELINE_DEPTH));
  let input: number | undefined = next;
  let reason: FinishReason | null = null;
  tokens.push(next);
  yield next;
  if (opts.eosIds.has(next)) return done('stop');
  if (tokens.length >= maxNew) return done('length');
  try {
    for (;;) {
      while (reason === null && inflight.length < depth && tokens.length + inflight.length < maxNew && !opts.signal.aborted) {
        inflight.push(chained(selector.selection(), input));
        input = undefined;
      }
      const p = inflight.shift();
      if (p === undefined) return done(reason ?? (opts.signal.aborted ? 'abort' : 'length'));
      const t = await p;
      lm.kv.resolvePending(t); // the input of the next pass, if one was submitted
      if (reason !== null) continue; // draining after the end
      timer.step(1);
      tokens.push(t);
      yield t;
      if (opts.eosIds.has(t)) reason = 'stop';
      else if (tokens.length >= maxNew) reason = 'length';
      else if (opts.signal.aborted) reason = 'abort';
    }
  } finally {
    // The consumer may stop early (stop string): wait for passes still in flight so their
    // readback buffers are released and the cache bookkeeping stays complete.
    for (const p of inflight.splice(0)) lm.kv.resolvePending(await p.catch(() => -1));
  }
}
