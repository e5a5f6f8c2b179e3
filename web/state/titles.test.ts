// Title derivation, rename cleanup, search, date grouping and stats formatting.
import { describe, expect, it } from 'vitest';
import type { ConversationRecord } from '../lib/db-schema';
import { cleanTitle, deriveTitle, formatStats, groupByDate, matchesTitle } from './titles';

describe('deriveTitle', () => {
  it('uses the first non-empty line without Markdown marks', () => {
    expect(deriveTitle('\n  ## What is *in* this photo?\nmore', 1)).toBe('What is in this photo?');
  });
  it('cuts long text at a word boundary with an ellipsis', () => {
    const t = deriveTitle('How many red circles are there in the upper left corner of this large picture', 0);
    expect(t.length).toBeLessThanOrEqual(49);
    expect(t.endsWith('…')).toBe(true);
    expect(t).toBe('How many red circles are there in the upper…');
  });
  it('names photo-only messages', () => {
    expect(deriveTitle('', 1)).toBe('Photo');
    expect(deriveTitle('  ', 3)).toBe('3 photos');
    expect(deriveTitle('', 0)).toBe('New chat');
  });
});

describe('cleanTitle / matchesTitle', () => {
  it('normalizes renames and refuses blanks', () => {
    expect(cleanTitle('  Trip \n to  Lyon ')).toBe('Trip to Lyon');
    expect(cleanTitle('   ')).toBeNull();
  });
  it('matches every word, ignoring case and accents', () => {
    expect(matchesTitle('Café receipts from Lyon', 'cafe LYON')).toBe(true);
    expect(matchesTitle('Café receipts from Lyon', 'cafe paris')).toBe(false);
    expect(matchesTitle('Anything', '  ')).toBe(true);
  });
});

describe('groupByDate', () => {
  it('groups by recency in order', () => {
    const now = new Date(2026, 10, 26, 12).getTime();
    const c = (id: string, daysAgo: number): ConversationRecord => ({ id, title: id, createdAt: 0, updatedAt: now - daysAgo * 86_400_000 });
    const groups = groupByDate([c('a', 0), c('b', 0.1), c('c', 1), c('d', 3), c('e', 30)], now);
    expect(groups.map((g) => [g.label, g.items.map((i) => i.id)])).toEqual([
      ['Today', ['a', 'b']],
      ['Yesterday', ['c']],
      ['Previous 7 days', ['d']],
      ['Older', ['e']],
    ]);
  });
});

describe('formatting', () => {
  it('formats stats', () => {
    expect(formatStats({ timeToFirstTokenMs: 1234, decodeTokensPerSecond: 35.25, visualTokens: 64, generatedTokens: 20 }))
      .toEqual(['first token 1.2 s', '35.3 tok/s', '64 visual tokens', '20 tokens']);
    expect(formatStats({ timeToFirstTokenMs: 80, decodeTokensPerSecond: 10, visualTokens: 0, generatedTokens: 1 })[0]).toBe('first token 80 ms');
    expect(formatStats({ timeToFirstTokenMs: 80, decodeTokensPerSecond: 10, visualTokens: 0, generatedTokens: 1 })).toEqual(['first token 80 ms', '10.0 tok/s', '1 token']);
  });
});
