// Attention family: one source, typed variants (workers/ops/attention.ts builds the key).
//   entry `flash`     tiled prefill / vision / tree: KSPLIT threads per query, 64 queries per workgroup,
//                     K/V tiles in workgroup memory, online softmax. grid (nChunks, nHeads, B * ceil(nQ/64)):
//                     with nChunks > 1 each workgroup takes params.chunk keys and writes partials
//                     for `combine` (short query blocks over a long cache: tree verification).
//   entry `split`     decode / tree verification: one workgroup per (key chunk, head, query),
//                     chunk softmax reduced in workgroup memory; writes the final row when there
//                     is one chunk, else partials for `combine`. grid (nChunks, nHeads, B * nQ).
//                     With 256 threads and one chunk holding every key it is the one-dispatch
//                     decode / small-tree attention for short contexts (any MASK but full).
//   entry `combine`   merges split partials. grid (nHeads, B * nQ)
//   entry `keyscores` HiRED: attention each key receives, summed over queries per head, from the
//                     row max/sum `flash` saved (STATS): never materializes T x T. grid (ceil(nKeys/64), nHeads, B)
//   entry `keysum`    mean of those over heads and queries -> f32 [B, nKeys]. grid (ceil(nKeys/64), B)
// Defines: HEAD_DIM (multiple of 4), MASK (causal | tree | full), STATS (flash saves m, l),
// KSPLIT (flash lanes per query: 1, or 4 with 256 threads; partial slots = chunks x KSPLIT).
// A one-line `for (var c = 0u; c < D4; c++) { ... }` after a `// @unroll` line is unrolled by
// attention.ts (unrollLoops) so per-thread vec4 arrays are indexed by constants (registers).
// Layouts (elements; all offsets/strides multiples of 4): q[qOff + b*qSB + t*qST + h*HEAD_DIM + c],
// k[kOff + b*kSB + kvh*kSH + j*kST + c] (same for v), out[b*oSB + t*oST + h*HEAD_DIM + c].
// Masks: causal j <= start + i; tree j < start (= committed L) or bit (j - L) of node i's mask;
// full j < nKeys. A row that sees no key outputs zeros.

const WG: u32 = WG_X;
// flash: queries per workgroup; KS threads ("lanes") per query split each K/V tile's keys and
// write separate partials (KS > 1 only with the combine pass). Other entries run with KS = 1.
const KS: u32 = KSPLIT;
const QB: u32 = WG / KS;
const D4: u32 = HEAD_DIM / 4u;
// keys per flash tile: the K and V tiles take 4 KiB each
const BK: u32 = 1024u / HEAD_DIM;
// most keys per split workgroup (the call's chunk size is params.chunk, a multiple of WG)
const MAX_CHUNK: u32 = 1024u;
// key groups in the split kernel's P V step (WG threads = D4 columns x KG groups)
const KG: u32 = max(1u, WG / D4);
const NEG: f32 = -3.0e38;

