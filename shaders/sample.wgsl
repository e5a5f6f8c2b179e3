// Token selection on the GPU so a step reads back a few u32s.
// Entries:
//   argmax   grid (nChunks, rows): each workgroup reduces CHUNK_A values of row r of x [rows, n] to
//            (max, first index). nChunks == 1: writes out[r]; else partials, then `argmax2`.
//   argmax2  grid (rows): reduces a row's partials to out[r].
//   scale    grid over n: y = logits / temperature.
//   penalty  grid over the history: y[t] = (x < 0 ? x * pen : x / pen) / temperature for x = logits[t]
//            (idempotent, so duplicate history entries are harmless).
//   topk     grid (nChunks): bitonic-sorts SORT_N candidates (value desc, id asc) in workgroup
//            memory and keeps the best MAX_K per chunk. FIRST reads the dense vector y; otherwise
//            the (value, id) list of the previous pass. With one chunk, the workgroup then applies
//            top-k, softmax (prefix sums), top-p and picks the token for the caller's u -> out[0].

const WG: u32 = WG_X;
const CHUNK_A: u32 = 1024u;
const SORT_N: u32 = 1024u;
const MAX_K: u32 = 128u;
const NEG: f32 = -3.0e38;
const NONE: u32 = 0xffffffffu;

struct Params {
  n: u32, nChunks: u32, rows: u32, k: u32,
  topP: f32, u: f32, temperature: f32, penalty: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Bindings per entry (contiguous from 1, see workers/ops/sample.ts):
#if ENTRY == argmax
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
#elif ENTRY == argmax2
@group(0) @binding(1) var<storage, read> part: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
#elif ENTRY == scale
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#elif ENTRY == penalty
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> hist: array<u32>;
#else
#if FIRST
@group(0) @binding(1) var<storage, read> y: array<f32>;
#else
@group(0) @binding(1) var<storage, read> cin: array<vec2<u32>>;
#endif
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read_write> cout: array<vec2<u32>>;
#endif

// a ranks before b: larger value, then smaller id.
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return av > bv || (av == bv && ai < bi);
}

fn clean(v: f32) -> f32 {
  // NaN never wins; NaN != NaN.
  return select(NEG, v, v == v);
}

var<workgroup> rv: array<f32, WG>;
var<workgroup> ri: array<u32, WG>;

fn reduceBest(v0: f32, i0: u32, lid: u32) -> vec2<u32> {
  rv[lid] = v0;
  ri[lid] = i0;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s && better(rv[lid + s], ri[lid + s], rv[lid], ri[lid])) {
      rv[lid] = rv[lid + s];
      ri[lid] = ri[lid + s];
    }
    workgroupBarrier();
  }
  return vec2<u32>(bitcast<u32>(rv[0]), ri[0]);
}

#if ENTRY == argmax
@compute @workgroup_size(WG)
fn argmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.y;
  let lo = wg.x * CHUNK_A;
  let hi = min(lo + CHUNK_A, params.n);
  var bv = NEG;
  var bi = NONE;
  for (var i = lo + lid; i < hi; i += WG) {
    let v = clean(x[row * params.n + i]);
    if (better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  let best = reduceBest(bv, bi, lid);
  if (lid == 0u) {
    if (params.nChunks == 1u) { out[row] = select(best.y, 0u, best.y == NONE); }
    else { part[row * params.nChunks + wg.x] = best; }
  }
}
#endif

#if ENTRY == argmax2
@compute @workgroup_size(WG)
fn argmax2(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  var bv = NEG;
  var bi = NONE;
  for (var c = lid; c < params.nChunks; c += WG) {
    let p = part[row * params.nChunks + c];
    let v = bitcast<f32>(p.x);
    if (better(v, p.y, bv, bi)) { bv = v; bi = p.y; }
  }
  let best = reduceBest(bv, bi, lid);
  if (lid == 0u) { out[row] = select(best.y, 0u, best.y == NONE); }
}
#endif

#if ENTRY == scale
@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < params.n) { y[i] = x[i] / params.temperature; }
}
#endif

#if ENTRY == penalty
@compute @workgroup_size(WG)
fn penalty(@builtin(global_invocation_id) gid: vec3<u32>) {
  let h = gid.x;
  if (h >= params.rows) { return; }
  let t = hist[h];
  if (t >= params.n) { return; }
  let v = x[t];
  y[t] = select(v / params.penalty, v * params.penalty, v < 0.0) / params.temperature;
}
#endif

var<workgroup> sv: array<f32, SORT_N>;
var<workgroup> si: array<u32, SORT_N>;

#if ENTRY == topk
@compute @workgroup_size(WG)
fn topk(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lo = wg.x * SORT_N;
  for (var e = lid; e < SORT_N; e += WG) {
    let g = lo + e;
    var v = NEG;
    var id = NONE;
    if (g < params.n) {
#if FIRST
      v = clean(y[g]);
      id = g;
#else
      let c = cin[g];
      v = bitcast<f32>(c.x);
      id = c.y;
#endif
    }
    sv[e] = v;
    si[e] = id;
  }
  workgroupBarrier();
  for (var k = 2u; k <= SORT_N; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      for (var p = lid; p < SORT_N / 2u; p += WG) {
        let a = (p / j) * 2u * j + (p % j);
        let b = a + j;
        let firstBetter = (a & k) == 0u;
        let bBetter = better(sv[b], si[b], sv[a], si[a]);
        if (bBetter == firstBetter) {
          let tv = sv[a]; sv[a] = sv[b]; sv[b] = tv;
          let ti = si[a]; si[a] = si[b]; si[b] = ti;
        }
      }
      workgroupBarrier();
    }
  }
  if (params.nChunks > 1u) {
    for (var r = lid; r < MAX_K; r += WG) { cout[wg.x * MAX_K + r] = vec2<u32>(bitcast<u32>(sv[r]), si[r]); }
    return;
  }
  // Final selection (one chunk left), all threads: top-k, softmax, top-p, inverse-CDF pick with u.
  let kMax = select(MAX_K, min(params.k, MAX_K), params.k > 0u);
  let kk = max(1u, countTrue(lid < kMax && si[lid] != NONE, lid));
  let m = sv[0];
  // inclusive prefix sums of exp(v - m) over the kept-by-top-k candidates
  rv[lid] = select(0.0, exp(sv[lid] - m), lid < kk);
  workgroupBarrier();
  for (var off = 1u; off < WG; off <<= 1u) {
    let add = select(0.0, rv[lid - off], lid >= off);
    workgroupBarrier();
    rv[lid] += add;
    workgroupBarrier();
  }
  let z = rv[kk - 1u];
  // top-p: candidate r stays while the mass ranked above it is < p (r = 0 always stays)
  let keep = 1u + countTrue(lid >= 1u && lid < kk && rv[lid - 1u] / z < params.topP, lid);
  let goal = params.u * rv[keep - 1u];
  let below = select(0.0, rv[lid - 1u], lid >= 1u);
  if (lid < keep && rv[lid] > goal && below <= goal) { out[0] = select(si[lid], 0u, si[lid] == NONE); }
}

var<workgroup> cnt: atomic<u32>;

// Number of threads passing `flag` (uniform result).
fn countTrue(flag: bool, lid: u32) -> u32 {
  if (lid == 0u) { atomicStore(&cnt, 0u); }
  workgroupBarrier();
  if (flag) { atomicAdd(&cnt, 1u); }
  workgroupBarrier();
  let n = atomicLoad(&cnt);
  workgroupBarrier();
  return n;
}

#endif
