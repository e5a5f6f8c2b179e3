// Installable offline PWA, in real Chromium against the production build: the first load renders
// and the service worker takes control; Chromium's own installability check (DevTools
// `Page.getInstallabilityErrors`) reports nothing; the manifest's fields and icons resolve; the
// precache holds exactly the app shell; the app shell reloads with the network off; a newly deployed service worker raises the "new
// version" prompt, which switches to it; the CSP arrives as an HTTP header on the document, the
// service worker and the worker scripts.
import { chromium, expect, test, type Page, type Request } from '@playwright/test';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumArgs } from '../playwright.config';
import { pngSize } from './support/png';
import { registrationState, waitForServiceWorkerControl } from './support/service-worker';
import { parseHeadersFile, startStaticServer } from './support/static-server';

const dist = process.env.E2E_DIST ?? 'dist';
const policy = parseHeadersFile(readFileSync(join(dist, '_headers'), 'utf8')).find((r) => r.pattern === '/*')?.headers[
  'Content-Security-Policy'
];

/** The Svelte app mounted: the root holds rendered UI, and the document is Lumen's. */
async function expectAppShell(page: Page): Promise<void> {
  await expect(page).toHaveTitle('Lumen');
  await expect(page.locator('#app > *').first()).toBeAttached();
}

test('first load renders, the service worker takes control, Chromium finds the app installable', async ({ baseURL }) => {
  // Chromium never offers installation in an incognito-like context (Playwright's default), so
  // this check runs in a persistent profile, as a user's browser would.
  const profile = mkdtempSync(join(tmpdir(), 'lumen-pwa-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: chromiumArgs,
    baseURL,
    serviceWorkers: 'allow',
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    await page.goto('/');
    await expectAppShell(page);
    await waitForServiceWorkerControl(page);
    expect((await registrationState(page)).active).toMatch(/\/sw\.js$/);

    const cdp = await context.newCDPSession(page);
    const manifest = (await cdp.send('Page.getAppManifest')) as { url: string; errors: { message: string }[] };
    expect(manifest.url).toMatch(/\/manifest\.webmanifest$/);
    expect(manifest.errors).toEqual([]);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors).toEqual([]);
    // No uncaught error and no CSP refusal on the way.
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('manifest fields and icons resolve', async ({ request }) => {
  const res = await request.get('/manifest.webmanifest');
  expect(res.ok()).toBe(true);
  expect(res.headers()['content-type']).toContain('application/manifest+json');
  const m = await res.json();
  expect(m).toMatchObject({
    name: 'Lumen',
    short_name: 'Lumen',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    theme_color: '#111318',
    background_color: '#111318',
    share_target: {
      action: '/share-target',
      method: 'POST',
      enctype: 'multipart/form-data',
      params: { title: 'title', text: 'text', url: 'url', files: [{ name: 'photos' }] },
    },
    launch_handler: { client_mode: expect.arrayContaining(['navigate-existing']) },
  });
  expect(m.description.length).toBeGreaterThan(20);
  expect(m.categories.length).toBeGreaterThan(0);
  expect(m.share_target.params.files[0].accept).toContain('image/*');
  expect(m.file_handlers[0].action).toBe('/');
  expect(Object.keys(m.file_handlers[0].accept)).toEqual(expect.arrayContaining(['image/jpeg', 'image/png']));

  const icons = m.icons as { src: string; sizes: string; type: string; purpose: string }[];
  for (const wanted of ['any', 'maskable']) {
    for (const size of ['192x192', '512x512']) {
      expect(icons.some((i) => i.purpose === wanted && i.sizes === size && i.type === 'image/png'), `${wanted} ${size}`).toBe(true);
    }
  }
  expect(icons.some((i) => i.type === 'image/svg+xml')).toBe(true);
  for (const icon of icons) {
    const r = await request.get(icon.src);
    expect(r.ok(), icon.src).toBe(true);
    expect(r.headers()['content-type'], icon.src).toContain(icon.type);
    const body = await r.body();
    if (icon.type === 'image/png') {
      const { width, height } = pngSize(body);
      expect(`${width}x${height}`, icon.src).toBe(icon.sizes);
    } else {
      expect(body.toString('utf8'), icon.src).toContain('<svg');
    }
  }
});

/** Files of the build that make up the app shell (vite.config.ts globPatterns, minus models/). */
function shellFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return path === 'models' ? [] : shellFiles(dir, path);
    return /\.(js|css|html|svg|png|webmanifest|woff2)$/.test(entry.name) && path !== 'sw.js' ? [`/${path}`] : [];
  });
}

