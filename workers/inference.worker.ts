// Inference worker entry: decodes protocol messages, drives the Engine, streams events back.
// One generation at a time; `abort` cancels the request it names through its AbortController.
/// <reference lib="webworker" />
import { Engine } from './engine';
import type { EngineEvent, EngineMessage, EngineRequest, EngineResult } from './protocol/engine';
import { assertNever } from './protocol/engine';
import { serializeError } from './protocol/errors';

declare const self: DedicatedWorkerGlobalScope;

const engine = new Engine();
const controllers = new Map<number, AbortController>();

function post(event: EngineEvent): void {
  self.postMessage(event);
}

async function handle(id: number, request: EngineRequest, signal: AbortSignal): Promise<EngineResult> {
  const progress = (phase: Parameters<Parameters<Engine['load']>[1]>[0], done: number, total: number) =>
    post({ id, kind: 'progress', phase, done, total });
  switch (request.kind) {
    case 'probe':
      return { kind: 'probe', gpu: await engine.probe() };
    case 'load':
      return { kind: 'load', model: await engine.load(request.modelId, progress, signal) };
    case 'generate': {
      const it = engine.generate(request.conversationId, request.messages, request.sampling, progress, signal);
      for (;;) {
        const step = await it.next();
        if (step.done) return { kind: 'generate', ...step.value };
        if (step.value.text) post({ id, kind: 'token', text: step.value.text });
      }
    }
    case 'abort':
      controllers.get(request.target)?.abort();
      return { kind: 'abort' };
    case 'unload':
      await engine.unload();
      return { kind: 'unload' };
    case 'stats':
      return { kind: 'stats', ...engine.stats() };
    default:
      return assertNever(request);
  }
}

self.onmessage = async (e: MessageEvent<EngineMessage>) => {
  const { id, request } = e.data;
  const controller = new AbortController();
  controllers.set(id, controller);
  try {
    post({ id, kind: 'result', result: await handle(id, request, controller.signal) });
  } catch (err) {
    post({ id, kind: 'error', error: serializeError(err) });
  } finally {
    controllers.delete(id);
  }
};
