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
import { lanczosTaps, type AxisTaps } from './resample';
import resampleSrc from './resample.wgsl?raw';
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
}

export class GpuTiler {
  private readonly tilesBytes: Kernel;
  private readonly tilesF32: Kernel;
  private readonly passH: Kernel;
  private readonly passV: Kernel;
  private readonly grown = new Map<string, GPUBuffer>();
  private readonly params = new ArrayBuffer(96);

  /** `out`: f32 [maxTiles, 3, tile, tile] (the vision tower's input). */
  constructor(
    readonly ctx: GpuContext,
    readonly cfg: TilerConfig,
    readonly out: GpuTensor,
  ) {
    const tiles = (f32: boolean) => ctx.pipelines.get({ op: 'vision_tiles', source: tilesSrc, workgroupSize: [WG, 1, 1], defines: { SRC_F32: f32 }, bindings: ['read', 'read', 'rw'] });
    const pass = (p: 'h' | 'v') => ctx.pipelines.get({ op: 'vision_resample', source: resampleSrc, workgroupSize: [WG, 1, 1], defines: { PASS: p }, bindings: ['read', 'read', 'rw'] });
    this.tilesBytes = tiles(false);
    this.tilesF32 = tiles(true);
    this.passH = pass('h');
    this.passV = pass('v');
  }

  /** A scratch buffer of at least `bytes` that only grows (kept for the next photo). */
  private buffer(name: string, bytes: number): GPUBuffer {
    const have = this.grown.get(name);
    if (have && have.size >= bytes) return have;
    if (have) this.ctx.buffers.destroy(have);
    const b = this.ctx.buffers.create(Math.max(bytes, 16), `tiler.${name}`);
    this.grown.set(name, b);
    return b;
  }

  private uploadBytes(image: RawImage): GPUBuffer {
    const { width, height, channels: C } = image;
    if (C !== 3 && C !== 4) throw new OpShapeError(`vision_tiles: ${C}-channel image (RGB or RGBA expected)`);
    const n = width * height * C;
    const bytes = (image.data as Uint8Array | Uint8ClampedArray).subarray(0, n);
    const src = this.buffer('src', Math.ceil(n / 4) * 4);
    const whole = n - (n % 4);
    if (whole) this.ctx.device.queue.writeBuffer(src, 0, bytes.buffer, bytes.byteOffset, whole);
    if (n % 4) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(whole));
      this.ctx.device.queue.writeBuffer(src, whole, tail);
    }
    return src;
  }

  /** Plan of an image resized to height x width (rows/cols as the prompt needs them). */
  plan(height: number, width: number): TilePlan {
    return planTiles(height, width, this.cfg.tile, this.cfg.splitting);
  }

  /**
   * Records the tiles of `image`, already resized by transformers.js (before rescale), into `out`.
   */
  record(rec: Recorder, image: RawImage, plan: TilePlan): void {
    const src = this.uploadBytes(image);
    this.recordTiles(rec, this.tilesBytes, src, image.width, image.height, image.channels, plan);
  }

  /**
   * Records PIL's Lanczos resize of the decoded `photo` to width x height (resample.wgsl: the
   * resize of transformers' Python processor, on the GPU) and then the tiles of the result.
   */
  recordFromPhoto(rec: Recorder, photo: RawImage, width: number, height: number, plan: TilePlan): void {
    const src = this.uploadBytes(photo);
    const tx = lanczosTaps(photo.width, width);
    const ty = lanczosTaps(photo.height, height);
    const pack = (a: AxisTaps, into: Uint32Array, at: number) => {
      const f = new Float32Array(into.buffer);
      for (let i = 0; i < a.start.length; i++) {
        const b = at + i * (a.stride + 2);
        into[b] = a.start[i];
        into[b + 1] = a.count[i];
        f.set(a.weights.subarray(i * a.stride, i * a.stride + a.count[i]), b + 2);
      }
    };
    const hLen = width * (tx.stride + 2);
    const t = new Uint32Array(hLen + height * (ty.stride + 2));
    pack(tx, t, 0);
    pack(ty, t, hLen);
    const tapsBuf = this.buffer('lanczos', t.byteLength);
    this.ctx.device.queue.writeBuffer(tapsBuf, 0, t);
    const mid = this.buffer('mid', 3 * photo.height * width * 4);
    const planar = this.buffer('planar', 3 * height * width * 4);
    const run = (kernel: Kernel, inBuf: GPUBuffer, outBuf: GPUBuffer, u: number[], label: string) => {
      const group = createBindGroup(this.ctx, kernel, [{ buffer: inBuf }, { buffer: tapsBuf }, { buffer: outBuf }], label);
      const [gx, gy] = grid2d(this.ctx, Math.ceil(u[0] / WG));
      rec.dispatch(kernel, group, new Uint32Array(u), gx, gy);
    };
    // mid = lanczos_x(photo)       (3, H0, W)
    run(this.passH, src, mid, [3 * photo.height * width, width, photo.height, photo.width, photo.height, photo.channels, 0, tx.stride], 'vision_resample_h');
    // planar = lanczos_y(mid)      (3, H, W)
    run(this.passV, mid, planar, [3 * height * width, width, height, width, photo.height, 3, hLen, ty.stride], 'vision_resample_v');
    this.recordTiles(rec, this.tilesF32, planar, width, height, height, plan);
  }

  /** `channels`: bytes per pixel of a byte source; the source height for the f32 one. */
  private recordTiles(rec: Recorder, kernel: Kernel, src: GPUBuffer, W1: number, H1: number, channels: number, plan: TilePlan): void {
    const S = this.cfg.tile;
    if (plan.tiles * 3 * S * S > numel(this.out.shape)) throw new OpShapeError(`vision_tiles: ${plan.tiles} tiles do not fit the vision input`);
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
    const tapsBuf = this.buffer('taps', t.byteLength);
    this.ctx.device.queue.writeBuffer(tapsBuf, 0, t);
    const total = plan.tiles * 3 * S * S;
    const u = new Uint32Array(this.params);
    const f = new Float32Array(this.params);
    u.set([total, S, tileCount, split ? plan.cols : 1, split ? plan.rows : 1, plan.height, plan.width, W1, channels, offsets[0], offsets[1], offsets[2], offsets[3], split ? 1 : 0]);
    f[14] = this.cfg.rescale;
    f.set([...this.cfg.mean, 0], 16);
    f.set([...this.cfg.std, 1], 20);
    const group = createBindGroup(this.ctx, kernel, [{ buffer: src }, { buffer: tapsBuf }, bindTensor(this.out)], 'vision_tiles');
    const [gx, gy] = grid2d(this.ctx, Math.ceil(total / WG));
    rec.dispatch(kernel, group, u, gx, gy); //   out = tiles(normalize(image))   (N, 3, S, S)
  }

  destroy(): void {
    for (const b of this.grown.values()) this.ctx.buffers.destroy(b);
    this.grown.clear();
  }
}
