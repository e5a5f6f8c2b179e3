"""Write tools/eval/fixtures/heldout-mini/: a few held-out items (PNG at the processor's size +
heldout.jsonl) with transformers' answers, for engine-eval.test.ts (our engine must give the
same answers on the same pixels).

    python3 tools/eval/make_engine_fixture.py tools/eval/results-transformers.json tools/eval/results-engine.json

Picks short-answer items that both evals answered identically, on plain backgrounds (small
PNGs) split into 3 x 4 tiles (the cheapest split, for SwiftShader). Needs Pillow (+ numpy).
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "demo-model"))

import eval_transformers  # noqa: E402
import fast_tiles  # noqa: E402
import scenes  # noqa: E402

WANT = [("shape", True), ("position", True)]  # (type, answered correctly): the kind of a shape is what runs 10a-12a learnt


def main() -> None:
    ref_rows = json.load(open(sys.argv[1]))["rows"]
    ours = {r["index"]: r for r in json.load(open(sys.argv[2]))["rows"]}
    out = os.path.join(HERE, "fixtures", "heldout-mini")
    os.makedirs(out, exist_ok=True)
    picked = []
    for qtype, correct in WANT:
        for i, r in enumerate(ref_rows):
            o = ours.get(i)
            if r["type"] != qtype or o is None or o["prediction"] != r["prediction"].strip():
                continue
            if (r["scores"]["exact"] == 1.0) != correct:
                continue
            sc = scenes.make_scene(r["seed"], render=False)
            w, h = fast_tiles.longest_edge_size(sc.width, sc.height, 1024)
            if sc.textured or fast_tiles.vision_encoder_size(w, h, 256) != (1024, 768):
                continue
            picked.append((i, r))
            break
    with open(os.path.join(out, "heldout.jsonl"), "w") as f:
        for i, r in picked:
            sc = scenes.make_scene(r["seed"])
            name = f"{i:04d}_{r['type']}.png"
            eval_transformers.at_processor_size(sc.image, 1024).save(os.path.join(out, name), optimize=True)
            f.write(json.dumps({"image": name, "seed": r["seed"], "type": r["type"], "question": r["question"],
                                "answer": r["answer"], "transformers": r["prediction"]}) + "\n")
    print(f"{len(picked)} items -> {out}: {[(i, r['type'], r['prediction']) for i, r in picked]}")


if __name__ == "__main__":
    main()
