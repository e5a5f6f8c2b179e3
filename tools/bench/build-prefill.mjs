// Bundles the issue-3 prefill / decode-attention benchmarks for the GPU host (plain Node + Dawn):
// tools/bench/prefill-kernels.ts -> dist-bench-3b/prefill-kernels.mjs, and the end-to-end bench
// and photo-to-first-token bench into the same folder (dist-bench-3b/bench.mjs, vlm.mjs), so this
// work's bundles do not overwrite dist-bench/ while others use it.
import { bundleForDawn } from './build.mjs';

await bundleForDawn('tools/bench/prefill-kernels.ts', 'dist-bench-3b/prefill-kernels.mjs');
await bundleForDawn('tools/bench/bench.ts', 'dist-bench-3b/bench.mjs');
await bundleForDawn('tools/bench/vlm.ts', 'dist-bench-3b/vlm.mjs', ['sharp', 'onnxruntime-node']);
await bundleForDawn('tools/parity/run.ts', 'dist-bench-3b/parity.mjs');
await bundleForDawn('tools/bench/vlm-prev-routing.ts', 'dist-bench-3b/vlm-prev-routing.mjs', ['sharp', 'onnxruntime-node']);
