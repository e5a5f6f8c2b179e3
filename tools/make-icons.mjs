// Renders the PWA icons in public/icons/ from their SVG sources (icon.svg: purpose "any",
// rounded; icon-maskable.svg: full-bleed, mark in the safe zone). Run once after editing the
// SVGs and commit the PNGs: `node tools/make-icons.mjs`. Uses sharp (librsvg), which
// @huggingface/transformers already installs; ImageMagick's built-in SVG renderer drops gradients.
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const dir = fileURLToPath(new URL('../public/icons/', import.meta.url));

/** [source svg, output png, edge in px] */
const outputs = [
  ['icon.svg', 'icon-192.png', 192],
  ['icon.svg', 'icon-512.png', 512],
  ['icon-maskable.svg', 'icon-maskable-192.png', 192],
  ['icon-maskable.svg', 'icon-maskable-512.png', 512],
  ['icon-maskable.svg', 'apple-touch-icon.png', 180], // iOS rounds the corners itself
];

for (const [source, output, edge] of outputs) {
  await sharp(dir + source, { density: Math.ceil((72 * edge) / 512) * 2 })
    .resize(edge, edge)
    .png({ compressionLevel: 9, palette: false })
    .toFile(dir + output);
  console.log(`${output}: ${edge}x${edge}`);
}
