"""Attention supervision for the demo VLM (training only): where does the answer position look?

Hypothesis under test (runs 9a-c, docs/DEMO_MODEL.md): the language model reads the 16 global-image
tokens next to the question and not the ~200 tile tokens, where a 25-60 px shape is a small delta on
a 64 x 64 px background cell: its attention from the answer position is near-uniform over tile tokens,
so the gradient towards a content-based look-up is diluted ~1/256. Two parts:

- targets (pure Python + numpy, checked by `python3 tools/demo-model/attn_sup.py`):
  `object_cover(scene, n_tiles)` -> (n_tiles, 16) uint8, bit i set where object i covers the visual
  token (same cells as `data.aux_labels`: tile tokens and global-image tokens);
  `named_bits(scene, qtype, question)` -> bitmask of the objects a colour / shape / position question
  names (relative: both objects; other types: 0, no target), found by regenerating each object's
  possible questions from `scenes`' templates, so the held-out generator and its seeds are untouched;
- `AnswerAttention` (torch, GPU host): forward pre-hooks on the Llama self-attention modules recompute
  the attention row of the last prompt position (the one predicting the first answer token) from the
  layer input (q.k with RoPE, any attention implementation), for the supervised layers with gradient
  and, on log steps, for every layer without; `loss` is the cross-entropy of that row (one head or the
  head mean) against a target spread uniformly over the tokens covering the named object(s);
  `check` verifies the recomputed row against the layer's own output (row @ V -> o_proj);
- `KindProbes` (torch, `train.py --probe-kind`): online linear probes that say in which text layer the
  kind of shape is still readable, on image tokens and at the answer position (see its docstring).
"""
from __future__ import annotations

import numpy as np

import scenes


