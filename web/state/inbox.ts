// Photos arriving from outside: the Web Share Target inbox (the service worker stores a POSTed
// share as an InboxRecord and redirects to /?share=<id>) and the File Handling launch queue.
// Each arrival opens a new conversation with the photos attached in the composer.
import { deleteInbox, listInbox } from '../lib/db';
import { chat } from './chat.svelte';

/**
 * Consumes every pending share, deletes the records and cleans the URL. Shares that piled up
 * while the app was closed open together in one new conversation, so none of their photos is
 * dropped from the composer.
 */
export async function consumeInbox(): Promise<void> {
  try {
    const records = (await listInbox()).sort((a, b) => a.receivedAt - b.receivedAt);
    if (records.length) {
      const files = records.flatMap((r) => r.files.map((f) => ({ name: f.name, blob: f.blob })));
      const text = records.map((r) => r.text?.trim()).filter(Boolean).join('\n');
      await chat.openShared(records.find((r) => r.title)?.title, text, files);
      for (const rec of records) if (rec.id !== undefined) await deleteInbox(rec.id);
    }
  } catch (err) {
    // The records stay in the inbox, so the next start tries again.
    chat.storageError = `Could not open the shared photos: ${err instanceof Error ? err.message : String(err)}. Reload to try again.`;
  } finally {
    const url = new URL(location.href);
    if (url.searchParams.has('share')) {
      url.searchParams.delete('share');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    }
  }
}

interface LaunchParams {
  files: readonly FileSystemFileHandle[];
}
interface LaunchQueue {
  setConsumer(consumer: (params: LaunchParams) => void): void;
}

/** Opens files the installed app was launched with (manifest file_handlers), where supported. */
export function consumeLaunchQueue(): void {
  const queue = (window as Window & { launchQueue?: LaunchQueue }).launchQueue;
  if (!queue) return;
  queue.setConsumer(async (params) => {
    if (!params.files?.length) return;
    const files = await Promise.all(params.files.map(async (h) => ({ name: h.name, blob: await h.getFile() })));
    await chat.openShared(undefined, undefined, files);
  });
}
