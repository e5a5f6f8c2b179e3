// Decoding of the engine's packed weights (layout: workers/storage/quant.ts), included with
// #include "quant". Groups of 32 inputs, group-major: group (g, n) at index g * N + n.
//   q4: one vec4<u32> per group; word j holds elements 8j..8j+7, element 8j+b in bits 4b..4b+3
//       as the unsigned nibble q + 8.
//   q8: two vec4<u32> per group; word j holds elements 4j..4j+3, byte b = int8 element 4j+b.

// Elements 8j+0..3 of a q4 word, as signed values (nibble - 8).
fn q4_lo4(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - vec4<f32>(8.0);
}

// Elements 8j+4..7 of a q4 word, as signed values.
fn q4_hi4(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - vec4<f32>(8.0);
}

// Unsigned nibbles of elements 8j+0, 2, 4, 6 (even) and 8j+1, 3, 5, 7 (odd) of a q4 word: cheaper
// than q4_lo4/q4_hi4, for kernels that keep x permuted to match (see gemv.wgsl).
fn q4_even_u(w: u32) -> vec4<f32> {
#if PACKED4X8
  return vec4<f32>(unpack4xU8(w & 0x0F0F0F0Fu));
#else
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(15u));
#endif
}

fn q4_odd_u(w: u32) -> vec4<f32> {
#if PACKED4X8
  return vec4<f32>(unpack4xU8((w >> 4u) & 0x0F0F0F0Fu));
#else
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(4u, 12u, 20u, 28u)) & vec4<u32>(15u));
#endif
}

// Elements 4j..4j+3 of a q8 word.
fn q8_4(w: u32) -> vec4<f32> {
#if PACKED4X8
  return vec4<f32>(unpack4xI8(w));
#else
  return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
#endif
}
