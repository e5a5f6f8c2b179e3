// What a download needs: the remaining bytes plus the converted copy.
import { describe, expect, it } from 'vitest';
import { bytesNeeded } from './download-quota';
import type { CatalogueEntry } from '../protocol/library';

const entry = { approxDownloadBytes: 1000, approxInstalledBytes: 400 } as CatalogueEntry;

describe('quota planning', () => {
  it('needs what is left to download plus the installed copy, scaled to the real size', () => {
    expect(bytesNeeded(entry, 10_000, 0)).toBe(10_000 + 4_000);
    expect(bytesNeeded(entry, 10_000, 7_500)).toBe(2_500 + 4_000);
    expect(bytesNeeded(entry, 10_000, 10_000)).toBe(4_000);
  });
});