test('the precache holds exactly the app shell: no model files, nothing from other hosts', async ({ page }) => {
  await page.goto('/');
  await waitForServiceWorkerControl(page);
  const cached = await page.evaluate(async () => {
    const entries: { url: string; bytes: number }[] = [];
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        const response = await cache.match(request);
        entries.push({ url: request.url, bytes: (await response!.arrayBuffer()).byteLength });
      }
    }
    return entries;
  });
  const origin = new URL(page.url()).origin;
  const paths = cached.map((e) => {
    const url = new URL(e.url);
    expect(url.origin, e.url).toBe(origin);
    url.searchParams.delete('__WB_REVISION__');
    return url.pathname + url.search;
  });
  expect(paths.filter((p) => p.startsWith('/models/'))).toEqual([]);
  expect(new Set(paths)).toEqual(new Set(shellFiles(dist)));
  const total = cached.reduce((sum, e) => sum + e.bytes, 0);
  test.info().annotations.push({ type: 'precache', description: `${cached.length} files, ${(total / 1024).toFixed(0)} KiB` });
  expect(total).toBeLessThan(10 * 1024 * 1024); // the shell stays small; weights never go here
});

test('after the first visit the app reloads and navigates with the network off', async ({ page, context }) => {
  await page.goto('/');
  await expectAppShell(page);
  await waitForServiceWorkerControl(page);

  await context.setOffline(true);
  // Requests issued from now on must all be answered by the service worker. (The first visit also
  // starts installing the bundled demo model: responses to its requests issued before going
  // offline may still arrive and are not what this test is about.)
  const issuedOffline = new Set<Request>();
  page.on('request', (r) => issuedOffline.add(r));
  const fromNetwork: string[] = [];
  page.on('response', (r) => {
    if (issuedOffline.has(r.request()) && !r.fromServiceWorker() && r.url().startsWith('http')) fromNetwork.push(r.url());
  });
  const offlineDoc = await page.reload();
  await expectAppShell(page);
  // The precached document keeps the server's policy header (the meta tag is only a fallback).
  expect(offlineDoc?.fromServiceWorker()).toBe(true);
  expect(offlineDoc?.headers()['content-security-policy']).toBe(policy);
  // A deep link that was never visited gets the precached shell too (navigation fallback).
  await page.goto('/some/deep/link?x=1');
  await expectAppShell(page);
  expect(fromNetwork).toEqual([]);
  await context.setOffline(false);
});

test('a newly deployed service worker raises the update prompt, which switches to it', async ({ page }) => {
  // Our own static host, so the test can "deploy" a changed sw.js without touching the build.
  const server = await startStaticServer(dist);
  try {
    await page.goto(server.url);
    await expectAppShell(page);
    await waitForServiceWorkerControl(page);
    const prompt = page.getByText('A new version of Lumen is ready');
    await expect(prompt).toHaveCount(0);

    // The next deployment: a changed index.html, and a service worker whose precache has its new revision.
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const sw = readFileSync(join(dist, 'sw.js'), 'utf8');
    const entry = /\{"revision":"([0-9a-f]+)","url":"index\.html"\}/;
    expect(sw).toMatch(entry);
    server.override('/index.html', html.replace('<head>', '<head>\n    <meta name="lumen-build" content="next" />'));
    server.override('/sw.js', sw.replace(entry, '{"revision":"0000000000000000000000000000beef","url":"index.html"}'));
    await page.reload(); // a navigation checks for a new service worker

    await expect(prompt).toBeVisible();
    const waiting = await registrationState(page);
    expect(waiting.waiting).toMatch(/\/sw\.js$/);
    // Until the user accepts, the old worker keeps serving the old shell: no mixed versions.
    await expect(page.locator('meta[name="lumen-build"]')).toHaveCount(0);

    // Dismiss hides it for this page; the next load shows it again (still waiting).
    await page.getByRole('button', { name: 'Dismiss update notice' }).click();
    await expect(prompt).toHaveCount(0);
    await page.reload();
    await expect(prompt).toBeVisible();

    // Reload: the waiting worker takes over and the page reloads under it.
    await page.evaluate(() => ((window as unknown as { beforeUpdate: boolean }).beforeUpdate = true));
    await page.getByRole('button', { name: 'Reload', exact: true }).click();
    await page.waitForFunction(() => !(window as unknown as { beforeUpdate?: boolean }).beforeUpdate, undefined, { timeout: 30_000 });
    await expectAppShell(page);
    await waitForServiceWorkerControl(page);
    const after = await registrationState(page);
    expect(after).toMatchObject({ waiting: null, controlled: true });
    await expect(prompt).toHaveCount(0);
    // The page now runs the new deployment, served from the new worker's precache.
    await expect(page.locator('meta[name="lumen-build"]')).toHaveAttribute('content', 'next');
  } finally {
    await server.close();
  }
});

test('the CSP is an HTTP header on the document, the service worker and worker scripts', async ({ page, request }) => {
  expect(policy).toContain("connect-src 'self'");
  const doc = await page.goto('/');
  expect(doc?.headers()['content-security-policy']).toBe(policy);
  expect(await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')).toContain(
    "default-src 'self'",
  );

  const workerScripts = readdirSync(join(dist, 'assets')).filter((f) => /worker.*\.js$/.test(f));
  expect(workerScripts.length).toBeGreaterThan(0);
  for (const path of ['/sw.js', ...workerScripts.map((f) => `/assets/${f}`)]) {
    const r = await request.get(path);
    expect(r.ok(), path).toBe(true);
    expect(r.headers()['content-security-policy'], path).toBe(policy);
  }
});
