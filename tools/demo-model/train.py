"""Train the Lumen demo VLM (tiny Idefics3) on procedurally generated scenes, then export it.

Runs on the GPU host (torch + transformers + tokenizers + pillow + numpy, no network):

    python3 tools/demo-model/train.py --work /tmp/demo --export $OUT/lumen-demo \
        --steps 4000 --time-budget 330 --ckpt-out $OUT

1. tokenizer + processor: trained once into <work>/tokenizer (or reused from --tokenizer-from);
2. model: Idefics3ForConditionalGeneration from `hf_files.model_config` (or --resume);
3. training: AdamW, warmup + cosine, bf16 autocast; DataLoader workers render scenes into a GPU
   pool (`pool.py`), each step samples --scenes-per-batch scenes x --qas-per-image questions,
   encodes each scene's tiles once (`vlm_forward`), loss on answer tokens only plus the auxiliary
   vision targets; stops at --steps or --time-budget. Curriculum (--phase1 F): the first F of the
   run samples only 1-2-object scenes with --phase1-weights (binding questions first), the rest
   the full mix; --aux-balanced weighs the auxiliary targets of tokens that cover an object as
   much as all empty tokens together (otherwise a head that ignores colour/kind scores ~0.06);
   the log shows the answer loss per question type and the auxiliary head's colour / kind
   accuracy on object tokens, and where the answer position looks in each LM layer (attention mass on
   tile tokens, global-image tokens and the tokens covering the named object, `attn_sup.py`);
   --attn-sup W adds W x the cross-entropy of that attention (one head, or the head mean, in
   --attn-sup-layers) against the tokens covering the object a colour / shape / position question
   names (training only: the exported architecture is SmolVLM's); --probe-kind logs online linear
   probes of the kind of shape per text layer (image tokens, the answer position's attention read-out
   and its own input: `attn_sup.KindProbes`); --aux-layers 1,2 puts the auxiliary targets on the
   image tokens' hidden states entering those text layers too (fresh training-only heads after each
   layer's input RMSNorm; taken by forward pre-hooks, saved with the aux head in ckpt_aux), so layer 0
   cannot wash the kind out of them (docs/DEMO_MODEL.md, "Probe run", "Runs 10-11"); the log also
   prints the norms at layer 0 (image tokens, layer 0's update to them, text tokens); --connector-ramp M
   multiplies the connector output by 1 -> M over the first --connector-ramp-frac of the run (training
   only: folded into the connector weights before the checkpoint and export); --aux-tile-positions adds
   region + (u, v) targets for every local-tile token's own place on the canvas (data.aux_labels);
4. export: f16 safetensors + configs + tokenizer/processor files, laid out like SmolVLM;
   the fp32 checkpoint goes to --ckpt-out as two safetensors files (each < 16 MiB).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import queue
import random
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import attn_sup  # noqa: E402
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
    p.add_argument("--text-layers", type=int, default=None,
                   help="language-model layers (default: the resumed checkpoint's, else 4); more than the checkpoint "
                        "has appends layers that start as the identity (o_proj and down_proj zero)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--time-budget", type=float, default=1e9, help="seconds of training before stopping")
    p.add_argument("--scenes-per-batch", type=int, default=32)
    p.add_argument("--qas-per-image", type=int, default=8)
    p.add_argument("--pool", type=int, default=4000, help="scenes with 3+ objects kept on the GPU (newest first)")
    p.add_argument("--easy-pool", type=int, default=2000, help="scenes with 1-2 objects kept on the GPU")
    p.add_argument("--pool-min", type=int, default=256, help="scenes rendered before the first step")
    p.add_argument("--easy-fraction", type=float, default=data.EASY_FRACTION,
                   help="share of scenes drawn with at most 2 shapes (after phase 1)")
    p.add_argument("--gen-easy-fraction", type=float, default=None,
                   help="share of rendered scenes drawn with at most 2 shapes (default: max(easy, 0.5 with --phase1))")
    p.add_argument("--phase1", type=float, default=0.0, help="share of the run (time or steps) on 1-2-object scenes only")
    p.add_argument("--phase1-weights", default="color=3,shape=3,position=2,relative=1,count=1,describe=1,background=0.2",
                   help="question-type weights during phase 1")
    p.add_argument("--aux-balanced", action="store_true", help="object tokens weigh as much as empty ones in the aux loss")
    p.add_argument("--aux-kind-weight", type=float, default=1.0,
                   help="(with --aux-balanced) weight of the shape-kind bits on tile tokens (not the global image)")
    p.add_argument("--vision-lr-mult", type=float, default=1.0, help="learning rate of vision tower + connector, x --lr")
    p.add_argument("--aux-layers", default="",
                   help="text layers (1..n-1) whose input hidden states at image tokens also get the auxiliary targets")
    p.add_argument("--aux-layers-weight", type=float, default=1.0, help="weight of the --aux-layers losses (mean over layers)")
    p.add_argument("--qa-weights", default="", help="question-type weights, e.g. color=1.5,describe=1 (rest: data.QA_WEIGHTS)")
    p.add_argument("--aux-weight", type=float, default=1.0)
    p.add_argument("--connector-scale", type=float, default=1.0,
                   help="multiply the connector weights by this at start (resume: shrink image embeddings)")
    p.add_argument("--aux-input-scale", type=float, default=1.0,
                   help="the aux head reads connector output / (connector-scale * this)")
    p.add_argument("--aux-tile-positions", action="store_true",
                   help="auxiliary targets (connector and --aux-layers heads) also give every local-tile token the region "
                        "bits and (u, v) of its own place on the canvas (data.aux_labels), for relative questions")
    p.add_argument("--connector-ramp", type=float, default=1.0,
                   help="training only: multiply the connector output by a factor rising linearly from 1 to this over "
                        "the first --connector-ramp-frac of the run (undoes run 3's x 0.025 gradually); folded into the "
                        "connector weights before the checkpoint and export, so the exported model is plain Idefics3")
    p.add_argument("--connector-ramp-frac", type=float, default=0.5, help="share of the run over which the ramp rises")
    p.add_argument("--attn-sup", type=float, default=0.0,
                   help="weight of the attention supervision of the answer position (0: only logged)")
    p.add_argument("--attn-sup-layers", default="1,2", help="text layers whose answer-position attention is supervised")
    p.add_argument("--attn-sup-head", type=int, default=0, help="supervised head (-1: the mean over heads)")
    p.add_argument("--attn-sup-types", default="color,shape,position",
                   help="question types whose named object(s) are attention targets (relative: both objects)")
    p.add_argument("--probe-kind", action="store_true",
                   help="log linear probes of the kind of shape on each text layer's image tokens / answer position")
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


def auxiliary_loss(pred, target, balanced: bool = False, is_global=None, kind_weight: float = 1.0):
    """pred (n, 16, AUX_DIM); target (n, 16, AUX_DIM + 1): presence bits everywhere; region bits and
    (u, v) only where the last column flags an object centre on the global image. balanced: mean
    over empty tokens + 0.25 x the per-token sum over bits on tokens that cover an object (a few %
    of all tokens, so with a plain mean a head blind to colour and kind already scores ~0.06);
    kind_weight scales the shape-kind bits on tile tokens (is_global (n,) marks global-image rows,
    where a shape is 3-15 px wide and its kind barely visible)."""
    p = data.AUX_PRESENCE
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    if balanced:
        per_bit = bce(pred[..., :p], target[..., :p], reduction="none")       # (n, 16, p)
        obj = target[..., :p].amax(-1) > 0                                      # (n, 16)
        if kind_weight != 1.0 and is_global is not None:
            nc, ns = len(data.AUX_COLORS), len(data.AUX_SHAPES)
            w = torch.ones_like(per_bit)
            w[~is_global, :, nc:nc + ns] = kind_weight
            per_bit = per_bit * w
        presence = per_bit[~obj].mean() + (0.25 * per_bit[obj].sum(-1).mean() if obj.any() else 0.0)
    else:
        presence = bce(pred[..., :p], target[..., :p])
    flag = target[..., -1] > 0
    if not flag.any():
        return presence
    region = bce(pred[..., p:p + 6][flag], target[..., p:p + 6][flag])
    uv = torch.nn.functional.mse_loss(pred[..., p + 6:p + 8][flag], target[..., p + 6:p + 8][flag])
    return presence + region + 10 * uv


def aux_accuracy(pred, target, rows=None) -> tuple[int, int, int]:
    """Colour and kind read by the auxiliary head on tokens covering exactly one colour and one kind
    (of the tiles selected by the bool mask rows (n,), if given). returns (tokens, colour hits, kind hits)"""
    nc, ns = len(data.AUX_COLORS), len(data.AUX_SHAPES)
    if rows is not None:
        pred, target = pred[rows], target[rows]
    col, kind = target[..., :nc], target[..., nc:nc + ns]
    one = (col.sum(-1) == 1) & (kind.sum(-1) == 1)                             # (n, 16)
    if not one.any():
        return 0, 0, 0
    c_hit = (pred[..., :nc][one].argmax(-1) == col[one].argmax(-1)).sum()
    k_hit = (pred[..., nc:nc + ns][one].argmax(-1) == kind[one].argmax(-1)).sum()
    return int(one.sum()), int(c_hit), int(k_hit)


def parse_weights(spec: str, base: dict[str, float]) -> dict[str, float]:
    weights = dict(base)
    for kv in filter(None, spec.split(",")):
        k, v = kv.split("=")
        assert k in weights, f"unknown question type {k}"
        weights[k] = float(v)
    return weights


def save_checkpoint(model, out: str) -> None:
    from safetensors.torch import save_file
    sd = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    text = {k: v for k, v in sd.items() if ".text_model." in k or k.startswith("lm_head")}
    rest = {k: v for k, v in sd.items() if k not in text}
    save_file(text, os.path.join(out, "ckpt_text.safetensors"))
    save_file(rest, os.path.join(out, "ckpt_vision.safetensors"))


def read_checkpoint(folder: str) -> dict:
    """fp32 checkpoint (ckpt_text + ckpt_vision) or, failing that, an exported folder's f16 weights."""
    from safetensors.torch import load_file
    if os.path.exists(os.path.join(folder, "ckpt_text.safetensors")):
        return {**load_file(os.path.join(folder, "ckpt_text.safetensors")),
                **load_file(os.path.join(folder, "ckpt_vision.safetensors"))}
    return {k: v.float() for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}


