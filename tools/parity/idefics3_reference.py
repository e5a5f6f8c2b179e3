#!/usr/bin/env python3
"""Idefics3 (SmolVLM) parity oracle: builds Idefics3ForConditionalGeneration from a config with
seeded random float32 weights, runs transformers' real Idefics3 processor on a fixed synthetic
photo and a chat prompt, and writes a Hugging Face-style repo plus reference outputs into --out.

Presets (--preset):
  tiny          2-layer toy config, a 192x128 photo cut into 2x3 tiles of 64 px + the global
                image; the committed CI fixture (tools/parity/fixtures/tiny-idefics3).
  smolvlm-256m  SmolVLM-256M-Instruct's real config (SigLIP 768 wide, 12 layers, 512 px tiles,
                scale factor 4; SmolLM2-135M-shaped text model, vocab 49280) with the real
                processor settings (longest edge 2048, 512 px tiles, 64 tokens per tile) on a
                1536x1024 photo: 4x3 tiles + the global image. Only image_token_id differs from the
                hub's config: it is the <image> id of our byte-level tokenizer (257). Run on the
                GPU host; it never leaves it.

Outputs (--out):
  config.json, model.safetensors                       the model (f32)
  reference.safetensors
    pixel_values    f32   [N, 3, S, S]    processor output (N = tiles + global image)
    features        f32   [N, Tv, H]      connector output (visual tokens, LM width)
    prompt_ids      int32 [T]             expanded prompt (markers + <image> placeholders)
    prompt_logits   f32   [T, V]          logits at every prompt position (tiny only)
    last_logits     f32   [V]             logits at the last prompt position
    greedy_ids      int32 [G]             greedy tokens (no EOS stop; whole sequence recomputed
                                          every step, no cache)
  reference.json  prompt text, ids, rows/cols, a summary

The tokenizer/processor files are made by idefics3_make_tokenizer.mjs (same --preset) and must
already be in --out. Float32 throughout: on CUDA, TF32 matmuls are switched off.
Usage: python3 tools/parity/idefics3_reference.py --out DIR [--preset tiny|smolvlm-256m] [--device cuda]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

QUESTION = "What is in this photo?"


def synthetic_photo(w, h):
    """The fixed photo; the Node side builds the same pixels (workers/vision/test-photo.ts)."""
    x = np.arange(w)[None, :]
    y = np.arange(h)[:, None]
    r = (x * 5 + y * 2) % 256
    g = (x * 3 + y * 7 + 40) % 256
    b = ((x ^ y) * 3) % 256
    return Image.fromarray(np.stack([r, g, b], -1).astype(np.uint8), "RGB")


def tiny_config():
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


def smolvlm_256m_config():
    """HuggingFaceTB/SmolVLM-256M-Instruct config.json (image_token_id: our tokenizer's <image>)."""
    return dict(
        architectures=["Idefics3ForConditionalGeneration"], model_type="idefics3",
        image_token_id=257, scale_factor=4, tie_word_embeddings=False, torch_dtype="float32", vocab_size=49280,
        vision_config=dict(model_type="idefics3_vision", hidden_size=768, intermediate_size=3072,
                           num_hidden_layers=12, num_attention_heads=12, num_channels=3, image_size=512,
                           patch_size=16, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6),
        text_config=dict(model_type="llama", hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64, vocab_size=49280,
                         rms_norm_eps=1e-5, rope_theta=100000.0, max_position_embeddings=8192, hidden_act="silu",
                         bos_token_id=1, eos_token_id=259, pad_token_id=0, tie_word_embeddings=False,
                         attention_bias=False, mlp_bias=False),
    )


PRESETS = {
    # name: (config, photo size, greedy tokens, keep every prompt row's logits)
    "tiny": (tiny_config, (192, 128), 16, True),
    "smolvlm-256m": (smolvlm_256m_config, (1536, 1024), 24, False),
}


def randomize(model, seed=1234):
    """Seeded weights with gain ~1 per linear (r / sqrt(fan_in)); norms near 1, small biases."""
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


def build_processor(out, image_seq_len):
    from tokenizers import Tokenizer
    from transformers import Idefics3ImageProcessor, Idefics3Processor, PreTrainedTokenizerFast
    tc = json.load(open(os.path.join(out, "tokenizer_config.json")))
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(os.path.join(out, "tokenizer.json")),
                                  bos_token=tc["bos_token"], eos_token=tc["eos_token"], pad_token=tc["pad_token"],
                                  unk_token=tc["unk_token"], clean_up_tokenization_spaces=False)
    try:  # the PIL processor (LANCZOS as configured); transformers 5's default backend falls back to BICUBIC
        from transformers import AutoImageProcessor
        ip = AutoImageProcessor.from_pretrained(out, use_fast=False)
    except Exception as e:
        print("AutoImageProcessor(use_fast=False):", e, flush=True)
        pp = json.load(open(os.path.join(out, "preprocessor_config.json")))
        ip = Idefics3ImageProcessor(**{k: v for k, v in pp.items() if k not in ("image_processor_type", "processor_class")})
    print("image processor", type(ip).__name__, flush=True)
    return Idefics3Processor(image_processor=ip, tokenizer=tok, image_seq_len=image_seq_len, chat_template=tc["chat_template"])


