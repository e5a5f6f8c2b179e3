// EngineClient protocol mechanics over an in-memory transport (a Worker cannot run in Node):
// id routing, streamed chunks + final result, error classes, abort messages, crash and restart.
// The real worker is exercised end to end by e2e/chat.spec.ts (probe in Chromium).
import { describe, expect, it } from 'vitest';
import { AbortedError, ModelNotInstalledError, WorkerCrashedError, defaultSampling, serializeError } from '../../workers/protocol';
import type { EngineEvent, EngineMessage, GenerateStats } from '../../workers/protocol';
import { EngineClient, type WorkerLike } from './engine-client';

const stats: GenerateStats = {
  promptTokens: 10, visualTokens: 64, generatedTokens: 3, encodeMs: 5,
  timeToFirstTokenMs: 42, prefillTokensPerSecond: 100, decodeTokensPerSecond: 30, tokensPerStep: 1,
};

/** Records what the client posts; the test plays the worker's part by emitting events. */
class Transport implements WorkerLike {
  posted: EngineMessage[] = [];
  terminated = false;
  private listeners: Record<string, ((e: any) => void)[]> = {};
  postMessage(m: EngineMessage) { this.posted.push(m); }
  terminate() { this.terminated = true; }
  addEventListener(type: string, fn: (e: any) => void) { (this.listeners[type] ??= []).push(fn); }
  emit(ev: EngineEvent) { this.listeners.message?.forEach((fn) => fn({ data: ev })); }
  fail() { this.listeners.error?.forEach((fn) => fn(new Event('error'))); }
}

function setup() {
  const workers: Transport[] = [];
  const client = new EngineClient(() => { const t = new Transport(); workers.push(t); return t; });
  return { client, workers };
}

describe('EngineClient', () => {
  it('routes results by id', async () => {
    const { client, workers } = setup();
    const a = client.probe();
    const b = client.stats();
    const [ma, mb] = workers[0].posted;
    workers[0].emit({ id: mb.id, kind: 'result', result: { kind: 'stats', model: null, last: null, gpu: null } });
    workers[0].emit({ id: ma.id, kind: 'result', result: { kind: 'probe', gpu: { vendor: 'google', architecture: 'swiftshader', description: '', shaderF16: false, subgroups: false, maxBufferSize: 1, maxStorageBufferBindingSize: 1 } } });
    expect((await a).architecture).toBe('swiftshader');
    expect((await b).model).toBeNull();
    expect(ma.id).not.toBe(mb.id);
  });

  it('streams chunks in order and then the result', async () => {
    const { client, workers } = setup();
    const stream = client.generate('c1', [], defaultSampling);
    const { id } = workers[0].posted[0];
    const seen: string[] = [];
    const reading = (async () => { for await (const t of stream) seen.push(t); })();
    workers[0].emit({ id, kind: 'token', text: 'Hel' });
    workers[0].emit({ id, kind: 'token', text: 'lo' });
    workers[0].emit({ id, kind: 'result', result: { kind: 'generate', text: 'Hello', finishReason: 'stop', stats } });
    await reading;
    expect(seen.join('')).toBe('Hello');
    expect((await stream.result).stats.decodeTokensPerSecond).toBe(30);
  });

  it('rebuilds worker errors as their Error subclass', async () => {
    const { client, workers } = setup();
    const p = client.load('smolvlm-256m');
    workers[0].emit({ id: workers[0].posted[0].id, kind: 'error', error: serializeError(new ModelNotInstalledError('not installed')) });
    await expect(p).rejects.toBeInstanceOf(ModelNotInstalledError);
  });

  it('aborts through the signal: sends {kind:"abort", target} and rejects at once', async () => {
    const { client, workers } = setup();
    const ctl = new AbortController();
    const stream = client.generate('c1', [], defaultSampling, { signal: ctl.signal });
    const { id } = workers[0].posted[0];
    ctl.abort();
    await expect(stream.result).rejects.toBeInstanceOf(AbortedError);
    expect(workers[0].posted[1].request).toEqual({ kind: 'abort', target: id });
    workers[0].emit({ id, kind: 'token', text: 'late' }); // ignored
  });

  it('after a stop, the next generate waits until the worker reports the stopped one ended', async () => {
    const { client, workers } = setup();
    const ctl = new AbortController();
    const first = client.generate('c1', [], defaultSampling, { signal: ctl.signal });
    const { id } = workers[0].posted[0];
    ctl.abort();
    await expect(first.result).rejects.toBeInstanceOf(AbortedError);
    const second = client.generate('c1', [], defaultSampling);
    await Promise.resolve();
    expect(workers[0].posted.map((m) => m.request.kind)).toEqual(['generate', 'abort']); // held back
    workers[0].emit({ id, kind: 'result', result: { kind: 'generate', text: 'x', finishReason: 'abort', stats: {} as never } });
    await new Promise((r) => setTimeout(r, 0));
    expect(workers[0].posted.map((m) => m.request.kind)).toEqual(['generate', 'abort', 'generate']);
    const next = workers[0].posted[2].id;
    workers[0].emit({ id: next, kind: 'result', result: { kind: 'generate', text: 'ok', finishReason: 'stop', stats: {} as never } });
    await expect(second.result).resolves.toMatchObject({ text: 'ok' });
  });

  it('rejects pending calls with WorkerCrashedError on a crash and restarts on the next call', async () => {
    const { client, workers } = setup();
    const p = client.probe();
    workers[0].fail();
    await expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(workers[0].terminated).toBe(true);
    const q = client.unload();
    expect(workers).toHaveLength(2);
    workers[1].emit({ id: workers[1].posted[0].id, kind: 'result', result: { kind: 'unload' } });
    await expect(q).resolves.toBeUndefined();
  });
});
