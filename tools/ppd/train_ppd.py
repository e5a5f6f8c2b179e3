"""Train parallel prompt decoding (PPD) prompt embeddings for a frozen Hugging Face model.

    python3 tools/ppd/train_ppd.py --model public/models/lumen-demo --data demo \
        --out ppd.safetensors --report ppd_report.json
    python3 tools/ppd/train_ppd.py --model path/to/causal-lm --data prompts.jsonl --out ppd.safetensors

k prompt embeddings P1..Pk (shape [k, hidden]) are trained so that, appended after the last
accepted token x_t, the logits at Pi predict token x_{t+i+1} (DESIGN.md section 5). Only the
embeddings train; the model is frozen. Targets come from the model itself: it first generates
greedy continuations of the training prompts (self-distillation data), then the loss is the KL
divergence from the model's own next-token distribution at position t+i (which predicts
x_{t+i+1}) to the distribution at Pi, weighted decay**(i-1).

One forward pass trains many cut points: the sequence is followed by one block of k prompt
tokens per cut t; a 4-D mask lets block t see x_0..x_t and its own earlier prompt tokens only,
and prompt token i takes position t+i (the token it stands in for). A self-check replaces a
block by the true next tokens and requires the logits to equal the plain causal pass.

Supported: Idefics3 (SmolVLM; `--data demo` draws the demo scenes) and any causal LM whose
decoder takes `inputs_embeds` + a 4-D additive mask (Llama, Qwen2, ...; `--data FILE.jsonl`
with {"prompt": ...} or {"messages": [...]} lines). Reports per-token top-1 accuracy on held-out
prompts (the acceptance proxy) and the expected tokens per step of a linear top-1 draft.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

import ppd_data


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", default="demo", help="'demo' (demo-model scenes) or a .jsonl prompt file")
    p.add_argument("--out", required=True, help="ppd.safetensors to write (tensor prompt_embeddings)")
    p.add_argument("--report", help="JSON report path")
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--decay", type=float, default=0.8)
    p.add_argument("--n-train", type=int, default=3000)
    p.add_argument("--n-eval", type=int, default=300)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--gen-batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--cuts", type=int, default=24, help="cut points per sequence per step")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--time-budget", type=float, default=1e9)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


class Frozen:
    """The parts of a model PPD needs: decoder (takes inputs_embeds), input embeddings, head."""

    def __init__(self, model):
        self.model = model
        inner = getattr(model, "model", model)
        self.decoder = getattr(inner, "text_model", None) or getattr(inner, "language_model", None) or inner
        self.embed = model.get_input_embeddings()
        self.head = model.get_output_embeddings()
        self.hidden = self.embed.weight.shape[1]

    def hidden_states(self, embeds, mask4d, position_ids):
        out = self.decoder(inputs_embeds=embeds, attention_mask=mask4d, position_ids=position_ids, use_cache=False)
        return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]


def build_batch(samples, k: int, cuts: int, rng: random.Random, device, dtype):
    """Pack B sequences + per-cut prompt blocks into one forward pass.
    returns embeds (B, L+C*k, H), mask (B, 1, Q, Q), positions (B, Q), cut (B, C), valid (B, C)"""
    B = len(samples)
    L = max(s["embeds"].shape[0] for s in samples)
    H = samples[0]["embeds"].shape[1]
    Q = L + cuts * k
    embeds = torch.zeros((B, L, H), device=device, dtype=dtype)
    allowed = torch.zeros((B, Q, Q), device=device, dtype=torch.bool)
    pos = torch.zeros((B, Q), device=device, dtype=torch.long)
    cut = torch.zeros((B, cuts), device=device, dtype=torch.long)
    valid = torch.zeros((B, cuts), device=device, dtype=torch.bool)
    causal = torch.tril(torch.ones((L, L), device=device, dtype=torch.bool))
    tri_k = torch.tril(torch.ones((k, k), device=device, dtype=torch.bool))
    for b, s in enumerate(samples):
        n = s["embeds"].shape[0]
        embeds[b, :n] = s["embeds"].to(device, dtype)
        allowed[b, :L, :L] = causal
        pos[b, :L] = torch.arange(L, device=device)
        choices = list(range(s["gen_start"] - 1, n - 2))  # last accepted token index t; t+2 <= n-1
        picks = rng.sample(choices, min(cuts, len(choices))) if choices else []
        for j, t in enumerate(picks):
            cut[b, j], valid[b, j] = t, True
            r0 = L + j * k
            allowed[b, r0: r0 + k, : t + 1] = True
            allowed[b, r0: r0 + k, r0: r0 + k] = tri_k
            pos[b, r0: r0 + k] = t + 1 + torch.arange(k, device=device)
        for j in range(len(picks), cuts):  # unused block: let it see itself so softmax is defined
            r0 = L + j * k
            allowed[b, r0: r0 + k, r0: r0 + k] = tri_k
    mask = torch.zeros((B, 1, Q, Q), device=device, dtype=dtype)
    mask.masked_fill_(~allowed[:, None], torch.finfo(dtype).min)
    return embeds, mask, pos, cut, valid, L


def ppd_forward(frozen: Frozen, prompt, samples, k, cuts, rng, device, dtype, replace_with_truth=False):
    """Student logits at prompt rows (B, C, k, V), teacher logits (B, C, k, V), targets (B, C, k), ok (B, C, k)."""
    embeds, mask, pos, cut, valid, L = build_batch(samples, k, cuts, rng, device, dtype)
    B, C = cut.shape
    blocks = prompt.to(dtype)[None, None].expand(B, C, k, -1)                      # (B, C, k, H)
    ids = torch.full((B, L + k + 1), -1, device=device, dtype=torch.long)
    for b, s in enumerate(samples):
        ids[b, : len(s["ids"])] = s["ids"].to(device)
    tgt_idx = cut[:, :, None] + 1 + torch.arange(1, k + 1, device=device)[None, None]  # (B, C, k): x_{t+1+i}
    targets = torch.gather(ids, 1, tgt_idx.reshape(B, -1)).reshape(B, C, k)
    if replace_with_truth:  # self-check: the true tokens x_{t+1..t+k} in place of P1..Pk
        true_idx = (cut[:, :, None] + torch.arange(1, k + 1, device=device)[None, None]).clamp(max=L - 1)
        blocks = torch.gather(embeds, 1, true_idx.reshape(B, -1, 1).expand(-1, -1, embeds.shape[-1]))
        blocks = blocks.reshape(B, C, k, -1)
    x = torch.cat([embeds, blocks.reshape(B, C * k, -1)], dim=1)                     # (B, L + C*k, H)
    h = frozen.hidden_states(x, mask, pos)                                           # (B, Q, H)
    student = frozen.head(h[:, L:]).reshape(B, C, k, -1).float()                     # (B, C, k, V)
    t_rows = (cut[:, :, None] + torch.arange(1, k + 1, device=device)[None, None]).clamp(max=L - 1)
    th = torch.gather(h[:, :L], 1, t_rows.reshape(B, -1, 1).expand(-1, -1, h.shape[-1]))
    teacher = frozen.head(th).reshape(B, C, k, -1).float().detach()                  # (B, C, k, V)
    ok = valid[:, :, None] & (targets >= 0)
    return student, teacher, targets, ok


def evaluate(frozen, prompt, samples, k, device, dtype, batch=16):
    """Top-1 accuracy of each prompt token and expected tokens/step of a linear top-1 draft."""
    rng = random.Random(1234)
    hits = torch.zeros(k)
    count = torch.zeros(k)
    chain = torch.zeros(k + 1)
    n_cuts = 0
    with torch.no_grad():
        for i in range(0, len(samples), batch):
            chunk = samples[i: i + batch]
            cuts = max(1, max(s["embeds"].shape[0] - s["gen_start"] for s in chunk))
            s_log, _, tgt, ok = ppd_forward(frozen, prompt, chunk, k, cuts, rng, device, dtype)
            hit = (s_log.argmax(-1) == tgt) & ok
            hits += hit.sum((0, 1)).cpu().float()
            count += ok.sum((0, 1)).cpu().float()
            first = ok[:, :, 0]
            run = torch.cumprod(hit.int(), dim=-1).sum(-1)  # accepted draft length per cut
            for a in range(k + 1):
                chain[a] += ((run == a) & first).sum().cpu()
            n_cuts += int(first.sum())
    acc = (hits / count.clamp(min=1)).tolist()
    expected = 1 + sum(a * chain[a].item() for a in range(k + 1)) / max(1, n_cuts)
    return {"top1_accuracy": [round(a, 4) for a in acc], "positions": count.int().tolist(),
            "expected_tokens_per_step_linear_top1": round(expected, 3)}


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, args.dtype)
    model, tokenizer_like = ppd_data.load_model(args.model, device, dtype)
    for p in model.parameters():
        p.requires_grad_(False)
    frozen = Frozen(model)
    t0 = time.time()
    train = ppd_data.self_generated(model, tokenizer_like, frozen, args.data, "train", args.n_train,
                                    args.max_new_tokens, args.gen_batch, device)
    held = ppd_data.self_generated(model, tokenizer_like, frozen, args.data, "eval", args.n_eval,
                                   args.max_new_tokens, args.gen_batch, device)
    gen_s = time.time() - t0
    print(f"self-generated {len(train)} train / {len(held)} eval sequences in {gen_s:.0f}s", flush=True)

    with torch.no_grad():  # self-check of the mask and positions
        s_log, teacher, _, ok = ppd_forward(frozen, torch.zeros(args.k, frozen.hidden, device=device), train[:4],
                                            args.k, 8, random.Random(0), device, dtype, replace_with_truth=True)
        # with true tokens, block row i-1 (token x_{t+i}) must reproduce the causal logits at row t+i
        diff = (s_log - teacher)[ok].abs().max().item() if ok.any() else 0.0
    print(f"mask self-check: max |logit diff| = {diff:.2e}", flush=True)
    assert diff < (1e-3 if dtype == torch.float32 else 5e-2), "4-D mask / positions do not reproduce causal logits"

    emb = frozen.embed.weight.detach().float()
    prompt = torch.nn.Parameter(emb.mean(0, keepdim=True).repeat(args.k, 1)
                                + 0.02 * emb.std() * torch.randn(args.k, frozen.hidden, device=device))
    opt = torch.optim.Adam([prompt], lr=args.lr)
    weights = torch.tensor([args.decay ** i for i in range(args.k)], device=device)
    before = evaluate(frozen, prompt.detach(), held, args.k, device, dtype)
    t1 = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * (1 - step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        batch = rng.sample(train, min(args.batch, len(train)))
        student, teacher, _, ok = ppd_forward(frozen, prompt, batch, args.k, args.cuts, rng, device, dtype)
        kl = F.kl_div(F.log_softmax(student, -1), F.log_softmax(teacher, -1), log_target=True,
                      reduction="none").sum(-1)                                    # (B, C, k)
        loss = (kl * weights * ok).sum() / (ok.float() * weights).sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            print(f"ppd step {step + 1} loss {loss.item():.4f} ({time.time() - t1:.0f}s)", flush=True)
        if time.time() - t1 > args.time_budget:
            break
    train_s = time.time() - t1
    after = evaluate(frozen, prompt.detach(), held, args.k, device, dtype)
    print(f"held-out top-1 accuracy per prompt token: before {before['top1_accuracy']} "
          f"after {after['top1_accuracy']}; expected tokens/step (linear top-1 draft) "
          f"{after['expected_tokens_per_step_linear_top1']}", flush=True)

    from safetensors.torch import save_file
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file({"prompt_embeddings": prompt.detach().float().cpu().contiguous()}, args.out,
              metadata={"format": "pt", "k": str(args.k), "decay": str(args.decay), "hidden_size": str(frozen.hidden),
                        "trained_on": args.data, "steps": str(step + 1)})
    report = {"model": args.model, "k": args.k, "decay": args.decay, "steps": step + 1,
              "train_sequences": len(train), "eval_sequences": len(held), "generation_seconds": round(gen_s, 1),
              "train_seconds": round(train_s, 1), "mask_self_check_max_diff": diff, "before": before, "after": after,
              "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu"}
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    sys.exit(main())
