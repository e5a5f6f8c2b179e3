// Byte sizes as users read them in the library panel and in quota errors.
import { describe, expect, it } from 'vitest';
import { formatBytes } from './format';

describe('formatBytes', () => {
  it('formats sizes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999.4)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(517_000_000)).toBe('517 MB');
    expect(formatBytes(1_020_000_000)).toBe('1.0 GB');
    expect(formatBytes(50e12)).toBe('50.0 TB');
  });

  it('shows a dash for sizes that are not known', () => {
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });
});
