// Llama / Qwen2 forward pass over T tokens after the committed KV cache, recorded into ONE
// command buffer (workers/gpu Recorder): embedding gather, per layer an attention block and an
// MLP block, final norm and the LM head on the last row. No readback between layers; the caller
// adds token selection (GPU argmax / sampling) to the same recording.
//
// Shapes: T rows this pass (T ≤ maxChunk), H hidden, nH heads, nKv kv heads, hd head_dim,
// W = (nH + 2 nKv) hd fused QKV width, I intermediate, V vocab. The residual stream x is
// updated in place; each block's output is added to it by the NEXT norm (fused residual add).
//
// Decode (T = 1) has a fused path (5-6 dispatches a layer instead of 9) when every M = 1 matmul
// is a GEMV: RMSNorm is applied by the QKV / gate_up / LM-head GEMVs while they read x, SiLU·mul
// by the down GEMV while it reads gate_up, and the o / down GEMVs add into x themselves
// (shaders/gemv_fuse.wgsl); with quantized QKV weights (and enough storage-buffer bindings) the
// QKV GEMV also applies RoPE and writes the KV cache itself: 5 dispatches a layer.
// Prefill (T > 1) keeps the separate norm / activation / RoPE ops.
import type { GpuContext } from '../../gpu/context';
import type { Recorder } from '../../gpu/recorder';
import { createAttention, type Attention } from '../../ops/attention';
import { createEmbedding, type Embedding } from '../../ops/embedding';
import { createGemv, gemvStorageBuffers, type Gemv } from '../../ops/gemv';
import { matmulKernelFor } from '../../ops/matmul';
import type { KvLayer } from '../../ops/kv-cache-ops';
import { createMatmul, type Matmul } from '../../ops/matmul';
import type { RowNorm } from '../../ops/rmsnorm';
import { createRmsNorm } from '../../ops/rmsnorm';
import { createRopeTable, RopeKvWrite } from '../../ops/rope';
import { createSiluMul, type SiluMul } from '../../ops/silu-mul';
import { createF32, createU32, type GpuTensor } from '../../ops/types';
import type { LlamaShape } from './config';
import type { LlamaWeights } from './weights';

/** Activation buffers, sized for maxChunk rows and reused by every layer. */
export interface Activations {
  ids: GpuTensor; // u32 (T)
  positions: GpuTensor; // u32 (T)
  x: GpuTensor; // (T, H) residual stream
  xn: GpuTensor; // (T, H) normalized
  qkv: GpuTensor; // (T, W)
  q: GpuTensor; // (T, nH, hd) rotated queries
  attn: GpuTensor; // (T, nH hd)
  o: GpuTensor; // (T, H) attention block output
  gateUp: GpuTensor; // (T, 2 I)
  act: GpuTensor; // (T, I)
  down: GpuTensor; // (T, H) MLP block output
  logits: GpuTensor; // (V) last row
}

interface LayerOps {
  attnNorm: RowNorm; // x += down(prev layer); xn = rmsnorm(x)
  qkv: Matmul;
  rope: RopeKvWrite;
  attention: Attention;
  o: Matmul;
  mlpNorm: RowNorm; // x += o; xn = rmsnorm(x)
  gateUp: Matmul;
  silu: SiluMul;
  down: Matmul;
}

/** The fused decode path's GEMVs of one layer (T = 1). */
interface FusedLayerOps {
  qkv: Gemv; //    qkv = rmsnorm(x) Wqkv^T + b (ropeKv: q = rope(q), cache[slot] = rope(k), v)
  /** Whether qkv applies RoPE and writes the cache itself (no separate rope_kv dispatch). */
  ropeKv: boolean;
  o: Gemv; //      x += attn Wo^T (+ b)
  gateUp: Gemv; // gate_up = rmsnorm(x) Wgu^T
  down: Gemv; //   x += (silu(gate) * up) Wd^T
}

