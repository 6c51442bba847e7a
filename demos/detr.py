"""DETR: how can a detector output a set of boxes and need no NMS?

The question: DETR (Carion et al. 2020) predicts a fixed number Q of (class, box) pairs and
trains them with a loss that first matches predictions to objects one to one (Hungarian
matching on a cost of class probability, L1 and GIoU), so each object is claimed by exactly one
prediction and the others learn "no object" (∅). Here the predictions are free parameters
trained live by Adam, beside the same parameters trained with a one-to-many assignment (each
prediction to its cheapest object), whose duplicates stay confident until NMS removes them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

CLASS_NAMES = (
    Text("cat", "猫"),
    Text("dog", "狗"),
    Text("bird", "鸟"),
    Text("car", "车"),
)
CLASS_COLORS = (COLORWAY[0], COLORWAY[1], COLORWAY[2], COLORWAY[3])
RULES = ("one_to_one", "one_to_many")
RULE_NAMES = {
    "one_to_one": Text("one-to-one (Hungarian)", "一对一（匈牙利匹配）"),
    "one_to_many": Text("one-to-many (cheapest target)", "一对多（代价最小的目标）"),
}
PIXELS = 100.0  # the unit square as a 100 × 100 image for COCO AP
NMS_IOU = 0.5
MUTED = "rgba(128,128,128,0.9)"


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    targets: int = param(3, en="Objects T", zh="目标数 T", ge=1, le=8)
    queries: int = param(6, en="Predictions Q", zh="预测数 Q", ge=1, le=20)
    classes: int = param(3, en="Classes K", zh="类别数 K", ge=1, le=4)
    init: Literal["random", "on_objects"] = param(
        "random",
        en="Start of the predictions",
        zh="预测的初始位置",
        choices={
            "random": Text("random boxes", "随机的框"),
            "on_objects": Text("on the objects (duplicates)", "在目标上（重复）"),
        },
    )
    matching: Literal["full", "class_only"] = param(
        "full",
        en="Matching cost",
        zh="匹配代价",
        help_en="Class only: the assignment ignores where the boxes are (the loss still uses them).",
        help_zh="仅类别：匹配时不看框的位置（损失中仍然使用框）。",
        choices={
            "full": Text("class + L1 + GIoU", "类别 + L1 + GIoU"),
            "class_only": Text("class only", "仅类别"),
        },
    )
    w_class: float = param(1.0, en="Weight: class", zh="权重：类别", ge=0.0, le=5.0, step=0.1)
    w_l1: float = param(5.0, en="Weight: L1", zh="权重：L1", ge=0.0, le=10.0, step=0.5)
    w_giou: float = param(2.0, en="Weight: GIoU", zh="权重：GIoU", ge=0.0, le=5.0, step=0.1)
    eos_coef: float = param(
        0.1,
        en="Weight of ∅ in the cross-entropy (eos_coef)",
        zh="交叉熵中 ∅ 的权重（eos_coef）",
        ge=0.01,
        le=1.0,
        step=0.01,
    )
    jitter: float = param(
        0.0,
        en="Target jitter per step (augmentation)",
        zh="每步目标框的抖动（数据增强）",
        help_en="Each step sees the objects moved by a little noise, as under random crops.",
        help_zh="每一步看到的目标框都加一点噪声，相当于随机裁剪等增强。",
        ge=0.0,
        le=0.05,
        step=0.005,
    )
    lr: float = param(0.05, en="Adam learning rate", zh="Adam 学习率", ge=0.005, le=0.2, step=0.005)
    steps: int = param(120, en="Training steps", zh="训练步数", ge=10, le=200)
    step: int = param(
        120,
        en="Show step (scrubs the cached run)",
        zh="显示第几步（在缓存的训练过程中拖动）",
        help_en="Past the last step, the last one.",
        help_zh="超过训练步数时显示最后一步。",
        ge=0,
        le=200,
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


# --- the set and its training -----------------------------------------------------------------


def problem(p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Targets (labels (T,), boxes (T, 4) cx, cy, w, h in the unit square) and the initial
    predictions (logits (Q, K + 1), boxes (Q, 4)), seeded."""
    rng = np.random.default_rng(p.seed)
    t, q, k = p.targets, p.queries, p.classes
    labels = rng.integers(0, k, t)
    targets = np.zeros((t, 4))
    for j in range(t):  # objects that barely touch: NMS never has to choose between two
        for _ in range(100):
            size = rng.uniform(0.12, 0.3, 2)
            targets[j] = np.r_[rng.uniform(size / 2 + 0.03, 1 - size / 2 - 0.03), size]
            if j == 0 or _overlap(targets[j], targets[:j]).max() < 0.05:
                break
    logits = rng.normal(0, 0.5, (q, k + 1))
    if p.init == "on_objects":
        boxes = targets[np.arange(q) % t] + rng.normal(0, 0.03, (q, 4))
        boxes[:, 2:] = np.abs(boxes[:, 2:])
    else:
        boxes = np.concatenate([rng.uniform(0.15, 0.85, (q, 2)), rng.uniform(0.08, 0.3, (q, 2))], 1)
    return labels, targets, logits, np.clip(boxes, 0.02, 0.98)


