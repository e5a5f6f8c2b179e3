// Page helpers for the library specs: open the Library from the app's UI, find a model card,
// read what the download stored in IndexedDB ("lumen-models") straight from the browser, and
// shrink the origin's storage quota through the DevTools protocol.
import { expect, type Locator, type Page } from '@playwright/test';

/** Opens the model library the way a user does (the app's Models/Library control). */
export async function openLibrary(page: Page): Promise<Locator> {
  const panel = page.getByTestId('library-panel');
  if (!(await panel.isVisible())) {
    await page.getByRole('button', { name: /^(models|model library|library|manage models)/i }).first().click();
  }
  await expect(panel).toBeVisible();
  return panel;
}

export function modelCard(page: Page, modelId: string): Locator {
  return page.getByTestId(`model-${modelId}`);
}

export interface StoredFile {
  path: string;
  size: number;
  chunksDone: number;
  verified: boolean;
  /** sha-256 (hex) of the concatenated stored chunks. */
  sha256: string;
  storedBytes: number;
}

/** Reads every raw file of a model back from IndexedDB and hashes the stored bytes. */
export function storedFiles(page: Page, modelId: string): Promise<StoredFile[]> {
  return page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((ok, fail) => {
      const r = indexedDB.open('lumen-models');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    const all = <T,>(store: string, range: IDBKeyRange) =>
      new Promise<T[]>((ok, fail) => {
        const r = db.transaction(store).objectStore(store).getAll(range);
        r.onsuccess = () => ok(r.result as T[]);
        r.onerror = () => fail(r.error);
      });
    const files = await all<{ path: string; size: number; chunksDone: number; verified: boolean }>(
      'files',
      IDBKeyRange.bound([id], [id, []]),
    );
    const out = [];
    for (const f of files) {
      const chunks = await all<ArrayBuffer>('chunks', IDBKeyRange.bound([id, f.path], [id, f.path, []]));
      const total = chunks.reduce((s, c) => s + c.byteLength, 0);
      const joined = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        joined.set(new Uint8Array(c), off);
        off += c.byteLength;
      }
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
      const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      out.push({ path: f.path, size: f.size, chunksDone: f.chunksDone, verified: f.verified, sha256, storedBytes: total });
    }
    db.close();
    return out;
  }, modelId);
}

/** Number of records of a model in each store of "lumen-models". */
export function storedCounts(page: Page, modelId: string): Promise<Record<string, number>> {
  return page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((ok, fail) => {
      const r = indexedDB.open('lumen-models');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    const count = (store: string, range: IDBKeyRange | string) =>
      new Promise<number>((ok, fail) => {
        const r = db.transaction(store).objectStore(store).count(range);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => fail(r.error);
      });
    const range = IDBKeyRange.bound([id], [id, []]);
    const out = {
      models: await count('models', id),
      files: await count('files', range),
      chunks: await count('chunks', range),
      tensors: await count('tensors', range),
      tensorChunks: await count('tensorChunks', range),
    };
    db.close();
    return out;
  }, modelId);
}
