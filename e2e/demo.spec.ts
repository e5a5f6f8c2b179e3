// The embedded demo model end to end in real Chromium (production build, real IndexedDB, real
// WebGPU on SwiftShader, the real engine): a fresh profile installs the bundled demo model from
// the app's own origin by itself and selects it; a photo of coloured shapes and a question get a
// streamed answer with its stats; asking makes zero network requests of any kind; the answer
// survives a reload; with the network off (after a reload from the service worker) the app still
// answers. Saves the answer screenshots (360 and 1280 px) into docs/screenshots/.
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { demoScenePng } from './support/scene';
import { capAnswers } from './support/settings';
import { waitForServiceWorkerControl } from './support/service-worker';

const shots = 'docs/screenshots';
const DEMO_ID = 'lumen-demo';
const DEMO_LABEL = 'Demo model — understands simple synthetic shapes only; for real photos download SmolVLM';

const fileInput = (page: Page) => page.locator('input[type=file]:not([capture])');
const answers = (page: Page) => page.getByRole('article', { name: 'Lumen' });
const statsLine = /first token [\d.]+ m?s · [\d.]+ tok\/s · [1-9]\d* visual tokens · [1-9]\d* tokens?/;

/** A scene from the demo model's own distribution (e2e/support/scene.ts): red circle, blue square, green triangle. */
const shapesPng = demoScenePng;

/** Every http(s) request of the context: pages, dedicated workers and the service worker. */
function recordRequests(context: BrowserContext): string[] {
  const seen: string[] = [];
  context.on('request', (r) => {
    if (r.url().startsWith('http')) seen.push(`${r.serviceWorker() ? 'sw ' : ''}${r.method()} ${r.url()}`);
  });
  return seen;
}

/** Waits until the demo model installed itself, is selected and is loaded in the engine. */
async function demoReady(page: Page): Promise<void> {
  await expect(page.getByRole('combobox', { name: 'Model' })).toHaveValue(DEMO_ID, { timeout: 120_000 });
  await expect(page.getByRole('button', { name: /^Engine status: google swiftshader, .*last speed/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Engine status: .*(No model|Loading…)/ })).toHaveCount(0, { timeout: 120_000 });
}

