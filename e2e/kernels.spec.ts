// Matmul-family kernels in real Chromium WebGPU (SwiftShader here): the harness page
// (e2e/kernels/harness.ts) is bundled with esbuild at test time and served on the app's origin
// through page.route (a secure localhost context), so it never ships with the app. Each case
// compares a GPU result with the CPU reference (tolerances in workers/ops/matmul-cases.ts).
import { expect, test } from '@playwright/test';
import { build } from 'esbuild';
import { rawPlugin } from '../tools/esbuild-raw-plugin.mjs';

interface CaseResult {
  name: string;
  error: number;
  tolerance: number;
  ok: boolean;
}

async function harnessJs(): Promise<string> {
  const out = await build({
    entryPoints: ['e2e/kernels/harness.ts'],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    plugins: [rawPlugin],
    logLevel: 'warning',
  });
  return out.outputFiles[0].text;
}

test('matmul kernels (GEMV, skinny GEMM, tiled GEMM, embedding) match the CPU reference', async ({ page }) => {
  const js = await harnessJs();
  await page.route('**/__kernels/harness.js', (r) => r.fulfill({ contentType: 'text/javascript', body: js }));
  await page.route('**/__kernels/', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>kernels</title><script type="module" src="harness.js"></script>' }));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/__kernels/');
  await page.waitForFunction(() => 'runKernelCases' in window);
  const results = await page.evaluate(() => (window as unknown as { runKernelCases(s: string): Promise<CaseResult[]> }).runKernelCases('matmul'));
  expect(errors).toEqual([]);
  expect(results.length).toBeGreaterThanOrEqual(15);
  for (const r of results) expect.soft(r.ok, `${r.name}: error ${r.error} > ${r.tolerance}`).toBe(true);
});

test('attention, KV, RoPE, norm, activation and sampling kernels match the CPU reference', async ({ page }) => {
  const js = await harnessJs();
  await page.route('**/__kernels/harness.js', (r) => r.fulfill({ contentType: 'text/javascript', body: js }));
  await page.route('**/__kernels/', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>kernels</title><script type="module" src="harness.js"></script>' }));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/__kernels/');
  await page.waitForFunction(() => 'runKernelCases' in window);
  const results = await page.evaluate(() => (window as unknown as { runKernelCases(s: string): Promise<CaseResult[]> }).runKernelCases('ops'));
  expect(errors).toEqual([]);
  expect(results.length).toBeGreaterThanOrEqual(14);
  for (const r of results) expect.soft(r.ok, `${r.name}: error ${r.error} > ${r.tolerance}`).toBe(true);
});
