// Writes a SmolVLM-shaped model repository with random weights for the photo benchmark: config.json,
// model.safetensors in BF16 (as the hub ships it; tensor names and shapes from the engine's own
// plan of the config, workers/storage/fixtures.ts), the byte-level parity tokenizer and chat
// template (tools/parity/fixtures/tiny-idefics3), and SmolVLM's processor files with the shape's
// sizes. Streams one tensor at a time, so a 500M model never sits whole in memory. Values are
// uniform in ±1/sqrt(fan-in) (norms near 1): timing does not depend on them, but activations stay finite.
import { copyFile, mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modelTensorSpecs } from '../../workers/storage/fixtures';
import { encodeTensor, safetensorsHeader, type TensorEntry } from '../../workers/storage/safetensors-writer';
import { rng } from './random-model';
import { preprocessorConfig, type VlmShape } from './vlm-shapes';

/** Tokenizer files shared with the parity fixture (ids: <image> = 257, <end_of_utterance> = 259). */
export const TOKENIZER_DIR = 'tools/parity/fixtures/tiny-idefics3';

/** Writes the repository into dir; returns model.safetensors' size in bytes. */
export async function writeRandomVlm(dir: string, shape: VlmShape, seed = 1): Promise<number> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(shape.config, null, 2));
  await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify(preprocessorConfig(shape), null, 2));
  await writeFile(join(dir, 'processor_config.json'), JSON.stringify({ image_seq_len: shape.imageSeqLen, processor_class: 'Idefics3Processor' }));
  await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 259 }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(TOKENIZER_DIR, f), join(dir, f));
  const specs = modelTensorSpecs(shape.config);
  const entries: TensorEntry[] = specs.map((s) => ({ name: s.name, dtype: 'BF16', shape: s.shape }));
  const { header, dataBytes } = safetensorsHeader(entries, { format: 'pt' });
  const fh = await open(join(dir, 'model.safetensors'), 'w');
  const r = rng(seed);
  try {
    await fh.write(header);
    for (const [i, e] of entries.entries()) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (specs[i].norm) for (let k = 0; k < n; k++) data[k] = 1 + 0.1 * r();
      else if (e.shape.length === 1) for (let k = 0; k < n; k++) data[k] = 0.05 * r();
      else {
        const amp = 1 / Math.sqrt(e.shape.slice(1).reduce((a, b) => a * b, 1));
        for (let k = 0; k < n; k++) data[k] = amp * r();
      }
      await fh.write(encodeTensor({ ...e, data }));
    }
  } finally {
    await fh.close();
  }
  return header.byteLength + dataBytes;
}
