// The Idefics3 processor's work after the resize, on the GPU: the resized photo's bytes are
// uploaded as they are (RGB/RGBA, 8-bit) and one dispatch (tiles.wgsl) rescales, normalizes,
// resizes to multiples of the tile size (ONNX linear / half-pixel, as tiles.ts and transformers.js
// do), cuts the tiles and makes the global image, writing the encoder's input [N, 3, S, S]
// directly. The CPU keeps only decoding and transformers.js' own resize to the longest edge
// (canvas in a browser, sharp under Node). On the GPU host this took preprocessing of a
// 1536x1024 photo from ~500-740 ms (transformers.js rescale/normalize loops + tiles.ts in JS) to
// the resize alone; gpu-tiles.test.ts checks equality with the CPU path (transformers.js
// preprocess + tiles.ts) within 1e-5.
import type { RawImage } from '@huggingface/transformers';
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import { bindTensor, grid2d, numel, OpShapeError, type GpuTensor } from '../ops/types';
import { planTiles, taps, type TilePlan } from './tiles';
import tilesSrc from './tiles.wgsl?raw';

const WG = 256;

/** The processor settings the GPU path reproduces (transformers.js ImageProcessor fields). */
export interface TilerConfig {
  tile: number;
  splitting: boolean;
  rescale: number; // 1 when do_rescale is off
  mean: [number, number, number]; // 0 when do_normalize is off
  std: [number, number, number]; // 1 when do_normalize is off
  /** Largest resized image (longest edge²), for the upload buffer. */
  maxPixels: number;
}

export class GpuTiler {
  private readonly kernel: Kernel;
  private readonly bindGroup: GPUBindGroup;
  private readonly src: GPUBuffer;
  private readonly taps: GPUBuffer;
  private readonly tapsCap: number;
  private readonly params = new ArrayBuffer(96);

  /** `out`: f32 [maxTiles, 3, tile, tile] (the vision tower's input). */
  constructor(
    readonly ctx: GpuContext,
    readonly cfg: TilerConfig,
    readonly out: GpuTensor,
  ) {
    this.src = ctx.buffers.create(cfg.maxPixels * 4, 'tiler.src');
    // taps for H2 + W2 + 2 S entries, 4 u32 each; H2, W2 ≤ longest edge rounded up to a tile
    const edge = Math.ceil(Math.sqrt(cfg.maxPixels) / cfg.tile + 1) * cfg.tile;
    this.tapsCap = 4 * (2 * edge + 2 * cfg.tile);
    this.taps = ctx.buffers.create(this.tapsCap * 4, 'tiler.taps');
    this.kernel = ctx.pipelines.get({ op: 'vision_tiles', source: tilesSrc, workgroupSize: [WG, 1, 1], bindings: ['read', 'read', 'rw'] });
    this.bindGroup = createBindGroup(ctx, this.kernel, [{ buffer: this.src }, { buffer: this.taps }, bindTensor(out)], 'vision_tiles');
  }

  /** Plan of an image of this size (rows/cols as the prompt needs them). */
  plan(height: number, width: number): TilePlan {
    return planTiles(height, width, this.cfg.tile, this.cfg.splitting);
  }

  /**
   * Uploads the resized image (after transformers.js' resize, before rescale) and its taps, and
   * records the dispatch that writes `plan.tiles` tiles into `out`.
   */
  record(rec: Recorder, image: RawImage, plan: TilePlan): void {
    const { width: W1, height: H1, channels: C } = image;
    const S = this.cfg.tile;
    if (C !== 3 && C !== 4) throw new OpShapeError(`vision_tiles: ${C}-channel image (RGB or RGBA expected)`);
    if (W1 * H1 > this.cfg.maxPixels) throw new OpShapeError(`vision_tiles: a ${W1}x${H1} image exceeds the ${this.cfg.maxPixels}-pixel upload buffer`);
    if (plan.tiles * 3 * S * S > numel(this.out.shape)) throw new OpShapeError(`vision_tiles: ${plan.tiles} tiles do not fit the vision input`);
    const bytes = image.data as Uint8Array | Uint8ClampedArray;
    const n = W1 * H1 * C;
    const padded = n % 4 === 0 ? bytes.subarray(0, n) : (() => { const b = new Uint8Array(Math.ceil(n / 4) * 4); b.set(bytes.subarray(0, n)); return b; })();
    this.ctx.device.queue.writeBuffer(this.src, 0, padded.buffer, padded.byteOffset, padded.byteLength);

    const split = plan.rows > 0;
    const tileCount = split ? plan.rows * plan.cols : 1;
    const axes = [taps(H1, plan.height), taps(W1, plan.width), taps(plan.height, S), taps(plan.width, S)];
    const t = new Uint32Array(4 * axes.reduce((a, x) => a + x.i0.length, 0));
    const tf = new Float32Array(t.buffer);
    const offsets: number[] = [];
    let k = 0;
    for (const a of axes) {
      offsets.push(4 * k);
      for (let i = 0; i < a.i0.length; i++, k++) {
        t[4 * k] = a.i0[i];
        t[4 * k + 1] = a.i1[i];
        tf[4 * k + 2] = a.w0[i];
        tf[4 * k + 3] = a.w1[i];
      }
    }
    if (t.length > this.tapsCap) throw new OpShapeError(`vision_tiles: ${t.length} taps exceed ${this.tapsCap}`);
    this.ctx.device.queue.writeBuffer(this.taps, 0, t);

    const total = plan.tiles * 3 * S * S;
    const u = new Uint32Array(this.params);
    const f = new Float32Array(this.params);
    u.set([total, S, tileCount, split ? plan.cols : 1, split ? plan.rows : 1, plan.height, plan.width, W1, C, offsets[0], offsets[1], offsets[2], offsets[3], split ? 1 : 0]);
    f[14] = this.cfg.rescale;
    f.set([...this.cfg.mean, 0], 16);
    f.set([...this.cfg.std, 1], 20);
    const [gx, gy] = grid2d(this.ctx, Math.ceil(total / WG));
    rec.dispatch(this.kernel, this.bindGroup, u, gx, gy); //   out = tiles(normalize(image))   (N, 3, S, S)
  }

  destroy(): void {
    this.ctx.buffers.destroy(this.src);
    this.ctx.buffers.destroy(this.taps);
  }
}