/** Records, in the page, when the streaming answer's text grows (ms since the call, text length). */
async function watchGrowth(page: Page): Promise<void> {
  await page.evaluate(() => {
    const t0 = performance.now();
    const log: [number, number][] = [];
    (window as unknown as { growth: [number, number][] }).growth = log;
    const start = document.querySelectorAll('article[aria-label="Lumen"] .md').length;
    new MutationObserver(() => {
      const all = document.querySelectorAll('article[aria-label="Lumen"] .md');
      if (all.length <= start) return; // only the next answer counts
      const len = (all[all.length - 1].textContent ?? '').length;
      if (len > (log.at(-1)?.[1] ?? 0)) log.push([Math.round(performance.now() - t0), len]);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

/** Waits for the last answer to finish; fails with the app's error message if it failed. */
async function finished(page: Page): Promise<void> {
  const answer = answers(page).last();
  await expect(answer).toHaveAttribute('aria-busy', 'false', { timeout: 150_000 });
  const alert = answer.getByRole('alert');
  expect(await alert.count(), `the answer failed: ${await alert.allTextContents()}`).toBe(0);
}

async function ask(page: Page, question: string, photo: Buffer): Promise<void> {
  await fileInput(page).setInputFiles({ name: 'shapes.png', mimeType: 'image/png', buffer: photo });
  await expect(page.getByLabel('Attached photos').getByRole('img', { name: 'shapes.png' })).toBeVisible();
  const input = page.getByRole('textbox', { name: 'Message' });
  await input.fill(question);
  await input.press('Enter');
}

test('a fresh start installs the demo model; a photo question gets a streamed real answer, offline-private, kept after a reload', async ({ page, context }) => {
  test.setTimeout(240_000);
  const requests = recordRequests(context);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/');

  // Installed from the app's own origin without any action, selected, labelled honestly.
  await demoReady(page);
  expect(requests.filter((r) => r.includes(`/models/${DEMO_ID}/model.safetensors`)).length).toBeGreaterThan(0);
  await expect(page.getByRole('note').filter({ hasText: DEMO_LABEL })).toBeVisible();
  await expect(page.getByRole('option', { name: /Lumen demo \(shapes only\)/ })).toHaveCount(1);
  await page.getByRole('button', { name: 'Model library' }).click();
  const card = page.getByTestId(`model-${DEMO_ID}`);
  await expect(card).toHaveAttribute('data-status', 'ready');
  await expect(card).toContainText(DEMO_LABEL);
  await page.keyboard.press('Escape');
  await page.screenshot({ path: `${shots}/empty-demo-1280.png`, animations: 'disabled' });
  const { default: AxeBuilder } = await import('@axe-core/playwright');
  const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), 'axe, demo empty state').toEqual([]);
  await capAnswers(page, 24);

  // Ask about a photo: from the send until the stats line, not one request of any kind.
  const photo = await shapesPng(page);
  await page.waitForLoadState('networkidle');
  const before = requests.length;
  const t0 = Date.now();
  await ask(page, 'What color is the circle?', photo);
  const answer = answers(page).last();
  await expect(answer).toHaveAttribute('aria-busy', 'true');
  await finished(page);
  const total = Date.now() - t0;
  await expect(answer).toContainText(statsLine);
  const text = ((await answer.locator('.md').textContent()) ?? '').trim();
  const stats = (await answer.getByText(statsLine).textContent()) ?? '';
  console.log(`demo answer on SwiftShader: complete after ${total} ms; "${text}" (${stats})`);
  expect(text.length).toBeGreaterThan(0);

  // A description is a longer answer (one to three sentences): its tokens arrive over time.
  await page.getByRole('button', { name: 'New chat' }).click();
  await watchGrowth(page);
  const t1 = Date.now();
  await ask(page, 'Describe the image.', photo);
  await expect(answers(page)).toHaveCount(1);
  await finished(page);
  const follow = answers(page).last();
  await expect(follow).toContainText(/first token [\d.]+ m?s · [\d.]+ tok\/s · /);
  console.log(`description after ${Date.now() - t1} ms: "${(await follow.locator('.md').textContent())?.trim()}" (${await follow.locator('.stats').textContent()})`);
  const growth = await page.evaluate(() => (window as unknown as { growth: [number, number][] }).growth);
  expect(growth.length, `text growth steps ${JSON.stringify(growth)}`).toBeGreaterThan(2);
  expect(growth.at(-1)![0]).toBeGreaterThan(growth[0][0]);
  expect(requests.slice(before), 'asking and answering made network requests').toEqual([]);
  await expect(page.getByRole('button', { name: /^Engine status: .*last speed [\d.]+ tok\/s/ })).toBeVisible();
  await page.screenshot({ path: `${shots}/answer-1280.png`, animations: 'disabled' });

  // After a reload the conversation and its answer come back from IndexedDB.
  await page.reload();
  await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: 'What color is the circle?', exact: true }).click();
  await expect(page.getByRole('article', { name: 'You' })).toContainText('What color is the circle?');
  await expect(page.getByRole('article', { name: 'You' }).getByRole('img')).toBeVisible();
  await expect(answers(page)).toHaveCount(1);
  await expect(answers(page).locator('.md')).toHaveText(text);
  await expect(answers(page)).toContainText(stats);
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 360, height: 780 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });

  test('offline: with the demo installed, a reload with the network off still answers a photo question', async ({ page, context }) => {
    test.setTimeout(240_000);
    await page.goto('/');
    await waitForServiceWorkerControl(page);
    await demoReady(page);
    await expect(page.getByRole('note').filter({ hasText: DEMO_LABEL })).toBeVisible();
    await page.screenshot({ path: `${shots}/empty-demo-360.png`, animations: 'disabled' });
    await capAnswers(page, 24);

    await context.setOffline(true);
    await page.reload();
    await demoReady(page);
    const t0 = Date.now();
    await ask(page, 'How many shapes are there?', await shapesPng(page));
    const answer = answers(page).last();
    await finished(page);
    await expect(answer).toContainText(statsLine);
    console.log(`offline demo answer after ${Date.now() - t0} ms: "${(await answer.locator('.md').textContent())?.trim()}"`);
    expect(((await answer.locator('.md').textContent()) ?? '').trim().length).toBeGreaterThan(0);
    await page.screenshot({ path: `${shots}/answer-360.png`, animations: 'disabled' });
  });
});