struct Params {
  nQ: u32, nHeads: u32, nKv: u32, nKeys: u32,
  qOff: u32, qSB: u32, qST: u32, start: u32,
  kOff: u32, kSB: u32, kSH: u32, kST: u32,
  vOff: u32, vSB: u32, vSH: u32, vST: u32,
  oSB: u32, oST: u32, nChunks: u32, maskWords: u32,
  chunk: u32, scale: f32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4<f32>>;
// tree: ancestor bitmask u32[nQ * maskWords]; other modes bind any small buffer.
@group(0) @binding(5) var<storage, read> mask: array<u32>;
// flash+STATS: (m, l) per [B, nHeads, nQ]; split with nChunks > 1: (m, l) per [B*nQ, nHeads, nChunks];
// keyscores: out f32[B, nKeys] (as vec2 pairs are not used there, see `scores`).
@group(0) @binding(6) var<storage, read_write> stats: array<vec2<f32>>;
// split partial outputs [B*nQ, nHeads, nChunks, HEAD_DIM] / keysum output f32[B, nKeys].
@group(0) @binding(7) var<storage, read_write> part: array<f32>;
// keyscores per-head sums f32[B, nHeads, nKeys]; other entries bind any small buffer.
@group(0) @binding(8) var<storage, read_write> aux: array<f32>;

fn visible(i: u32, j: u32) -> bool {
#if MASK == causal
  return j <= params.start + i;
#elif MASK == tree
  if (j < params.start) { return true; }
  let t = j - params.start;
  if (t >= params.nQ) { return false; }
  return ((mask[i * params.maskWords + (t >> 5u)] >> (t & 31u)) & 1u) == 1u;
#else
  return j < params.nKeys;
#endif
}

// visible() with the query's tree-mask words already in registers (trees have <= 64 nodes).
fn visibleReg(i: u32, j: u32, mw: vec2<u32>) -> bool {
#if MASK == tree
  if (j < params.start) { return true; }
  let t = j - params.start;
  if (t >= params.nQ) { return false; }
  return ((mw[t >> 5u] >> (t & 31u)) & 1u) == 1u;
#else
  return visible(i, j);
#endif
}

fn maskWords(i: u32) -> vec2<u32> {
#if MASK == tree
  let w = i * params.maskWords;
  return vec2<u32>(mask[w], select(0u, mask[w + 1u], params.maskWords > 1u));
#else
  return vec2<u32>(0u);
#endif
}

// Keys [0, keyEnd) may be visible to queries [i0, i1].
fn keyEnd(i1: u32) -> u32 {
#if MASK == causal
  return min(params.nKeys, params.start + i1 + 1u);
#else
  return params.nKeys;
#endif
}

fn qBase(b: u32, t: u32, h: u32) -> u32 { return (params.qOff + b * params.qSB + t * params.qST + h * HEAD_DIM) / 4u; }
fn kBase(b: u32, kvh: u32, j: u32) -> u32 { return (params.kOff + b * params.kSB + kvh * params.kSH + j * params.kST) / 4u; }
fn vBase(b: u32, kvh: u32, j: u32) -> u32 { return (params.vOff + b * params.vSB + kvh * params.vSH + j * params.vST) / 4u; }
fn oBase(b: u32, t: u32, h: u32) -> u32 { return (b * params.oSB + t * params.oST + h * HEAD_DIM) / 4u; }

var<workgroup> kt: array<vec4<f32>, BK * D4>;
var<workgroup> vt: array<vec4<f32>, BK * D4>;

@compute @workgroup_size(WG)
fn flash(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let nQB = (params.nQ + QB - 1u) / QB;
  let b = wg.z / nQB;
  let h = wg.y;
  let ci = wg.x;
  let kvh = h / (params.nHeads / params.nKv);
  let i0 = (wg.z % nQB) * QB;
  let lane = lid / QB;
  let i = i0 + lid % QB;
  let live = i < params.nQ;
  let iq = min(i, params.nQ - 1u);
  var qr: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  let qb = qBase(b, iq, h);
  // @unroll
  for (var c = 0u; c < D4; c++) { qr[c] = q[qb + c] * params.scale; acc[c] = vec4<f32>(0.0); }
  var m = NEG;
  var l = 0.0;
  let mw = maskWords(iq);
  // key range of this workgroup: all keys, or chunk ci of params.chunk keys (split over keys)
  let end = min(keyEnd(min(i0 + QB - 1u, params.nQ - 1u)), (ci + 1u) * params.chunk);
  for (var t0 = ci * params.chunk; t0 < end; t0 += BK) {
    workgroupBarrier();
    for (var e = lid; e < BK * D4; e += WG) {
      let r = e / D4;
      let c = e % D4;
      let j = min(t0 + r, end - 1u);
      kt[e] = k[kBase(b, kvh, j) + c];
      vt[e] = v[vBase(b, kvh, j) + c];
    }
    workgroupBarrier();
    // online softmax one key at a time; acc is rescaled only when the running max grows
    for (var r = lane; r < BK; r += KS) {
      let j = t0 + r;
      if (j < end && visibleReg(iq, j, mw)) {
        var d4 = vec4<f32>(0.0);
        // @unroll
        for (var c = 0u; c < D4; c++) { d4 += qr[c] * kt[r * D4 + c]; }
        let x = d4.x + d4.y + d4.z + d4.w;
        if (x > m) {
          let corr = exp(m - x);
          l *= corr;
          // @unroll
          for (var c = 0u; c < D4; c++) { acc[c] *= corr; }
          m = x;
        }
        let p = exp(x - m);
        l += p;
        // @unroll
        for (var c = 0u; c < D4; c++) { acc[c] += p * vt[r * D4 + c]; }
      }
    }
  }
  if (live && params.nChunks == 1u) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let ob = oBase(b, i, h);
    // @unroll
    for (var c = 0u; c < D4; c++) { o[ob + c] = acc[c] * inv; }
#if STATS
    stats[(b * params.nHeads + h) * params.nQ + i] = vec2<f32>(m, l);
#endif
  } else if (live) {
    // partial (unnormalized) result of this key chunk, merged by `combine`
    let slot = ((b * params.nQ + i) * params.nHeads + h) * params.nChunks + ci * KS + lane;
    // @unroll
    for (var c = 0u; c < D4; c++) { let pb = (slot * D4 + c) * 4u; part[pb] = acc[c].x; part[pb + 1u] = acc[c].y; part[pb + 2u] = acc[c].z; part[pb + 3u] = acc[c].w; }
    stats[slot] = vec2<f32>(m, l);
  }
}

