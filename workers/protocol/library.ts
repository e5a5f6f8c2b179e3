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
  /** Where the raw files come from: a pinned hub revision, or the app itself (/models/<id>/). */
  source: HubSource | BundledSource;
  /** Repository files to fetch; `optional` ones are skipped when the listing lacks them. */
  files: CatalogueFile[];
}

export interface HubSource {
  kind: 'hub';
  /** e.g. "HuggingFaceTB/SmolVLM-256M-Instruct" */
  repo: string;
  /** Pinned commit sha (40 hex), so a model never changes under a user. */
  revision: string;
}

export interface BundledSource {
  kind: 'bundled';
}

export interface CatalogueFile {
  path: string;
  optional?: boolean;
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
  /** Files fully downloaded and verified, of all files to fetch (0/0 before the listing is known). */
  filesDone: number;
  filesTotal: number;
  /** Install (conversion to the engine format) progress while status is 'installing'. */
  install?: { done: number; total: number };
  error?: SerializedError;
}

export interface StorageEstimate {
  usage: number;
  quota: number;
  persisted: boolean;
}

export type LibraryRequest =
  | { kind: 'list' }
  /** Start, resume (after pause, error or a closed tab) or retry the install of a model. */
  | { kind: 'download'; modelId: string }
  | { kind: 'pause'; modelId: string }
  | { kind: 'cancel'; modelId: string }
  | { kind: 'delete'; modelId: string }
  | { kind: 'estimate' };

export type LibraryEvent =
  | { id: number; kind: 'result'; entries?: CatalogueEntry[]; states?: ModelState[]; estimate?: StorageEstimate }
  | { id: number; kind: 'error'; error: SerializedError }
  /** Broadcast (id 0) whenever a model's state changes. */
  | { id: 0; kind: 'state'; state: ModelState }
  /** The worker asks the page to call navigator.storage.persist() (exposed to windows only). */
  | { id: 0; kind: 'persist-request' };

/** BroadcastChannel on which every tab's storage worker announces model state changes. */
export const LIBRARY_CHANNEL = 'lumen-library';

/** Messages on LIBRARY_CHANNEL: state announcements, and a pause request for whichever tab runs the download. */
export type LibraryBroadcast = { type: 'state'; state: ModelState } | { type: 'pause'; modelId: string };

export interface LibraryMessage {
  id: number;
  request: LibraryRequest;
}
