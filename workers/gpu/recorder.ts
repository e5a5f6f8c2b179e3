// Recorder: ops record dispatches into ONE command encoder / compute pass, so a whole forward
// pass is one command buffer with no readbacks between layers. Per-dispatch uniform params go
// into a ring (one uniform buffer per context, 256-byte slots, bound with a dynamic offset),
// written with a single queue.writeBuffer at submit: no buffer is created per dispatch.
import { LumenError } from '../protocol/errors';
import { Usage } from './buffers';
import type { GpuContext } from './context';
import { PARAMS_SLOT_BYTES, type Kernel } from './pipelines';

export class ParamsRing {
  readonly buffer: GPUBuffer;
  readonly slot: number;
  private mirror: Uint8Array<ArrayBuffer>;
  private mirror32: Uint32Array<ArrayBuffer>;
  private used = 0;
  /** The Recorder currently writing into the ring (the newest one; older unsubmitted ones are dead). */
  owner: object | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly capacity: number,
  ) {
    this.slot = Math.max(PARAMS_SLOT_BYTES, device.limits.minUniformBufferOffsetAlignment);
    this.buffer = device.createBuffer({ size: capacity, usage: Usage.UNIFORM | Usage.COPY_DST, label: 'params-ring' });
    this.mirror = new Uint8Array(capacity);
    this.mirror32 = new Uint32Array(this.mirror.buffer);
  }

  get full(): boolean {
    return this.used + this.slot > this.capacity;
  }

  /** Copy `data` (≤ 256 bytes) into the next slot; returns its byte offset. */
  push(data: ArrayBufferView): number {
    if (data.byteLength > PARAMS_SLOT_BYTES) throw new LumenError(`Kernel params of ${data.byteLength} bytes exceed the ${PARAMS_SLOT_BYTES}-byte slot.`);
    const off = this.used;
    // Uint32Array params (every op's): a typed copy with no view allocated per dispatch.
    if (data instanceof Uint32Array) this.mirror32.set(data, off >> 2);
    else this.mirror.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), off);
    this.used += this.slot;
    return off;
  }

  /** Forget unflushed slots (a recording was abandoned). */
  reset(): void {
    this.used = 0;
  }

  /** Upload the slots written since the last flush (ordered before the next submit). */
  flush(): void {
    if (this.used > 0) this.device.queue.writeBuffer(this.buffer, 0, this.mirror, 0, this.used);
    this.used = 0;
  }

  destroy(): void {
    this.buffer.destroy();
  }
}

/** A buffer binding: whole buffer, or a byte range of it (offset multiple of 256). */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** One bind group for `kernel`: binding 0 = the params ring, 1..n = `buffers`. Create once per call site. */
export function createBindGroup(ctx: GpuContext, kernel: Kernel, buffers: readonly BufferBinding[], label?: string): GPUBindGroup {
  const op = kernel.spec.op;
  if (buffers.length !== kernel.spec.bindings.length) {
    throw new LumenError(`${op}: ${buffers.length} buffers bound, ${kernel.spec.bindings.length} expected`);
  }
  const { maxStorageBufferBindingSize: maxBind, minStorageBufferOffsetAlignment: align } = ctx.caps;
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ctx.params.buffer, offset: 0, size: PARAMS_SLOT_BYTES } }];
  buffers.forEach((b, i) => {
    const buffer = 'buffer' in b ? b.buffer : b;
    const offset = 'buffer' in b ? (b.offset ?? 0) : 0;
    const size = 'buffer' in b && b.size !== undefined ? b.size : buffer.size - offset;
    // WebGPU reports these only as asynchronous validation errors: name them here instead.
    if (offset % align !== 0) throw new LumenError(`${op}: binding ${i + 1} starts at byte ${offset}, not a multiple of ${align}. Pass row offsets as record args instead.`);
    if (offset + size > buffer.size) throw new LumenError(`${op}: binding ${i + 1} needs bytes ${offset}..${offset + size} of a ${buffer.size}-byte buffer "${buffer.label}"`);
    if (size > maxBind) {
      throw new LumenError(`${op}: binding ${i + 1} ("${buffer.label}") is ${size} bytes but this GPU binds at most ${maxBind}: use a q4/q8 model or a smaller one.`);
    }
    entries.push({ binding: i + 1, resource: { buffer, offset, size } });
  });
  return ctx.device.createBindGroup({ layout: kernel.layout, label: label ?? op, entries });
}

