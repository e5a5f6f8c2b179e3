// int8 activations for the q4 GEMV's xInt8 path (llama.cpp's q8_1 idea), included with
// #include "xq8" where packed_4x8_integer_dot_product exists. One group of 32 elements of x:
//   e: word j packs elements 8j, 8j+2, 8j+4, 8j+6 as int8 (the order of a q4 word's low nibbles),
//   o: word j packs elements 8j+1, 8j+3, 8j+5, 8j+7 (the high nibbles),
//   s: (scale, 8 * scale * Σq): x ≈ scale * q with q = round(x * 127 / max|x|), and the second
//      term removes the q4 nibble offset: Σ (n - 8) x ≈ scale * (Σ n q) - s.y.
// Lossy: each element is off by up to half a step, max|x| / 254, of its group.
struct Xq8 { e: vec4<u32>, o: vec4<u32>, s: vec2<f32> }

fn xq8_pack(a: vec4<f32>, b: vec4<f32>, inv: f32) -> vec2<u32> {
  let qa = vec4<i32>(round(a * inv));
  let qb = vec4<i32>(round(b * inv));
  return vec2<u32>(pack4xI8(vec4<i32>(qa.x, qa.z, qb.x, qb.z)), pack4xI8(vec4<i32>(qa.y, qa.w, qb.y, qb.w)));
}

// v: the group's 32 elements as 8 vec4s in natural order.
fn xq8_group(v: array<vec4<f32>, 8>) -> Xq8 {
  var m = vec4<f32>(0.0);
  for (var i = 0u; i < 8u; i++) { m = max(m, abs(v[i])); }
  let amax = max(max(m.x, m.y), max(m.z, m.w));
  let inv = select(0.0, 127.0 / amax, amax > 0.0);
  let w0 = xq8_pack(v[0], v[1], inv);
  let w1 = xq8_pack(v[2], v[3], inv);
  let w2 = xq8_pack(v[4], v[5], inv);
  let w3 = xq8_pack(v[6], v[7], inv);
  var qs = 0.0;
  for (var i = 0u; i < 8u; i++) { qs += dot(round(v[i] * inv), vec4<f32>(1.0)); }
  let scale = amax / 127.0;
  return Xq8(vec4<u32>(w0.x, w1.x, w2.x, w3.x), vec4<u32>(w0.y, w1.y, w2.y, w3.y), vec2<f32>(scale, 8.0 * scale * qs));
}
