"""DETR's set prediction: a matching cost, the Hungarian assignment, and the set loss.

Carion et al. 2020, "End-to-End Object Detection with Transformers", §3.1: Q predictions
(class logits over K classes + ∅, boxes (cx, cy, w, h) normalised to the image) are matched one
to one to the T targets by the assignment of least total cost

    C[i, j] = −w_class·p̂_i(c_j) + w_L1·‖b_j − b̂_i‖₁ − w_GIoU·GIoU(b_j, b̂_i)       (eq. 1)

(Kuhn's Hungarian algorithm; SciPy's `linear_sum_assignment`), and the loss is cross-entropy for
every prediction (unmatched ones to ∅, down-weighted by eos_coef) plus L1 and 1 − GIoU for the
matched ones (eq. 2), as in the released `SetCriterion` without the auxiliary decoder losses.
GIoU: Rezatofighi et al. 2019.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from core.detection.boxes import generalized_box_iou
from core.trace import Trace

Weights = tuple[float, float, float]  # class, L1, GIoU


def box_corners(boxes: Tensor) -> Tensor:
    """(cx, cy, w, h) -> (x1, y1, x2, y2); boxes (..., 4)."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def _check(pred_logits: Tensor, pred_boxes: Tensor, target_labels: Tensor, target_boxes: Tensor):
    if pred_logits.ndim != 2 or pred_boxes.shape != (len(pred_logits), 4):
        raise ValueError(
            f"pred_logits, pred_boxes: expected (Q, K + 1) and (Q, 4), got "
            f"{tuple(pred_logits.shape)} and {tuple(pred_boxes.shape)}"
        )
    target_labels = torch.as_tensor(target_labels, dtype=torch.int64)
    target_boxes = torch.as_tensor(target_boxes, dtype=pred_boxes.dtype).reshape(-1, 4)
    if target_labels.shape != target_boxes.shape[:1]:
        raise ValueError(
            f"target_labels: expected shape ({len(target_boxes)},), got {tuple(target_labels.shape)}"
        )
    n_classes = pred_logits.shape[1] - 1
    if len(target_labels) and not (target_labels.min() >= 0 and target_labels.max() < n_classes):
        raise ValueError(f"target_labels: must lie in [0, {n_classes}) (the last column is ∅)")
    return target_labels, target_boxes


def matching_cost(
    pred_logits: Tensor,
    pred_boxes: Tensor,
    target_labels: Any,
    target_boxes: Any,
    weights: Weights = (1.0, 5.0, 2.0),
    *,
    trace: Trace | None = None,
) -> Tensor:
    """The (Q, T) cost of assigning each prediction to each target: eq. (1) of Carion et al.

    −w_class·softmax(logits)[:, label] + w_L1·‖b − b̂‖₁ − w_GIoU·GIoU (on corners), as DETR's
    HungarianMatcher (1 − p is replaced by −p there too: the constant does not change the match).
    pred_logits (Q, K + 1), pred_boxes (Q, 4) cx, cy, w, h; target_labels (T,) in [0, K),
    target_boxes (T, 4) cx, cy, w, h; T may be 0 -> (Q, T).
    """
    target_labels, target_boxes = _check(pred_logits, pred_boxes, target_labels, target_boxes)
    w_class, w_l1, w_giou = weights
    probability = pred_logits.softmax(-1)
    cost_class = -probability[:, target_labels]
    cost_l1 = torch.cdist(pred_boxes, target_boxes, p=1)
    if len(target_boxes) and len(pred_boxes):
        cost_giou = -generalized_box_iou(box_corners(pred_boxes), box_corners(target_boxes))
    else:
        cost_giou = cost_l1.new_zeros(cost_l1.shape)
    cost = w_class * cost_class + w_l1 * cost_l1 + w_giou * cost_giou
    if trace is not None:
        trace.record(
            "cost",
            classes=w_class * cost_class,
            l1=w_l1 * cost_l1,
            giou=w_giou * cost_giou,
            total=cost,
        )
    return cost


