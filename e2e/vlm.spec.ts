// SmolVLM end to end in Chromium (production build, real IndexedDB, real WebGPU on SwiftShader, the
// real engine). A repository laid out like the hub (the demo model's real Idefics3 files published
// under the SmolVLM-256M catalogue entry, e2e/support/vlm-hub.ts) is served by the local hub
// server (the only test double: it stands in for the internet):
//   - Download in the library -> install (quantized to the entry's q4) -> the model is selected and
//     loaded -> a question about a photo LARGER than the processor's limit (3000x2000; the
//     processor's longest edge is 1024) gets a streamed answer: resized, not refused (13 tiles);
//   - the GPU process crashes mid-answer (CDP Browser.crashGpuProcess: a real GPU-process crash;
//     chrome://gpucrash cannot be opened from an automated page): the conversation is intact, the
//     answer says the device was lost, and Retry answers once the engine has reloaded the model;
//   - a repository whose config.json disagrees with its weights fails to install with a message
//     naming the tensor and the shapes.
import { expect, test, type Browser, type Page } from '@playwright/test';
import catalogue from '../workers/storage/catalogue.json' with { type: 'json' };
import { startHubServer, type HubServer } from './support/hub-server';
import { routeHub } from './support/hub-route';
import { modelCard, openLibrary } from './support/library-page';
import { scenePng } from './support/scene';
import { capAnswers } from './support/settings';
import { vlmHubRepo } from './support/vlm-hub';

const SMALL = catalogue.models.find((m) => m.id === 'smolvlm-256m-instruct')!;
const BROKEN = catalogue.models.find((m) => m.id === 'smolvlm-500m-instruct')!;
const source = (e: typeof SMALL) => e.source as { repo: string; revision: string };

const answers = (page: Page) => page.getByRole('article', { name: 'Lumen' });
const statsLine = /first token [\d.]+ m?s · [\d.]+ tok\/s · 208 visual tokens · [1-9]\d* tokens?/;

let hub: HubServer;

test.beforeAll(async () => {
  hub = await startHubServer([
    vlmHubRepo(source(SMALL).repo, source(SMALL).revision),
    // The vision tower's width in config.json is not the width of the weights.
    vlmHubRepo(source(BROKEN).repo, source(BROKEN).revision, (files) => {
      const config = JSON.parse(files.get('config.json')!.toString()) as { vision_config: { hidden_size: number } };
      config.vision_config.hidden_size *= 2;
      files.set('config.json', Buffer.from(JSON.stringify(config, null, 2)));
    }),
  ]);
});
test.afterAll(async () => {
  await hub.close();
});
test.beforeEach(async ({ context }) => {
  hub.requests.splice(0);
  await routeHub(context, hub);
  // Only the hub model: the bundled demo model would otherwise install itself and be selected.
  await context.addInitScript(() => localStorage.setItem('lumen.demoRemoved', '1'));
});

/** A 3000x2000 PNG (bigger than the processor's 1024 px and the page's 2048 px limits): a red circle and a blue square. */
function bigPhoto(page: Page): Promise<Buffer> {
  return scenePng(page, 3000, 2000, [
    { kind: 'circle', x: 760, y: 650, r: 300, color: '#e02020' },
    { kind: 'square', x: 1800, y: 1100, size: 560, color: '#2040e0' },
  ]);
}

async function ask(page: Page, question: string, photo?: Buffer): Promise<void> {
  if (photo) {
    await page.locator('input[type=file]:not([capture])').setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: photo });
    await expect(page.getByLabel('Attached photos').getByRole('img', { name: 'big.png' })).toBeVisible();
  }
  const input = page.getByRole('textbox', { name: 'Message' });
  await input.fill(question);
  await input.press('Enter');
}

async function engineLoaded(page: Page, modelId: string): Promise<void> {
  await expect(page.getByRole('combobox', { name: 'Model' })).toHaveValue(modelId, { timeout: 60_000 });
  await expect(page.getByRole('button', { name: /^Engine status: .*(No model|Loading…)/ })).toHaveCount(0, { timeout: 120_000 });
}

