// Error codec for the worker boundary: errors cross as {name, message} and are rebuilt as the
// Error subclass of the same name, so the UI can switch on `instanceof` and show what to do.
// Imports nothing.

export interface SerializedError {
  name: string;
  message: string;
}

/** Base of every error the engine and storage workers report on purpose. */
export class LumenError extends Error {
  override name = 'LumenError';
}
/** navigator.gpu is missing or no adapter was granted. */
export class WebGpuUnavailableError extends LumenError {
  override name = 'WebGpuUnavailableError';
}
/** The GPU device was lost (driver reset, tab in background on mobile, out of memory). Retry reloads the model. */
export class GpuDeviceLostError extends LumenError {
  override name = 'GpuDeviceLostError';
}
/** The requested model is not installed (or only partly) in local storage. */
export class ModelNotInstalledError extends LumenError {
  override name = 'ModelNotInstalledError';
}
/** Model files are malformed or disagree with the config (truncated safetensors, unknown dtype, wrong shape, missing tensor). */
export class ModelFormatError extends LumenError {
  override name = 'ModelFormatError';
}
/** Downloaded bytes do not match the size or sha-256 the hub reported. */
export class IntegrityError extends LumenError {
  override name = 'IntegrityError';
}
/** Not enough storage quota for the model. */
export class StorageQuotaError extends LumenError {
  override name = 'StorageQuotaError';
}
/** A network request failed (offline, server error). Completed work is kept. */
export class NetworkError extends LumenError {
  override name = 'NetworkError';
}
/** An image could not be decoded or is not a supported format. */
export class UnsupportedImageError extends LumenError {
  override name = 'UnsupportedImageError';
}
/** The worker died (crash, out of memory); the client restarts it. */
export class WorkerCrashedError extends LumenError {
  override name = 'WorkerCrashedError';
}
/** Work was cancelled by the user (AbortSignal). */
export class AbortedError extends LumenError {
  override name = 'AbortError';
}

const registry: Record<string, new (message: string) => Error> = {
  LumenError,
  WebGpuUnavailableError,
  GpuDeviceLostError,
  ModelNotInstalledError,
  ModelFormatError,
  IntegrityError,
  StorageQuotaError,
  NetworkError,
  UnsupportedImageError,
  WorkerCrashedError,
  AbortError: AbortedError,
};

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) return { name: err.name, message: err.message };
  if (err && typeof err === 'object' && 'name' in err && 'message' in err) {
    return { name: String((err as SerializedError).name), message: String((err as SerializedError).message) };
  }
  return { name: 'Error', message: String(err) };
}

export function deserializeError(e: SerializedError): Error {
  const Ctor = registry[e.name];
  if (Ctor) return new Ctor(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
