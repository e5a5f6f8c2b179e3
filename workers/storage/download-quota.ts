// Storage checks before a download: refuse with StorageQuotaError ("needs X, Y free") when the
// remaining download plus the installed engine-format copy won't fit in the origin's quota, and
// ask for persistent storage on the first download so the browser does not evict the model.
import type { CatalogueEntry } from '../protocol/library';
import { StorageQuotaError } from '../protocol/errors';
import { formatBytes } from '../protocol/format';

/** Bytes still needed: what is left to download plus the converted copy (scaled from the catalogue ratio). */
export function bytesNeeded(entry: CatalogueEntry, totalBytes: number, storedBytes: number): number {
  const ratio = entry.approxDownloadBytes > 0 ? entry.approxInstalledBytes / entry.approxDownloadBytes : 1;
  return Math.max(0, totalBytes - storedBytes) + Math.ceil(totalBytes * ratio);
}

export async function checkQuota(entry: CatalogueEntry, totalBytes: number, storedBytes: number): Promise<void> {
  const storage = typeof navigator !== 'undefined' ? navigator.storage : undefined;
  if (!storage?.estimate) return;
  const { usage = 0, quota = 0 } = await storage.estimate();
  const free = Math.max(0, quota - usage);
  const need = bytesNeeded(entry, totalBytes, storedBytes);
  if (need > free) {
    throw new StorageQuotaError(
      `${entry.name} needs ${formatBytes(need)}, ${formatBytes(free)} free. ` +
        'Free up space on this device (or delete another model) and try again.',
    );
  }
}

let persistAsked = false;

/** Asks once per worker for persistent storage; the answer is reported by the storage estimate. */
export async function requestPersistence(): Promise<void> {
  const storage = typeof navigator !== 'undefined' ? navigator.storage : undefined;
  if (persistAsked || !storage) return;
  persistAsked = true;
  try {
    if (storage.persisted && (await storage.persisted())) return;
    // StorageManager.persist() is exposed to windows only; the worker asks the page to call it.
    if ('persist' in storage && typeof storage.persist === 'function') await storage.persist();
    else persistRequester?.();
  } catch {
    // Denied or unsupported: downloads still work, the browser may just evict them under pressure.
  }
}

let persistRequester: (() => void) | null = null;

/** The storage worker installs a callback that asks the page to call navigator.storage.persist(). */
export function setPersistRequester(fn: () => void): void {
  persistRequester = fn;
}