def object_cover(sc: scenes.Scene, n_tiles: int, longest_tiles: int = 4) -> np.ndarray:
    """(n_tiles, 16) uint8: bit i set where object i overlaps the token's cell (tiles row-major, then
    the global image last; cells as data.aux_labels: 0.7 x radius around the centre)."""
    cover = np.zeros((n_tiles, 16), dtype=np.uint8)
    rows, cols = scenes.tile_grid(sc, n_tiles, longest_tiles)
    gh, gw = rows * 4, cols * 4  # token grid over all tiles
    for i, o in enumerate(sc.objects):
        bit = np.uint8(1 << i)
        u, v = o.cx / sc.width, o.cy / sc.height
        ru, rv = 0.7 * o.radius / sc.width, 0.7 * o.radius / sc.height
        for gy in range(max(0, int((v - rv) * gh)), min(gh - 1, int((v + rv) * gh)) + 1):
            for gx in range(max(0, int((u - ru) * gw)), min(gw - 1, int((u + ru) * gw)) + 1):
                cover[(gy // 4) * cols + gx // 4, (gy % 4) * 4 + gx % 4] |= bit
        for gy in range(max(0, int((v - rv) * 4)), min(3, int((v + rv) * 4)) + 1):  # global image
            for gx in range(max(0, int((u - ru) * 4)), min(3, int((u + ru) * 4)) + 1):
                cover[-1, gy * 4 + gx] |= bit
    return cover


def _questions_naming(o: scenes.Obj, qtype: str) -> list[str]:
    """Every question of `qtype` that `scenes`' templates can ask about object o."""
    place = scenes.region_phrase(o.row, o.col)
    if qtype == "color":
        return [f"What color is the {o.shape}?", f"Which color is the {o.shape}?", f"What color is the shape {place}?"]
    if qtype == "shape":
        return [f"What shape is the {o.color} object?", f"Which shape is {o.color}?", f"What shape is {place}?"]
    if qtype == "position":
        return [f"Where is the {o.name}?", f"Where is the {o.name} located?"]
    return []


def named_bits(sc: scenes.Scene, qtype: str, question: str) -> int:
    """Bitmask over sc.objects of the object(s) the question is about (0: no attention target)."""
    bits = 0
    if qtype == "relative":
        for i, o in enumerate(sc.objects):
            if f"the {o.name} " in question or f"the {o.name}?" in question:
                bits |= 1 << i
        return bits
    for i, o in enumerate(sc.objects):
        if question in _questions_naming(o, qtype):
            bits |= 1 << i
    return bits


class AnswerAttention:
    """Attention rows of the answer position in the text model's layers, recomputed in hooks.

    Before each forward set `query_pos` (B,) (None: hooks idle) and `log` (also fill the other layers,
    without gradient). After it, `probs[layer]` is (B, heads, L) float32. A failure inside a hook is
    kept in `error` (the hooks go idle) instead of stopping the training run."""

    def __init__(self, text_model, sup_layers: list[int]):
        from functools import partial
        self.sup_layers = set(sup_layers)
        self.query_pos = None
        self.log = False
        self.probs: dict = {}
        self.keep_inputs = False   # on log steps also keep each layer's attention input (KindProbes)
        self.inputs: dict = {}
        self.error: Exception | None = None
        self.handles = []
        for li, layer in enumerate(text_model.layers):
            self.handles.append(layer.self_attn.register_forward_pre_hook(partial(self._hook, li), with_kwargs=True))

    def _hook(self, li, module, args, kwargs):
        import torch
        if self.query_pos is None or self.error is not None or (li not in self.sup_layers and not self.log):
            return None
        try:
            h = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
            pe = kwargs["position_embeddings"] if "position_embeddings" in kwargs else args[1]
            with torch.set_grad_enabled(torch.is_grad_enabled() and li in self.sup_layers):
                self.probs[li] = answer_row(module, h, pe, self.query_pos)
            if self.log and self.keep_inputs:
                self.inputs[li] = h.detach()
        except Exception as e:  # noqa: BLE001 - reported by the training loop
            self.error = e
        return None

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class KindProbes:
    """Online linear probes for the kind of shape in each text layer l (training only, detached inputs):
    'img'  the input of layer l's attention (after input_layernorm) at tile tokens covering exactly one
           object (kind from the auxiliary targets): can layer l's keys / values still carry the kind?
    'read' what the answer position's attention reads in layer l (probability-weighted values of all
           heads, before o_proj) on shape questions (kind = the answer);
    'ans'  the answer position's own layer-l input on shape questions.
    Each probe takes `inner` Adam steps on every log step's features; its accuracy is counted on those
    features before the update (so on data it has not fitted). Chance is 1 / 7."""

    def __init__(self, lr: float = 1e-2, inner: int = 5, max_rows: int = 4096):
        self.lr, self.inner, self.max_rows = lr, inner, max_rows
        self.probes: dict = {}
        self.hits: dict = {}
        self.n: dict = {}

    def update(self, feats: dict, labels: dict) -> None:
        """feats[(name, layer)] (n, width) float, labels[(name, layer)] (n,) long in [0, n_kinds)."""
        import torch
        for key, x in feats.items():
            if x.shape[0] == 0:
                continue
            x, y = x.float(), labels[key]
            if x.shape[0] > self.max_rows:
                keep = torch.randperm(x.shape[0], device=x.device)[: self.max_rows]
                x, y = x[keep], y[keep]
            if key not in self.probes:
                lin = torch.nn.Linear(x.shape[1], len(scenes.SHAPES)).to(x.device)
                self.probes[key] = (lin, torch.optim.Adam(lin.parameters(), lr=self.lr))
                self.hits[key], self.n[key] = 0, 0
            lin, opt = self.probes[key]
            with torch.no_grad():
                self.hits[key] += int((lin(x).argmax(-1) == y).sum())
                self.n[key] += int(x.shape[0])
            with torch.enable_grad():
                for _ in range(self.inner):
                    opt.zero_grad(set_to_none=True)
                    torch.nn.functional.cross_entropy(lin(x), y).backward()
                    opt.step()

    def report(self) -> str:
        """'img L0 0.31 L1 ...; read ...; ans ...' accuracies since the last report, then reset."""
        parts = []
        for name in ("img", "read", "ans"):
            keys = sorted(k for k in self.probes if k[0] == name)
            if keys:
                parts.append(name + " " + " ".join(f"L{k[1]} {self.hits[k] / max(1, self.n[k]):.2f}" for k in keys)
                             + f" (n {self.n[keys[0]]})")
        for k in self.hits:
            self.hits[k], self.n[k] = 0, 0
        return "; ".join(parts)


def probe_features(attn: AnswerAttention, layers, batch: dict, image_token_id: int, tokens_per_tile: int,
                   is_global, qpos, shape_class, shape_q: int, aux_colors: int, aux_shapes: int):
    """Features and kind labels for KindProbes from one log step (attn.inputs and attn.probs filled).
    rows of the flattened per-tile aux targets follow the <image> positions (pool.image_rows order);
    shape_class (vocab,) long maps a shape word's first token id to its kind index (-1 elsewhere).
    returns feats, labels: dicts keyed (name, layer)"""
    import torch
    import pool
    ids = batch["input_ids"]
    img = ids == image_token_id                                                  # (B, L)
    rows = pool.image_rows(batch["n_tiles"], batch["scene_of_seq"], tokens_per_tile)
    aux = batch["aux"].reshape(-1, batch["aux"].shape[-1])[rows]                 # (n_img, D + 1)
    col, kind = aux[:, :aux_colors], aux[:, aux_colors:aux_colors + aux_shapes]
    one = (col.sum(-1) == 1) & (kind.sum(-1) == 1) & ~is_global[rows // tokens_per_tile]
    y_img = kind[one].argmax(-1)
    b = torch.arange(ids.shape[0], device=ids.device)
    y_ans = shape_class[ids[b, qpos + 1]]                                        # (B,) -1 unless a shape word
    sq = (batch["qtype"] == shape_q) & (y_ans >= 0)
    feats, labels = {}, {}
    with torch.no_grad():
        for li, h in attn.inputs.items():
            feats[("img", li)], labels[("img", li)] = h[img][one], y_img
            feats[("ans", li)], labels[("ans", li)] = h[b[sq], qpos[sq]], y_ans[sq]
            if li in attn.probs:
                m = layers[li].self_attn
                p = attn.probs[li][sq]                                           # (n, nh, L)
                nh = p.shape[1]
                d = m.q_proj.out_features // nh
                nkv = m.v_proj.out_features // d
                v = m.v_proj(h[sq].to(m.v_proj.weight.dtype)).float().view(p.shape[0], -1, nkv, d)
                v = v.repeat_interleave(nh // nkv, dim=2)                        # (n, L, nh, d)
                feats[("read", li)] = torch.einsum("nhl,nlhd->nhd", p, v).reshape(p.shape[0], nh * d)
                labels[("read", li)] = y_ans[sq]
    return feats, labels


def _rotate_half(x):
    import torch
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def answer_row(module, h, pe, qpos):
    """Attention probabilities of query qpos[b] over keys 0..qpos[b] (causal) in one Llama attention
    module. h (B, L, H) layer input (after input_layernorm); pe = (cos, sin) each (1 or B, L, d).
    returns (B, heads, L) float32, zero beyond qpos."""
    import torch
    B, L, _ = h.shape
    d = getattr(module, "head_dim", None) or module.q_proj.out_features // module.config.num_attention_heads
    nh, nkv = module.q_proj.out_features // d, module.k_proj.out_features // d
    scale = getattr(module, "scaling", d ** -0.5)
    cos, sin = (t.expand(B, -1, -1).float() for t in pe)                          # (B, L, d)
    b = torch.arange(B, device=h.device)
    q = module.q_proj(h[b, qpos]).float().view(B, nh, d)                          # (B, nh, d)
    q = q * cos[b, qpos][:, None] + _rotate_half(q) * sin[b, qpos][:, None]
    k = module.k_proj(h).float().view(B, L, nkv, d)                               # (B, L, nkv, d)
    k = k * cos[:, :, None] + _rotate_half(k) * sin[:, :, None]
    k = k.repeat_interleave(nh // nkv, dim=2)                                     # (B, L, nh, d)
    s = torch.einsum("bhd,blhd->bhl", q, k) * scale                               # (B, nh, L)
    s = s.masked_fill(torch.arange(L, device=h.device)[None, None] > qpos[:, None, None], float("-inf"))
    return torch.softmax(s, dim=-1)


def check(module, h, pe, qpos, out) -> float:
    """Relative max |diff| between the layer's own attention output at qpos and the recomputed row
    applied to V through o_proj. out: the module's output tensor (B, L, H)."""
    import torch
    B, L, _ = h.shape
    p = answer_row(module, h, pe, qpos)                                           # (B, nh, L)
    nh = p.shape[1]
    d = module.q_proj.out_features // nh
    nkv = module.v_proj.out_features // d
    v = module.v_proj(h).float().view(B, L, nkv, d).repeat_interleave(nh // nkv, dim=2)
    o = torch.einsum("bhl,blhd->bhd", p, v).reshape(B, nh * d)
    ref = module.o_proj(o.to(module.o_proj.weight.dtype)).float()
    got = out[torch.arange(B, device=h.device), qpos].float()
    return float((ref - got).abs().max() / got.abs().max().clamp(min=1e-6))


def loss(probs, target, head: int | None):
    """Cross-entropy of the answer row against a uniform target over `target` (B, L) bool tokens,
    mean over sequences that have a target. probs (B, nh, L); head None = mean over heads."""
    import torch
    has = target.any(-1)
    if not has.any():
        return probs.sum() * 0.0
    p = probs[has].mean(1) if head is None else probs[has, head]                 # (n, L)
    t = target[has].float()
    return (-(torch.log(p + 1e-9) * t).sum(-1) / t.sum(-1)).mean()


if __name__ == "__main__":  # self-test of the targets (Pillow only): python3 tools/demo-model/attn_sup.py
    import random
    n_named = {t: 0 for t in scenes.QTYPES}
    tokens = []
    for seed in range(300):
        sc = scenes.make_scene(seed, render=False)
        rows = cols = 4
        if sc.width >= sc.height:
            rows = max(1, -(-round(1024 * sc.height / sc.width) // 256))
        else:
            cols = max(1, -(-round(1024 * sc.width / sc.height) // 256))
        n_tiles = rows * cols + 1
        cover = object_cover(sc, n_tiles)
        for i in range(len(sc.objects)):
            assert ((cover[:-1] >> i) & 1).any() and ((cover[-1] >> i) & 1).any(), (seed, i)
        rng = random.Random(seed)
        for t in scenes.QTYPES:
            qa = scenes.QA_MAKERS[t](sc, rng)
            if qa is None:
                continue
            q, a = qa
            bits = named_bits(sc, t, q)
            objs = [o for i, o in enumerate(sc.objects) if bits >> i & 1]
            if t in ("color", "shape", "position"):
                assert len(objs) == 1, (seed, q, objs)
                o = objs[0]
                assert a == {"color": o.color, "shape": o.shape, "position": scenes.region_name(o.row, o.col)}[t], (q, a)
                tokens.append(int(((cover >> sc.objects.index(o)) & 1).sum()))
            elif t == "relative":
                assert len(objs) == 2, (seed, q, objs)
            else:
                assert bits == 0
            n_named[t] += bits != 0
    print(f"named-object targets OK on 300 scenes: {n_named}; tokens per named object "
          f"min {min(tokens)} median {sorted(tokens)[len(tokens) // 2]} max {max(tokens)}")