export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  /** Pipeline last set in the current pass (consecutive dispatches of one kernel skip setPipeline). */
  private passPipeline: GPUComputePipeline | null = null;
  private readonly maxWorkgroups: number;
  private submitted: GPUCommandBuffer[] = [];
  private closed = false;
  /** Timestamp writes for the next compute pass opened (benchmarks; see timedPass). */
  private nextTimestamps: GPUComputePassTimestampWrites | undefined;
  /** Dispatches recorded so far (stats, tests). */
  dispatches = 0;
  /** Per-dispatch GPU timing (benchmarks): each dispatch in its own timed pass, labelled. */
  private prof: { querySet: GPUQuerySet; labels: string[] } | null = null;

  constructor(
    readonly ctx: GpuContext,
    readonly label = 'forward',
  ) {
    // A newer recorder takes the ring over; one left unsubmitted (e.g. by an exception while
    // recording) is abandoned and refuses further use.
    ctx.params.reset();
    ctx.params.owner = this;
    this.maxWorkgroups = ctx.caps.maxComputeWorkgroupsPerDimension;
    this.encoder = ctx.device.createCommandEncoder({ label });
  }

  private checkOpen(): void {
    if (this.closed) throw new LumenError('Recorder already submitted.');
    if (this.ctx.params.owner !== this) throw new LumenError('A newer Recorder was opened on this GPU context before this one was submitted: record one pass at a time.');
  }

  private computePass(): GPUComputePassEncoder {
    this.checkOpen();
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass({ label: this.label, timestampWrites: this.nextTimestamps });
      this.nextTimestamps = undefined;
    }
    return this.pass;
  }

  /**
   * End the current compute pass; the dispatches recorded next go into a new pass whose start and
   * end write timestamps `begin` and `begin + 1` of `querySet` (needs caps.timestampQuery;
   * benchmarks separate kernel time from dispatch gaps with it).
   */
  timedPass(querySet: GPUQuerySet, begin: number): void {
    this.checkOpen();
    this.endPass();
    this.nextTimestamps = { querySet, beginningOfPassWriteIndex: begin, endOfPassWriteIndex: begin + 1 };
  }

  /**
   * Time every following dispatch on the GPU (needs caps.timestampQuery): dispatch i runs alone
   * in a pass writing timestamps 2i and 2i + 1 of `querySet` (until it is full). Returns the
   * labels (bind group label or op name) in dispatch order; resolve the query set before submit.
   */
  profileDispatches(querySet: GPUQuerySet): readonly string[] {
    this.prof = { querySet, labels: [] };
    return this.prof.labels;
  }

  /** End the current compute pass (the next dispatch opens a new one). */
  endComputePass(): void {
    this.endPass();
  }

  /** Record one dispatch: `params` goes to this dispatch's ring slot (binding 0). */
  dispatch(kernel: Kernel, bindGroup: GPUBindGroup, params: ArrayBufferView, x: number, y = 1, z = 1): void {
    this.checkOpen();
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.maxWorkgroups;
    if (x > max || y > max || z > max) throw new LumenError(`${kernel.spec.op}: dispatch ${x}x${y}x${z} exceeds ${max} workgroups per dimension`);
    const ring = this.ctx.params;
    if (ring.full) this.flushPartial();
    const off = ring.push(params);
    if (this.prof && 2 * this.prof.labels.length + 2 <= this.prof.querySet.count) {
      this.timedPass(this.prof.querySet, 2 * this.prof.labels.length);
      this.prof.labels.push(bindGroup.label || kernel.spec.op);
    }
    const pass = this.pass ?? this.computePass();
    if (this.passPipeline !== kernel.pipeline) {
      pass.setPipeline(kernel.pipeline);
      this.passPipeline = kernel.pipeline;
    }
    pass.setBindGroup(0, bindGroup, [off]);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
  }

  /** Record a buffer copy (ends the current compute pass; the next dispatch opens a new one). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** The underlying encoder, for work the recorder does not model (ends the compute pass). */
  rawEncoder(): GPUCommandEncoder {
    this.endPass();
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
      this.passPipeline = null;
    }
  }

  // Params ring full: submit what we have (ring contents are written before it) and continue.
  private flushPartial(): void {
    this.endPass();
    this.ctx.params.flush();
    this.ctx.device.queue.submit([this.encoder.finish()]);
    this.encoder = this.ctx.device.createCommandEncoder({ label: this.label });
  }

  /** Finish and submit everything recorded. The recorder cannot be reused. */
  submit(): void {
    this.checkOpen();
    this.endPass();
    this.ctx.params.flush();
    this.submitted.push(this.encoder.finish());
    this.ctx.device.queue.submit(this.submitted);
    this.submitted = [];
    this.closed = true;
    this.ctx.params.owner = null;
  }

  /** submit(), then wait until the GPU has finished it. */
  async submitAndWait(): Promise<void> {
    this.submit();
    await this.ctx.device.queue.onSubmittedWorkDone();
  }

  /** Drop everything recorded (e.g. on abort) and release the params ring. */
  discard(): void {
    if (this.closed) return;
    this.endPass();
    this.closed = true;
    if (this.ctx.params.owner === this) {
      this.ctx.params.reset();
      this.ctx.params.owner = null;
    }
  }
}
