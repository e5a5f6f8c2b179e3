// GELU with the tanh approximation (torch approximate="tanh", SigLIP's activation), shared by the
// activation kernel and the GEMMs' GELU epilogue. tanh(z) = 1 - 2 / (exp(2z) + 1), with z clamped
// so exp cannot overflow.
fn gelu_tanh(x: f32) -> f32 {
  let z = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  let t = 1.0 - 2.0 / (exp(2.0 * z) + 1.0);
  return 0.5 * x * (1.0 + t);
}
