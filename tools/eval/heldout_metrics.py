"""Scoring for the demo model's held-out set, shared by the transformers eval and (mirrored in
TypeScript) the future engine eval.

- color / shape / count / position / relative: exact match after normalising (lower case,
  surrounding whitespace and a trailing full stop removed).
- describe: exact match, plus an object-level F1: each "<size> <color> <shape> is <place>"
  clause of the answer is one object (size, colour, shape, region); a predicted object counts
  when all four fields match an unmatched reference object. The count sentence is scored too.
Standard library only.
"""
from __future__ import annotations

import re

_SIZES = "small|medium|large"
_CLAUSE = re.compile(rf"\b(?:a|an)\s+({_SIZES})\s+(\w+)\s+(\w+)\s+is\s+(in|at|on)\s+the\s+([a-z ]+?)(?=,|\.| and |$)",
                     re.IGNORECASE)
_COUNT = re.compile(r"there (?:is|are) (\w+) shapes?", re.IGNORECASE)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip(".").strip()


def parse_description(text: str) -> tuple[str | None, list[tuple[str, str, str, str]]]:
    """(count word, [(size, colour, shape, region)]) read from a describe answer."""
    m = _COUNT.search(text)
    objs = [tuple(g.lower().strip() for g in (c.group(1), c.group(2), c.group(3), c.group(5)))
            for c in _CLAUSE.finditer(text)]
    return (m.group(1).lower() if m else None), objs  # type: ignore[return-value]


def describe_scores(pred: str, ref: str) -> dict[str, float]:
    pc, po = parse_description(pred)
    rc, ro = parse_description(ref)
    remaining = list(ro)
    tp = 0
    for o in po:
        if o in remaining:
            remaining.remove(o)
            tp += 1
    precision = tp / len(po) if po else 0.0
    recall = tp / len(ro) if ro else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"exact": float(normalise(pred) == normalise(ref)), "object_f1": f1,
            "count_ok": float(pc is not None and pc == rc)}


def score(qtype: str, pred: str, ref: str) -> dict[str, float]:
    if qtype == "describe":
        return describe_scores(pred, ref)
    return {"exact": float(normalise(pred) == normalise(ref))}


def summarise(rows: list[dict]) -> dict[str, dict[str, float]]:
    """rows: {type, scores} -> per type mean of each score, plus n."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        agg = out.setdefault(r["type"], {"n": 0})
        agg["n"] += 1
        for k, v in r["scores"].items():
            agg[k] = agg.get(k, 0.0) + v
    for agg in out.values():
        for k in list(agg):
            if k != "n":
                agg[k] = round(agg[k] / agg["n"], 4)
    return out


if __name__ == "__main__":  # self-check
    ref = ("There are two shapes on a white background. A small red circle is in the top left "
           "and a large blue star is on the right.")
    assert describe_scores(ref, ref) == {"exact": 1.0, "object_f1": 1.0, "count_ok": 1.0}
    half = "There are two shapes on a white background. A small red circle is in the top left."
    s = describe_scores(half, ref)
    assert s["exact"] == 0.0 and abs(s["object_f1"] - 2 / 3) < 1e-9 and s["count_ok"] == 1.0, s
    assert score("count", " 3.", "3") == {"exact": 1.0}
    print("ok")
