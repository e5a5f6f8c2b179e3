// CPU reference of the Idefics3 image path (SigLIP + pixel shuffle + projection), plain loops
// with f64 accumulation via workers/ops/reference, for the GPU parity test on random weights.
// Weights are given as plain arrays in the engine layout (tensor-plan.ts).
import { geluTanh } from '../../ops/reference/activation';
import { layernormRef } from '../../ops/reference/norm';
import { matmulRef } from '../../ops/reference/matmul';
import { patchify } from '../siglip/patchify';
import type { SiglipShape } from '../siglip/weights';

export interface RefLayer {
  ln1: Float32Array; ln1Bias: Float32Array; qkv: Float32Array; qkvBias: Float32Array; o: Float32Array; oBias: Float32Array;
  ln2: Float32Array; ln2Bias: Float32Array; fc1: Float32Array; fc1Bias: Float32Array; fc2: Float32Array; fc2Bias: Float32Array;
}

export interface RefWeights {
  patchEmbed: Float32Array; patchBias: Float32Array; pos: Float32Array; layers: RefLayer[];
  postNorm: Float32Array; postNormBias: Float32Array; proj: Float32Array;
}

/** Bidirectional multi-head attention of one tile: qkv (T, 3 vh) -> (T, vh). */
function attentionTile(qkv: Float32Array, T: number, nH: number, hd: number): Float32Array {
  const vh = nH * hd;
  const out = new Float32Array(T * vh);
  const p = new Float64Array(T);
  for (let h = 0; h < nH; h++) {
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j < T; j++) {
        let d = 0;
        for (let c = 0; c < hd; c++) d += qkv[i * 3 * vh + h * hd + c] * qkv[j * 3 * vh + vh + h * hd + c];
        p[j] = d / Math.sqrt(hd);
        max = Math.max(max, p[j]);
      }
      let sum = 0;
      for (let j = 0; j < T; j++) sum += p[j] = Math.exp(p[j] - max);
      for (let c = 0; c < hd; c++) {
        let acc = 0;
        for (let j = 0; j < T; j++) acc += p[j] * qkv[j * 3 * vh + 2 * vh + h * hd + c];
        out[i * vh + h * hd + c] = acc / sum;
      }
    }
  }
  return out;
}

/** SigLIP output (post-LayerNorm) of every tile: [tiles T, vh]. */
export function siglipRef(s: SiglipShape, w: RefWeights, pixels: Float32Array, tiles: number): Float32Array {
  const T = s.tokens;
  const vh = s.width;
  const K = s.channels * s.patch * s.patch;
  const rows = tiles * T;
  const x = matmulRef(patchify(pixels, 0, tiles, s.channels, s.imageSize, s.patch), w.patchEmbed, rows, vh, K, w.patchBias);
  for (let i = 0; i < x.length; i++) x[i] += w.pos[i % (T * vh)];
  for (const L of w.layers) {
    const xn = layernormRef(x, L.ln1, L.ln1Bias, rows, vh, s.eps);
    const qkv = matmulRef(xn, L.qkv, rows, 3 * vh, vh, L.qkvBias);
    const attn = new Float32Array(rows * vh);
    for (let b = 0; b < tiles; b++) attn.set(attentionTile(qkv.subarray(b * T * 3 * vh, (b + 1) * T * 3 * vh), T, s.nHeads, s.headDim), b * T * vh);
    const o = matmulRef(attn, L.o, rows, vh, vh, L.oBias);
    for (let i = 0; i < x.length; i++) x[i] += o[i];
    const xn2 = layernormRef(x, L.ln2, L.ln2Bias, rows, vh, s.eps);
    const h = matmulRef(xn2, L.fc1, rows, s.inter, vh, L.fc1Bias).map(geluTanh);
    const mlp = matmulRef(h, L.fc2, rows, vh, s.inter, L.fc2Bias);
    for (let i = 0; i < x.length; i++) x[i] += mlp[i];
  }
  return layernormRef(x, w.postNorm, w.postNormBias, rows, vh, s.eps);
}

/** transformers' Idefics3Connector.pixel_shuffle on [tiles, side², D] -> [tiles, side²/s², D s²]. */
export function pixelShuffleRef(x: Float32Array, tiles: number, side: number, D: number, s: number): Float32Array {
  // view (n, n/s, s D) -> permute -> reshape (n/s, n/s, s² D) -> permute back, per tile
  const out = new Float32Array(x.length);
  const q = side / s;
  for (let b = 0; b < tiles; b++) {
    for (let h = 0; h < side; h++) {
      for (let w = 0; w < side; w++) {
        const t = (h / s | 0) * q + (w / s | 0);
        const k0 = ((h % s) * s + (w % s)) * D;
        for (let c = 0; c < D; c++) out[(b * q * q + t) * D * s * s + k0 + c] = x[(b * side * side + h * side + w) * D + c];
      }
    }
  }
  return out;
}

/** Visual tokens [tiles Tv, H] of the whole image path. */
export function idefics3VisionRef(s: SiglipShape, w: RefWeights, scale: number, lmWidth: number, pixels: Float32Array, tiles: number): Float32Array {
  const enc = siglipRef(s, w, pixels, tiles);
  const shuffled = pixelShuffleRef(enc, tiles, s.side, s.width, scale);
  return matmulRef(shuffled, w.proj, (tiles * s.tokens) / (scale * scale), lmWidth, s.width * scale * scale);
}
