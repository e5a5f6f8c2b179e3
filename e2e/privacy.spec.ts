// Privacy, in real Chromium against the production build: (1) while the app is used (new chat,
// attach a photo, send a message, open the model library), every request made by the context —
// pages, dedicated workers and the service worker — stays on the app's own origin; (2) the
// Content-Security-Policy refuses requests to any other host from the page, from a dedicated
// worker (which gets its policy from its own script's response headers), from a blob: worker and
// from the service worker, while the model hub's hosts stay allowed; (3) with the demo model
// installed, asking a question and receiving the real engine's answer makes zero requests of any
// kind, same-origin included (the photo variant is in e2e/demo.spec.ts).
import { expect, test, type Page, type Worker } from '@playwright/test';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startProbeServer } from './support/probe-server';
import { makePng } from './support/png';
import { waitForServiceWorkerControl } from './support/service-worker';

const dist = process.env.E2E_DIST ?? 'dist';

test('using the app sends no request off its origin', async ({ page, context, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const requests: string[] = [];
  let fromServiceWorker = 0;
  context.on('request', (r) => {
    if (!r.url().startsWith('http')) return; // data:/blob: never leave the device
    requests.push(r.url());
    if (r.serviceWorker()) fromServiceWorker++;
  });

  // The app itself must live within its policy: any refusal shows up as a console error.
  const cspRefusals: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspRefusals.push(m.text());
  });

  await page.goto('/');
  await waitForServiceWorkerControl(page);

  await page.getByRole('button', { name: 'New chat' }).click();
  await page.locator('input[type=file]:not([capture])').first().setInputFiles({
    name: 'kitchen.png',
    mimeType: 'image/png',
    buffer: makePng(80, 60, 3),
  });
  const attached = page.getByLabel('Attached photos');
  await expect(attached.getByRole('img', { name: 'kitchen.png' })).toBeVisible();
  const composer = page.getByRole('textbox', { name: /message|ask/i });
  await composer.fill('What is on the table?');
  await page.getByRole('button', { name: /^send/i }).click();
  await expect(page.getByRole('article', { name: 'You' }).filter({ hasText: 'What is on the table?' })).toBeVisible();

  await page.getByRole('button', { name: 'Model library' }).click();
  await expect(page.getByRole('heading', { name: /model library/i })).toBeVisible();
  await page.waitForLoadState('networkidle');

  // The recorder saw the app's own traffic, the service worker's included (its precache
  // fetches), so an empty off-origin list means something.
  expect(requests.length).toBeGreaterThan(3);
  expect(fromServiceWorker).toBeGreaterThan(0);
  expect(requests.filter((u) => new URL(u).origin !== origin)).toEqual([]);
  expect(cspRefusals).toEqual([]);
});

test('with the demo model installed, asking and answering makes zero network requests', async ({ page, context }) => {
  test.setTimeout(150_000);
  const requests: string[] = [];
  context.on('request', (r) => {
    if (r.url().startsWith('http')) requests.push(`${r.serviceWorker() ? 'sw ' : ''}${r.method()} ${r.url()}`);
  });
  await page.goto('/');
  await waitForServiceWorkerControl(page);
  // The app installs its bundled demo model by itself, then loads it.
  await expect(page.getByRole('combobox', { name: 'Model' })).toHaveValue('lumen-demo', { timeout: 120_000 });
  await expect(page.getByRole('button', { name: /^Engine status: .*(No model|Loading…)/ })).toHaveCount(0, { timeout: 60_000 });
  expect(requests.some((r) => r.includes('/models/lumen-demo/model.safetensors')), 'the recorder saw the install').toBe(true);
  await page.getByRole('button', { name: /^Engine status/ }).click();
  await page.getByRole('spinbutton', { name: 'Longest answer (tokens)' }).fill('8');
  await page.getByRole('spinbutton', { name: 'Longest answer (tokens)' }).press('Enter');
  await page.keyboard.press('Escape');
  await page.waitForLoadState('networkidle');

  const before = requests.length;
  await page.getByRole('textbox', { name: 'Message' }).fill('How many shapes are there?');
  await page.keyboard.press('Enter');
  const answer = page.getByRole('article', { name: 'Lumen' });
  await expect(answer).toHaveAttribute('aria-busy', 'true');
  await expect(answer).toHaveAttribute('aria-busy', 'false', { timeout: 90_000 });
  await expect(answer).toContainText(/first token [\d.]+ m?s · [\d.]+ tok\/s · [1-8] tokens?/);
  expect(requests.slice(before)).toEqual([]);
});

/**
 * tryFetch for a URL answered by a Playwright route: in a full suite run a routed fetch from a
 * service-worker-controlled page has failed once as "Failed to fetch" with no CSP violation
 * (a Playwright/Chromium routing race, not the policy), so it gets up to three attempts. A CSP
 * block fails every attempt, and the test separately asserts no violation names a hub host.
 */
