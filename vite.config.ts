// Vite build for the Lumen PWA: Svelte 5, the Workbox service worker (injectManifest, web/sw.ts),
// Web Workers as ES modules, WGSL shaders imported with ?raw. Vitest shares this config.
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';

export default defineConfig({
  plugins: [
    svelte(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'web',
      filename: 'sw.ts',
      injectRegister: false, // registered by web/lib/pwa.ts through workbox-window
      manifest: false, // public/manifest.webmanifest is the source of truth
      injectManifest: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest,woff2}'],
        globIgnores: ['models/**'],
      },
    }),
  ],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  preview: { port: 4173, strictPort: true },
  test: {
    include: ['workers/**/*.test.ts', 'web/**/*.test.ts', 'tools/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
