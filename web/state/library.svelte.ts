// Model library state (rune class): catalogue entries with their download/install state and the
// storage estimate, kept current by the storage worker's state broadcasts. `entries`, `ready`
// and `estimate` are what the rest of the app (chat, engine status) reads; the methods are the
// actions of the Library panel. Errors of an action are kept per model in `errors` for display.
// The bundled demo model (served by the app itself) is installed automatically on first start,
// so a fresh install can answer without a download; once the user deletes it, it stays deleted.
import type { CatalogueEntry, ModelState, StorageEstimate } from '../../workers/protocol';
import { LibraryClient } from '../lib/library-client';

/** How the demo model is labelled wherever it is named (picker, library card, empty state). */
export const DEMO_LABEL = 'Demo model — understands simple synthetic shapes only; for real photos download SmolVLM';

/** localStorage flag: the user deleted the bundled demo model, so it is not installed again. */
const KEY_DEMO_REMOVED = 'lumen.demoRemoved';

export interface LibraryItem {
  entry: CatalogueEntry;
  state: ModelState;
}

class LibraryState {
  entries = $state<LibraryItem[]>([]);
  estimate = $state<StorageEstimate | null>(null);
  readonly ready = $derived(this.entries.filter((i) => i.state.status === 'ready'));
  /** True once the catalogue and stored states were read. */
  loaded = $state(false);
  /** Last failure of the library itself (not of one model), e.g. the worker could not start. */
  failure = $state<string | null>(null);

  private client: LibraryClient | null = null;
  private initPromise: Promise<void> | null = null;

  constructor() {
    // The chat reads `ready` from the start, so the catalogue is loaded as soon as the app runs.
    if (typeof window !== 'undefined' && typeof Worker !== 'undefined') queueMicrotask(() => void this.init());
  }

  /** Starts the storage worker and reads the catalogue; safe to call repeatedly. */
  init(): Promise<void> {
    this.initPromise ??= this.load().catch((err: unknown) => {
      this.initPromise = null;
      this.failure = err instanceof Error ? err.message : String(err);
    });
    return this.initPromise;
  }

  private get api(): LibraryClient {
    this.client ??= new LibraryClient(
      (s) => this.apply(s),
      () => void this.refreshEstimate().catch(() => {}),
    );
    return this.client;
  }

  private async load(): Promise<void> {
    const res = await this.api.request({ kind: 'list' });
    const states = new Map((res.states ?? []).map((s) => [s.id, s]));
    this.entries = (res.entries ?? []).map((entry) => ({ entry, state: states.get(entry.id)! }));
    this.estimate = res.estimate ?? null;
    this.failure = null;
    this.loaded = true;
    void this.autoInstallBundled();
  }

  /**
   * Installs (or resumes installing) bundled models that are offered but not installed. They come
   * from the app's own origin, so this needs no hub, no quota prompt and no user action; progress
   * shows in the model picker. Skipped once the user deleted the demo; waits while offline.
   */
  private async autoInstallBundled(): Promise<void> {
    if (readFlag(KEY_DEMO_REMOVED)) return;
    if (navigator.onLine === false) {
      // Offline (a half-done install from an earlier visit): finish it when the network is back.
      addEventListener('online', () => void this.autoInstallBundled(), { once: true });
      return;
    }
    for (const item of this.entries) {
      const status = item.state.status;
      if (!item.entry.bundled || (status !== 'available' && status !== 'paused')) continue;
      try {
        await this.download(item.entry.id);
      } catch {
        // The error is in the model's state (shown on its library card); the app works without it.
      }
    }
  }

  /** The bundled model being installed automatically, if any (for the picker's progress). */
  readonly installingBundled = $derived(
    this.entries.find((i) => i.entry.bundled && (i.state.status === 'downloading' || i.state.status === 'installing')) ?? null,
  );

  private apply(state: ModelState): void {
    const item = this.entries.find((i) => i.entry.id === state.id);
    if (!item) return;
    const wasBusy = item.state.status === 'downloading' || item.state.status === 'installing';
    item.state = state;
    const busy = state.status === 'downloading' || state.status === 'installing';
    if (wasBusy !== busy) void this.refreshEstimate();
  }

  async refreshEstimate(): Promise<void> {
    const res = await this.api.request({ kind: 'estimate' });
    if (res.estimate) this.estimate = res.estimate;
  }

  /** Start or resume a download (or retry an install); rejects with e.g. StorageQuotaError. */
  async download(modelId: string): Promise<void> {
    await this.act({ kind: 'download', modelId });
  }

  async pause(modelId: string): Promise<void> {
    await this.act({ kind: 'pause', modelId });
  }

  /** Stops a download and discards what was stored. */
  async cancel(modelId: string): Promise<void> {
    await this.act({ kind: 'cancel', modelId });
  }

  /** Frees all space used by an installed or partial model. */
  async remove(modelId: string): Promise<void> {
    if (this.entries.find((i) => i.entry.id === modelId)?.entry.bundled) writeFlag(KEY_DEMO_REMOVED);
    await this.act({ kind: 'delete', modelId });
  }

  private async act(request: Parameters<LibraryClient['request']>[0]): Promise<void> {
    const res = await this.api.request(request);
    for (const s of res.states ?? []) this.apply(s);
    if (res.estimate) this.estimate = res.estimate;
  }
}

function readFlag(key: string): boolean {
  try {
    return localStorage.getItem(key) === '1';
  } catch {
    return false;
  }
}

function writeFlag(key: string): void {
  try {
    localStorage.setItem(key, '1');
  } catch {
    /* storage disabled: the demo may come back on the next start */
  }
}

export const library = new LibraryState();
