"""Compare two held-out reports of eval_transformers.py (or engine-eval) question by question.

    python3 tools/eval/compare_reports.py tools/eval/results-transformers.json new-eval.json [--keep-margin 0.03]

Both reports must score the same held-out questions (same --n-per-type). Prints, per question
type: exact match of each report, split by the number of shapes in the scene (1 / 2-3 / 4-8,
from the scene seed; no rendering), how often each is right where the other is wrong, the most
frequent answers of the second report (a model that answers from a prior says "square" to most
shape questions), and the mean score used to decide whether new weights are kept (exact match
of the five short types + the describe count sentence, over six). Exit status 0 when the second
report's mean is at least the first's + --keep-margin, 1 otherwise. Pillow is the only need.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "demo-model"))

import scenes  # noqa: E402

SHORT = ("color", "shape", "count", "position", "relative")


def score(row: dict) -> float:
    """Exact match; for descriptions, whether the count sentence is right."""
    return row["scores"]["count_ok"] if row["type"] == "describe" else row["scores"]["exact"]


def mean_score(rows: list[dict]) -> float:
    by_type: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(score(r))
    types = [t for t in SHORT + ("describe",) if by_type[t]]
    return sum(sum(by_type[t]) / len(by_type[t]) for t in types) / len(types)


def size_bucket(seed: int) -> str:
    n = len(scenes.make_scene(seed, render=False).objects)
    return "1" if n == 1 else "2-3" if n <= 3 else "4-8"


def compare(a: list[dict], b: list[dict]) -> dict:
    """Per type and scene size: [b right, a right, questions]; paired wins/losses on short types."""
    if [(r["type"], r["question"], r["seed"]) for r in a] != [(r["type"], r["question"], r["seed"]) for r in b]:
        raise ValueError("the reports score different held-out questions (use the same --n-per-type)")
    cells: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    wins = losses = 0
    for ra, rb in zip(a, b):
        key = (ra["type"], "all" if ra["type"] == "describe" else size_bucket(ra["seed"]))
        cell = cells[key]
        cell[0] += score(rb)
        cell[1] += score(ra)
        cell[2] += 1
        if ra["type"] in SHORT:
            wins += score(rb) > score(ra)
            losses += score(rb) < score(ra)
    return {"cells": dict(cells), "wins": wins, "losses": losses}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("first", help="reference report (e.g. the shipped weights)")
    p.add_argument("second", help="report of the candidate weights")
    p.add_argument("--keep-margin", type=float, default=0.03)
    args = p.parse_args()
    a, b = (json.load(open(f))["rows"] for f in (args.first, args.second))
    res = compare(a, b)
    print(f"{'type':9s} {'shapes':6s} {'second':>8s} {'first':>8s}")
    for (t, bucket), (sb, sa, n) in sorted(res["cells"].items()):
        print(f"{t:9s} {bucket:6s} {sb:4.0f}/{n:<3d} {sa:4.0f}/{n:<3d}")
    print(f"short questions: second right where first wrong {res['wins']}, the reverse {res['losses']}")
    for t in ("shape", "relative", "position"):
        top = Counter(r["prediction"] for r in b if r["type"] == t).most_common(4)
        print(f"second's most frequent {t} answers: {top}")
    ma, mb = mean_score(a), mean_score(b)
    keep = mb >= ma + args.keep_margin
    print(f"mean score: first {ma:.3f}, second {mb:.3f} -> {'keep' if keep else 'do not keep'} the second "
          f"(needs >= first + {args.keep_margin})")
    return 0 if keep else 1


if __name__ == "__main__":
    sys.exit(main())