def _overlap(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (cx, cy, w, h) box with each of others (M, 4)."""
    low = np.maximum(box[:2] - box[2:] / 2, others[:, :2] - others[:, 2:] / 2)
    high = np.minimum(box[:2] + box[2:] / 2, others[:, :2] + others[:, 2:] / 2)
    inter = np.prod(np.clip(high - low, 0, None), 1)
    return inter / (np.prod(box[2:]) + np.prod(others[:, 2:], 1) - inter)


def _one_to_many_loss(logits, boxes, labels, targets, weights, match_weights):
    """Each prediction takes its cheapest target (no ∅ class): CE to its class, L1 and 1 − GIoU
    to its box, summed over predictions and divided by max(T, 1) like DETR's box terms."""
    import torch
    import torch.nn.functional as F

    from core.detection import detr
    from core.detection.boxes import generalized_box_iou

    with torch.no_grad():
        choice = detr.matching_cost(logits, boxes, labels, targets, match_weights).argmin(1)
    n = max(len(targets), 1)
    loss_ce = F.cross_entropy(logits, labels[choice])
    l1 = (boxes - targets[choice]).abs().sum() / n
    giou = torch.diag(
        generalized_box_iou(detr.box_corners(boxes), detr.box_corners(targets[choice]))
    )
    w_class, w_l1, w_giou = weights
    return w_class * loss_ce + w_l1 * l1 + w_giou * (1 - giou).sum() / n, choice


@lru_cache(maxsize=16)
def train(
    targets: int,
    queries: int,
    classes: int,
    init: str,
    matching: str,
    w_class: float,
    w_l1: float,
    w_giou: float,
    eos_coef: float,
    jitter: float,
    lr: float,
    steps: int,
    seed: int,
) -> dict:
    """Both rules from the same start, `steps` Adam steps each; every state kept for the step
    slider. Cached by its arguments (the slider never retrains)."""
    import torch

    from core.detection import detr

    p = Params(
        targets=targets, queries=queries, classes=classes, init=init, seed=seed
    )  # only what `problem` reads
    labels, goal, logits0, boxes0 = problem(p)
    labels_t = torch.as_tensor(labels)
    goal_t = torch.as_tensor(goal, dtype=torch.float32)
    weights = (w_class, w_l1, w_giou)
    match_weights = (w_class, 0.0, 0.0) if matching == "class_only" else weights
    noise = torch.randn(steps + 1, *goal_t.shape, generator=torch.Generator().manual_seed(seed))
    runs = {}
    for rule in RULES:
        logits = torch.as_tensor(logits0, dtype=torch.float32).clone().requires_grad_()
        raw = torch.logit(torch.as_tensor(boxes0, dtype=torch.float32)).clone().requires_grad_()
        optimiser = torch.optim.Adam([logits, raw], lr=lr)
        probs, boxes, assigned, losses = [], [], [], []
        for step in range(steps + 1):
            box = torch.sigmoid(raw)
            seen = goal_t  # jittered: centres shifted, sizes scaled (never negative)
            if step < steps and jitter:
                shift = jitter * noise[step]
                seen = torch.cat(
                    [goal_t[:, :2] + shift[:, :2], goal_t[:, 2:] * torch.exp(shift[:, 2:])], 1
                )
            if rule == "one_to_one":
                with torch.no_grad():
                    cost = detr.matching_cost(logits, box, labels_t, seen, match_weights)
                    rows, columns = detr.hungarian_match(cost)
                loss = detr.set_loss(
                    logits, box, labels_t, seen, weights, eos_coef, match=(rows, columns)
                )["total"]
                target_of = np.full(queries, -1)
                target_of[rows.numpy()] = columns.numpy()
            else:
                loss, choice = _one_to_many_loss(
                    logits, box, labels_t, seen, weights, match_weights
                )
                target_of = choice.numpy()
            probs.append(logits.detach().softmax(-1).numpy())
            boxes.append(box.detach().numpy())
            assigned.append(target_of)
            losses.append(loss.item())
            if step == steps:
                break
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        runs[rule] = {
            "probs": np.array(probs),
            "boxes": np.array(boxes),
            "assigned": np.array(assigned),
            "loss": np.array(losses),
        }
    runs["labels"], runs["targets"] = labels, goal
    for rule in RULES:
        runs[rule]["ap"] = {nms: average_precision(runs, rule, nms) for nms in (False, True)}
    return runs


def detections(probs: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each prediction as a detection: score = its best class probability other than ∅, label
    = that class. probs (Q, K + 1) -> scores (Q,), labels (Q,)."""
    return probs[:, :-1].max(1), probs[:, :-1].argmax(1)


def average_precision(runs: dict, rule: str, nms: bool) -> dict[str, float]:
    """COCO AP, AP50, AP75 of a rule's final predictions, with or without greedy NMS per class."""
    import torch

    from core.detection import detr
    from core.detection.average_precision import coco_evaluation
    from core.detection.boxes import nms as greedy_nms

    probs, boxes = runs[rule]["probs"][-1], runs[rule]["boxes"][-1]
    scores, labels = detections(probs, boxes)
    corners = detr.box_corners(torch.as_tensor(boxes, dtype=torch.float64)).numpy() * PIXELS
    keep = np.arange(len(scores))
    if nms:
        separated = corners + (labels * 4 * PIXELS)[:, None]
        keep = greedy_nms(separated, scores, NMS_IOU).numpy()
    targets = detr.box_corners(torch.as_tensor(runs["targets"])).numpy() * PIXELS
    ground_truth = {
        "images": [{"id": 1}],
        "categories": [{"id": k + 1, "name": CLASS_NAMES[k].en} for k in range(len(CLASS_NAMES))],
        "annotations": [
            {
                "id": j + 1,
                "image_id": 1,
                "category_id": int(runs["labels"][j]) + 1,
                "bbox": [*b[:2], *(b[2:] - b[:2])],
                "area": float(np.prod(b[2:] - b[:2])),
                "iscrowd": 0,
            }
            for j, b in enumerate(targets)
        ],
    }
    found = [
        {
            "image_id": 1,
            "category_id": int(labels[i]) + 1,
            "bbox": [*corners[i, :2], *(corners[i, 2:] - corners[i, :2])],
            "score": float(scores[i]),
        }
        for i in keep
    ]
    stats = coco_evaluation(ground_truth, found).stats
    return {name: max(stats[name], 0.0) for name in ("AP", "AP50", "AP75")}


def _run(p: Params) -> dict:
    return train(
        p.targets, p.queries, p.classes, p.init, p.matching, p.w_class, p.w_l1, p.w_giou,
        p.eos_coef, p.jitter, p.lr, p.steps, p.seed,
    )  # fmt: skip


# --- figures -------------------------------------------------------------------------------


def _corner_path(box: np.ndarray) -> tuple[list, list]:
    cx, cy, w, h = (float(v) for v in box)
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    return [x1, x2, x2, x1, x1], [y1, y1, y2, y2, y1]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.3f})"


