// The Idefics3 image processor on the GPU, writing the encoder's input [N, 3, S, S] directly from
// the decoded photo's bytes (uploaded as they are, RGB/RGBA 8-bit). Two modes:
//   recordFromPhoto (the app's default): the Python processor's arithmetic, what SmolVLM was
//     trained with: PIL Lanczos resizes (shaders/image_resample.wgsl, 8-bit passes) to the longest edge, to tile
//     multiples and, for the global image, to S x S; crops; rescale + normalize (shaders/image_tiles.wgsl).
//   record: after transformers.js' own resize on the CPU (canvas / sharp), its arithmetic for the
//     rest: rescale, normalize, ONNX linear resize to tile multiples, crops and global (= tiles.ts).
// The CPU keeps only decoding. On an H100 this took a 1536x1024 photo's preprocessing from ~480 ms
// (transformers.js + tiles.ts in JS) to ~0 ms of CPU (docs/BENCHMARKS.md, "Photo to first token").
// gpu-tiles.test.ts checks both modes against CPU references.
import type { RawImage } from '@huggingface/transformers';
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/pipelines';
import { createBindGroup, type Recorder } from '../gpu/recorder';
import { grid2d, numel, OpShapeError, type GpuTensor } from '../ops/types';
import { lanczosTaps, type AxisTaps } from './resample';
import resampleSrc from '../../shaders/image_resample.wgsl?raw';
import { planTiles, taps, type TilePlan } from './tiles';
import tilesSrc from '../../shaders/image_tiles.wgsl?raw';

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
  private readonly passHBytes: Kernel;
  private readonly passH: Kernel;
  private readonly passV: Kernel;
  private readonly grown = new Map<string, GPUBuffer>();
  private resizes = 0;
  private readonly params = new ArrayBuffer(96);

  /** `out`: f32 [maxTiles, 3, tile, tile] (the vision tower's input). */
  constructor(
    readonly ctx: GpuContext,
    readonly cfg: TilerConfig,
    readonly out: GpuTensor,
  ) {
    const tiles = (f32: boolean) => ctx.pipelines.get({ op: 'vision_tiles', source: tilesSrc, workgroupSize: [WG, 1, 1], defines: { SRC_F32: f32 }, bindings: ['read', 'read', 'rw'] });
    const pass = (p: 'h' | 'v', bytes: boolean) => ctx.pipelines.get({ op: 'vision_resample', source: resampleSrc, workgroupSize: [WG, 1, 1], defines: { PASS: p, SRC_BYTES: bytes }, bindings: ['read', 'read', 'rw'] });
    this.tilesBytes = tiles(false);
    this.tilesF32 = tiles(true);
    this.passHBytes = pass('h', true);
    this.passH = pass('h', false);
    this.passV = pass('v', false);
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
   * Records the Python processor's preprocessing of the decoded `photo` with PIL's arithmetic
   * (shaders/image_resample.wgsl): Lanczos resize to width x height (the longest edge), Lanczos resize to the
   * tile multiples of `plan`, tiles cut from that, the global image a Lanczos resize of it to
   * tile x tile (without splitting: one Lanczos resize to tile x tile); then rescale + normalize.
   */
  recordFromPhoto(rec: Recorder, photo: RawImage, width: number, height: number, plan: TilePlan): void {
    const S = this.cfg.tile;
    const src = this.uploadBytes(photo);
    // Scratch: one `mid` for every first pass, `a` reused for the global image once `b` has read it
    // (dispatches of one pass run in order, each seeing the previous one's writes). Both are sized
    // for all their uses before recording: a buffer regrown mid-recording would be destroyed while
    // an earlier dispatch still uses it.
    const split = plan.rows > 0;
    const f32 = 4 * 3;
    this.buffer('mid', f32 * Math.max(photo.height * width, split ? height * plan.width : height * S, split ? plan.height * S : 0));
    this.buffer('planar.a', f32 * Math.max(height * width, S * S));
    const a = this.recordResize(rec, 'a', src, true, photo.width, photo.height, photo.channels, width, height); // (3, H1, W1)
    if (plan.rows === 0) {
      const one = width === S && height === S ? a : this.recordResize(rec, 'b', a, false, width, height, 3, S, S); // (3, S, S)
      this.recordTiles(rec, this.tilesF32, one, S, S, S, { height: S, width: S, rows: 0, cols: 0, tiles: 1 });
      return;
    }
    const b = this.recordResize(rec, 'b', a, false, width, height, 3, plan.width, plan.height); //    (3, H2, W2)
    const g = this.recordResize(rec, 'a', b, false, plan.width, plan.height, 3, S, S); //                (3, S, S)
    const grid = plan.rows * plan.cols;
    this.recordTiles(rec, this.tilesF32, b, plan.width, plan.height, plan.height, { ...plan, tiles: grid }, 0, false); // tiles = crops(b)
    this.recordTiles(rec, this.tilesF32, g, S, S, S, { height: S, width: S, rows: 0, cols: 0, tiles: 1 }, grid); //        global = g
  }

  /** Records PIL's two-pass Lanczos resize of `src` (HWC bytes, or planar f32) into a planar f32 buffer. */
  private recordResize(rec: Recorder, name: string, src: GPUBuffer, bytes: boolean, inW: number, inH: number, channels: number, outW: number, outH: number): GPUBuffer {
    const tx = lanczosTaps(inW, outW);
    const ty = lanczosTaps(inH, outH);
    const pack = (a: AxisTaps, into: Uint32Array, at: number) => {
      const f = new Float32Array(into.buffer);
      for (let i = 0; i < a.start.length; i++) {
        const o = at + i * (a.stride + 2);
        into[o] = a.start[i];
        into[o + 1] = a.count[i];
        f.set(a.weights.subarray(i * a.stride, i * a.stride + a.count[i]), o + 2);
      }
    };
    const hLen = outW * (tx.stride + 2);
    const t = new Uint32Array(hLen + outH * (ty.stride + 2));
    pack(tx, t, 0);
    pack(ty, t, hLen);
    const tapsBuf = this.buffer(`lanczos.${this.resizes++}`, t.byteLength); // each resize its own taps: all are written before the submit
    this.ctx.device.queue.writeBuffer(tapsBuf, 0, t);
    const mid = this.buffer('mid', 3 * inH * outW * 4);
    const out = this.buffer(`planar.${name}`, 3 * outH * outW * 4);
    const run = (kernel: Kernel, inBuf: GPUBuffer, outBuf: GPUBuffer, u: number[], label: string) => {
      const group = createBindGroup(this.ctx, kernel, [{ buffer: inBuf }, { buffer: tapsBuf }, { buffer: outBuf }], label);
      const [gx, gy] = grid2d(this.ctx, Math.ceil(u[0] / WG));
      rec.dispatch(kernel, group, new Uint32Array(u), gx, gy);
    };
    // mid = lanczos_x(src)   (3, inH, outW)
    run(bytes ? this.passHBytes : this.passH, src, mid, [3 * inH * outW, outW, inH, inW, inH, channels, 0, tx.stride], 'vision_resample_h');
    // out = lanczos_y(mid)   (3, outH, outW)
    run(this.passV, mid, out, [3 * outH * outW, outW, outH, outW, inH, 3, hLen, ty.stride], 'vision_resample_v');
    return out;
  }

  /** `channels`: bytes per pixel of a byte source; the source height for the f32 one. */
  /** Writes plan.tiles tiles at tile `first` of `out`; withGlobal false leaves out the global image. */
  private recordTiles(rec: Recorder, kernel: Kernel, src: GPUBuffer, W1: number, H1: number, channels: number, plan: TilePlan, first = 0, withGlobal = true): void {
    const S = this.cfg.tile;
    if ((first + plan.tiles) * 3 * S * S > numel(this.out.shape)) throw new OpShapeError(`vision_tiles: ${first + plan.tiles} tiles do not fit the vision input`);
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
    const tapsBuf = this.buffer(`taps.${first}`, t.byteLength);
    this.ctx.device.queue.writeBuffer(tapsBuf, 0, t);
    const total = plan.tiles * 3 * S * S;
    const u = new Uint32Array(this.params);
    const f = new Float32Array(this.params);
    u.set([total, S, tileCount, split ? plan.cols : 1, split ? plan.rows : 1, plan.height, plan.width, W1, channels, offsets[0], offsets[1], offsets[2], offsets[3], split && withGlobal ? 1 : 0]);
    f[14] = this.cfg.rescale;
    f.set([...this.cfg.mean, 0], 16);
    f.set([...this.cfg.std, 1], 20);
    const at = (this.out.offset ?? 0) + first * 3 * S * S * 4;
    const group = createBindGroup(this.ctx, kernel, [{ buffer: src }, { buffer: tapsBuf }, { buffer: this.out.buffer, offset: at, size: total * 4 }], 'vision_tiles');
    const [gx, gy] = grid2d(this.ctx, Math.ceil(total / WG));
    rec.dispatch(kernel, group, u, gx, gy); //   out = tiles(normalize(image))   (N, 3, S, S)
  }

  /**
   * Frees the scratch buffers (~110 MB for a 2048x1366 photo) once the recorded work has been
   * submitted and finished; the next photo allocates them again.
   */
  releaseScratch(): void {
    for (const b of this.grown.values()) this.ctx.buffers.destroy(b);
    this.grown.clear();
    this.resizes = 0;
  }

  destroy(): void {
    this.releaseScratch();
  }
}
