// SigLIP vision encoder forward over a batch of tiles, recorded into the caller's command buffer
// (no readback between layers). Patch rows (im2col of the tiles, vision-ops Patchify) are on the GPU in
// `patches` (all tiles of a request, so several batches can be recorded into one submit).
//
// Shapes: B tiles this batch (≤ maxBatch), T = side² patches per tile, vh width, I MLP width,
// nH heads, hd = vh / nH, K = C P P patch row. The residual stream x is updated in place; each
// block's output is added to it by the NEXT LayerNorm (fused residual add).
import type { GpuContext } from '../../gpu/context';
import type { Recorder } from '../../gpu/recorder';
import { createVisionAttention, type VisionAttention } from '../../ops/attention-presets';
import { createGemm, type Gemm } from '../../ops/gemm';
import { createLayerNorm } from '../../ops/layernorm';
import type { RowNorm } from '../../ops/rmsnorm';
import { createF32, type GpuTensor } from '../../ops/types';
import { AddPositions } from './vision-ops';
import type { SiglipWeights } from './weights';

/** Op classes recordPart() can record alone. */
export type EncoderPart = 'gemm' | 'attention' | 'norm';

export interface SiglipActivations {
  x: GpuTensor; // (B T, vh) residual stream
  xn: GpuTensor; // (B T, vh) normalized
  qkv: GpuTensor; // (B T, 3 vh)
  attn: GpuTensor; // (B T, vh)
  o: GpuTensor; // (B T, vh)
  h: GpuTensor; // (B T, I)
  mlp: GpuTensor; // (B T, vh)
  out: GpuTensor; // (B T, vh) post-LayerNorm output
  lastScores: GpuTensor; // (B, T) final-layer HiRED key scores of this batch
}

interface LayerOps {
  ln1: RowNorm; // x += mlp (prev layer); xn = ln1(x)
  qkv: Gemm;
  attention: VisionAttention;
  o: Gemm;
  ln2: RowNorm; // x += o; xn = ln2(x)
  fc1: Gemm; // GELU fused into its epilogue
  fc2: Gemm;
}

export class SiglipEncoder {
  readonly a: SiglipActivations;
  readonly rowsPerBatch: number;
  private readonly patchGemm: Gemm;
  private readonly addPos: AddPositions;
  private readonly layers: LayerOps[] = [];
  private readonly post: RowNorm;

  /**
   * `patches`: f32 [maxTiles T, K] patch rows of every tile of a request.
   * `scores`: f32 [maxTiles, T], receives each tile's final-layer key scores (HiRED).
   */
  constructor(
    readonly ctx: GpuContext,
    readonly w: SiglipWeights,
    readonly patches: GpuTensor,
    readonly scores: GpuTensor,
    readonly maxBatch: number,
  ) {
    const s = w.shape;
    const M = maxBatch * s.tokens;
    this.rowsPerBatch = M;
    const f = (n: number, label: string) => createF32(ctx, [M, n], label);
    const a: SiglipActivations = {
      x: f(s.width, 'vis.x'),
      xn: f(s.width, 'vis.xn'),
      qkv: f(3 * s.width, 'vis.qkv'),
      attn: f(s.width, 'vis.attn'),
      o: f(s.width, 'vis.o'),
      h: f(s.inter, 'vis.h'),
      mlp: f(s.width, 'vis.mlp'),
      out: f(s.width, 'vis.out'),
      lastScores: createF32(ctx, [maxBatch, s.tokens], 'vis.scores'),
    };
    this.a = a;
    this.patchGemm = createGemm(ctx, { w: w.patchEmbed, x: patches, y: a.x, bias: w.patchBias, maxM: M });
    this.addPos = new AddPositions(ctx, { x: a.x, pos: w.pos, maxBatch });
    const attnInit = { qkv: a.qkv, out: a.attn, nHeads: s.nHeads, headDim: s.headDim, tokens: s.tokens, maxBatch };
    w.layers.forEach((lw, l) => {
      const last = l === s.layers - 1;
      this.layers.push({
        ln1: createLayerNorm(ctx, { x: a.x, weight: lw.ln1, bias: lw.ln1Bias, out: a.xn, residual: l > 0 ? a.mlp : undefined, eps: s.eps }),
        qkv: createGemm(ctx, { w: lw.qkv, x: a.xn, y: a.qkv, bias: lw.qkvBias, maxM: M }),
        attention: createVisionAttention(ctx, last ? { ...attnInit, keyScores: a.lastScores } : attnInit),
        o: createGemm(ctx, { w: lw.o, x: a.attn, y: a.o, bias: lw.oBias, maxM: M }),
        ln2: createLayerNorm(ctx, { x: a.x, weight: lw.ln2, bias: lw.ln2Bias, out: a.xn, residual: a.o, eps: s.eps }),
        fc1: createGemm(ctx, { w: lw.fc1, x: a.xn, y: a.h, bias: lw.fc1Bias, maxM: M, gelu: true }),
        fc2: createGemm(ctx, { w: lw.fc2, x: a.h, y: a.mlp, bias: lw.fc2Bias, maxM: M }),
      });
    });
    this.post = createLayerNorm(ctx, { x: a.x, weight: w.postNorm, bias: w.postNormBias, out: a.out, residual: s.layers > 0 ? a.mlp : undefined, eps: s.eps });
  }

