"""Train the Lumen demo VLM (tiny Idefics3) on procedurally generated scenes, then export it.

Runs on the GPU host (torch + transformers + tokenizers + pillow + numpy, no network):

    python3 tools/demo-model/train.py --work /tmp/demo --export $OUT/lumen-demo \
        --steps 4000 --time-budget 330 --ckpt-out $OUT

1. tokenizer + processor: trained once into <work>/tokenizer (or reused from --tokenizer-from);
2. model: Idefics3ForConditionalGeneration from `hf_files.model_config` (or --resume);
3. training: AdamW, warmup + cosine, bf16 autocast; DataLoader workers render scenes into a GPU
   pool (`pool.py`), each step samples --scenes-per-batch scenes x --qas-per-image questions,
   encodes each scene's tiles once (`vlm_forward`), loss on answer tokens only plus the auxiliary
   vision targets; stops at --steps or --time-budget;
4. export: f16 safetensors + configs + tokenizer/processor files, laid out like SmolVLM;
   the fp32 checkpoint goes to --ckpt-out as two safetensors files (each < 16 MiB).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import queue
import random
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import data  # noqa: E402
import hf_files  # noqa: E402
import pool  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", required=True, help="scratch folder (tokenizer, logs)")
    p.add_argument("--export", required=True, help="folder to write the SmolVLM-style model into")
    p.add_argument("--tokenizer-from", help="folder holding an already trained tokenizer/processor")
    p.add_argument("--resume", help="folder with ckpt_vision.safetensors + ckpt_text.safetensors")
    p.add_argument("--ckpt-out", help="where to write the fp32 checkpoint (two files)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--time-budget", type=float, default=1e9, help="seconds of training before stopping")
    p.add_argument("--scenes-per-batch", type=int, default=32)
    p.add_argument("--qas-per-image", type=int, default=8)
    p.add_argument("--pool", type=int, default=4000, help="scenes kept on the GPU (newest first)")
    p.add_argument("--pool-min", type=int, default=256, help="scenes rendered before the first step")
    p.add_argument("--easy-fraction", type=float, default=data.EASY_FRACTION)
    p.add_argument("--qa-weights", default="", help="question-type weights, e.g. color=1.5,describe=1 (rest: data.QA_WEIGHTS)")
    p.add_argument("--aux-weight", type=float, default=1.0)
    p.add_argument("--connector-scale", type=float, default=1.0,
                   help="multiply the connector weights by this at start (resume: shrink image embeddings)")
    p.add_argument("--aux-input-scale", type=float, default=1.0,
                   help="the aux head reads connector output / (connector-scale * this)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 4) - 2))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=50)
    return p.parse_args()


def answer_loss(logits, labels):
    """Half token-mean, half sequence-mean cross-entropy over answer tokens, so one-word answers
    weigh as much as the long descriptions. logits (B, L, V), labels (B, L) with -100 outside answers."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != -100
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                           ignore_index=-100, reduction="none").view(labels.shape)  # (B, L-1)
    per_seq = (ce * mask).sum(1) / mask.sum(1).clamp(min=1)
    return 0.5 * (ce * mask).sum() / mask.sum().clamp(min=1) + 0.5 * per_seq.mean()


def auxiliary_loss(pred, target):
    """pred (n, 16, AUX_DIM); target (n, 16, AUX_DIM + 1): presence bits everywhere; region bits and
    (u, v) only where the last column flags an object centre on the global image."""
    p = data.AUX_PRESENCE
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    presence = bce(pred[..., :p], target[..., :p])
    flag = target[..., -1] > 0
    if not flag.any():
        return presence
    region = bce(pred[..., p:p + 6][flag], target[..., p:p + 6][flag])
    uv = torch.nn.functional.mse_loss(pred[..., p + 6:p + 8][flag], target[..., p + 6:p + 8][flag])
    return presence + region + 10 * uv


def save_checkpoint(model, out: str) -> None:
    from safetensors.torch import save_file
    sd = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    text = {k: v for k, v in sd.items() if ".text_model." in k or k.startswith("lm_head")}
    rest = {k: v for k, v in sd.items() if k not in text}
    save_file(text, os.path.join(out, "ckpt_text.safetensors"))
    save_file(rest, os.path.join(out, "ckpt_vision.safetensors"))


