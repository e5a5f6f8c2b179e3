"""Self-distillation data for PPD training: load a model, let it answer prompts greedily, and keep
each sequence as (token ids, decoder input embeddings, index where the generation starts).

For Idefics3 the decoder's input embeddings already hold the image features (captured with a
forward pre-hook on the text decoder during a full-sequence pass), so PPD training never runs
the vision tower again. For plain causal LMs they are the token embeddings.
Sources: 'demo' (demo-model scenes; train and eval seeds are disjoint from each other and from
the demo model's training seeds) or a .jsonl file of {"prompt": str} / {"messages": [...]}.
"""
from __future__ import annotations

import json
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_WEIGHTS = {"color": 1.0, "shape": 1.0, "count": 1.0, "position": 1.0, "relative": 1.0, "describe": 4.0}


def load_model(path: str, device: str, dtype):
    """(model, processor-or-tokenizer); Idefics3 folders get their processor."""
    model_type = json.load(open(os.path.join(path, "config.json"))).get("model_type")
    if model_type in ("idefics3", "smolvlm"):
        from transformers import AutoModelForImageTextToText, AutoProcessor
        proc = AutoProcessor.from_pretrained(path, use_fast=False)
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        proc = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
    return model.to(device).eval(), proc


def _tokenizer(proc):
    return getattr(proc, "tokenizer", proc)


def _demo_prompts(split: str, n: int):
    sys.path.insert(0, os.path.join(HERE, "..", "demo-model"))
    import scenes
    base = 900_000_000 if split == "train" else scenes.HELDOUT_SEED_BASE + 500_000
    out = []
    for i in range(n):
        sc = scenes.make_scene(base + i)
        _, q, _ = scenes.make_qa(sc, random.Random(base + i), weights=DEMO_WEIGHTS)
        out.append({"text": f"<|im_start|>User:<image>{q}<end_of_utterance>\nAssistant:", "image": sc.image})
    return out


def _jsonl_prompts(path: str, tok, split: str, n: int):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    random.Random(0).shuffle(rows)
    rows = rows[-n:] if split == "eval" else rows[:n]
    out = []
    for r in rows:
        if "messages" in r:
            text = tok.apply_chat_template(r["messages"], add_generation_prompt=True, tokenize=False)
        else:
            text = r["prompt"]
        out.append({"text": text, "image": None})
    return out


class _Capture:
    """Forward pre-hook that keeps the decoder's inputs_embeds of the last call."""

    def __init__(self, module):
        self.value = None
        self.handle = module.register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, _module, args, kwargs):
        self.value = kwargs.get("inputs_embeds")
        if self.value is None and args:
            self.value = args[0] if args[0].dtype.is_floating_point else None


@torch.no_grad()
def self_generated(model, proc, frozen, source: str, split: str, n: int, max_new: int, batch: int, device):
    tok = _tokenizer(proc)
    tok.padding_side = "left"
    prompts = _demo_prompts(split, n) if source == "demo" else _jsonl_prompts(source, tok, split, n)
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    pad = tok.pad_token_id if tok.pad_token_id is not None else next(iter(eos))
    samples = []
    for i in range(0, len(prompts), batch):
        chunk = prompts[i: i + batch]
        texts = [p["text"] for p in chunk]
        if chunk[0]["image"] is not None:
            enc = proc(text=texts, images=[[p["image"]] for p in chunk], return_tensors="pt", padding=True)
        else:
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(device) for k, v in enc.items()}
        out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=pad,
                             eos_token_id=list(eos))
        P = enc["input_ids"].shape[1]
        gen_mask = torch.ones_like(out[:, P:])
        for b in range(out.shape[0]):  # keep up to and including the first EOS
            row = out[b, P:].tolist()
            end = next((j + 1 for j, t in enumerate(row) if t in eos), len(row))
            gen_mask[b, end:] = 0
        att = torch.cat([enc["attention_mask"], gen_mask], dim=1)
        cap = _Capture(frozen.decoder)
        fwd = {k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask")}
        model(input_ids=out, attention_mask=att, **fwd)
        cap.handle.remove()
        embeds = cap.value if cap.value is not None else frozen.embed(out)
        for b in range(out.shape[0]):
            keep = att[b].bool()
            first = int(keep.nonzero()[0])
            n_prompt = int(enc["attention_mask"][b].sum())
            samples.append({"ids": out[b][keep].cpu(), "embeds": embeds[b][keep].detach().clone(),
                            "gen_start": n_prompt})
            assert first == P - n_prompt
    return samples
