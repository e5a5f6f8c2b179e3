// Playwright e2e: Debian's Chromium (no browser download here) with real WebGPU on SwiftShader,
// against the production build served by `vite preview`.
import { defineConfig } from '@playwright/test';

export const chromiumArgs = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// Parallel work on one machine can give each run its own build and port:
// E2E_DIST=dist-x E2E_PORT=4180 npx playwright test e2e/foo.spec.ts (build with --outDir dist-x first).
const dist = process.env.E2E_DIST ?? 'dist';
const port = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  timeout: 180_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
    serviceWorkers: 'allow',
  },
  webServer: {
    command: `npx vite preview --port ${port} --strictPort --outDir ${dist}`,
    url: `http://localhost:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
