// Bundles the engine eval (tools/eval/engine-eval-cli.ts -> dist-eval/engine-eval.mjs) for plain
// Node 20 + Dawn on the GPU host, which has no node_modules: Dawn comes from $DAWN_NODE_PATH
// (workers/gpu/node.ts), WGSL `?raw` imports are inlined, and @huggingface/transformers is its
// web build with ONNX Runtime replaced by workers/vision/no-onnxruntime.ts (the node build needs sharp and
// onnxruntime-node at load time). Photos are PNGs decoded by tools/eval/png.ts, at the processor's
// size already, so transformers.js never resizes them (no canvas/sharp needed).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { rawPlugin } from '../esbuild-raw-plugin.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

await build({
  entryPoints: [here('./engine-eval-cli.ts')],
  outfile: here('../../dist-eval/engine-eval.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  alias: {
    '@huggingface/transformers': here('../../node_modules/@huggingface/transformers/dist/transformers.web.js'),
    'onnxruntime-web/webgpu': here('../../workers/vision/no-onnxruntime.ts'),
  },
  plugins: [rawPlugin],
  logLevel: 'warning',
});
console.log('built dist-eval/engine-eval.mjs');
