// A small static host for e2e specs that need more control than `vite preview`: serves a build
// folder the way a static host does (the folder's `_headers` file applied per path, SPA fallback
// to index.html for navigations), and lets a spec replace a file's bytes while it runs (to
// "deploy" a new service worker, for example). Also usable as a plain origin for other content.
//   const server = await startStaticServer('dist-pwa'); server.url -> 'http://localhost:PORT'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
};

export interface HeaderRule {
  /** "/exact/path" or a prefix ending in "*" ("/assets/*", "/*"). */
  pattern: string;
  headers: Record<string, string>;
}

/** Parses a Netlify/Cloudflare-style `_headers` file (path lines, then indented "Name: value"). */
export function parseHeadersFile(text: string): HeaderRule[] {
  const rules: HeaderRule[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (!/^\s/.test(line)) {
      rules.push({ pattern: line.trim(), headers: {} });
    } else if (rules.length > 0) {
      const colon = line.indexOf(':');
      rules[rules.length - 1].headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
  }
  return rules;
}

function headersFor(rules: HeaderRule[], path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { pattern, headers } of rules) {
    const match = pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;
    if (match) Object.assign(out, headers);
  }
  return out;
}

export interface StaticServer {
  /** Origin, e.g. http://localhost:43817 */
  url: string;
  /** Serve these bytes at `path` instead of the file (null restores the file). */
  override(path: string, body: string | Buffer | null): void;
  /** Paths requested so far, in order (method + path). */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startStaticServer(rootDir: string, options: { port?: number } = {}): Promise<StaticServer> {
  const root = resolve(rootDir);
  const headersPath = join(root, '_headers');
  const rules = existsSync(headersPath) ? parseHeadersFile(readFileSync(headersPath, 'utf8')) : [];
  const overrides = new Map<string, Buffer>();
  const requests: string[] = [];

  const send = (res: ServerResponse, status: number, path: string, body: Buffer, type: string) => {
    res.writeHead(status, { ...headersFor(rules, path), 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
    res.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(`${req.method} ${path}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, path, Buffer.from('method not allowed'), 'text/plain');
      return;
    }
    const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
    const override = overrides.get(path);
    if (override) return send(res, 200, path, override, type);
    const file = normalize(join(root, path));
    if (file.startsWith(root) && existsSync(file) && statSync(file).isFile()) {
      return send(res, 200, path, readFileSync(file), type);
    }
    if ((req.headers.accept ?? '').includes('text/html')) {
      return send(res, 200, '/index.html', readFileSync(join(root, 'index.html')), CONTENT_TYPES['.html']);
    }
    send(res, 404, path, Buffer.from('not found'), 'text/plain');
  };

  const server = createServer(handle);
  await new Promise<void>((done) => server.listen(options.port ?? 0, 'localhost', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    override(path, body) {
      if (body === null) overrides.delete(path);
      else overrides.set(path, Buffer.isBuffer(body) ? body : Buffer.from(body));
    },
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