def hungarian_match(cost: Any, *, trace: Trace | None = None) -> tuple[Tensor, Tensor]:
    """A minimum-total-cost one-to-one assignment of rows (predictions) to columns (targets).

    SciPy's `linear_sum_assignment` (Crouse's shortest augmenting path; the Hungarian method
    solves the same problem). cost (Q, T) -> (pred_indices, target_indices), int64, length
    min(Q, T), sorted by prediction index.
    """
    from scipy.optimize import linear_sum_assignment

    cost = torch.as_tensor(cost)
    if cost.ndim != 2:
        raise ValueError(f"cost: expected a (Q, T) matrix, got shape {tuple(cost.shape)}")
    if not torch.isfinite(cost).all():
        raise ValueError("cost: must be finite")
    rows, columns = linear_sum_assignment(cost.detach().to("cpu", torch.float64).numpy())
    pred_indices = torch.as_tensor(rows, dtype=torch.int64)
    target_indices = torch.as_tensor(columns, dtype=torch.int64)
    if trace is not None:
        trace.record(
            "assignment",
            pred=pred_indices,
            target=target_indices,
            total=float(cost[pred_indices, target_indices].sum()),
        )
    return pred_indices, target_indices


def set_loss(
    pred_logits: Tensor,
    pred_boxes: Tensor,
    target_labels: Any,
    target_boxes: Any,
    weights: Weights = (1.0, 5.0, 2.0),
    eos_coef: float = 0.1,
    *,
    match_weights: Weights | None = None,
    match: tuple[Tensor, Tensor] | None = None,
    trace: Trace | None = None,
) -> dict[str, Tensor]:
    """DETR's SetCriterion for one image (no auxiliary losses): eq. (2) of Carion et al.

    The predictions are matched by `hungarian_match(matching_cost(..., weights))` without
    gradient (`match_weights`, when given, replaces `weights` in the cost only; `match`, when
    given, is used as the assignment instead: (pred_indices, target_indices)). Then
    loss_ce: F.cross_entropy over all Q predictions, unmatched ones to class K (∅), the class
    weights 1 and eos_coef for ∅ (a weighted mean); loss_bbox: Σ|b − b̂| over matched pairs /
    max(T, 1); loss_giou: Σ(1 − GIoU) / max(T, 1); total: w_class·ce + w_L1·bbox + w_GIoU·giou.
    Shapes as in `matching_cost`. -> dict of scalar tensors; the match is in the trace.
    """
    target_labels, target_boxes = _check(pred_logits, pred_boxes, target_labels, target_boxes)
    n_queries, n_classes = pred_logits.shape[0], pred_logits.shape[1] - 1
    if match is None:
        with torch.no_grad():
            cost = matching_cost(
                pred_logits, pred_boxes, target_labels, target_boxes, match_weights or weights,
                trace=trace,
            )  # fmt: skip
            pred_indices, target_indices = hungarian_match(cost, trace=trace)
    else:
        pred_indices, target_indices = (torch.as_tensor(m, dtype=torch.int64) for m in match)

    target_classes = torch.full((n_queries,), n_classes, dtype=torch.int64)
    target_classes[pred_indices] = target_labels[target_indices]
    class_weight = pred_logits.new_ones(n_classes + 1)
    class_weight[-1] = eos_coef
    loss_ce = F.cross_entropy(pred_logits, target_classes, weight=class_weight)

    n_boxes = max(len(target_boxes), 1)
    matched, goal = pred_boxes[pred_indices], target_boxes[target_indices]
    l1 = (matched - goal).abs().sum(-1)
    if len(matched):
        giou = torch.diag(generalized_box_iou(box_corners(matched), box_corners(goal)))
    else:
        giou = l1.new_zeros(0)
    loss_bbox = l1.sum() / n_boxes
    loss_giou = (1 - giou).sum() / n_boxes
    w_class, w_l1, w_giou = weights
    total = w_class * loss_ce + w_l1 * loss_bbox + w_giou * loss_giou
    if trace is not None:
        with torch.no_grad():
            per_ce = F.cross_entropy(pred_logits, target_classes, reduction="none")
            per_l1 = pred_logits.new_zeros(n_queries).index_put((pred_indices,), l1)
            per_giou = pred_logits.new_zeros(n_queries).index_put((pred_indices,), 1 - giou)
        trace.record(
            "loss",
            target_classes=target_classes,
            ce=per_ce,  # per prediction, before the class weight
            ce_weight=class_weight[target_classes],
            l1=per_l1,
            one_minus_giou=per_giou,
        )
    return {
        "loss_ce": loss_ce,
        "loss_bbox": loss_bbox,
        "loss_giou": loss_giou,
        "total": total,
    }
