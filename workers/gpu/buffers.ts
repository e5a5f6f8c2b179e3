// Buffer pool: storage-buffer creation, uploads, readbacks, and reuse of transient buffers
// (activations, scratch) by size class so a forward pass does not allocate on the hot path.
import { LumenError } from '../protocol/errors';

/** GPUBufferUsage / GPUMapMode bits as numbers, so importing this module needs no WebGPU globals. */
export const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_MODE_READ = 0x1;

/** Storage buffers the ops bind: read by shaders, writable by shaders, copyable both ways. */
export const STORAGE_USAGE = Usage.STORAGE | Usage.COPY_DST | Usage.COPY_SRC;

/** Round up to a multiple of 4 (WebGPU copies and writeBuffer need it). */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

export function alignTo(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private owned = new Set<GPUBuffer>();
  private staging = new Map<number, GPUBuffer[]>();

  constructor(readonly device: GPUDevice) {}

  /** A new storage buffer of at least `bytes` (rounded to 16), owned until destroy(). */
  create(bytes: number, label = 'storage', usage: number = STORAGE_USAGE): GPUBuffer {
    const size = Math.max(16, alignTo(bytes, 16));
    const max = this.device.limits.maxBufferSize;
    if (size > max) {
      throw new LumenError(`Buffer "${label}" needs ${size} bytes but this GPU allows ${max} per buffer: use a smaller model or split the tensor.`);
    }
    const buf = this.device.createBuffer({ size, usage, label });
    this.owned.add(buf);
    return buf;
  }

  /** A new storage buffer holding `data`. */
  upload(data: ArrayBufferView, label = 'upload', usage: number = STORAGE_USAGE): GPUBuffer {
    const buf = this.create(data.byteLength, label, usage);
    this.write(buf, data);
    return buf;
  }

  /** Write `data` at `offset` (bytes) in `buf`; pads odd lengths to 4 bytes. */
  write(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 === 0) {
      this.device.queue.writeBuffer(buf, offset, bytes);
    } else {
      const padded = new Uint8Array(align4(bytes.byteLength));
      padded.set(bytes);
      this.device.queue.writeBuffer(buf, offset, padded);
    }
  }

  /** A transient buffer of at least `bytes` (power-of-two size class); give it back with release(). */
  acquire(bytes: number, label = 'transient'): GPUBuffer {
    const cls = sizeClass(bytes);
    const list = this.free.get(cls);
    const reused = list?.pop();
    if (reused) return reused;
    return this.create(cls, label);
  }

  release(buf: GPUBuffer): void {
    const cls = buf.size;
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    list.push(buf);
  }

  /**
   * Copy `bytes` at `offset` of `src` to the CPU (submits its own command buffer, after any work
   * already submitted). Staging buffers are reused per size class, so reading a few token ids
   * per decode step allocates nothing.
   */
  async readback(src: GPUBuffer, bytes = src.size, offset = 0): Promise<ArrayBuffer> {
    const size = align4(bytes);
    const cls = sizeClass(size);
    const staging = this.staging.get(cls)?.pop() ?? this.device.createBuffer({ size: cls, usage: Usage.MAP_READ | Usage.COPY_DST, label: 'readback' });
    const enc = this.device.createCommandEncoder({ label: 'readback' });
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    let ok = false;
    try {
      await staging.mapAsync(MAP_MODE_READ, 0, size);
      const out = staging.getMappedRange(0, size).slice(0, bytes);
      staging.unmap();
      ok = true;
      return out;
    } finally {
      if (ok) {
        let list = this.staging.get(cls);
        if (!list) this.staging.set(cls, (list = []));
        list.push(staging);
      } else {
        staging.destroy();
      }
    }
  }

  async readF32(src: GPUBuffer, count: number, offsetBytes = 0): Promise<Float32Array> {
    return new Float32Array(await this.readback(src, count * 4, offsetBytes));
  }

  async readU32(src: GPUBuffer, count: number, offsetBytes = 0): Promise<Uint32Array> {
    return new Uint32Array(await this.readback(src, count * 4, offsetBytes));
  }

  /** Destroy one owned buffer now. */
  destroy(buf: GPUBuffer): void {
    this.owned.delete(buf);
    for (const list of this.free.values()) {
      const i = list.indexOf(buf);
      if (i >= 0) list.splice(i, 1);
    }
    buf.destroy();
  }

  destroyAll(): void {
    for (const b of this.owned) b.destroy();
    for (const list of this.staging.values()) for (const b of list) b.destroy();
    this.owned.clear();
    this.free.clear();
    this.staging.clear();
  }
}

function sizeClass(bytes: number): number {
  let s = 256;
  while (s < bytes) s *= 2;
  return s;
}
