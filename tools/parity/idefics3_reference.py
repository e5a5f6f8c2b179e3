#!/usr/bin/env python3
"""Idefics3 (SmolVLM) parity oracle: builds Idefics3ForConditionalGeneration from a TINY config
with seeded random float32 weights, runs transformers' real Idefics3 processor on a fixed
synthetic 192x128 photo (2x3 tiles of 64 px + the global image) and a chat prompt, and writes a
Hugging Face-style repo plus reference outputs into --out:

  config.json, model.safetensors                       the model (f32)
  reference.safetensors
    pixel_values    f32   [N, 3, 64, 64]  processor output (N = tiles + global image)
    vision_hidden   f32   [N, 16, 64]     SigLIP output after post_layernorm
    features        f32   [N, 4, 64]      connector output (visual tokens, LM width)
    prompt_ids      int32 [T]             expanded prompt (markers + <image> placeholders)
    prompt_logits   f32   [T, V]          logits at every prompt position
    greedy_ids      int32 [16]            greedy tokens (no EOS stop; KV-cached decode)
  reference.json  prompt text, ids, rows/cols, a summary

The tokenizer/processor files (tokenizer.json, tokenizer_config.json, preprocessor_config.json,
processor_config.json) are made by idefics3_make_tokenizer.mjs and must already be in --out.
Usage: python3 tools/parity/idefics3_reference.py --out tools/parity/fixtures/tiny-idefics3
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

W, H = 192, 128
QUESTION = "What is in this photo?"
N_GREEDY = 16


def synthetic_photo():
    """The fixed photo; the Node test builds the same pixels (tools/parity/idefics3.test.ts)."""
    x = np.arange(W)[None, :]
    y = np.arange(H)[:, None]
    r = (x * 5 + y * 2) % 256
    g = (x * 3 + y * 7 + 40) % 256
    b = ((x ^ y) * 3) % 256
    return Image.fromarray(np.stack([r, g, b], -1).astype(np.uint8), "RGB")


def config_dict():
    return dict(
        architectures=["Idefics3ForConditionalGeneration"], model_type="idefics3",
        image_token_id=257, scale_factor=2, tie_word_embeddings=False, torch_dtype="float32",
        vision_config=dict(model_type="idefics3_vision", hidden_size=64, intermediate_size=128,
                           num_hidden_layers=2, num_attention_heads=2, num_channels=3, image_size=64,
                           patch_size=16, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6),
        text_config=dict(model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=288, rms_norm_eps=1e-5,
                         rope_theta=10000.0, max_position_embeddings=512, hidden_act="silu",
                         bos_token_id=1, eos_token_id=259, pad_token_id=0, tie_word_embeddings=False,
                         attention_bias=False, mlp_bias=False),
    )


def randomize(model, seed=1234):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if "norm" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.1 * r)
            elif name.endswith(".bias"):
                p.copy_(0.05 * r)
            elif "embed_tokens" in name or "position_embedding" in name:
                p.copy_(0.5 * r)
            else:
                fan_in = p[0].numel() if p.dim() > 1 else p.shape[0]
                p.copy_(r / fan_in ** 0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = args.out
    import transformers
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessor, Idefics3Processor
    from transformers import PreTrainedTokenizerFast
    print("transformers", transformers.__version__, "torch", torch.__version__, flush=True)

    tc = json.load(open(os.path.join(out, "tokenizer_config.json")))
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(out, "tokenizer.json"), bos_token=tc["bos_token"],
                                  eos_token=tc["eos_token"], pad_token=tc["pad_token"], unk_token=tc["unk_token"])
    tok.chat_template = tc["chat_template"]
    tok.add_special_tokens({"additional_special_tokens": tc["additional_special_tokens"]})
    pp = json.load(open(os.path.join(out, "preprocessor_config.json")))
    ip_kwargs = {k: v for k, v in pp.items() if k not in ("image_processor_type", "processor_class")}
    ip = Idefics3ImageProcessor(**ip_kwargs)
    proc = Idefics3Processor(image_processor=ip, tokenizer=tok, image_seq_len=4)

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    print("prompt:", repr(prompt), flush=True)
    inputs = proc(text=prompt, images=[synthetic_photo()], return_tensors="pt")
    ids = inputs["input_ids"]
    pv = inputs["pixel_values"]
    print("input_ids", tuple(ids.shape), "pixel_values", tuple(pv.shape), flush=True)

    torch.manual_seed(0)
    cfg = Idefics3Config(**{k: v for k, v in config_dict().items() if k not in ("architectures", "torch_dtype")})
    model = Idefics3ForConditionalGeneration(cfg).float().eval()
    try:
        model.set_attn_implementation("eager")
    except Exception as e:  # older API
        print("attn impl:", e)
    randomize(model)

    captured = {}
    model.model.vision_model.post_layernorm.register_forward_hook(lambda m, i, o: captured.__setitem__("vision", o.detach().clone()))
    model.model.connector.register_forward_hook(lambda m, i, o: captured.__setitem__("features", o.detach().clone()))

    with torch.no_grad():
        fw = model(input_ids=ids, attention_mask=inputs.get("attention_mask"), pixel_values=pv,
                   pixel_attention_mask=inputs.get("pixel_attention_mask"), use_cache=True)
        prompt_logits = fw.logits[0].float()
        past = fw.past_key_values
        nxt = int(prompt_logits[-1].argmax())
        greedy = [nxt]
        T = ids.shape[1]
        for i in range(N_GREEDY - 1):
            step = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True,
                         cache_position=torch.tensor([T + i]))
            past = step.past_key_values
            nxt = int(step.logits[0, -1].argmax())
            greedy.append(nxt)
    print("greedy", greedy, flush=True)

    sd = {k: v.detach().contiguous().float() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config_dict(), f, indent=2)
    n = pv.shape[1]
    save_file({
        "pixel_values": pv[0].float().contiguous(),
        "vision_hidden": captured["vision"].float().contiguous(),
        "features": captured["features"].reshape(n, -1, captured["features"].shape[-1]).float().contiguous(),
        "prompt_ids": ids[0].to(torch.int32).contiguous(),
        "prompt_logits": prompt_logits.contiguous(),
        "greedy_ids": torch.tensor(greedy, dtype=torch.int32),
    }, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({
            "transformers": transformers.__version__, "prompt": prompt, "question": QUESTION,
            "image": [W, H], "tiles": int(n), "rows": int(inputs["rows"][0][0]) if "rows" in inputs else None,
            "cols": int(inputs["cols"][0][0]) if "cols" in inputs else None,
            "prompt_ids": ids[0].tolist(), "greedy_ids": greedy,
            "features_shape": list(captured["features"].shape), "sd_keys": sorted(sd.keys()),
        }, f, indent=1)
    print("saved", sorted(os.listdir(out)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
