// fetchChunk against a real local HTTP server (Node's fetch): exact range bodies, a whole-file
// 200 for a one-chunk file, retries after a dropped connection or a 500, and the errors for a
// server that ignores ranges, a short body that keeps failing, and a 404.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchChunk } from './download-fetch';
import { chunkRange } from './download-plan';
import { NetworkError } from '../protocol/errors';

const data = randomBytes(100_000);
let server: Server;
let base = '';
/** Per path: how many upcoming requests misbehave, and how. */
const faults = new Map<string, { kind: 'drop' | '500'; left: number }>();
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    const path = req.url ?? '/';
    if (path === '/missing') return void res.writeHead(404).end();
    const f = faults.get(path);
    const fault = f && f.left > 0 ? (f.left--, f.kind) : null;
    if (fault === '500') return void res.writeHead(500).end('boom');
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const ranged = m !== null && path !== '/norange';
    const [start, end] = ranged ? [Number(m[1]), Number(m[2])] : [0, data.length - 1];
    const body = data.subarray(start, end + 1);
    res.writeHead(ranged ? 206 : 200, { 'Content-Length': body.length });
    if (fault === 'drop') {
      res.write(body.subarray(0, 10));
      setTimeout(() => res.destroy(), 10);
      return;
    }
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

const opts = (path: string, index: number, chunk = 30_000) => ({
  url: base + path,
  range: chunkRange(data.length, chunk, index),
  fileSize: data.length,
  signal: new AbortController().signal,
  onBytes: () => {},
  backoffMs: 1,
});

describe('fetchChunk', () => {
  it('returns exactly the requested range', async () => {
    const got = await fetchChunk(opts('/ok', 3));
    expect(Buffer.from(got).equals(data.subarray(90_000, 100_000))).toBe(true);
  });

  it('accepts a 200 with the whole file for a one-chunk file', async () => {
    const got = await fetchChunk(opts('/norange', 0, 1 << 20));
    expect(Buffer.from(got).equals(data)).toBe(true);
  });

  it('refuses a server that ignores ranges mid-file', async () => {
    await expect(fetchChunk(opts('/norange', 1))).rejects.toThrow(/ignored the range request/);
  });

  it('retries a 500 transparently', async () => {
    faults.set('/flaky', { kind: '500', left: 2 });
    const got = await fetchChunk(opts('/flaky', 1));
    expect(Buffer.from(got).equals(data.subarray(30_000, 60_000))).toBe(true);
  });

  it('retries after a connection dropped mid-body, reporting progress from zero again', async () => {
    faults.set('/drop', { kind: 'drop', left: 1 });
    const seen: number[] = [];
    const got = await fetchChunk({ ...opts('/drop', 2), onBytes: (n) => seen.push(n) });
    expect(Buffer.from(got).equals(data.subarray(60_000, 90_000))).toBe(true);
    expect(seen).toContain(0);
    expect(seen[seen.length - 1]).toBe(30_000);
  });

  it('gives up with a NetworkError when every attempt fails', async () => {
    faults.set('/down', { kind: '500', left: 10 });
    const before = hits;
    const err = await fetchChunk({ ...opts('/down', 0), attempts: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toMatch(/answered 500.*Progress is kept/);
    expect(hits - before).toBe(3);
  });

  it('reports a 404 without retrying', async () => {
    const before = hits;
    await expect(fetchChunk(opts('/missing', 0))).rejects.toThrow(/answered 404/);
    expect(hits - before).toBe(1);
  });

  it('stops at once when aborted', async () => {
    const ac = new AbortController();
    ac.abort(new Error('paused'));
    await expect(fetchChunk({ ...opts('/ok', 0), signal: ac.signal })).rejects.toThrow('paused');
  });
});
