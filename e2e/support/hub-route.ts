// Routes the browser context's requests for the Hugging Face hosts (huggingface.co and its CDN
// hosts) to the local hub-like server, keeping the real URLs in the page (the app's CSP allows
// only those hosts). The server answers LFS files with a 302 to the CDN host like the hub does;
// Chromium does not route the request that follows a redirect fulfilled by Playwright (it went to
// the real, unreachable host), so this handler follows hub->CDN redirects itself through the
// local server, keeping the Range header. A connection the server drops becomes a reset. Requests made by
// dedicated workers go through context.route as well in Chromium: the app downloads only from its
// storage worker and the real hosts are unreachable here, so a passing download proves it.
import type { BrowserContext } from '@playwright/test';
import type { HubServer } from './hub-server';

export const HUB_HOSTS = /^https:\/\/(huggingface\.co|[a-z0-9-]+\.huggingface\.co|[a-z0-9-]+\.hf\.co|cas-bridge\.xethub\.hf\.co)\//;

export async function routeHub(context: BrowserContext, hub: HubServer): Promise<string[]> {
  const seen: string[] = [];
  await context.route(HUB_HOSTS, async (route) => {
    const request = route.request();
    const u = new URL(request.url());
    seen.push(`${request.method()} ${request.url()}`);
    const local = (url: URL) => `${hub.url}/${url.host}${url.pathname}${url.search}`;
    try {
      let response = await route.fetch({ url: local(u), maxRedirects: 0 });
      for (let hop = 0; hop < 5 && [301, 302, 303, 307, 308].includes(response.status()); hop++) {
        const next = new URL(response.headers()['location'] ?? '', u);
        if (!HUB_HOSTS.test(next.href)) break;
        seen.push(`${request.method()} ${next.href} (redirect)`);
        response = await route.fetch({ url: local(next), maxRedirects: 0 });
      }
      await route.fulfill({ response });
    } catch {
      // The server dropped the connection (injected), or the page went away meanwhile.
      await route.abort('connectionreset').catch(() => {});
    }
  });
  return seen;
}