def _boxes_figure(p: Params, runs: dict, step: int, lang: str) -> go.Figure:
    labels, goal = runs["labels"], runs["targets"]
    data, annotations = [], []
    for panel, rule in enumerate(RULES):
        axis = "" if panel == 0 else "2"
        run = runs[rule]
        probs, boxes, assigned = run["probs"][step], run["boxes"][step], run["assigned"][step]
        for j, box in enumerate(goal):
            x, y = _corner_path(box)
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": y,
                    "line": {"color": CLASS_COLORS[labels[j]], "width": 3},
                    "fill": "toself",
                    "fillcolor": _rgba(CLASS_COLORS[labels[j]], 0.15),
                    "name": Text("objects (filled)", "目标（填充）")(lang),
                    "legendgroup": "targets",
                    "showlegend": panel == 0 and j == 0,
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "hovertemplate": f"object {j + 1}: {CLASS_NAMES[labels[j]].en}<extra></extra>",
                }
            )
        scores, classes = detections(probs, boxes)
        line_x, line_y = [], []
        for i, box in enumerate(boxes):
            x, y = _corner_path(box)
            alpha = max(1 - probs[i, -1], 0.06)
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": y,
                    "line": {
                        "color": _rgba(CLASS_COLORS[classes[i]], alpha),
                        "width": 2,
                        "dash": "dash",
                    },
                    "name": Text("predictions (opacity 1 − p(∅))", "预测（不透明度 1 − p(∅)）")(
                        lang
                    ),
                    "legendgroup": "predictions",
                    "showlegend": panel == 0 and i == 0,
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "hovertemplate": f"prediction {i + 1}<br>p(∅) {probs[i, -1]:.2f}<br>"
                    f"{CLASS_NAMES[classes[i]].en} {scores[i]:.2f}<extra></extra>",
                }
            )
            if assigned[i] >= 0:
                line_x += [float(box[0]), float(goal[assigned[i], 0]), None]
                line_y += [float(box[1]), float(goal[assigned[i], 1]), None]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": line_x,
                "y": line_y,
                "line": {"color": MUTED, "width": 1.5, "dash": "dot"},
                "name": Text("assignment", "匹配")(lang),
                "legendgroup": "assignment",
                "showlegend": panel == 0,
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
                "hoverinfo": "skip",
            }
        )
        confident = int(np.count_nonzero(scores > 0.5))
        annotations.append(
            caption(
                f"{RULE_NAMES[rule](lang)} · "
                + Text(
                    f"{confident} predictions with score > 0.5", f"{confident} 个预测分数 > 0.5"
                )(lang),
                x=0.0 if panel == 0 else 0.54,
            )
        )
    layout = {
        "title": {
            "text": Text(
                f"Step {step}: objects and predictions on the unit square, lines: who is matched "
                "to whom",
                f"第 {step} 步：单位正方形上的目标与预测，连线表示匹配关系",
            )(lang)
        },
        "height": 470,
        "annotations": annotations,
        "legend": {"orientation": "h", "y": -0.12},
        "margin": {"t": 80},
    }
    for panel in range(2):
        axis = "" if panel == 0 else "2"
        layout[f"xaxis{axis}"] = {
            "domain": [0, 0.46] if panel == 0 else [0.54, 1],
            "range": [0, 1],
            "constrain": "domain",
            "anchor": f"y{axis}",
            "title": {"text": "x"},
        }
        layout[f"yaxis{axis}"] = {
            "range": [1, 0],
            "scaleanchor": f"x{axis}",
            "anchor": f"x{axis}",
            "title": {"text": "y" if panel == 0 else ""},
        }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _state(p: Params, runs: dict, step: int):
    """The one-to-one run's tensors at `step` and a trace of its cost and loss there."""
    import torch

    from core.detection import detr
    from core.trace import Trace

    run = runs["one_to_one"]
    logits = torch.log(torch.as_tensor(run["probs"][step]))  # softmax(log p) = p
    boxes = torch.as_tensor(run["boxes"][step])
    labels = torch.as_tensor(runs["labels"])
    goal = torch.as_tensor(runs["targets"], dtype=boxes.dtype)
    weights = (p.w_class, p.w_l1, p.w_giou)
    match = (p.w_class, 0.0, 0.0) if p.matching == "class_only" else weights
    trace = Trace()
    detr.set_loss(
        logits, boxes, labels, goal, weights, p.eos_coef, match_weights=match, trace=trace
    )
    return trace


