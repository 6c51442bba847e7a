"""Box overlap and the IoU family of regression losses.

IoU (Jaccard's index) → GIoU (Rezatofighi et al. 2019, "Generalized Intersection over Union")
→ DIoU and CIoU (Zheng et al. 2020, "Distance-IoU Loss"). Each loss is 1 − metric with
torchvision's definitions (`generalized_box_iou_loss`, `distance_box_iou_loss`,
`complete_box_iou_loss`), eps in the same places:

    IoU  = I / (U + eps)
    GIoU = IoU − (C − U) / (C + eps)                 C: area of the smallest enclosing box
    DIoU = IoU − ρ² / (c² + eps)                     ρ: centre distance, c: enclosing diagonal
    CIoU = DIoU − α v,  v = 4/π² (atan(w_gt/h_gt) − atan(w/h))²,  α = v / (1 − IoU + v + eps)

α is a weight, not a function of the box to be differentiated: torchvision (and the authors'
code) compute it under `no_grad`, and so does this module.

Where torchvision divides 0 by 0 (an empty union or enclosing box with eps = 0, a box of zero
width and height in CIoU's aspect term) this module defines the value instead of returning
NaN: a ratio with a zero denominator is 0, and a point box's aspect angle is that of a square.

Boxes are (N, 4) in x1, y1, x2, y2 with x2 ≥ x1 and y2 ≥ y1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from core.trace import Trace

LossKind = Literal["iou", "giou", "diou", "ciou"]
KINDS: tuple[LossKind, ...] = ("iou", "giou", "diou", "ciou")
V_SCALE = 4 / math.pi**2  # Zheng et al. 2020, eq. (9): v ∈ [0, 1)


def _as_boxes(boxes: Any, name: str, *, pairwise: bool = False) -> Tensor:
    """A float tensor of valid boxes, or a ValueError that names the argument."""
    boxes = torch.as_tensor(boxes)
    if not boxes.is_floating_point():
        boxes = boxes.to(torch.get_default_dtype())
    elif boxes.dtype in (torch.float16, torch.bfloat16):
        boxes = boxes.float()  # as torchvision's _upcast: products of half floats overflow
    shapes = "(N, 4)" if pairwise else "(N, 4) or (4,)"
    if boxes.shape[-1:] != (4,) or boxes.ndim not in ((2,) if pairwise else (1, 2)):
        raise ValueError(f"{name}: expected shape {shapes}, got {tuple(boxes.shape)}")
    with torch.no_grad():
        x1, y1, x2, y2 = boxes.unbind(-1)
        valid = torch.isfinite(boxes).all() and (x2 >= x1).all() and (y2 >= y1).all()
    if not valid:
        raise ValueError(f"{name}: boxes must be finite x1, y1, x2, y2 with x2 ≥ x1 and y2 ≥ y1")
    return boxes


def _divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    """numerator / denominator, and 0 where the denominator is 0 (no NaN, nor in autograd)."""
    nonzero = denominator != 0
    return torch.where(nonzero, numerator / torch.where(nonzero, denominator, 1.0), 0.0)


def box_area(boxes: Tensor) -> Tensor:
    """(x2 − x1)(y2 − y1). boxes: (N, 4) -> (N,)."""
    boxes = _as_boxes(boxes, "boxes")
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _pairwise_intersection_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    size = (bottom_right - top_left).clamp(min=0)
    intersection = size[..., 0] * size[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - intersection
    return intersection, union


def box_iou(a: Tensor, b: Tensor, *, trace: Trace | None = None) -> Tensor:
    """Pairwise intersection over union |A ∩ B| / |A ∪ B| (0 where the union is empty).

    a: (N, 4), b: (M, 4) in x1, y1, x2, y2 -> (N, M).
    """
    a, b = _as_boxes(a, "a", pairwise=True), _as_boxes(b, "b", pairwise=True)
    intersection, union = _pairwise_intersection_union(a, b)
    iou = _divide(intersection, union)
    if trace is not None:
        trace.record("pairwise", intersection=intersection, union=union, iou=iou)
    return iou


def generalized_box_iou(a: Tensor, b: Tensor, *, trace: Trace | None = None) -> Tensor:
    """Pairwise GIoU = IoU − |C \\ (A ∪ B)| / |C|, C the smallest box enclosing A and B.

    Rezatofighi et al. 2019, Algorithm 1. In [−1, 1]; the penalty is 0 where |C| = 0.
    a: (N, 4), b: (M, 4) in x1, y1, x2, y2 -> (N, M).
    """
    a, b = _as_boxes(a, "a", pairwise=True), _as_boxes(b, "b", pairwise=True)
    intersection, union = _pairwise_intersection_union(a, b)
    iou = _divide(intersection, union)
    size = torch.max(a[:, None, 2:], b[None, :, 2:]) - torch.min(a[:, None, :2], b[None, :, :2])
    enclosing = size[..., 0] * size[..., 1]
    giou = iou - _divide(enclosing - union, enclosing)
    if trace is not None:
        trace.record(
            "pairwise", intersection=intersection, union=union, iou=iou, enclosing_area=enclosing
        )
    return giou


@dataclass
class PairGeometry:
    """What the IoU family measures for pairs of boxes, elementwise: every field is (N,)
    except `enclosing` (N, 4)."""

    intersection: Tensor  # I
    union: Tensor  # U (without eps)
    iou: Tensor  # I / (U + eps)
    enclosing: Tensor  # the smallest box holding both, x1, y1, x2, y2
    enclosing_area: Tensor  # C
    rho2: Tensor  # squared distance of the centres, ρ²
    c2: Tensor  # squared diagonal of the enclosing box plus eps, c² + eps
    v: Tensor  # aspect-ratio consistency
    alpha: Tensor  # CIoU's weight of v (a constant for the gradient)
    giou: Tensor
    diou: Tensor
    ciou: Tensor

    def metric(self, kind: str) -> Tensor:
        return {"iou": self.iou, "giou": self.giou, "diou": self.diou, "ciou": self.ciou}[kind]

    def as_dict(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _aspect_angle(width: Tensor, height: Tensor) -> Tensor:
    """atan(w / h) written as atan2(w, h): π/2 for h = 0, and a square's π/4 for a point."""
    point = (width == 0) & (height == 0)
    return torch.atan2(torch.where(point, 1.0, width), torch.where(point, 1.0, height))


