// A hub repository for the SmolVLM e2e (e2e/vlm.spec.ts) made of the embedded demo model's files
// (public/models/lumen-demo): a real Idefics3 model in SmolVLM's repository layout and formats
// (config.json, safetensors weights served as an LFS file, tokenizer, chat template, processor
// configs), published under a SmolVLM catalogue entry's repo and revision. `edit` may change
// files first (e.g. a config.json that disagrees with the weights).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubFile, type HubRepo } from './hub-server';

const DEMO_DIR = fileURLToPath(new URL('../../public/models/lumen-demo', import.meta.url));

/** The demo model's files by path (ppd.safetensors left out: SmolVLM repos have none). */
export function demoModelFiles(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(DEMO_DIR).sort()) if (f !== 'ppd.safetensors') out.set(f, readFileSync(join(DEMO_DIR, f)));
  return out;
}

export function vlmHubRepo(repo: string, revision: string, edit?: (files: Map<string, Buffer>) => void): HubRepo {
  const files = demoModelFiles();
  edit?.(files);
  return { repo, revision, files: [...files].map(([path, bytes]) => hubFile(path, bytes, path.endsWith('.safetensors'))) };
}
