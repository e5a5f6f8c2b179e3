// Decoding of the engine's packed weights (layout: workers/storage/quant.ts), included with
// #include "quant". Groups of 32 inputs, group-major: group (g, n) at index g * N + n.
//   q4: one vec4<u32> per group; word j holds elements 8j..8j+7, element 8j+b in bits 4b..4b+3
//       as the unsigned nibble q + 8.
//   q8: two vec4<u32> per group; word j holds elements 4j..4j+3, byte b = int8 element 4j+b.
//
// Integer -> float conversion instructions run at a fraction of FP32 rate on NVIDIA (and were
// what bounded the q4/q8 GEMV), so values are made with the exponent trick instead:
// bitcast<f32>(0x4B000000 | v) == 2^23 + v exactly for v < 2^23, then one subtraction.
// Results are exact either way. UNPACK_BUILTINS switches to unpack4xU8/unpack4xI8 (the
// `packed_4x8_integer_dot_product` WGSL feature) for comparison.

const Q_MAGIC = 0x4B000000u;
const Q4_BIAS = 8388616.0;   // 2^23 + 8: nibble n -> n - 8
const Q8_BIAS = 8388736.0;   // 2^23 + 128: (byte ^ 0x80) -> signed byte

fn q4_magic(w: u32, shifts: vec4<u32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(((vec4<u32>(w) >> shifts) & vec4<u32>(15u)) | vec4<u32>(Q_MAGIC)) - vec4<f32>(Q4_BIAS);
}

// Elements 8j+0..3 of a q4 word, signed (nibble - 8).
fn q4_lo4(w: u32) -> vec4<f32> {
  return q4_magic(w, vec4<u32>(0u, 4u, 8u, 12u));
}

// Elements 8j+4..7 of a q4 word, signed.
fn q4_hi4(w: u32) -> vec4<f32> {
  return q4_magic(w, vec4<u32>(16u, 20u, 24u, 28u));
}

// Elements 8j+0, 2, 4, 6 (even) and 8j+1, 3, 5, 7 (odd) of a q4 word, signed: for kernels that
// keep x permuted to match (see gemv.wgsl).
fn q4_even(w: u32) -> vec4<f32> {
#if UNPACK_BUILTINS
  return vec4<f32>(unpack4xU8(w & 0x0F0F0F0Fu)) - vec4<f32>(8.0);
#else
  return q4_magic(w, vec4<u32>(0u, 8u, 16u, 24u));
#endif
}

fn q4_odd(w: u32) -> vec4<f32> {
#if UNPACK_BUILTINS
  return vec4<f32>(unpack4xU8((w >> 4u) & 0x0F0F0F0Fu)) - vec4<f32>(8.0);
#else
  return q4_magic(w, vec4<u32>(4u, 12u, 20u, 28u));
#endif
}

// Elements 4j..4j+3 of a q8 word, signed.
fn q8_4(w: u32) -> vec4<f32> {
#if UNPACK_BUILTINS
  return vec4<f32>(unpack4xI8(w));
#else
  let b = ((vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(255u)) ^ vec4<u32>(Q_MAGIC | 128u);
  return bitcast<vec4<f32>>(b) - vec4<f32>(Q8_BIAS);
#endif
}