interface FusedOps {
  layers: FusedLayerOps[];
  lmHead: Gemv; // logits = rmsnorm(x) Wlm^T
  finalNorm: RowNorm; // xn = rmsnorm(x), no residual (all-rows head after a fused pass)
}

export function createActivations(ctx: GpuContext, s: LlamaShape, maxT: number): Activations {
  const f = (shape: number[], label: string) => createF32(ctx, shape, label);
  return {
    ids: createU32(ctx, [maxT], 'act.ids'),
    positions: createU32(ctx, [maxT], 'act.positions'),
    x: f([maxT, s.hidden], 'act.x'),
    xn: f([maxT, s.hidden], 'act.xn'),
    qkv: f([maxT, s.qkvWidth], 'act.qkv'),
    q: f([maxT, s.nHeads, s.headDim], 'act.q'),
    attn: f([maxT, s.nHeads * s.headDim], 'act.attn'),
    o: f([maxT, s.hidden], 'act.o'),
    gateUp: f([maxT, 2 * s.inter], 'act.gate_up'),
    act: f([maxT, s.inter], 'act.act'),
    down: f([maxT, s.hidden], 'act.down'),
    logits: f([s.vocab], 'act.logits'),
  };
}

/** Every op of the forward pass, created once per model load (bind groups are fixed). */
export class LlamaForward {
  readonly embed: Embedding;
  readonly layers: LayerOps[] = [];
  readonly finalNorm: RowNorm;
  readonly lmHead: Gemv;
  /** The fused decode path, or null where some M = 1 matmul is not a GEMV (or it was turned off). */
  readonly fused: FusedOps | null;
  private readonly ropeTable: GpuTensor;

  constructor(
    readonly ctx: GpuContext,
    readonly w: LlamaWeights,
    readonly a: Activations,
    readonly kv: KvLayer[],
    readonly maxT: number,
    fusedDecode = true,
  ) {
    const s = w.shape;
    const capacity = kv[0].maxSeq;
    const table = createRopeTable(ctx, s.headDim, s.ropeTheta, capacity);
    this.ropeTable = table;
    this.embed = createEmbedding(ctx, { table: w.embed, ids: a.ids, out: a.x, maxTokens: maxT });
    w.layers.forEach((lw, l) => {
      this.layers.push({
        attnNorm: createRmsNorm(ctx, { x: a.x, weight: lw.attnNorm, out: a.xn, residual: l > 0 ? a.down : undefined, eps: s.eps }),
        qkv: createMatmul(ctx, { w: lw.qkv, x: a.xn, y: a.qkv, bias: lw.qkvBias, maxM: maxT }),
        rope: new RopeKvWrite(ctx, { qkv: a.qkv, table, positions: a.positions, qOut: a.q, cache: kv[l], nHeads: s.nHeads }),
        attention: createAttention(ctx, {
          mode: 'causal',
          nHeads: s.nHeads,
          nKv: s.nKv,
          headDim: s.headDim,
          q: { t: a.q, strideT: s.nHeads * s.headDim },
          k: { t: kv[l].k, strideH: capacity * s.headDim, strideT: s.headDim },
          v: { t: kv[l].v, strideH: capacity * s.headDim, strideT: s.headDim },
          out: a.attn,
          maxQ: maxT,
          maxKeys: capacity,
        }),
        o: createMatmul(ctx, { w: lw.o, x: a.attn, y: a.o, bias: lw.oBias, maxM: maxT }),
        mlpNorm: createRmsNorm(ctx, { x: a.x, weight: lw.mlpNorm, out: a.xn, residual: a.o, eps: s.eps }),
        gateUp: createMatmul(ctx, { w: lw.gateUp, x: a.xn, y: a.gateUp, maxM: maxT }),
        silu: createSiluMul(ctx, { gateUp: a.gateUp, inter: s.inter, out: a.act }),
        down: createMatmul(ctx, { w: lw.down, x: a.act, y: a.down, maxM: maxT }),
      });
    });
    this.finalNorm = createRmsNorm(ctx, { x: a.x, weight: w.norm, out: a.xn, residual: s.layers > 0 ? a.down : undefined, eps: s.eps });
    this.lmHead = createGemv(ctx, { w: w.lmHead, x: a.xn, y: a.logits });
    this.fused = fusedDecode && LlamaForward.canFuse(ctx, w) ? this.createFused() : null;
    // Build every matmul kernel variant (GEMV / skinny / tiled) now, at load, instead of on the
    // first prefill or decode step: pipeline compilation belongs to load time, not to TTFT. With
    // the fused path, M = 1 never reaches the Matmuls' own GEMVs.
    for (const L of this.layers) for (const m of [L.qkv, L.o, L.gateUp, L.down]) m.warm(this.fused ? 2 : 1);
  }

