// Bundles the kernel benchmarks for plain Node + Dawn (the GPU host has no node_modules: Dawn comes
// from $DAWN_NODE_PATH): tools/bench/kernels.ts (GPU core + GEMV family) -> dist-bench/kernels.mjs,
// tools/bench/prefill-kernels.ts (GEMM plans, decode / tree attention) -> dist-bench/prefill-kernels.mjs.
import { bundleForDawn } from './build.mjs';

await bundleForDawn('tools/bench/kernels.ts', 'dist-bench/kernels.mjs');
await bundleForDawn('tools/bench/prefill-kernels.ts', 'dist-bench/prefill-kernels.mjs');
