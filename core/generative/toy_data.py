"""2-D toy distributions for generative models: moons, rings, checkerboard, 8 Gaussians, spiral.

Each sampler returns (n, 2) float64 points scaled to roughly unit spread (most within ±3), drawn
from a seeded `torch.Generator` so that the same seed gives the same points.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

ToyName = Literal["moons", "rings", "checkerboard", "8gaussians", "spiral"]
TOY_NAMES: tuple[str, ...] = ("moons", "rings", "checkerboard", "8gaussians", "spiral")


def _uniform(n: int, g: torch.Generator) -> Tensor:
    return torch.rand(n, generator=g, dtype=torch.float64)


def _normal(n: int, d: int, g: torch.Generator) -> Tensor:
    return torch.randn(n, d, generator=g, dtype=torch.float64)


def sample_toy(name: str, n: int, seed: int = 0, noise: float = 0.05) -> Tensor:
    """n points (n, 2) from the toy distribution `name`, seeded.

    `noise` is the standard deviation of Gaussian jitter added to moons, rings and spiral.
    """
    if name not in TOY_NAMES:
        raise ValueError(f"name: unknown toy distribution {name!r} (allowed: {TOY_NAMES})")
    if n < 0:
        raise ValueError(f"n: need n >= 0, got {n}")
    g = torch.Generator().manual_seed(seed)
    if name == "moons":  # scikit-learn's make_moons shape, centred and scaled
        upper = torch.rand(n, generator=g) < 0.5
        angle = math.pi * _uniform(n, g)
        x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
        y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
        points = torch.stack([x - 0.5, y - 0.25], 1) * 2.0
        return points + noise * 2.0 * _normal(n, 2, g)
    if name == "rings":  # two concentric circles, radii 1 and 2.5, points in proportion
        outer = torch.rand(n, generator=g) < 2.5 / 3.5
        radius = torch.where(outer, 2.5, 1.0)
        angle = 2 * math.pi * _uniform(n, g)
        points = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
        return points + noise * 2.0 * _normal(n, 2, g)
    if name == "checkerboard":  # the 8 black squares of a 4×4 board on [−2, 2]²
        cell = torch.randint(0, 8, (n,), generator=g)
        row = cell // 2
        col = 2 * (cell % 2) + (row % 2)
        offset = torch.rand(n, 2, generator=g, dtype=torch.float64)
        return torch.stack([col, row], 1).to(torch.float64) + offset - 2.0
    if name == "8gaussians":  # 8 modes on a circle of radius 2, σ = 0.2
        k = torch.randint(0, 8, (n,), generator=g).to(torch.float64)
        centres = 2.0 * torch.stack([torch.cos(k * math.pi / 4), torch.sin(k * math.pi / 4)], 1)
        return centres + 0.2 * _normal(n, 2, g)
    # spiral: one arm, radius growing with the angle
    s = torch.sqrt(_uniform(n, g))
    angle = 3 * math.pi * s
    points = 2.6 * s[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    return points + noise * 2.0 * _normal(n, 2, g)