  /** Whether every M = 1 matmul of these weights is a GEMV the fusions support. */
  static canFuse(ctx: GpuContext, w: LlamaWeights): boolean {
    const mats = [w.lmHead, ...w.layers.flatMap((l) => [l.qkv, l.o, l.gateUp, l.down])];
    return mats.every((t) => (t.dtype !== 'f32' || t.shape[1] % 4 === 0) && (t === w.lmHead || matmulKernelFor(t.dtype, 1, ctx.caps.software) === 'gemv'));
  }

  private createFused(): FusedOps {
    const { ctx, w, a } = this;
    const s = w.shape;
    const norm = (weight: GpuTensor) => ({ norm: { weight, eps: s.eps } });
    return {
      layers: w.layers.map((lw, l) => {
        // RoPE + KV write in the QKV epilogue: quantized W, whole heads per workgroup, and the
        // extra bindings within this GPU's per-stage storage-buffer limit.
        const ropeKv = { table: this.ropeTable, qOut: a.q, cache: this.kv[l], nHeads: s.nHeads };
        const withRope =
          lw.qkv.dtype !== 'f32' &&
          s.headDim <= ctx.caps.maxComputeInvocationsPerWorkgroup &&
          gemvStorageBuffers({ norm: norm(lw.attnNorm).norm, ropeKv }, !!lw.qkvBias) <= ctx.caps.maxStorageBuffersPerShaderStage;
        const qkvFuse = withRope ? { ...norm(lw.attnNorm), ropeKv } : norm(lw.attnNorm);
        return {
          ropeKv: withRope,
          qkv: createGemv(ctx, { w: lw.qkv, x: a.x, y: a.qkv, bias: lw.qkvBias, fuse: qkvFuse }),
          o: createGemv(ctx, { w: lw.o, x: a.attn, y: a.x, bias: lw.oBias, fuse: { accumulate: true } }),
          gateUp: createGemv(ctx, { w: lw.gateUp, x: a.x, y: a.gateUp, fuse: norm(lw.mlpNorm) }),
          down: createGemv(ctx, { w: lw.down, x: a.gateUp, y: a.x, fuse: { siluMul: true, accumulate: true } }),
        };
      }),
      lmHead: createGemv(ctx, { w: w.lmHead, x: a.x, y: a.logits, fuse: norm(w.norm) }),
      finalNorm: createRmsNorm(ctx, { x: a.x, weight: w.norm, out: a.xn, eps: s.eps }),
    };
  }

  /** Records the whole pass for T tokens whose ids/positions are already in a.ids/a.positions. */
  record(rec: Recorder, T: number, firstSlot: number): void {
    this.embed.record(rec, { count: T }); // x = embed[ids]                      (T, H)
    this.recordLayers(rec, T, firstSlot);
    this.head(rec, T);
  }

  /** Every decoder layer over the T rows of x already embedded (callers may splice rows in first). */
  recordLayers(rec: Recorder, T: number, firstSlot: number): void {
    if (T === 1 && this.fused) {
      this.layers.forEach((L, l) => this.fusedLayer(rec, L, this.fused!.layers[l], firstSlot));
      return;
    }
    for (const layer of this.layers) {
      this.attentionBlock(rec, layer, T, firstSlot);
      this.mlpBlock(rec, layer, T);
    }
  }