def checkpoint_text_layers(sd: dict) -> int:
    return 1 + max(int(m.group(1)) for k in sd if (m := re.search(r"\.text_model\.layers\.(\d+)\.", k)))


def load_checkpoint(model, sd: dict) -> list[int]:
    """Loads sd; text layers the checkpoint lacks (growth: appended after its last one) start as the identity:
    their attention and MLP outputs (o_proj, down_proj) are zero, so the model computes what the checkpoint
    did and the new layers learn from there. Returns the indices of the new layers."""
    missing, unexpected = model.load_state_dict(sd, strict=False)
    have = checkpoint_text_layers(sd)
    grown = list(range(have, len(model.model.text_model.layers)))
    new = tuple(f".text_model.layers.{li}." for li in grown)
    assert not unexpected and all("lm_head" in m or any(n in m for n in new) for m in missing), (missing, unexpected)
    with torch.no_grad():
        for li in grown:
            layer = model.model.text_model.layers[li]
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    return grown


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


def _grab_input(store: dict, li: int, module, args, kwargs) -> None:
    """forward pre-hook on a decoder layer: keep its input hidden states (B, L, H) in store[li]."""
    h = args[0] if args else kwargs.get("hidden_states")
    if h is not None:
        store[li] = h


def vlm_forward(model, batch: dict, image_token_id: int, tokens_per_tile: int, layers: tuple[int, ...] = (),
                feat_scale: float = 1.0, stats: dict | None = None):
    """The Idefics3 forward with each scene's tiles encoded once for all of its questions:
    vision tower + connector over (sum n_i) tiles, features copied over the <image> embeddings
    of every sequence of that scene (what Idefics3Model.inputs_merger does), then the Llama.
    checks.py verifies it equals Idefics3ForConditionalGeneration's own forward (feat_scale 1).
    layers: text layers whose input hidden states at the image tokens are returned per scene token
    (averaged over the scene's sequences, which share the prompt before the image, so they agree;
    taken by forward pre-hooks on the decoder layers, independent of output_hidden_states).
    feat_scale: training-only multiplier of the connector output (train.py --connector-ramp; folded
    into the connector weights before export). stats (dict, filled if given): "spread" {layer: relative
    max |diff| between a scene's sequences}, and the mean L2 norms at layer 0 of the image-token input
    ("img"), of what layer 0 adds to it ("upd", input of layer 1 - input of layer 0) and of the text
    tokens' input ("txt").
    returns hidden (B, L, H), connector features (sum n_i, tokens_per_tile, H) (x feat_scale),
    {layer: (sum n_i, tokens_per_tile, H)}"""
    from functools import partial
    pv = batch["tiles"].float() / 127.5 - 1.0                                   # (T, 3, S, S) in [-1, 1]
    ps = model.config.vision_config.patch_size
    pam = torch.ones((pv.shape[0], pv.shape[2] // ps, pv.shape[3] // ps), dtype=torch.bool, device=pv.device)
    vis = model.model.vision_model(pixel_values=pv, patch_attention_mask=pam).last_hidden_state  # (T, P, Hv)
    feats = model.model.connector(vis)                                          # (T, tokens_per_tile, H)
    if feat_scale != 1.0:
        feats = feats * feat_scale
    ids = batch["input_ids"]
    emb = model.model.text_model.get_input_embeddings()(ids)                    # (B, L, H)
    rows = pool.image_rows(batch["n_tiles"], batch["scene_of_seq"], tokens_per_tile)
    src = feats.reshape(-1, feats.shape[-1])[rows].to(emb.dtype)                # (n_image_tokens, H)
    img = ids == image_token_id
    emb = emb.masked_scatter(img[..., None], src)
    text_layers = model.model.text_model.layers
    want = set(layers) | ({0, 1} if stats is not None else set())
    inputs: dict = {}
    handles = [text_layers[li].register_forward_pre_hook(partial(_grab_input, inputs, li), with_kwargs=True)
               for li in sorted(want)]
    try:
        out = model.model.text_model(inputs_embeds=emb, attention_mask=batch["attention_mask"], use_cache=False)
    finally:
        for h in handles:
            h.remove()
    per_layer = {}
    if layers:
        n_rows = feats.shape[0] * feats.shape[1]
        count = torch.zeros(n_rows, device=ids.device).index_add_(0, rows, torch.ones_like(rows, dtype=torch.float32))
        for li in layers:
            h = inputs[li][img].float()                                           # (n_image_tokens, H), input of layer li
            mean = torch.zeros(n_rows, h.shape[-1], device=h.device).index_add_(0, rows, h) / count.clamp(min=1)[:, None]
            if stats is not None:
                with torch.no_grad():
                    stats.setdefault("spread", {})[li] = float((h - mean[rows]).abs().max() / mean.abs().max().clamp(min=1e-6))
            per_layer[li] = mean.reshape(feats.shape[0], feats.shape[1], -1)
    if stats is not None and 0 in inputs and 1 in inputs:
        with torch.no_grad():
            h0, h1 = inputs[0].float(), inputs[1].float()
            txt = batch["attention_mask"].bool() & ~img
            stats["img"] = float(h0[img].norm(dim=-1).mean())
            stats["upd"] = float((h1 - h0)[img].norm(dim=-1).mean())
            stats["txt"] = float(h0[txt].norm(dim=-1).mean())
    return out.last_hidden_state, feats, per_layer


def answer_loss_from_hidden(model, hidden, labels, per_seq_out: list | None = None):
    """answer_loss computed on answer positions only (the LM head runs on those rows alone);
    per_seq_out, if given, receives the per-sequence mean loss (B,) for the log."""
    lab = labels[:, 1:]
    mask = lab != -100                                                           # (B, L-1)
    logits = model.lm_head(hidden[:, :-1][mask]).float()                         # (N, V)
    ce = torch.nn.functional.cross_entropy(logits, lab[mask], reduction="none")  # (N,)
    seq = mask.nonzero()[:, 0]
    per_seq = torch.zeros(lab.shape[0], device=ce.device).index_add_(0, seq, ce) / mask.sum(1).clamp(min=1)
    if per_seq_out is not None:
        per_seq_out.append(per_seq.detach())
    return 0.5 * ce.mean() + 0.5 * per_seq.mean()


def answer_query_pos(labels):
    """(B,) the last prompt position of each sequence (it predicts the first answer token)."""
    return (labels != -100).int().argmax(1) - 1


def image_token_roles(batch: dict, image_token_id: int, tokens_per_tile: int, is_global):
    """Per position (B, L) bool masks: tile tokens, global-image tokens, and tokens that cover an
    object the question names (batch["named"] bits against batch["cover"])."""
    ids = batch["input_ids"]
    img = ids == image_token_id
    rows = pool.image_rows(batch["n_tiles"], batch["scene_of_seq"], tokens_per_tile)  # (n_img,) in position order
    seq = img.nonzero()[:, 0]                                                          # (n_img,)
    hit = (batch["cover"].reshape(-1)[rows].long() & batch["named"][seq]) != 0
    glob = is_global[rows // tokens_per_tile]
    tile, gl, tgt = torch.zeros_like(img), torch.zeros_like(img), torch.zeros_like(img)
    tile[img], gl[img], tgt[img] = ~glob, glob, hit
    return tile, gl, tgt


def check_answer_attention(model, batch, image_token_id: int, tokens_per_tile: int) -> list[float]:
    """attn_sup.answer_row recomputed in every text layer == what the layer itself computed (its
    output at the answer position), fp32: relative max |diff| per layer."""
    from functools import partial
    qpos = answer_query_pos(batch["labels"])
    diffs: dict[int, float] = {}

    def grab(li, m, args, kwargs, out):
        h = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        pe = kwargs["position_embeddings"] if "position_embeddings" in kwargs else args[1]
        diffs[li] = attn_sup.check(m, h, pe, qpos, out[0] if isinstance(out, tuple) else out)

    layers = model.model.text_model.layers
    handles = [layer.self_attn.register_forward_hook(partial(grab, li), with_kwargs=True) for li, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            vlm_forward(model, batch, image_token_id, tokens_per_tile)
    finally:
        for h in handles:
            h.remove()
    return [diffs[i] for i in range(len(layers))]


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

    resumed = read_checkpoint(args.resume) if args.resume else {}
    n_text = args.text_layers or (checkpoint_text_layers(resumed) if resumed else 4)
    config = hf_files.model_config(tok, text_layers=n_text)
    model = Idefics3ForConditionalGeneration(config)
    grown: list[int] = []
    if resumed:
        grown = load_checkpoint(model, resumed)
        if grown:
            print(f"text layers {grown} appended to the checkpoint's {grown[0]}, starting as the identity", flush=True)
        del resumed
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
    aux_head = torch.nn.Linear(config.text_config.hidden_size, data.AUX_DIM)
    aux_file = os.path.join(args.resume or "", "ckpt_aux.safetensors")
    aux_saved: dict = {}
    if args.resume and os.path.exists(aux_file):  # the head(s) of the run resumed from (training-only)
        from safetensors.torch import load_file
        aux_saved = load_file(aux_file)  # "weight", "bias"; --aux-layers heads as "layer<l>.weight" / ".bias"
        aux_head.load_state_dict({k: v for k, v in aux_saved.items() if not k.startswith("layer")})
        print(f"auxiliary head resumed from {aux_file}", flush=True)
    aux_head.cuda()
    aux_in_scale = 1.0 / (args.connector_scale * args.aux_input_scale)
    image_token_id = config.image_token_id
    tpt = hf_files.IMAGE_SEQ_LEN

    weights = parse_weights(args.qa_weights, data.QA_WEIGHTS)
    weights1 = parse_weights(args.phase1_weights, data.QA_WEIGHTS)
    gen_easy = args.gen_easy_fraction
    if gen_easy is None:
        gen_easy = max(args.easy_fraction, 0.5 if args.phase1 > 0 else 0.0)
    # share of 1-2-object scenes after phase 1 (the full distribution has n <= 2 a quarter of the time)
    p_easy = args.easy_fraction + (1 - args.easy_fraction) * 0.25
    print(f"question weights {weights}, easy fraction {args.easy_fraction} (1-2-object scenes {p_easy:.2f}); "
          f"phase 1: {args.phase1:.2f} of the run, weights {weights1}; rendered easy {gen_easy}", flush=True)
    # scenes carry every question type with equal odds; make_batch re-weights them per phase
    stream = pool.SceneStream(tok, tpt, seed=args.seed * 10_000_000 + 5_000_000, easy_fraction=gen_easy,
                              weights={t: 1.0 for t in weights}, tile_positions=args.aux_tile_positions)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=args.workers, prefetch_factor=4,
                                         persistent_workers=True)
    incoming: queue.Queue = queue.Queue(maxsize=256)
    threading.Thread(target=lambda: [incoming.put(c) for c in loader], daemon=True).start()
    hard_pool, easy_pool = pool.ScenePool(args.pool, "cuda"), pool.ScenePool(args.easy_pool, "cuda")

    def take(records: list[dict]) -> None:
        easy_pool.add([r for r in records if r["n_objects"] <= 2])
        hard_pool.add([r for r in records if r["n_objects"] > 2])

    t_wait = time.time()
    while len(hard_pool) + len(easy_pool) < args.pool_min or min(len(hard_pool), len(easy_pool)) < 32:
        take(incoming.get())
    print(f"pool warm: {len(easy_pool)} + {len(hard_pool)} scenes in {time.time() - t_wait:.1f}s", flush=True)

    # where the answer position looks: checked once against the layers' own outputs, then hooked
    sup_layers = [int(x) for x in args.attn_sup_layers.split(",") if x] if args.attn_sup > 0 else []
    sup_types = torch.tensor([pool.QTYPES.index(t) for t in args.attn_sup_types.split(",") if t], device="cuda")
    n_layers = len(model.model.text_model.layers)
    attn = None
    try:
        chk = pool.make_batch(easy_pool.sample(4, rng) + hard_pool.sample(4, rng), 4, tok.pad_token_id, rng, "cuda")
        diffs = check_answer_attention(model, chk, image_token_id, tpt)
        ok = max(diffs) < 1e-2  # a wrong RoPE, scale or head mapping is off by O(0.1-1)
        print(f"answer-attention recomputation vs the layers' outputs (fp32): relative max |diff| per layer "
              f"{['%.1e' % d for d in diffs]} -> {'OK' if ok else 'FAILED'}", flush=True)
        if ok:
            attn = attn_sup.AnswerAttention(model.model.text_model, sup_layers)
    except Exception as e:  # noqa: BLE001 - the run goes on without it
        print(f"answer-attention check FAILED ({type(e).__name__}: {e}); no attention supervision or log", flush=True)
    if attn is None and args.attn_sup > 0:
        print("WARNING: --attn-sup disabled", flush=True)
        args.attn_sup = 0.0
    sup_head = None if args.attn_sup_head < 0 else args.attn_sup_head
    probes, shape_class = None, None
    if args.probe_kind and attn is not None:
        firsts = [tok(data.answer_text(k), add_special_tokens=False)["input_ids"][0] for k in data.AUX_SHAPES]
        if len(set(firsts)) == len(firsts):
            shape_class = torch.full((len(tok),), -1, dtype=torch.long, device="cuda")
            shape_class[torch.tensor(firsts, device="cuda")] = torch.arange(len(firsts), device="cuda")
            probes, attn.keep_inputs = attn_sup.KindProbes(), True
        else:
            print(f"kind probes off: shape words share a first token {firsts}", flush=True)
    att_acc = torch.zeros(n_layers, 4, device="cuda")  # per layer: mass on tile, global, target tokens; target seqs
    att_n = 0
    attn_loss_acc = 0.0

    def sample_scenes(phase1: bool) -> list[dict]:
        n = args.scenes_per_batch
        n_easy = n if phase1 else sum(rng.random() < p_easy for _ in range(n))
        picked = easy_pool.sample(n_easy, rng)
        return picked + hard_pool.sample(n - len(picked), rng)

    groups = {(d, v): [] for d in (True, False) for v in (True, False)}  # (weight decay, vision side)
    for n, p in model.named_parameters():
        vision_side = ".vision_model." in n or ".connector." in n
        groups[(not (p.ndim < 2 or "norm" in n or "embed" in n), vision_side)].append(p)
    groups[(True, True)] += list(aux_head.parameters())
    # training-only heads on the image tokens' hidden states entering --aux-layers (LM side, fresh)
    text_layers = model.model.text_model.layers
    aux_layers = tuple(int(x) for x in args.aux_layers.split(",") if x)
    if any(not 1 <= li < len(text_layers) for li in aux_layers):
        raise SystemExit(f"--aux-layers {args.aux_layers}: layers must be in 1..{len(text_layers) - 1}")
    layer_heads = torch.nn.ModuleDict({str(li): torch.nn.Linear(config.text_config.hidden_size, data.AUX_DIM)
                                       for li in aux_layers}).cuda()
    for li in aux_layers:
        saved = {k.split(".", 1)[1]: v for k, v in aux_saved.items() if k.split(".", 1)[0] == f"layer{li}"}
        if saved:
            layer_heads[str(li)].load_state_dict(saved)
            print(f"auxiliary head of layer {li} resumed from {aux_file}", flush=True)
    groups[(True, False)] += list(layer_heads.parameters())
    opt = torch.optim.AdamW([{"params": ps, "weight_decay": 0.05 if d else 0.0, "mult": args.vision_lr_mult if v else 1.0}
                             for (d, v), ps in groups.items() if ps], lr=args.lr, betas=(0.9, 0.95), fused=True)

    def progress(step: int) -> float:
        """Share of the run done: whichever ends first, --steps or --time-budget."""
        return max(step / max(1, args.steps), (time.time() - t0) / args.time_budget)

    def lr_at(step: int) -> float:
        """Linear warmup, then cosine to 5% over whichever ends first: --steps or --time-budget."""
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = max((step - args.warmup) / max(1, args.steps - args.warmup), (time.time() - t0) / args.time_budget)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    def ramp_at(step: int) -> float:
        """--connector-ramp: the connector-output multiplier at this point of the run."""
        if args.connector_ramp == 1.0:
            return 1.0
        return 1.0 + (args.connector_ramp - 1.0) * min(1.0, progress(step) / max(1e-6, args.connector_ramp_frac))

    if aux_layers or args.connector_ramp != 1.0:  # the layer-input hooks and the per-scene mean, checked once
        try:
            st: dict = {}
            with torch.no_grad():
                _, f_chk, lf = vlm_forward(model, chk, image_token_id, tpt, aux_layers, stats=st)
            assert all(lf[li].shape == f_chk.shape for li in aux_layers), "per-layer features misshapen"
            spread = max(st.get("spread", {0: 0.0}).values())
            print(f"layer inputs at image tokens (fp32): sequences of a scene agree within {spread:.1e} (relative); "
                  f"norms at layer 0: image tokens {st['img']:.3f}, layer 0's update {st['upd']:.3f}, "
                  f"text tokens {st['txt']:.3f}", flush=True)
            assert spread < 1e-3, "a scene's sequences disagree at the image tokens"
        except Exception as e:  # noqa: BLE001 - the run goes on without the layer targets
            print(f"WARNING: layer-input check FAILED ({type(e).__name__}: {e}); --aux-layers disabled", flush=True)
            aux_layers = ()

    n_types = len(pool.QTYPES)
    type_loss, type_n = torch.zeros(n_types, device="cuda"), torch.zeros(n_types, device="cuda")
    acc_n = acc_c = acc_k = acc_tn = acc_tk = 0
    phase1_steps = 0
    t0, step, seen, loss_acc, aux_acc, lay_acc = time.time(), 0, 0, 0.0, 0.0, 0.0
    lay_n = {li: [0, 0] for li in aux_layers}  # per aux layer: object tile tokens, kind hits (since the last report)
    norm_acc, norm_n = {"img": 0.0, "upd": 0.0, "txt": 0.0}, 0
    scale = 1.0
    added0 = hard_pool.added + easy_pool.added
    while True:
        while not incoming.empty():
            take(incoming.get_nowait())
        in_phase1 = progress(step) < args.phase1
        phase1_steps += in_phase1
        batch = pool.make_batch(sample_scenes(in_phase1), args.qas_per_image, tok.pad_token_id, rng, "cuda",
                                type_weights=weights1 if in_phase1 else weights)
        for g in opt.param_groups:
            g["lr"] = lr_at(step) * g["mult"]
        is_global = torch.zeros(batch["tiles"].shape[0], dtype=torch.bool, device="cuda")
        is_global[torch.cumsum(batch["n_tiles"], 0) - 1] = True                  # the last tile of each scene
        log_step = (step + 1) % 10 == 0
        if attn is not None:
            attn.query_pos, attn.log, attn.probs = answer_query_pos(batch["labels"]), log_step, {}
        scale = ramp_at(step)
        st = {} if log_step else None
        with torch.autocast("cuda", dtype=torch.bfloat16):
            hidden, feats, layer_feats = vlm_forward(model, batch, image_token_id, tpt, aux_layers, scale, st)
            aux_out = aux_head(feats * (aux_in_scale / scale))                    # (T, 16, AUX_DIM)
            per_seq: list = []
            lm_loss = answer_loss_from_hidden(model, hidden, batch["labels"], per_seq)
        aux_loss = auxiliary_loss(aux_out.float(), batch["aux"], args.aux_balanced, is_global, args.aux_kind_weight)
        loss = lm_loss + args.aux_weight * aux_loss
        if st and "img" in st:
            for k in norm_acc:
                norm_acc[k] += st[k]
            norm_n += 1
        if aux_layers:
            lay_loss = 0.0
            for li in aux_layers:
                lay_pred = layer_heads[str(li)](text_layers[li].input_layernorm(layer_feats[li])).float()  # (T, 16, D)
                lay_loss = lay_loss + auxiliary_loss(lay_pred, batch["aux"], args.aux_balanced, is_global,
                                                     args.aux_kind_weight) / len(aux_layers)
                if log_step:
                    tn_, _, tk_ = aux_accuracy(lay_pred.detach(), batch["aux"], ~is_global)
                    lay_n[li][0] += tn_
                    lay_n[li][1] += tk_
            loss = loss + args.aux_layers_weight * lay_loss
            if log_step:
                lay_acc += float(lay_loss)
        if attn is not None and (args.attn_sup > 0 or log_step):
            try:
                if attn.error is not None:
                    raise attn.error
                tile_m, glob_m, tgt_m = image_token_roles(batch, image_token_id, tpt, is_global)
                tgt_m = tgt_m & torch.isin(batch["qtype"], sup_types)[:, None]
                if args.attn_sup > 0:
                    a_loss = sum(attn_sup.loss(attn.probs[li], tgt_m, sup_head) for li in sup_layers) / len(sup_layers)
                    if log_step:
                        attn_loss_acc += float(a_loss)
                    loss = loss + args.attn_sup * a_loss
                if log_step:
                    has = tgt_m.any(-1)
                    for li, pr in attn.probs.items():
                        pm = pr.detach().mean(1)                                    # (B, L) head mean
                        att_acc[li, 0] += (pm * tile_m).sum(-1).mean()
                        att_acc[li, 1] += (pm * glob_m).sum(-1).mean()
                        if has.any():
                            att_acc[li, 2] += (pm[has] * tgt_m[has]).sum(-1).mean()
                            att_acc[li, 3] += 1
                    att_n += 1
                if probes is not None and log_step:
                    try:
                        probes.update(*attn_sup.probe_features(
                            attn, model.model.text_model.layers, batch, image_token_id, tpt, is_global,
                            attn.query_pos, shape_class, pool.QTYPES.index("shape"), len(data.AUX_COLORS),
                            len(data.AUX_SHAPES)))
                    except Exception as e:  # noqa: BLE001 - a diagnostic: the run goes on without it
                        print(f"step {step}: kind probes FAILED ({type(e).__name__}: {e}); disabled", flush=True)
                        probes, attn.keep_inputs = None, False
                attn.query_pos, attn.probs, attn.inputs = None, {}, {}
            except Exception as e:  # noqa: BLE001 - the run goes on without attention supervision or log
                print(f"step {step}: answer-attention FAILED ({type(e).__name__}: {e}); disabled", flush=True)
                attn.remove()
                attn, args.attn_sup = None, 0.0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += batch["input_ids"].shape[0]
        if step % 10 == 0:
            loss_acc += lm_loss.item()
            aux_acc += aux_loss.item()
            type_loss.index_add_(0, batch["qtype"], per_seq[0].float())
            type_n.index_add_(0, batch["qtype"], torch.ones_like(per_seq[0], dtype=torch.float32))
            n_, c_, k_ = aux_accuracy(aux_out.detach().float(), batch["aux"])
            acc_n, acc_c, acc_k = acc_n + n_, acc_c + c_, acc_k + k_
            tn_, _, tk_ = aux_accuracy(aux_out.detach().float(), batch["aux"], ~is_global)
            acc_tn, acc_tk = acc_tn + tn_, acc_tk + tk_
        if step % args.log_every == 0:
            el = time.time() - t0
            fresh = hard_pool.added + easy_pool.added - added0
            per_type = " ".join(f"{t} {float(type_loss[i] / type_n[i]):.3f}" for i, t in enumerate(pool.QTYPES)
                                if type_n[i] > 0)
            print(f"step {step}{' [phase 1]' if in_phase1 else ''} answer loss {loss_acc / (args.log_every / 10):.4f} "
                  f"aux loss {aux_acc / (args.log_every / 10):.4f} lr {lr_at(step):.2e} seqs {seen} "
                  f"elapsed {el:.0f}s ({step / el:.1f} steps/s, {seen / el:.0f} seq/s, {fresh / el:.0f} new scenes/s, "
                  f"each used {step * args.scenes_per_batch / max(1, fresh + args.pool_min):.1f}x)\n"
                  f"    per type: {per_type}; aux head on object tokens: colour {acc_c / max(1, acc_n):.3f} "
                  f"kind {acc_k / max(1, acc_n):.3f} ({acc_n} tokens; kind on tile tokens {acc_tk / max(1, acc_tn):.3f})"
                  + (f"; aux loss on layers {list(aux_layers)} {lay_acc / (args.log_every / 10):.4f}, their heads' kind "
                     "on tile tokens " + " ".join(f"L{li} {k / max(1, n):.3f}" for li, (n, k) in lay_n.items())
                     if aux_layers else ""), flush=True)
            if norm_n:
                print(f"    norms at layer 0 (mean L2): image tokens {norm_acc['img'] / norm_n:.3f}, layer 0's update "
                      f"to them {norm_acc['upd'] / norm_n:.3f}, text tokens {norm_acc['txt'] / norm_n:.3f}"
                      + (f"; connector ramp x{scale:.2f}" if args.connector_ramp != 1.0 else ""), flush=True)
                norm_acc, norm_n = {k: 0.0 for k in norm_acc}, 0
            lay_n = {li: [0, 0] for li in aux_layers}
            if att_n:
                n10 = args.log_every / 10
                print("    answer-position attention (head mean; tile / global-image / named-object tokens): " + "; ".join(
                    f"L{li} {float(att_acc[li, 0]) / att_n:.3f} / {float(att_acc[li, 1]) / att_n:.3f} / "
                    f"{float(att_acc[li, 2]) / max(1.0, float(att_acc[li, 3])):.3f}" for li in range(n_layers))
                    + (f"; attention loss {attn_loss_acc / n10:.3f}" if args.attn_sup > 0 else ""), flush=True)
                att_acc.zero_()
                att_n, attn_loss_acc = 0, 0.0
            if probes is not None:
                print(f"    kind probes (online accuracy, chance 0.14): {probes.report()}", flush=True)
            loss_acc = aux_acc = lay_acc = 0.0
            type_loss.zero_()
            type_n.zero_()
            acc_n = acc_c = acc_k = acc_tn = acc_tk = 0
        if step >= args.steps or time.time() - t0 > args.time_budget:
            break
    train_s = time.time() - t0
    n_scenes = hard_pool.added + easy_pool.added
    print(f"trained {step} steps ({phase1_steps} in phase 1), {seen} sequences, {n_scenes} scenes in {train_s:.0f}s",
          flush=True)
    model.eval()
    if scale != 1.0:  # fold the training-only connector multiplier into the weights (a linear map, no bias needed)
        with torch.no_grad():
            for prm in connector.parameters():
                prm.mul_(scale)
        print(f"connector ramp x{scale:.3f} folded into the connector weights (resume with --aux-input-scale "
              f"{args.aux_input_scale * args.connector_scale * scale:.4g})", flush=True)
    if args.ckpt_out:
        os.makedirs(args.ckpt_out, exist_ok=True)
        save_checkpoint(model, args.ckpt_out)
        from safetensors.torch import save_file
        heads = {**aux_head.state_dict(), **{f"layer{li}.{k}": v for li in aux_layers
                                             for k, v in layer_heads[str(li)].state_dict().items()}}
        save_file({k: v.detach().cpu().contiguous() for k, v in heads.items()},
                  os.path.join(args.ckpt_out, "ckpt_aux.safetensors"))
    meta = {"steps": step, "phase1_steps": phase1_steps, "sequences": seen, "scenes": n_scenes,
            "train_seconds": round(train_s, 1),
            "parameters": n_params, "device": torch.cuda.get_device_name(0), "args": vars(args),
            "connector_scale_folded": scale,
            "resumed": bool(args.resume), "text_layers_grown": grown}
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
