"""Training data for the demo VLM at GPU speed: a stream of rendered scenes into a GPU pool, and
batches that encode each scene's tiles once for all of its questions.

Why: rendering a 1024-2048 px scene and splitting it costs ~0.1-0.2 s of CPU per scene, so the
first runs (one processor call per scene, 8 questions, vision re-run for every question) were
data-bound at ~86 scenes/s. Here
- DataLoader workers render scenes, split them with `fast_tiles.split` (the processor's exact
  uint8 pixels, checked in checks.py) and tokenize `QAS_PER_SCENE` questions per scene; the
  image-expanded prompt prefix depends only on the (rows, cols) grid and is tokenized once per grid;
- the main process keeps the newest `capacity` scenes on the GPU (`ScenePool`, a ring buffer) and
  every step samples scenes from it, so each rendered scene serves several steps;
- `make_batch` returns the tiles of the sampled scenes once plus, per sequence, which scene it
  belongs to: train.py runs the vision tower once per scene, not once per question;
- every question keeps its type, so a batch can re-weight the types (`type_weights`, the
  curriculum of train.py) and the training log can show the answer loss per type; every scene
  keeps its object count, so train.py can route 1-2-object scenes to their own pool.
"""
from __future__ import annotations

import random

import numpy as np
import torch

import attn_sup
import data
import fast_tiles
import scenes

QAS_PER_SCENE = 24
QTYPES = scenes.QTYPES + ["background"]  # index of a question's type in make_batch's "qtype"


def prefix_text(rows: int, cols: int, seq_len: int) -> str:
    """The prompt up to the question: `<|im_start|>User:` + the processor's image expansion."""
    return "<|im_start|>User:" + fast_tiles.image_prompt(rows, cols, seq_len)


def question_suffix(question: str) -> str:
    return f"{question}<end_of_utterance>\nAssistant:"


class SceneStream(torch.utils.data.IterableDataset):
    """Endless chunks of scene records (dict: tiles uint8 (n, 3, T, T), aux (n, 16, AUX_DIM + 1),
    cover (n, 16) uint8 object bits per visual token, prefix ids, qas [(type index, question suffix ids,
    answer ids, bits of the objects the question names)], n_objects) from training seeds only."""

    def __init__(self, tokenizer, seq_len: int, seed: int, chunk: int = 4, easy_fraction: float = data.EASY_FRACTION,
                 longest: int = 1024, tile: int = 256, weights: dict[str, float] | None = None,
                 tile_positions: bool = False):
        self.tok, self.seq_len, self.seed, self.chunk = tokenizer, seq_len, seed, chunk
        self.weights = weights or data.QA_WEIGHTS
        self.easy, self.longest, self.tile = easy_fraction, longest, tile
        self.tile_positions = tile_positions  # data.aux_labels: region + (u, v) targets on every tile token

    def record(self, seed: int, prefixes: dict) -> dict:
        rng = random.Random(seed ^ 0x5EED)
        sc = scenes.make_scene(seed, max_objects=2 if rng.random() < self.easy else 8)
        tiles, rows, cols = fast_tiles.split(sc.image, self.longest, self.tile)
        if (rows, cols) not in prefixes:
            prefixes[(rows, cols)] = self.tok(prefix_text(rows, cols, self.seq_len), add_special_tokens=False)["input_ids"]
        qas = []
        for _ in range(QAS_PER_SCENE):
            t, q, a = scenes.make_qa(sc, rng, weights=self.weights)
            qas.append((QTYPES.index(t), self.tok(question_suffix(q), add_special_tokens=False)["input_ids"],
                        self.tok(data.answer_text(a), add_special_tokens=False)["input_ids"], attn_sup.named_bits(sc, t, q)))
        return {"tiles": torch.from_numpy(tiles), "aux": torch.from_numpy(data.aux_labels(sc, tiles.shape[0], tile_positions=self.tile_positions)),
                "cover": torch.from_numpy(attn_sup.object_cover(sc, tiles.shape[0])),
                "prefix": prefixes[(rows, cols)], "qas": qas, "n_objects": len(sc.objects)}

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        prefixes: dict = {}
        k = 0
        while True:
            base = self.seed + (k * nw + wid) * self.chunk
            assert base + self.chunk < scenes.HELDOUT_SEED_BASE
            yield [self.record(s, prefixes) for s in range(base, base + self.chunk)]
            k += 1


