"""Shared pieces of 2-D decision maps (xgboost's probability map, the ensembles' boundaries).

A map is a heatmap over a regular grid around the data with the training points on top, coloured
by class; boundaries are contour lines of a score on the same grid.
"""

from __future__ import annotations

import numpy as np

from demos.base import Text
from demos.theme import COLORWAY

CLASS_COLORS = (COLORWAY[0], COLORWAY[1], COLORWAY[2])
# Light fills of the three classes, for maps of the predicted class.
CLASS_FILLS = ("rgba(0,114,178,0.28)", "rgba(213,94,0,0.28)", "rgba(0,158,115,0.28)")
PROBABILITY_SCALE = [
    [0.0, CLASS_COLORS[0]],
    [0.5, "rgba(200,200,200,0.15)"],
    [1.0, CLASS_COLORS[1]],
]


def grid(
    x: np.ndarray, steps: int, margin: float = 0.25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs (S,), ys (S,), points (S·S, 2)) covering the data's box widened by `margin`; points
    run along x first, so `values.reshape(S, S)` is a heatmap's z (rows = y)."""
    low, high = x.min(0) - margin, x.max(0) + margin
    xs, ys = np.linspace(low[0], high[0], steps), np.linspace(low[1], high[1], steps)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], 1)


def class_points(
    x: np.ndarray,
    y: np.ndarray,
    lang: str,
    *,
    size: float | np.ndarray = 7,
    axes: tuple[str, str] = ("x", "y"),
    legend: bool = True,
    weight: np.ndarray | None = None,
) -> list[dict]:
    """One scatter trace per class, outlined so that points read over any map colour; `weight`
    (N,) is shown on hover."""
    traces = []
    for k in np.unique(y):
        mask = y == k
        marker_size = size[mask] if isinstance(size, np.ndarray) else size
        traces.append({
            "type": "scatter", "mode": "markers", "x": x[mask, 0], "y": x[mask, 1],
            "xaxis": axes[0], "yaxis": axes[1], "name": Text(f"class {k}", f"类别 {k}")(lang),
            "legendgroup": f"class {k}", "showlegend": legend,
            "marker": {"color": CLASS_COLORS[int(k) % 3], "size": marker_size,
                       "line": {"color": "rgba(255,255,255,0.85)", "width": 1}},
            "customdata": None if weight is None else weight[mask].astype(np.float32),
            "hovertemplate": "(%{x:.2f}, %{y:.2f})" + ("<br>w = %{customdata:.4f}" if weight is not None else "")
            + "<extra></extra>",
        })  # fmt: skip
    return traces


def class_edges(
    xs: np.ndarray, ys: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float32 line points, NaN between segments, of the cell edges where neighbouring grid
    cells predict different classes: the decision boundary as drawn on the grid.

    classes: (S·S,) or (T, S·S) ints on `grid`'s points (T maps: all their edges in one line)."""
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    xe, ye = [], []
    for c in np.atleast_2d(classes):
        c = c.reshape(len(ys), len(xs))
        i, j = np.nonzero(c[:, 1:] != c[:, :-1])  # vertical edges between columns j and j + 1
        x_mid = 0.5 * (xs[j] + xs[j + 1])
        xe.append(np.stack([x_mid, x_mid, np.full_like(x_mid, np.nan)], 1).ravel())
        ye.append(np.stack([ys[i] - dy / 2, ys[i] + dy / 2, np.full(len(i), np.nan)], 1).ravel())
        i, j = np.nonzero(c[1:, :] != c[:-1, :])  # horizontal edges between rows i and i + 1
        y_mid = 0.5 * (ys[i] + ys[i + 1])
        xe.append(np.stack([xs[j] - dx / 2, xs[j] + dx / 2, np.full(len(j), np.nan)], 1).ravel())
        ye.append(np.stack([y_mid, y_mid, np.full_like(y_mid, np.nan)], 1).ravel())
    x_all, y_all = np.concatenate(xe), np.concatenate(ye)
    if not len(x_all):  # one class everywhere: no boundary, one invisible point
        return np.array([np.nan], np.float32), np.array([np.nan], np.float32)
    return x_all.astype(np.float32), y_all.astype(np.float32)


def class_map(
    xs: np.ndarray, ys: np.ndarray, classes: np.ndarray, axes: tuple[str, str] = ("x", "y")
) -> dict:
    """A heatmap of the predicted class (classes: (S·S,) ints 0..2) in light class colours."""
    k = len(CLASS_FILLS)
    scale = []
    for i, fill in enumerate(CLASS_FILLS):
        scale += [[i / k, fill], [(i + 1) / k, fill]]
    return {
        "type": "heatmap", "x": xs.astype(np.float32), "y": ys.astype(np.float32),
        "z": classes.reshape(len(ys), len(xs)).astype(np.int8),
        "zmin": -0.5, "zmax": k - 0.5, "colorscale": scale, "showscale": False, "hoverinfo": "skip",
        "xaxis": axes[0], "yaxis": axes[1],
    }  # fmt: skip
