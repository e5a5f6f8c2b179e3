// Pure helpers for the conversation list and message footers: title derivation from the first
// message, title search, date grouping, and human-readable generation stats.
import type { ConversationRecord, StoredStats } from '../lib/db-schema';

export const TITLE_MAX = 48;

/** A short title from the user's first message: first line, Markdown marks removed, cut at a word. */
export function deriveTitle(text: string, imageCount: number): string {
  const line = text
    .split('\n')
    .map((l) => l.replace(/[#>*_`~[\]]+/g, ' ').replace(/\s+/g, ' ').trim())
    .find((l) => l.length > 0);
  if (!line) {
    if (imageCount === 1) return 'Photo';
    if (imageCount > 1) return `${imageCount} photos`;
    return 'New chat';
  }
  if (line.length <= TITLE_MAX) return line;
  const cut = line.slice(0, TITLE_MAX);
  const space = cut.lastIndexOf(' ');
  return `${(space > TITLE_MAX / 2 ? cut.slice(0, space) : cut).replace(/[\s.,;:!?-]+$/, '')}…`;
}

/** Title after a rename: trimmed and single-line; null when nothing usable remains. */
export function cleanTitle(input: string): string | null {
  const t = input.replace(/\s+/g, ' ').trim().slice(0, 120);
  return t.length ? t : null;
}

function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Case- and accent-insensitive match of every word of the query in the title. */
export function matchesTitle(title: string, query: string): boolean {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const t = fold(title);
  return words.every((w) => t.includes(w));
}

export interface ConversationGroup {
  label: string;
  items: ConversationRecord[];
}

/** Splits conversations (most recent first) into Today / Yesterday / Previous 7 days / Older. */
export function groupByDate(items: ConversationRecord[], now = Date.now()): ConversationGroup[] {
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  const day = 86_400_000;
  const bounds: [string, number][] = [
    ['Today', midnight.getTime()],
    ['Yesterday', midnight.getTime() - day],
    ['Previous 7 days', midnight.getTime() - 7 * day],
    ['Older', -Infinity],
  ];
  const groups: ConversationGroup[] = [];
  for (const c of items) {
    const label = bounds.find(([, from]) => c.updatedAt >= from)![0];
    const last = groups[groups.length - 1];
    if (last?.label === label) last.items.push(c);
    else groups.push({ label, items: [c] });
  }
  return groups;
}

/** "TTFT 120 ms · 35.2 tok/s · 64 visual tokens" parts. */
export function formatStats(s: StoredStats): string[] {
  const ms = s.timeToFirstTokenMs;
  const parts = [`first token ${ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`}`];
  parts.push(`${s.decodeTokensPerSecond.toFixed(1)} tok/s`);
  if (s.visualTokens > 0) parts.push(`${s.visualTokens} visual tokens`);
  parts.push(`${s.generatedTokens} ${s.generatedTokens === 1 ? 'token' : 'tokens'}`);
  return parts;
}
