"""Held-out accuracy of the demo VLM (or any Idefics3 folder) with Hugging Face transformers.

    python3 tools/eval/eval_transformers.py --model public/models/lumen-demo --n-per-type 100 \
        --out eval.json [--dump-dir heldout/]

The held-out set is `scenes.heldout(n)`: the same seeds on every machine, disjoint from the
training seeds. Greedy decoding, one prompt per question in the SmolVLM chat format; scoring
is `heldout_metrics` (exact match per type; object F1 for describe). Each scene is first resized
to the processor's longest edge (PIL Lanczos: exactly the processor's own first step, so the
processor's output is unchanged, checked on the first items); --dump-dir writes those images
(PNG + heldout.jsonl with question, answer and type) for the engine-side eval
(tools/eval/engine-eval.ts) to read, so both score the same pixels and the engine's own first
resize is the identity. Prints one line per type and writes a JSON report with every answer.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "demo-model"))

import fast_tiles  # noqa: E402
import heldout_metrics  # noqa: E402
import scenes  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--n-per-type", type=int, default=100)
    p.add_argument("--batch", type=int, default=25)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--out", help="JSON report path")
    p.add_argument("--dump-dir", help="write the held-out set (PNG + heldout.jsonl) here")
    p.add_argument("--dump-only", action="store_true", help="write --dump-dir and stop (no torch needed)")
    p.add_argument("--device", default="cuda")
    return p.parse_args()


def prompt_text(question: str) -> str:
    return f"<|im_start|>User:<image>{question}<end_of_utterance>\nAssistant:"


def load(model_dir: str, device: str):
    import torch
    from transformers import AutoProcessor, Idefics3ForConditionalGeneration
    processor = AutoProcessor.from_pretrained(model_dir, use_fast=False)
    model = Idefics3ForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    return processor, model


def answer(processor, model, items: list[dict], max_new_tokens: int, device: str) -> list[str]:
    """Greedy answers for a batch of held-out items (left padding)."""
    import torch
    tok = processor.tokenizer
    tok.padding_side = "left"
    enc = processor(text=[prompt_text(it["question"]) for it in items],
                    images=[[it["image"]] for it in items], return_tensors="pt", padding=True)
    enc = {k: v.to(device) for k, v in enc.items()}
    eou = tok.convert_tokens_to_ids("<end_of_utterance>")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eou,
                             pad_token_id=tok.pad_token_id)
    new = out[:, enc["input_ids"].shape[1]:]
    return [tok.decode(row, skip_special_tokens=True).strip() for row in new]


def at_processor_size(image, longest: int):
    """The processor's first step (resize to the longest edge), done once here."""
    from PIL import Image
    size = fast_tiles.longest_edge_size(*image.size, longest)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def check_same_pixels(processor, items: list[dict]) -> None:
    """The processor gives the same pixel_values for a scene and for its pre-resized image."""
    for it in items:
        a = processor.image_processor(images=[[it["scene"].image]], return_tensors="np")["pixel_values"]
        b = processor.image_processor(images=[[it["image"]]], return_tensors="np")["pixel_values"]
        assert a.shape == b.shape and float(abs(a - b).max()) == 0.0, (it["seed"], a.shape, b.shape)


def dump(items: list[dict], folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "heldout.jsonl"), "w") as f:
        for i, it in enumerate(items):
            name = f"{i:04d}_{it['type']}.png"
            it["image"].save(os.path.join(folder, name), compress_level=1)
            f.write(json.dumps({"image": name, "seed": it["seed"], "type": it["type"],
                                "question": it["question"], "answer": it["answer"]}) + "\n")


def main() -> None:
    args = parse_args()
    items = scenes.heldout(args.n_per_type)
    longest = json.load(open(os.path.join(args.model, "preprocessor_config.json")))["size"]["longest_edge"]
    for it in items:
        it["image"] = at_processor_size(it["scene"].image, longest)
    if args.dump_dir:
        dump(items, args.dump_dir)
    if args.dump_only:
        return
    processor, model = load(args.model, args.device)
    check_same_pixels(processor, items[:3])
    rows, t0 = [], time.time()
    for i in range(0, len(items), args.batch):
        chunk = items[i: i + args.batch]
        for it, pred in zip(chunk, answer(processor, model, chunk, args.max_new_tokens, args.device)):
            rows.append({"seed": it["seed"], "type": it["type"], "question": it["question"],
                         "answer": it["answer"], "prediction": pred,
                         "scores": heldout_metrics.score(it["type"], pred, it["answer"])})
    summary = heldout_metrics.summarise(rows)
    print(f"held-out eval of {args.model}: {len(rows)} questions in {time.time() - t0:.1f}s")
    for t, agg in summary.items():
        extra = "".join(f" {k} {v:.3f}" for k, v in agg.items() if k not in ("n", "exact"))
        print(f"  {t:9s} n={agg['n']:4d} exact {agg['exact']:.3f}{extra}")
    misses = [r for r in rows if r["scores"].get("exact", 1) < 1][:40]
    for r in misses[:12]:
        print(f"  miss [{r['type']}] {r['question']!r}: got {r['prediction']!r}, want {r['answer']!r}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "n_per_type": args.n_per_type, "summary": summary,
                       "misses": misses, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
