// Engine: probe / load / generate / abort / unload / stats. Runs in the inference worker and,
// unchanged, in Node (navigator.gpu from the `webgpu` package) for tests and benchmarks.
// This first version only probes the GPU; models are wired in by workers/models + decoding.
import type { EngineApi, GenerateChunk, GenerateOutcome, ProgressFn } from './engine-api';
import type { ChatTurn, GenerateStats, GpuInfo, LoadedModelInfo, SamplingParams } from './protocol/engine';
import { ModelNotInstalledError, WebGpuUnavailableError } from './protocol/errors';

export class Engine implements EngineApi {
  private gpu: GpuInfo | null = null;

  async probe(): Promise<GpuInfo> {
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) throw new WebGpuUnavailableError('This browser does not expose WebGPU. Use a recent Chrome, Edge or Safari 26+, and enable hardware acceleration.');
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new WebGpuUnavailableError('WebGPU is present but no GPU adapter was granted. Enable hardware acceleration or update your graphics driver.');
    const info = adapter.info;
    this.gpu = {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      shaderF16: adapter.features.has('shader-f16'),
      subgroups: adapter.features.has('subgroups'),
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    };
    return this.gpu;
  }

  async load(modelId: string, _onProgress: ProgressFn, _signal: AbortSignal): Promise<LoadedModelInfo> {
    throw new ModelNotInstalledError(`Model "${modelId}" cannot be run yet: this build's engine has no model support.`);
  }

  // eslint-disable-next-line require-yield
  async *generate(
    _conversationId: string,
    _messages: ChatTurn[],
    _sampling: SamplingParams,
    _onProgress: ProgressFn,
    _signal: AbortSignal,
  ): AsyncGenerator<GenerateChunk, GenerateOutcome> {
    throw new ModelNotInstalledError('No model is loaded.');
  }

  async unload(): Promise<void> {}

  stats(): { model: LoadedModelInfo | null; last: GenerateStats | null; gpu: GpuInfo | null } {
    return { model: null, last: null, gpu: this.gpu };
  }
}
