// Bundles the kernel benchmark (tools/bench/kernels.ts) into dist-bench/kernels.mjs for plain
// Node + Dawn (the GPU host has no node_modules: Dawn comes from $DAWN_NODE_PATH).
import { bundleForDawn } from './build.mjs';

await bundleForDawn('tools/bench/kernels.ts', 'dist-bench/kernels.mjs');
