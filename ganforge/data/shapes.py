"""`shapes`: a built-in procedural dataset with a known discrete set of 120 modes and a label per image.

mode = (shape, shape colour, background colour): 6 x 5 x 4 = 120. Within a mode, position, size and a
small rotation vary, so a generator must learn more than 120 fixed pictures. Deterministic from a seed
at any resolution; image i's parameters depend only on (seed, i).
"""
import math

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross")
SHAPE_COLOURS = {
    "red": (230, 40, 40),
    "yellow": (245, 215, 40),
    "green": (40, 190, 70),
    "blue": (50, 100, 240),
    "magenta": (210, 60, 210),
}
BACKGROUNDS = {
    "black": (15, 15, 15),
    "white": (240, 240, 240),
    "grey": (128, 128, 128),
    "brown": (110, 70, 40),
}
NUM_MODES = len(SHAPES) * len(SHAPE_COLOURS) * len(BACKGROUNDS)
MAX_ROTATION_DEG = 15  # small enough that a square never looks like a diamond


def mode_of(shape: int, colour: int, background: int) -> int:
    return (shape * len(SHAPE_COLOURS) + colour) * len(BACKGROUNDS) + background


def describe_mode(mode: int) -> str:
    shape, rest = divmod(mode, len(SHAPE_COLOURS) * len(BACKGROUNDS))
    colour, background = divmod(rest, len(BACKGROUNDS))
    return f"{list(SHAPE_COLOURS)[colour]} {SHAPES[shape]} on {list(BACKGROUNDS)[background]}"


def _outline(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    """Polygon vertices of a shape of circumradius `radius`, rotated by `angle` radians."""
    if shape == "circle":
        corners = [(1.0, 2 * math.pi * k / 64) for k in range(64)]
    elif shape == "square":
        corners = [(1.0, math.pi / 4 + math.pi / 2 * k) for k in range(4)]
    elif shape == "diamond":
        corners = [(1.0, math.pi / 2 * k) for k in range(4)]
    elif shape == "triangle":
        corners = [(1.0, -math.pi / 2 + 2 * math.pi / 3 * k) for k in range(3)]
    elif shape == "star":
        corners = [(1.0 if k % 2 == 0 else 0.42, -math.pi / 2 + math.pi / 5 * k) for k in range(10)]
    else:  # cross: a plus sign with arms of half-width 0.3
        w = 0.3
        xy = [(w, 1), (w, w), (1, w), (1, -w), (w, -w), (w, -1), (-w, -1), (-w, -w), (-1, -w), (-1, w), (-w, w), (-w, 1)]
        corners = [(math.hypot(x, y) / math.sqrt(2) * 1.25, math.atan2(y, x)) for x, y in xy]
    return [(cx + radius * r * math.cos(a + angle), cy + radius * r * math.sin(a + angle)) for r, a in corners]


def render(mode: int, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """One image of `mode` as (resolution, resolution, 3) uint8, drawn supersampled then downscaled."""
    shape, rest = divmod(mode, len(SHAPE_COLOURS) * len(BACKGROUNDS))
    colour, background = divmod(rest, len(BACKGROUNDS))
    supersample = max(2, 256 // resolution)
    size = resolution * supersample
    radius = size * rng.uniform(0.26, 0.38)
    cx, cy = size / 2 + rng.uniform(-0.1, 0.1, size=2) * size
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    canvas = Image.new("RGB", (size, size), list(BACKGROUNDS.values())[background])
    ImageDraw.Draw(canvas).polygon(_outline(SHAPES[shape], cx, cy, radius, angle), fill=list(SHAPE_COLOURS.values())[colour])
    return np.asarray(canvas.resize((resolution, resolution), Image.Resampling.BOX), dtype=np.uint8)


def make_shapes(resolution: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`size` images, modes balanced and shuffled: (pixels (N, H, W, 3) uint8, labels (N,) int64)."""
    labels = np.random.default_rng([seed, 0]).permutation(np.arange(size) % NUM_MODES)
    pixels = np.empty((size, resolution, resolution, 3), dtype=np.uint8)
    for i, mode in enumerate(labels):
        pixels[i] = render(int(mode), resolution, np.random.default_rng([seed, 1, i]))
    return pixels, labels.astype(np.int64)
