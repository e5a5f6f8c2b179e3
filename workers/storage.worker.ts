// Storage worker entry: owns the download manager, so downloads and installs continue while the
// inference worker is busy. Decodes LibraryMessage requests, answers with results or serialized
// errors, and announces every model state change to its page and, through a BroadcastChannel,
// to the app's other tabs.
/// <reference lib="webworker" />
import catalogueJson from './storage/catalogue.json';
import type { CatalogueEntry, LibraryBroadcast, LibraryEvent, LibraryMessage, LibraryRequest, ModelState, StorageEstimate } from './protocol/library';
import { LIBRARY_CHANNEL } from './protocol/library';
import { serializeError } from './protocol/errors';
import { DownloadManager } from './storage/download';
import { openModelDB } from './storage/model-db';
import { bundledAvailable } from './storage/download-source';
import { setPersistRequester } from './storage/download-quota';
import { parseCatalogue } from './storage/catalogue';

declare const self: DedicatedWorkerGlobalScope;

const catalogue: CatalogueEntry[] = parseCatalogue(catalogueJson);
const channel = new BroadcastChannel(LIBRARY_CHANNEL);

function post(event: LibraryEvent): void {
  self.postMessage(event);
}

function announce(state: ModelState): void {
  post({ id: 0, kind: 'state', state });
  channel.postMessage({ type: 'state', state } satisfies LibraryBroadcast);
}

const manager = new DownloadManager({
  catalogue,
  appOrigin: self.location.origin,
  emit: announce,
  remotePause: (modelId) => channel.postMessage({ type: 'pause', modelId } satisfies LibraryBroadcast),
});
channel.onmessage = (e: MessageEvent<LibraryBroadcast>) => {
  if (e.data.type === 'pause') void manager.pause(e.data.modelId).catch(() => {});
};
setPersistRequester(() => post({ id: 0, kind: 'persist-request' }));

/** Bundled entries whose files are absent from this build are not offered (unless already stored). */
let visible: Promise<CatalogueEntry[]> | null = null;
function visibleEntries(): Promise<CatalogueEntry[]> {
  visible ??= (async () => {
    const db = await openModelDB();
    const shown = await Promise.all(
      catalogue.map(async (e) => {
        if (!e.bundled || (await db.get('models', e.id))) return e;
        return (await bundledAvailable(e, self.location.origin)) ? e : null;
      }),
    );
    return shown.filter((e): e is CatalogueEntry => e !== null);
  })();
  visible.catch(() => (visible = null));
  return visible;
}

async function estimate(): Promise<StorageEstimate> {
  const storage = self.navigator.storage;
  const { usage = 0, quota = 0 } = (await storage?.estimate?.()) ?? {};
  const persisted = (await storage?.persisted?.()) ?? false;
  return { usage, quota, persisted };
}

async function handle(request: LibraryRequest): Promise<Omit<Extract<LibraryEvent, { kind: 'result' }>, 'id' | 'kind'>> {
  switch (request.kind) {
    case 'list': {
      const entries = await visibleEntries();
      const states = await Promise.all(entries.map((e) => manager.state(e.id)));
      return { entries, states, estimate: await estimate() };
    }
    case 'download':
      await manager.start(request.modelId);
      return { states: [await manager.state(request.modelId)] };
    case 'pause':
      await manager.pause(request.modelId);
      return { states: [await manager.state(request.modelId)] };
    case 'cancel':
    case 'delete':
      await manager.remove(request.modelId);
      return { states: [await manager.state(request.modelId)], estimate: await estimate() };
    case 'estimate':
      return { estimate: await estimate() };
    default: {
      const never: never = request;
      throw new Error(`unknown library request ${JSON.stringify(never)}`);
    }
  }
}

self.onmessage = async (e: MessageEvent<LibraryMessage>) => {
  const { id, request } = e.data;
  try {
    post({ id, kind: 'result', ...(await handle(request)) });
  } catch (err) {
    post({ id, kind: 'error', error: serializeError(err) });
  }
};
