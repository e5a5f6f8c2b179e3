// Service-worker helpers for e2e specs: wait until the app's service worker controls the page
// (registration happens after the window's load event, the first install precaches the shell and
// then claims the page), and read the registration's state for assertions.
import type { Page } from '@playwright/test';

/** Resolves once a service worker controls `page` (first visit: after install + clients.claim). */
export async function waitForServiceWorkerControl(page: Page, timeout = 60_000): Promise<void> {
  await page.waitForFunction(() => navigator.serviceWorker.controller?.state === 'activated', undefined, {
    timeout,
    polling: 100,
  });
}

export interface RegistrationState {
  active: string | null;
  waiting: string | null;
  installing: string | null;
  controlled: boolean;
}

/** Script URLs of the root registration's workers and whether the page is controlled. */
export function registrationState(page: Page): Promise<RegistrationState> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration('/');
    return {
      active: registration?.active?.scriptURL ?? null,
      waiting: registration?.waiting?.scriptURL ?? null,
      installing: registration?.installing?.scriptURL ?? null,
      controlled: navigator.serviceWorker.controller !== null,
    };
  });
}
