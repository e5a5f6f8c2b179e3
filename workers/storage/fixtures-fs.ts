// Node-only: writes a synthetic model directory (config.json + model.safetensors of seeded
// random weights, the same bytes fixtures.ts builds in memory) tensor by tensor, so models of
// real sizes (SmolLM2-360M, Qwen2-0.5B shapes) can be made for the benchmark with bounded
// memory. Never imported by browser code.
import { open, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modelTensorSpecs, specValues } from './fixtures';
import type { FixtureOptions } from './fixtures';
import { encodeTensor, safetensorsHeader } from './safetensors-writer';
import type { WritableDtype } from './safetensors-writer';

/** Writes `dir`/config.json and `dir`/model.safetensors; returns the safetensors size in bytes. */
export async function writeModelDir(dir: string, config: Record<string, unknown>, dtype: WritableDtype = 'BF16', opts: FixtureOptions = {}): Promise<number> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const specs = modelTensorSpecs(config, opts);
  const { header, dataBytes } = safetensorsHeader(specs.map((s) => ({ name: s.name, dtype, shape: s.shape })));
  const fh = await open(join(dir, 'model.safetensors'), 'w');
  try {
    await fh.write(header);
    for (const s of specs) await fh.write(encodeTensor({ name: s.name, dtype, shape: s.shape, data: specValues(s, opts.exact) }));
  } finally {
    await fh.close();
  }
  return header.byteLength + dataBytes;
}
