#!/usr/bin/env python3
"""Parity oracle: builds Llama/Qwen2 causal LMs with random weights (fixed seed, float32) in
PyTorch transformers, saves them like a Hugging Face repo (config.json, generation_config.json,
model.safetensors) and dumps reference outputs for a fixed token-id prompt:

  reference.safetensors
    prompt_ids    int32 [T]          the prompt
    prompt_logits f32   [T or 1, V]  logits at every prompt position ("tiny" configs) or the last one
    greedy_ids    int32 [N]          N greedy tokens (no EOS stop), N = 32
    step_logits   f32   [N, V]       logits that chose greedy_ids[i] (step_logits[0] = last prompt row)
  reference.json  the ids and a summary, for humans

Weights are re-initialised by this script (see build()), not by transformers' defaults. The oracle recomputes the full sequence for every greedy step (no KV cache), in float32 on the CPU
with eager attention, so it is independent of any caching logic.

Usage (GPU host or any machine with torch + transformers + safetensors):
  python3 tools/parity/make_reference.py --out DIR [--models tiny-llama,tiny-qwen2,smollm2-135m,qwen2-0.5b]
"""
import argparse
import json
import os
import sys
import time

import torch
from safetensors.torch import save_file

# Hugging Face hub-style configs (top-level rope_theta, as the real repos ship them).
CONFIGS = {
    "tiny-llama": dict(
        architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=128, vocab_size=256,
        rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=512,
        hidden_act="silu", bos_token_id=1, eos_token_id=2, attention_bias=False, mlp_bias=False,
        initializer_range=0.05,
    ),
    "tiny-qwen2": dict(
        architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, intermediate_size=128, vocab_size=256,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, max_position_embeddings=512,
        hidden_act="silu", bos_token_id=1, eos_token_id=2, use_sliding_window=False,
        initializer_range=0.05,
    ),
    # SmolLM2-135M's real config.
    "smollm2-135m": dict(
        architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=576, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, intermediate_size=1536, vocab_size=49152,
        rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, max_position_embeddings=8192,
        hidden_act="silu", bos_token_id=0, eos_token_id=0, attention_bias=False, mlp_bias=False,
        initializer_range=0.041666666666666664,
    ),
    # Qwen2-0.5B's real config.
    "qwen2-0.5b": dict(
        architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=896, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, intermediate_size=4864, vocab_size=151936,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, max_position_embeddings=131072,
        hidden_act="silu", bos_token_id=151643, eos_token_id=151643, use_sliding_window=False,
        sliding_window=131072, max_window_layers=24, initializer_range=0.02,
    ),
}
PROMPT_LEN = {"tiny-llama": 70, "tiny-qwen2": 70, "smollm2-135m": 100, "qwen2-0.5b": 100}
NEW_TOKENS = 32
SEED = 1234


def build(name: str):
    from transformers import AutoConfig, AutoModelForCausalLM

    hub = dict(CONFIGS[name])
    config = AutoConfig.for_model(hub["model_type"], **{k: v for k, v in hub.items() if k != "model_type"})
    config._attn_implementation = "eager"
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(config).float()
    model.eval()
    # Re-initialise with our own seeded scheme. transformers' init (std 0.02, norms 1, biases 0)
    # gives tied-embedding models that repeat one token forever: the embedding dominates the
    # residual stream. Here every linear has gain ~1 (std 1/sqrt(in)), so the blocks drive the
    # output; the final norm is scaled so logits have a std of a few units; norms and biases are
    # random so the engine's use of them is tested.
    g = torch.Generator().manual_seed(SEED + 1)
    hidden = hub["hidden_size"]
    emb_std = 0.02
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("embed_tokens.weight") or pname == "lm_head.weight":
                p.copy_(emb_std * torch.randn(p.shape, generator=g))
            elif pname == "model.norm.weight":
                p.copy_((1.0 + 0.2 * torch.randn(p.shape, generator=g)) * (2.5 / (emb_std * hidden**0.5)))
            elif pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif pname.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
            else:
                raise AssertionError(f"unexpected parameter {pname}")
    theta = getattr(config, "rope_theta", None)
    if theta is None:
        theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta")
    assert theta == hub["rope_theta"], f"{name}: rope theta {theta} != {hub['rope_theta']}"
    if hub["tie_word_embeddings"]:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "lm_head not tied"
    return hub, model


@torch.no_grad()
def reference(model, vocab: int, prompt_len: int, all_prompt_rows: bool):
    g = torch.Generator().manual_seed(SEED + 2)
    prompt = torch.randint(3, vocab, (prompt_len,), generator=g)
    ids = prompt.clone()
    step_logits, greedy = [], []
    prompt_logits = None
    for i in range(NEW_TOKENS):
        out = model(input_ids=ids[None, :], use_cache=False)
        logits = out.logits[0].float()  # (len, V)
        if i == 0:
            prompt_logits = logits.clone() if all_prompt_rows else logits[-1:].clone()
        last = logits[-1]
        nxt = int(torch.argmax(last))
        step_logits.append(last.clone())
        greedy.append(nxt)
        ids = torch.cat([ids, torch.tensor([nxt])])
    return prompt, prompt_logits, torch.tensor(greedy), torch.stack(step_logits)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="tiny-llama,tiny-qwen2")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    torch.backends.cuda.matmul.allow_tf32 = False
    for name in args.models.split(","):
        t0 = time.time()
        hub, model = build(name)
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        # Weights as the hub stores them: tied lm_head omitted.
        sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        if hub["tie_word_embeddings"]:
            sd.pop("lm_head.weight", None)
        save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({**hub, "torch_dtype": "float32"}, f, indent=2)
        with open(os.path.join(d, "generation_config.json"), "w") as f:
            json.dump({"bos_token_id": hub["bos_token_id"], "eos_token_id": hub["eos_token_id"]}, f, indent=2)
        tiny = name.startswith("tiny")
        prompt, plog, greedy, slog = reference(model, hub["vocab_size"], PROMPT_LEN[name], tiny)
        save_file(
            {
                "prompt_ids": prompt.to(torch.int32).contiguous(),
                "prompt_logits": plog.contiguous(),
                "greedy_ids": greedy.to(torch.int32).contiguous(),
                "step_logits": slog.contiguous(),
            },
            os.path.join(d, "reference.safetensors"),
        )
        top2 = torch.topk(slog, 2, dim=-1).values
        summary = {
            "model": name,
            "seed": SEED,
            "torch": torch.__version__,
            "prompt_ids": prompt.tolist(),
            "greedy_ids": greedy.tolist(),
            "logit_std": float(slog.std()),
            "min_top1_top2_margin": float((top2[:, 0] - top2[:, 1]).min()),
            "params": sum(p.numel() for p in model.parameters()),
            "seconds": round(time.time() - t0, 2),
        }
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(summary, f, indent=1)
        print(json.dumps({k: v for k, v in summary.items() if k != "prompt_ids"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
