// Typed access to the model catalogue (catalogue.json): validates each entry's shape once, so a
// malformed edit of the JSON fails loudly at startup (and in the unit test) instead of midway
// through a download.
import type { CatalogueEntry } from '../protocol/library';
import { ModelFormatError } from '../protocol/errors';

const QUANTS = new Set(['q4', 'q8', 'f32']);

export function parseCatalogue(json: unknown): CatalogueEntry[] {
  const models = (json as { models?: unknown })?.models;
  if (!Array.isArray(models)) throw new ModelFormatError('catalogue.json: expected {"models": [...]}');
  const ids = new Set<string>();
  return models.map((m: CatalogueEntry, i) => {
    const where = `catalogue.json models[${i}]`;
    const bad = (what: string) => new ModelFormatError(`${where}: ${what}`);
    if (typeof m.id !== 'string' || !/^[a-z0-9][a-z0-9.-]*$/.test(m.id)) throw bad('id must be lowercase letters, digits, dots, dashes');
    if (ids.has(m.id)) throw bad(`duplicate id ${m.id}`);
    ids.add(m.id);
    if (typeof m.name !== 'string' || typeof m.description !== 'string') throw bad('name and description are required');
    if (!QUANTS.has(m.quantization)) throw bad(`unknown quantization ${String(m.quantization)}`);
    if (!(m.approxDownloadBytes > 0) || !(m.approxInstalledBytes > 0)) throw bad('approximate sizes must be positive');
    if (!Array.isArray(m.files) || !m.files.some((f) => f.path === 'config.json')) throw bad('files must include config.json');
    if (m.source?.kind === 'hub') {
      if (m.bundled) throw bad('a hub entry cannot be bundled');
      if (!/^[\w.-]+\/[\w.-]+$/.test(m.source.repo)) throw bad('source.repo must be "org/name"');
      if (!/^[0-9a-f]{40}$/.test(m.source.revision)) throw bad('source.revision must be a pinned 40-hex commit');
    } else if (m.source?.kind === 'bundled') {
      if (!m.bundled) throw bad('a bundled source needs "bundled": true');
    } else {
      throw bad('source.kind must be "hub" or "bundled"');
    }
    return m;
  });
}