async function crashGpuProcess(browser: Browser): Promise<void> {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Browser.crashGpuProcess');
  await cdp.detach();
}

test('a SmolVLM repository from the hub downloads, installs, answers about a large photo; a GPU crash mid-answer keeps the conversation and Retry answers', async ({ page, browser }) => {
  test.setTimeout(240_000);
  await page.goto('/');
  await openLibrary(page);
  const card = modelCard(page, SMALL.id);
  await expect(card).toHaveAttribute('data-status', 'available');
  await card.getByRole('button', { name: `Download ${SMALL.name}`, exact: true }).click();
  await expect(card).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
  expect(hub.requests.some((r) => r.via === 'cdn' && r.file === 'model.safetensors')).toBe(true);
  await page.keyboard.press('Escape');
  await engineLoaded(page, SMALL.id);
  await capAnswers(page, 12);

  // A 3000x2000 photo: resized to the processor's 1024 px (4x3 tiles + the global image = 13 x 16
  // visual tokens), streamed answer with its stats.
  await ask(page, 'What color is the circle?', await bigPhoto(page));
  const first = answers(page).first();
  await expect(first).toHaveAttribute('aria-busy', 'true');
  await expect(first).toHaveAttribute('aria-busy', 'false', { timeout: 120_000 });
  expect(await first.getByRole('alert').count(), `the answer failed: ${await first.getByRole('alert').allTextContents()}`).toBe(0);
  await expect(first).toContainText(statsLine);
  const firstText = ((await first.locator('.md').textContent()) ?? '').trim();
  expect(firstText.length).toBeGreaterThan(0);

  // Follow-up; the GPU process crashes while it is being answered.
  await ask(page, 'Describe the image.');
  const second = answers(page).nth(1);
  await expect(second).toHaveAttribute('aria-busy', 'true');
  await crashGpuProcess(browser);
  await expect(second).toHaveAttribute('aria-busy', 'false', { timeout: 60_000 });
  await expect(second.getByRole('alert')).toContainText(/GPU device was lost/);
  // The conversation is intact: both questions, the photo and the first answer.
  await expect(page.getByRole('article', { name: 'You' })).toHaveCount(2);
  await expect(page.getByRole('article', { name: 'You' }).first().getByRole('img')).toBeVisible();
  await expect(first.locator('.md')).toHaveText(firstText);

  // The engine reloads the model on a new device; Retry answers (photo encoded again on it).
  const retry = second.getByRole('button', { name: 'Retry answer' });
  await expect(retry).toBeEnabled({ timeout: 120_000 });
  await retry.click();
  await expect(second.getByRole('alert')).toHaveCount(0); // the failed answer is being replaced
  await expect(second).toHaveAttribute('aria-busy', 'false', { timeout: 120_000 });
  const alert = second.getByRole('alert');
  expect(await alert.count(), `the retried answer failed: ${await alert.allTextContents()}`).toBe(0);
  await expect(second).toContainText(/first token [\d.]+ m?s · [\d.]+ tok\/s · 208 visual tokens/);
  await expect(answers(page)).toHaveCount(2);
});

test('a repository whose config.json disagrees with its weights fails to install with a clear message', async ({ page }) => {
  await page.goto('/');
  await openLibrary(page);
  const card = modelCard(page, BROKEN.id);
  await card.getByRole('button', { name: `Download ${BROKEN.name}`, exact: true }).click();
  await expect(card).toHaveAttribute('data-status', 'error', { timeout: 90_000 });
  const error = card.getByTestId('model-error');
  await expect(error).toHaveAttribute('data-error-name', 'ModelFormatError');
  console.log(`install error: ${await error.textContent()}`);
  await expect(error).toContainText(/vision/);
  await expect(card.getByRole('button', { name: new RegExp(`^Retry install of ${BROKEN.name}`) })).toBeVisible();
});
