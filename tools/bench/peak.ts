// Measured peak read bandwidth: a streaming-read kernel (vec4 loads, grid-stride loop, one
// reduction per thread) over a large buffer, many passes in one command buffer, best of 3.
// The yardstick decode bytes/s and GEMV GB/s are compared against. kernels.ts sweeps the same
// kernel (STREAM_WGSL) over grid sizes.
import type { GpuContext } from '../../workers/gpu/context';

/** Streaming read: each thread sums vec4s of src at a grid stride. Params: n4 = vec4 count, stride = threads. */
export const STREAM_WGSL = `
struct Params { n4: u32, stride: u32, pad0: u32, pad1: u32 } // 16 bytes: the uniform buffer is written as 4 words
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  var acc = vec4<f32>(0.0);
  for (var i = gid.x; i < p.n4; i += p.stride) { acc += src[i]; }
  dst[gid.x] = dot(acc, vec4<f32>(1.0));
}`;

/**
 * `passes` dispatches of the streaming read over a fresh `bytes`-long buffer (threads * 4 bytes
 * of output), submitted as one command buffer and awaited: returns the run and the cleanup.
 */
function streamRead(ctx: GpuContext, bytes: number, threads: number, passes: number): { run: () => Promise<number>; destroy: () => void } {
  const dev = ctx.device;
  const src = dev.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE });
  const dst = dev.createBuffer({ size: threads * 4, usage: GPUBufferUsage.STORAGE });
  const uni = dev.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  dev.queue.writeBuffer(uni, 0, new Uint32Array([bytes / 16, threads, 0, 0]));
  const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code: STREAM_WGSL }), entryPoint: 'main' } });
  const group = dev.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: uni } }, { binding: 1, resource: { buffer: src } }, { binding: 2, resource: { buffer: dst } }],
  });
  const run = async (): Promise<number> => {
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let i = 0; i < passes; i++) pass.dispatchWorkgroups(threads / 256);
    pass.end();
    const t0 = performance.now();
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  const destroy = () => {
    src.destroy();
    dst.destroy();
    uni.destroy();
  };
  return { run, destroy };
}

export async function streamPeakGBs(ctx: GpuContext, bytes: number, passes = 10): Promise<number> {
  const { run, destroy } = streamRead(ctx, bytes, 256 * 1024, passes);
  await run();
  let best = Infinity;
  for (let i = 0; i < 3; i++) best = Math.min(best, await run());
  destroy();
  return (bytes * passes) / (best * 1e6);
}

/**
 * Keeps the GPU busy with streaming reads of a 256 MiB buffer for ~`ms` right before a timing:
 * between configs the GPU idles while pipelines compile and its clocks drop (the H200's SMs
 * from 1980 to 345 MHz), so a timing of a few ms alone would measure the clock ramp (seen
 * 2026-11-26: the same 28 MB read at 10 and 27 µs). Returns the warm-up; a no-op on CPU adapters.
 */
export function clockWarmer(ctx: GpuContext, ms = 150): () => Promise<void> {
  if (ctx.caps.software) return async () => {};
  const { run } = streamRead(ctx, 256 << 20, 4096 * 256, 20);
  return async () => {
    const t0 = performance.now();
    while (performance.now() - t0 < ms) await run();
  };
}