def _geometry(pred: Tensor, target: Tensor, eps: float) -> PairGeometry:
    x1, y1, x2, y2 = pred.unbind(-1)
    a1, b1, a2, b2 = target.unbind(-1)
    w, h, w_gt, h_gt = x2 - x1, y2 - y1, a2 - a1, b2 - b1

    inter_w = torch.min(x2, a2) - torch.max(x1, a1)
    inter_h = torch.min(y2, b2) - torch.max(y1, b1)
    intersection = torch.where((inter_w > 0) & (inter_h > 0), inter_w * inter_h, 0.0)
    union = w * h + w_gt * h_gt - intersection
    iou = _divide(intersection, union + eps)

    enclosing = torch.stack(
        [torch.min(x1, a1), torch.min(y1, b1), torch.max(x2, a2), torch.max(y2, b2)], -1
    )
    enclosing_w, enclosing_h = (enclosing[..., 2:] - enclosing[..., :2]).unbind(-1)
    enclosing_area = enclosing_w * enclosing_h
    giou = iou - _divide(enclosing_area - union, enclosing_area + eps)  # GIoU paper, Alg. 1

    rho2 = ((x1 + x2) / 2 - (a1 + a2) / 2) ** 2 + ((y1 + y2) / 2 - (b1 + b2) / 2) ** 2
    c2 = enclosing_w**2 + enclosing_h**2 + eps
    diou = iou - _divide(rho2, c2)  # DIoU paper, eq. (6)

    v = V_SCALE * (_aspect_angle(w_gt, h_gt) - _aspect_angle(w, h)) ** 2  # eq. (9)
    alpha = _divide(v, 1 - iou + v + eps).detach()  # eq. (11), a weight without gradient
    ciou = diou - alpha * v  # eq. (10)
    return PairGeometry(
        intersection=intersection,
        union=union,
        iou=iou,
        enclosing=enclosing,
        enclosing_area=enclosing_area,
        rho2=rho2,
        c2=c2,
        v=v,
        alpha=alpha,
        giou=giou,
        diou=diou,
        ciou=ciou,
    )


