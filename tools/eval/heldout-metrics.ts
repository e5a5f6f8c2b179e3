// Scoring of the demo model's held-out set, a TypeScript port of tools/eval/heldout_metrics.py
// (the transformers eval's scoring) so the engine eval scores answers exactly the same way:
// - color / shape / count / position / relative: exact match after normalising (lower case,
//   whitespace collapsed, trailing full stops removed);
// - describe: exact match, an object-level F1 over "<size> <colour> <shape> is <place>" clauses
//   (a predicted object counts when all four fields match an unmatched reference object) and
//   whether the count sentence is right.
// heldout-metrics.test.ts checks it against scores computed by the Python module.

export type Scores = Record<string, number>;

const CLAUSE = /\b(?:a|an)\s+(small|medium|large)\s+(\w+)\s+(\w+)\s+is\s+(in|at|on)\s+the\s+([a-z ]+?)(?=,|\.| and |$)/gi;
const COUNT = /there (?:is|are) (\w+) shapes?/i;

/** Lower case, whitespace collapsed, trailing full stops removed (Python's normalise). */
export function normalise(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\.+$/, '').trim();
}

/** [count word or null, objects as "size|colour|shape|region"] read from a describe answer. */
export function parseDescription(text: string): [string | null, string[]] {
  const m = COUNT.exec(text);
  const objects = Array.from(text.matchAll(CLAUSE), (c) => [c[1], c[2], c[3], c[5]].map((g) => g.toLowerCase().trim()).join('|'));
  return [m ? m[1].toLowerCase() : null, objects];
}

export function describeScores(pred: string, ref: string): Scores {
  const [pc, po] = parseDescription(pred);
  const [rc, ro] = parseDescription(ref);
  const remaining = [...ro];
  let tp = 0;
  for (const o of po) {
    const i = remaining.indexOf(o);
    if (i >= 0) {
      remaining.splice(i, 1);
      tp++;
    }
  }
  const precision = po.length ? tp / po.length : 0;
  const recall = ro.length ? tp / ro.length : 0;
  const f1 = tp ? (2 * precision * recall) / (precision + recall) : 0;
  return { exact: normalise(pred) === normalise(ref) ? 1 : 0, object_f1: f1, count_ok: pc !== null && pc === rc ? 1 : 0 };
}

export function score(qtype: string, pred: string, ref: string): Scores {
  if (qtype === 'describe') return describeScores(pred, ref);
  return { exact: normalise(pred) === normalise(ref) ? 1 : 0 };
}

/** Per question type: n and the mean of each score (rounded to 4 decimals, like Python). */
export function summarise(rows: readonly { type: string; scores: Scores }[]): Record<string, Scores> {
  const out: Record<string, Scores> = {};
  for (const r of rows) {
    const agg = (out[r.type] ??= { n: 0 });
    agg.n++;
    for (const [k, v] of Object.entries(r.scores)) agg[k] = (agg[k] ?? 0) + v;
  }
  for (const agg of Object.values(out)) {
    for (const k of Object.keys(agg)) if (k !== 'n') agg[k] = Math.round((agg[k] / agg.n) * 1e4) / 1e4;
  }
  return out;
}
