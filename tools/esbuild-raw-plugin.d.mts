// Types for tools/esbuild-raw-plugin.mjs (Vite-style ?raw imports in esbuild bundles).
import type { Plugin } from 'esbuild';
export const rawPlugin: Plugin;
