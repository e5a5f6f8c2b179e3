// Architecture registry: which forward implementation runs an installed model, chosen from its
// normalized config. Llama and Qwen2 run on workers/models/llama; Idefics3 (SmolVLM) runs its
// language model there too (text-only until the vision tower lands: `vision: false`).
import type { CausalLM } from '../decoding/types';
import type { GpuContext } from '../gpu/context';
import { ModelFormatError } from '../protocol/errors';
import type { ModelManifest, TensorStore } from '../storage/tensor-store';
import { LlamaModel, type LlamaModelOptions } from './llama/model';

export interface LoadedLM extends CausalLM {
  readonly gpuBytes: number;
  destroy(): void;
}

export interface ArchitectureInfo {
  /** Forward implementation that runs it. */
  family: 'llama';
  /** Whether images can be passed to this build's forward. */
  vision: boolean;
}

export function architectureOf(manifest: ModelManifest): ArchitectureInfo {
  const c = manifest.config;
  if (c.text.arch !== 'llama' && c.text.arch !== 'qwen2') {
    throw new ModelFormatError(`Model "${manifest.modelId}" has a ${String(c.text.arch)} language model, which this build cannot run.`);
  }
  return { family: 'llama', vision: false };
}

export async function loadLanguageModel(
  ctx: GpuContext,
  store: TensorStore,
  manifest: ModelManifest,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
  opts?: LlamaModelOptions,
): Promise<LoadedLM> {
  architectureOf(manifest);
  return LlamaModel.load(ctx, store, manifest.modelId, onProgress, signal, opts);
}
