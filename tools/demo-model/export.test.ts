// Checks the shipped demo model folder (public/models/lumen-demo) the way the app will read it:
// @huggingface/transformers loads its tokenizer, chat template and Idefics3 processor and must
// reproduce, on the same image, the prompt, input_ids and pixel_values that Python's
// transformers produced on the training host (tools/demo-model/fixtures/reference.json, written
// by dump_reference.py). Also checks the file layout, config consistency, safetensors headers
// (model and PPD prompt embeddings) and the < 10 MB budget.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AutoProcessor, RawImage, env } from '@huggingface/transformers';

const here = dirname(fileURLToPath(import.meta.url));
const modelsDir = resolve(here, '../../public/models');
const modelDir = join(modelsDir, 'lumen-demo');
const fixtures = join(here, 'fixtures');

interface Reference {
  question: string;
  prompt: string;
  input_ids: number[];
  pixel_values_shape: number[];
  pixel_values_tile_means: number[];
  generated_ids: number[];
  generated_text: string;
}

interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** safetensors header: u64 little-endian length, then JSON {name: {dtype, shape, data_offsets}}. */
function safetensorsHeader(path: string): Record<string, TensorInfo> {
  const buf = readFileSync(path);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<string, TensorInfo | object>;
  delete header.__metadata__;
  return header as Record<string, TensorInfo>;
}

describe('lumen-demo export', () => {
  const config = readJson<Record<string, any>>(join(modelDir, 'config.json'));
  const ref = readJson<Reference>(join(fixtures, 'reference.json'));

  it('has the SmolVLM repository layout and fits the size budget', () => {
    const files = readdirSync(modelDir);
    for (const f of [
      'config.json', 'model.safetensors', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json',
      'special_tokens_map.json', 'processor_config.json', 'preprocessor_config.json', 'chat_template.json',
    ]) {
      expect(files).toContain(f);
    }
    const total = files.reduce((sum, f) => sum + statSync(join(modelDir, f)).size, 0);
    expect(total).toBeLessThan(10 * 1024 * 1024);
    expect(config.model_type).toBe('idefics3');
    expect(config.architectures).toEqual(['Idefics3ForConditionalGeneration']);
  });

  it('has configs that agree with each other and with the weights', () => {
    const pre = readJson<Record<string, any>>(join(modelDir, 'preprocessor_config.json'));
    const proc = readJson<Record<string, any>>(join(modelDir, 'processor_config.json'));
    const vision = config.vision_config;
    const text = config.text_config;
    expect(pre.image_processor_type).toBe('Idefics3ImageProcessor');
    expect(pre.do_image_splitting).toBe(true);
    expect(pre.max_image_size.longest_edge).toBe(vision.image_size);
    expect(pre.size.longest_edge % vision.image_size).toBe(0);
    expect(proc.image_seq_len).toBe((vision.image_size / vision.patch_size) ** 2 / config.scale_factor ** 2);

    const tensors = safetensorsHeader(join(modelDir, 'model.safetensors'));
    const shape = (name: string): number[] => {
      expect(tensors[name], name).toBeDefined();
      return tensors[name].shape;
    };
    expect(shape('lm_head.weight')).toEqual([text.vocab_size, text.hidden_size]);
    expect(shape('model.text_model.embed_tokens.weight')).toEqual([text.vocab_size, text.hidden_size]);
    expect(shape('model.connector.modality_projection.proj.weight')).toEqual([
      text.hidden_size, vision.hidden_size * config.scale_factor ** 2,
    ]);
    expect(shape('model.vision_model.embeddings.patch_embedding.weight')).toEqual([
      vision.hidden_size, 3, vision.patch_size, vision.patch_size,
    ]);
    const layers = Object.keys(tensors).filter((k) => /text_model\.layers\.\d+\.self_attn\.q_proj\.weight$/.test(k));
    expect(layers.length).toBe(text.num_hidden_layers);
    for (const info of Object.values(tensors)) expect(info.dtype).toBe('F16');

    // PPD prompt embeddings are optional (catalogue.json); when shipped they must fit the model.
    if (existsSync(join(modelDir, 'ppd.safetensors'))) {
      const ppd = safetensorsHeader(join(modelDir, 'ppd.safetensors'));
      expect(ppd.prompt_embeddings.shape).toEqual([3, text.hidden_size]);
      expect(ppd.prompt_embeddings.dtype).toBe('F32');
    }
  });

  it('loads in @huggingface/transformers and matches the Python processor on the reference image', async () => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${modelsDir}/`;
    const processor = await AutoProcessor.from_pretrained('lumen-demo');
    expect(processor.constructor.name).toBe('Idefics3Processor');
    const tokenizer = processor.tokenizer!;
    expect(tokenizer.convert_tokens_to_ids('<image>')).toBe(config.image_token_id);
    const generation = readJson<Record<string, any>>(join(modelDir, 'generation_config.json'));
    expect(tokenizer.convert_tokens_to_ids('<end_of_utterance>')).toBe(generation.eos_token_id);

    const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: ref.question }] }];
    const prompt = processor.apply_chat_template(messages as never, { add_generation_prompt: true, tokenize: false });
    expect(prompt).toBe(ref.prompt);

    const image = await RawImage.read(join(fixtures, 'sample.png'));
    const inputs = await processor(prompt, image);
    expect(Array.from(inputs.input_ids.data as BigInt64Array, Number)).toEqual(ref.input_ids);
    const pv = inputs.pixel_values;
    expect(pv.dims).toEqual(ref.pixel_values_shape);
    const [, tiles, c, h, w] = pv.dims as number[];
    const size = c * h * w;
    const data = pv.data as Float32Array;
    for (let t = 0; t < tiles; t++) {
      let sum = 0;
      for (let j = t * size; j < (t + 1) * size; j++) sum += data[j];
      expect(Math.abs(sum / size - ref.pixel_values_tile_means[t])).toBeLessThan(2e-3);
    }
    const decoded = tokenizer.decode(ref.generated_ids, { skip_special_tokens: true }).trim();
    expect(decoded).toBe(ref.generated_text);
  });
});
