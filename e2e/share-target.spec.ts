// Web Share Target, end to end in real Chromium: a multipart POST to /share-target (what the OS
// share sheet sends to the installed app, per the manifest's share_target) is intercepted by the
// service worker, which stores the photos in IndexedDB and redirects to /?share=<id>; the app
// then opens a new chat with the photos attached in the composer and empties the inbox.
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

function inboxCount(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('lumen-app');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const count = open.result.transaction('inbox').objectStore('inbox').count();
          count.onsuccess = () => {
            resolve(count.result);
            open.result.close();
          };
          count.onerror = () => reject(count.error);
        };
      }),
  );
}

test('a share-target POST with photos opens a new chat with them attached', async ({ page }) => {
  await page.goto('/');
  await waitForServiceWorkerControl(page);

  const response = await submitShare(page, { title: 'Harbour trip', text: 'What boats are these?', url: '' }, [
    { name: 'harbour.png', buffer: makePng(96, 64, 1) },
    { name: 'sunset.png', buffer: makePng(64, 96, 2) },
  ]);
  // The service worker answered the POST itself (the static server never sees it) with a redirect.
  expect(response.fromServiceWorker()).toBe(true);
  expect(response.status()).toBe(303);
  expect(response.headers()['location']).toMatch(/^\/\?share=\d+$/);

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
});

test('a text-only share is stored without an empty photo', async ({ page }) => {
  await page.goto('/');
  await waitForServiceWorkerControl(page);
  const response = await submitShare(page, { title: '', text: 'Look at this', url: 'https://example.org/pic' }, []);
  expect(response.status()).toBe(303);
  await page.waitForURL((url) => url.pathname === '/');
  await expect(page.getByLabel('Attached photos').locator('img')).toHaveCount(0);
});