class ScenePool:
    """The newest `capacity` scenes, tiles and aux targets on the GPU (ring buffer)."""

    def __init__(self, capacity: int, device):
        self.capacity, self.device = capacity, device
        self.items: list[dict] = []
        self.next = 0
        self.added = 0

    def add(self, records: list[dict]) -> None:
        for r in records:
            r = {**r, "tiles": r["tiles"].to(self.device, non_blocking=True), "aux": r["aux"].to(self.device, non_blocking=True),
                 "cover": r["cover"].to(self.device, non_blocking=True)}
            if len(self.items) < self.capacity:
                self.items.append(r)
            else:
                self.items[self.next] = r
                self.next = (self.next + 1) % self.capacity
            self.added += 1

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, n: int, rng: random.Random) -> list[dict]:
        return rng.sample(self.items, min(n, len(self.items)))


def pick_questions(qas: list, k: int, rng: random.Random, type_weights: dict[str, float] | None) -> list:
    """k of a scene's questions without replacement; with type_weights, a question of type t is
    drawn with probability proportional to type_weights[t] (weighted sampling without replacement:
    the k largest u^(1/w), u uniform; weight 0 never drawn unless nothing else is left)."""
    if type_weights is None:
        return rng.sample(qas, min(k, len(qas)))
    keyed = []
    for qa in qas:
        w = type_weights.get(QTYPES[qa[0]], 1.0)
        keyed.append((rng.random() ** (1.0 / w) if w > 0 else -1.0, rng.random(), qa))
    keyed.sort(key=lambda x: (x[0], x[1]), reverse=True)
    return [qa for _, _, qa in keyed[:k]]


def make_batch(picked: list[dict], q_per_scene: int, pad_id: int, rng: random.Random, device,
               type_weights: dict[str, float] | None = None) -> dict:
    """Sequences for `q_per_scene` questions of each picked scene (re-weighted by type_weights).
    returns tiles (sum n_i, 3, T, T) uint8, n_tiles (S,), aux (sum n_i, 16, D + 1), cover (sum n_i, 16)
    uint8, input_ids / labels / attention_mask (B, L) with B = S * q_per_scene, scene_of_seq (B,),
    qtype (B,) index in QTYPES, named (B,) bits of the objects each question names (attn_sup)."""
    seqs, labels, owner, qtype, named = [], [], [], [], []
    for i, r in enumerate(picked):
        for t, suffix, ans, bits in pick_questions(r["qas"], q_per_scene, rng, type_weights):
            p = r["prefix"] + suffix
            seqs.append(p + ans)
            labels.append([-100] * len(p) + ans)
            owner.append(i)
            qtype.append(t)
            named.append(bits)
    n, length = len(seqs), max(len(s) for s in seqs)
    ids = np.full((n, length), pad_id, dtype=np.int64)
    lab = np.full((n, length), -100, dtype=np.int64)
    att = np.zeros((n, length), dtype=np.int64)
    for j, (s, l) in enumerate(zip(seqs, labels)):
        ids[j, : len(s)], lab[j, : len(l)], att[j, : len(s)] = s, l, 1
    return {"tiles": torch.cat([r["tiles"] for r in picked]), "aux": torch.cat([r["aux"] for r in picked]),
            "cover": torch.cat([r["cover"] for r in picked]), "named": torch.tensor(named, device=device),
            "n_tiles": torch.tensor([r["tiles"].shape[0] for r in picked], device=device),
            "input_ids": torch.from_numpy(ids).to(device), "labels": torch.from_numpy(lab).to(device),
            "attention_mask": torch.from_numpy(att).to(device), "scene_of_seq": torch.tensor(owner, device=device),
            "qtype": torch.tensor(qtype, device=device)}


def image_rows(n_tiles: torch.Tensor, scene_of_seq: torch.Tensor, tokens_per_tile: int) -> torch.Tensor:
    """Row indices into the flattened per-tile features (sum n_i * tokens_per_tile, H), in the order
    the <image> placeholders of all sequences appear (sequence by sequence, tiles in order)."""
    starts = torch.cumsum(n_tiles, 0) - n_tiles                     # (S,) first tile of each scene
    counts = n_tiles[scene_of_seq] * tokens_per_tile                 # (B,) image tokens per sequence
    first = starts[scene_of_seq] * tokens_per_tile                   # (B,)
    offsets = torch.arange(int(counts.sum()), device=counts.device) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    return torch.repeat_interleave(first, counts) + offsets
