// Quantized GEMV: y[y_off + n] = sum_k W[n, k] x[x_off + k] (+ bias[n]) for a packed q4/q8
// W [N, K] (layout: shaders/quant.wgsl). QBITS = 4 or 8.
// A workgroup is TN x TK threads and covers TN * R consecutive rows. Thread (ln, lk) owns rows
// row0 + ln + r * TN (r < R) and groups g = lk, lk + TK, ...: a warp's 32 threads read 32
// consecutive 16-byte blocks of one group (coalesced), one vec4<u32> (q4) or two (q8) and one
// scale per group and row. With XSMEM, x is staged in workgroup memory CHUNK groups at a time
// (for q4 permuted into even/odd element order to match q4_even/q4_odd); without, x is read
// from the buffer (L1 broadcasts) and no barrier delays the first weight loads. Partial sums
// over lk are reduced at the end.
// RPAIR (R = 2): both rows' groups of a step are loaded, then each x vector is read once for both.
// X_INT8 (q4, packed_4x8_integer_dot_product): x as int8 per group of 32 (shaders/xq8.wgsl), each
// group is 8 dot4I8Packed (lossy: ~0.4% of a group's max |x| per element). With XSMEM it is
// quantized per chunk in workgroup memory; without, a dispatch before this one quantized the whole
// row (shaders/gemv_xq8.wgsl, with the prologue fusions) and binding 3 holds it, read from L1.
// Both live in shaders/gemv_variants.wgsl (included before the entry point).
// Each step issues the loads of U (1, 2, 4, 8 or 16) groups before any math: memory-level parallelism,
// which is what bounds this kernel (bytes in flight), not ALU.
// Fusions (shaders/gemv_fuse.wgsl): PRO_NORM / PRO_SILU transform x while it is read or staged,
// EPI_ADD accumulates into y (residual stream); NW_BINDING is the RMSNorm weight's binding;
// EPI_ROPE (with NO_Y) applies RoPE and writes Q and the KV cache instead of y (see below).
// PREFETCH (R = 1 with x staged): each chunk's first step of weight loads is issued before x is
// staged. Requires K % 32 == 0 and x_off % 4 == 0.
// Split-K (KSPLIT > 1): the grid is row blocks x KSPLIT; workgroup (rb, s) covers groups
// [s p.kslice, min((s + 1) p.kslice, K / 32)) of its rows (x staged for that slice only), so a
// call has KSPLIT times more, shorter workgroups. The slices' sums meet either
//   SPLIT_PART:   in y, which then holds partials [KSPLIT, N] (no bias, no epilogue; y_off unused),
//                 summed by shaders/gemm_reduce.wgsl (bias and residual add there), or
//   SPLIT_ATOMIC: in y itself by atomic float adds (a compare-exchange loop on the bits; y += Wx,
//                 so only for the residual-add epilogue; bias added by slice 0). The order of the
//                 KSPLIT adds varies, so results vary in the last bits from call to call.
#include "common"
#include "quant"
#if X_INT8
#include "xq8"
#endif

