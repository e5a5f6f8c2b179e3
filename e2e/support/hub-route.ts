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

/**
 * Serves `files` as the app's own /models/<id>/ folder (where the embedded demo model ships), with
 * HEAD and Range support like a static host; used before the real demo model is in public/.
 */
export async function routeBundled(context: BrowserContext, appOrigin: string, modelId: string, files: Map<string, Buffer>): Promise<string[]> {
  const seen: string[] = [];
  await context.route(`${appOrigin}/models/${modelId}/**`, async (route) => {
    const request = route.request();
    const path = decodeURIComponent(new URL(request.url()).pathname.slice(`/models/${modelId}/`.length));
    const bytes = files.get(path);
    seen.push(`${request.method()} ${path} ${request.headers()['range'] ?? ''}`.trim());
    if (!bytes) return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
    const m = /^bytes=(\d+)-(\d*)$/.exec(request.headers()['range'] ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]), bytes.length - 1) : bytes.length - 1;
    const headers: Record<string, string> = { 'Content-Length': String(end - start + 1), 'Accept-Ranges': 'bytes' };
    if (m) headers['Content-Range'] = `bytes ${start}-${end}/${bytes.length}`;
    await route.fulfill({
      status: m ? 206 : 200,
      contentType: 'application/octet-stream',
      headers,
      body: request.method() === 'HEAD' ? '' : bytes.subarray(start, end + 1),
    });
  });
  return seen;
}
