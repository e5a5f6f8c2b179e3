// Web Share Target, end to end in real Chromium: a multipart POST to /share-target (what the OS
// share sheet sends to the installed app, per the manifest's share_target) is intercepted by the
// service worker, which stores the photos in IndexedDB and redirects to /?share=<id>; the app
// then opens a new chat with the photos attached in the composer and empties the inbox; all of
// it works with the network off.
import { expect, test, type Page } from '@playwright/test';
import { makePng } from './support/png';
import { waitForServiceWorkerControl } from './support/service-worker';

/** Submits a share form like a share sheet would: multipart POST, navigating the page. */
async function submitShare(page: Page, share: { title?: string; text?: string; url?: string }, photos: { name: string; buffer: Buffer }[]) {
  await page.evaluate((fields) => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = '/share-target';
    form.enctype = 'multipart/form-data';
    form.id = 'e2e-share';
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value ?? '';
      form.append(input);
    }
    const files = document.createElement('input');
    files.type = 'file';
    files.name = 'photos';
    files.multiple = true;
    form.append(files);
    document.body.append(form);
  }, share);
  await page.setInputFiles('#e2e-share input[name=photos]', photos.map((p) => ({ ...p, mimeType: 'image/png' })));
  const shareResponse = page.waitForResponse((r) => new URL(r.url()).pathname === '/share-target');
  await page.evaluate(() => (document.getElementById('e2e-share') as HTMLFormElement).submit());
  return shareResponse;
}

/** Records waiting in the app database's inbox (0 if the database does not exist yet). */
function inboxCount(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('lumen-app');
        // No database yet: abort rather than create an empty one the app would then trip over.
        open.onupgradeneeded = () => open.transaction?.abort();
        open.onerror = () => (open.error?.name === 'AbortError' ? resolve(0) : reject(open.error));
        open.onsuccess = () => {
          const db = open.result;
          try {
            const count = db.transaction('inbox').objectStore('inbox').count();
            count.onsuccess = () => resolve(count.result);
            count.onerror = () => reject(count.error);
          } catch (error) {
            reject(error);
          } finally {
            db.close();
          }
        };
      }),
  );
}

test('a share-target POST with photos opens a new chat with them attached, offline', async ({ page, context }) => {
  await page.goto('/');
  await waitForServiceWorkerControl(page);
  await context.setOffline(true); // sharing from the gallery needs no network

  const response = await submitShare(page, { title: 'Harbour trip', text: 'What boats are these?', url: '' }, [
    { name: 'harbour.png', buffer: makePng(96, 64, 1) },
    { name: 'sunset.png', buffer: makePng(64, 96, 2) },
  ]);
  // The service worker answered the POST itself (the static server never sees it) with a redirect.
  expect(response.fromServiceWorker()).toBe(true);
  expect(response.status()).toBe(303);
  const location = new URL(response.headers()['location'], page.url());
  expect(location.pathname + location.search).toMatch(/^\/\?share=\d+$/);

  const attached = page.getByLabel('Attached photos');
  await expect(attached).toBeVisible();
  await expect(attached.getByRole('img', { name: 'harbour.png' })).toBeVisible();
  await expect(attached.getByRole('img', { name: 'sunset.png' })).toBeVisible();
  // The thumbnails show the shared pictures (decoded, each with its own aspect), not placeholders.
  const aspect = async (name: string) =>
    attached.getByRole('img', { name }).evaluate(async (img: HTMLImageElement) => {
      await img.decode();
      return img.naturalWidth / img.naturalHeight;
    });
  expect(await aspect('harbour.png')).toBeCloseTo(96 / 64, 1);
  expect(await aspect('sunset.png')).toBeCloseTo(64 / 96, 1);

  // The inbox is consumed once, and the URL no longer carries the share id (a reload won't re-import).
  await expect.poll(() => inboxCount(page)).toBe(0);
  await expect.poll(() => new URL(page.url()).searchParams.has('share')).toBe(false);
  await context.setOffline(false);
});

test('a text-only share fills the composer and attaches no empty photo', async ({ page }) => {
  await page.goto('/');
  await waitForServiceWorkerControl(page);
  const response = await submitShare(page, { title: '', text: 'Look at this', url: 'https://example.org/pic' }, []);
  expect(response.status()).toBe(303);
  await page.waitForURL((url) => url.pathname === '/' && !url.searchParams.has('share'));
  await expect(page.getByRole('textbox', { name: /message|ask/i })).toHaveValue(/Look at this\s+https:\/\/example\.org\/pic/);
  await expect(page.getByLabel('Attached photos').locator('img')).toHaveCount(0);
});

test('a share the service worker cannot read is refused with a visible reason', async ({ page }) => {
  await page.goto('/');
  await waitForServiceWorkerControl(page);
  // Not multipart: the form body cannot be parsed as the share_target's fields.
  await page.evaluate(() => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = '/share-target';
    form.enctype = 'text/plain';
    const text = document.createElement('input');
    text.name = 'text';
    text.value = 'hello';
    form.append(text);
    document.body.append(form);
    form.submit();
  });
  const alert = page.getByRole('alert').filter({ hasText: "Couldn't receive the share." });
  await expect(alert).toBeVisible();
  await expect(alert).toContainText('could not be read');
  expect(new URL(page.url()).searchParams.has('share-error')).toBe(false);
  await page.getByRole('button', { name: 'Dismiss share error' }).click();
  await expect(alert).toHaveCount(0);
  expect(await inboxCount(page)).toBe(0);
});
