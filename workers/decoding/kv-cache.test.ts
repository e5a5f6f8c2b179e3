// KV cache manager bookkeeping on a real (SwiftShader) device: capacity fitting, reserve/commit,
// common-prefix reuse, truncation, the PPD compaction plan, and the named error when full.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuContext, type GpuContext } from '../gpu/context';
import { nodeGpu } from '../gpu/node';
import { ContextFullError, KvCache, fitCapacity, kvLayerBytes } from './kv-cache';
import { MAX_TOP_K, InvalidSamplingError, Selector, seededUniform } from './sampling';
import { defaultSampling } from '../protocol/engine';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createGpuContext(await nodeGpu());
});
afterAll(() => ctx?.destroy());

describe('KvCache', () => {
  it('allocates per-layer K/V in the ops layout and tracks committed ids', () => {
    const kv = new KvCache(ctx, { numLayers: 2, numKvHeads: 2, headDim: 16, capacity: 10 });
    expect(kv.layers).toHaveLength(2);
    expect(kv.layers[0].k.shape).toEqual([2, 10, 16]);
    expect(kv.gpuBytes).toBe(2 * 2 * kvLayerBytes(kv.layout));
    expect(kv.reserve(4)).toBe(0);
    expect([...kv.sequentialPositions(4)]).toEqual([0, 1, 2, 3]);
    kv.commit([5, 6, 7, 8]);
    expect(kv.length).toBe(4);
    expect(kv.reserve(1)).toBe(4);
    expect(kv.commonPrefix([5, 6, 9, 9])).toBe(2);
    expect(kv.commonPrefix([5, 6, 7, 8, 1])).toBe(4);
    kv.truncate(2);
    expect(kv.tokens).toEqual([5, 6]);
    expect(() => kv.reserve(9)).toThrow(ContextFullError);
    kv.destroy();
    expect(() => kv.reserve(1)).toThrow(/released/);
  });

  it('plans compaction of an accepted tree path into consecutive slots', () => {
    const kv = new KvCache(ctx, { numLayers: 1, numKvHeads: 1, headDim: 4, capacity: 32 });
    kv.commit([1, 2, 3]);
    // Tree nodes at scratch slots 3.., accepted path = nodes 0, 2, 5.
    const plan = kv.compactPlan([0, 2, 5]);
    expect([...plan.src]).toEqual([5, 8]);
    expect([...plan.dst]).toEqual([4, 5]);
    kv.destroy();
  });

  it('fits the capacity to the binding limit', () => {
    expect(fitCapacity(4096, 4, 64, 1 << 20)).toBe(1024);
    expect(fitCapacity(100, 4, 64, 1 << 30)).toBe(100);
  });
});

describe('sampling settings', () => {
  it('validates with a named error', () => {
    expect(() => new Selector({ ...defaultSampling, temperature: -1 })).toThrow(InvalidSamplingError);
    expect(() => new Selector({ ...defaultSampling, topP: 0 })).toThrow(InvalidSamplingError);
    expect(() => new Selector({ ...defaultSampling, maxNewTokens: 0 })).toThrow(InvalidSamplingError);
  });
  it('is greedy at temperature 0 and draws seeded uniforms otherwise', () => {
    expect(new Selector({ ...defaultSampling, temperature: 0 }).selection()).toEqual({ kind: 'greedy' });
    const a = new Selector({ ...defaultSampling, temperature: 0.7, topK: 0, seed: 3 });
    const b = new Selector({ ...defaultSampling, temperature: 0.7, topK: 0, seed: 3 });
    const sa = a.selection();
    expect(sa).toEqual(b.selection());
    expect(sa.kind === 'sample' && sa.topK).toBe(MAX_TOP_K);
    const u = seededUniform(1);
    for (let i = 0; i < 100; i++) {
      const x = u();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});
