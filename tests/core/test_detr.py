"""DETR's matching cost, Hungarian assignment and set loss against the released code re-derived
(HungarianMatcher, SetCriterion without aux losses), SciPy and brute force over permutations."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from core.detection import detr
from core.trace import Trace

# --- DETR's code, re-derived (util/box_ops.py, models/matcher.py, models/detr.py) ------------


def ref_xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)


def ref_giou(a, b):
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, None, :2], b[:, :2])
    rb = torch.min(a[:, None, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b - inter
    iou = inter / union
    lt = torch.min(a[:, None, :2], b[:, :2])
    rb = torch.max(a[:, None, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    area = wh[..., 0] * wh[..., 1]
    return iou - (area - union) / area


def ref_cost(logits, boxes, labels, tboxes, wc=1.0, wb=5.0, wg=2.0):
    out_prob = logits.softmax(-1)
    cost_class = -out_prob[:, labels]
    cost_bbox = torch.cdist(boxes, tboxes, p=1)
    cost_giou = -ref_giou(ref_xyxy(boxes), ref_xyxy(tboxes))
    return wb * cost_bbox + wc * cost_class + wg * cost_giou


def ref_loss(logits, boxes, labels, tboxes, rows, cols, eos_coef=0.1):
    num_classes = logits.shape[1] - 1
    empty_weight = torch.ones(num_classes + 1, dtype=logits.dtype)
    empty_weight[-1] = eos_coef
    target_classes = torch.full(logits.shape[:1], num_classes, dtype=torch.int64)
    target_classes[rows] = labels[cols]
    loss_ce = F.cross_entropy(logits[None].transpose(1, 2), target_classes[None], empty_weight)
    num_boxes = max(len(labels), 1)
    src, tgt = boxes[rows], tboxes[cols]
    loss_bbox = F.l1_loss(src, tgt, reduction="none").sum() / num_boxes
    loss_giou = (1 - torch.diag(ref_giou(ref_xyxy(src), ref_xyxy(tgt)))).sum() / num_boxes
    return loss_ce, loss_bbox, loss_giou


def problem(q, t, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(q, k + 1, generator=g, dtype=torch.float64)
    boxes = torch.cat(
        [torch.rand(q, 2, generator=g) * 0.6 + 0.2, torch.rand(q, 2, generator=g) * 0.3 + 0.05], 1
    ).double()
    labels = torch.randint(0, k, (t,), generator=g)
    tboxes = torch.cat(
        [torch.rand(t, 2, generator=g) * 0.6 + 0.2, torch.rand(t, 2, generator=g) * 0.3 + 0.05], 1
    ).double()
    return logits, boxes, labels, tboxes


@pytest.mark.parametrize("q, t, seed", [(6, 3, 0), (4, 4, 1), (3, 5, 2), (10, 1, 3)])
def test_cost_is_detrs_matcher(q, t, seed):
    logits, boxes, labels, tboxes = problem(q, t, seed=seed)
    trace = Trace()
    cost = detr.matching_cost(logits, boxes, labels, tboxes, (1.5, 4.0, 2.5), trace=trace)
    torch.testing.assert_close(cost, ref_cost(logits, boxes, labels, tboxes, 1.5, 4.0, 2.5))
    terms = trace["cost"][0]
    torch.testing.assert_close(terms["classes"] + terms["l1"] + terms["giou"], cost)


def test_cost_with_no_targets_is_empty():
    logits, boxes, _, _ = problem(4, 0)
    empty = detr.matching_cost(logits, boxes, torch.zeros(0, dtype=torch.int64), torch.zeros(0, 4))
    assert empty.shape == (4, 0)
    rows, cols = detr.hungarian_match(empty)
    assert rows.tolist() == [] and cols.tolist() == []


def brute_force(cost):
    q, t = cost.shape
    if q >= t:
        return min(
            sum(cost[p[j], j] for j in range(t)) for p in itertools.permutations(range(q), t)
        )
    return min(sum(cost[i, p[i]] for i in range(q)) for p in itertools.permutations(range(t), q))


@pytest.mark.parametrize("q, t", [(1, 1), (3, 3), (6, 4), (2, 5), (6, 6)])
def test_matching_is_a_minimum_total_cost_assignment(q, t):
    rng = np.random.default_rng(q * 10 + t)
    for trial in range(3):
        cost = rng.integers(0, 4, (q, t)).astype(float) if trial == 0 else rng.normal(size=(q, t))
        rows, cols = detr.hungarian_match(torch.as_tensor(cost))
        assert rows.dtype == cols.dtype == torch.int64
        assert len(rows) == min(q, t) and len(set(rows.tolist())) == len(set(cols.tolist())) == min(
            q, t
        )
        total = cost[rows.numpy(), cols.numpy()].sum()
        # totals, not indices: integer costs tie (trial 0)
        assert total == pytest.approx(brute_force(cost), abs=1e-12)
        r, c = linear_sum_assignment(cost)
        assert total == pytest.approx(cost[r, c].sum(), abs=1e-12)


@pytest.mark.parametrize("q, t, seed", [(6, 3, 4), (4, 4, 5), (3, 5, 6), (5, 0, 7)])
def test_set_loss_is_detrs_set_criterion(q, t, seed):
    logits, boxes, labels, tboxes = problem(q, t, seed=seed)
    logits.requires_grad_()
    boxes.requires_grad_()
    trace = Trace()
    out = detr.set_loss(logits, boxes, labels, tboxes, (1.0, 5.0, 2.0), 0.1, trace=trace)
    assert set(out) == {"loss_ce", "loss_bbox", "loss_giou", "total"}
    rows, cols = linear_sum_assignment(ref_cost(logits, boxes, labels, tboxes).detach().numpy())
    rows, cols = torch.as_tensor(rows), torch.as_tensor(cols)
    ce, bbox, giou = ref_loss(logits, boxes, labels, tboxes, rows, cols)
    torch.testing.assert_close(out["loss_ce"], ce)
    torch.testing.assert_close(out["loss_bbox"], bbox)
    torch.testing.assert_close(out["loss_giou"], giou)
    torch.testing.assert_close(out["total"], ce + 5 * bbox + 2 * giou)
    # gradients: those of the reference at the fixed match (no gradient through the matching)
    grads = torch.autograd.grad(out["total"], (logits, boxes))
    expected = torch.autograd.grad(ce + 5 * bbox + 2 * giou, (logits, boxes))
    for a, b in zip(grads, expected, strict=True):
        torch.testing.assert_close(a, b)
    per = trace["loss"][0]
    weighted = (per["ce"] * per["ce_weight"]).sum() / per["ce_weight"].sum()
    torch.testing.assert_close(weighted, ce.detach())
    torch.testing.assert_close(per["l1"].sum() / max(t, 1), bbox.detach())


def test_match_weights_change_only_the_assignment():
    logits, boxes, labels, tboxes = problem(6, 3, seed=8)
    trace = Trace()
    detr.set_loss(logits, boxes, labels, tboxes, match_weights=(1.0, 0.0, 0.0), trace=trace)
    cost = -logits.softmax(-1)[:, labels]
    r, c = linear_sum_assignment(cost.numpy())
    assert trace["assignment"][0]["total"] == pytest.approx(cost.numpy()[r, c].sum())
