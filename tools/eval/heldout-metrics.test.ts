// The TypeScript scoring (heldout-metrics.ts) must score exactly like the Python module the
// transformers eval uses: fixtures/metrics-cases.json holds hand-written edge cases and real
// model answers scored by tools/eval/heldout_metrics.py (make_metrics_fixture.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalise, parseDescription, score, summarise, type Scores } from './heldout-metrics';

interface Case {
  type: string;
  prediction: string;
  answer: string;
  scores: Scores;
}
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures/metrics-cases.json'), 'utf8')) as { cases: Case[]; summary: Record<string, Scores> };

describe('held-out scoring matches heldout_metrics.py', () => {
  it('every case scores the same', () => {
    expect(fixture.cases.length).toBeGreaterThan(20);
    for (const c of fixture.cases) {
      const got = score(c.type, c.prediction, c.answer);
      expect(Object.keys(got).sort(), c.prediction).toEqual(Object.keys(c.scores).sort());
      for (const [k, v] of Object.entries(c.scores)) expect(got[k], `${k} of ${JSON.stringify(c.prediction)}`).toBeCloseTo(v, 12);
    }
  });

  it('per-type summary is the same', () => {
    const rows = fixture.cases.map((c) => ({ type: c.type, scores: score(c.type, c.prediction, c.answer) }));
    const got = summarise(rows);
    expect(Object.keys(got).sort()).toEqual(Object.keys(fixture.summary).sort());
    for (const [t, agg] of Object.entries(fixture.summary)) {
      for (const [k, v] of Object.entries(agg)) expect(got[t][k], `${t} ${k}`).toBeCloseTo(v, 4);
    }
  });

  it('parses objects and the count sentence of a description', () => {
    const [count, objects] = parseDescription('There are two shapes on a white background. A small red circle is in the top left and a large blue star is on the right.');
    expect(count).toBe('two');
    expect(objects).toEqual(['small|red|circle|top left', 'large|blue|star|right']);
    expect(normalise('  Top   Left.. ')).toBe('top left');
  });
});