def _check_eps(eps: float) -> None:
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps: must be a finite number ≥ 0, got {eps!r}")


def pair_geometry(
    pred: Tensor, target: Tensor, eps: float = 1e-7, *, trace: Trace | None = None
) -> PairGeometry:
    """Intersection, union, enclosing box, ρ², c², v, α and the four metrics of box pairs.

    pred, target: (N, 4) or (4,) in x1, y1, x2, y2, broadcast against each other.
    """
    _check_eps(eps)
    pred, target = _as_boxes(pred, "pred"), _as_boxes(target, "target")
    try:
        torch.broadcast_shapes(pred.shape, target.shape)
    except RuntimeError:
        raise ValueError(
            f"pred, target: shapes {tuple(pred.shape)} and {tuple(target.shape)} do not match"
        ) from None
    geometry = _geometry(pred, target, eps)
    if trace is not None:
        trace.record("geometry", **geometry.as_dict())
    return geometry


def iou_loss(
    pred: Tensor,
    target: Tensor,
    kind: LossKind = "iou",
    eps: float = 1e-7,
    *,
    trace: Trace | None = None,
) -> Tensor:
    """1 − IoU, 1 − GIoU, 1 − DIoU or 1 − CIoU of each pair of boxes (torchvision's losses).

    Rezatofighi et al. 2019 (GIoU); Zheng et al. 2020 (DIoU, CIoU). Gradients flow to both
    arguments, except through CIoU's α.
    pred, target: (N, 4) or (4,) in x1, y1, x2, y2 -> (N,) or ().
    """
    if kind not in KINDS:
        raise ValueError(f"kind: unknown loss {kind!r}; allowed: {', '.join(KINDS)}")
    geometry = pair_geometry(pred, target, eps, trace=trace)
    loss = 1 - geometry.metric(kind)
    if trace is not None:
        trace.record("loss", kind=kind, loss=loss)
    return loss


# --- the regression simulation ---------------------------------------------------------------
# Autograd costs about a millisecond per step even for four boxes, and the demo runs hundreds
# of steps per render; so one pair's loss and gradient are written out here in plain floats
# (checked against torch.autograd of `iou_loss` in the tests). A tie in max/min splits the
# gradient in half, as autograd does (side 0); side +1 / −1 takes the one-sided derivative
# as the coordinate grows / shrinks through the tie.


def _d_max(a: float, b: float, side: int = 0) -> float:
    """∂ max(a, b) / ∂a."""
    return 1.0 if a > b else 0.0 if a < b else (1.0 + side) / 2


def _d_min(a: float, b: float, side: int = 0) -> float:
    """∂ min(a, b) / ∂a."""
    return 1.0 if a < b else 0.0 if a > b else (1.0 - side) / 2


