// Peak GPU memory of a run: wraps a GPUDevice's createBuffer so every buffer the engine makes
// (weights, the buffer pool's activations and scratch, uniform rings, staging) is counted while
// alive, and destroy() subtracts it. Used by the photo benchmark (tools/bench/vlm.ts); the app
// does not install it.

export interface GpuMemoryTracker {
  /** Bytes in buffers created and not yet destroyed. */
  readonly live: number;
  /** Highest `live` since the last resetPeak(). */
  readonly peak: number;
  resetPeak(): void;
}

export function trackGpuMemory(device: GPUDevice): GpuMemoryTracker {
  const state = { live: 0, peak: 0 };
  const create = device.createBuffer.bind(device);
  const sizes = new WeakMap<GPUBuffer, number>();
  device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const buf = create(desc);
    sizes.set(buf, desc.size);
    state.live += desc.size;
    state.peak = Math.max(state.peak, state.live);
    const destroy = buf.destroy.bind(buf);
    buf.destroy = () => {
      const n = sizes.get(buf);
      if (n !== undefined) {
        state.live -= n;
        sizes.delete(buf);
      }
      destroy();
    };
    return buf;
  };
  return {
    get live() {
      return state.live;
    },
    get peak() {
      return state.peak;
    },
    resetPeak() {
      state.peak = state.live;
    },
  };
}
