/// <reference lib="webworker" />
// Service worker (Workbox, injectManifest): precaches the app shell only (JS, CSS, HTML, icons,
// fonts, the manifest — see vite.config.ts globPatterns; never /models/**), answers navigations
// with the precached index.html so the app opens offline, and receives Web Share Target POSTs:
// shared photos are stored as Blobs in the app database's `inbox` store, then the page is
// redirected to /?share=<inboxId>, where the chat opens a new conversation with them attached.
// Model weights and hub requests never pass through here: no runtime caching routes exist, so any
// request that is not a precached asset, a navigation or a share goes straight to the network.
// A new version waits until the page asks it to take over (message {type: 'SKIP_WAITING'}).
import { clientsClaim } from 'workbox-core';
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { openAppDB, type InboxRecord } from './lib/db-schema';

declare const self: ServiceWorkerGlobalScope;

/** Form fields of the manifest's share_target (public/manifest.webmanifest). */
const SHARE_PATH = '/share-target';
const SHARE_FILES_FIELD = 'photos';

// --- app shell -------------------------------------------------------------------------------

cleanupOutdatedCaches(); // drops precaches written by older Workbox versions
precacheAndRoute(self.__WB_MANIFEST);

// Any GET navigation inside the scope gets the shell; the page reads the URL itself.
// /models/ (embedded demo model files) is never answered with HTML.
registerRoute(new NavigationRoute(createHandlerBoundToURL('/index.html'), { denylist: [/^\/models\//] }));

// --- Web Share Target ----------------------------------------------------------------------------

registerRoute(
  ({ url, request }) => url.origin === self.location.origin && url.pathname === SHARE_PATH && request.method === 'POST',
  async ({ request }) => {
    let form: FormData;
    try {
      form = await request.formData();
    } catch {
      return shareFailed('The shared content could not be read (it was not sent as a form). Try sharing it again.');
    }
    try {
      const inboxId = await storeShare(form);
      return Response.redirect(`/?share=${inboxId}`, 303);
    } catch (error) {
      // Nothing was stored, so nothing is half-imported; the page shows why (web/lib/pwa.ts).
      if (error instanceof DOMException && error.name === 'QuotaExceededError') {
        return shareFailed('There is not enough storage to keep the shared photos. Free some space (for example, delete a model in the library) and share again.');
      }
      return shareFailed(`The shared photos could not be saved: ${error instanceof Error ? error.message : String(error)}`);
    }
  },
  'POST',
);

function shareFailed(message: string): Response {
  return Response.redirect(`/?share-error=${encodeURIComponent(message)}`, 303);
}

/** Writes one shared payload (title/text/url + files) into the inbox; resolves to its key. */
async function storeShare(form: FormData): Promise<number> {
  const files: InboxRecord['files'] = [];
  for (const entry of form.getAll(SHARE_FILES_FIELD)) {
    // A share sheet sends an empty File when the user shared only text.
    if (typeof entry === 'string' || entry.size === 0) continue;
    files.push({ name: entry.name || 'shared-photo', type: entry.type, blob: entry });
  }
  const text = [field(form, 'text'), field(form, 'url')].filter((part) => part !== undefined).join('\n');
  const record: InboxRecord = {
    receivedAt: Date.now(),
    title: field(form, 'title'),
    text: text === '' ? undefined : text,
    files,
  };
  const db = await openAppDB();
  try {
    return await db.add('inbox', record);
  } finally {
    db.close();
  }
}

function field(form: FormData, name: string): string | undefined {
  const value = form.get(name);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

// --- lifecycle -------------------------------------------------------------------------------------

// The first install takes control of open pages at once (nothing older to be compatible with);
// an update stays waiting until the user accepts the "new version" prompt.
clientsClaim();

self.addEventListener('message', (event: ExtendableMessageEvent) => {
  const data: unknown = event.data;
  if (typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'SKIP_WAITING') {
    void self.skipWaiting();
  }
});
