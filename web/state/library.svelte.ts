// Model library state (rune class): catalogue entries with their download/install state and the
// storage estimate. Placeholder surface until the library lands; `entries` is what the chat reads.
import type { CatalogueEntry, ModelState, StorageEstimate } from '../../workers/protocol';

export interface LibraryItem {
  entry: CatalogueEntry;
  state: ModelState;
}

class LibraryState {
  entries = $state<LibraryItem[]>([]);
  estimate = $state<StorageEstimate | null>(null);
  readonly ready = $derived(this.entries.filter((i) => i.state.status === 'ready'));
}

export const library = new LibraryState();
