// Engine status as the UI sees it (rune class): GPU probe result or why WebGPU is missing, the
// loaded model with its load progress, and the stats of the last answer. Wraps the EngineClient;
// keeps the loaded model in step with the selected model id and the library's ready models.
import { untrack } from 'svelte';
import { EngineClient, type GenerationStream } from '../lib/engine-client';
import {
  GpuDeviceLostError,
  WebGpuUnavailableError,
  WorkerCrashedError,
  isAbortError,
  type ChatTurn,
  type GenerateStats,
  type GpuInfo,
  type LoadedModelInfo,
  type ProgressPhase,
  type SamplingParams,
} from '../../workers/protocol';
import { library } from './library.svelte';
import { settings } from './settings.svelte';

export interface LoadProgress {
  modelId: string;
  phase: ProgressPhase | 'start';
  done: number;
  total: number;
}

class EngineState {
  readonly client = new EngineClient();
  probe = $state<'probing' | 'ok' | 'unavailable' | 'failed'>('probing');
  gpu = $state<GpuInfo | null>(null);
  /** Why WebGPU is unavailable or the probe failed (actionable text from the engine). */
  probeMessage = $state<string | null>(null);
  model = $state<LoadedModelInfo | null>(null);
  loading = $state<LoadProgress | null>(null);
  loadError = $state<{ modelId: string; message: string } | null>(null);
  last = $state<GenerateStats | null>(null);
  private loadCtl: AbortController | null = null;

  async runProbe(): Promise<void> {
    this.probe = 'probing';
    try {
      this.gpu = await this.client.probe();
      this.probe = 'ok';
      this.probeMessage = null;
    } catch (err) {
      this.probe = err instanceof WebGpuUnavailableError ? 'unavailable' : 'failed';
      this.probeMessage = err instanceof Error ? err.message : String(err);
    }
  }

  /** Loads a model by catalogue id (replacing the loaded one). Errors are kept for display. */
  async load(modelId: string): Promise<void> {
    if (this.model?.modelId === modelId || this.loading?.modelId === modelId) return;
    this.loadCtl?.abort();
    const ctl = (this.loadCtl = new AbortController());
    this.loading = { modelId, phase: 'start', done: 0, total: 1 };
    this.loadError = null;
    try {
      if (this.model) await this.client.unload();
      this.model = null;
      const model = await this.client.load(modelId, {
        signal: ctl.signal,
        onProgress: (phase, done, total) => {
          if (this.loadCtl === ctl) this.loading = { modelId, phase, done, total };
        },
      });
      if (this.loadCtl === ctl) this.model = model;
    } catch (err) {
      if (this.loadCtl === ctl && !isAbortError(err)) {
        this.loadError = { modelId, message: err instanceof Error ? err.message : String(err) };
      }
    } finally {
      if (this.loadCtl === ctl) {
        this.loading = null;
        this.loadCtl = null;
      }
    }
  }

  /** Tries the model that failed to load once more. */
  retryLoad(): void {
    const failed = this.loadError?.modelId;
    if (!failed) return;
    this.loadError = null;
    void this.load(failed);
  }

  async unload(): Promise<void> {
    this.loadCtl?.abort();
    this.model = null;
    await this.client.unload().catch(() => undefined);
  }

  generate(conversationId: string, messages: ChatTurn[], sampling: SamplingParams, signal: AbortSignal): GenerationStream {
    const stream = this.client.generate(conversationId, messages, sampling, { signal });
    stream.result.then(
      (r) => (this.last = r.stats),
      (err: unknown) => {
        // The worker (and the model in it) is gone: forget the model so `track` loads it again.
        if (err instanceof WorkerCrashedError || err instanceof GpuDeviceLostError) this.model = null;
      },
    );
    return stream;
  }

  /**
   * Keeps the engine in step with the selection: when the selected model is ready in the library,
   * load it; when it disappears from the library, unload it. Call once from the root component.
   */
  track(): () => void {
    return $effect.root(() => {
      $effect(() => {
        const id = settings.modelId;
        const ready = library.ready.some((i) => i.entry.id === id);
        // Nothing chosen yet (or the chosen model was deleted): pick the first installed one.
        if (!ready && library.loaded && library.ready.length > 0) {
          untrack(() => settings.setModel(library.ready[0].entry.id));
          return;
        }
        if (this.probe !== 'ok') return;
        if (id && ready && this.model?.modelId !== id && this.loadError?.modelId !== id) untrack(() => void this.load(id));
        if (this.model && !library.ready.some((i) => i.entry.id === this.model!.modelId)) untrack(() => void this.unload());
      });
    });
  }
}

export const engine = new EngineState();
