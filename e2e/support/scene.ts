// Synthetic photos drawn by the browser (OffscreenCanvas -> PNG bytes): flat shapes on a white
// background, like the demo model's training scenes. Shared by the specs that ask the engine about
// a photo: `await scenePng(page, 1024, 768, [{ kind: 'circle', x: 260, y: 250, r: 110, color: '#e02020' }])`.
import type { Page } from '@playwright/test';

export type SceneShape =
  | { kind: 'circle'; x: number; y: number; r: number; color: string }
  | { kind: 'square'; x: number; y: number; size: number; color: string }
  | { kind: 'polygon'; points: Array<[number, number]>; color: string };

export async function scenePng(page: Page, width: number, height: number, shapes: SceneShape[]): Promise<Buffer> {
  const bytes = await page.evaluate(
    async ({ width, height, shapes }) => {
      const c = new OffscreenCanvas(width, height);
      const g = c.getContext('2d')!;
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, width, height);
      for (const s of shapes) {
        g.fillStyle = s.color;
        if (s.kind === 'square') {
          g.fillRect(s.x, s.y, s.size, s.size);
          continue;
        }
        g.beginPath();
        if (s.kind === 'circle') g.arc(s.x, s.y, s.r, 0, Math.PI * 2);
        else s.points.forEach(([x, y], i) => (i === 0 ? g.moveTo(x, y) : g.lineTo(x, y)));
        g.closePath();
        g.fill();
      }
      return Array.from(new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer()));
    },
    { width, height, shapes },
  );
  return Buffer.from(bytes);
}