  /** Records tiles first .. first+batch-1 of `patches`; the result is in a.out (batch T, vh). */
  record(rec: Recorder, first: number, batch: number): void {
    const s = this.w.shape;
    const rows = batch * s.tokens;
    const K = s.channels * s.patch * s.patch;
    this.patchGemm.record(rec, { m: rows, xOffset: first * s.tokens * K }); // x = patches Wp^T + bp   (B T, vh)
    this.addPos.record(rec, { batch }); //                                    x += pos              (B T, vh)
    for (const L of this.layers) {
      L.ln1.record(rec, { rows }); //          x += mlp; xn = ln1(x)                               (B T, vh)
      L.qkv.record(rec, { m: rows }); //       qkv = xn Wqkv^T + b                                 (B T, 3 vh)
      L.attention.record(rec, { batch }); //   attn = softmax(q k^T / √hd) v, per tile, all keys   (B T, vh)
      L.o.record(rec, { m: rows }); //         o = attn Wo^T + b                                   (B T, vh)
      L.ln2.record(rec, { rows }); //          x += o; xn = ln2(x)                                 (B T, vh)
      L.fc1.record(rec, { m: rows }); //       h = gelu_tanh(xn W1^T + b1)                         (B T, I)
      L.fc2.record(rec, { m: rows }); //       mlp = h W2^T + b2                                   (B T, vh)
    }
    this.post.record(rec, { rows }); //        x += mlp; out = post_ln(x)                          (B T, vh)
    // Keep this batch's final-layer key scores for HiRED (scores [maxTiles, T]).
    rec.copy(this.a.lastScores.buffer, 0, this.scores.buffer, (this.scores.offset ?? 0) + first * s.tokens * 4, batch * s.tokens * 4);
  }

  /**
   * Records one class of this encoder's ops, every layer, for tiles first .. first+batch-1, and
   * nothing else (profiling: tools/bench/vlm.ts times each class alone; values are meaningless).
   */
  recordPart(rec: Recorder, part: EncoderPart, first: number, batch: number): void {
    const s = this.w.shape;
    const rows = batch * s.tokens;
    const K = s.channels * s.patch * s.patch;
    if (part === 'gemm') this.patchGemm.record(rec, { m: rows, xOffset: first * s.tokens * K });
    for (const L of this.layers) {
      if (part === 'gemm') for (const g of [L.qkv, L.o, L.fc1, L.fc2]) g.record(rec, { m: rows });
      else if (part === 'attention') L.attention.record(rec, { batch });
      else for (const n of [L.ln1, L.ln2]) n.record(rec, { rows });
    }
  }

  destroy(): void {
    for (const t of Object.values(this.a)) this.ctx.buffers.destroy((t as GpuTensor).buffer);
  }
}
