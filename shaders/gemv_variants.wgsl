// Optional pieces of the quantized GEMV (shaders/gemv.wgsl includes this before its entry point;
// WGSL module-scope declarations may come in any order, so they can use its Group, Step and xv).
//   X_INT8 (q4, packed_4x8_integer_dot_product): x as int8 per group of 32 (shaders/xq8.wgsl),
//          either quantized per chunk from the staged x (XSMEM) or by a dispatch before this one
//          (shaders/gemv_xq8.wgsl, x read from the buffer); group_dot then uses dot4I8Packed. Lossy.
//   RPAIR  (R = 2): step_dot2 / pair_dot read each x vector once for both rows of a thread.

#if X_INT8
// int8 x (layout: shaders/xq8.wgsl), read by group_dot through xq_even / xq_odd / xq_scale.
#if XSMEM
// x of the chunk quantized per group in workgroup memory: xq[2 g] = e, xq[2 g + 1] = o, xqs[g] = s.
var<workgroup> xq: array<vec4<u32>, CHUNK * 2>;
var<workgroup> xqs: array<vec2<f32>, CHUNK>;
fn xq_even(g: u32) -> vec4<u32> { return xq[2u * g]; }
fn xq_odd(g: u32) -> vec4<u32> { return xq[2u * g + 1u]; }
fn xq_scale(g: u32) -> vec2<f32> { return xqs[g]; }

// Quantize the staged f32 x (xs, natural order) of cg groups; barriers around it are the caller's.
fn quantize_x(cg: u32, lid: u32) {
  for (var g = lid; g < cg; g += WG_SIZE) {
    var v: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) { v[i] = xs[g * 8u + i]; }
    let q = xq8_group(v);
    xq[2u * g] = q.e;
    xq[2u * g + 1u] = q.o;
    xqs[g] = q.s;
  }
}
#else
// x quantized by shaders/gemv_xq8.wgsl before this dispatch: binding 3 (declared f32 as `x`)
// holds 3 vec4 per group of the whole row (e, o, bits of s); g is the row's group index.
fn xq_even(g: u32) -> vec4<u32> { return bitcast<vec4<u32>>(x[3u * g]); }
fn xq_odd(g: u32) -> vec4<u32> { return bitcast<vec4<u32>>(x[3u * g + 1u]); }
fn xq_scale(g: u32) -> vec2<f32> { return x[3u * g + 2u].xy; }
#endif
#endif

#if RPAIR
// Two rows' groups against the same x (R = 2): each x vector is read from workgroup memory once
// for both rows, halving the x reads per weight byte (the q4 kernel is bound by those reads and
// the decode arithmetic, not by DRAM: docs/BENCHMARKS.md "Kernels", third session).
#if QBITS == 4
#if Q4_INPLACE
fn q4a(w: u32) -> vec4<f32> { return q4_in(w); }
fn q4b(w: u32) -> vec4<f32> { return q4_in(w >> 16u); }
#elif XSMEM
fn q4a(w: u32) -> vec4<f32> { return q4_even(w); }
fn q4b(w: u32) -> vec4<f32> { return q4_odd(w); }
#else
fn q4a(w: u32) -> vec4<f32> { return q4_lo4(w); }
fn q4b(w: u32) -> vec4<f32> { return q4_hi4(w); }
#endif
// Σ over one q4 word (8 elements, x vectors xb and xb + 1) for both rows.
fn word_dot2(a: u32, b: u32, xb: u32) -> vec2<f32> {
  let x0 = xv(xb);
  let x1 = xv(xb + 1u);
  return vec2<f32>(dot(q4a(a), x0) + dot(q4b(a), x1), dot(q4a(b), x0) + dot(q4b(b), x1));
}
fn pair_dot(a: Group, b: Group, xb: u32) -> vec2<f32> {
  let d = (word_dot2(a.w.x, b.w.x, xb) + word_dot2(a.w.y, b.w.y, xb + 2u))
        + (word_dot2(a.w.z, b.w.z, xb + 4u) + word_dot2(a.w.w, b.w.w, xb + 6u));
  return vec2<f32>(a.s, b.s) * d;
}
#else
// Σ over two q8 words (8 elements, x vectors xb and xb + 1) for both rows.
fn words_dot2(a0: u32, a1: u32, b0: u32, b1: u32, xb: u32) -> vec2<f32> {
  let x0 = xv(xb);
  let x1 = xv(xb + 1u);
  return vec2<f32>(dot(q8_4(a0), x0) + dot(q8_4(a1), x1), dot(q8_4(b0), x0) + dot(q8_4(b1), x1));
}
fn pair_dot(a: Group, b: Group, xb: u32) -> vec2<f32> {
  let d = (words_dot2(a.w.x, a.w.y, b.w.x, b.w.y, xb) + words_dot2(a.w.z, a.w.w, b.w.z, b.w.w, xb + 2u))
        + (words_dot2(a.v.x, a.v.y, b.v.x, b.v.y, xb + 4u) + words_dot2(a.v.z, a.v.w, b.v.z, b.v.w, xb + 6u));
  return vec2<f32>(a.s, b.s) * d;
}
#endif
#endif

#if RPAIR
// step_dot for rows[0] and rows[1] (same slots), x read once per vector.
fn step_dot2(s0: Step, s1: Step, gl: u32, xbase: u32) -> vec2<f32> {
  var a = pair_dot(s0.g0, s1.g0, xbase + gl * 8u);
#if U >= 2
  a += pair_dot(s0.g1, s1.g1, xbase + s0.q1 * 8u);
#endif
#if U >= 4
  a += pair_dot(s0.g2, s1.g2, xbase + s0.q2 * 8u) + pair_dot(s0.g3, s1.g3, xbase + s0.q3 * 8u);
#endif
#if U >= 8
  a += (pair_dot(s0.g4, s1.g4, xbase + s0.q4 * 8u) + pair_dot(s0.g5, s1.g5, xbase + s0.q5 * 8u)) + (pair_dot(s0.g6, s1.g6, xbase + s0.q6 * 8u) + pair_dot(s0.g7, s1.g7, xbase + s0.q7 * 8u));
#endif
#if U >= 16
  a += ((pair_dot(s0.g8, s1.g8, xbase + s0.q8 * 8u) + pair_dot(s0.g9, s1.g9, xbase + s0.q9 * 8u)) + (pair_dot(s0.g10, s1.g10, xbase + s0.q10 * 8u) + pair_dot(s0.g11, s1.g11, xbase + s0.q11 * 8u)))
     + ((pair_dot(s0.g12, s1.g12, xbase + s0.q12 * 8u) + pair_dot(s0.g13, s1.g13, xbase + s0.q13 * 8u)) + (pair_dot(s0.g14, s1.g14, xbase + s0.q14 * 8u) + pair_dot(s0.g15, s1.g15, xbase + s0.q15 * 8u)));
#endif
  return a;
}
#endif
