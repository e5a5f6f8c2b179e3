// Browser entry of install-time conversion, called by the download manager (through
// install-adapter.ts) once a model's raw files are downloaded and verified: converts them into
// the engine format in IndexedDB. The quantization comes from the catalogue entry, the source
// revision from the model's record. Before writing, the converted size (exact, from the plan)
// is checked against the storage quota. The conversion itself is convert.ts (platform-neutral).
import { StorageQuotaError } from '../protocol/errors';
import catalogue from './catalogue.json';
import { convertModel, policyFor } from './convert';
import type { ConvertOptions } from './convert';
import { openModelDB } from './model-db';
import { IdbTensorStore } from './tensor-store-idb';
import type { FileSource } from './types';

type Choice = 'q4' | 'q8' | 'f32';

/** The catalogue's quantization choice for a model (q4 when the id is not in the catalogue). */
export function catalogueQuantization(modelId: string): Choice {
  const entry = (catalogue.models as { id: string; quantization: string }[]).find((m) => m.id === modelId);
  const q = entry?.quantization;
  return q === 'q8' || q === 'f32' ? q : 'q4';
}

/** Space kept free beyond the tensors themselves (IndexedDB overhead, other writes). */
const QUOTA_MARGIN = 16 * 1024 * 1024;

/** Bytes missing for `needed` more bytes under a storage estimate (0 when it fits or is unknown). */
export function quotaShortfall(estimate: { quota?: number; usage?: number } | null | undefined, needed: number): number {
  if (!estimate || estimate.quota === undefined) return 0;
  const free = estimate.quota - (estimate.usage ?? 0);
  return Math.max(0, needed + QUOTA_MARGIN - free);
}

function mb(n: number): string {
  return `${Math.ceil(n / 1e6)} MB`;
}

export async function installModel(
  modelId: string,
  source: FileSource,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
  options?: Partial<ConvertOptions>,
): Promise<void> {
  const db = await openModelDB();
  const record = await db.get('models', modelId);
  const store = new IdbTensorStore(db);
  await convertModel(
    store,
    modelId,
    source,
    {
      quantization: options?.quantization ?? policyFor(catalogueQuantization(modelId)),
      sourceRevision: options?.sourceRevision ?? record?.revision ?? null,
      chunkBytes: options?.chunkBytes,
      blockBytes: options?.blockBytes,
      async beforeWrite(plan) {
        // A reinstall frees the old tensors first; partial leftovers are not counted (they only help).
        const needed = plan.totalBytes - ((await store.getManifest(modelId))?.totalBytes ?? 0);
        const estimate = await globalThis.navigator?.storage?.estimate?.();
        const missing = quotaShortfall(estimate, needed);
        if (missing > 0) {
          throw new StorageQuotaError(`Installing "${modelId}" needs ${mb(plan.totalBytes)} for its converted weights, ${mb(missing)} more than this browser lets Lumen store. Remove another model or free space on the device, then install again; the download is kept.`);
        }
      },
    },
    onProgress,
    signal,
  );
}
