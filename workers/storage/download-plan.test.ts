// Range planning and the sliding-window rate/ETA meter.
import { describe, expect, it } from 'vitest';
import { bytesDone, chunkCount, chunkRange, locate, rangeHeader, remainingRanges } from './download-plan';
import { RateMeter } from './download-rate';

describe('range planning', () => {
  it('covers a file exactly once with contiguous chunks', () => {
    for (const [size, chunk] of [[0, 4], [1, 4], [4, 4], [5, 4], [10 * 1024 * 1024 + 3, 4 * 1024 * 1024]]) {
      const ranges = remainingRanges(size, chunk, 0);
      expect(ranges.length).toBe(chunkCount(size, chunk));
      let next = 0;
      for (const [i, r] of ranges.entries()) {
        expect(r.index).toBe(i);
        expect(r.start).toBe(next);
        expect(r.end - r.start).toBeGreaterThan(0);
        expect(r.end - r.start).toBeLessThanOrEqual(chunk);
        next = r.end;
      }
      expect(next).toBe(size);
    }
  });

  it('resumes after the stored chunks', () => {
    const ranges = remainingRanges(10, 4, 1);
    expect(ranges).toEqual([
      { index: 1, start: 4, end: 8 },
      { index: 2, start: 8, end: 10 },
    ]);
    expect(remainingRanges(10, 4, 3)).toEqual([]);
    expect(bytesDone(10, 4, 2)).toBe(8);
    expect(bytesDone(10, 4, 3)).toBe(10);
  });

  it('formats inclusive Range headers and locates offsets', () => {
    expect(rangeHeader(chunkRange(10, 4, 2))).toBe('bytes=8-9');
    expect(rangeHeader(chunkRange(10, 4, 0))).toBe('bytes=0-3');
    expect(locate(9, 4)).toEqual({ index: 2, within: 1 });
  });

  it('rejects impossible plans', () => {
    expect(() => chunkRange(10, 4, 3)).toThrow(RangeError);
    expect(() => remainingRanges(10, 4, 4)).toThrow(RangeError);
    expect(() => chunkCount(-1, 4)).toThrow(RangeError);
    expect(() => chunkCount(10, 0)).toThrow(RangeError);
  });
});

describe('RateMeter', () => {
  it('is unknown until it has a span of samples', () => {
    const m = new RateMeter(5000);
    expect(m.bytesPerSecond()).toBe(0);
    expect(m.secondsLeft(100)).toBeNull();
    m.add(0, 0);
    m.add(900, 1000);
    expect(m.bytesPerSecond()).toBe(0);
    expect(m.secondsLeft(0)).toBe(0);
  });

  it('measures a steady rate and the time left', () => {
    const m = new RateMeter(5000);
    for (let t = 0; t <= 3000; t += 100) m.add(t, t * 2000); // 2 MB/s
    expect(m.bytesPerSecond()).toBeCloseTo(2_000_000, -2);
    expect(m.secondsLeft(10_000_000)).toBeCloseTo(5, 1);
  });

  it('forgets samples older than the window', () => {
    const m = new RateMeter(2000);
    for (let t = 0; t <= 10_000; t += 100) m.add(t, t < 5000 ? t * 10_000 : 50_000_000 + (t - 5000) * 1000);
    // The last 2 s ran at 1 MB/s; the fast start no longer counts.
    expect(m.bytesPerSecond()).toBeCloseTo(1_000_000, -3);
  });
});
