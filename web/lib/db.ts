// Page-side persistence over the app database (web/lib/db-schema.ts): conversations, messages,
// images (deduplicated by sha-256) and the share-target inbox. Every write lands in IndexedDB
// at once, so a reload or crash loses nothing; startup turns answers left 'streaming' by a crash
// into 'interrupted'.
import type { IDBPDatabase, IDBPTransaction } from 'idb';
import { openAppDB } from './db-schema';
import type { AppDB, ConversationRecord, ImageRecord, InboxRecord, MessageRecord } from './db-schema';

let dbPromise: Promise<IDBPDatabase<AppDB>> | null = null;

export function db(): Promise<IDBPDatabase<AppDB>> {
  dbPromise ??= openAppDB().catch((err) => {
    dbPromise = null; // let the next call try again
    throw err;
  });
  return dbPromise;
}

export function newId(): string {
  return crypto.randomUUID();
}

/** All conversations, most recently updated first. */
export async function listConversations(): Promise<ConversationRecord[]> {
  const all = await (await db()).getAllFromIndex('conversations', 'updatedAt');
  return all.reverse();
}

export async function putConversation(c: ConversationRecord): Promise<void> {
  await (await db()).put('conversations', c);
}

export async function getConversation(id: string): Promise<ConversationRecord | undefined> {
  return (await db()).get('conversations', id);
}

/**
 * What the composer held for a conversation when the page went away: text and photos (already in
 * the `images` store). Kept as an extra property of the conversation record; IndexedDB needs no
 * schema change for it, and readers that don't know it ignore it.
 */
export interface Draft {
  text: string;
  images: { id: string; name: string }[];
}

export type ConversationWithDraft = ConversationRecord & { draft?: Draft };

/** Read-modify-write of one conversation in a single transaction (never overwrites with stale data). */
export async function updateConversation(id: string, patch: Partial<ConversationWithDraft>): Promise<void> {
  const tx = (await db()).transaction('conversations', 'readwrite');
  const conv = (await tx.store.get(id)) as ConversationWithDraft | undefined;
  if (conv) {
    const next: ConversationWithDraft = { ...conv, ...patch };
    if (next.draft === undefined) delete next.draft;
    await tx.store.put(next);
  }
  await tx.done;
}

export async function getDraft(id: string): Promise<Draft | undefined> {
  return ((await getConversation(id)) as ConversationWithDraft | undefined)?.draft;
}

/** Messages of one conversation in the order they were written. */
export async function listMessages(conversationId: string): Promise<MessageRecord[]> {
  const all = await (await db()).getAllFromIndex('messages', 'conversationId', conversationId);
  return all.sort((a, b) => a.createdAt - b.createdAt);
}

/** Writes a message and bumps its conversation's updatedAt in one transaction. */
export async function putMessage(m: MessageRecord): Promise<void> {
  const tx = (await db()).transaction(['messages', 'conversations'], 'readwrite');
  await tx.objectStore('messages').put(m);
  const conv = await tx.objectStore('conversations').get(m.conversationId);
  if (conv) await tx.objectStore('conversations').put({ ...conv, updatedAt: Math.max(conv.updatedAt, Date.now()) });
  await tx.done;
}

export async function deleteMessages(ids: string[]): Promise<void> {
  const tx = (await db()).transaction('messages', 'readwrite');
  await Promise.all([...ids.map((id) => tx.store.delete(id)), tx.done]);
}

/** Deletes a conversation, its messages, and the images no other message still refers to. */
export async function deleteConversation(id: string): Promise<void> {
  const d = await db();
  const tx = d.transaction(['conversations', 'messages', 'images'], 'readwrite');
  const messages = tx.objectStore('messages');
  const doomed = new Set<string>();
  for (const m of await messages.index('conversationId').getAll(id)) {
    m.imageIds.forEach((i) => doomed.add(i));
    await messages.delete(m.id);
  }
  const conversations = tx.objectStore('conversations');
  ((await conversations.get(id)) as ConversationWithDraft | undefined)?.draft?.images.forEach((i) => doomed.add(i.id));
  await conversations.delete(id);
  if (doomed.size) {
    for (const used of await referencedImageIds(tx)) doomed.delete(used);
    for (const imageId of doomed) await tx.objectStore('images').delete(imageId);
  }
  await tx.done;
}

type ChatTx = IDBPTransaction<AppDB, ('conversations' | 'messages' | 'images')[], 'readwrite'>;

/** Image ids still used by any message or any conversation's draft. */
async function referencedImageIds(tx: ChatTx): Promise<Set<string>> {
  const used = new Set<string>();
  let m = await tx.objectStore('messages').openCursor();
  while (m) {
    m.value.imageIds.forEach((i) => used.add(i));
    m = await m.continue();
  }
  let c = await tx.objectStore('conversations').openCursor();
  while (c) {
    (c.value as ConversationWithDraft).draft?.images.forEach((i) => used.add(i.id));
    c = await c.continue();
  }
  return used;
}

/** Startup housekeeping: deletes photos nothing refers to any more (removed drafts, crashes). */
export async function sweepImages(): Promise<number> {
  const tx = (await db()).transaction(['conversations', 'messages', 'images'], 'readwrite');
  const used = await referencedImageIds(tx);
  let n = 0;
  let cursor = await tx.objectStore('images').openKeyCursor();
  while (cursor) {
    if (!used.has(cursor.key)) {
      await tx.objectStore('images').delete(cursor.key);
      n++;
    }
    cursor = await cursor.continue();
  }
  await tx.done;
  return n;
}

/** Stores a photo once per content hash; an identical photo already stored is kept as is. */
export async function putImage(img: ImageRecord): Promise<void> {
  const tx = (await db()).transaction('images', 'readwrite');
  if (!(await tx.store.getKey(img.id))) await tx.store.put(img);
  await tx.done;
}

export async function getImage(id: string): Promise<ImageRecord | undefined> {
  return (await db()).get('images', id);
}

/** Crash recovery: answers still marked 'streaming' at startup were cut off. Returns how many. */
export async function markInterrupted(): Promise<number> {
  const tx = (await db()).transaction('messages', 'readwrite');
  let n = 0;
  let cursor = await tx.store.openCursor();
  while (cursor) {
    if (cursor.value.status === 'streaming') {
      await cursor.update({ ...cursor.value, status: 'interrupted' });
      n++;
    }
    cursor = await cursor.continue();
  }
  await tx.done;
  return n;
}

export async function listInbox(): Promise<InboxRecord[]> {
  return (await db()).getAll('inbox');
}

export async function deleteInbox(id: number): Promise<void> {
  await (await db()).delete('inbox', id);
}
