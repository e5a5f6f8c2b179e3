// KV-cache compaction: for every pair p, cache[h, dst[p], :] = old cache[h, src[p], :], for the K
// and the V cache of one layer ([nKv, maxSeq, HEAD_DIM] f32 each). PPD keeps the accepted path's
// entries and moves them down to L, L+1, ... Lists may overlap (a slot can be both a source and a
// destination): each workgroup owns one (vec4 column, kv head) and reads all its sources into
// workgroup memory before writing any destination. dst slots must be distinct; n <= MAX_PAIRS.
// grid (HEAD_DIM / 4, nKv).

const WG: u32 = WG_X;
const MAX_PAIRS: u32 = 256u;
const D4: u32 = HEAD_DIM / 4u;

struct Params { n: u32, maxSeq: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> dst: array<u32>;
@group(0) @binding(3) var<storage, read_write> kc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> vc: array<vec4<f32>>;

var<workgroup> ks: array<vec4<f32>, MAX_PAIRS>;
var<workgroup> vs: array<vec4<f32>, MAX_PAIRS>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  let h = wg.y;
  let n = min(params.n, MAX_PAIRS);
  for (var p = lid; p < n; p += WG) {
    let s = (h * params.maxSeq + src[p]) * D4 + c;
    ks[p] = kc[s];
    vs[p] = vc[s];
  }
  workgroupBarrier();
  for (var p = lid; p < n; p += WG) {
    let d = (h * params.maxSeq + dst[p]) * D4 + c;
    kc[d] = ks[p];
    vc[d] = vs[p];
  }
}
