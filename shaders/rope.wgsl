// Rotary position embedding, HF Llama convention (element i pairs with i + d/2), with cos/sin
// read from a table built on the CPU (workers/ops/reference/rope.ts ropeTable: [maxPos, d],
// cos in [0, d/2), sin in [d/2, d)) and positions read per row from a u32 buffer, so tree
// nodes can sit at any position. One thread per (row, head, pair); 1-D grid folded into 2-D.
// Defines: HEAD_DIM; KV_WRITE: the input is the fused QKV row buffer [T, rowStride] (Q heads at
// column qOff, K heads at kOff, V heads at vOff); rotated Q goes to `qo` [T, nHeads, d], rotated
// K and plain V are written to the caches [nKv, maxSeq, d] at slot firstSlot + t.
// Without KV_WRITE: in-place RoPE of nHeads heads at column qOff of x [T, rowStride].

const WG: u32 = WG_X;
const HALF: u32 = HEAD_DIM / 2u;

struct Params {
  T: u32, nHeads: u32, nKv: u32, rowStride: u32,
  qOff: u32, kOff: u32, vOff: u32, maxSeq: u32,
  firstSlot: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
#if KV_WRITE
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> qo: array<f32>;
@group(0) @binding(5) var<storage, read_write> kc: array<f32>;
@group(0) @binding(6) var<storage, read_write> vc: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * WG + gid.x;
#if KV_WRITE
  let heads = params.nHeads + params.nKv;
#else
  let heads = params.nHeads;
#endif
  if (idx >= params.T * heads * HALF) { return; }
  let i = idx % HALF;
  let h = (idx / HALF) % heads;
  let t = idx / (HALF * heads);
  let p = pos[t];
  let c = table[p * HEAD_DIM + i];
  let s = table[p * HEAD_DIM + HALF + i];
  let row = t * params.rowStride;
#if KV_WRITE
  if (h < params.nHeads) {
    let src = row + params.qOff + h * HEAD_DIM + i;
    let a = x[src];
    let b = x[src + HALF];
    let dst = (t * params.nHeads + h) * HEAD_DIM + i;
    qo[dst] = a * c - b * s;
    qo[dst + HALF] = b * c + a * s;
  } else {
    let kh = h - params.nHeads;
    let src = row + params.kOff + kh * HEAD_DIM + i;
    let a = x[src];
    let b = x[src + HALF];
    let dst = (kh * params.maxSeq + params.firstSlot + t) * HEAD_DIM + i;
    kc[dst] = a * c - b * s;
    kc[dst + HALF] = b * c + a * s;
    let vs = row + params.vOff + kh * HEAD_DIM + i;
    vc[dst] = x[vs];
    vc[dst + HALF] = x[vs + HALF];
  }
#else
  let src = row + params.qOff + h * HEAD_DIM + i;
  let a = x[src];
  let b = x[src + HALF];
  x[src] = a * c - b * s;
  x[src + HALF] = b * c + a * s;
#endif
}
