"""Spatial pyramid pooling: a feature map of any size to a vector of one fixed length.

He et al. 2014, "Spatial Pyramid Pooling in Deep Convolutional Networks for Visual Recognition"
(SPP-net), section 2.3: the last convolutional feature map is pooled over an l × l grid of bins
for each pyramid level l, whatever its height and width, and the pooled values are
concatenated: C·Σ l² numbers for every input size, which a fully connected layer can take.

The bins are PyTorch's adaptive pooling bins, start = ⌊i·H/l⌋ and end = ⌈(i + 1)·H/l⌉: they
cover every row, neighbours may share a row, and when H < l a row serves several bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from core.trace import Trace

PoolMode = Literal["max", "avg"]


def bin_edges(size: int, level: int) -> Tensor:
    """(level, 2) int64 [start, end) of each bin along an axis of `size` pixels.

    start_i = ⌊i·size/level⌋, end_i = ⌈(i + 1)·size/level⌉ (integer arithmetic, as PyTorch).
    """
    if size <= 0 or level <= 0:
        raise ValueError(f"size and level must be positive, got size {size}, level {level}")
    i = torch.arange(level)
    start = torch.div(i * size, level, rounding_mode="floor")
    end = torch.div((i + 1) * size + level - 1, level, rounding_mode="floor")
    return torch.stack([start, end], dim=-1)


def _bin_members(size: int, level: int) -> tuple[Tensor, Tensor]:
    """Pixel indices (level, longest bin) of each bin, padded by repeats, and a mask of the real ones."""
    edges = bin_edges(size, level)
    longest = int((edges[:, 1] - edges[:, 0]).max())
    offsets = edges[:, :1] + torch.arange(longest)  # (level, longest)
    real = offsets < edges[:, 1:]
    return torch.minimum(offsets, edges[:, 1:] - 1), real


def adaptive_pool(x: Tensor, level: int, mode: PoolMode = "max") -> tuple[Tensor, Tensor | None]:
    """Pool x over a level × level grid of bins; for max, also the flat index h·W + w of each max.

    x: (N, C, H, W) -> (N, C, level, level), indices (N, C, level, level) or None for avg.
    The max taken is the first in row-major order among equals (NaN wins), as PyTorch's.
    """
    n, c, height, width = x.shape
    rows, row_real = _bin_members(height, level)  # (l, bh)
    cols, col_real = _bin_members(width, level)  # (l, bw)
    # flat pixel index of every member of every bin: (l, l, bh·bw), row-major inside a bin
    flat = (rows[:, None, :, None] * width + cols[None, :, None, :]).reshape(level, level, -1)
    real = (row_real[:, None, :, None] & col_real[None, :, None, :]).reshape(level, level, -1)
    flat, real = flat.to(x.device), real.to(x.device)  # the bins are built on the CPU
    members = x.flatten(2)[:, :, flat]  # (N, C, l, l, bh·bw)
    if mode == "max":
        members = members.masked_fill(~real, float("-inf"))
        values, position = members.max(dim=-1)  # first maximum; NaN propagates
        return values, flat.expand(n, c, -1, -1, -1).gather(-1, position[..., None])[..., 0]
    if mode == "avg":
        total = members.masked_fill(~real, 0).sum(dim=-1)
        return total / real.sum(dim=-1).to(total.dtype), None
    raise ValueError(f"mode: expected 'max' or 'avg', got {mode!r}")


def spatial_pyramid_pool(
    x: Tensor,
    levels: Sequence[int] = (1, 2, 4),
    mode: PoolMode = "max",
    trace: Trace | None = None,
) -> Tensor:
    """Concatenate, level after level, the flattened l × l adaptive pooling of a feature map.

    He et al. 2014 (SPP-net), section 2.3. x: (N, C, H, W) -> (N, C·Σ l²), equal to
    cat([adaptive_{max,avg}_pool2d(x, l).flatten(1) for l in levels], dim=1).
    Traced per level: "level" {level, row_edges (l, 2), col_edges (l, 2), pooled (N, C, l, l),
    argmax (N, C, l, l) flat h·W + w of each bin's maximum, or None for avg}.
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"mode: expected 'max' or 'avg', got {mode!r}")
    if x.dim() != 4:
        raise ValueError(f"x: expected a 4-D (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"x: height and width must be positive, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x: expected a floating-point tensor, got {x.dtype}")
    levels = [int(level) for level in levels]
    if not levels or min(levels) <= 0:
        raise ValueError(f"levels: expected positive integers, got {levels}")
    pooled_levels = []
    for level in levels:
        pooled, argmax = adaptive_pool(x, level, mode)
        if trace is not None:
            trace.record(
                "level",
                level=level,
                row_edges=bin_edges(x.shape[2], level),
                col_edges=bin_edges(x.shape[3], level),
                pooled=pooled,
                argmax=argmax,
            )
        pooled_levels.append(pooled.flatten(1))
    return torch.cat(pooled_levels, dim=1)
