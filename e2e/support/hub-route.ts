// Routes the browser context's requests for the Hugging Face hosts (huggingface.co and its CDN
// hosts) to the local hub-like server, keeping the real URLs in the page (the app's CSP allows
// only those hosts). Redirects are passed to the browser unfollowed, so it follows them itself;
// a connection the server drops becomes a connection reset in the browser. Requests made by
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
    try {
      const response = await route.fetch({ url: `${hub.url}/${u.host}${u.pathname}${u.search}`, maxRedirects: 0 });
      await route.fulfill({ response });
    } catch {
      // The server dropped the connection (injected), or the page went away meanwhile.
      await route.abort('connectionreset').catch(() => {});
    }
  });
  return seen;
}
