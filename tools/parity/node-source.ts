// Node ModelSource for the Engine (tests, tools): installed tensors in a file tensor store, raw
// repository files (tokenizer, generation config) in a plain directory per model.
import type { ModelSource } from '../../workers/engine';
import { dirFileSource } from '../../workers/storage/fs-source';
import { FsTensorStore } from '../../workers/storage/tensor-store-fs';

export function nodeModelSource(storeRoot: string, rawDirs: Record<string, string>): ModelSource {
  const store = new FsTensorStore(storeRoot);
  return {
    async tensorStore() {
      return store;
    },
    async files(modelId) {
      const dir = rawDirs[modelId];
      if (!dir) throw new Error(`no raw files for ${modelId}`);
      return dirFileSource(dir);
    },
  };
}
