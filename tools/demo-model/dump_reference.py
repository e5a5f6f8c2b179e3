"""Dump a small Python-side reference for the exported demo model, for the Node tests.

    python3 tools/demo-model/dump_reference.py --model public/models/lumen-demo --out-dir $OUT

Writes sample.png (one held-out scene, plain background so the PNG stays small) and
reference.json: the chat-template prompt, the processor's input_ids and pixel_values shape /
per-tile means (transformers' Idefics3Processor, PIL path), rows/cols of the split, and the
model's greedy answer with the top-5 logits of its first step. The vitest test checks that
@huggingface/transformers gives the same prompt, ids and shapes from the same folder.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import scenes  # noqa: E402

QUESTION = "Describe the image."


def pick_scene() -> scenes.Scene:
    seed = scenes.HELDOUT_SEED_BASE + 900_000
    while True:
        sc = scenes.make_scene(seed)
        if not sc.textured and sc.width <= 1500 and len(sc.objects) >= 3 and sc.height < 0.9 * sc.width:
            return sc
        seed += 1


def main() -> None:
    import torch
    from transformers import AutoProcessor, Idefics3ForConditionalGeneration
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--out-dir", required=True)
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    sc = pick_scene()
    png = os.path.join(args.out_dir, "sample.png")
    sc.image.save(png, optimize=True)

    from PIL import Image
    image = Image.open(png).convert("RGB")  # what the JS side reads back
    processor = AutoProcessor.from_pretrained(args.model, use_fast=False)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    enc = processor(text=[prompt], images=[[image]], return_tensors="pt")
    split = processor.image_processor(images=[[image]], return_row_col_info=True, return_tensors="pt")
    pv = enc["pixel_values"]  # (1, n_tiles, 3, T, T)
    model = Idefics3ForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(**enc).logits[0, -1]
        out = model.generate(**enc,
                             max_new_tokens=128, do_sample=False)
    new = out[0, enc["input_ids"].shape[1]:]
    top = torch.topk(logits, 5)
    ref = {
        "seed": sc.seed, "question": QUESTION, "expected_answer": scenes.describe(sc),
        "image": {"width": sc.width, "height": sc.height},
        "prompt": prompt,
        "input_ids": enc["input_ids"][0].tolist(),
        "pixel_values_shape": list(pv.shape),
        "pixel_values_tile_means": [round(float(pv[0, i].mean()), 5) for i in range(pv.shape[1])],
        "rows": [[int(r) for r in row] for row in split["rows"]], "cols": [[int(c) for c in col] for col in split["cols"]],
        "generated_ids": new.tolist(),
        "generated_text": processor.tokenizer.decode(new, skip_special_tokens=True).strip(),
        "first_step_top5": {"ids": top.indices.tolist(), "logits": [round(float(v), 5) for v in top.values]},
    }
    with open(os.path.join(args.out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"reference: {len(ref['input_ids'])} ids, pixel_values {ref['pixel_values_shape']}, "
          f"answer {ref['generated_text']!r} (expected {ref['expected_answer']!r})")


if __name__ == "__main__":
    main()