def loss_and_gradient(
    pred: tuple[float, ...],
    target: tuple[float, ...],
    kind: str,
    eps: float = 1e-7,
    *,
    side: int = 0,
) -> tuple[float, float, tuple[float, float, float, float]]:
    """One pair's loss, its IoU, and ∂loss/∂(x1, y1, x2, y2) of pred, in Python floats.

    The same formulas as `iou_loss` (torchvision's), differentiated by hand; a quotient n/d
    has derivative (n′d − nd′)/d², and is 0 with derivative 0 where d = 0. Where a corner
    of pred equals the target's (a kink), side 0 gives autograd's average of the two
    one-sided derivatives, side +1 the derivative to the right (the corner growing), −1 to
    the left; each component depends only on its own corner's tie.
    """
    x1, y1, x2, y2 = pred
    a1, b1, a2, b2 = target
    w, h = x2 - x1, y2 - y1

    # I = inter_w · inter_h where both are > 0; U = w·h + w_gt·h_gt − I
    inter_w = min(x2, a2) - max(x1, a1)
    inter_h = min(y2, b2) - max(y1, b1)
    if inter_w > 0 and inter_h > 0:
        inter = inter_w * inter_h
        di_x1, di_x2 = -inter_h * _d_max(x1, a1, side), inter_h * _d_min(x2, a2, side)
        di_y1, di_y2 = -inter_w * _d_max(y1, b1, side), inter_w * _d_min(y2, b2, side)
    else:
        inter = di_x1 = di_x2 = di_y1 = di_y2 = 0.0
    union = w * h + (a2 - a1) * (b2 - b1) - inter
    du_x1, du_x2, du_y1, du_y2 = -h - di_x1, h - di_x2, -w - di_y1, w - di_y2

    # IoU = I / (U + eps); the loss starts as 1 − IoU
    d = union + eps
    if d == 0:
        iou = g_x1 = g_y1 = g_x2 = g_y2 = 0.0
    else:
        iou = inter / d
        g_x1 = -(di_x1 - iou * du_x1) / d
        g_y1 = -(di_y1 - iou * du_y1) / d
        g_x2 = -(di_x2 - iou * du_x2) / d
        g_y2 = -(di_y2 - iou * du_y2) / d
    loss = 1 - iou
    if kind == "iou":
        return loss, iou, (g_x1, g_y1, g_x2, g_y2)

    # the enclosing box: width cw, height ch
    cw = max(x2, a2) - min(x1, a1)
    ch = max(y2, b2) - min(y1, b1)
    dcw_x1, dcw_x2 = -_d_min(x1, a1, side), _d_max(x2, a2, side)
    dch_y1, dch_y2 = -_d_min(y1, b1, side), _d_max(y2, b2, side)
    if kind == "giou":  # + (C − U) / (C + eps), C = cw · ch
        area = cw * ch
        d = area + eps
        if d != 0:
            penalty = (area - union) / d
            dc_x1, dc_x2, dc_y1, dc_y2 = ch * dcw_x1, ch * dcw_x2, cw * dch_y1, cw * dch_y2
            g_x1 += (dc_x1 - du_x1 - penalty * dc_x1) / d
            g_x2 += (dc_x2 - du_x2 - penalty * dc_x2) / d
            g_y1 += (dc_y1 - du_y1 - penalty * dc_y1) / d
            g_y2 += (dc_y2 - du_y2 - penalty * dc_y2) / d
            loss += penalty
        return loss, iou, (g_x1, g_y1, g_x2, g_y2)

    # DIoU: + ρ² / c², ρ² = dx² + dy² between the centres, c² = cw² + ch² + eps
    dx = (x1 + x2) / 2 - (a1 + a2) / 2
    dy = (y1 + y2) / 2 - (b1 + b2) / 2
    c2 = cw * cw + ch * ch + eps
    if c2 != 0:
        penalty = (dx * dx + dy * dy) / c2
        g_x1 += (dx - penalty * 2 * cw * dcw_x1) / c2  # ∂ρ²/∂x1 = dx
        g_x2 += (dx - penalty * 2 * cw * dcw_x2) / c2
        g_y1 += (dy - penalty * 2 * ch * dch_y1) / c2
        g_y2 += (dy - penalty * 2 * ch * dch_y2) / c2
        loss += penalty
    if kind == "diou":
        return loss, iou, (g_x1, g_y1, g_x2, g_y2)

    # CIoU: + α·v, v = 4/π² (θ_gt − θ)², θ = atan(w/h), α a constant
    gap = _angle(a2 - a1, b2 - b1) - _angle(w, h)
    v = V_SCALE * gap * gap
    d = 1 - iou + v + eps
    alpha = v / d if d != 0 else 0.0
    if w != 0 or h != 0:  # ∂θ/∂w = h/(w² + h²), ∂θ/∂h = −w/(w² + h²); 0 for a point box
        scale = alpha * -2 * V_SCALE * gap / (w * w + h * h)  # α · ∂v/∂θ / (w² + h²)
        g_x1 -= scale * h
        g_x2 += scale * h
        g_y1 += scale * w
        g_y2 -= scale * w
    return loss + alpha * v, iou, (g_x1, g_y1, g_x2, g_y2)


