// Download manager: fetches a catalogue model's raw files chunk by chunk (range requests of a few
// MiB), writing each chunk to IndexedDB together with the file's progress and running SHA-256 in
// one transaction, so a pause, a dropped connection or a closed tab resumes exactly where it
// stopped. Verifies every file (size, sha-256 / git blob sha-1), then hands the model to the
// installer. Runs in the storage worker; no GPU code.
import type { CatalogueEntry, ModelState } from '../protocol/library';
import { AbortedError, IntegrityError, LumenError, NetworkError, StorageQuotaError, isAbortError, serializeError } from '../protocol/errors';
import type { SerializedError } from '../protocol/errors';
import type { FileRecord, ModelDatabase, ModelRecord } from './model-db';
import { deleteModelData, openFileSource, openModelDB, sizeOnDisk } from './model-db';
import { DEFAULT_CHUNK_BYTES, bytesDone, remainingRanges } from './download-plan';
import { fetchChunk } from './download-fetch';
import { listRemoteFiles } from './download-source';
import { RateMeter } from './download-rate';
import { Sha256 } from './sha256';
import { verifyFile } from './download-verify';
import { checkQuota, requestPersistence } from './download-quota';
import { runInstaller } from './install-adapter';

interface ActiveRun {
  controller: AbortController;
  done: Promise<void>;
  rate: RateMeter;
  /** Stored bytes + bytes of the chunk in flight. */
  bytes: number;
  total: number;
  install?: { done: number; total: number };
  status: 'downloading' | 'installing';
}

export interface DownloadManagerOptions {
  catalogue: CatalogueEntry[];
  /** Origin the app is served from (bundled models live under /models/<id>/). */
  appOrigin: string;
  emit: (state: ModelState) => void;
  /** Asks the other tabs' storage workers to pause a download this one is not running. */
  remotePause?: (modelId: string) => void;
  chunkBytes?: number;
}

export class DownloadManager {
  private readonly runs = new Map<string, ActiveRun>();
  /** Errors of refused starts and failed runs, shown until the next attempt (also when they could not be stored). */
  private readonly transientErrors = new Map<string, SerializedError>();
  private lastEmit = new Map<string, number>();

  constructor(private readonly opts: DownloadManagerOptions) {}

  entry(id: string): CatalogueEntry {
    const e = this.opts.catalogue.find((c) => c.id === id);
    if (!e) throw new LumenError(`Unknown model "${id}".`);
    return e;
  }

  /** The state of one model, from IndexedDB plus any run in progress. */
  async state(id: string): Promise<ModelState> {
    const entry = this.entry(id);
    const db = await openModelDB();
    const rec = await db.get('models', id);
    const files = await db.getAllFromIndex('files', 'modelId', id);
    const stored = files.reduce((s, f) => s + bytesDone(f.size, f.chunkBytes, f.chunksDone), 0);
    const run = this.runs.get(id);
    const total = rec?.totalBytes ?? entry.approxDownloadBytes;
    const base: ModelState = {
      id,
      status: rec ? rec.status : 'available',
      downloadedBytes: stored,
      totalBytes: total,
      bytesPerSecond: 0,
      secondsLeft: null,
      sizeOnDisk: await sizeOnDisk(db, id),
      filesDone: files.filter((f) => f.verified).length,
      filesTotal: rec?.files.length ?? 0,
      error: rec?.error ?? this.transientErrors.get(id),
    };
    if (run) {
      base.status = run.status;
      base.downloadedBytes = Math.max(stored, run.bytes);
      base.bytesPerSecond = run.rate.bytesPerSecond();
      base.secondsLeft = run.status === 'downloading' ? run.rate.secondsLeft(total - base.downloadedBytes) : null;
      base.install = run.install;
      base.error = undefined;
    } else if (base.status === 'downloading' || base.status === 'installing') {
      // Left over from a closed tab or a crash: resumable.
      base.status = 'paused';
    }
    return base;
  }

  async states(): Promise<ModelState[]> {
    return Promise.all(this.opts.catalogue.map((e) => this.state(e.id)));
  }

