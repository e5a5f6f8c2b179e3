// Storage bindings shared by the matmul kernels (gemm.wgsl, gemm_simple.wgsl, gemv.wgsl,
// gemv_f32.wgsl), included with #include "matmul_bindings" after `var<uniform> p` (binding 0).
//   WQ = 0 (f32 W):  1 w [N, K], 2 x, 3 y (rw), 4 bias if HAS_BIAS; VEC4: w and x as vec4<f32>.
//   WQ = 4 / 8 (packed q4 / q8 W, workers/storage/quant.ts): 1 qw (element type QW_T: u32 or
//   vec4<u32>), 2 scales, 3 x as vec4<f32>, 4 y (rw), 5 bias if HAS_BIAS; with NO_Y (a kernel
//   whose epilogue writes elsewhere) no y, and bias at 4.
#if WQ == 0
#if VEC4
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#if HAS_BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#else
@group(0) @binding(1) var<storage, read> qw: array<QW_T>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
#if NO_Y
#if HAS_BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#else
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#if HAS_BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif
#endif
#endif
