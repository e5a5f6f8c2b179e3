// What a download needs (remaining bytes + the converted copy) and how sizes read in messages.
import { describe, expect, it } from 'vitest';
import { bytesNeeded, formatBytes } from './download-quota';
import type { CatalogueEntry } from '../protocol/library';

const entry = { approxDownloadBytes: 1000, approxInstalledBytes: 400 } as CatalogueEntry;

describe('quota planning', () => {
  it('needs what is left to download plus the installed copy, scaled to the real size', () => {
    expect(bytesNeeded(entry, 10_000, 0)).toBe(10_000 + 4_000);
    expect(bytesNeeded(entry, 10_000, 7_500)).toBe(2_500 + 4_000);
    expect(bytesNeeded(entry, 10_000, 10_000)).toBe(4_000);
  });

  it('formats sizes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999.4)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(517_000_000)).toBe('517 MB');
    expect(formatBytes(1_020_000_000)).toBe('1.0 GB');
    expect(formatBytes(50e12)).toBe('50.0 TB');
  });
});
