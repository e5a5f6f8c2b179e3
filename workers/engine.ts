// Engine: probe / load / generate / unload / stats. Runs in the inference worker and, unchanged,
// in Node (navigator.gpu from the `webgpu` package) for tests and benchmarks. Platform specifics
// sit behind two small interfaces: where the GPU comes from, and where installed models live
// (ModelSource: IndexedDB in the browser by default, files under Node).
// One GPU context per loaded model: unload destroys it (every buffer with it). A lost device is
// reported as GpuDeviceLostError, and the next generate() reloads the model first.
import type { EngineApi, GenerateChunk, GenerateOutcome, ProgressFn } from './engine-api';
import { generateText } from './decoding/generate-text';
import { createChatTokenizer, type ChatTokenizer } from './decoding/tokenizer';
import { createGpuContext, type GpuContext } from './gpu/context';
import { architectureOf, loadLanguageModel, type LoadedLM } from './models/index';
import type { ChatTurn, GenerateStats, GpuInfo, LoadedModelInfo, SamplingParams } from './protocol/engine';
import { AbortedError, GpuDeviceLostError, LumenError, ModelNotInstalledError, WebGpuUnavailableError } from './protocol/errors';
import catalogue from './storage/catalogue.json';
import { openFileSource, openModelDB } from './storage/model-db';
import { requireManifest, type TensorStore } from './storage/tensor-store';
import { IdbTensorStore } from './storage/tensor-store-idb';
import type { FileSource } from './storage/types';
import { Idefics3Session } from './vision/session';

/** Where installed models are read from. */
export interface ModelSource {
  /** The engine-format tensor store (manifests + weights). */
  tensorStore(): Promise<TensorStore>;
  /** The model's raw repository files (tokenizer.json, tokenizer_config.json, ...). */
  files(modelId: string): Promise<FileSource>;
}

/** Browser default: the storage worker's IndexedDB database. */
export const indexedDbModelSource: ModelSource = {
  async tensorStore() {
    return new IdbTensorStore(await openModelDB());
  },
  files: openFileSource,
};

export interface EngineOptions {
  /** Where the WebGPU entry point comes from (default navigator.gpu). */
  gpu?: () => Promise<GPU | undefined | null>;
  source?: ModelSource;
  /** KV cache slots per model (default 2048). */
  contextTokens?: number;
}

interface Loaded {
  info: LoadedModelInfo;
  ctx: GpuContext;
  lm: LoadedLM;
  tokenizer: ChatTokenizer;
  /** Idefics3 (SmolVLM): vision tower + photo cache + the generate path for image parts (workers/vision). */
  vlm?: Idefics3Session;
}

async function readOptional(files: FileSource, path: string): Promise<Uint8Array | null> {
  const list = await files.list();
  if (!list.includes(path)) return null;
  return files.read(path, 0, await files.size(path));
}

async function readRequired(files: FileSource, path: string, modelId: string): Promise<Uint8Array> {
  const bytes = await readOptional(files, path);
  if (!bytes) throw new ModelNotInstalledError(`Model "${modelId}" is missing ${path}. Download it again from the Library.`);
  return bytes;
}

function displayName(modelId: string): string {
  const entry = (catalogue.models as { id: string; name: string }[]).find((m) => m.id === modelId);
  return entry?.name ?? modelId;
}

export class Engine implements EngineApi {
  private gpu: GpuInfo | null = null;
  private loaded: Loaded | null = null;
  /** Model to bring back on the next call after a device loss. */
  private reloadId: string | null = null;
  private last: GenerateStats | null = null;
  private busy = false;
  private readonly source: ModelSource;
  private readonly getGpu: () => Promise<GPU | undefined | null>;

  constructor(private readonly opts: EngineOptions = {}) {
    this.source = opts.source ?? indexedDbModelSource;
    this.getGpu = opts.gpu ?? (async () => (globalThis.navigator as Navigator | undefined)?.gpu);
  }

