// Typed messages between the UI (web/lib/library-client.ts) and the storage worker
// (workers/storage.worker.ts): the model catalogue, downloads, install, delete, storage estimate.
import type { SerializedError } from './errors';

/** One model of the catalogue (workers/storage/catalogue.json), as the UI shows it. */
export interface CatalogueEntry {
  id: string;
  name: string;
  description: string;
  /** Shipped with the app (public/models/...) rather than downloaded from the hub. */
  bundled: boolean;
  /** Honest label for the embedded demo model. */
  demo: boolean;
  vision: boolean;
  quantization: 'q4' | 'q8' | 'f32';
  approxDownloadBytes: number;
  approxInstalledBytes: number;
}

export type ModelStatus =
  | 'available' // in the catalogue, nothing stored
  | 'downloading'
  | 'paused' // partially downloaded; resumable (also after the tab was closed)
  | 'installing' // downloaded, converting to the engine format
  | 'ready'
  | 'error';

export interface ModelState {
  id: string;
  status: ModelStatus;
  downloadedBytes: number;
  totalBytes: number;
  /** Bytes per second over the last few seconds while downloading. */
  bytesPerSecond: number;
  /** Estimated seconds left, or null when unknown. */
  secondsLeft: number | null;
  /** Bytes this model occupies in IndexedDB now. */
  sizeOnDisk: number;
  error?: SerializedError;
}

export interface StorageEstimate {
  usage: number;
  quota: number;
  persisted: boolean;
}

export type LibraryRequest =
  | { kind: 'list' }
  | { kind: 'download'; modelId: string }
  | { kind: 'pause'; modelId: string }
  | { kind: 'cancel'; modelId: string }
  | { kind: 'delete'; modelId: string }
  | { kind: 'estimate' };

export type LibraryEvent =
  | { id: number; kind: 'result'; entries?: CatalogueEntry[]; states?: ModelState[]; estimate?: StorageEstimate }
  | { id: number; kind: 'error'; error: SerializedError }
  /** Broadcast (id 0) whenever a model's state changes. */
  | { id: 0; kind: 'state'; state: ModelState };

export interface LibraryMessage {
  id: number;
  request: LibraryRequest;
}