def descent_gradient(
    pred: tuple[float, ...], target: tuple[float, ...], kind: str, eps: float = 1e-7
) -> tuple[float, float, tuple[float, float, float, float]]:
    """`loss_and_gradient`, but at a kink the smallest generalised gradient of the loss.

    At a corner equal to the target's, the loss has a left derivative l and a right one r;
    where l ≤ 0 ≤ r the corner sits at a minimum along its axis and must not move, so its
    component is 0 (the element of [l, r] nearest 0); where both have one sign, the side
    the descent moves to. Autograd's average (l + r)/2 is not 0 there once eps makes
    IoU < 1, and a box at the optimum would be pushed off it and bounce around the kink.
    """
    loss, iou, gradient = loss_and_gradient(pred, target, kind, eps)
    if all(p != t for p, t in zip(pred, target, strict=True)):
        return loss, iou, gradient
    _, _, right = loss_and_gradient(pred, target, kind, eps, side=1)
    _, _, left = loss_and_gradient(pred, target, kind, eps, side=-1)
    chosen = []
    for p, t, g, g_left, g_right in zip(pred, target, gradient, left, right, strict=True):
        if p != t or g_left > g_right:  # no kink here, or a concave one: both sides descend
            chosen.append(g)
        else:
            chosen.append(min(max(0.0, g_left), g_right))  # clip 0 into [l, r]
    return loss, iou, tuple(chosen)


def _angle(width: float, height: float) -> float:
    """`_aspect_angle` for one box: atan2(w, h), a square's π/4 for a point."""
    return math.pi / 4 if width == 0 and height == 0 else math.atan2(width, height)


def box_from_centre(centre_size: np.ndarray) -> np.ndarray:
    """(cx, cy, w, h) -> (x1, y1, x2, y2), shape (..., 4)."""
    cx, cy, w, h = np.moveaxis(np.asarray(centre_size, dtype=np.float64), -1, 0)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


@dataclass
class Regression:
    """One box descending each loss from the same start. Shapes: boxes (steps + 1, K, 4)
    in x1, y1, x2, y2; iou, loss and lr (steps + 1, K) and (steps,); K = len(kinds)."""

    kinds: tuple[str, ...]
    boxes: np.ndarray
    iou: np.ndarray
    loss: np.ndarray
    lr: np.ndarray


def step_sizes(lr: float, steps: int) -> np.ndarray:
    """Zheng et al. 2020's schedule: η for the first 80 % of the steps, η/10 to 90 %, then
    η/100 (their 160, 180, 200 of 200 iterations). -> (steps,)"""
    t = np.arange(1, steps + 1)
    return np.where(t <= 0.8 * steps, lr, np.where(t <= 0.9 * steps, lr / 10, lr / 100))


