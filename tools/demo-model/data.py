"""On-the-fly training batches for the demo VLM: render scenes, run the real Idefics3 processor,
append answers, mask everything but the answer in the labels.

One scene image serves several questions. The processor runs once per image; the other
questions reuse its image-expanded prefix (the prompt is `<|im_start|>User:` + image tokens +
question + `<end_of_utterance>\nAssistant:`, and added tokens split the text, so the ids of a
second question are the prefix ids + the ids of its own text; `check_prompt_ids` verifies that).
Tiles travel between processes as uint8 (the processor's values are (u/255 - 0.5) / 0.5 of a
uint8 resize) and are normalised again on the GPU.
"""
from __future__ import annotations

import random

import numpy as np
import torch

import scenes

QA_WEIGHTS = {"color": 1.0, "shape": 1.0, "count": 1.2, "position": 1.0, "relative": 1.0, "describe": 1.6,
              "background": 0.4}
EASY_FRACTION = 0.3  # share of training scenes with at most 2 shapes


def prompt_text(question: str) -> str:
    return f"<|im_start|>User:<image>{question}<end_of_utterance>\nAssistant:"


def answer_text(answer: str) -> str:
    return f" {answer}<end_of_utterance>"


def encode_image_prompts(processor, image, questions: list[str]):
    """Prompt ids for each question on one image, and the image's tiles as uint8.
    returns ([ids], tiles (n_tiles, 3, T, T) uint8)"""
    enc = processor(text=[prompt_text(questions[0])], images=[[image]], return_tensors="np")
    ids0 = enc["input_ids"][0].tolist()
    fake = processor.tokenizer.convert_tokens_to_ids("<fake_token_around_image>")
    cut = len(ids0) - 1 - ids0[::-1].index(fake)  # last fake token closes the image block
    prefix = ids0[: cut + 1]
    out = [ids0]
    for q in questions[1:]:
        out.append(prefix + processor.tokenizer(f"{q}<end_of_utterance>\nAssistant:",
                                                add_special_tokens=False)["input_ids"])
    pv = enc["pixel_values"][0]  # (n_tiles, 3, T, T) float in [-1, 1]
    tiles = np.clip(np.rint((pv + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return out, tiles


def check_prompt_ids(processor, image, questions: list[str]) -> None:
    ids, _ = encode_image_prompts(processor, image, questions)
    for q, got in zip(questions, ids):
        ref = processor(text=[prompt_text(q)], images=[[image]], return_tensors="np")["input_ids"][0].tolist()
        assert ref == got, f"prefix reuse differs from the processor for {q!r}"


AUX_COLORS, AUX_SHAPES, AUX_SIZES = list(scenes.COLORS), scenes.SHAPES, list(scenes.SIZES)
AUX_DIM = len(AUX_COLORS) + len(AUX_SHAPES) + len(AUX_SIZES) + 3 + 3 + 2  # + row/col region bits + (u, v)
AUX_PRESENCE = len(AUX_COLORS) + len(AUX_SHAPES) + len(AUX_SIZES)


def aux_labels(sc: scenes.Scene, n_tiles: int, longest_tiles: int = 4, tile_positions: bool = False) -> np.ndarray:
    """Training-only targets for each visual token (after pixel shuffle: 4x4 per 256 px tile).
    (n_tiles, 16, AUX_DIM + 1): presence bits of colour / shape / size of any object overlapping
    the token's cell; on the global image also the 3x3 region bits and (u, v) of the object whose
    centre is in the cell, with the last column flagging where those are defined.
    tile_positions (train.py --aux-tile-positions): every local-tile token also gets the region bits
    and (u, v) of its own cell's centre on the canvas (where the token lies; for a token holding an
    object's centre that is the object's region), so the features can carry where each token is,
    which relative questions need."""
    lab = np.zeros((n_tiles, 16, AUX_DIM + 1), dtype=np.float32)
    rows, cols = scenes.tile_grid(sc, n_tiles, longest_tiles)
    gh, gw = rows * 4, cols * 4  # token grid over all tiles
    if tile_positions:
        t = np.arange(rows * cols)[:, None]
        k = np.arange(16)[None, :]
        u = ((t % cols) * 4 + k % 4 + 0.5) / gw                                # (rows * cols, 16)
        v = ((t // cols) * 4 + k // 4 + 0.5) / gh
        region_row, region_col = np.minimum(2, (v * 3).astype(int)), np.minimum(2, (u * 3).astype(int))
        for i in range(3):
            lab[: rows * cols, :, AUX_PRESENCE + i] = region_row == i
            lab[: rows * cols, :, AUX_PRESENCE + 3 + i] = region_col == i
        lab[: rows * cols, :, AUX_PRESENCE + 6] = u
        lab[: rows * cols, :, AUX_PRESENCE + 7] = v
        lab[: rows * cols, :, AUX_DIM] = 1
    for o in sc.objects:
        u, v = o.cx / sc.width, o.cy / sc.height
        ru, rv = 0.7 * o.radius / sc.width, 0.7 * o.radius / sc.height
        feat = np.zeros(AUX_PRESENCE, dtype=np.float32)
        feat[AUX_COLORS.index(o.color)] = 1
        feat[len(AUX_COLORS) + AUX_SHAPES.index(o.shape)] = 1
        feat[len(AUX_COLORS) + len(AUX_SHAPES) + AUX_SIZES.index(o.size)] = 1
        for gy in range(max(0, int((v - rv) * gh)), min(gh - 1, int((v + rv) * gh)) + 1):
            for gx in range(max(0, int((u - ru) * gw)), min(gw - 1, int((u + ru) * gw)) + 1):
                t, k = (gy // 4) * cols + gx // 4, (gy % 4) * 4 + gx % 4
                lab[t, k, :AUX_PRESENCE] = np.maximum(lab[t, k, :AUX_PRESENCE], feat)
        for gy in range(max(0, int((v - rv) * 4)), min(3, int((v + rv) * 4)) + 1):  # global image
            for gx in range(max(0, int((u - ru) * 4)), min(3, int((u + ru) * 4)) + 1):
                lab[-1, gy * 4 + gx, :AUX_PRESENCE] = np.maximum(lab[-1, gy * 4 + gx, :AUX_PRESENCE], feat)
        k = min(3, int(v * 4)) * 4 + min(3, int(u * 4))
        lab[-1, k, AUX_PRESENCE:AUX_PRESENCE + 6] = 0
        lab[-1, k, AUX_PRESENCE + o.row] = 1
        lab[-1, k, AUX_PRESENCE + 3 + o.col] = 1
        lab[-1, k, AUX_PRESENCE + 6: AUX_PRESENCE + 8] = (u, v)
        lab[-1, k, AUX_DIM] = 1
    return lab


class SceneBatches(torch.utils.data.IterableDataset):
    """Endless batches: images_per_batch scenes x qas_per_image questions each."""

    def __init__(self, processor, images_per_batch: int, qas_per_image: int, seed: int):
        self.processor, self.ipb, self.qpi, self.seed = processor, images_per_batch, qas_per_image, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        k = 0
        while True:
            base = self.seed + (k * nw + wid) * self.ipb
            assert base + self.ipb < scenes.HELDOUT_SEED_BASE
            yield self.make_batch(range(base, base + self.ipb))
            k += 1

    def make_batch(self, seeds) -> dict:
        tok = self.processor.tokenizer
        seqs, labels, img_index, tiles, aux = [], [], [], [], []
        for i, seed in enumerate(seeds):
            rng = random.Random(seed ^ 0x5EED)
            sc = scenes.make_scene(seed, max_objects=2 if rng.random() < EASY_FRACTION else 8)
            qas = [scenes.make_qa(sc, rng, weights=QA_WEIGHTS) for _ in range(self.qpi)]
            prompts, t = encode_image_prompts(self.processor, sc.image, [q for _, q, _ in qas])
            tiles.append(torch.from_numpy(t))
            aux.append(torch.from_numpy(aux_labels(sc, t.shape[0])))
            for p, (_, _, a) in zip(prompts, qas):
                ans = tok(answer_text(a), add_special_tokens=False)["input_ids"]
                seqs.append(p + ans)
                labels.append([-100] * len(p) + ans)
                img_index.append(i)
        batch = collate(seqs, labels, img_index, tiles, tok.pad_token_id)
        batch["aux"] = torch.zeros(batch["tiles"].shape[:2] + aux[0].shape[1:])
        for i, a in enumerate(aux):
            batch["aux"][i, : a.shape[0]] = a
        return batch


def collate(seqs, labels, img_index, tiles, pad_id: int) -> dict:
    n, length = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((n, length), pad_id, dtype=torch.long)
    lab = torch.full((n, length), -100, dtype=torch.long)
    att = torch.zeros((n, length), dtype=torch.long)
    for j, (s, l) in enumerate(zip(seqs, labels)):
        ids[j, : len(s)], lab[j, : len(l)], att[j, : len(s)] = torch.tensor(s), torch.tensor(l), 1
    max_tiles = max(t.shape[0] for t in tiles)
    pad = torch.zeros((len(tiles), max_tiles) + tuple(tiles[0].shape[1:]), dtype=torch.uint8)
    n_tiles = torch.tensor([t.shape[0] for t in tiles])
    for i, t in enumerate(tiles):
        pad[i, : t.shape[0]] = t
    return {"input_ids": ids, "labels": lab, "attention_mask": att, "tiles": pad, "n_tiles": n_tiles,
            "img_index": torch.tensor(img_index)}


def to_model_inputs(batch: dict, device) -> dict:
    """uint8 tiles -> normalised pixel_values (B, N, 3, T, T) and pixel_attention_mask (B, N, T, T)."""
    idx = batch["img_index"].to(device)
    tiles = batch["tiles"].to(device, non_blocking=True)[idx]            # (B, N, 3, T, T) uint8
    pv = tiles.float() / 127.5 - 1.0
    n_tiles = batch["n_tiles"].to(device)[idx]                          # (B,)
    valid = torch.arange(tiles.shape[1], device=device)[None] < n_tiles[:, None]  # (B, N)
    pv = pv * valid[:, :, None, None, None]                             # padded tiles are exactly 0
    pam = valid[:, :, None, None].expand(-1, -1, tiles.shape[-2], tiles.shape[-1])
    out = {}
    if "aux" in batch:  # (n_real_tiles, 16, AUX_DIM + 1), in the model's (sequence, tile) order
        out["aux"] = batch["aux"].to(device)[idx][valid]
    return out | {"input_ids": batch["input_ids"].to(device), "attention_mask": batch["attention_mask"].to(device),
            "labels": batch["labels"].to(device), "pixel_values": pv, "pixel_attention_mask": pam}
