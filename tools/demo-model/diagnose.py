"""Diagnose whether a trained demo VLM uses its image at all (GPU host).

    python3 tools/demo-model/diagnose.py --model /tmp/demo/lumen-demo

Prints, for a real training batch: the answer loss with the right images and with images
shuffled across the batch (equal losses mean the language model ignores the image); whether
the text model's input embeddings at <image> positions equal the connector output (the merge);
norms of image vs text embeddings; and the attention mass the answer position gives to image
tokens in each layer.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import data  # noqa: E402
import hf_files  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    args = p.parse_args()
    from transformers import Idefics3ForConditionalGeneration
    proc = hf_files.load_processor(args.model)
    model = Idefics3ForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32,
                                                             attn_implementation="eager").cuda().eval()
    print("image_token_id", model.config.image_token_id, "tokenizer <image>", proc.tokenizer.convert_tokens_to_ids("<image>"))
    batch = data.SceneBatches(proc, 4, 4, seed=123).make_batch(range(777, 781))
    inputs = data.to_model_inputs(batch, "cuda")
    inputs.pop("aux", None)
    labels = inputs["labels"]
    cap = {}
    conn = next(m for n, m in model.named_modules() if n.endswith("connector"))
    h1 = conn.register_forward_hook(lambda _m, _i, out: cap.__setitem__("conn", out))
    h2 = model.model.text_model.register_forward_pre_hook(
        lambda _m, a, kw: cap.__setitem__("embeds", kw.get("inputs_embeds")), with_kwargs=True)
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
        loss = out.loss.item()
        ids = inputs["input_ids"]
        img_mask = ids == model.config.image_token_id
        emb = cap["embeds"]
        merged = emb[img_mask]
        conn_out = cap["conn"].reshape(-1, emb.shape[-1])
        print(f"image positions {int(img_mask.sum())}, connector rows {conn_out.shape[0]}")
        if merged.shape[0] == conn_out.shape[0]:
            print(f"merge max |diff| {float((merged - conn_out).abs().max()):.3e}")
        print(f"norm image embeds {float(merged.norm(dim=-1).mean()):.3f}, text embeds "
              f"{float(emb[~img_mask].norm(dim=-1).mean()):.3f}")
        print(f"connector output std across tokens {float(conn_out.std(0).mean()):.4f}")
        first_ans = (labels != -100).float().argmax(1) - 1  # position predicting the first answer token
        for li, att in enumerate(out.attentions):  # (B, heads, L, L)
            rows = att[torch.arange(att.shape[0]), :, first_ans]          # (B, heads, L)
            mass = (rows * img_mask[:, None, :]).sum(-1).mean(0)
            print(f"layer {li}: attention mass on image tokens per head {[round(float(m), 3) for m in mass]}")
        perm = torch.roll(torch.arange(inputs["pixel_values"].shape[0]), 4)
        shuffled = dict(inputs, pixel_values=inputs["pixel_values"][perm],
                        pixel_attention_mask=inputs["pixel_attention_mask"][perm])
        try:
            loss2 = model(**shuffled).loss.item()
            print(f"loss right images {loss:.4f}, shuffled images {loss2:.4f}")
        except Exception as e:  # tile counts may differ across images
            print("shuffle failed:", e)
        real = (inputs["pixel_values"].abs().sum((2, 3, 4)) > 0)[:, :, None, None, None]
        zero_img = dict(inputs, pixel_values=real * 0.5 + torch.zeros_like(inputs["pixel_values"]))
        print(f"loss with flat grey images {model(**zero_img).loss.item():.4f}")
        logits = out.logits[torch.arange(ids.shape[0]), first_ans]
        top = logits.topk(3, dim=-1).indices
        for b in range(ids.shape[0]):
            q = proc.tokenizer.decode(ids[b][(ids[b] != model.config.image_token_id)][-20:])
            print(" ", repr(q[-60:]), "->", proc.tokenizer.convert_ids_to_tokens(top[b].tolist()),
                  "want", proc.tokenizer.decode(labels[b][labels[b] != -100][:4]))
    h1.remove()
    h2.remove()


if __name__ == "__main__":
    main()
