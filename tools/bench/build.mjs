// Bundles the end-to-end benchmark (tools/bench/bench.ts -> dist-bench/bench.mjs) and the parity
// runner for the GPU host (tools/parity/run.ts -> dist-bench/parity.mjs) for plain Node + Dawn:
// the GPU host has no node_modules, so Dawn comes from $DAWN_NODE_PATH (workers/gpu/node.ts) and
// WGSL `?raw` imports are inlined by the shared esbuild plugin.
import { build } from 'esbuild';
import { rawPlugin } from '../esbuild-raw-plugin.mjs';

for (const [entry, out] of [
  ['tools/bench/bench.ts', 'dist-bench/bench.mjs'],
  ['tools/parity/run.ts', 'dist-bench/parity.mjs'],
]) {
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    plugins: [rawPlugin],
    logLevel: 'warning',
  });
  console.log(`built ${out}`);
}