async function tryFetchRouted(realm: Page | Worker, url: string): Promise<string> {
  let result = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    result = await tryFetch(realm, url);
    if (result.startsWith('ok:')) return result;
  }
  return result;
}

/** fetch() in some JS realm (page, worker, service worker): 'ok:<body>' or 'error:<message>'. */
function tryFetch(realm: Page | Worker, url: string): Promise<string> {
  const attempt = (u: string) =>
    fetch(u).then(
      async (r) => `ok:${await r.text()}`,
      (e: unknown) => `error:${e instanceof Error ? e.message : String(e)}`,
    );
  return 'mainFrame' in realm ? realm.evaluate(attempt, url) : realm.evaluate(attempt, url);
}

test('the CSP blocks other hosts from the page, workers and the service worker; the hub is allowed', async ({
  page,
  context,
}) => {
  const probe = await startProbeServer();
  try {
    // Control: without our CSP, the browser reaches the probe (a page on another origin).
    const control = await context.newPage();
    await control.goto(`${probe.pageOrigin}/no-csp.html`);
    expect(await tryFetch(control, `${probe.url}/control`)).toBe('ok:probe');
    expect(probe.hits).toEqual(['/control']);
    await control.close();

    await page.goto('/');
    await waitForServiceWorkerControl(page);
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { violations: string[] }).violations = seen;
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.effectiveDirective} ${e.blockedURI}`));
    });

    // The page.
    expect(await tryFetch(page, `${probe.url}/from-page`)).toMatch(/^error:/);

    // A dedicated worker from the app's own build (its CSP comes from its response headers).
    const workerScript = readdirSync(join(dist, 'assets')).find((f) => /worker.*\.js$/.test(f));
    expect(workerScript, 'the build has a worker script').toBeDefined();
    const [appWorker] = await Promise.all([
      page.waitForEvent('worker', (w) => w.url().endsWith(workerScript!)),
      page.evaluate((src) => void new Worker(src, { type: 'module' }), `/assets/${workerScript}`),
    ]);
    expect(await tryFetch(appWorker, `${probe.url}/from-worker`)).toMatch(/^error:/);

    // A blob: worker inherits the page's policy.
    const [blobWorker] = await Promise.all([
      page.waitForEvent('worker', (w) => w.url().startsWith('blob:')),
      page.evaluate(() => void new Worker(URL.createObjectURL(new Blob(['onmessage = () => {};'], { type: 'text/javascript' })))),
    ]);
    expect(await tryFetch(blobWorker, `${probe.url}/from-blob-worker`)).toMatch(/^error:/);

    // The service worker.
    const sw = context.serviceWorkers().find((w) => w.url().endsWith('/sw.js'));
    expect(sw, 'the service worker is running').toBeDefined();
    expect(await tryFetch(sw!, `${probe.url}/from-service-worker`)).toMatch(/^error:/);

    expect(probe.hits).toEqual(['/control']); // nothing after the control got through
    const violations = await page.evaluate(() => (window as unknown as { violations: string[] }).violations);
    expect(violations.some((v) => v.startsWith(`connect-src ${probe.url}`))).toBe(true);

    // The hub and the CDN hosts its downloads redirect to pass the CSP (answered locally here).
    await context.route(/^https:\/\/([a-z0-9-]+\.)*(huggingface\.co|hf\.co)\//, (route) =>
      route.fulfill({ status: 200, body: 'hub', headers: { 'access-control-allow-origin': '*' } }),
    );
    for (const url of [
      'https://huggingface.co/api/models/HuggingFaceTB/SmolVLM-256M-Instruct',
      'https://cdn-lfs-us-1.hf.co/repos/x/y',
      'https://cas-bridge.xethub.hf.co/xet-bridge-us/x',
      'https://us.aws.cdn.hf.co/xet-bridge-us/x',
    ]) {
      expect(await tryFetchRouted(page, url), url).toBe('ok:hub');
      expect(await tryFetchRouted(appWorker, url), url).toBe('ok:hub');
    }
    // A look-alike host is not the hub.
    expect(await tryFetch(page, 'https://huggingface.co.example.net/x')).toMatch(/^error:/);
    const after = await page.evaluate(() => (window as unknown as { violations: string[] }).violations);
    const blockedHosts = after.map((v) => new URL(v.split(' ')[1]).hostname);
    expect(blockedHosts.filter((h) => h === 'huggingface.co' || h.endsWith('.hf.co') || h.endsWith('.huggingface.co'))).toEqual([]);
    expect(blockedHosts).toContain('huggingface.co.example.net');
  } finally {
    await probe.close();
  }
});