  async probe(): Promise<GpuInfo> {
    const gpu = await this.getGpu();
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

  async load(modelId: string, onProgress: ProgressFn, signal: AbortSignal): Promise<LoadedModelInfo> {
    if (this.loaded?.info.modelId === modelId && !this.loaded.ctx.isLost()) return this.loaded.info;
    await this.unload();
    const store = await this.source.tensorStore();
    const manifest = await requireManifest(store, modelId);
    const arch = architectureOf(manifest);
    const files = await this.source.files(modelId);
    const tokenizer = createChatTokenizer(
      await readRequired(files, 'tokenizer.json', modelId),
      await readRequired(files, 'tokenizer_config.json', modelId),
      await readOptional(files, 'generation_config.json'),
      await readOptional(files, 'chat_template.json'),
    );
    if (signal.aborted) throw new AbortedError('Loading was cancelled.');
    const ctx = await createGpuContext(await this.getGpu(), {
      onLost: () => {
        // Keep the id so the next call reloads; the in-flight call fails with GpuDeviceLostError.
        if (this.loaded?.ctx === ctx) {
          this.reloadId = modelId;
          this.loaded = null;
        }
      },
    });
    let lm: LoadedLM;
    let vlm: Idefics3Session | undefined;
    try {
      if (manifest.config.kind === 'idefics3') {
        vlm = await Idefics3Session.load(ctx, store, manifest, files, onProgress, signal, { capacity: this.opts.contextTokens });
        lm = vlm.lm;
      } else {
        lm = await loadLanguageModel(ctx, store, manifest, (done, total) => onProgress('weights', done, total), signal, { capacity: this.opts.contextTokens });
      }
      onProgress('compile', 1, 1);
      await ctx.device.queue.onSubmittedWorkDone();
    } catch (err) {
      ctx.destroy();
      throw err;
    }
    const info: LoadedModelInfo = {
      modelId,
      displayName: displayName(modelId),
      quantization: manifest.quantization.linear,
      gpuBytes: vlm ? vlm.gpuBytes : lm.gpuBytes,
      vision: arch.vision || vlm !== undefined,
    };
    this.loaded = { info, ctx, lm, tokenizer, vlm };
    this.reloadId = null;
    return info;
  }

  async *generate(
    _conversationId: string,
    messages: ChatTurn[],
    sampling: SamplingParams,
    onProgress: ProgressFn,
    signal: AbortSignal,
  ): AsyncGenerator<GenerateChunk, GenerateOutcome> {
    if (this.busy) throw new LumenError('A reply is already being generated; wait for it or stop it first.');
    this.busy = true;
    try {
      if (!this.loaded && this.reloadId) await this.load(this.reloadId, onProgress, signal);
      const m = this.loaded;
      if (!m) throw new ModelNotInstalledError('No model is loaded. Pick a model in the Library first.');
      try {
        const outcome = m.vlm
          ? yield* m.vlm.generate(messages, sampling, onProgress, signal)
          : yield* generateText(m.lm, m.tokenizer, messages, sampling, signal, (done, total) => onProgress('prefill', done, total));
        this.last = outcome.stats;
        return outcome;
      } catch (err) {
        if (m.ctx.isLost()) {
          throw new GpuDeviceLostError('The GPU device was lost while answering. Send the message again: the model will be reloaded.');
        }
        throw err;
      }
    } finally {
      this.busy = false;
    }
  }

  async unload(): Promise<void> {
    const m = this.loaded;
    this.loaded = null;
    this.reloadId = null;
    if (!m) return;
    m.vlm?.destroy();
    m.lm.destroy();
    m.ctx.destroy();
  }

  stats(): { model: LoadedModelInfo | null; last: GenerateStats | null; gpu: GpuInfo | null } {
    return { model: this.loaded?.info ?? null, last: this.last, gpu: this.gpu };
  }
}