def regress_box(
    start: Any,
    target: Any,
    kinds: tuple[str, ...] = KINDS,
    *,
    steps: int = 200,
    lr: float = 0.1,
    eps: float = 1e-7,
    min_size: float = 1e-3,
    trace: Trace | None = None,
) -> Regression:
    """Gradient descent of a box B = (cx, cy, w, h) on each loss, from the same start.

    Zheng et al. 2020, Algorithm 1: B ← B − η_t (2 − IoU) ∂L/∂B, the factor (2 − IoU) taking
    larger steps while the boxes overlap little, η_t from `step_sizes`. w and h stay ≥ min_size.
    At a corner equal to the target's, the gradient is `descent_gradient`'s.
    start, target: (4,) in x1, y1, x2, y2.
    """
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kinds: unknown loss {kind!r}; allowed: {', '.join(KINDS)}")
    if not (isinstance(steps, int) and 0 <= steps <= 100_000):
        raise ValueError(f"steps: must be an integer between 0 and 100000, got {steps!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: must be a finite number > 0, got {lr!r}")
    _check_eps(eps)
    start_box = _as_boxes(torch.as_tensor(start, dtype=torch.float64), "start")
    target_box = _as_boxes(torch.as_tensor(target, dtype=torch.float64), "target")
    if start_box.shape != (4,) or target_box.shape != (4,):
        raise ValueError("start, target: one box each, shape (4,)")
    target_corners = tuple(target_box.tolist())
    x1, y1, x2, y2 = start_box.tolist()
    etas = step_sizes(lr, steps)

    boxes, ious, losses = [], [], []
    for kind in kinds:
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, min_size), max(y2 - y1, min_size)
        path, path_iou, path_loss = [], [], []
        for step in range(steps + 1):
            corners = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            loss, iou, (g1, g2, g3, g4) = descent_gradient(corners, target_corners, kind, eps)
            path.append(corners)
            path_iou.append(iou)
            path_loss.append(loss)
            if step == steps:
                break
            # chain rule through x1 = cx − w/2, y1 = cy − h/2, x2 = cx + w/2, y2 = cy + h/2
            scale = etas[step] * (2 - iou)
            cx -= scale * (g1 + g3)
            cy -= scale * (g2 + g4)
            w = max(w - scale * (g3 - g1) / 2, min_size)
            h = max(h - scale * (g4 - g2) / 2, min_size)
        boxes.append(path)
        ious.append(path_iou)
        losses.append(path_loss)
    result = Regression(
        tuple(kinds),
        np.array(boxes).transpose(1, 0, 2),
        np.array(ious).T,
        np.array(losses).T,
        etas,
    )
    if trace is not None:
        trace.record("regression", boxes=result.boxes, iou=result.iou, loss=result.loss, lr=etas)
    return result


# --- non-maximum suppression -------------------------------------------------------------------


def nms(boxes: Any, scores: Any, iou_threshold: float, *, trace: Trace | None = None) -> Tensor:
    """Greedy non-maximum suppression: torchvision.ops.nms's rule.

    Visit the boxes by decreasing score; keep one unless its IoU with an already kept box is
    > iou_threshold. Equal scores keep their input order.
    boxes: (N, 4) in x1, y1, x2, y2, scores: (N,) -> (K,) int64 indices kept, by decreasing score.
    """
    boxes = _as_boxes(boxes, "boxes", pairwise=True)
    scores = torch.as_tensor(scores)
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"scores: expected shape ({len(boxes)},), got {tuple(scores.shape)}")
    order = torch.argsort(scores, descending=True, stable=True)
    # numpy float64: one vectorised IoU row per kept box against the later ones
    b = boxes.detach().to("cpu", torch.float64).numpy()[order.numpy()]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    suppressed = np.zeros(len(b), dtype=bool)
    suppressor = np.full(len(b), -1, dtype=np.int64)
    kept = []
    for i in range(len(b)):
        if suppressed[i]:
            continue
        kept.append(i)
        rest = b[i + 1 :]
        w = np.minimum(b[i, 2], rest[:, 2]) - np.maximum(b[i, 0], rest[:, 0])
        h = np.minimum(b[i, 3], rest[:, 3]) - np.maximum(b[i, 1], rest[:, 1])
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        union = area[i] + area[i + 1 :] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        fresh = np.flatnonzero((iou > iou_threshold) & ~suppressed[i + 1 :]) + i + 1
        suppressed[fresh] = True
        suppressor[fresh] = i
    keep = order[torch.as_tensor(kept, dtype=torch.int64)]
    if trace is not None:
        by = np.where(suppressor >= 0, order.numpy()[np.maximum(suppressor, 0)], -1)
        inverse = np.empty_like(by)
        inverse[order.numpy()] = by
        trace.record("nms", order=order, keep=keep, suppressed_by=torch.as_tensor(inverse))
    return keep