  /**
   * Starts or resumes a model. Resolves once the download is under way (or refused: quota,
   * listing failure); the rest runs in the background and reports through `emit`.
   */
  async start(id: string): Promise<void> {
    if (this.runs.has(id)) return;
    const entry = this.entry(id);
    this.transientErrors.delete(id);
    const controller = new AbortController();
    // One download of a model at a time across tabs; the lock dies with the worker.
    const lock = await acquireLock(`lumen-download:${id}`);
    let rec: ModelRecord | null;
    try {
      if (!lock) throw new LumenError(`${entry.name} is already downloading in another Lumen tab or window.`);
      rec = await this.prepare(entry, controller.signal);
    } catch (thrown) {
      const err = quotaError(thrown);
      lock?.release();
      this.transientErrors.set(id, serializeError(err));
      await this.emitState(id, true);
      throw err;
    }
    if (!rec) {
      lock.release(); // already installed
      return;
    }
    const run: ActiveRun = { controller, done: Promise.resolve(), rate: new RateMeter(), bytes: 0, total: rec.totalBytes, status: 'downloading' };
    this.runs.set(id, run);
    // execute() records every failure in the model's state; a failure to record it (the database
    // went away) must not surface as an unhandled rejection through pause().
    run.done = this.execute(entry, run).catch(() => {}).finally(() => {
      lock.release();
      this.runs.delete(id);
      void this.emitState(id, true);
    });
  }

  /** Pauses the model's download here, or asks the tab that runs it to pause. */
  async pause(id: string): Promise<void> {
    const run = this.runs.get(id);
    if (!run) {
      this.opts.remotePause?.(id);
      return;
    }
    run.controller.abort(new AbortedError('Paused.'));
    await run.done;
  }

  /** Stops any download (here or in another tab) and frees everything stored for the model. */
  async remove(id: string): Promise<void> {
    const entry = this.entry(id);
    await this.pause(id);
    // Holding the model's lock guarantees no tab is still writing its chunks.
    const lock = await acquireLock(`lumen-download:${id}`, 15_000);
    if (!lock) throw new LumenError(`${entry.name} is busy in another Lumen tab; close that tab or try again.`);
    try {
      await deleteModelData(await openModelDB(), id);
    } finally {
      lock.release();
    }
    this.transientErrors.delete(id);
    await this.emitState(id, true);
  }

  /** Lists the files, checks the quota and writes the manifest (first time only). */
  private async prepare(entry: CatalogueEntry, signal: AbortSignal): Promise<ModelRecord | null> {
    const db = await openModelDB();
    let rec = await db.get('models', entry.id);
    if (rec?.status === 'ready') return null;
    let files: FileRecord[];
    if (!rec) {
      const remote = await listRemoteFiles(entry, this.opts.appOrigin, signal);
      const now = Date.now();
      rec = {
        id: entry.id,
        status: 'downloading',
        revision: entry.source.kind === 'hub' ? entry.source.revision : 'bundled',
        files: remote.map((f) => f.path),
        totalBytes: remote.reduce((s, f) => s + f.size, 0),
        createdAt: now,
        updatedAt: now,
      };
      const chunkBytes = this.opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
      files = remote.map((f) => ({ modelId: entry.id, ...f, chunkBytes, chunksDone: 0, hashState: null, verified: false }));
    } else {
      files = await db.getAllFromIndex('files', 'modelId', entry.id);
    }
    const stored = files.reduce((s, f) => s + bytesDone(f.size, f.chunkBytes, f.chunksDone), 0);
    await checkQuota(entry, rec.totalBytes, stored);
    // A bundled model is small and served by the app: no persistence prompt on first start.
    if (entry.source.kind !== 'bundled') await requestPersistence();
    const tx = db.transaction(['models', 'files'], 'readwrite');
    const fresh = { ...rec, status: 'downloading' as const, error: undefined, updatedAt: Date.now() };
    await tx.objectStore('models').put(fresh);
    for (const f of files) if (f.chunksDone === 0) await tx.objectStore('files').put(f);
    await tx.done;
    return fresh;
  }

  private async execute(entry: CatalogueEntry, run: ActiveRun): Promise<void> {
    const id = entry.id;
    const db = await openModelDB();
    const signal = run.controller.signal;
    // A stalled connection sends no bytes: keep sampling so the rate decays and the UI says so.
    const ticker = setInterval(() => {
      if (run.status !== 'downloading') return;
      run.rate.add(performance.now(), run.bytes);
      void this.emitState(id, true);
    }, 1000);
    try {
      const rec = (await db.get('models', id))!;
      for (const path of rec.files) {
        const file = (await db.get('files', [id, path]))!;
        if (!file.verified) await this.downloadFile(db, entry, file, run);
      }
      run.status = 'installing';
      await setStatus(db, id, 'installing');
      void this.emitState(id, true);
      const source = await openFileSource(id);
      await runInstaller(id, source, (done, total) => {
        run.install = { done, total };
        void this.emitState(id, false);
      }, signal);
      await setStatus(db, id, 'ready');
    } catch (thrown) {
      const err = quotaError(thrown);
      // Also kept in memory: when storage is full, writing the error to the record can fail too.
      if (!signal.aborted) this.transientErrors.set(id, serializeError(err));
      if (isAbortError(err) || signal.aborted) {
        await setStatus(db, id, 'paused');
      } else if (err instanceof IntegrityError) {
        await setStatus(db, id, 'error', serializeError(err));
      } else if (err instanceof NetworkError || err instanceof StorageQuotaError) {
        await setStatus(db, id, 'paused', serializeError(err));
      } else {
        await setStatus(db, id, 'error', serializeError(err));
      }
    } finally {
      clearInterval(ticker);
    }
  }

