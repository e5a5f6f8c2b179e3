// Browser entry of install-time conversion, called by the download manager (through
// install-adapter.ts) once a model's raw files are downloaded and verified: converts them into
// the engine format in IndexedDB. The quantization comes from the catalogue entry, the source
// revision from the model's record. The conversion itself is convert.ts (platform-neutral).
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

export async function installModel(
  modelId: string,
  source: FileSource,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
  options?: Partial<ConvertOptions>,
): Promise<void> {
  const db = await openModelDB();
  const record = await db.get('models', modelId);
  await convertModel(
    new IdbTensorStore(db),
    modelId,
    source,
    {
      quantization: options?.quantization ?? policyFor(catalogueQuantization(modelId)),
      sourceRevision: options?.sourceRevision ?? record?.revision ?? null,
      chunkBytes: options?.chunkBytes,
      blockBytes: options?.blockBytes,
    },
    onProgress,
    signal,
  );
}
