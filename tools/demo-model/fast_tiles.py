"""Idefics3 image splitting for training, without the processor's float round trips.

transformers' Idefics3ImageProcessor (PIL path, the one the held-out eval uses) does, on a uint8
RGB image: (1) PIL resize so the longest edge is `size.longest_edge` (other side int() of the
aspect, rounded up to even); (2) PIL resize both sides up to a multiple of the tile size
(`resize_for_vision_encoder`); (3) crop tiles row-major and PIL-resize the whole image to one
tile (the global image, last); then rescale/normalise in float32 per tile. Steps 1-3 are plain
PIL resizes and crops on uint8, so doing exactly those here gives the processor's pixels
bit-for-bit at a fraction of its cost (no float32 copies of every intermediate).
`checks.py` asserts equality with the real processor on the GPU host before training uses it,
and `python3 fast_tiles.py` compares with the committed fixture's per-tile means.

Also the prompt text the processor puts in place of `<image>` (SmolVLM's markers), so a batch's
image-expanded prefix can be tokenized once per (rows, cols) grid.
Depends on Pillow and numpy only.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

LANCZOS = Image.Resampling.LANCZOS  # preprocessor_config.json resample 1


def longest_edge_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """Idefics3 `_resize_output_size_rescale_to_max_len`: (width, height) after step 1."""
    aspect = width / height
    if width >= height:
        w = longest
        h = int(w / aspect)
        h += h % 2
    else:
        h = longest
        w = int(h * aspect)
        w += w % 2
    return max(w, 1), max(h, 1)


def vision_encoder_size(width: int, height: int, tile: int) -> tuple[int, int]:
    """Idefics3 `get_resize_for_vision_encoder`: both sides up to a multiple of the tile."""
    aspect = width / height
    if width >= height:
        w = math.ceil(width / tile) * tile
        h = math.ceil(int(w / aspect) / tile) * tile
    else:
        h = math.ceil(height / tile) * tile
        w = math.ceil(int(h * aspect) / tile) * tile
    return w, h


def split(image: Image.Image, longest: int = 1024, tile: int = 256) -> tuple[np.ndarray, int, int]:
    """uint8 tiles (n, 3, tile, tile) row-major then the global image, and the (rows, cols) grid
    (0, 0 when the image fits one tile: then only the global image)."""
    image = image.convert("RGB")
    size = longest_edge_size(*image.size, longest)
    if size != image.size:
        image = image.resize(size, LANCZOS)
    size = vision_encoder_size(*image.size, tile)
    if size != image.size:
        image = image.resize(size, LANCZOS)
    w, h = image.size
    arr = np.asarray(image)  # (h, w, 3)
    frames = []
    rows = cols = 0
    if h > tile or w > tile:
        rows, cols = math.ceil(h / tile), math.ceil(w / tile)
        th, tw = math.ceil(h / rows), math.ceil(w / cols)
        for r in range(rows):
            for c in range(cols):
                frames.append(arr[r * th:(r + 1) * th, c * tw:(c + 1) * tw])
    glob = image.resize((tile, tile), LANCZOS) if (w, h) != (tile, tile) else image
    frames.append(np.asarray(glob))
    return np.ascontiguousarray(np.stack(frames).transpose(0, 3, 1, 2)), rows, cols


def image_prompt(rows: int, cols: int, seq_len: int) -> str:
    """What Idefics3Processor writes in place of one `<image>` for a rows x cols split."""
    fake, img = "<fake_token_around_image>", "<image>" * seq_len
    if rows == 0 and cols == 0:
        return f"{fake}<global-img>{img}{fake}"
    s = ""
    for r in range(rows):
        for c in range(cols):
            s += f"{fake}<row_{r + 1}_col_{c + 1}>{img}"
        s += "\n"
    return f"{s}\n{fake}<global-img>{img}{fake}"


if __name__ == "__main__":  # compare with the fixture's per-tile means (processor output, 5 decimals)
    import json
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    ref = json.load(open(os.path.join(here, "fixtures", "reference.json")))
    tiles, rows, cols = split(Image.open(os.path.join(here, "fixtures", "sample.png")))
    means = ((tiles.astype(np.float64) / 255 - 0.5) / 0.5).mean(axis=(1, 2, 3))
    err = np.abs(means - np.array(ref["pixel_values_tile_means"])).max()
    print(f"tiles {tiles.shape} grid {rows}x{cols} (ref {ref['rows']}x{ref['cols']}), max tile-mean diff {err:.2e}")
    assert [[rows]] == ref["rows"] and [[cols]] == ref["cols"] and err < 2e-5, err
    print("ok")
