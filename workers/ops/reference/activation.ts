// CPU references for the elementwise ops: SiLU(gate) * up, GELU (tanh approximation, as
// torch's gelu(approximate="tanh") / HF "gelu_pytorch_tanh"), add, scale.

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** Fused input [rows, 2 * inter]: gate in columns [0, inter), up in [inter, 2 * inter). Out [rows, inter]. */
export function siluMulFusedRef(gateUp: Float32Array, rows: number, inter: number): Float32Array {
  const out = new Float32Array(rows * inter);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inter; i++) {
      out[r * inter + i] = silu(gateUp[r * 2 * inter + i]) * gateUp[r * 2 * inter + inter + i];
    }
  }
  return out;
}

/** Two inputs of the same shape: out = silu(gate) * up. */
export function siluMulRef(gate: Float32Array, up: Float32Array): Float32Array {
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = silu(gate[i]) * up[i];
  return out;
}

/** gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function geluRef(x: Float32Array): Float32Array {
  return Float32Array.from(x, geluTanh);
}

export function addRef(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

export function scaleRef(a: Float32Array, s: number): Float32Array {
  return Float32Array.from(a, (v) => v * s);
}
