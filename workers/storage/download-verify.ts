// Verification of a fully downloaded raw file against what the hub reported: the byte count,
// then the sha-256 of LFS files (from the running hash kept while downloading) or the git blob
// sha-1 of small non-LFS files (recomputed from the stored chunks with WebCrypto). A mismatch
// discards the file's chunks (other files are kept) and raises an IntegrityError.
import type { CatalogueEntry } from '../protocol/library';
import { IntegrityError } from '../protocol/errors';
import type { FileRecord, ModelDatabase } from './model-db';
import { discardFile, prefixRange } from './model-db';
import { bytesDone, chunkCount } from './download-plan';
import type { Sha256 } from './sha256';
import { toHex } from './sha256';

/** Non-LFS files are small; above this their git sha-1 is not recomputed (size is still checked). */
const GIT_OID_MAX_BYTES = 64 * 1024 * 1024;

export async function verifyFile(db: ModelDatabase, entry: CatalogueEntry, rec: FileRecord, hasher: Sha256): Promise<void> {
  const stored = bytesDone(rec.size, rec.chunkBytes, rec.chunksDone);
  const storedChunks = await db.count('chunks', prefixRange(rec.modelId, rec.path));
  const fail = async (what: string) => {
    await discardFile(db, rec.modelId, rec.path);
    throw new IntegrityError(
      `"${rec.path}" of ${entry.name} failed verification: ${what}. The damaged download of this file was discarded ` +
        '(other files are kept); press Retry to download it again.',
    );
  };
  const expectedChunks = chunkCount(rec.size, rec.chunkBytes);
  if (stored !== rec.size || storedChunks !== expectedChunks) {
    await fail(`${storedChunks} of ${expectedChunks} chunks (${stored} of ${rec.size} bytes) are stored`);
  }
  const sha256 = hasher.digestHex();
  if (rec.sha256 && sha256 !== rec.sha256) {
    await fail(`its sha-256 is ${sha256.slice(0, 16)}… but the hub reports ${rec.sha256.slice(0, 16)}…`);
  }
  if (!rec.sha256 && rec.gitOid && rec.size <= GIT_OID_MAX_BYTES) {
    const oid = await gitBlobSha1(db, rec);
    if (oid !== rec.gitOid) await fail(`its git object id is ${oid.slice(0, 12)}… but the hub reports ${rec.gitOid.slice(0, 12)}…`);
  }
}

/** sha-1 of "blob <size>\0" + content: the id git (and the hub's `oid`) gives a small file. */
async function gitBlobSha1(db: ModelDatabase, rec: FileRecord): Promise<string> {
  const header = new TextEncoder().encode(`blob ${rec.size}\0`);
  const all = new Uint8Array(header.length + rec.size);
  all.set(header, 0);
  const chunks = await db.getAll('chunks', prefixRange(rec.modelId, rec.path));
  let off = header.length;
  for (const c of chunks) {
    all.set(new Uint8Array(c), off);
    off += c.byteLength;
  }
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-1', all)));
}
