"""CenterNet: objects as points on a heatmap, with size and offset heads; and the radius rule.

Zhou, Wang, Krähenbühl 2019, "Objects as Points": each object is a peak of a class heatmap at its
centre cell (stride s), splatted with a Gaussian whose radius comes from CornerNet (Law & Deng
2018): the largest r such that a box displaced by r still has IoU ≥ min_overlap with the object.
Three displacements bound r, each by a quadratic in r (h, w the box's height and width, o the
overlap):

    both corners moved by (r, r):  (h − r)(w − r) / (2hw − (h − r)(w − r)) ≥ o
    shrunk by r on every side:      (h − 2r)(w − 2r) / (hw) ≥ o
    grown by r on every side:       hw / ((h + 2r)(w + 2r)) ≥ o

r is the smallest of the three boundary roots. The released CornerNet/CenterNet code solves
these with wrong roots and signs (`released_radius`, kept only to show the difference).
Decoding keeps the cells equal to their 3×3 max-pool (a peak) instead of running NMS.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from core.trace import Trace


def _case_roots(h: Tensor, w: Tensor, o: float) -> tuple[Tensor, Tensor, Tensor]:
    """The largest admissible r of each displacement case (the relevant quadratic root)."""
    b = h + w
    # (h − r)(w − r) ≥ 2o·hw/(1 + o)  ⇔  r² − (h + w) r + hw (1 − o)/(1 + o) ≥ 0: smaller root
    r1 = (b - torch.sqrt((b * b - 4 * h * w * (1 - o) / (1 + o)).clamp(min=0))) / 2
    # 4r² − 2(h + w) r + hw(1 − o) ≥ 0: smaller root
    r2 = (b - torch.sqrt((b * b - 4 * h * w * (1 - o)).clamp(min=0))) / 4
    # 4r² + 2(h + w) r − hw(1 − o)/o ≤ 0: positive root
    r3 = (-b + torch.sqrt(b * b + 4 * h * w * (1 - o) / o)) / 4
    return r1, r2, r3


def _check_overlap(min_overlap: float) -> None:
    if not (isinstance(min_overlap, (int, float)) and 0 < min_overlap < 1):
        raise ValueError(f"min_overlap: must lie in (0, 1), got {min_overlap!r}")


def _as_sizes(height: Any, width: Any) -> tuple[Tensor, Tensor, bool]:
    numbers = not (isinstance(height, Tensor) or isinstance(width, Tensor))
    h, w = torch.as_tensor(height), torch.as_tensor(width)
    dtype = torch.promote_types(h.dtype, w.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64 if numbers else torch.get_default_dtype()
    h, w = torch.broadcast_tensors(h.to(dtype), w.to(dtype))
    if not (
        torch.isfinite(h).all() and torch.isfinite(w).all() and (h >= 0).all() and (w >= 0).all()
    ):
        raise ValueError("height, width: must be finite and ≥ 0")
    return h, w, numbers


def gaussian_radius(
    height: Any, width: Any, min_overlap: float = 0.7, *, trace: Trace | None = None
) -> Any:
    """The largest r ≥ 0 keeping IoU ≥ min_overlap under each of CornerNet's three
    displacements (moved by (r, r), shrunk by r per side, grown by r per side).

    Law & Deng 2018, §3.2, with the exact roots. Numbers -> float; tensors -> tensor, elementwise.
    """
    _check_overlap(min_overlap)
    h, w, numbers = _as_sizes(height, width)
    r1, r2, r3 = _case_roots(h, w, min_overlap)
    radius = torch.minimum(torch.minimum(r1, r2), r3).clamp(min=0)
    if trace is not None:
        trace.record("radius", moved=r1, shrunk=r2, grown=r3, radius=radius)
    return radius.item() if numbers else radius


def released_radius(height: Any, width: Any, min_overlap: float = 0.7) -> Any:
    """The radius of the released CornerNet/CenterNet code (`gaussian_radius` in its
    utils/image.py), reproduced as published: each quadratic's larger root over 2 (not 2a), and
    the third with the sign of its linear term flipped. 2.73 for a 10 × 10 box at 0.7 (the exact
    rule gives 0.82)."""
    _check_overlap(min_overlap)
    h, w, numbers = _as_sizes(height, width)
    o = min_overlap
    b1, c1 = h + w, w * h * (1 - o) / (1 + o)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    a2, b2, c2 = 4, 2 * (h + w), (1 - o) * w * h
    r2 = (b2 + torch.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * o, -2 * o * (h + w), (o - 1) * w * h
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    radius = torch.minimum(torch.minimum(r1, r2), r3)
    return radius.item() if numbers else radius


def displaced_iou(height: Any, width: Any, r: Any) -> Tensor:
    """The smallest IoU of a box (h, w) with its three displacements by r, computed from the
    boxes themselves (not the quadratics). Tensors broadcast; -> tensor."""
    h, w, r = (torch.as_tensor(v, dtype=torch.float64) for v in (height, width, r))
    area = h * w
    moved = (h - r).clamp(min=0) * (w - r).clamp(min=0)
    moved = moved / (2 * area - moved)
    shrunk = (h - 2 * r).clamp(min=0) * (w - 2 * r).clamp(min=0) / area
    grown = area / ((h + 2 * r) * (w + 2 * r))
    return torch.minimum(torch.minimum(moved, shrunk), grown)


def _check_boxes(boxes: Any) -> Tensor:
    boxes = torch.as_tensor(boxes)
    if not boxes.is_floating_point():
        boxes = boxes.to(torch.get_default_dtype())
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes: expected shape (N, 4), got {tuple(boxes.shape)}")
    if not torch.isfinite(boxes).all() or (boxes[:, 2:] < boxes[:, :2]).any():
        raise ValueError("boxes: must be finite x1, y1, x2, y2 with x2 ≥ x1 and y2 ≥ y1")
    return boxes


def encode(
    boxes: Any,
    labels: Any,
    n_classes: int,
    output_size: tuple[int, int],
    stride: int = 4,
    min_overlap: float = 0.7,
    *,
    radius_rule: str = "exact",
    trace: Trace | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """CenterNet's training targets for one image.

    Zhou et al. 2019, §3: centre c = box centre / stride, cell (ix, iy) = ⌊c⌋; the class
    heatmap is the max over objects of exp(−(dx² + dy²)/2σ²) within |dx|, |dy| ≤ r of the
    cell, r = max(0, ⌊radius(h/s, w/s)⌋), σ = (2r + 1)/6; size (w, h)/s and offset c − ⌊c⌋
    at the centre cell. A later object at the same cell overwrites size and offset.
    boxes: (N, 4) x1, y1, x2, y2 in input pixels, labels: (N,) int64 ->
    heatmap (n_classes, H, W), size (2, H, W), offset (2, H, W), indices (N,) int64.
    `radius_rule` "released" uses `released_radius` instead (the demo's comparison).
    """
    boxes = _check_boxes(boxes)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    if labels.shape != boxes.shape[:1]:
        raise ValueError(f"labels: expected shape ({len(boxes)},), got {tuple(labels.shape)}")
    if len(labels) and not (labels.min() >= 0 and labels.max() < n_classes):
        raise ValueError(f"labels: must lie in [0, {n_classes})")
    height, width = (int(v) for v in output_size)
    dtype = boxes.dtype
    heatmap = torch.zeros(n_classes, height, width, dtype=dtype)
    size = torch.zeros(2, height, width, dtype=dtype)
    offset = torch.zeros(2, height, width, dtype=dtype)

    wh = (boxes[:, 2:] - boxes[:, :2]) / stride
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / stride
    cell = torch.floor(centre).to(torch.int64)
    cell[:, 0].clamp_(0, width - 1)
    cell[:, 1].clamp_(0, height - 1)
    indices = cell[:, 1] * width + cell[:, 0]
    rule = released_radius if radius_rule == "released" else gaussian_radius
    exact = (
        rule(wh[:, 1].double(), wh[:, 0].double(), min_overlap) if len(boxes) else torch.zeros(0)
    )
    radii = torch.floor(exact).clamp(min=0).to(torch.int64)

    ys = torch.arange(height).view(-1, 1)
    xs = torch.arange(width).view(1, -1)
    for n in range(len(boxes)):
        ix, iy, r = int(cell[n, 0]), int(cell[n, 1]), int(radii[n])
        sigma = (2 * r + 1) / 6  # the diameter 2r + 1 spans ±3σ
        dx, dy = xs - ix, ys - iy
        window = (dx.abs() <= r) & (dy.abs() <= r)
        gaussian = torch.exp(-(dx * dx + dy * dy).to(dtype) / (2 * sigma * sigma))
        heatmap[labels[n]] = torch.maximum(heatmap[labels[n]], torch.where(window, gaussian, 0))
        size[:, iy, ix] = wh[n]
        offset[:, iy, ix] = centre[n] - cell[n].to(dtype)
    if trace is not None:
        trace.record("encode", radius=exact, radii=radii, cells=cell, indices=indices)
    return heatmap, size, offset, indices


def decode(
    heatmap: Tensor,
    size: Tensor,
    offset: Tensor,
    stride: int = 4,
    k: int = 100,
    *,
    trace: Trace | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Boxes from CenterNet's heads: 3×3 max-pool peaks, top-k over classes and cells.

    Zhou et al. 2019, §4: a cell is a peak when it equals the max of its 3×3 neighbourhood
    (stride 1, padding 1); box = ((ix + δx ∓ w/2)·s, (iy + δy ∓ h/2)·s), score = heat, label =
    channel. Equal scores keep row-major order (class, y, x).
    heatmap (C, H, W), size, offset (2, H, W) -> boxes (k, 4), scores (k,), labels (k,) int64,
    by decreasing score; k is capped at C·H·W.
    """
    if heatmap.ndim != 3 or size.shape != (2, *heatmap.shape[1:]) or offset.shape != size.shape:
        raise ValueError(
            "heatmap, size, offset: expected (C, H, W), (2, H, W), (2, H, W), got "
            f"{tuple(heatmap.shape)}, {tuple(size.shape)}, {tuple(offset.shape)}"
        )
    _, height, width = heatmap.shape
    pooled = F.max_pool2d(heatmap[None], 3, stride=1, padding=1)[0]
    peaks = torch.where(pooled == heatmap, heatmap, 0)
    k = max(0, min(int(k), peaks.numel()))
    order = torch.argsort(peaks.flatten(), descending=True, stable=True)[:k]
    scores = peaks.flatten()[order]
    labels = order // (height * width)
    cell = order % (height * width)
    iy, ix = cell // width, cell % width
    w, h = size[0, iy, ix], size[1, iy, ix]
    cx = ix.to(heatmap.dtype) + offset[0, iy, ix]
    cy = iy.to(heatmap.dtype) + offset[1, iy, ix]
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1) * stride
    if trace is not None:
        trace.record("decode", pooled=pooled, peaks=peaks, labels=labels, cells=cell, scores=scores)
    return boxes, scores, labels
