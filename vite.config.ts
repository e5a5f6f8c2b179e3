// Vite build for the Lumen PWA: Svelte 5, the Workbox service worker (injectManifest, web/sw.ts),
// Web Workers as ES modules, WGSL shaders imported with ?raw. Vitest shares this config.
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

// Security headers (Content-Security-Policy first) live in public/_headers, the file static hosts
// read; `vite preview` serves its "/*" block and the build copies the CSP into a <meta> fallback.
const siteHeaders = readSiteHeaders(new URL('./public/_headers', import.meta.url));
const csp = siteHeaders['Content-Security-Policy'];

/** Headers of the "/*" rule in a Netlify/Cloudflare-style _headers file. */
function readSiteHeaders(file: URL): Record<string, string> {
  const headers: Record<string, string> = {};
  let inGlobalRule = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    if (!/^\s/.test(line)) inGlobalRule = line.trim() === '/*';
    else if (inGlobalRule) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
  }
  if (!headers['Content-Security-Policy']) throw new Error('public/_headers: the "/*" rule needs a Content-Security-Policy');
  return headers;
}

/** Adds the CSP as a <meta> tag (for hosts that ignore _headers); frame-ancestors only works as a header. */
function cspMetaTag(): Plugin {
  const metaPolicy = csp.split(';').map((d) => d.trim()).filter((d) => d && !d.startsWith('frame-ancestors')).join('; ');
  return {
    name: 'lumen-csp-meta',
    apply: 'build',
    // Right after <meta charset>, before any script or style, so the policy covers all of them.
    transformIndexHtml: (html) =>
      html.replace(/<meta charset[^>]*>/i, (charset) => `${charset}\n    <meta http-equiv="Content-Security-Policy" content="${metaPolicy}" />`),
  };
}

export default defineConfig({
  plugins: [
    svelte(),
    cspMetaTag(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'web',
      filename: 'sw.ts',
      injectRegister: false, // registered by web/lib/pwa.ts through workbox-window
      manifest: false, // public/manifest.webmanifest is the source of truth
      injectManifest: {
        rollupFormat: 'iife', // a classic worker script: registers everywhere, no module SW needed
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest,woff2}'],
        globIgnores: ['models/**'],
      },
    }),
  ],
  // App builds replace ONNX Runtime with a throwing stand-in (workers/vision/no-onnxruntime.ts):
  // transformers.js imports it statically, Lumen never runs ONNX graphs, and it would add ~27 MB
  // of WebAssembly to dist. Vitest keeps the real module (tiles.test.ts compares against it).
  resolve: {
    alias: process.env.VITEST
      ? {}
      : { 'onnxruntime-web/webgpu': fileURLToPath(new URL('./workers/vision/no-onnxruntime.ts', import.meta.url)) },
  },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  preview: { port: 4173, strictPort: true, headers: siteHeaders },
  test: {
    include: ['workers/**/*.test.ts', 'web/**/*.test.ts', 'tools/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
