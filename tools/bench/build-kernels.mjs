// Bundles the kernel benchmark (tools/bench/kernels.ts) into dist-bench/kernels.mjs for plain
// Node + Dawn (the GPU host has no node_modules: Dawn comes from $DAWN_NODE_PATH).
import { build } from 'esbuild';
import { rawPlugin } from '../esbuild-raw-plugin.mjs';

await build({
  entryPoints: ['tools/bench/kernels.ts'],
  outfile: 'dist-bench/kernels.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [rawPlugin],
  logLevel: 'warning',
});
console.log('built dist-bench/kernels.mjs');