def find_module(model, suffix):
    for name, m in model.named_modules():
        if name.endswith(suffix):
            return m
    raise KeyError(suffix)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    out = args.out
    make_config, (W, H), n_greedy, all_rows = PRESETS[args.preset]
    import transformers
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration
    print("transformers", transformers.__version__, "torch", torch.__version__, "preset", args.preset, flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    t0 = time.time()

    seq_len = json.load(open(os.path.join(out, "processor_config.json")))["image_seq_len"]
    proc = build_processor(out, seq_len)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True)
    print("prompt:", repr(prompt), flush=True)
    inputs = proc(text=[prompt], images=[[synthetic_photo(W, H)]], return_tensors="pt")
    split = proc.image_processor(images=[[synthetic_photo(W, H)]], return_row_col_info=True, return_tensors="pt")
    ids = inputs["input_ids"]
    pv = inputs["pixel_values"]
    print("input_ids", tuple(ids.shape), "pixel_values", tuple(pv.shape), "rows", split["rows"], "cols", split["cols"], flush=True)

    cfg_dict = make_config()
    cfg = Idefics3Config(**{k: v for k, v in cfg_dict.items() if k not in ("architectures", "torch_dtype")})
    model = Idefics3ForConditionalGeneration(cfg).float().eval()
    try:
        model.set_attn_implementation("eager")
    except Exception as e:  # older API
        print("attn impl:", e)
    randomize(model)
    dev = torch.device(args.device)
    model.to(dev)

    captured = {}

    def keep(key):
        return lambda m, i, o: captured.setdefault(key, o.detach().float().cpu().clone())

    find_module(model, "connector").register_forward_hook(keep("features"))
    feed = {k: v.to(dev) for k, v in inputs.items() if k in ("input_ids", "attention_mask", "pixel_values", "pixel_attention_mask")}
    with torch.no_grad():
        fw = model(**feed, use_cache=False)
        prompt_logits = fw.logits[0].float().cpu()
        seq = feed["input_ids"]
        greedy = []
        nxt = int(prompt_logits[-1].argmax())
        for i in range(n_greedy):
            greedy.append(nxt)
            if i == n_greedy - 1:
                break
            seq = torch.cat([seq, torch.tensor([[nxt]], device=dev)], 1)
            step = model(input_ids=seq, attention_mask=torch.ones_like(seq), pixel_values=feed["pixel_values"],
                         pixel_attention_mask=feed.get("pixel_attention_mask"), use_cache=False)
            nxt = int(step.logits[0, -1].argmax())
    top = torch.topk(prompt_logits[-1], 2)
    print("greedy", greedy, "first-step top-2 margin", float(top.values[0] - top.values[1]), f"{time.time() - t0:.1f} s", flush=True)

    sd = {k: v.detach().contiguous().float().cpu() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg_dict, f, indent=2)
    n = pv.shape[1]
    feats = captured["features"]
    ref = {
        "pixel_values": pv[0].float().contiguous(),
        "features": feats.reshape(n, -1, feats.shape[-1]).contiguous(),
        "prompt_ids": ids[0].to(torch.int32).contiguous(),
        "last_logits": prompt_logits[-1].clone().contiguous(),
        "greedy_ids": torch.tensor(greedy, dtype=torch.int32),
    }
    if all_rows:
        ref["prompt_logits"] = prompt_logits.contiguous()
    save_file(ref, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({
            "preset": args.preset, "transformers": transformers.__version__, "torch": torch.__version__,
            "device": str(dev), "prompt": prompt, "question": QUESTION, "image": [W, H], "tiles": int(n),
            "rows": split["rows"][0][0] if "rows" in split else None, "cols": split["cols"][0][0] if "cols" in split else None,
            "prompt_ids": ids[0].tolist(), "greedy_ids": greedy, "first_step_top2_margin": float(top.values[0] - top.values[1]),
            "features_shape": list(feats.shape), "sd_keys": sorted(sd.keys()) if all_rows else len(sd),
        }, f, indent=1, default=int)
    print("saved", sorted(os.listdir(out)), f"{time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
