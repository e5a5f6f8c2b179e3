// Fetches one chunk of a file with an HTTP range request, streaming the body so progress is
// reported as bytes arrive, and checks that exactly the requested bytes came back. Transient
// failures (dropped connection, 5xx) are retried a few times with backoff; what still fails
// becomes a NetworkError (the caller pauses and keeps everything stored).
import { NetworkError } from '../protocol/errors';
import type { ChunkRange } from './download-plan';
import { rangeHeader } from './download-plan';

export interface ChunkFetchOptions {
  url: string;
  range: ChunkRange;
  /** Size of the whole file: a 200 (range ignored) is acceptable only for a one-chunk file. */
  fileSize: number;
  signal: AbortSignal;
  /** Called with the bytes received so far in this attempt. */
  onBytes: (received: number) => void;
  attempts?: number;
  backoffMs?: number;
}

class RetryableError extends Error {}

export async function fetchChunk(o: ChunkFetchOptions): Promise<Uint8Array> {
  const attempts = o.attempts ?? 3;
  let last: Error = new Error('no attempt');
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      o.onBytes(0);
      await sleep((o.backoffMs ?? 500) * 2 ** (attempt - 1), o.signal);
    }
    try {
      return await fetchOnce(o);
    } catch (err) {
      if (o.signal.aborted) throw err;
      if (!(err instanceof RetryableError)) throw err;
      last = err;
      if (typeof navigator !== 'undefined' && navigator.onLine === false) break;
    }
  }
  const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
  throw new NetworkError(
    `Download interrupted${offline ? ' (you are offline)' : ''}: ${last.message}. Progress is kept; press Resume to continue.`,
  );
}

async function fetchOnce(o: ChunkFetchOptions): Promise<Uint8Array> {
  const { url, range, signal } = o;
  const expected = range.end - range.start;
  const host = new URL(url).host;
  let res: Response;
  try {
    res = await fetch(url, { headers: { Range: rangeHeader(range) }, cache: 'no-store', signal });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new RetryableError(`the connection to ${host} failed`);
  }
  if (res.status >= 500 || res.status === 429 || res.status === 408) {
    void res.body?.cancel();
    throw new RetryableError(`${host} answered ${res.status}`);
  }
  const wholeFile = res.status === 200 && range.start === 0 && expected === o.fileSize;
  if (res.status !== 206 && !wholeFile) {
    void res.body?.cancel();
    if (res.status === 200) throw new NetworkError(`${host} ignored the range request for bytes ${range.start}-${range.end - 1}; resumable download is not possible from it.`);
    throw new NetworkError(`${host} answered ${res.status} for ${new URL(url).pathname.split('/').pop()}.`);
  }
  const out = new Uint8Array(expected);
  let received = 0;
  const reader = res.body?.getReader();
  if (!reader) throw new RetryableError(`${host} sent no body`);
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (err) {
        if (signal.aborted) throw err;
        throw new RetryableError(`the connection to ${host} dropped after ${received} of ${expected} bytes`);
      }
      if (step.done) break;
      const bytes = step.value;
      if (received + bytes.length > expected) {
        throw new RetryableError(`${host} sent more than the ${expected} bytes requested`);
      }
      out.set(bytes, received);
      received += bytes.length;
      o.onBytes(received);
    }
  } finally {
    reader.releaseLock();
  }
  if (received !== expected) {
    throw new RetryableError(`the connection to ${host} closed after ${received} of ${expected} bytes`);
  }
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
