// Schema of the app's IndexedDB database ("lumen-app"), shared by the page (web/lib/db.ts) and
// the service worker (web/sw.ts, which writes shared photos into `inbox`). Model weights live in
// a separate database owned by workers/storage.
import type { DBSchema, IDBPDatabase } from 'idb';
import { openDB } from 'idb';

export const APP_DB_NAME = 'lumen-app';
export const APP_DB_VERSION = 1;

export interface ConversationRecord {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  /** Catalogue id of the model last used in this conversation. */
  modelId?: string;
}

export interface StoredStats {
  timeToFirstTokenMs: number;
  decodeTokensPerSecond: number;
  visualTokens: number;
  generatedTokens: number;
}

export interface MessageRecord {
  id: string;
  conversationId: string;
  role: 'user' | 'assistant';
  text: string;
  /** ids into the `images` store, in the order the user attached them. */
  imageIds: string[];
  createdAt: number;
  /** assistant only: 'streaming' until done; a crash leaves it 'interrupted' on next load. */
  status?: 'streaming' | 'done' | 'stopped' | 'error' | 'interrupted';
  error?: string;
  stats?: StoredStats;
}

export interface ImageRecord {
  /** sha-256 (hex) of the downscaled bytes: identical photos are stored and encoded once. */
  id: string;
  blob: Blob;
  width: number;
  height: number;
  createdAt: number;
}

export interface InboxRecord {
  id?: number;
  receivedAt: number;
  title?: string;
  text?: string;
  files: { name: string; type: string; blob: Blob }[];
}

export interface AppDB extends DBSchema {
  conversations: { key: string; value: ConversationRecord; indexes: { updatedAt: number } };
  messages: { key: string; value: MessageRecord; indexes: { conversationId: string } };
  images: { key: string; value: ImageRecord };
  inbox: { key: number; value: InboxRecord };
}

export function openAppDB(): Promise<IDBPDatabase<AppDB>> {
  return openDB<AppDB>(APP_DB_NAME, APP_DB_VERSION, {
    upgrade(db) {
      const conversations = db.createObjectStore('conversations', { keyPath: 'id' });
      conversations.createIndex('updatedAt', 'updatedAt');
      const messages = db.createObjectStore('messages', { keyPath: 'id' });
      messages.createIndex('conversationId', 'conversationId');
      db.createObjectStore('images', { keyPath: 'id' });
      db.createObjectStore('inbox', { keyPath: 'id', autoIncrement: true });
    },
  });
}
