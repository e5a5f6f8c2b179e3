// EngineClient: the page's side of the inference worker (workers/inference.worker.ts). Sends typed
// requests with ids, routes progress/token/result/error events back, rebuilds errors as their
// Error subclasses, aborts through AbortSignal ({kind:'abort', target}), and survives worker
// crashes: pending calls reject with WorkerCrashedError and the next call starts a fresh worker.
// A stopped generation rejects at once, but the worker may still be finishing its current step:
// the next generate waits until the worker has reported the stopped one's end (it would be refused
// as busy otherwise).
import {
  AbortedError,
  WorkerCrashedError,
  deserializeError,
  type ChatTurn,
  type EngineEvent,
  type EngineMessage,
  type EngineRequest,
  type EngineResult,
  type GenerateStats,
  type GpuInfo,
  type LoadedModelInfo,
  type ProgressPhase,
  type SamplingParams,
} from '../../workers/protocol';

export type ProgressListener = (phase: ProgressPhase, done: number, total: number) => void;

/** What `generate` resolves with once the stream ends. */
export interface GenerateResult {
  text: string;
  finishReason: 'stop' | 'length' | 'abort';
  stats: GenerateStats;
}

/** Streamed text chunks (for await) plus the final result. */
export interface GenerationStream extends AsyncIterable<string> {
  readonly result: Promise<GenerateResult>;
}

/** The slice of Worker the client uses; lets tests drive the protocol without a browser. */
export interface WorkerLike {
  postMessage(message: EngineMessage): void;
  terminate(): void;
  addEventListener(type: 'message', fn: (e: MessageEvent<EngineEvent>) => void): void;
  addEventListener(type: 'error' | 'messageerror', fn: (e: Event) => void): void;
}

interface Pending {
  resolve: (r: EngineResult) => void;
  reject: (e: Error) => void;
  onProgress?: ProgressListener;
  onToken?: (text: string) => void;
}

interface CallOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  onToken?: (text: string) => void;
}

const defaultFactory = (): WorkerLike =>
  new Worker(new URL('../../workers/inference.worker.ts', import.meta.url), { type: 'module', name: 'lumen-inference' }) as WorkerLike;

export class EngineClient {
  private worker: WorkerLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Aborted calls the worker has not finished yet, by id: resolved by their final result/error. */
  private readonly draining = new Map<number, { done: Promise<void>; resolve: () => void }>();

  constructor(private readonly createWorker: () => WorkerLike = defaultFactory) {}

  probe(): Promise<GpuInfo> {
    return this.call({ kind: 'probe' }).then((r) => (r.kind === 'probe' ? r.gpu : unexpected(r)));
  }

  load(modelId: string, opts: Omit<CallOptions, 'onToken'> = {}): Promise<LoadedModelInfo> {
    return this.call({ kind: 'load', modelId }, opts).then((r) => (r.kind === 'load' ? r.model : unexpected(r)));
  }

  async unload(): Promise<void> {
    await this.call({ kind: 'unload' });
  }

  stats(): Promise<Extract<EngineResult, { kind: 'stats' }>> {
    return this.call({ kind: 'stats' }).then((r) => (r.kind === 'stats' ? r : unexpected(r)));
  }

  /** Streams an answer. Iterate for text chunks; `result` settles with the text and stats. */
  generate(
    conversationId: string,
    messages: ChatTurn[],
    sampling: SamplingParams,
    opts: Omit<CallOptions, 'onToken'> = {},
  ): GenerationStream {
    const queue: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    const notify = () => {
      wake?.();
      wake = null;
    };
    const start = () =>
      this.call({ kind: 'generate', conversationId, messages, sampling }, { ...opts, onToken: (t) => (queue.push(t), notify()) });
    // Posted at once unless a stopped generation is still finishing in the worker.
    const result = (this.draining.size === 0 ? start() : Promise.all([...this.draining.values()].map((d) => d.done)).then(start)).then((r) => (r.kind === 'generate' ? { text: r.text, finishReason: r.finishReason, stats: r.stats } : unexpected(r)));
    result.then(
      () => ((finished = true), notify()),
      () => ((finished = true), notify()),
    );
    return {
      result,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          while (queue.length) yield queue.shift()!;
          if (finished) {
            await result; // rethrows the error that ended the stream
            return;
          }
          await new Promise<void>((r) => (wake = r));
        }
      },
    };
  }

  /** Stops the worker (and whatever it was doing); the next call starts a new one. */
  terminate(): void {
    this.crash(new WorkerCrashedError('The inference worker was stopped.'));
  }

  private call(request: EngineRequest, opts: CallOptions = {}): Promise<EngineResult> {
    if (opts.signal?.aborted) return Promise.reject(new AbortedError('Cancelled.'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<EngineResult>((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        let resolveDrain = () => {};
        const drainDone = new Promise<void>((r) => (resolveDrain = r));
        this.draining.set(id, { done: drainDone, resolve: resolveDrain });
        this.worker?.postMessage({ id: this.nextId++, request: { kind: 'abort', target: id } });
        reject(new AbortedError('Stopped.'));
      };
      const done = <T>(fn: (v: T) => void) => (v: T) => {
        opts.signal?.removeEventListener('abort', onAbort);
        fn(v);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject), onProgress: opts.onProgress, onToken: opts.onToken });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage({ id, request });
    });
  }

  private ensureWorker(): WorkerLike {
    if (this.worker) return this.worker;
    const w = this.createWorker();
    w.addEventListener('message', (e: MessageEvent<EngineEvent>) => this.onEvent(e.data));
    w.addEventListener('error', (e: Event) => {
      e.preventDefault?.();
      const message = (e as Partial<ErrorEvent>).message;
      const detail = message ? `: ${message}` : '';
      if (this.worker === w) this.crash(new WorkerCrashedError(`The inference worker crashed${detail}. It restarts on the next request.`));
    });
    w.addEventListener('messageerror', () => {
      if (this.worker === w) this.crash(new WorkerCrashedError('The inference worker sent a message that could not be read.'));
    });
    this.worker = w;
    return w;
  }

  private crash(err: Error): void {
    const w = this.worker;
    this.worker = null;
    w?.terminate();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.reject(err);
    for (const d of this.draining.values()) d.resolve(); // the worker that ran them is gone
    this.draining.clear();
  }

  private onEvent(ev: EngineEvent): void {
    const p = this.pending.get(ev.id);
    if (!p) {
      // Aborted or unknown: ignore late events, but note when an aborted call has really ended.
      const d = this.draining.get(ev.id);
      if (d && (ev.kind === 'result' || ev.kind === 'error')) {
        this.draining.delete(ev.id);
        d.resolve();
      }
      return;
    }
    switch (ev.kind) {
      case 'progress':
        p.onProgress?.(ev.phase, ev.done, ev.total);
        break;
      case 'token':
        p.onToken?.(ev.text);
        break;
      case 'result':
        this.pending.delete(ev.id);
        p.resolve(ev.result);
        break;
      case 'error':
        this.pending.delete(ev.id);
        p.reject(deserializeError(ev.error));
        break;
    }
  }
}

function unexpected(r: EngineResult): never {
  throw new Error(`unexpected engine result "${r.kind}"`);
}
