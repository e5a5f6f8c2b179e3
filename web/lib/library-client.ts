// Client side of the storage worker (workers/storage.worker.ts): typed request/response over
// postMessage, errors rebuilt as Error subclasses, and model state updates from this tab's
// worker and, through a BroadcastChannel, from the storage workers of other tabs.
import type { LibraryBroadcast, LibraryEvent, LibraryMessage, LibraryRequest, ModelState } from '../../workers/protocol';
import { LIBRARY_CHANNEL, WorkerCrashedError, deserializeError } from '../../workers/protocol';

export type LibraryResult = Extract<LibraryEvent, { kind: 'result' }>;

export class LibraryClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: LibraryResult) => void; reject: (e: Error) => void }>();
  private readonly channel: BroadcastChannel | null;

  constructor(
    private readonly onState: (state: ModelState) => void,
    /** Called after navigator.storage.persist() settles (the storage estimate's `persisted` may change). */
    private readonly onPersist: () => void = () => {},
  ) {
    this.channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(LIBRARY_CHANNEL) : null;
    this.channel?.addEventListener('message', (e: MessageEvent<LibraryBroadcast>) => {
      if (e.data.type === 'state') this.onState(e.data.state);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('../../workers/storage.worker.ts', import.meta.url), { type: 'module', name: 'lumen-storage' });
    w.onmessage = (e: MessageEvent<LibraryEvent>) => this.dispatch(e.data);
    w.onerror = (e) => {
      e.preventDefault();
      this.crash(`The storage worker stopped (${e.message || 'unknown error'}). Downloads are kept; try again.`);
    };
    this.worker = w;
    return w;
  }

  private dispatch(ev: LibraryEvent): void {
    if (ev.kind === 'state') return this.onState(ev.state);
    if (ev.kind === 'persist-request') {
      void (navigator.storage?.persist?.() ?? Promise.resolve(false)).catch(() => false).then(() => this.onPersist());
      return;
    }
    const p = this.pending.get(ev.id);
    if (!p) return;
    this.pending.delete(ev.id);
    if (ev.kind === 'result') p.resolve(ev);
    else p.reject(deserializeError(ev.error));
  }

  private crash(message: string): void {
    this.worker?.terminate();
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new WorkerCrashedError(message));
    this.pending.clear();
  }

  request(request: LibraryRequest): Promise<LibraryResult> {
    const w = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: LibraryMessage = { id, request };
      w.postMessage(msg);
    });
  }

  dispose(): void {
    this.channel?.close();
    this.crash('The library was closed.');
  }
}
