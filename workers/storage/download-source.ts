// Where a catalogue model's raw files come from and what they should be: for hub entries the
// tree API of the pinned revision (size, and sha-256 for LFS files or the git blob sha-1 for
// small ones) and the `resolve` URL (which may redirect to a CDN); for bundled entries the app's
// own /models/<id>/ folder, sized by HEAD. Network failures become NetworkError.
import type { CatalogueEntry } from '../protocol/library';
import { ModelFormatError, ModelNotInstalledError, NetworkError } from '../protocol/errors';

export const HUB_ORIGIN = 'https://huggingface.co';

export interface RemoteFile {
  path: string;
  url: string;
  size: number;
  sha256: string | null;
  gitOid: string | null;
}

/** One entry of `GET /api/models/<repo>/tree/<revision>` (the fields we use). */
interface TreeEntry {
  type: string;
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

export function resolveUrl(entry: CatalogueEntry, path: string, appOrigin: string): string {
  const file = path.split('/').map(encodeURIComponent).join('/');
  if (entry.source.kind === 'bundled') return `${appOrigin}/models/${encodeURIComponent(entry.id)}/${file}`;
  return `${HUB_ORIGIN}/${entry.source.repo}/resolve/${entry.source.revision}/${file}`;
}

export function treeUrl(repo: string, revision: string): string {
  return `${HUB_ORIGIN}/api/models/${repo}/tree/${revision}`;
}

async function request(url: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-store', ...init });
  } catch (err) {
    if (init.signal?.aborted) throw err;
    throw new NetworkError(`Could not reach ${new URL(url).host} to ${what} (${offlineHint()}). Progress is kept; press Resume when you are back online.`);
  }
  return res;
}

function offlineHint(): string {
  return typeof navigator !== 'undefined' && navigator.onLine === false ? 'you are offline' : 'the connection failed';
}

/** Lists the files of a catalogue entry with their expected sizes and hashes. */
export async function listRemoteFiles(entry: CatalogueEntry, appOrigin: string, signal: AbortSignal): Promise<RemoteFile[]> {
  if (entry.source.kind === 'bundled') return listBundled(entry, appOrigin, signal);
  const { repo, revision } = entry.source;
  const res = await request(treeUrl(repo, revision), { signal }, `list the files of ${repo}`);
  if (!res.ok) {
    throw new NetworkError(`The model hub answered ${res.status} when listing ${repo} at revision ${revision.slice(0, 12)}. Try again later.`);
  }
  let tree: TreeEntry[];
  try {
    tree = (await res.json()) as TreeEntry[];
    if (!Array.isArray(tree)) throw new Error('not a list');
  } catch {
    throw new ModelFormatError(`The model hub's file list for ${repo} is not valid JSON.`);
  }
  const byPath = new Map(tree.filter((t) => t.type === 'file').map((t) => [t.path, t]));
  const out: RemoteFile[] = [];
  for (const f of entry.files) {
    const t = byPath.get(f.path);
    if (!t) {
      if (f.optional) continue;
      throw new ModelFormatError(`${repo} at revision ${revision.slice(0, 12)} has no "${f.path}"; this catalogue entry cannot be downloaded.`);
    }
    const lfs = t.lfs;
    out.push({
      path: f.path,
      url: resolveUrl(entry, f.path, appOrigin),
      size: lfs ? lfs.size : t.size,
      sha256: lfs ? lfs.oid.toLowerCase() : null,
      gitOid: !lfs && t.oid ? t.oid.toLowerCase() : null,
    });
  }
  return out;
}

async function listBundled(entry: CatalogueEntry, appOrigin: string, signal: AbortSignal): Promise<RemoteFile[]> {
  const out: RemoteFile[] = [];
  for (const f of entry.files) {
    const url = resolveUrl(entry, f.path, appOrigin);
    const res = await request(url, { method: 'HEAD', signal }, `find the bundled file ${f.path}`);
    const len = Number(res.headers.get('content-length'));
    // A static server may answer a missing file with the app's index.html (SPA fallback).
    const isHtml = (res.headers.get('content-type') ?? '').startsWith('text/html');
    if (!res.ok || isHtml || !Number.isFinite(len)) {
      if (f.optional) continue;
      throw new ModelNotInstalledError(`The demo model file "${f.path}" is not part of this build of Lumen.`);
    }
    out.push({ path: f.path, url, size: len, sha256: null, gitOid: null });
  }
  return out;
}

/** Whether a bundled entry's files are present in this build (its config.json answers). */
export async function bundledAvailable(entry: CatalogueEntry, appOrigin: string): Promise<boolean> {
  try {
    const res = await fetch(resolveUrl(entry, 'config.json', appOrigin), { method: 'HEAD', cache: 'no-store' });
    return res.ok && !(res.headers.get('content-type') ?? '').startsWith('text/html');
  } catch {
    return false;
  }
}
