// PIL-style Lanczos resize on the GPU (resample.ts has the taps and the CPU reference), one thread
// per output element, two passes like PIL, each rounded to 8 bits and clamped:
//   PASS == h   mid[c, y, x] = round8(sum_k w[x, k] src[c, y, start[x] + k])
//               src: the photo's HWC bytes packed in u32 (SRC_BYTES), or a planar [3, inH, inW] f32
//   PASS == v   o[c, y, x]   = round8(sum_k w[y, k] mid[c, start[y] + k, x])  -> planar [3, H, W] f32
// Taps: per output i, tap[base + i (stride + 2)] = start, + 1 = count, + 2.. = weights (f32 bits).
#include "common"

struct Params { total: u32, outW: u32, outH: u32, inW: u32, inH: u32, channels: u32, taps: u32, stride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
#if SRC_BYTES
@group(0) @binding(1) var<storage, read> src: array<u32>;
#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> taps: array<u32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;

fn round8(v: f32) -> f32 {
  return clamp(floor(v + 0.5), 0.0, 255.0);
}

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_wg(wid, nwg) * WG_X + lid.x;
  if (idx >= p.total) { return; }
  let x = idx % p.outW;
  let y = (idx / p.outW) % p.outH;
  let c = idx / (p.outW * p.outH);
  var acc = 0.0;
#if PASS == h
  let t = p.taps + x * (p.stride + 2u);
  let start = taps[t];
  let n = taps[t + 1u];
  for (var k = 0u; k < n; k++) {
#if SRC_BYTES
    let i = (y * p.inW + start + k) * p.channels + c;
    let b = f32((src[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
#else
    let b = src[(c * p.inH + y) * p.inW + start + k];
#endif
    acc += bitcast<f32>(taps[t + 2u + k]) * b;
  }
#else
  let t = p.taps + y * (p.stride + 2u);
  let start = taps[t];
  let n = taps[t + 1u];
  for (var k = 0u; k < n; k++) {
    acc += bitcast<f32>(taps[t + 2u + k]) * src[(c * p.inH + start + k) * p.outW + x];
  }
#endif
  o[idx] = round8(acc);
}
