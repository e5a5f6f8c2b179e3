// The Engine's public surface, shared by the worker entry and by Node tests/benchmarks.
// Every long call takes an AbortSignal; generation streams as an async iterable.
import type { ChatTurn, GenerateStats, GpuInfo, LoadedModelInfo, ProgressPhase, SamplingParams } from './protocol/engine';

export type ProgressFn = (phase: ProgressPhase, done: number, total: number) => void;

export interface GenerateChunk {
  /** Detokenized text appended since the previous chunk (may be empty while a multi-byte char is pending). */
  text: string;
}

export interface GenerateOutcome {
  text: string;
  finishReason: 'stop' | 'length' | 'abort';
  stats: GenerateStats;
}

export interface EngineApi {
  probe(): Promise<GpuInfo>;
  load(modelId: string, onProgress: ProgressFn, signal: AbortSignal): Promise<LoadedModelInfo>;
  /** Streams the answer; the iterator's return value (done: true) carries the outcome. */
  generate(
    conversationId: string,
    messages: ChatTurn[],
    sampling: SamplingParams,
    onProgress: ProgressFn,
    signal: AbortSignal,
  ): AsyncGenerator<GenerateChunk, GenerateOutcome>;
  unload(): Promise<void>;
  stats(): { model: LoadedModelInfo | null; last: GenerateStats | null; gpu: GpuInfo | null };
}
