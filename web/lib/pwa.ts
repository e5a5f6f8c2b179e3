// PWA shell on the page side: registers the service worker (web/sw.ts, built to /sw.js) through
// workbox-window, exposes whether an updated version is waiting as reactive state (readable from
// runes: `pwa.updateWaiting` re-runs effects/deriveds when it changes), applies the update on
// request (the waiting worker skips waiting, then the page reloads under it), and surfaces a
// share the service worker could not accept (/?share-error=<message>).
// File Handling launches (manifest `file_handlers`) are consumed by web/state/inbox.ts.
import { createSubscriber } from 'svelte/reactivity';
import { Workbox } from 'workbox-window';

const SW_URL = '/sw.js';
const UPDATE_CHECK_INTERVAL_MS = 60 * 60 * 1000;
const ACTIVATION_TIMEOUT_MS = 10_000;

class PwaState {
  #updateWaiting = false;
  #registered = false;
  #error: string | undefined;
  #shareError: string | undefined;
  #workbox: Workbox | undefined;
  #listeners = new Set<() => void>();
  #subscribe = createSubscriber((update) => {
    this.#listeners.add(update);
    return () => this.#listeners.delete(update);
  });

  /** True while a newer service worker is installed and waiting for this page to accept it. */
  get updateWaiting(): boolean {
    this.#subscribe();
    return this.#updateWaiting;
  }

  /** True once the service worker is registered (the app will then work offline). */
  get registered(): boolean {
    this.#subscribe();
    return this.#registered;
  }

  /** Why registration failed, if it did (the app still runs, only without offline support). */
  get error(): string | undefined {
    this.#subscribe();
    return this.#error;
  }

  /** A share the service worker could not accept (from /?share-error=…), until dismissed. */
  get shareError(): string | undefined {
    this.#subscribe();
    return this.#shareError;
  }

  dismissShareError(): void {
    this.#shareError = undefined;
    this.#notify();
  }

  /** Picks up a failed share's message from the URL and removes it, so a reload won't repeat it. */
  readShareError(): void {
    const url = new URL(location.href);
    const message = url.searchParams.get('share-error');
    if (message === null) return;
    url.searchParams.delete('share-error');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    this.#shareError = message.slice(0, 500);
    this.#notify();
  }

  /** Registers the service worker once per page; later calls do nothing. Production builds only. */
  register(): void {
    if (this.#workbox || !import.meta.env.PROD || !('serviceWorker' in navigator)) return;
    const wb = new Workbox(SW_URL, { scope: '/' });
    this.#workbox = wb;
    // Fires for a worker found by this page, by another tab, or already waiting at load.
    wb.addEventListener('waiting', () => this.#set({ updateWaiting: true }));
    wb.register().then(
      (registration) => {
        this.#set({ registered: registration !== undefined });
        if (registration) watchForUpdates(registration);
      },
      (error: unknown) => this.#set({ error: error instanceof Error ? error.message : String(error) }),
    );
  }

  /**
   * Switches to the waiting version: asks it to skip waiting and reloads once it controls the
   * page. If another tab already switched (nothing is waiting any more), just reloads.
   */
  async applyUpdate(): Promise<void> {
    const registration = await navigator.serviceWorker?.getRegistration('/');
    const waiting = registration?.waiting;
    if (!this.#workbox || !waiting) {
      location.reload();
      return;
    }
    navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
    this.#workbox.messageSkipWaiting();
    // If the new worker never takes over (it failed to activate), reload anyway: the page then
    // runs on whichever version is active, and the prompt comes back if one is still waiting.
    setTimeout(() => location.reload(), ACTIVATION_TIMEOUT_MS);
  }

  /** Hides the prompt until the next new version shows up. */
  dismissUpdate(): void {
    this.#set({ updateWaiting: false });
  }

  #set(change: { updateWaiting?: boolean; registered?: boolean; error?: string }): void {
    if (change.updateWaiting !== undefined) this.#updateWaiting = change.updateWaiting;
    if (change.registered !== undefined) this.#registered = change.registered;
    if (change.error !== undefined) this.#error = change.error;
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }
}

/** Checks for a new deployment hourly and whenever the app comes back to the foreground. */
function watchForUpdates(registration: ServiceWorkerRegistration): void {
  const check = () => {
    if (navigator.onLine) registration.update().catch(() => {}); // offline or server down: try later
  };
  setInterval(check, UPDATE_CHECK_INTERVAL_MS);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') check();
  });
}

export const pwa = new PwaState();