  /** x += o, where o = Wo · attention(rope(Wqkv · rmsnorm(x))) over the cache. */
  attentionBlock(rec: Recorder, L: LayerOps, T: number, firstSlot: number): void {
    L.attnNorm.record(rec, { rows: T }); //   x += down (prev layer); xn = rmsnorm(x)  (T, H)
    L.qkv.record(rec, { m: T }); //           qkv = xn Wqkv^T + b                      (T, W)
    L.rope.record(rec, { T, firstSlot }); //  q = rope(q); cache[firstSlot+t] = rope(k), v  (T, nH, hd)
    L.attention.record(rec, { nQ: T, start: firstSlot }); // attn = softmax(q k^T / √hd) v   (T, nH hd)
    L.o.record(rec, { m: T }); //             o = attn Wo^T                            (T, H)
  }

  /** x += down, where down = Wd · (silu(Wg · xn) * (Wu · xn)), xn = rmsnorm(x += o). */
  mlpBlock(rec: Recorder, L: LayerOps, T: number): void {
    L.mlpNorm.record(rec, { rows: T }); //    x += o; xn = rmsnorm(x)                  (T, H)
    L.gateUp.record(rec, { m: T }); //        gate_up = xn Wgu^T                        (T, 2I)
    L.silu.record(rec, { rows: T }); //       act = silu(gate) * up                     (T, I)
    L.down.record(rec, { m: T }); //          down = act Wd^T                           (T, H)
  }

  /** One decoder layer for one token on the fused path: 5-6 dispatches. x is complete after it. */
  fusedLayer(rec: Recorder, L: LayerOps, F: FusedLayerOps, slot: number): void {
    if (F.ropeKv) {
      F.qkv.record(rec, { slot }); //         q = rope(rmsnorm(x) Wq^T + b); cache[slot] = rope(k), v
    } else {
      F.qkv.record(rec); //                   qkv = rmsnorm(x) Wqkv^T + b              (1, W)
      L.rope.record(rec, { T: 1, firstSlot: slot }); // q = rope(q); cache[slot] = rope(k), v
    }
    L.attention.record(rec, { nQ: 1, start: slot }); // attn = softmax(q k^T / √hd) v  (1, nH hd)
    F.o.record(rec); //                       x += attn Wo^T                           (1, H)
    F.gateUp.record(rec); //                  gate_up = rmsnorm(x) Wgu^T               (1, 2I)
    F.down.record(rec); //                    x += (silu(gate) * up) Wd^T              (1, H)
  }

  /** logits = rmsnorm(x += down)[T-1] · Wlm^T. */
  head(rec: Recorder, T: number): void {
    if (T === 1 && this.fused) {
      this.fused.lmHead.record(rec); //       logits = rmsnorm(x) Wlm^T                (V)
      return;
    }
    this.finalNorm.record(rec, { rows: T }); //                                         (T, H)
    this.lmHead.record(rec, { xOffset: (T - 1) * this.w.shape.hidden }); // logits      (V)
  }

  /** logits = rmsnorm(x += down) · Wlm^T on every row, into `allLogits` (see createAllRowsHead). */
  headAllRows(rec: Recorder, T: number, allLogits: Matmul): void {
    // After a fused pass x already holds the last down output: normalize without the residual.
    (T === 1 && this.fused ? this.fused.finalNorm : this.finalNorm).record(rec, { rows: T }); // (T, H)
    allLogits.record(rec, { m: T }); //       logits = xn Wlm^T                         (T, V)
  }

  /** An LM head over all rows into `out` [maxT, V] (parity tools). */
  createAllRowsHead(out: GpuTensor): Matmul {
    return createMatmul(this.ctx, { w: this.w.lmHead, x: this.a.xn, y: out, maxM: this.maxT });
  }
}
