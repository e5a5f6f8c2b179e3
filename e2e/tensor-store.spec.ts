// The IndexedDB tensor store in real Chromium: installing a tiny Llama (q4) through the real
// installer round-trips a tensor (values within q4 tolerance, GPU upload byte-identical); an
// aborted install and a page closed mid-install both leave the model not ready, and the next
// install cleans up and succeeds. The harness (e2e/harness/tensor-store-harness.ts) is bundled
// here with esbuild and served on the app's origin, so any build of the app works.
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { build } from 'esbuild';

let harnessJs = '';
test.beforeAll(async () => {
  const out = await build({
    entryPoints: ['e2e/harness/tensor-store-harness.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  harnessJs = out.outputFiles[0].text;
});

async function openHarness(page: Page): Promise<void> {
  await page.route('**/__lumen-test/tensor-store.html', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><script type="module" src="/__lumen-test/tensor-store.js"></script>' }));
  await page.route('**/__lumen-test/tensor-store.js', (route) => route.fulfill({ contentType: 'text/javascript', body: harnessJs }));
  await page.goto('/__lumen-test/tensor-store.html');
  await page.waitForFunction(() => 'lumenStore' in window);
}

test('IndexedDB tensor store round-trips a quantized tensor into a GPU buffer', async ({ page }) => {
  await openHarness(page);
  const installed = await page.evaluate(() => window.lumenStore.install('e2e-tiny'));
  expect(installed.tensors).toBe(1 + 4 * 6 + 2);
  expect(installed.revision).toBe('e2e-rev');
  const s = await page.evaluate(() => window.lumenStore.state('e2e-tiny'));
  expect(s).toMatchObject({ ready: true, listed: true, tensorRecords: installed.tensors + 1 });
  expect(s.chunks).toBe(await page.evaluate(() => window.lumenStore.manifestChunks('e2e-tiny')));
  const v = await page.evaluate(() =>
    window.lumenStore.verifyTensor('e2e-tiny', 'layers.2.qkv', ['q', 'k', 'v'].map((x) => `model.layers.2.self_attn.${x}_proj.weight`)));
  expect(v.chunks).toBeGreaterThan(1);
  expect(v.maxErr).toBeLessThanOrEqual(1 / 14 + 1e-6); // q4: half a step of max|w| / 7, |w| < 1
  expect(v.maxErr).toBeGreaterThan(0);
  expect(v.gpuIdentical).toBe(true);
});

test('an interrupted install leaves the model not ready; the next install recovers', async ({ page }) => {
  await openHarness(page);
  // Aborted through the AbortSignal.
  expect(await page.evaluate(() => window.lumenStore.installAndAbort('e2e-abort'))).toBe('AbortError');
  expect(await page.evaluate(() => window.lumenStore.state('e2e-abort'))).toMatchObject({ ready: false, listed: false });

  // Killed: the page goes away mid-install (no cleanup code runs).
  await page.evaluate(() => window.lumenStore.startSlowInstall('e2e-crash'));
  await page.waitForFunction(() => window.lumenStore.progress > 0.2 && window.lumenStore.progress < 0.6, undefined, { polling: 20 });
  await page.reload();
  await page.waitForFunction(() => 'lumenStore' in window);
  const crashed = await page.evaluate(() => window.lumenStore.state('e2e-crash'));
  expect(crashed.ready).toBe(false);
  expect(crashed.listed).toBe(false);
  expect(crashed.chunks).toBeGreaterThan(0); // partial tensors were left behind...

  await page.evaluate(() => window.lumenStore.install('e2e-crash'));
  const after = await page.evaluate(() => window.lumenStore.state('e2e-crash'));
  expect(after.ready).toBe(true);
  expect(after.chunks).toBe(await page.evaluate(() => window.lumenStore.manifestChunks('e2e-crash'))); // ...and are gone
});
