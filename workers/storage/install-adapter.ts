// Adapter between the download manager and the engine-format installer. The installer
// (workers/storage/install.ts, `installModel`, written by the engine side) converts a model's
// verified raw files into the `tensors` / `tensorChunks` stores. It is looked up through
// import.meta.glob so this module builds whether or not install.ts exists yet; when it is
// missing, installing fails with a clear error and the downloaded files are kept.
import { ModelNotInstalledError } from '../protocol/errors';
import type { FileSource } from './types';

export type InstallModelFn = (
  modelId: string,
  source: FileSource,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
) => Promise<void>;

const installers = import.meta.glob<{ installModel?: InstallModelFn }>('./install.ts', { eager: true });

/** Runs workers/storage/install.ts `installModel`, or explains that this build has no installer. */
export async function runInstaller(
  modelId: string,
  source: FileSource,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
): Promise<void> {
  const mod = installers['./install.ts'];
  if (!mod?.installModel) {
    throw new ModelNotInstalledError(
      `The files of "${modelId}" are downloaded and verified, but this build of Lumen cannot convert them ` +
        'to the engine format yet (no installer). Keep the download and update the app later.',
    );
  }
  await mod.installModel(modelId, source, onProgress, signal);
}
