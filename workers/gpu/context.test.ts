// GPU context on Dawn: capability probe, buffer pool round trips and reuse, pipeline cache
// hits, compile errors as ShaderCompileError, and device loss reported as GpuDeviceLostError.
import { describe, expect, it } from 'vitest';
import { GpuDeviceLostError, WebGpuUnavailableError } from '../protocol/errors';
import { assertAlive, createGpuContext } from './context';
import { nodeGpu } from './node';
import { ShaderCompileError } from './pipelines';
import { createBindGroup, Recorder } from './recorder';
import { testContext } from './test-context';

describe('createGpuContext', () => {
  it('probes capabilities and takes the adapter\'s largest buffer limits', async () => {
    const ctx = await testContext();
    expect(ctx.caps.maxStorageBufferBindingSize).toBe(ctx.adapter.limits.maxStorageBufferBindingSize);
    expect(ctx.caps.maxBufferSize).toBe(ctx.adapter.limits.maxBufferSize);
    expect(typeof ctx.caps.shaderF16).toBe('boolean');
    expect(ctx.caps.minStorageBufferOffsetAlignment).toBeGreaterThan(0);
  });

  it('refuses a missing navigator.gpu with an actionable error', async () => {
    await expect(createGpuContext(undefined)).rejects.toBeInstanceOf(WebGpuUnavailableError);
  });

  it('uploads, reads back and reuses transient buffers by size class', async () => {
    const ctx = await testContext();
    const data = new Float32Array([1, 2, 3, 4.5, -6]);
    const b = ctx.buffers.upload(data);
    expect([...(await ctx.buffers.readF32(b, 5))]).toEqual([1, 2, 3, 4.5, -6]);
    // Reused staging buffers still return the right bytes (partial ranges, offsets).
    expect([...(await ctx.buffers.readF32(b, 2, 8))]).toEqual([3, 4.5]);
    ctx.buffers.write(b, new Float32Array([7, 8]));
    expect([...(await ctx.buffers.readF32(b, 5))]).toEqual([7, 8, 3, 4.5, -6]);
    const t = ctx.buffers.acquire(1000);
    ctx.buffers.release(t);
    expect(ctx.buffers.acquire(900)).toBe(t);
    expect(ctx.buffers.acquire(900)).not.toBe(t);
  });

  it('caches pipelines by variant and reports WGSL errors', async () => {
    const ctx = await testContext();
    const spec = {
      op: 'test_fill',
      source: 'struct P { v: f32 }\n@group(0) @binding(0) var<uniform> p: P;\n@group(0) @binding(1) var<storage, read_write> o: array<f32>;\n@compute @workgroup_size(WG_X) fn main(@builtin(global_invocation_id) g: vec3<u32>) { o[g.x] = p.v * SCALE; }',
      workgroupSize: [4, 1, 1] as const,
      bindings: ['rw'] as const,
      defines: { SCALE: 2 },
    };
    const before = ctx.pipelines.size;
    const k = await ctx.pipelines.getChecked(spec);
    expect(ctx.pipelines.get({ ...spec })).toBe(k);
    expect(ctx.pipelines.size).toBe(before + 1);
    await expect(ctx.pipelines.getChecked({ ...spec, op: 'test_bad', source: 'fn main( {' })).rejects.toBeInstanceOf(ShaderCompileError);
  });

  it('names bad bindings before WebGPU would fail asynchronously, and reports uncaptured errors', async () => {
    const gpu = await nodeGpu();
    const errors: GPUError[] = [];
    const ctx = await createGpuContext(gpu, { onError: (e) => errors.push(e) });
    const k = ctx.pipelines.get({
      op: 'test_bind',
      source: '@group(0) @binding(0) var<uniform> p: vec4<u32>;\n@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(1) fn main() { o[0] = p.x; }',
      workgroupSize: [1, 1, 1],
      bindings: ['rw'],
    });
    const buf = ctx.buffers.create(1024, 'small');
    expect(() => createBindGroup(ctx, k, [{ buffer: buf, offset: 4 }])).toThrow(/not a multiple of 256/);
    expect(() => createBindGroup(ctx, k, [{ buffer: buf, offset: 512, size: 1024 }])).toThrow(/needs bytes 512..1536/);
    expect(() => createBindGroup(ctx, k, [buf, buf])).toThrow(/2 buffers bound, 1 expected/);
    // A real validation error (binding a destroyed buffer in a submit) reaches onError.
    const bg = createBindGroup(ctx, k, [buf]);
    const rec = new Recorder(ctx);
    rec.dispatch(k, bg, new Uint32Array(4), 1);
    buf.destroy();
    rec.submit();
    await ctx.device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.length).toBeGreaterThan(0);
    ctx.destroy();
  });

  it('turns device loss into GpuDeviceLostError', async () => {
    const gpu = await nodeGpu();
    const reported: GpuDeviceLostError[] = [];
    const ctx = await createGpuContext(gpu, { onLost: (e) => reported.push(e) });
    assertAlive(ctx);
    ctx.destroy();
    const err = await ctx.lost;
    expect(err).toBeInstanceOf(GpuDeviceLostError);
    expect(() => assertAlive(ctx)).toThrow(GpuDeviceLostError);
    expect(reported).toEqual([]); // a deliberate destroy() is not reported as a loss
  });
});
