// KV cache manager: per-layer K and V buffers on the GPU, laid out [nKv, capacity, headDim] f32
// (the layout of shaders/rope.wgsl's fused KV write, shaders/attention.wgsl and shaders/kv.wgsl),
// plus the CPU-side bookkeeping the decoder needs:
//   - `length`: committed entries (slots 0..length-1 hold the accepted sequence, in order);
//   - `tokens`: the ids of those entries, so a follow-up turn of a conversation re-uses the
//     longest common prefix instead of prefilling it again;
//   - scratch slots after `length`: a forward pass writes its T new entries at slots
//     length..length+T-1 (`reserve`). Plain decoding commits them all. Tree verification (PPD)
//     writes the whole tree there with positions it chooses (node depth), then commits only the
//     accepted path after moving its entries into place (`compactPlan` + the KV compaction op).
import type { GpuContext } from '../gpu/context';
import { createKvCache, type KvLayer } from '../ops/kv-cache-ops';
import { LumenError } from '../protocol/errors';

export interface KvLayout {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Slots per layer (max sequence length this cache holds). */
  capacity: number;
}

/** The conversation does not fit the cache. */
export class ContextFullError extends LumenError {
  override name = 'ContextFullError';
}

/** Bytes of one layer's K (or V) buffer. */
export function kvLayerBytes(l: KvLayout): number {
  return l.numKvHeads * l.capacity * l.headDim * 4;
}

/** Largest capacity (≤ wanted) whose per-layer buffer fits the binding limit. */
export function fitCapacity(wanted: number, numKvHeads: number, headDim: number, maxBindingBytes: number): number {
  const perSlot = numKvHeads * headDim * 4;
  return Math.max(1, Math.min(wanted, Math.floor(maxBindingBytes / perSlot)));
}

/** Placeholder id of an entry written by a chained pass whose input id is not read back yet. */
const PENDING = -1;

export class KvCache {
  /** Per-layer K and V tensors (workers/ops/kv-cache-ops.ts layout). */
  readonly layers: KvLayer[];
  private ids: number[] = [];
  private destroyed = false;

  constructor(
    readonly ctx: GpuContext,
    readonly layout: KvLayout,
  ) {
    this.layers = createKvCache(ctx, layout.numLayers, layout.numKvHeads, layout.capacity, layout.headDim);
  }

  get capacity(): number {
    return this.layout.capacity;
  }

  /** Committed entries. */
  get length(): number {
    return this.ids.length;
  }

  /** Ids of the committed entries (read-only view). */
  get tokens(): readonly number[] {
    return this.ids;
  }

  get gpuBytes(): number {
    return 2 * this.layout.numLayers * kvLayerBytes(this.layout);
  }

  /** Length of the common prefix of the committed ids and `ids`. */
  commonPrefix(ids: readonly number[]): number {
    const n = Math.min(ids.length, this.ids.length);
    let i = 0;
    while (i < n && ids[i] === this.ids[i]) i++;
    return i;
  }

  /** Forget entries from `n` on (they stay in memory as scratch and are overwritten later). */
  truncate(n: number): void {
    if (n < 0 || n > this.ids.length) throw new RangeError(`KvCache.truncate(${n}) with ${this.ids.length} entries`);
    this.ids.length = n;
  }

  reset(): void {
    this.ids.length = 0;
  }

  /** First scratch slot for `n` new entries; throws ContextFullError when they do not fit. */
  reserve(n: number): number {
    if (this.destroyed) throw new LumenError('The KV cache was released (model unloaded).');
    if (this.ids.length + n > this.capacity) {
      throw new ContextFullError(
        `The conversation needs ${this.ids.length + n} tokens of context but this model holds ${this.capacity}: start a new conversation or shorten the message.`,
      );
    }
    return this.ids.length;
  }

  /** Positions for `n` tokens appended in sequence after the committed ones. */
  sequentialPositions(n: number, out: Uint32Array<ArrayBuffer> = new Uint32Array(n)): Uint32Array<ArrayBuffer> {
    const base = this.ids.length;
    for (let i = 0; i < n; i++) out[i] = base + i;
    return out;
  }

  /** Commit entries written at slots length..length+ids.length-1, in order. */
  commit(ids: readonly number[]): void {
    if (this.ids.length + ids.length > this.capacity) throw new RangeError('KvCache.commit past capacity');
    for (const id of ids) this.ids.push(id);
  }

  /**
   * Commit one entry whose id is not known on the CPU yet: a chained decode pass takes as input
   * the token the previous pass picked, straight from the GPU. resolvePending() fills it in.
   */
  commitPending(): void {
    if (this.ids.length + 1 > this.capacity) throw new RangeError('KvCache.commitPending past capacity');
    this.ids.push(PENDING);
  }

  /** Sets the oldest pending entry's id (no-op when none is pending). */
  resolvePending(id: number): void {
    const i = this.ids.indexOf(PENDING);
    if (i >= 0) this.ids[i] = id;
  }

  /**
   * Tree verification accepted `path` (scratch indices relative to `length`, root first, each a
   * descendant of the previous). Returns the (src, dst) slot pairs that move their entries to
   * length, length+1, ...; pairs already in place are left out. Commit the path's ids after the
   * compaction op has been recorded.
   */
  compactPlan(path: readonly number[]): { src: Uint32Array; dst: Uint32Array } {
    const base = this.ids.length;
    const src: number[] = [];
    const dst: number[] = [];
    path.forEach((node, i) => {
      if (node !== i) {
        src.push(base + node);
        dst.push(base + i);
      }
    });
    return { src: Uint32Array.from(src), dst: Uint32Array.from(dst) };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const l of this.layers) {
      this.ctx.buffers.destroy(l.k.buffer);
      this.ctx.buffers.destroy(l.v.buffer);
    }
    this.ids.length = 0;
  }
}
