// A local HTTP server laid out like the Hugging Face hub, the only test double of the library
// specs (it stands in for the internet). The first path segment is the host the browser asked
// for (hub-route.ts maps https://<host>/<path> to <server>/<host>/<path>):
//   /huggingface.co/api/models/<org>/<repo>/tree/<rev>   file list: size, oid, lfs {oid, size}
//   /huggingface.co/<org>/<repo>/resolve/<rev>/<file>   small files served; LFS files 302 to the CDN
//   /cdn-lfs.hf.co/repos/<org>/<repo>/<sha256>          LFS bytes, with Range support
// Failure injection per file: drop the connection after N bytes, corrupt one byte, answer 500,
// or stall until released. Every request is logged (method, file, Range) for assertions.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

export const CDN_HOST = 'cdn-lfs.hf.co';

export interface HubFile {
  path: string;
  bytes: Buffer;
  lfs: boolean;
  sha256: string;
  gitOid: string;
  /** Size the file list claims instead of the real one (a model too big for any quota). */
  listedSize?: number;
}

export interface HubRepo {
  repo: string; // "org/name"
  revision: string;
  files: HubFile[];
}

export type Fault =
  | { kind: 'drop'; afterBytes: number }
  | { kind: 'corrupt'; at: number } // flips one byte at this offset of the range served
  | { kind: 'status'; status: number }
  | { kind: 'stall' };

export interface FaultRule {
  file: string;
  fault: Fault;
  /** Matching requests to let through before the fault applies. */
  skip?: number;
  /** How many requests it applies to (default 1). */
  times?: number;
}

export interface LoggedRequest {
  method: string;
  file: string;
  range: string | null;
  /** 'resolve' (hub), 'cdn', or 'tree'. */
  via: string;
}

export interface HubServer {
  url: string;
  readonly requests: LoggedRequest[];
  inject(rule: FaultRule): void;
  clearFaults(): void;
  /** Lets stalled responses go on (or fail, if `drop`). */
  release(): void;
  /** Resolves when a request is stalled. */
  stalled(): Promise<void>;
  close(): Promise<void>;
}

export function hubFile(path: string, bytes: Buffer, lfs: boolean): HubFile {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const gitOid = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { path, bytes, lfs, sha256, gitOid };
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Range, Content-Type',
  'Access-Control-Expose-Headers': 'Content-Range, Content-Length, Accept-Ranges, ETag, X-Linked-Size, X-Repo-Commit',
};

export async function startHubServer(repos: HubRepo[]): Promise<HubServer> {
  const requests: LoggedRequest[] = [];
  let rules: (FaultRule & { seen: number; used: number })[] = [];
  let releaseStalls: (() => void)[] = [];
  let stallWaiters: (() => void)[] = [];

  const takeFault = (file: string): Fault | null => {
    for (const r of rules) {
      if (r.file !== file) continue;
      if (r.seen++ < (r.skip ?? 0)) continue;
      if (r.used >= (r.times ?? 1)) continue;
      r.used++;
      return r.fault;
    }
    return null;
  };

  const serveBytes = async (req: IncomingMessage, res: ServerResponse, file: HubFile, via: string) => {
    const range = req.headers.range ?? null;
    requests.push({ method: req.method ?? 'GET', file: file.path, range, via });
    const size = file.bytes.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (start > end) {
        res.writeHead(416, { ...CORS, 'Content-Range': `bytes */${size}` });
        return res.end();
      }
      status = 206;
    }
    const fault = req.method === 'GET' ? takeFault(file.path) : null;
    if (fault?.kind === 'stall') {
      stallWaiters.forEach((w) => w());
      stallWaiters = [];
      await new Promise<void>((go) => releaseStalls.push(go));
    }
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { ...CORS, 'Content-Type': 'text/plain' });
      return res.end('injected failure');
    }
    let body = file.bytes.subarray(start, end + 1);
    if (fault?.kind === 'corrupt') {
      body = Buffer.from(body);
      body[Math.min(fault.at, body.length - 1)] ^= 0xff;
    }
    const headers: Record<string, string | number> = {
      ...CORS,
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Accept-Ranges': 'bytes',
      ETag: `"${file.sha256}"`,
    };
    if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return res.end();
    if (fault?.kind === 'drop') {
      res.write(body.subarray(0, Math.min(fault.afterBytes, body.length - 1)));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [host, ...rest] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const path = rest.join('/');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS);
      return res.end();
    }
    for (const r of repos) {
      if (host === 'huggingface.co' && path === `api/models/${r.repo}/tree/${r.revision}`) {
        requests.push({ method: req.method ?? 'GET', file: '', range: null, via: 'tree' });
        const list = r.files.map((f) => ({
          type: 'file',
          oid: f.lfs ? createHash('sha1').update(f.sha256).digest('hex') : f.gitOid,
          size: f.listedSize ?? f.bytes.length,
          path: f.path,
          ...(f.lfs ? { lfs: { oid: f.sha256, size: f.listedSize ?? f.bytes.length, pointerSize: 134 } } : {}),
        }));
        res.writeHead(200, { ...CORS, 'Content-Type': 'application/json' });
        return res.end(JSON.stringify(list));
      }
      const prefix = `${r.repo}/resolve/${r.revision}/`;
      if (host === 'huggingface.co' && path.startsWith(prefix)) {
        const file = r.files.find((f) => f.path === path.slice(prefix.length));
        if (!file) break;
        if (!file.lfs) return serveBytes(req, res, file, 'resolve');
        requests.push({ method: req.method ?? 'GET', file: file.path, range: req.headers.range ?? null, via: 'resolve' });
        res.writeHead(302, { ...CORS, Location: `https://${CDN_HOST}/repos/${r.repo}/${file.sha256}?X-Amz-Expires=3600` });
        return res.end();
      }
      if (host === CDN_HOST && path.startsWith(`repos/${r.repo}/`)) {
        const file = r.files.find((f) => f.lfs && f.sha256 === path.slice(`repos/${r.repo}/`.length));
        if (file) return serveBytes(req, res, file, 'cdn');
      }
    }
    res.writeHead(404, { ...CORS, 'Content-Type': 'text/plain' });
    res.end('Entry not found');
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject(rule) {
      rules.push({ ...rule, seen: 0, used: 0 });
    },
    clearFaults() {
      rules = [];
    },
    release() {
      releaseStalls.forEach((go) => go());
      releaseStalls = [];
    },
    stalled() {
      if (releaseStalls.length > 0) return Promise.resolve();
      return new Promise<void>((done) => stallWaiters.push(done));
    },
    close: () =>
      new Promise<void>((done) => {
        releaseStalls.forEach((go) => go());
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
