"""Pre-flight checks of the demo-model data path, run on the GPU host before training.

    python3 tools/demo-model/checks.py --tokenizer /tmp/demo/tokenizer

- the chat template renders exactly `data.prompt_text` (what training and eval feed);
- reusing the image prefix for extra questions gives the processor's own ids;
- the uint8 tile round trip is (near) lossless;
- per-image cost of render + processor, and DataLoader throughput with N workers.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import data  # noqa: E402
import hf_files  # noqa: E402
import scenes  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--workers", type=int, default=14)
    p.add_argument("--batches", type=int, default=30)
    args = p.parse_args()
    proc = hf_files.load_processor(args.tokenizer)
    tok = proc.tokenizer
    print("processor:", type(proc).__name__, type(proc.image_processor).__name__, type(tok).__name__, len(tok))
    q = "What color is the star?"
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
    rendered = proc.apply_chat_template(msgs, add_generation_prompt=True)
    assert rendered == data.prompt_text(q), (rendered, data.prompt_text(q))
    print("chat template ok:", repr(rendered))
    for text in [" a small red circle is in the top left.", data.answer_text("top left"), "<row_2_col_3>\n"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        print(f"  {text!r} -> {ids} -> {tok.convert_ids_to_tokens(ids)}")

    sc = scenes.make_scene(12345)
    qs = ["What color is the star?", "Describe the image.", "How many shapes are there?"]
    data.check_prompt_ids(proc, sc.image, qs)
    ids, tiles = data.encode_image_prompts(proc, sc.image, qs)
    pv = proc(text=[data.prompt_text(qs[0])], images=[[sc.image]], return_tensors="np")["pixel_values"][0]
    err = np.abs(tiles.astype(np.float32) / 127.5 - 1.0 - pv).max()
    print(f"prefix reuse ok; prompt lengths {[len(i) for i in ids]}; tiles {tiles.shape}; uint8 round trip max err {err:.2e}")
    lengths = []
    for s in range(200):
        sc2 = scenes.make_scene(s, render=False)
        rng = random.Random(s)
        lengths += [len(tok(data.answer_text(scenes.make_qa(sc2, rng, t)[2]))["input_ids"]) for t in scenes.QTYPES]
    print(f"answer tokens: mean {np.mean(lengths):.1f}, max {max(lengths)}")

    t0 = time.time()
    for s in range(10):
        sc3 = scenes.make_scene(s)
    t1 = time.time()
    for s in range(10):
        data.encode_image_prompts(proc, sc3.image, qs)
    t2 = time.time()
    print(f"per image: render {(t1 - t0) / 10 * 1e3:.0f} ms, processor {(t2 - t1) / 10 * 1e3:.0f} ms")

    ds = data.SceneBatches(proc, 16, 3, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=args.workers, prefetch_factor=2)
    it = iter(loader)
    next(it)
    t0 = time.time()
    for _ in range(args.batches):
        b = next(it)
    dt = time.time() - t0
    print(f"loader: {args.batches / dt:.1f} batches/s ({args.batches * 48 / dt:.0f} seq/s), last batch ids "
          f"{tuple(b['input_ids'].shape)} tiles {tuple(b['tiles'].shape)}")


if __name__ == "__main__":
    main()
