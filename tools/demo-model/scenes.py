"""Procedural high-resolution scenes and their questions/answers for the Lumen demo VLM.

A scene is a large canvas (1024-2048 px wide) holding 1 to 8 small shapes, each with a unique
(colour, shape) pair, placed in a 3x3 grid of regions, on a plain or textured background with
optional grey distractors (thin lines, tiny dots) that are never counted. Shapes are small
relative to the canvas (2.5-6% of its width), so after SmolVLM-style image splitting they are
clear in the tiles but only a few pixels wide in the downscaled global image.

Everything is driven by one integer seed: `make_scene(seed)` and `make_qas(scene, rng)` are
deterministic, so the held-out set is "seeds >= HELDOUT_SEED_BASE" on every machine.
Depends on Pillow and the standard library only (numpy is optional, for texture).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

HELDOUT_SEED_BASE = 1_000_000_000  # training uses seeds below this, evaluation above

COLORS = {
    "red": (215, 35, 35),
    "green": (35, 160, 60),
    "blue": (35, 75, 215),
    "yellow": (235, 195, 20),
    "orange": (245, 125, 20),
    "purple": (135, 55, 185),
    "black": (25, 25, 25),
}
SHAPES = ["circle", "square", "triangle", "star", "hexagon", "diamond", "cross"]
PLURAL = {s: (s + "es" if s.endswith("s") else s + "s") for s in SHAPES}
SIZES = {"small": 0.025, "medium": 0.04, "large": 0.06}  # diameter as a fraction of width
BACKGROUNDS = {
    "white": (248, 248, 246),
    "beige": (238, 228, 205),
    "light blue": (215, 230, 245),
    "light gray": (222, 222, 222),
}
ROWS = ["top", "middle", "bottom"]
COLS = ["left", "center", "right"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight"]
QTYPES = ["color", "shape", "count", "position", "relative", "describe"]


def region_name(row: int, col: int) -> str:
    """Answer form of a 3x3 region: 'top left', 'top', 'center', 'right', ..."""
    r, c = ROWS[row], COLS[col]
    if r == "middle" and c == "center":
        return "center"
    if r == "middle":
        return c
    if c == "center":
        return r
    return f"{r} {c}"


def region_phrase(row: int, col: int) -> str:
    """Sentence form: 'in the top left', 'at the top', 'on the left', 'in the center'."""
    name = region_name(row, col)
    if name == "center" or " " in name:
        return f"in the {name}"
    if name in ("left", "right"):
        return f"on the {name}"
    return f"at the {name}"


@dataclass
class Obj:
    shape: str
    color: str
    size: str
    cx: float  # centre, canvas pixels
    cy: float
    radius: float
    row: int
    col: int

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass
class Scene:
    seed: int
    width: int
    height: int
    background: str
    textured: bool
    objects: list[Obj] = field(default_factory=list)
    image: Image.Image | None = None


def _polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    def ring(n: int, rr: float, off: float) -> list[tuple[float, float]]:
        return [(cx + rr * math.cos(off + 2 * math.pi * i / n), cy + rr * math.sin(off + 2 * math.pi * i / n))
                for i in range(n)]

    if shape == "square":
        return ring(4, r * 1.0, math.pi / 4 + rot * 0.15)
    if shape == "diamond":
        return [(cx, cy - r), (cx + r * 0.7, cy), (cx, cy + r), (cx - r * 0.7, cy)]
    if shape == "triangle":
        return ring(3, r * 1.1, -math.pi / 2 + rot * 0.2)
    if shape == "hexagon":
        return ring(6, r, rot)
    if shape == "star":
        pts = []
        for i in range(10):
            rr = r * (1.05 if i % 2 == 0 else 0.45)
            a = -math.pi / 2 + math.pi * i / 5 + rot * 0.2
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return pts
    if shape == "cross":
        a, b = r * 0.95, r * 0.32
        return [(cx - b, cy - a), (cx + b, cy - a), (cx + b, cy - b), (cx + a, cy - b), (cx + a, cy + b),
                (cx + b, cy + b), (cx + b, cy + a), (cx - b, cy + a), (cx - b, cy + b), (cx - a, cy + b),
                (cx - a, cy - b), (cx - b, cy - b)]
    raise ValueError(shape)


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in rgb)  # type: ignore[return-value]


def _texture(img: Image.Image, rng: random.Random) -> Image.Image:
    """Low-amplitude noise plus soft blotches, so backgrounds are not flat."""
    try:
        import numpy as np
    except ImportError:  # plain background when numpy is absent
        return img
    w, h = img.size
    nrng = np.random.default_rng(rng.getrandbits(32))
    arr = np.asarray(img, dtype=np.int16)
    small = nrng.integers(-14, 15, size=(h // 32 + 1, w // 32 + 1, 1), dtype=np.int16)
    blotch = np.kron(small, np.ones((32, 32, 1), dtype=np.int16))[:h, :w]
    fine = nrng.integers(-6, 7, size=(h, w, 1), dtype=np.int16)
    return Image.fromarray(np.clip(arr + blotch + fine, 0, 255).astype(np.uint8))


def make_scene(seed: int, render: bool = True, max_objects: int = 8) -> Scene:
    """max_objects < 8 gives easier training scenes; the default keeps the held-out set fixed."""
    rng = random.Random(seed)
    width = rng.randint(1024, 2048)
    height = int(width * rng.uniform(0.56, 1.0))
    bg = rng.choice(list(BACKGROUNDS))
    scene = Scene(seed, width, height, bg, textured=rng.random() < 0.5)
    n = rng.randint(1, 8)
    if max_objects < 8:
        n = min(n, rng.randint(1, max_objects))
    pairs = [(c, s) for c in COLORS for s in SHAPES]
    rng.shuffle(pairs)
    per_cell: dict[tuple[int, int], int] = {}
    for color, shape in pairs:
        if len(scene.objects) == n:
            break
        size = rng.choice(list(SIZES))
        radius = SIZES[size] * width * rng.uniform(0.92, 1.08) / 2
        for _ in range(30):
            row, col = rng.randrange(3), rng.randrange(3)
            if per_cell.get((row, col), 0) >= 2:
                continue
            # centre inside the inner 70% of the cell, so the region is unambiguous
            cx = (col + 0.15 + 0.7 * rng.random()) * width / 3
            cy = (row + 0.15 + 0.7 * rng.random()) * height / 3
            cx = min(max(cx, radius * 1.2), width - radius * 1.2)
            cy = min(max(cy, radius * 1.2), height - radius * 1.2)
            if all(math.hypot(cx - o.cx, cy - o.cy) > 1.4 * (radius + o.radius) for o in scene.objects):
                scene.objects.append(Obj(shape, color, size, cx, cy, radius, row, col))
                per_cell[(row, col)] = per_cell.get((row, col), 0) + 1
                break
    if render:
        scene.image = render_scene(scene, rng)
    return scene


def render_scene(scene: Scene, rng: random.Random) -> Image.Image:
    img = Image.new("RGB", (scene.width, scene.height), _jitter(BACKGROUNDS[scene.background], rng, 5))
    if scene.textured:
        img = _texture(img, rng)
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.5:  # distractors: thin grey lines and tiny grey dots, never counted
        for _ in range(rng.randint(1, 4)):
            g = rng.randint(150, 185)
            pts = [(rng.uniform(0, scene.width), rng.uniform(0, scene.height)) for _ in range(2)]
            draw.line(pts, fill=(g, g, g), width=max(1, scene.width // 700))
        for _ in range(rng.randint(0, 12)):
            g = rng.randint(140, 180)
            x, y, r = rng.uniform(0, scene.width), rng.uniform(0, scene.height), scene.width * 0.002
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(g, g, g))
    for o in scene.objects:
        fill = _jitter(COLORS[o.color], rng, 12)
        if o.shape == "circle":
            draw.ellipse([o.cx - o.radius, o.cy - o.radius, o.cx + o.radius, o.cy + o.radius], fill=fill)
        else:
            draw.polygon(_polygon(o.shape, o.cx, o.cy, o.radius, rng.uniform(-1, 1)), fill=fill)
    return img


def describe(scene: Scene) -> str:
    """One to three sentences: the count and background, then the shapes in reading order."""
    objs = sorted(scene.objects, key=lambda o: (o.row, o.col, o.cx))
    n = len(objs)
    head = (f"There is one shape on a {scene.background} background." if n == 1
            else f"There are {NUMBER_WORDS[n]} shapes on a {scene.background} background.")
    items = [f"{'a' if i else 'A'} {o.size} {o.color} {o.shape} is {region_phrase(o.row, o.col)}"
             for i, o in enumerate(objs)]
    groups = [items] if n <= 4 else [items[: (n + 1) // 2], items[(n + 1) // 2:]]
    sentences = [head]
    for g in groups:
        g = [g[0][0].upper() + g[0][1:]] + g[1:]
        body = g[0] if len(g) == 1 else ", ".join(g[:-1]) + " and " + g[-1]
        sentences.append(body + ".")
    return " ".join(sentences)


def _qa_color(s: Scene, rng: random.Random) -> tuple[str, str] | None:
    shapes = [o.shape for o in s.objects]
    cells = [(o.row, o.col) for o in s.objects]
    opts = [("shape", o) for o in s.objects if shapes.count(o.shape) == 1]
    opts += [("cell", o) for o in s.objects if cells.count((o.row, o.col)) == 1]
    if not opts:
        return None
    kind, o = rng.choice(opts)
    if kind == "shape":
        return rng.choice([f"What color is the {o.shape}?", f"Which color is the {o.shape}?"]), o.color
    return f"What color is the shape {region_phrase(o.row, o.col)}?", o.color


def _qa_shape(s: Scene, rng: random.Random) -> tuple[str, str] | None:
    colors = [o.color for o in s.objects]
    cells = [(o.row, o.col) for o in s.objects]
    opts = [("color", o) for o in s.objects if colors.count(o.color) == 1]
    opts += [("cell", o) for o in s.objects if cells.count((o.row, o.col)) == 1]
    if not opts:
        return None
    kind, o = rng.choice(opts)
    if kind == "color":
        return rng.choice([f"What shape is the {o.color} object?", f"Which shape is {o.color}?"]), o.shape
    return f"What shape is {region_phrase(o.row, o.col)}?", o.shape


def _qa_count(s: Scene, rng: random.Random) -> tuple[str, str]:
    k = rng.random()
    if k < 0.4:
        q = rng.choice(["How many shapes are there?", "How many shapes are in the image?"])
        return q, str(len(s.objects))
    if k < 0.7:
        color = rng.choice([o.color for o in s.objects] if rng.random() < 0.8 else list(COLORS))
        return f"How many {color} shapes are there?", str(sum(o.color == color for o in s.objects))
    shape = rng.choice([o.shape for o in s.objects] if rng.random() < 0.8 else SHAPES)
    return f"How many {PLURAL[shape]} are there?", str(sum(o.shape == shape for o in s.objects))


def _qa_position(s: Scene, rng: random.Random) -> tuple[str, str]:
    o = rng.choice(s.objects)
    return rng.choice([f"Where is the {o.name}?", f"Where is the {o.name} located?"]), region_name(o.row, o.col)


def _qa_relative(s: Scene, rng: random.Random) -> tuple[str, str] | None:
    pairs = []
    for a in s.objects:
        for b in s.objects:
            if a is b:
                continue
            dx, dy = a.cx - b.cx, a.cy - b.cy
            if abs(dx) > 0.12 * s.width and abs(dx) > 1.5 * abs(dy):
                pairs.append(("h", a, b))
            elif abs(dy) > 0.12 * s.height and abs(dy) > 1.5 * abs(dx):
                pairs.append(("v", a, b))
    if not pairs:
        return None
    axis, a, b = rng.choice(pairs)
    if axis == "h":
        return (f"Is the {a.name} to the left or to the right of the {b.name}?",
                "left" if a.cx < b.cx else "right")
    return f"Is the {a.name} above or below the {b.name}?", "above" if a.cy < b.cy else "below"


def _qa_describe(s: Scene, rng: random.Random) -> tuple[str, str]:
    q = rng.choice(["Describe the image.", "Describe this image.", "What do you see?"])
    return q, describe(s)


def _qa_background(s: Scene, rng: random.Random) -> tuple[str, str]:
    """Training-only warm-up question: answerable from any visual token."""
    return rng.choice(["What color is the background?", "Which color is the background?"]), s.background


QA_MAKERS = {"background": _qa_background, "color": _qa_color, "shape": _qa_shape, "count": _qa_count, "position": _qa_position,
             "relative": _qa_relative, "describe": _qa_describe}


def make_qa(scene: Scene, rng: random.Random, qtype: str | None = None,
            weights: dict[str, float] | None = None) -> tuple[str, str, str]:
    """(question type, question, answer). Falls back to another type when one does not apply."""
    w = weights or {t: 1.0 for t in QTYPES}
    order = [qtype] if qtype else []
    order += rng.choices(list(w), weights=list(w.values()), k=8) + ["count"]
    for t in order:
        qa = QA_MAKERS[t](scene, rng)
        if qa is not None:
            return t, qa[0], qa[1]
    raise AssertionError("count always applies")


def heldout(n_per_type: int, render: bool = True) -> list[dict]:
    """The fixed held-out set: n_per_type questions of each type, on scenes from held-out seeds."""
    items: list[dict] = []
    seed = HELDOUT_SEED_BASE
    for qtype in QTYPES:
        got = 0
        while got < n_per_type:
            scene = make_scene(seed, render=render)
            rng = random.Random(seed * 7 + 1)
            seed += 1
            qa = QA_MAKERS[qtype](scene, rng)
            if qa is None:
                continue
            items.append({"seed": scene.seed, "type": qtype, "question": qa[0], "answer": qa[1], "scene": scene})
            got += 1
    return items


def tile_grid(sc: Scene, n_tiles: int, longest_tiles: int = 4) -> tuple[int, int]:
    """(rows, cols) of the local tiles of a scene split into n_tiles (the global image last): the
    longer side has longest_tiles tiles."""
    if sc.width >= sc.height:
        return (n_tiles - 1) // longest_tiles, longest_tiles
    return longest_tiles, (n_tiles - 1) // longest_tiles


if __name__ == "__main__":  # quick look: python3 scenes.py OUT_DIR
    import sys
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/scenes"
    import os
    os.makedirs(out, exist_ok=True)
    for i in range(4):
        sc = make_scene(i)
        r = random.Random(i)
        sc.image.save(f"{out}/scene{i}.png")
        print(i, sc.width, sc.height, describe(sc))
        for t in QTYPES:
            print("  ", make_qa(sc, r, t))