var<workgroup> qs: array<vec4<f32>, D4>;
var<workgroup> ps: array<f32, MAX_CHUNK>;
var<workgroup> pacc: array<vec4<f32>, WG>;
var<workgroup> red: array<f32, WG>;

fn reduceMax(x: f32, lid: u32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(x: f32, lid: u32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn split(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let ci = wg.x;
  let h = wg.y;
  let b = wg.z / params.nQ;
  let i = wg.z % params.nQ;
  let kvh = h / (params.nHeads / params.nKv);
  let qb = qBase(b, i, h);
  for (var c = lid; c < D4; c += WG) { qs[c] = q[qb + c] * params.scale; }
  workgroupBarrier();
  let lo = ci * params.chunk;
  let hi = min(lo + params.chunk, keyEnd(i));
  let n = select(0u, hi - lo, hi > lo);
  // scores: one key per thread per step, its row read as D4 independent vec4 loads
  var lmax = NEG;
  for (var r = lid; r < params.chunk; r += WG) {
    let j = lo + r;
    var x = NEG;
    if (r < n && visible(i, j)) {
      let kb = kBase(b, kvh, j);
      var d4 = vec4<f32>(0.0);
      // @unroll
      for (var c = 0u; c < D4; c++) { d4 += qs[c] * k[kb + c]; }
      x = d4.x + d4.y + d4.z + d4.w;
      lmax = max(lmax, x);
    }
    ps[r] = x;
  }
  let m = reduceMax(lmax, lid);
  var lsum = 0.0;
  for (var r = lid; r < params.chunk; r += WG) {
    let x = ps[r];
    let p = select(0.0, exp(x - m), x > NEG);
    ps[r] = p;
    lsum += p;
  }
  let l = reduceSum(lsum, lid);
  // P V: thread = (vec4 column c4, key group g); G groups stride the chunk, then sum in shared memory
  let c4 = lid % D4;
  let g = lid / D4;
  // 4 keys in flight per thread (independent accumulators), then the tail
  var acc = vec4<f32>(0.0);
  if (g < KG) {
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var r = g;
    while (r + 3u * KG < n) {
      acc += ps[r] * v[vBase(b, kvh, lo + r) + c4];
      a1 += ps[r + KG] * v[vBase(b, kvh, lo + r + KG) + c4];
      a2 += ps[r + 2u * KG] * v[vBase(b, kvh, lo + r + 2u * KG) + c4];
      a3 += ps[r + 3u * KG] * v[vBase(b, kvh, lo + r + 3u * KG) + c4];
      r += 4u * KG;
    }
    while (r < n) {
      acc += ps[r] * v[vBase(b, kvh, lo + r) + c4];
      r += KG;
    }
    acc += (a1 + a2) + a3;
  }
  pacc[lid] = acc;
  workgroupBarrier();
  let slot = (wg.z * params.nHeads + h) * params.nChunks + ci;
  for (var c = lid; c < D4; c += WG) {
    var a = vec4<f32>(0.0);
    for (var gg = 0u; gg < KG; gg++) { a += pacc[gg * D4 + c]; }
    if (params.nChunks == 1u) {
      o[oBase(b, i, h) + c] = select(vec4<f32>(0.0), a / l, l > 0.0);
    } else {
      let pb = (slot * D4 + c) * 4u;
      part[pb] = a.x;
      part[pb + 1u] = a.y;
      part[pb + 2u] = a.z;
      part[pb + 3u] = a.w;
    }
  }
  if (params.nChunks > 1u && lid == 0u) { stats[slot] = vec2<f32>(m, l); }
}

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let z = wg.y;
  let b = z / params.nQ;
  let i = z % params.nQ;
  let base = (z * params.nHeads + h) * params.nChunks;
  var gm = NEG;
  for (var c = 0u; c < params.nChunks; c++) {
    let ml = stats[base + c];
    if (ml.y > 0.0) { gm = max(gm, ml.x); }
  }
  for (var d = lid; d < HEAD_DIM; d += WG) {
    var a = 0.0;
    var l = 0.0;
    for (var c = 0u; c < params.nChunks; c++) {
      let ml = stats[base + c];
      if (ml.y > 0.0) {
        let w = exp(ml.x - gm);
        a += w * part[(base + c) * HEAD_DIM + d];
        l += w * ml.y;
      }
    }
    let ob = oBase(b, i, h) * 4u + d;
    o[ob / 4u][ob % 4u] = select(0.0, a / l, l > 0.0);
  }
}

// HiRED key scores, pass 1: thread per key, workgroup per (64 keys, head, batch); loops over
// query tiles (q + the m, l `flash` saved, in workgroup memory) and sums exp(s - m_i) / l_i into
// aux[(b * nHeads + h) * nKeys + j]. Pass 2 (`keysum`): part[b * nKeys + j] = mean over (h, i).
var<workgroup> qt: array<vec4<f32>, BK * D4>;
var<workgroup> mt: array<vec2<f32>, BK>;

@compute @workgroup_size(WG)
fn keyscores(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.z;
  let h = wg.y;
  let j = wg.x * WG + lid;
  let jj = min(j, params.nKeys - 1u);
  let kvh = h / (params.nHeads / params.nKv);
  var kr: array<vec4<f32>, D4>;
  let kb = kBase(b, kvh, jj);
  // @unroll
  for (var c = 0u; c < D4; c++) { kr[c] = k[kb + c]; }
  var total = 0.0;
  for (var t0 = 0u; t0 < params.nQ; t0 += BK) {
    workgroupBarrier();
    for (var e = lid; e < BK * D4; e += WG) {
      let t = min(t0 + e / D4, params.nQ - 1u);
      qt[e] = q[qBase(b, t, h) + e % D4] * params.scale;
    }
    for (var e = lid; e < BK; e += WG) {
      let t = t0 + e;
      mt[e] = select(vec2<f32>(0.0, 0.0), stats[(b * params.nHeads + h) * params.nQ + min(t, params.nQ - 1u)], t < params.nQ);
    }
    workgroupBarrier();
    for (var r = 0u; r < BK; r++) {
      let ml = mt[r];
      if (ml.y > 0.0 && visible(t0 + r, jj)) {
        var d4 = vec4<f32>(0.0);
        // @unroll
        for (var c = 0u; c < D4; c++) { d4 += qt[r * D4 + c] * kr[c]; }
        total += exp(d4.x + d4.y + d4.z + d4.w - ml.x) / ml.y;
      }
    }
  }
  if (j < params.nKeys) { aux[(b * params.nHeads + h) * params.nKeys + j] = total; }
}

@compute @workgroup_size(WG)
fn keysum(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.y;
  let j = wg.x * WG + lid;
  if (j >= params.nKeys) { return; }
  var s = 0.0;
  for (var h = 0u; h < params.nHeads; h++) { s += aux[(b * params.nHeads + h) * params.nKeys + j]; }
  part[b * params.nKeys + j] = s / f32(params.nHeads * params.nQ);
}
