// The processor's arithmetic after the resize, on the GPU (workers/vision/gpu-tiles.ts): from the
// resized photo (RGB or RGBA bytes, HWC, packed 4 to a u32; or, with SRC_F32, the planar
// [3, H, W] 8-bit values shaders/image_resample.wgsl wrote) straight to the encoder's input tiles
// o[N, 3, S, S] f32, one thread per output element:
//   v = (byte * rescale - mean[c]) / std[c]                       (transformers.js rescale/normalize)
//   tile n < tiles: o = bilinear(v) at row top + y, column left + x of the image resized to
//                   H2 x W2 (ONNX Resize linear / half-pixel taps, tiles.ts), the last row/column
//                   of tiles aligned to the far edge
//   global (last):  o = bilinear over that H2 x W2 image (itself bilinear of v) down to S x S
// Taps (first index, second index, weights) come precomputed from the CPU, so the f32 tap
// arithmetic is tiles.ts' own: u32 tap[4 k + 0..1] indices, bitcast f32 tap[4 k + 2..3] weights.
#include "common"

struct Params {
  total: u32, size: u32, tiles: u32, cols: u32,
  rows: u32, h2: u32, w2: u32, srcW: u32,
  channels: u32, yTaps: u32, xTaps: u32, gyTaps: u32,
  gxTaps: u32, hasGlobal: u32, rescale: f32, _p0: u32,
  mean: vec4<f32>,
  sd: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
#if SRC_F32
@group(0) @binding(1) var<storage, read> src: array<f32>;
#else
@group(0) @binding(1) var<storage, read> src: array<u32>;
#endif
@group(0) @binding(2) var<storage, read> taps: array<u32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;

fn norm(c: u32, y: u32, x: u32) -> f32 {
#if SRC_F32
  let b = src[(c * p.channels + y) * p.srcW + x]; // here `channels` holds the source height
#else
  let i = (y * p.srcW + x) * p.channels + c;
  let b = f32((src[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
#endif
  return (b * p.rescale - p.mean[c]) / p.sd[c];
}

// The two source indices and weights of one output row or column (4 words at taps[t]).
struct Tap { i0: u32, i1: u32, w0: f32, w1: f32 }

fn tap(t: u32) -> Tap {
  return Tap(taps[t], taps[t + 1u], bitcast<f32>(taps[t + 2u]), bitcast<f32>(taps[t + 3u]));
}

// Value of the H2 x W2 resized image at (y, x), channel c.
fn resized(c: u32, y: u32, x: u32) -> f32 {
  let ty = tap(p.yTaps + 4u * y);
  let tx = tap(p.xTaps + 4u * x);
  return ty.w0 * (tx.w0 * norm(c, ty.i0, tx.i0) + tx.w1 * norm(c, ty.i0, tx.i1))
       + ty.w1 * (tx.w0 * norm(c, ty.i1, tx.i0) + tx.w1 * norm(c, ty.i1, tx.i1));
}

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_wg(wid, nwg) * WG_X + lid.x;
  if (idx >= p.total) { return; }
  let S = p.size;
  let x = idx % S;
  let y = (idx / S) % S;
  let c = (idx / (S * S)) % 3u;
  let n = idx / (3u * S * S);
  if (n < p.tiles) {
    let r = n / p.cols;
    let cc = n % p.cols;
    let top = select(r * S, p.h2 - S, r == p.rows - 1u);
    let left = select(cc * S, p.w2 - S, cc == p.cols - 1u);
    o[idx] = resized(c, top + y, left + x);
    return;
  }
  // the global image: the H2 x W2 image resized to S x S
  let ty = tap(p.gyTaps + 4u * y);
  let tx = tap(p.gxTaps + 4u * x);
  o[idx] = ty.w0 * (tx.w0 * resized(c, ty.i0, tx.i0) + tx.w1 * resized(c, ty.i0, tx.i1))
         + ty.w1 * (tx.w0 * resized(c, ty.i1, tx.i0) + tx.w1 * resized(c, ty.i1, tx.i1));
}
