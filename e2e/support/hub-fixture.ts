// Fixture repository for the library specs, generated at test time (nothing large is committed):
// a tiny Idefics3 model in the layout of a SmolVLM repo, with a multi-chunk model.safetensors
// (a wide vocabulary makes it ~9 MB: three 4 MiB download chunks) served as an LFS file, and
// small JSON files served directly (verified by their git blob id).
import { modelFiles, tinyIdefics3Config, tinyLlamaConfig } from '../../workers/storage/fixtures';
import { hubFile, type HubRepo } from './hub-server';

export const FIXTURE_REPO = 'HuggingFaceTB/SmolVLM-256M-Instruct';
export const FIXTURE_MODEL_ID = 'smolvlm-256m-instruct';
export const FIXTURE_MODEL_NAME = 'SmolVLM 256M Instruct';

/** The SmolVLM-500M entry, served with weights the file list claims are 50 TB (larger than any quota). */
export const HUGE_REPO = 'HuggingFaceTB/SmolVLM-500M-Instruct';
export const HUGE_MODEL_ID = 'smolvlm-500m-instruct';
export const HUGE_MODEL_NAME = 'SmolVLM 500M Instruct';
export const HUGE_BYTES = 50e12;

export function hugeRepo(revision: string): HubRepo {
  const r = fixtureRepo(revision, HUGE_REPO);
  for (const f of r.files) if (f.path === 'model.safetensors') f.listedSize = HUGE_BYTES;
  return r;
}

export function fixtureRepo(revision: string, repo = FIXTURE_REPO): HubRepo {
  const base = tinyIdefics3Config();
  const config = { ...base, text_config: tinyLlamaConfig({ tie_word_embeddings: true, vocab_size: 36_000 }) };
  const files = modelFiles(config, 'F32');
  const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 2));
  return {
    repo,
    revision,
    files: [
      hubFile('config.json', Buffer.from(files['config.json']), false),
      hubFile('generation_config.json', json({ bos_token_id: 1, eos_token_id: 2 }), false),
      hubFile('tokenizer.json', json({ version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] } }), false),
      hubFile('tokenizer_config.json', json({ model_max_length: 256 }), false),
      hubFile('preprocessor_config.json', json({ image_processor_type: 'Idefics3ImageProcessor' }), false),
      hubFile('model.safetensors', Buffer.from(files['model.safetensors']), true),
      hubFile('README.md', Buffer.from('# fixture\n'), false),
    ],
  };
}
