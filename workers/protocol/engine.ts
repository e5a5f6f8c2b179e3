// Typed messages between the UI (web/lib/engine-client.ts) and the inference worker
// (workers/inference.worker.ts). Every request carries an id; every event answers one id.
// Imports nothing but the error codec.
import type { SerializedError } from './errors';

/** What the GPU probe found; shown in the UI's engine status. */
export interface GpuInfo {
  vendor: string;
  architecture: string;
  description: string;
  shaderF16: boolean;
  subgroups: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export type ContentPart =
  | { type: 'text'; text: string }
  /** `id` is stable per photo (content hash) so the engine never encodes the same photo twice. */
  | { type: 'image'; id: string; blob: Blob };

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: ContentPart[];
}

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  maxNewTokens: number;
  stop: string[];
  seed?: number;
}

export const defaultSampling: SamplingParams = {
  temperature: 0,
  topK: 40,
  topP: 0.95,
  repetitionPenalty: 1.0,
  maxNewTokens: 512,
  stop: [],
};

export interface GenerateStats {
  promptTokens: number;
  visualTokens: number;
  generatedTokens: number;
  /** Vision-encoder time for the photos encoded by this request. */
  encodeMs: number;
  timeToFirstTokenMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Tokens accepted per decoding step (1 without speculative decoding). */
  tokensPerStep: number;
}

export interface LoadedModelInfo {
  modelId: string;
  displayName: string;
  /** Weight format on the GPU, e.g. "q4", "q8", "f32". */
  quantization: string;
  gpuBytes: number;
  /** Whether the model takes images. */
  vision: boolean;
}

export type EngineRequest =
  | { kind: 'probe' }
  | { kind: 'load'; modelId: string }
  | { kind: 'generate'; conversationId: string; messages: ChatTurn[]; sampling: SamplingParams }
  | { kind: 'abort'; target: number }
  | { kind: 'unload' }
  | { kind: 'stats' };

export type EngineResult =
  | { kind: 'probe'; gpu: GpuInfo }
  | { kind: 'load'; model: LoadedModelInfo }
  | { kind: 'generate'; text: string; finishReason: 'stop' | 'length' | 'abort'; stats: GenerateStats }
  | { kind: 'abort' }
  | { kind: 'unload' }
  | { kind: 'stats'; model: LoadedModelInfo | null; last: GenerateStats | null; gpu: GpuInfo | null };

export type ProgressPhase = 'weights' | 'compile' | 'encode-image' | 'prefill';

export type EngineEvent =
  | { id: number; kind: 'progress'; phase: ProgressPhase; done: number; total: number }
  /** A streamed piece of the answer (already detokenized, appended to the previous ones). */
  | { id: number; kind: 'token'; text: string }
  | { id: number; kind: 'result'; result: EngineResult }
  | { id: number; kind: 'error'; error: SerializedError };

export interface EngineMessage {
  id: number;
  request: EngineRequest;
}

/** Exhaustiveness guard for switches over the unions above. */
export function assertNever(x: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(x)}`);
}
