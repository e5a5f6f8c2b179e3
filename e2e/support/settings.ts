// The app's own settings, driven like a user would (Engine status panel), shared by specs that
// ask the real engine questions.
import { expect, type Page } from '@playwright/test';

/** Caps answers through the app's own "Longest answer" setting (keeps SwiftShader runs short). */
export async function capAnswers(page: Page, tokens: number): Promise<void> {
  await page.getByRole('button', { name: /^Engine status/ }).click();
  const field = page.getByRole('spinbutton', { name: 'Longest answer (tokens)' });
  await field.fill(String(tokens));
  await field.press('Enter');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('region', { name: 'Engine details' })).toBeHidden();
}
