// Vision glue kernels (one thread per output element, 1-D grid folded into 2-D):
//   OP == add_pos        x[b, t, c] += pos[t, c]                         (learned position embedding)
//   OP == pixel_shuffle  out[b, t', k] = x[b, t, c] with t' = (h/s)(n/s) + w/s,
//                        k = ((h%s) s + w%s) D + c, for the token t = h n + w of an n x n grid
//                        (transformers' Idefics3Connector.pixel_shuffle element order)
//   OP == patchify       o[b T + t, k] = x[b, c, py P + ky, px P + kx] for patch t = py side + px,
//                        k = (c P + ky) P + kx: the processor's tiles [B, C, S, S] as the patch
//                        embedding GEMM's rows [B T, C P P] (im2col of the stride-P convolution);
//                        here `width` = C channels, `scale` = P, `side` = S / P
#include "common"

struct Params { total: u32, tokens: u32, width: u32, side: u32, scale: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
#if OP == add_pos
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<f32>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
#endif

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_wg(wid, nwg) * WG_X + lid.x;
  if (idx >= p.total) { return; }
#if OP == add_pos
  // x is [B, tokens, width]; pos is [tokens, width]
  x[idx] = x[idx] + pos[idx % (p.tokens * p.width)];
#elif OP == patchify
  // idx enumerates o [B T, C P P]
  let P = p.scale;
  let K = p.width * P * P;
  let S = p.side * P;
  let k = idx % K;
  let row = idx / K;
  let t = row % p.tokens;
  let b = row / p.tokens;
  let c = k / (P * P);
  let ky = (k / P) % P;
  let kx = k % P;
  let py = t / p.side;
  let px = t % p.side;
  o[idx] = x[((b * p.width + c) * S + py * P + ky) * S + px * P + kx];
#else
  // idx enumerates out [B, tokens / s^2, width s^2]
  let D = p.width;
  let s = p.scale;
  let n = p.side;
  let k = idx % (D * s * s);
  let rest = idx / (D * s * s);
  let tOut = rest % (p.tokens / (s * s));
  let b = rest / (p.tokens / (s * s));
  let c = k % D;
  let sub = k / D; // dy * s + dx
  let hq = tOut / (n / s);
  let wq = tOut % (n / s);
  let h = hq * s + sub / s;
  let w = wq * s + sub % s;
  o[idx] = x[(b * p.tokens + h * n + w) * D + c];
#endif
}
