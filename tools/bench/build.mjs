// Bundles the end-to-end benchmark (tools/bench/bench.ts -> dist-bench/bench.mjs) and the parity
// runner (tools/parity/run.ts -> dist-bench/parity.mjs) and the photo-to-first-token bench
// (tools/bench/vlm.ts, vlm-prev-routing.ts) for the GPU host, for plain Node + Dawn:
// the GPU host has no node_modules, so Dawn comes from $DAWN_NODE_PATH (workers/gpu/node.ts) and
// WGSL `?raw` imports are inlined by the shared esbuild plugin. bundleForDawn() also serves
// build-kernels.mjs.
import { build } from 'esbuild';
import { pathToFileURL } from 'node:url';
import { rawPlugin } from '../esbuild-raw-plugin.mjs';

/**
 * Bundles `entry` (a .ts file) into the ESM file `out` for plain Node 20 with Dawn external.
 * `external` adds packages left out of the bundle (loaded from node_modules at run time).
 */
export async function bundleForDawn(entry, out, external = []) {
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu', ...external],
    plugins: [rawPlugin],
    logLevel: 'warning',
  });
  console.log(`built ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [entry, out] of [
    ['tools/bench/bench.ts', 'dist-bench/bench.mjs'],
    ['tools/parity/run.ts', 'dist-bench/parity.mjs'],
  ]) {
    await bundleForDawn(entry, out);
  }
  // Photo benchmark + Idefics3 parity (tools/bench/vlm.ts): transformers.js' image processor needs
  // sharp (native) under Node, and transformers.js requires onnxruntime-node at load; both stay
  // external (on the GPU host, tools/parity/idefics3_host.sh unpacks sharp next to the bundle).
  await bundleForDawn('tools/bench/vlm.ts', 'dist-bench/vlm.mjs', ['sharp', 'onnxruntime-node']);
  // the same with the GEMM / attention routing before issue 3's third session (before/after TTFT)
  await bundleForDawn('tools/bench/vlm-prev-routing.ts', 'dist-bench/vlm-prev-routing.mjs', ['sharp', 'onnxruntime-node']);
}
