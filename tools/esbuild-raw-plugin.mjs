// esbuild plugin: resolves Vite-style `?raw` imports (e.g. `import src from './x.wgsl?raw'`) to
// the file's text, so engine code bundles for plain Node (the bench on the GPU host) exactly as
// Vite/Vitest load it. Usage: esbuild.build({ ..., plugins: [rawPlugin] }).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** @type {import('esbuild').Plugin} */
export const rawPlugin = {
  name: 'raw-suffix',
  setup(build) {
    build.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)),
      namespace: 'raw-text',
    }));
    build.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({
      contents: await readFile(args.path, 'utf8'),
      loader: 'text',
      watchFiles: [args.path],
    }));
  },
};
