// Synthetic photos drawn by the browser (OffscreenCanvas -> PNG bytes): flat shapes on a plain
// background. Shared by the specs that ask the engine about a photo:
// `await scenePng(page, 1024, 768, [{ kind: 'circle', x: 260, y: 250, r: 110, color: '#e02020' }])`.
// `trainingShape` draws a shape exactly as the demo model's training scenes do
// (tools/demo-model/scenes.py: same polygons, colours and sizes as a share of the canvas width), so
// `demoScenePng` is a photo from the model's own distribution and its answers show what it can do.
import type { Page } from '@playwright/test';

export type SceneShape =
  | { kind: 'circle'; x: number; y: number; r: number; color: string }
  | { kind: 'square'; x: number; y: number; size: number; color: string }
  | { kind: 'polygon'; points: Array<[number, number]>; color: string };

/** The training colours of tools/demo-model/scenes.py (COLORS). */
export const TRAINING_COLORS = {
  red: 'rgb(215,35,35)',
  green: 'rgb(35,160,60)',
  blue: 'rgb(35,75,215)',
  yellow: 'rgb(235,195,20)',
  orange: 'rgb(245,125,20)',
  purple: 'rgb(135,55,185)',
  black: 'rgb(25,25,25)',
} as const;

/** Diameter as a share of the canvas width (scenes.py SIZES). */
export const TRAINING_SIZES = { small: 0.025, medium: 0.04, large: 0.06 } as const;

export type TrainingKind = 'circle' | 'square' | 'triangle' | 'star' | 'hexagon' | 'diamond' | 'cross';

/** One shape as scenes.py draws it (rotation 0), centred at (x, y) px on a canvas `width` px wide. */
export function trainingShape(
  kind: TrainingKind,
  color: keyof typeof TRAINING_COLORS,
  size: keyof typeof TRAINING_SIZES,
  x: number,
  y: number,
  width: number,
): SceneShape {
  const r = (TRAINING_SIZES[size] * width) / 2;
  const fill = TRAINING_COLORS[color];
  const ring = (n: number, rr: number, off: number): Array<[number, number]> =>
    Array.from({ length: n }, (_, i) => [x + rr * Math.cos(off + (2 * Math.PI * i) / n), y + rr * Math.sin(off + (2 * Math.PI * i) / n)]);
  switch (kind) {
    case 'circle':
      return { kind: 'circle', x, y, r, color: fill };
    case 'square':
      return { kind: 'polygon', points: ring(4, r, Math.PI / 4), color: fill };
    case 'triangle':
      return { kind: 'polygon', points: ring(3, r * 1.1, -Math.PI / 2), color: fill };
    case 'hexagon':
      return { kind: 'polygon', points: ring(6, r, 0), color: fill };
    case 'diamond':
      return { kind: 'polygon', points: [[x, y - r], [x + r * 0.7, y], [x, y + r], [x - r * 0.7, y]], color: fill };
    case 'star': {
      const points = Array.from({ length: 10 }, (_, i): [number, number] => {
        const rr = r * (i % 2 === 0 ? 1.05 : 0.45);
        const a = -Math.PI / 2 + (Math.PI * i) / 5;
        return [x + rr * Math.cos(a), y + rr * Math.sin(a)];
      });
      return { kind: 'polygon', points, color: fill };
    }
    case 'cross': {
      const a = r * 0.95;
      const b = r * 0.32;
      const pts: Array<[number, number]> = [
        [-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a], [-b, b], [-a, b], [-a, -b], [-b, -b],
      ];
      return { kind: 'polygon', points: pts.map(([dx, dy]) => [x + dx, y + dy]), color: fill };
    }
  }
}

/**
 * A 1536x1024 scene from the demo model's training distribution (white background, shapes 2.5-6 %
 * of the width, each centred well inside its own cell of the 3x3 grid): a large red circle at the
 * top left, a medium blue square on the right, a large green triangle at the bottom.
 */
export function demoScenePng(page: Page): Promise<Buffer> {
  const w = 1536;
  return scenePng(
    page,
    w,
    1024,
    [
      trainingShape('circle', 'red', 'large', 260, 170, w),
      trainingShape('square', 'blue', 'medium', 1290, 520, w),
      trainingShape('triangle', 'green', 'large', 760, 860, w),
    ],
    'rgb(248,248,246)',
  );
}

export async function scenePng(
  page: Page,
  width: number,
  height: number,
  shapes: SceneShape[],
  background = '#ffffff',
): Promise<Buffer> {
  const bytes = await page.evaluate(
    async ({ width, height, shapes, background }) => {
      const c = new OffscreenCanvas(width, height);
      const g = c.getContext('2d')!;
      g.fillStyle = background;
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
    { width, height, shapes, background },
  );
  return Buffer.from(bytes);
}
