"""Write tools/eval/fixtures/metrics-cases.json: (type, prediction, answer) cases scored by
heldout_metrics.py, which heldout-metrics.test.ts requires the TypeScript port to reproduce.

    python3 tools/eval/make_metrics_fixture.py [eval.json ...]

Cases: hand-written edge cases plus real model answers from transformers eval reports
(`eval_transformers.py --out`), so the port is checked on what models actually say.
Standard library only.
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import heldout_metrics  # noqa: E402

REF2 = ("There are two shapes on a white background. A small red circle is in the top left "
        "and a large blue star is on the right.")
HAND = [
    ("count", " 3.", "3"), ("color", "Red", "red"), ("position", "top  left", "top left"),
    ("position", "top left..", "top left"), ("relative", "left", "right"), ("shape", "", "star"),
    ("describe", REF2, REF2),
    ("describe", "There are two shapes on a white background. A small red circle is in the top left.", REF2),
    ("describe", "There is one shape on a beige background. An large red star is at the bottom.",
     "There is one shape on a beige background. A large red star is at the bottom."),
    ("describe", "a small red circle is in the top left and a small red circle is in the top left.", REF2),
    ("describe", "There are three shapes", REF2), ("describe", "", REF2),
]


def main() -> None:
    cases = [{"type": t, "prediction": p, "answer": a} for t, p, a in HAND]
    for path in sys.argv[1:]:
        rows = json.load(open(path))["rows"]
        per_type: dict[str, int] = {}
        for r in rows:
            if per_type.get(r["type"], 0) < (12 if r["type"] == "describe" else 4):
                per_type[r["type"]] = per_type.get(r["type"], 0) + 1
                cases.append({"type": r["type"], "prediction": r["prediction"], "answer": r["answer"]})
    for c in cases:
        c["scores"] = heldout_metrics.score(c["type"], c["prediction"], c["answer"])
    summary = heldout_metrics.summarise([{"type": c["type"], "scores": c["scores"]} for c in cases])
    out = os.path.join(HERE, "fixtures", "metrics-cases.json")
    with open(out, "w") as f:
        json.dump({"cases": cases, "summary": summary}, f, indent=1)
    print(f"{len(cases)} cases -> {out}")


if __name__ == "__main__":
    main()
