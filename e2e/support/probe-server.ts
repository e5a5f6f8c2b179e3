// A stand-in for "some other host on the internet" in privacy tests: a local HTTP server on
// 127.0.0.1 (a different origin from the app on localhost) that answers every request with
// "probe" (CORS open, so only a Content-Security-Policy can stop a fetch) and records the paths
// it was asked for. /no-csp.html is a page without any policy, for control measurements; open it
// through `pageOrigin` (http://localhost:PORT) so fetches from it to `url` are cross-origin too.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProbeServer {
  /** http://127.0.0.1:PORT — the "external host" */
  url: string;
  /** http://localhost:PORT — where /no-csp.html is opened from */
  pageOrigin: string;
  /** Paths requested, in order (the control page itself not included). */
  readonly hits: string[];
  close(): Promise<void>;
}

export async function startProbeServer(): Promise<ProbeServer> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/no-csp.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>no policy</title><p>control page</p>');
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    hits.push(path);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Access-Control-Allow-Origin': '*' });
    res.end('probe');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pageOrigin: `http://localhost:${port}`,
    hits,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
