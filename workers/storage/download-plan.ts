// Range planning for chunked downloads: a file of `size` bytes is fetched as consecutive HTTP
// range requests of `chunkBytes` each (the last one shorter); chunk i covers
// [i * chunkBytes, min(size, (i + 1) * chunkBytes)). Chunks are stored and counted in order, so
// a resumed download continues at chunk `chunksDone`. Pure functions, unit-tested in Node.

/** Default chunk: a few MiB (multiple of 64 so the running SHA-256 has no partial block between chunks). */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

export interface ChunkRange {
  index: number;
  /** First byte, inclusive. */
  start: number;
  /** Last byte + 1 (exclusive); the Range header uses end - 1. */
  end: number;
}

export function chunkCount(size: number, chunkBytes: number): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid file size ${size}`);
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new RangeError(`invalid chunk size ${chunkBytes}`);
  return Math.ceil(size / chunkBytes);
}

export function chunkRange(size: number, chunkBytes: number, index: number): ChunkRange {
  const n = chunkCount(size, chunkBytes);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`chunk ${index} outside 0..${n - 1}`);
  const start = index * chunkBytes;
  return { index, start, end: Math.min(size, start + chunkBytes) };
}

/** The ranges still to fetch after `chunksDone` chunks are stored. */
export function remainingRanges(size: number, chunkBytes: number, chunksDone: number): ChunkRange[] {
  const n = chunkCount(size, chunkBytes);
  if (chunksDone < 0 || chunksDone > n) throw new RangeError(`chunksDone ${chunksDone} outside 0..${n}`);
  const out: ChunkRange[] = [];
  for (let i = chunksDone; i < n; i++) out.push(chunkRange(size, chunkBytes, i));
  return out;
}

/** Bytes stored after `chunksDone` chunks. */
export function bytesDone(size: number, chunkBytes: number, chunksDone: number): number {
  return Math.min(size, chunksDone * chunkBytes);
}

/** `Range` header value for a chunk. */
export function rangeHeader(r: ChunkRange): string {
  return `bytes=${r.start}-${r.end - 1}`;
}

/** Which chunk holds byte `offset`, and where inside it. */
export function locate(offset: number, chunkBytes: number): { index: number; within: number } {
  return { index: Math.floor(offset / chunkBytes), within: offset % chunkBytes };
}