def _cost_figure(p: Params, trace, step: int, lang: str) -> go.Figure:
    cost = trace["cost"][0]
    rows, cols = trace["assignment"][0]["pred"].numpy(), trace["assignment"][0]["target"].numpy()
    panels = [
        ("classes", Text("−w_class·p̂(c)", "−w_class·p̂(c)")),
        ("l1", Text("w_L1·‖b − b̂‖₁", "w_L1·‖b − b̂‖₁")),
        ("giou", Text("−w_GIoU·GIoU", "−w_GIoU·GIoU")),
        ("total", Text("total cost (assignment outlined)", "总代价（框出的是匹配）")),
    ]
    q, t = cost["total"].shape
    data, shapes, annotations = [], [], []
    width = 1 / len(panels)
    values = np.concatenate([cost[key].numpy().ravel() for key, _ in panels])
    low, high = float(values.min()), float(values.max())
    for n, (key, name) in enumerate(panels):
        axis = "" if n == 0 else str(n + 1)
        z = cost[key].numpy().astype(np.float32)
        data.append(
            {
                "type": "heatmap",
                "z": z,
                "x": [f"t{j + 1}" for j in range(t)],
                "y": [f"q{i + 1}" for i in range(q)],
                "zmin": low,
                "zmax": high,
                "colorscale": "RdBu_r",
                "zmid": 0,
                "showscale": n == len(panels) - 1,
                "colorbar": {"title": {"text": Text("cost", "代价")(lang)}},
                "text": np.round(z, 1).astype(str) if q * t <= 36 else None,
                "texttemplate": "%{text}" if q * t <= 36 else None,
                "textfont": {"size": 10},
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
                "hovertemplate": "%{y} → %{x}: %{z:.3f}<extra></extra>",
            }
        )
        for i, j in zip(rows, cols, strict=True):
            shapes.append(
                {
                    "type": "rect",
                    "xref": f"x{axis}",
                    "yref": f"y{axis}",
                    "x0": j - 0.5,
                    "x1": j + 0.5,
                    "y0": i - 0.5,
                    "y1": i + 0.5,
                    "line": {"color": "#111111" if key != "total" else "#FFD400", "width": 3},
                }
            )
        annotations.append(caption(name(lang), x=n * width + 0.02 * width))
    total = trace["assignment"][0]["total"]
    layout = {
        "title": {
            "text": Text(
                f"Step {step}: the Q × T matching cost and its three weighted terms; the "
                f"assignment's total cost {total:.3f}",
                f"第 {step} 步：Q × T 的匹配代价及其三个加权项；匹配的总代价 {total:.3f}",
            )(lang)
        },
        "height": 150 + 26 * q,
        "shapes": shapes,
        "annotations": annotations,
        "margin": {"t": 80},
    }
    for n in range(len(panels)):
        axis = "" if n == 0 else str(n + 1)
        layout[f"xaxis{axis}"] = {
            "domain": [n * width + 0.02 * width, (n + 1) * width - 0.06 * width],
            "anchor": f"y{axis}",
            "title": {"text": Text("object", "目标")(lang)},
            "showgrid": False,
        }
        layout[f"yaxis{axis}"] = {
            "anchor": f"x{axis}",
            "autorange": "reversed",
            "title": {"text": Text("prediction", "预测")(lang) if n == 0 else ""},
            "showticklabels": n == 0,
            "showgrid": False,
        }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _loss_terms_figure(p: Params, trace, step: int, lang: str) -> go.Figure:
    loss = trace["loss"][0]
    k = p.classes
    target_classes = loss["target_classes"].numpy()
    ce = (loss["ce"] * loss["ce_weight"]).numpy() / float(loss["ce_weight"].sum())
    n_boxes = max(p.targets, 1)
    l1 = p.w_l1 * loss["l1"].numpy() / n_boxes
    giou = p.w_giou * loss["one_minus_giou"].numpy() / n_boxes
    names = [
        f"q{i + 1} → " + ("∅" if c == k else CLASS_NAMES[c](lang))
        for i, c in enumerate(target_classes)
    ]
    data = []
    for values, name, color in (
        (
            p.w_class * ce,
            Text("w_class · CE (∅ weighted by eos_coef)", "w_class · CE（∅ 乘 eos_coef）"),
            COLORWAY[0],
        ),
        (l1, Text("w_L1 · L1 / T", "w_L1 · L1 / T"), COLORWAY[4]),
        (giou, Text("w_GIoU · (1 − GIoU) / T", "w_GIoU · (1 − GIoU) / T"), COLORWAY[2]),
    ):
        data.append(
            {
                "type": "bar",
                "x": names,
                "y": values.astype(np.float32),
                "name": name(lang),
                "marker": {"color": color},
                "hovertemplate": "%{x}: %{y:.4f}<extra></extra>",
            }
        )
    total = float(p.w_class * ce.sum() + l1.sum() + giou.sum())
    layout = {
        "title": {
            "text": Text(
                f"Step {step}: each prediction's share of the set loss (sum = {total:.3f}); "
                "unmatched predictions learn ∅",
                f"第 {step} 步：每个预测在集合损失中的份额（总和 = {total:.3f}）；未匹配的预测学习 ∅",
            )(lang)
        },
        "barmode": "stack",
        "height": 400,
        "xaxis": {
            "title": {"text": Text("prediction → its target class", "预测 → 它的目标类别")(lang)}
        },
        "yaxis": {"title": {"text": Text("loss term", "损失项")(lang)}},
        "legend": {"orientation": "h", "y": -0.3},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def flips(assigned: np.ndarray) -> np.ndarray:
    """Steps at which the assignment differs from the previous step's. assigned (S + 1, Q)."""
    return np.flatnonzero((assigned[1:] != assigned[:-1]).any(1)) + 1


def _training_figure(p: Params, runs: dict, step: int, lang: str) -> go.Figure:
    run = runs["one_to_one"]
    steps = np.arange(len(run["loss"]))
    data = []
    flip_steps = flips(run["assigned"])
    for i in range(p.queries):
        color = COLORWAY[i % len(COLORWAY)]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": steps,
                "y": run["probs"][:, i, -1].astype(np.float32),
                "name": f"q{i + 1}",
                "line": {"color": color, "width": 1.8},
                "legendgroup": f"q{i}",
                "hovertemplate": f"q{i + 1}" + " step %{x}: p(∅) %{y:.3f}<extra></extra>",
            }
        )
    for rule, dash in zip(RULES, ("solid", "dash"), strict=True):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": steps,
                "y": runs[rule]["loss"].astype(np.float32),
                "name": Text("loss: ", "损失：")(lang) + RULE_NAMES[rule](lang),
                "line": {
                    "color": MUTED if rule == "one_to_many" else COLORWAY[0],
                    "dash": dash,
                    "width": 2,
                },
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
    metrics = ("AP", "AP50", "AP75")
    bars = [
        ("one_to_one", False, Text("one-to-one, no NMS", "一对一，无 NMS"), COLORWAY[0]),
        ("one_to_one", True, Text("one-to-one + NMS", "一对一 + NMS"), COLORWAY[5]),
        ("one_to_many", False, Text("one-to-many, no NMS", "一对多，无 NMS"), COLORWAY[1]),
        ("one_to_many", True, Text("one-to-many + NMS", "一对多 + NMS"), COLORWAY[4]),
    ]
    for rule, nms, name, color in bars:
        values = [runs[rule]["ap"][nms][m] for m in metrics]
        data.append(
            {
                "type": "bar",
                "x": list(metrics),
                "y": values,
                "name": name(lang),
                "marker": {"color": color},
                "xaxis": "x3",
                "yaxis": "y3",
                "hovertemplate": "%{x}: %{y:.3f}<extra></extra>",
            }
        )
    marker = {
        "type": "line",
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "line": {"color": MUTED, "dash": "dot", "width": 1.5},
    }
    shapes = [
        {**marker, "xref": "x", "x0": step, "x1": step},
        {**marker, "xref": "x2", "x0": step, "x1": step},
    ]
    flip_text = ", ".join(str(s) for s in flip_steps[:8]) + (" …" if len(flip_steps) > 8 else "")
    layout = {
        "title": {
            "text": Text(
                f"Training (dotted: step {step}) · the matching changed at steps: {flip_text or 'never'}",
                f"训练过程（点线：第 {step} 步）· 匹配发生变化的步：{flip_text or '无'}",
            )(lang)
        },
        "height": 440,
        "barmode": "group",
        "xaxis": {"domain": [0, 0.3], "title": {"text": Text("step", "步")(lang)}},
        "yaxis": {
            "range": [0, 1.02],
            "title": {"text": Text("p(∅) of each prediction", "每个预测的 p(∅)")(lang)},
        },
        "xaxis2": {
            "domain": [0.38, 0.62],
            "anchor": "y2",
            "title": {"text": Text("step", "步")(lang)},
        },
        "yaxis2": {"anchor": "x2", "type": "log", "title": {"text": Text("loss", "损失")(lang)}},
        "xaxis3": {
            "domain": [0.7, 1],
            "anchor": "y3",
            "title": {"text": Text("after the last step", "最后一步之后")(lang)},
        },
        "yaxis3": {"anchor": "x3", "range": [0, 1.15], "title": {"text": "COCO AP"}},
        "shapes": shapes,
        "legend": {"orientation": "h", "y": -0.25, "font": {"size": 11}},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    runs = _run(p)
    step = min(p.step, p.steps)
    trace = _state(p, runs, step)
    figures = [
        _boxes_figure(p, runs, step, lang),
        _cost_figure(p, trace, step, lang),
        _loss_terms_figure(p, trace, step, lang),
        _training_figure(p, runs, step, lang),
    ]
    header = Text(
        "| rule | AP | AP50 | AP75 | AP + NMS | predictions with score > 0.5 |",
        "| 规则 | AP | AP50 | AP75 | AP + NMS | 分数 > 0.5 的预测数 |",
    )
    rows = [header(lang), "|---|---:|---:|---:|---:|---:|"]
    for rule in RULES:
        ap, with_nms = runs[rule]["ap"][False], runs[rule]["ap"][True]
        scores, _ = detections(runs[rule]["probs"][-1], runs[rule]["boxes"][-1])
        rows.append(
            f"| {RULE_NAMES[rule](lang)} | {ap['AP']:.3f} | {ap['AP50']:.3f} | {ap['AP75']:.3f} "
            f"| {with_nms['AP']:.3f} | {int(np.count_nonzero(scores > 0.5))} |"
        )
    rows += [
        "",
        Text(
            f"{p.queries} predictions, {p.targets} objects, {p.steps} Adam steps per rule; AP on "
            f"the final predictions (score: the best class other than ∅), NMS at IoU > {NMS_IOU}.",
            f"{p.queries} 个预测、{p.targets} 个目标，每种规则 Adam 训练 {p.steps} 步；AP 按最后一步的预测计算"
            f"（分数取 ∅ 以外概率最大的类别），NMS 阈值 IoU > {NMS_IOU}。",
        )(lang),
    ]
    return Rendered(figures, "\n".join(rows))


presets = {
    "Two predictions, one object": Params(
        targets=1, queries=2, init="on_objects", steps=150, step=150
    ),
    "Matching flips early": Params(
        targets=3, queries=12, init="on_objects", jitter=0.01, lr=0.1, steps=100, step=3
    ),
    "Class cost only": Params(matching="class_only", targets=4, queries=6, steps=200, step=200),
    "One-to-many needs NMS": Params(targets=3, queries=12, init="on_objects", steps=150, step=150),
}
preset_titles = {
    "Two predictions, one object": Text("Two predictions, one object", "两个预测，一个目标"),
    "Matching flips early": Text("Matching flips early", "匹配在早期来回变化"),
    "Class cost only": Text("Class cost only", "只用类别代价"),
    "One-to-many needs NMS": Text("One-to-many needs NMS", "一对多需要 NMS"),
}

EXPLANATION = Text(
    en="""
**A set, not a list.** DETR (Carion et al., 2020, "End-to-End Object Detection with Transformers")
ends in Q prediction slots, each a class distribution over K classes plus "no object" ∅ and a box
(cx, cy, w, h) in image fractions. The loss first decides which prediction answers for which
object: the cost of pairing prediction i with object j is −p̂_i(c_j) (how much it believes the
right class) + ‖b_j − b̂_i‖₁ − GIoU(b_j, b̂_i) (how close the box is; GIoU, Rezatofighi et al., 2019,
stays informative when boxes do not overlap), weighted 1, 5, 2. The Hungarian algorithm finds the
one-to-one assignment of least total cost (here SciPy's `linear_sum_assignment`; the matrix
panel outlines it).

**The set loss.** Matched predictions learn their object's class (cross-entropy), box (L1) and
overlap (1 − GIoU); every unmatched prediction learns ∅, its cross-entropy down-weighted by
eos_coef = 0.1 because most slots are empty. No gradient flows through the matching: it only
picks the targets. Two predictions on one object: one wins the match, the other is pushed to ∅,
so p(∅) rises for the duplicate (left panel of the training figure). That is why DETR needs no
NMS. Early in training the cheapest pairing changes from step to step (*Matching flips early*),
which is one reason DETR trains slowly. With the class cost only, the assignment ignores where
the boxes are and predictions travel far.

**Beside it, one-to-many.** Assign every prediction to its cheapest object, as anchor-based
detectors do: duplicates all learn the same object and all stay confident, so AP without NMS
suffers (duplicates are false positives) and greedy NMS has to remove them. The predictions here
are free parameters, not a transformer's outputs: the matching and the loss are exactly DETR's
(the tests compare them to its released code), the network is left out. Related demos: CenterNet
(peaks instead of NMS), varifocal loss, mAP.
""",
    zh="""
**集合，而不是列表。** DETR（Carion 等，2020，“End-to-End Object Detection with Transformers”）最后输出 Q 个预测槽位，
每个是 K 个类别加“无目标” ∅ 上的类别分布，以及一个以图像比例表示的框 (cx, cy, w, h)。损失先决定哪个预测对哪个目标负责：
预测 i 与目标 j 配对的代价是 −p̂_i(c_j)（它有多相信正确的类别）+ ‖b_j − b̂_i‖₁ − GIoU(b_j, b̂_i)（框有多接近；GIoU 由
Rezatofighi 等于 2019 年提出，在框不重叠时仍有信息），权重分别为 1、5、2。匈牙利算法求出总代价最小的一对一匹配
（这里用 SciPy 的 `linear_sum_assignment`；代价矩阵图中框出了它）。

**集合损失。** 被匹配的预测学习目标的类别（交叉熵）、框（L1）与重叠（1 − GIoU）；每个未被匹配的预测学习 ∅，
由于大多数槽位是空的，其交叉熵乘以 eos_coef = 0.1。匹配过程不传梯度：它只负责挑选目标。两个预测落在同一个目标上：
一个赢得匹配，另一个被推向 ∅，于是重复预测的 p(∅) 上升（训练图左）。这正是 DETR 不需要 NMS 的原因。训练初期，
代价最小的配对会一步一变（预设“匹配在早期来回变化”），这是 DETR 训练慢的原因之一。只用类别代价时，匹配不看框的位置，
预测要移动很远。

**对照：一对多。** 像基于锚框的检测器那样，把每个预测分给代价最小的目标：重复的预测都学习同一个目标，而且都保持高置信度，
因此不做 NMS 时 AP 下降（重复检测是误检），必须用贪心 NMS 去掉它们。这里的预测是自由参数，而不是 Transformer 的输出：
匹配和损失与 DETR 完全一致（测试中与其公开代码对照），网络本身省略了。相关演示：CenterNet（用峰值代替 NMS）、
Varifocal 损失、mAP。
""",
)

DEMO = Demo(
    slug="detr",
    section="vision",
    figures=4,
    title=Text("DETR: set prediction without NMS", "DETR：无需 NMS 的集合预测"),
    summary=Text(
        "The class + L1 + GIoU matching cost, Hungarian matching, the set loss, and predictions "
        "trained live one-to-one vs one-to-many.",
        "类别 + L1 + GIoU 匹配代价、匈牙利匹配、集合损失，以及现场训练的一对一与一对多预测。",
    ),
    sources=(
        Source(
            "End-to-End Object Detection with Transformers",
            "N. Carion, F. Massa, G. Synnaeve, N. Usunier, A. Kirillov, S. Zagoruyko",
            2020,
            "https://arxiv.org/abs/2005.12872",
        ),
        Source(
            "Generalized Intersection over Union",
            "H. Rezatofighi et al.",
            2019,
            "https://arxiv.org/abs/1902.09630",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