def load_checkpoint(model, folder: str) -> None:
    """fp32 checkpoint (ckpt_text + ckpt_vision) or, failing that, an exported folder's f16 weights."""
    from safetensors.torch import load_file
    if os.path.exists(os.path.join(folder, "ckpt_text.safetensors")):
        sd = {**load_file(os.path.join(folder, "ckpt_text.safetensors")),
              **load_file(os.path.join(folder, "ckpt_vision.safetensors"))}
    else:
        sd = {k: v.float() for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("lm_head" in m for m in missing), (missing, unexpected)


def export(model, processor, out: str, meta: dict) -> None:
    """SmolVLM layout: config.json, model.safetensors (f16), generation_config.json + processor files."""
    from transformers import GenerationConfig
    os.makedirs(out, exist_ok=True)
    half = model.to(torch.float16)
    half.save_pretrained(out, safe_serialization=True)
    model.to(torch.float32)
    GenerationConfig(**hf_files.generation_config(processor.tokenizer)).save_pretrained(out)
    processor.save_pretrained(out)
    hf_files.finish_files(out)
    cfg_path = os.path.join(out, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["torch_dtype"] = "float16"  # the key older readers (and SmolVLM's own config.json) use
    rope = cfg["text_config"].get("rope_parameters") or {}
    cfg["text_config"].setdefault("rope_theta", rope.get("rope_theta", 100000.0))
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "training_meta.json"), "w") as f:
        json.dump(meta, f, indent=2)


