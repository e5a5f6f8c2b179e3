// The shipped catalogue parses, pins hub revisions, and lists the files a SmolVLM install needs.
import { describe, expect, it } from 'vitest';
import json from './catalogue.json';
import { parseCatalogue } from './catalogue';
import { resolveUrl, treeUrl } from './download-source';

describe('catalogue.json', () => {
  const entries = parseCatalogue(json);

  it('has both SmolVLM models pinned to a commit and the demo labelled', () => {
    const ids = entries.map((e) => e.id);
    expect(ids).toContain('smolvlm-256m-instruct');
    expect(ids).toContain('smolvlm-500m-instruct');
    for (const e of entries.filter((x) => x.source.kind === 'hub')) {
      expect(e.source.kind === 'hub' && /^[0-9a-f]{40}$/.test(e.source.revision)).toBe(true);
      const required = e.files.filter((f) => !f.optional).map((f) => f.path);
      expect(required).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
    }
    for (const e of entries.filter((x) => x.bundled)) expect(e.demo).toBe(true);
  });

  it('builds hub and bundled URLs', () => {
    const hub = entries.find((e) => e.id === 'smolvlm-256m-instruct')!;
    expect(resolveUrl(hub, 'model.safetensors', 'http://x')).toBe(
      'https://huggingface.co/HuggingFaceTB/SmolVLM-256M-Instruct/resolve/7e3e67edbbed1bf9888184d9df282b700a323964/model.safetensors',
    );
    expect(treeUrl('a/b', 'c')).toBe('https://huggingface.co/api/models/a/b/tree/c');
    const demo = entries.find((e) => e.bundled)!;
    expect(resolveUrl(demo, 'config.json', 'http://localhost:4173')).toBe('http://localhost:4173/models/lumen-demo/config.json');
  });

  it('rejects malformed entries', () => {
    const bad = structuredClone(json) as { models: Record<string, unknown>[] };
    bad.models[0].source = { kind: 'hub', repo: 'HuggingFaceTB/SmolVLM-256M-Instruct', revision: 'main' };
    expect(() => parseCatalogue(bad)).toThrow(/pinned/);
    expect(() => parseCatalogue({})).toThrow(/models/);
  });
});
