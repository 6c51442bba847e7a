"""A toy world for contrastive training: 24×24 images of one coloured shape, and their captions.

5 shapes × 5 colours × 5 positions × 2 sizes = 250 compositions; captions come from a small
grammar ("a big red circle at the top left"). Five colour–shape pairs, one per colour and one
per shape, never appear in training: their 50 compositions are held out for zero-shot tests.
A toy, named as one: it is what a minute of CPU can learn, not a dataset.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross", "ring")
COLOURS = ("red", "green", "blue", "yellow", "purple")
POSITIONS = ("top left", "top right", "center", "bottom left", "bottom right")
SIZES = ("small", "big")
RGB = {
    "red": (0.85, 0.15, 0.1),
    "green": (0.1, 0.7, 0.2),
    "blue": (0.15, 0.3, 0.9),
    "yellow": (0.95, 0.85, 0.1),
    "purple": (0.6, 0.2, 0.75),
}
CENTRES = {  # (row, column) of the shape's centre, in pixels
    "top left": (7.0, 7.0),
    "top right": (7.0, 16.0),
    "center": (11.5, 11.5),
    "bottom left": (16.0, 7.0),
    "bottom right": (16.0, 16.0),
}
RADII = {"small": 3.5, "big": 6.0}
SIDE = 24
# One held-out pair per colour and per shape (a Latin-square diagonal).
HELD_OUT_PAIRS = tuple(zip(COLOURS, SHAPES, strict=True))
# Prompt words beyond the captions' grammar, so that zero-shot templates can be written.
TEMPLATES = (
    "a {}",
    "a photo of a {}",
    "a drawing of a {}",
    "a small {}",
    "a big {}",
    "a picture of a {}",
)
VOCABULARY = (
    "<pad>",
    "a",
    "at",
    "the",
    "photo",
    "of",
    "drawing",
    "picture",
    *SIZES,
    *COLOURS,
    *SHAPES,
    "top",
    "bottom",
    "left",
    "right",
    "center",
)
WORD_ID = {word: index for index, word in enumerate(VOCABULARY)}
MAX_WORDS = 12


@dataclass(frozen=True)
class Composition:
    shape: str
    colour: str
    position: str
    size: str

    @property
    def held_out(self) -> bool:
        return (self.colour, self.shape) in HELD_OUT_PAIRS

    def caption(self) -> str:
        return f"a {self.size} {self.colour} {self.shape} at the {self.position}"


COMPOSITIONS: tuple[Composition, ...] = tuple(
    Composition(shape, colour, position, size)
    for shape, colour, position, size in itertools.product(SHAPES, COLOURS, POSITIONS, SIZES)
)


def composition_index(shape: str, colour: str, position: str, size: str) -> int:
    """Row of (shape, colour, position, size) in COMPOSITIONS."""
    return COMPOSITIONS.index(Composition(shape, colour, position, size))


def _mask(shape: str, radius: float, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Pixels inside `shape` of `radius` centred at the origin of (rows, cols)."""
    r = np.hypot(rows, cols)
    if shape == "circle":
        return r <= radius
    if shape == "ring":
        return (r <= radius) & (r >= radius * 0.55)
    if shape == "square":
        return (np.abs(rows) <= radius * 0.85) & (np.abs(cols) <= radius * 0.85)
    if shape == "cross":
        arm = radius * 0.35
        inside = (np.abs(rows) <= radius) & (np.abs(cols) <= radius)
        return inside & ((np.abs(rows) <= arm) | (np.abs(cols) <= arm))
    if shape == "triangle":  # apex up: the width grows from the apex to the base
        top, bottom = -radius, radius * 0.8
        width = (rows - top) / (bottom - top) * radius
        return (rows >= top) & (rows <= bottom) & (np.abs(cols) <= width)
    raise ValueError(f"shape must be one of {SHAPES}; got {shape!r}")


def render_image(
    composition: Composition, rng: np.random.Generator | None = None, noise: float = 0.05
) -> np.ndarray:
    """One (24, 24, 3) float32 image in [0, 1]; `rng` adds jitter of position, size, colour and
    pixel noise (None: the canonical image)."""
    centre_row, centre_col = CENTRES[composition.position]
    radius = RADII[composition.size]
    colour = np.array(RGB[composition.colour])
    background = np.full(3, 0.08)
    if rng is not None:
        centre_row += rng.uniform(-1.5, 1.5)
        centre_col += rng.uniform(-1.5, 1.5)
        radius *= rng.uniform(0.85, 1.15)
        colour = np.clip(colour + rng.normal(0, 0.05, 3), 0, 1)
        background = np.clip(background + rng.uniform(-0.05, 0.1), 0, 1)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    inside = _mask(composition.shape, radius, rows - centre_row, cols - centre_col)
    image = np.where(inside[..., None], colour, background)
    if rng is not None and noise > 0:
        image = image + rng.normal(0, noise, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def tokens(text: str) -> np.ndarray:
    """Word ids of `text`, padded with 0 to MAX_WORDS; raises ValueError on unknown words."""
    words = text.split()
    unknown = [w for w in words if w not in WORD_ID]
    if unknown:
        raise ValueError(f"text: unknown words {unknown} (the grammar knows {VOCABULARY[1:]})")
    if len(words) > MAX_WORDS:
        raise ValueError(f"text: at most {MAX_WORDS} words")
    ids = np.zeros(MAX_WORDS, dtype=np.int64)
    ids[: len(words)] = [WORD_ID[w] for w in words]
    return ids


def training_caption(composition: Composition, rng: np.random.Generator) -> str:
    """A caption of the grammar with optional parts dropped (size, position) or a prefix added,
    so that short prompts like "a photo of a red circle" are in the captions' distribution."""
    size = f"{composition.size} " if rng.random() > 0.3 else ""
    where = f" at the {composition.position}" if rng.random() > 0.3 else ""
    prefix = "a photo of a" if rng.random() < 0.3 else "a"
    return f"{prefix} {size}{composition.colour} {composition.shape}{where}"


def training_set(variants: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`variants` jittered images of each seen composition, their caption ids and composition
    index: (M, 3, 24, 24) float32, (M, MAX_WORDS) int64, (M,) int64."""
    rng = np.random.default_rng(seed)
    seen = [i for i, c in enumerate(COMPOSITIONS) if not c.held_out]
    images, captions, index = [], [], []
    for _ in range(variants):
        for i in seen:
            images.append(render_image(COMPOSITIONS[i], rng).transpose(2, 0, 1))
            captions.append(tokens(training_caption(COMPOSITIONS[i], rng)))
            index.append(i)
    return np.stack(images), np.stack(captions), np.array(index)


def canonical_images() -> np.ndarray:
    """Every composition's image with a fixed seed of jitter: (250, 24, 24, 3) float32."""
    rng = np.random.default_rng(2021)
    return np.stack([render_image(c, rng) for c in COMPOSITIONS])