  private async downloadFile(db: ModelDatabase, entry: CatalogueEntry, file: FileRecord, run: ActiveRun): Promise<void> {
    const signal = run.controller.signal;
    const hasher = new Sha256(file.hashState ?? undefined);
    let rec = file;
    const storedBefore = async () => {
      const all = await db.getAllFromIndex('files', 'modelId', entry.id);
      return all.reduce((s, f) => s + bytesDone(f.size, f.chunkBytes, f.chunksDone), 0);
    };
    let base = await storedBefore();
    run.bytes = base;
    run.rate.add(performance.now(), base);
    for (const range of remainingRanges(file.size, file.chunkBytes, file.chunksDone)) {
      if (signal.aborted) throw signal.reason;
      const bytes = await fetchChunk({
        url: file.url,
        range,
        fileSize: file.size,
        signal,
        onBytes: (n) => {
          run.bytes = base + n;
          run.rate.add(performance.now(), run.bytes);
          void this.emitState(entry.id, false);
        },
      });
      hasher.update(bytes);
      rec = { ...rec, chunksDone: range.index + 1, hashState: hasher.save() };
      await storeChunk(db, rec, range.index, bytes);
      base += bytes.length;
      run.bytes = base;
    }
    await verifyFile(db, entry, rec, hasher);
    await db.put('files', { ...rec, verified: true, hashState: null });
    void this.emitState(entry.id, true);
  }

  private async emitState(id: string, force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - (this.lastEmit.get(id) ?? 0) < 200) return;
    this.lastEmit.set(id, now);
    this.opts.emit(await this.state(id));
  }
}

/**
 * Holds the Web Lock `name` until release() (or the worker's end). Without `waitMs` it gives up at
 * once when another holder has it (null); with it, it waits that long for the holder to finish.
 */
function acquireLock(name: string, waitMs?: number): Promise<{ release: () => void } | null> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return Promise.resolve({ release: () => {} });
  return new Promise((resolve, reject) => {
    const signal = waitMs === undefined ? undefined : AbortSignal.timeout(waitMs);
    const options: LockOptions = signal ? { signal } : { ifAvailable: true };
    locks
      .request(name, options, (lock) => {
        if (!lock) return resolve(null);
        return new Promise<void>((release) => resolve({ release: () => release() }));
      })
      .catch((err: unknown) => (signal?.aborted ? resolve(null) : reject(err)));
  });
}

async function setStatus(db: ModelDatabase, id: string, status: ModelRecord['status'], error?: SerializedError): Promise<void> {
  const rec = await db.get('models', id);
  if (!rec) return; // deleted meanwhile
  await db.put('models', { ...rec, status, error, updatedAt: Date.now() });
}

/** IndexedDB's QuotaExceededError (from any write of a run) as the StorageQuotaError users see. */
function quotaError(err: unknown): unknown {
  if ((err as Error | null)?.name !== 'QuotaExceededError') return err;
  return new StorageQuotaError(
    'The browser ran out of storage space for this site while saving the download. What was saved is kept; ' +
      'free some space (or delete another model) and press Resume.',
  );
}

/** Chunk bytes and the file's new progress/hash state, atomically; quota errors become StorageQuotaError. */
async function storeChunk(db: ModelDatabase, rec: FileRecord, index: number, bytes: Uint8Array): Promise<void> {
  const tx = db.transaction(['files', 'chunks'], 'readwrite');
  try {
    const copy = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
    await Promise.all([
      tx.objectStore('chunks').put(copy as ArrayBuffer, [rec.modelId, rec.path, index]),
      tx.objectStore('files').put(rec),
      tx.done,
    ]);
  } catch (err) {
    throw quotaError(tx.error?.name === 'QuotaExceededError' ? tx.error : err);
  }
}

