// GPU timestamps for the benchmarks (kernels.ts, prefill-kernels.ts, bench.ts' per-op profile):
// `record` opens timestamped passes (Recorder.timedPass / profileDispatches) writing into a query
// set of `count` entries and may return how many it used; those timestamps are resolved, read back
// and returned in ns. Needs caps.timestampQuery (the benchmarks open
// Dawn with timestamp_quantization disabled, so the values are not rounded).
import type { GpuContext } from '../../workers/gpu/context';
import { Recorder } from '../../workers/gpu/recorder';

export async function readTimestamps(ctx: GpuContext, count: number, record: (rec: Recorder, qs: GPUQuerySet) => number | void): Promise<BigUint64Array> {
  const qs = ctx.device.createQuerySet({ type: 'timestamp', count });
  const resolve = ctx.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = ctx.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const rec = new Recorder(ctx, 'timed');
    const used = record(rec, qs) ?? count;
    const enc = rec.rawEncoder();
    enc.resolveQuerySet(qs, 0, used, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, used * 8);
    await rec.submitAndWait();
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange(0, used * 8).slice(0));
    read.unmap();
    return t;
  } finally {
    qs.destroy();
    resolve.destroy();
    read.destroy();
  }
}
