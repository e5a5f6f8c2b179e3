// Shared WGSL helpers (included with #include "common").

// Flattened workgroup index for grids folded into 2-D to stay under 65535 per dimension.
fn flat_wg(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn ceil_div(a: u32, b: u32) -> u32 {
  return (a + b - 1u) / b;
}
