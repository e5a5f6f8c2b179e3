// Page-side persistence over the app database (web/lib/db-schema.ts): conversations, messages,
// images (deduplicated by sha-256) and the share-target inbox. Every write lands in IndexedDB
// at once, so a reload or crash loses nothing; startup turns answers left 'streaming' by a crash
// into 'interrupted'.
import type { IDBPDatabase } from 'idb';
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
  await tx.objectStore('conversations').delete(id);
  if (doomed.size) {
    let cursor = await messages.openCursor();
    while (cursor) {
      cursor.value.imageIds.forEach((i) => doomed.delete(i));
      cursor = await cursor.continue();
    }
    for (const imageId of doomed) await tx.objectStore('images').delete(imageId);
  }
  await tx.done;
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