// kslice: groups per K-slice (K / 32 without split-K).
struct Params { N: u32, K: u32, x_off: u32, y_off: u32, eps: f32, slot: u32, kslice: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
#define QW_T vec4<u32>
#include "matmul_bindings"
#if PRO_NORM
@group(0) @binding(NW_BINDING) var<storage, read> nw: array<vec4<f32>>;
#endif
#include "gemv_fuse"
#if SPLIT_ATOMIC
// y as bits (NO_Y): y[n] += v by compare-exchange, exact f32 adds in some order.
@group(0) @binding(YA_BINDING) var<storage, read_write> ya: array<atomic<u32>>;
fn atomic_add_y(i: u32, v: f32) {
  var old = atomicLoad(&ya[i]);
  loop {
    let r = atomicCompareExchangeWeak(&ya[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
#endif
#if EPI_ROPE
// RoPE + KV-cache write in the epilogue (decode, one token; NO_Y): the rows are a fused QKV row
// (NQ query heads, NKV key heads, NKV value heads of HEAD_DIM), each workgroup holds whole heads
// (ROWS_PER_WG % HEAD_DIM == 0), so a row's rotation partner (d ± HEAD_DIM / 2) is in `yo`.
// Rotated Q goes to qo [NQ, HEAD_DIM]; rotated K and plain V to the caches [NKV, MAX_SEQ,
// HEAD_DIM] at slot p.slot, which is also the position (sequential decode). Table as rope.wgsl.
@group(0) @binding(ROPE_BINDING) var<storage, read> rope_table: array<f32>;
@group(0) @binding(QO_BINDING) var<storage, read_write> qo: array<f32>;
@group(0) @binding(KC_BINDING) var<storage, read_write> kc: array<f32>;
@group(0) @binding(VC_BINDING) var<storage, read_write> vc: array<f32>;
var<workgroup> yo: array<f32, TN * R>;

fn rope_store(n: u32, i: u32) {
  let d = n % HEAD_DIM;
  let h = n / HEAD_DIM;
  let slot = p.slot;
  if (h >= NQ + NKV) {
    vc[((h - NQ - NKV) * MAX_SEQ + slot) * HEAD_DIM + d] = yo[i];
    return;
  }
  let half = HEAD_DIM / 2u;
  let j = d % half;
  let c = rope_table[slot * HEAD_DIM + j];
  let s = rope_table[slot * HEAD_DIM + half + j];
  var r: f32;
  if (d < half) { r = yo[i] * c - yo[i + half] * s; } else { r = yo[i] * c + yo[i - half] * s; }
  if (h < NQ) { qo[n] = r; } else { kc[((h - NQ) * MAX_SEQ + slot) * HEAD_DIM + d] = r; }
}
#endif

const ROWS_PER_WG = TN * R;

#if XSMEM
var<workgroup> xs: array<vec4<f32>, CHUNK * 8>;
#endif
var<workgroup> red: array<f32, TK * ROWS_PER_WG>;

#if Q4_INPLACE
// In-place nibble decode (QBITS = 4): nibble k of a half word (bits 4k..4k+3, k < 4) is ORed into
// the mantissa of 1.0 where it lies, giving 1 + n 2^(4k-23); subtracting 1 + 8 2^(4k-23) leaves
// (n - 8) 2^(4k-23) exactly, and x is staged pre-multiplied by 2^(23-4k) (exact powers of two), so
// each element costs one AND|OR and one subtraction, with no per-element shift (one shift per
// word for its upper half). x stays in natural order.
const Q4_XSCALE = vec4<f32>(8388608.0, 524288.0, 32768.0, 2048.0);
const Q4_MASKS = vec4<u32>(0xFu, 0xF0u, 0xF00u, 0xF000u);
const Q4_BIAS4 = vec4<f32>(1.00000095367431640625, 1.0000152587890625, 1.000244140625, 1.00390625);
fn q4_in(w: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>((vec4<u32>(w) & Q4_MASKS) | vec4<u32>(0x3F800000u)) - Q4_BIAS4;
}
#endif

#if XSMEM
// x from workgroup memory (staged per chunk; q4: even/odd-permuted, or scaled with Q4_INPLACE).
fn xv(i: u32) -> vec4<f32> { return xs[i]; }
#elif Q4_INPLACE
fn xv(i: u32) -> vec4<f32> { return fx(i) * Q4_XSCALE; }
#else
// x straight from the storage buffer (fused: normalized / activated on the fly): warp-uniform
// addresses, served by L1 as broadcasts. i is the vec4 index within the row.
fn xv(i: u32) -> vec4<f32> { return fx(i); }
#endif

#if QBITS == 4
// Σ (nibble - 8) * x over one group whose 8 x vectors start at xv(xb).
fn group_dot(wv: vec4<u32>, xb: u32) -> f32 {
#if LOADS_ONLY
  // Benchmark diagnostic (not W x): the same loads, barriers and reduction with one op per group.
  return f32((wv.x ^ wv.y) ^ (wv.z ^ wv.w));
#elif X_INT8
  // Nibbles (0..15, as signed bytes) · int8 x by 4-wide integer dot products, then the offset.
  let g = xb / 8u;
  let e = xq_even(g);
  let o = xq_odd(g);
  let m = 0x0F0F0F0Fu;
  let d = (dot4I8Packed(wv.x & m, e.x) + dot4I8Packed((wv.x >> 4u) & m, o.x))
        + (dot4I8Packed(wv.y & m, e.y) + dot4I8Packed((wv.y >> 4u) & m, o.y))
        + (dot4I8Packed(wv.z & m, e.z) + dot4I8Packed((wv.z >> 4u) & m, o.z))
        + (dot4I8Packed(wv.w & m, e.w) + dot4I8Packed((wv.w >> 4u) & m, o.w));
  let q = xq_scale(g);
  return q.x * f32(d) - q.y;
#elif Q4_INPLACE
  return (dot(q4_in(wv.x), xv(xb)) + dot(q4_in(wv.x >> 16u), xv(xb + 1u)))
       + (dot(q4_in(wv.y), xv(xb + 2u)) + dot(q4_in(wv.y >> 16u), xv(xb + 3u)))
       + (dot(q4_in(wv.z), xv(xb + 4u)) + dot(q4_in(wv.z >> 16u), xv(xb + 5u)))
       + (dot(q4_in(wv.w), xv(xb + 6u)) + dot(q4_in(wv.w >> 16u), xv(xb + 7u)));
#elif XSMEM
  return (dot(q4_even(wv.x), xv(xb)) + dot(q4_odd(wv.x), xv(xb + 1u)))
       + (dot(q4_even(wv.y), xv(xb + 2u)) + dot(q4_odd(wv.y), xv(xb + 3u)))
       + (dot(q4_even(wv.z), xv(xb + 4u)) + dot(q4_odd(wv.z), xv(xb + 5u)))
       + (dot(q4_even(wv.w), xv(xb + 6u)) + dot(q4_odd(wv.w), xv(xb + 7u)));
#else
  return (dot(q4_lo4(wv.x), xv(xb)) + dot(q4_hi4(wv.x), xv(xb + 1u)))
       + (dot(q4_lo4(wv.y), xv(xb + 2u)) + dot(q4_hi4(wv.y), xv(xb + 3u)))
       + (dot(q4_lo4(wv.z), xv(xb + 4u)) + dot(q4_hi4(wv.z), xv(xb + 5u)))
       + (dot(q4_lo4(wv.w), xv(xb + 6u)) + dot(q4_hi4(wv.w), xv(xb + 7u)));
#endif
}
#else
// Σ q * x over one group (words wa = elements 0..15, wb = 16..31).
fn group_dot(wa: vec4<u32>, wb: vec4<u32>, xb: u32) -> f32 {
  return (dot(q8_4(wa.x), xv(xb)) + dot(q8_4(wa.y), xv(xb + 1u))) + (dot(q8_4(wa.z), xv(xb + 2u)) + dot(q8_4(wa.w), xv(xb + 3u)))
       + (dot(q8_4(wb.x), xv(xb + 4u)) + dot(q8_4(wb.y), xv(xb + 5u))) + (dot(q8_4(wb.z), xv(xb + 6u)) + dot(q8_4(wb.w), xv(xb + 7u)));
}
#endif

// One group of one row: packed weights and scale (0 when `ok` is false: a padding slot).
#if QBITS == 4
struct Group { w: vec4<u32>, s: f32 }
fn load_group(g: u32, row: u32, ok: bool) -> Group {
  let i = g * p.N + row;
  return Group(qw[i], select(0.0, scales[i], ok));
}
fn scaled_dot(g: Group, xb: u32) -> f32 { return g.s * group_dot(g.w, xb); }
#else
struct Group { w: vec4<u32>, v: vec4<u32>, s: f32 }
fn load_group(g: u32, row: u32, ok: bool) -> Group {
  let i = g * p.N + row;
  return Group(qw[2u * i], qw[2u * i + 1u], select(0.0, scales[i], ok));
}
fn scaled_dot(g: Group, xb: u32) -> f32 { return g.s * group_dot(g.w, g.v, xb); }
#endif

// One step of a thread: U groups of one row, slots gl + j TK of the chunk at c0 (written out, no
// arrays, so all loads issue before the math). A slot past the chunk (cg groups) reloads slot 0
// with scale 0; slot 0 itself is valid when ok0.
struct Step {
  g0: Group,
#if U >= 2
  g1: Group, q1: u32,
#endif
#if U >= 4
  g2: Group, q2: u32, g3: Group, q3: u32,
#endif
#if U >= 8
  g4: Group, q4: u32, g5: Group, q5: u32, g6: Group, q6: u32, g7: Group, q7: u32,
#endif
#if U >= 16
  g8: Group, q8: u32, g9: Group, q9: u32, g10: Group, q10: u32, g11: Group, q11: u32,
  g12: Group, q12: u32, g13: Group, q13: u32, g14: Group, q14: u32, g15: Group, q15: u32,
#endif
}

fn slot(gl: u32, j: u32, cg: u32) -> u32 { return select(gl, gl + j * TK, gl + j * TK < cg); }

fn step_loads(c0: u32, gl: u32, cg: u32, ok0: bool, row: u32) -> Step {
  var st: Step;
  st.g0 = load_group(c0 + gl, row, ok0);
#if U >= 2
  st.q1 = slot(gl, 1u, cg);
  st.g1 = load_group(c0 + st.q1, row, gl + TK < cg);
#endif
#if U >= 4
  st.q2 = slot(gl, 2u, cg);
  st.q3 = slot(gl, 3u, cg);
  st.g2 = load_group(c0 + st.q2, row, gl + 2u * TK < cg);
  st.g3 = load_group(c0 + st.q3, row, gl + 3u * TK < cg);
#endif
#if U >= 8
  st.q4 = slot(gl, 4u, cg);
  st.q5 = slot(gl, 5u, cg);
  st.q6 = slot(gl, 6u, cg);
  st.q7 = slot(gl, 7u, cg);
  st.g4 = load_group(c0 + st.q4, row, gl + 4u * TK < cg);
  st.g5 = load_group(c0 + st.q5, row, gl + 5u * TK < cg);
  st.g6 = load_group(c0 + st.q6, row, gl + 6u * TK < cg);
  st.g7 = load_group(c0 + st.q7, row, gl + 7u * TK < cg);
#endif
#if U >= 16
  st.q8 = slot(gl, 8u, cg);
  st.q9 = slot(gl, 9u, cg);
  st.q10 = slot(gl, 10u, cg);
  st.q11 = slot(gl, 11u, cg);
  st.q12 = slot(gl, 12u, cg);
  st.q13 = slot(gl, 13u, cg);
  st.q14 = slot(gl, 14u, cg);
  st.q15 = slot(gl, 15u, cg);
  st.g8 = load_group(c0 + st.q8, row, gl + 8u * TK < cg);
  st.g9 = load_group(c0 + st.q9, row, gl + 9u * TK < cg);
  st.g10 = load_group(c0 + st.q10, row, gl + 10u * TK < cg);
  st.g11 = load_group(c0 + st.q11, row, gl + 11u * TK < cg);
  st.g12 = load_group(c0 + st.q12, row, gl + 12u * TK < cg);
  st.g13 = load_group(c0 + st.q13, row, gl + 13u * TK < cg);
  st.g14 = load_group(c0 + st.q14, row, gl + 14u * TK < cg);
  st.g15 = load_group(c0 + st.q15, row, gl + 15u * TK < cg);
#endif
  return st;
}

fn step_dot(st: Step, gl: u32, xbase: u32) -> f32 {
  var a = scaled_dot(st.g0, xbase + gl * 8u);
#if U >= 2
  a += scaled_dot(st.g1, xbase + st.q1 * 8u);
#endif
#if U >= 4
  a += scaled_dot(st.g2, xbase + st.q2 * 8u) + scaled_dot(st.g3, xbase + st.q3 * 8u);
#endif
#if U >= 8
  a += (scaled_dot(st.g4, xbase + st.q4 * 8u) + scaled_dot(st.g5, xbase + st.q5 * 8u)) + (scaled_dot(st.g6, xbase + st.q6 * 8u) + scaled_dot(st.g7, xbase + st.q7 * 8u));
#endif
#if U >= 16
  a += ((scaled_dot(st.g8, xbase + st.q8 * 8u) + scaled_dot(st.g9, xbase + st.q9 * 8u)) + (scaled_dot(st.g10, xbase + st.q10 * 8u) + scaled_dot(st.g11, xbase + st.q11 * 8u)))
     + ((scaled_dot(st.g12, xbase + st.q12 * 8u) + scaled_dot(st.g13, xbase + st.q13 * 8u)) + (scaled_dot(st.g14, xbase + st.q14 * 8u) + scaled_dot(st.g15, xbase + st.q15 * 8u)));
#endif
  return a;
}

#include "gemv_variants"

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let wgi = flat_wg(wid, nwg);
#if KSPLIT > 1
  let ks = wgi % KSPLIT;
  let row0 = (wgi / KSPLIT) * ROWS_PER_WG;
#else
  let ks = 0u;
  let row0 = wgi * ROWS_PER_WG;
#endif
  if (row0 >= p.N) { return; }
  let ln = lid % TN;
  let lk = lid / TN;
  // This workgroup's K-slice, in groups (the whole row without split-K; may be empty).
  let g_lo = min(ks * p.kslice, p.K / 32u);
  let g_hi = min(g_lo + p.kslice, p.K / 32u);
  fx_begin(p.x_off / 4u, p.K / 4u, p.eps, lid);
  var acc: array<f32, R>;
  var rows: array<u32, R>;
  for (var r = 0u; r < R; r++) { rows[r] = min(row0 + ln + r * TN, p.N - 1u); }

  for (var c0 = g_lo; c0 < g_hi; c0 += CHUNK) {
    let cg = min(CHUNK, g_hi - c0);
#if PREFETCH
    // The first step's weight loads do not depend on x: issue them before staging x, so the
    // staging round trip and the barrier overlap the DRAM latency (R = 1, x staged).
    let pre = step_loads(c0, min(lk, cg - 1u), cg, lk < cg, rows[0]);
#endif
#if XSMEM
    // Stage x[c0 * 32 ..]: 4 pairs of vec4 (8 elements = one packed word) per group.
    for (var i = lid; i < cg * 4u; i += WG_SIZE) {
      let a = fx(c0 * 8u + 2u * i);
      let b = fx(c0 * 8u + 2u * i + 1u);
#if X_INT8
      xs[2u * i] = a;
      xs[2u * i + 1u] = b;
#elif Q4_INPLACE
      xs[2u * i] = a * Q4_XSCALE;
      xs[2u * i + 1u] = b * Q4_XSCALE;
#elif QBITS == 4
      xs[2u * i] = vec4<f32>(a.x, a.z, b.x, b.z);
      xs[2u * i + 1u] = vec4<f32>(a.y, a.w, b.y, b.w);
#else
      xs[2u * i] = a;
      xs[2u * i + 1u] = b;
#endif
    }
    workgroupBarrier();
#if X_INT8
    quantize_x(cg, lid);
    workgroupBarrier();
#endif
    let xbase = 0u;
#else
    let xbase = c0 * 8u;
#endif
#if PREFETCH
    if (lk < cg) { acc[0] += step_dot(pre, lk, xbase); }
    let first = lk + TK * U;
#else
    let first = lk;
#endif
    for (var gl = first; gl < cg; gl += TK * U) {
#if RPAIR
      let d = step_dot2(step_loads(c0, gl, cg, true, rows[0]), step_loads(c0, gl, cg, true, rows[1]), gl, xbase);
      acc[0] += d.x;
      acc[1] += d.y;
#else
      for (var r = 0u; r < R; r++) { acc[r] += step_dot(step_loads(c0, gl, cg, true, rows[r]), gl, xbase); }
#endif
    }
#if XSMEM
    workgroupBarrier();
#endif
  }

  // red is [TK][ROWS_PER_WG]; entry i = r * TN + ln is row row0 + i.
  for (var r = 0u; r < R; r++) { red[lk * ROWS_PER_WG + r * TN + ln] = acc[r]; }
  workgroupBarrier();
  for (var i = lid; i < ROWS_PER_WG; i += WG_SIZE) {
    let n = row0 + i;
    if (n < p.N) {
      var v = 0.0;
      for (var k = 0u; k < TK; k++) { v += red[k * ROWS_PER_WG + i]; }
#if SPLIT_PART
      y[ks * p.N + n] = v;
#elif SPLIT_ATOMIC
#if HAS_BIAS
      if (ks == 0u) { v += bias[n]; }
#endif
      atomic_add_y(p.y_off + n, v);
#else
#if HAS_BIAS
      v += bias[n];
#endif
#if EPI_ROPE
      yo[i] = v;
#else
      fy(p.y_off + n, v);
#endif
#endif
    }
  }
#if EPI_ROPE
  workgroupBarrier();
  for (var i = lid; i < ROWS_PER_WG; i += WG_SIZE) {
    if (row0 + i < p.N) { rope_store(row0 + i, i); }
  }
#endif
}
