// Text generation over the token loop: chat template -> prompt ids -> tokens -> streamed text
// pieces (incremental detokenization that never splits a character, stop strings held back and
// cut). EOS ids never reach the text. The iterator's return value is the engine's outcome.
import type { GenerateChunk, GenerateOutcome } from '../engine-api';
import type { ChatTurn, SamplingParams } from '../protocol/engine';
import { IncrementalDetokenizer } from './detokenizer';
import { generateTokens } from './generate';
import { GenerationTimer } from './stats';
import { StopStringMatcher } from './stop-strings';
import type { ChatTokenizer } from './tokenizer';
import type { CausalLM } from './types';

export async function* generateText(
  lm: CausalLM,
  tokenizer: ChatTokenizer,
  messages: readonly ChatTurn[],
  sampling: SamplingParams,
  signal: AbortSignal,
  onPrefill?: (done: number, total: number) => void,
): AsyncGenerator<GenerateChunk, GenerateOutcome> {
  const promptIds = tokenizer.encodeChat(messages);
  const detok = new IncrementalDetokenizer((ids) => tokenizer.decode(ids));
  const stops = new StopStringMatcher(sampling.stop);
  let text = '';
  const timer = new GenerationTimer();
  const it = generateTokens(lm, promptIds, { sampling, eosIds: tokenizer.eosIds, signal, onPrefill, timer });
  for (;;) {
    const step = await it.next();
    if (step.done) {
      const tail = stops.push(detok.flush());
      const rest = tail.emit + (tail.stopped ? '' : stops.flush());
      text += rest;
      if (rest) yield { text: rest };
      const finishReason = tail.stopped ? 'stop' : step.value.finishReason;
      return { text, finishReason, stats: step.value.stats };
    }
    if (tokenizer.eosIds.has(step.value)) continue;
    const r = stops.push(detok.push(step.value));
    if (r.emit) {
      text += r.emit;
      yield { text: r.emit };
    }
    if (r.stopped) {
      const stats = timer.stats();
      await it.return({ finishReason: 'stop', tokens: [], stats });
      return { text, finishReason: 'stop', stats };
    }
  }
}
