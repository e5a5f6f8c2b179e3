"""Pre-flight checks of the demo-model data path, run on the GPU host before training.

    python3 tools/demo-model/checks.py --tokenizer /tmp/demo/tokenizer

- the chat template renders exactly `data.prompt_text` (what training and eval feed);
- reusing the image prefix for extra questions gives the processor's own ids;
- the uint8 tile round trip is (near) lossless;
- fast_tiles.split + pool prefixes give the processor's uint8 pixels and ids exactly;
- train.vlm_forward (tiles encoded once per scene) equals the model's own forward;
- per-image cost of render / processor / fast_tiles, and the scene stream's throughput.
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

    # fast_tiles (what training feeds) must give the processor's pixels and ids exactly
    import fast_tiles
    import pool
    import train
    sizes = []
    for s in list(range(40, 52)) + [scenes.HELDOUT_SEED_BASE + 3]:
        sc4 = scenes.make_scene(s)
        tiles4, rows, cols = fast_tiles.split(sc4.image)
        enc = proc(text=[data.prompt_text(qs[1])], images=[[sc4.image]], return_tensors="np")
        ref_tiles = np.clip(np.rint((enc["pixel_values"][0] + 1.0) * 127.5), 0, 255).astype(np.uint8)
        assert ref_tiles.shape == tiles4.shape, (s, ref_tiles.shape, tiles4.shape)
        diff = np.abs(ref_tiles.astype(np.int16) - tiles4)
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (s, int(diff.max()), float((diff > 0).mean()))
        ids4 = tok(pool.prefix_text(rows, cols, hf_files.IMAGE_SEQ_LEN) + pool.question_suffix(qs[1]),
                   add_special_tokens=False)["input_ids"]
        assert ids4 == enc["input_ids"][0].tolist(), s
        sizes.append((sc4.width, sc4.height, rows, cols))
    print(f"fast_tiles == processor (pixels within 1/255, ids identical) on 13 scenes: {sizes}")

    t0 = time.time()
    for s in range(10):
        sc3 = scenes.make_scene(s)
    t1 = time.time()
    for s in range(10):
        data.encode_image_prompts(proc, sc3.image, qs)
    t2 = time.time()
    for s in range(10):
        fast_tiles.split(sc3.image)
    t3 = time.time()
    print(f"per image: render {(t1 - t0) / 10 * 1e3:.0f} ms, processor {(t2 - t1) / 10 * 1e3:.0f} ms, "
          f"fast_tiles {(t3 - t2) / 10 * 1e3:.0f} ms")

    # train.vlm_forward (vision once per scene) == the model's own forward, per question
    from transformers import Idefics3ForConditionalGeneration
    torch.manual_seed(0)
    model = Idefics3ForConditionalGeneration(hf_files.model_config(tok)).cuda().eval()
    stream = pool.SceneStream(tok, hf_files.IMAGE_SEQ_LEN, seed=777)
    recs = [stream.record(s, {}) for s in (777, 778)]
    sp = pool.ScenePool(8, "cuda")
    sp.add(recs)
    rng = random.Random(0)
    batch = pool.make_batch(sp.items, 2, tok.pad_token_id, rng, "cuda")
    with torch.no_grad():
        hidden, _, _ = train.vlm_forward(model, batch, model.config.image_token_id, hf_files.IMAGE_SEQ_LEN)
        ours = model.lm_head(hidden)
        worst = 0.0
        for j in range(batch["input_ids"].shape[0]):
            n = int(batch["attention_mask"][j].sum())
            sc_i = int(batch["scene_of_seq"][j])
            pv = (sp.items[sc_i]["tiles"].float() / 127.5 - 1.0)[None]
            ref = model(input_ids=batch["input_ids"][j:j + 1, :n], pixel_values=pv).logits[0]
            worst = max(worst, float((ref - ours[j, :n]).abs().max()))
    assert worst < 1e-3, worst
    print(f"vlm_forward == Idefics3ForConditionalGeneration forward: max |logit diff| {worst:.2e}")

    loader = torch.utils.data.DataLoader(pool.SceneStream(tok, hf_files.IMAGE_SEQ_LEN, seed=0), batch_size=None,
                                         num_workers=args.workers, prefetch_factor=4)
    it = iter(loader)
    next(it)
    t0 = time.time()
    n = 0
    for _ in range(args.batches):
        n += len(next(it))
    dt = time.time() - t0
    print(f"scene stream: {n / dt:.0f} scenes/s with {args.workers} workers ({pool.QAS_PER_SCENE} questions each)")


if __name__ == "__main__":
    main()