def vlm_forward(model, batch: dict, image_token_id: int, tokens_per_tile: int):
    """The Idefics3 forward with each scene's tiles encoded once for all of its questions:
    vision tower + connector over (sum n_i) tiles, features copied over the <image> embeddings
    of every sequence of that scene (what Idefics3Model.inputs_merger does), then the Llama.
    checks.py verifies it equals Idefics3ForConditionalGeneration's own forward.
    returns hidden (B, L, H), connector features (sum n_i, tokens_per_tile, H)"""
    pv = batch["tiles"].float() / 127.5 - 1.0                                   # (T, 3, S, S) in [-1, 1]
    ps = model.config.vision_config.patch_size
    pam = torch.ones((pv.shape[0], pv.shape[2] // ps, pv.shape[3] // ps), dtype=torch.bool, device=pv.device)
    vis = model.model.vision_model(pixel_values=pv, patch_attention_mask=pam).last_hidden_state  # (T, P, Hv)
    feats = model.model.connector(vis)                                          # (T, tokens_per_tile, H)
    ids = batch["input_ids"]
    emb = model.model.text_model.get_input_embeddings()(ids)                    # (B, L, H)
    rows = pool.image_rows(batch["n_tiles"], batch["scene_of_seq"], tokens_per_tile)
    src = feats.reshape(-1, feats.shape[-1])[rows].to(emb.dtype)                # (n_image_tokens, H)
    emb = emb.masked_scatter((ids == image_token_id)[..., None], src)
    out = model.model.text_model(inputs_embeds=emb, attention_mask=batch["attention_mask"], use_cache=False)
    return out.last_hidden_state, feats


def answer_loss_from_hidden(model, hidden, labels):
    """answer_loss computed on answer positions only (the LM head runs on those rows alone)."""
    lab = labels[:, 1:]
    mask = lab != -100                                                           # (B, L-1)
    logits = model.lm_head(hidden[:, :-1][mask]).float()                         # (N, V)
    ce = torch.nn.functional.cross_entropy(logits, lab[mask], reduction="none")  # (N,)
    seq = mask.nonzero()[:, 0]
    per_seq = torch.zeros(lab.shape[0], device=ce.device).index_add_(0, seq, ce) / mask.sum(1).clamp(min=1)
    return 0.5 * ce.mean() + 0.5 * per_seq.mean()


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    os.makedirs(args.work, exist_ok=True)
    from transformers import Idefics3ForConditionalGeneration

    tok_dir = args.tokenizer_from or os.path.join(args.work, "tokenizer")
    processor = (hf_files.load_processor(tok_dir) if os.path.exists(os.path.join(tok_dir, "tokenizer.json"))
                 else hf_files.train_tokenizer(tok_dir))
    tok = processor.tokenizer
    print(f"tokenizer: {len(tok)} tokens; sample ids {tok(' a small red circle')['input_ids']}", flush=True)

    config = hf_files.model_config(tok)
    model = Idefics3ForConditionalGeneration(config)
    if args.resume:
        load_checkpoint(model, args.resume)
    connector = model.model.connector
    if args.connector_scale != 1.0:  # bring image embeddings to the scale of text embeddings
        with torch.no_grad():
            for prm in connector.parameters():
                prm.mul_(args.connector_scale)
    model.cuda().train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params:,}", flush=True)

    # Training-only auxiliary head on the connector output (not exported): it teaches the vision
    # tower what is where (colour/shape/size per visual token, region and (u, v) on the global
    # image) so the language model has features worth attending to from the first steps.
    aux_head = torch.nn.Linear(config.text_config.hidden_size, data.AUX_DIM).cuda()
    aux_in_scale = 1.0 / (args.connector_scale * args.aux_input_scale)
    image_token_id = config.image_token_id
    tpt = hf_files.IMAGE_SEQ_LEN

    weights = dict(data.QA_WEIGHTS)
    for kv in filter(None, args.qa_weights.split(",")):
        k, v = kv.split("=")
        assert k in weights, f"unknown question type {k}"
        weights[k] = float(v)
    print(f"question weights {weights}, easy fraction {args.easy_fraction}", flush=True)
    stream = pool.SceneStream(tok, tpt, seed=args.seed * 10_000_000 + 5_000_000, easy_fraction=args.easy_fraction,
                              weights=weights)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=args.workers, prefetch_factor=4,
                                         persistent_workers=True)
    incoming: queue.Queue = queue.Queue(maxsize=256)
    threading.Thread(target=lambda: [incoming.put(c) for c in loader], daemon=True).start()
    scene_pool = pool.ScenePool(args.pool, "cuda")
    t_wait = time.time()
    while len(scene_pool) < args.pool_min:
        scene_pool.add(incoming.get())
    print(f"pool warm: {len(scene_pool)} scenes in {time.time() - t_wait:.1f}s", flush=True)

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "norm" in n or "embed" in n else decay).append(p)
    decay += list(aux_head.parameters())
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), fused=True)

    def lr_at(step: int) -> float:
        """Linear warmup, then cosine to 5% over whichever ends first: --steps or --time-budget."""
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = max((step - args.warmup) / max(1, args.steps - args.warmup), (time.time() - t0) / args.time_budget)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    t0, step, seen, loss_acc, aux_acc, added0 = time.time(), 0, 0, 0.0, 0.0, scene_pool.added
    while True:
        while not incoming.empty():
            scene_pool.add(incoming.get_nowait())
        batch = pool.make_batch(scene_pool.sample(args.scenes_per_batch, rng), args.qas_per_image,
                                tok.pad_token_id, rng, "cuda")
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            hidden, feats = vlm_forward(model, batch, image_token_id, tpt)
            aux_out = aux_head(feats * aux_in_scale)                              # (T, 16, AUX_DIM)
            lm_loss = answer_loss_from_hidden(model, hidden, batch["labels"])
        aux_loss = auxiliary_loss(aux_out.float(), batch["aux"])
        loss = lm_loss + args.aux_weight * aux_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += batch["input_ids"].shape[0]
        if step % 10 == 0:
            loss_acc += lm_loss.item()
            aux_acc += aux_loss.item()
        if step % args.log_every == 0:
            el = time.time() - t0
            fresh = scene_pool.added - added0
            print(f"step {step} answer loss {loss_acc / (args.log_every / 10):.4f} "
                  f"aux loss {aux_acc / (args.log_every / 10):.4f} lr {lr_at(step):.2e} seqs {seen} "
                  f"elapsed {el:.0f}s ({step / el:.1f} steps/s, {seen / el:.0f} seq/s, {fresh / el:.0f} new scenes/s, "
                  f"each used {step * args.scenes_per_batch / max(1, fresh + args.pool_min):.1f}x)", flush=True)
            loss_acc = aux_acc = 0.0
        if step >= args.steps or time.time() - t0 > args.time_budget:
            break
    train_s = time.time() - t0
    print(f"trained {step} steps, {seen} sequences, {scene_pool.added} scenes in {train_s:.0f}s", flush=True)
    model.eval()
    if args.ckpt_out:
        os.makedirs(args.ckpt_out, exist_ok=True)
        save_checkpoint(model, args.ckpt_out)
    meta = {"steps": step, "sequences": seen, "scenes": scene_pool.added, "train_seconds": round(train_s, 1),
            "parameters": n_params, "device": torch.cuda.get_device_name(0), "args": vars(args),
            "resumed": bool(args.resume)}
    export(model, processor, args.export, meta)
    size = sum(os.path.getsize(os.path.join(args.export, f)) for f in os.listdir(args.export))
    print(f"exported to {args.export}: {size / 1e6:.2f} MB", flush=True)
    shutil.copy(os.path.join(args.export, "training_meta.json"), os.path.join(args.work, "training_meta.json"))
    sys.stdout.flush()
    import multiprocessing
    for child in multiprocessing.active_children():  # the DataLoader workers (they hold stdout)
        child.terminate()
    os._exit(0)  # the loader thread would otherwise keep the process alive


if __name__ == "__main__":
    main()
