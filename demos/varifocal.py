"""Varifocal loss: should a detector's score say "object here" or "this box is good"?

The question: NMS keeps the highest-scored box of each object, so the score decides which box
survives. Focal loss (Lin et al. 2017) trains the score to say "this anchor is a positive" and
fades easy examples on both sides; varifocal loss (Zhang et al. 2021) trains it towards the box's
IoU q and fades only negatives. The curves compare the losses and their gradients; a synthetic
dense detector then trains three score heads live and NMS + COCO AP show what the ranking buys.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    from torch import Tensor

IMAGE = 128.0  # one synthetic image per object, IMAGE × IMAGE pixels
HEADS = ("bce", "focal", "vfl")
HEAD_NAMES = {"bce": "BCE", "focal": "Focal", "vfl": "VFL"}
HEAD_COLORS = {"bce": COLORWAY[6], "focal": COLORWAY[0], "vfl": COLORWAY[1]}
SCORE_THRESHOLD = 0.05  # mmdetection's test_cfg score_thr: boxes below never reach NMS
NMS_PRE = 1000  # and at most this many per head (mmdetection's nms_pre)
EASY = 0.1  # a negative scored below this is "easy"
IOU_RANGE = (0.35, 0.95)  # the IoU of an object's anchor boxes, uniform
MUTED = "rgba(128,128,128,0.9)"


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    alpha: float = param(
        0.25, en="Focal α (weight of positives)", zh="Focal 的 α（正样本权重）", ge=0.0, le=1.0
    )
    gamma: float = param(
        2.0,
        en="γ (focusing, both losses)",
        zh="γ（聚焦参数，两种损失共用）",
        help_en="Focal: (1 − p_t)^γ on every example; VFL: p^γ on negatives only.",
        help_zh="Focal：每个样本乘 (1 − p_t)^γ；VFL：只有负样本乘 p^γ。",
        ge=0.0,
        le=5.0,
        step=0.1,
    )
    vfl_alpha: float = param(
        0.75, en="VFL α (weight of negatives)", zh="VFL 的 α（负样本权重）", ge=0.0, le=1.0
    )
    q: float = param(
        0.6,
        en="Curves: IoU q of the positive",
        zh="曲线：正样本的 IoU q",
        ge=0.05,
        le=1.0,
        step=0.05,
    )
    objects: int = param(100, en="Detector: objects", zh="检测器：目标数", ge=10, le=200)
    anchors: int = param(
        8,
        en="Detector: anchors per object",
        zh="检测器：每个目标的锚点数",
        help_en="Each anchor predicts a box; its IoU with the object is independent of how "
        "central the anchor is.",
        help_zh="每个锚点预测一个框；框与目标的 IoU 与锚点离中心多近无关。",
        ge=2,
        le=12,
    )
    background: int = param(
        1000, en="Detector: background anchors", zh="检测器：背景锚点数", ge=0, le=2500, step=50
    )
    cue: float = param(
        0.8,
        en="Localisation cue (correlation with IoU)",
        zh="定位线索（与 IoU 的相关系数）",
        help_en="A feature the score heads can read: 1 tells each box's IoU, 0 is noise.",
        help_zh="分数头可以读取的特征：1 表示完全反映每个框的 IoU，0 表示纯噪声。",
        ge=0.0,
        le=1.0,
        step=0.05,
    )
    steps: int = param(200, en="Training steps (Adam)", zh="训练步数（Adam）", ge=10, le=300)
    nms_iou: float = param(
        0.6, en="NMS IoU threshold", zh="NMS 的 IoU 阈值", ge=0.3, le=0.9, step=0.05
    )
    zoom: int = param(
        0,
        en="Zoomed object (0: where BCE's box is loosest)",
        zh="放大显示的目标（0：BCE 所留框最松的那个）",
        ge=0,
        le=200,
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


# --- the synthetic dense detector ----------------------------------------------------------


def _shifted_box(box: np.ndarray, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boxes of the same size as `box` (x1, y1, x2, y2) shifted so their IoU with it is q.

    Shifts by fractions sx, sy of the width and height give intersection (1 − sx)(1 − sy) = I
    of one box area and IoU = I / (2 − I), so I = 2q / (1 + q), split between the axes.
    """
    w, h = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    overlap = 2 * q / (1 + q)
    u = rng.uniform(0, 1, q.shape)
    sx = (1 - overlap**u) * rng.choice([-1, 1], q.shape)
    sy = (1 - overlap ** (1 - u)) * rng.choice([-1, 1], q.shape)
    dx, dy = sx * w, sy * h
    return np.stack([box[..., 0] + dx, box[..., 1] + dy, box[..., 2] + dx, box[..., 3] + dy], -1)


def synthesize(objects: int, anchors: int, background: int, cue: float, seed: int) -> dict:
    """Anchors of a dense detector: per object several (objectness cue ~ centrality, IoU
    independent of it, a noisy localisation cue), and background anchors. Arrays (N, ...)."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(24, 64, (objects, 2))
    centre = rng.uniform(size / 2 + 4, IMAGE - size / 2 - 4)
    gt = np.concatenate([centre - size / 2, centre + size / 2], 1)

    distance = rng.uniform(0, 1, (objects, anchors))  # to the object's centre, / half its size
    distance[:, 0] = rng.uniform(0, 0.3, objects)  # every object has a central anchor
    iou = rng.uniform(*IOU_RANGE, (objects, anchors))
    boxes = _shifted_box(np.repeat(gt[:, None], anchors, 1), iou, rng)
    angle = rng.uniform(0, 2 * math.pi, (objects, anchors))
    point = centre[:, None] + distance[..., None] * size[:, None] / 2 * np.stack(
        [np.cos(angle), np.sin(angle)], -1
    )

    n_bg = background
    bg_size = rng.uniform(16, 64, (n_bg, 2))
    bg_xy = rng.uniform(0, IMAGE - bg_size)
    bg_boxes = np.concatenate([bg_xy, bg_xy + bg_size], 1)
    bg_image = rng.integers(0, objects, n_bg)

    def localisation(q: np.ndarray) -> np.ndarray:
        z = (q - np.mean(IOU_RANGE)) / ((IOU_RANGE[1] - IOU_RANGE[0]) / math.sqrt(12))
        return cue * z + math.sqrt(1 - cue**2) * rng.normal(0, 1, q.shape)

    objectness = np.concatenate(
        [(1 - distance).ravel() + rng.normal(0, 0.15, distance.size), rng.uniform(-0.8, 0.6, n_bg)]
    )
    # background anchors get a localisation output from the same marginal: it tells nothing there
    loc = np.concatenate([localisation(iou).ravel(), localisation(rng.uniform(*IOU_RANGE, n_bg))])
    n_obj = objects * anchors
    return {
        "gt": gt,
        "boxes": np.concatenate([boxes.reshape(-1, 4), bg_boxes]),
        "image": np.concatenate([np.repeat(np.arange(objects), anchors), bg_image]),
        "object": np.concatenate([np.repeat(np.arange(objects), anchors), np.full(n_bg, -1)]),
        "iou": np.concatenate([iou.ravel(), np.zeros(n_bg)]),
        "positive": np.concatenate([distance.ravel() < 0.5, np.zeros(n_bg, dtype=bool)]),
        "point": point.reshape(-1, 2),
        "features": np.stack([objectness, loc], 1),
        "n_object_anchors": n_obj,
    }


def _head_loss(head: str, p: Tensor, positive: Tensor, q: Tensor, params: tuple) -> Tensor:
    from core.detection import varifocal

    alpha, gamma, vfl_alpha = params
    if head == "bce":
        return varifocal.bce(p, positive.to(p.dtype)).mean()
    if head == "focal":  # normalised by the number of positives, as RetinaNet
        return varifocal.focal_loss(p, positive, alpha, gamma).sum() / positive.sum().clamp(min=1)
    return varifocal.varifocal_loss(p, q, vfl_alpha, gamma).sum() / positive.sum().clamp(min=1)


@lru_cache(maxsize=16)
def train(
    alpha: float,
    gamma: float,
    vfl_alpha: float,
    objects: int,
    anchors: int,
    background: int,
    cue: float,
    steps: int,
    nms_iou: float,
    seed: int,
) -> dict:
    """Three logistic score heads on the same anchors (BCE, focal, VFL with q = IoU), trained
    full batch by Adam; then NMS per image and COCO AP of each. Cached by its arguments."""
    import torch
    from scipy.stats import spearmanr

    from core.detection.average_precision import coco_evaluation
    from core.detection.boxes import nms

    data = synthesize(objects, anchors, background, cue, seed)
    x = torch.as_tensor(data["features"], dtype=torch.float32)
    positive = torch.as_tensor(data["positive"])
    q = torch.where(positive, torch.as_tensor(data["iou"], dtype=torch.float32), 0.0)
    generator = torch.Generator().manual_seed(seed)
    weights = (0.1 * torch.randn(len(HEADS), 2, generator=generator)).requires_grad_()
    bias = torch.full((len(HEADS),), -2.0, requires_grad=True)  # start with low scores
    optimiser = torch.optim.Adam([weights, bias], lr=0.05)
    loss_params = (alpha, gamma, vfl_alpha)
    curves = np.zeros((steps, len(HEADS)))
    with torch.enable_grad():
        for step in range(steps):
            p = torch.sigmoid(x @ weights.T + bias).clamp(1e-6, 1 - 1e-6)  # (N, heads)
            losses = torch.stack(
                [_head_loss(h, p[:, k], positive, q, loss_params) for k, h in enumerate(HEADS)]
            )
            optimiser.zero_grad()
            losses.sum().backward()
            optimiser.step()
            curves[step] = losses.detach().numpy()
    with torch.no_grad():
        scores = torch.sigmoid(x @ weights.T + bias).numpy().astype(np.float64)

    ground_truth = {
        "images": [{"id": i + 1} for i in range(objects)],
        "categories": [{"id": 1, "name": "object"}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1,
                "bbox": [*g[:2], *(g[2:] - g[:2])],
                "area": float(np.prod(g[2:] - g[:2])),
                "iscrowd": 0,
            }
            for i, g in enumerate(data["gt"])
        ],
    }
    # one NMS call per head: images side by side on one canvas never overlap
    shifted = data["boxes"] + (data["image"] * 2 * IMAGE)[:, None] * np.array([1, 0, 1, 0])
    results = {}
    for k, head in enumerate(HEADS):
        s = scores[:, k]
        candidates = np.flatnonzero(s >= SCORE_THRESHOLD)
        candidates = candidates[np.argsort(-s[candidates], kind="stable")[:NMS_PRE]]
        kept = candidates[nms(shifted[candidates], s[candidates], nms_iou).numpy()]
        detections = [
            {
                "image_id": int(data["image"][j]) + 1,
                "category_id": 1,
                "bbox": [*data["boxes"][j, :2], *(data["boxes"][j, 2:] - data["boxes"][j, :2])],
                "score": float(s[j]),
            }
            for j in kept
        ]
        stats = coco_evaluation(ground_truth, detections).stats
        on_object = data["positive"]
        rho = (
            spearmanr(s[on_object], data["iou"][on_object]).statistic if on_object.sum() > 2 else 0
        )
        results[head] = {
            "scores": s,
            "kept": kept,
            "stats": stats,
            "rho": float(np.nan_to_num(rho)),
            "weights": weights[k].detach().numpy().copy(),
        }
    return {"data": data, "curves": curves, "heads": results}


# --- figures -------------------------------------------------------------------------------


def _curve_figure(p: Params, lang: str) -> go.Figure:
    import torch

    from core.detection import varifocal
    from core.trace import Trace

    prob = torch.linspace(0.002, 0.998, 400, dtype=torch.float64)
    one, zero = torch.ones_like(prob), torch.zeros_like(prob)
    trace = Trace()
    curves = []  # (name, colour, dash, loss, ∂loss/∂z)
    bce_pos, bce_neg = varifocal.bce(prob, one), varifocal.bce(prob, zero)
    curves.append(("BCE, y = 1", HEAD_COLORS["bce"], "solid", bce_pos, prob - 1))
    curves.append(("BCE, y = 0", HEAD_COLORS["bce"], "dot", bce_neg, prob))
    for target, dash, label in ((one, "solid", "y = 1"), (zero, "dot", "y = 0")):
        loss = varifocal.focal_loss(prob, target, p.alpha, p.gamma, trace=trace)
        grad = trace["focal"][-1]["grad_logit"]
        curves.append((f"Focal, {label}", HEAD_COLORS["focal"], dash, loss, grad))
    for target, dash, label in (
        (prob * 0 + p.q, "solid", f"q = {p.q:.2f}"),
        (zero, "dot", "q = 0"),
    ):
        loss = varifocal.varifocal_loss(prob, target, p.vfl_alpha, p.gamma, trace=trace)
        grad = trace["varifocal"][-1]["grad_logit"]
        curves.append((f"VFL, {label}", HEAD_COLORS["vfl"], dash, loss, grad))
    x = prob.numpy().astype(np.float32)
    data = []
    for name, color, dash, loss, grad in curves:
        common = {"type": "scatter", "mode": "lines", "x": x, "legendgroup": name}
        line = {"color": color, "dash": dash, "width": 2.5 if "VFL" in name else 2}
        data.append({**common, "y": loss.numpy().astype(np.float32), "name": name, "line": line})
        data.append(
            {
                **common,
                "y": grad.numpy().astype(np.float32),
                "name": name,
                "showlegend": False,
                "line": line,
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
    q_line = {
        "type": "line",
        "x0": p.q,
        "x1": p.q,
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "line": {"color": HEAD_COLORS["vfl"], "dash": "dash", "width": 1},
    }
    title = Text(
        f"Loss (top) and its gradient ∂loss/∂logit (bottom) against the score p<br>"
        f"VFL's positive is minimal at p = q = {p.q:.2f} (dashed)",
        f"损失（上）及其对 logit 的梯度（下）随分数 p 的变化<br>VFL 正样本在 p = q = {p.q:.2f} 处最小（虚线）",
    )
    layout = {
        "title": {"text": title(lang)},
        "height": 640,
        "margin": {"t": 80},
        "xaxis": {"domain": [0, 1], "anchor": "y", "matches": "x2", "showticklabels": False},
        "yaxis": {
            "domain": [0.52, 1],
            "title": {"text": Text("loss", "损失")(lang)},
            "range": [0, 3],
        },
        "xaxis2": {
            "domain": [0, 1],
            "anchor": "y2",
            "title": {"text": Text("predicted score p", "预测分数 p")(lang)},
        },
        "yaxis2": {
            "domain": [0, 0.45],
            "title": {"text": "∂loss/∂z"},
            "range": [-1.05, 1.05],
        },
        "shapes": [q_line, {**q_line, "xref": "x2"}],
        "legend": {"orientation": "h", "y": -0.14},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _weight_figure(p: Params, run: dict, lang: str) -> go.Figure:
    import torch

    from core.detection import varifocal
    from core.trace import Trace

    grid_p = np.linspace(0.005, 0.995, 100)
    grid_q = np.linspace(0.0, 1.0, 11)  # one row per tenth; q = 0 is the negatives' row
    pp, qq = np.meshgrid(grid_p, grid_q)
    trace = Trace()
    varifocal.varifocal_loss(
        torch.as_tensor(pp), torch.as_tensor(qq), p.vfl_alpha, p.gamma, trace=trace
    )
    weight = trace["varifocal"][0]["weight"].numpy()

    # loss shares on one set of scores (the BCE head's): only the weighting differs
    data_ = run["data"]
    s = torch.as_tensor(run["heads"]["bce"]["scores"]).clamp(1e-6, 1 - 1e-6)
    positive = torch.as_tensor(data_["positive"])
    q = torch.where(positive, torch.as_tensor(data_["iou"]), 0.0)
    losses = {
        "bce": varifocal.bce(s, positive.double()),
        "focal": varifocal.focal_loss(s, positive, p.alpha, p.gamma),
        "vfl": varifocal.varifocal_loss(s, q, p.vfl_alpha, p.gamma),
    }
    easy = (~positive) & (s < EASY)
    groups = [
        (Text("easy negatives (p < 0.1)", "简单负样本（p < 0.1）"), easy, COLORWAY[5]),
        (Text("other negatives", "其他负样本"), (~positive) & ~easy, COLORWAY[4]),
        (Text("positives", "正样本"), positive, COLORWAY[2]),
    ]
    data = [
        {
            "type": "heatmap",
            "x": grid_p.astype(np.float32),
            "y": [Text("0 (negative)", "0（负样本）")(lang)] + [f"{v:.1f}" for v in grid_q[1:]],
            "z": weight.astype(np.float32),
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": Text("weight", "权重")(lang)}, "x": 0.42, "len": 0.9},
            "hovertemplate": "p %{x:.2f}, q %{y}<br>weight %{z:.3f}<extra></extra>",
            "showlegend": False,
        }
    ]
    names = [HEAD_NAMES[h] for h in HEADS]
    for label, mask, color in groups:
        shares = [float(losses[h][mask].sum() / losses[h].sum().clamp(min=1e-12)) for h in HEADS]
        data.append(
            {
                "type": "bar",
                "x": names,
                "y": shares,
                "name": label(lang),
                "marker": {"color": color},
                "xaxis": "x2",
                "yaxis": "y2",
                "text": [f"{v:.0%}" for v in shares],
                "textposition": "inside",
                "hovertemplate": "%{x}: %{y:.1%}<extra></extra>",
            }
        )
    n_easy = int(easy.sum())
    layout = {
        "title": {
            "text": Text(
                "Left: VFL's weight on the BCE term over (p, q): q for positives, α·p^γ for "
                "negatives (bottom row)<br>Right: each group's share of the total loss",
                "左：VFL 对 BCE 项的权重随 (p, q) 变化：正样本为 q，负样本（最下一行）为 α·p^γ<br>右：各组样本占总损失的比例",
            )(lang)
        },
        "height": 480,
        "barmode": "stack",
        "margin": {"t": 90},
        "xaxis": {"domain": [0, 0.36], "title": {"text": Text("score p", "分数 p")(lang)}},
        "yaxis": {"title": {"text": Text("IoU target q", "IoU 目标 q")(lang)}, "type": "category"},
        "xaxis2": {"domain": [0.62, 1], "anchor": "y2"},
        "yaxis2": {
            "anchor": "x2",
            "range": [0, 1],
            "tickformat": ".0%",
            "title": {"text": Text("share of the loss", "占损失的比例")(lang)},
        },
        "annotations": [
            caption(
                Text(
                    f"on the BCE head's scores: {n_easy} easy negatives of {len(s)} anchors",
                    f"用 BCE 头的分数：{n_easy}/{len(s)} 个锚点是简单负样本",
                )(lang),
                x=0.62,
            )
        ],
        "legend": {"orientation": "h", "y": -0.18, "x": 0.5},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _ranking_figure(run: dict, lang: str) -> go.Figure:
    d = run["data"]
    on_object = d["object"] >= 0
    iou = d["iou"][on_object].astype(np.float32)
    positive = d["positive"][on_object]
    data, annotations, width = [], [], 1 / len(HEADS)
    for k, head in enumerate(HEADS):
        result = run["heads"][head]
        s = result["scores"][on_object].astype(np.float32)
        axis = "" if k == 0 else str(k + 1)
        for mask, name, color in (
            (~positive, Text("off-centre anchors (negatives)", "偏离中心的锚点（负样本）"), MUTED),
            (
                positive,
                Text("central anchors (positives)", "中心锚点（正样本）"),
                HEAD_COLORS[head],
            ),
        ):
            data.append(
                {
                    "type": "scattergl",
                    "mode": "markers",
                    "x": iou[mask],
                    "y": s[mask],
                    "name": f"{HEAD_NAMES[head]}: {name(lang)}",
                    "marker": {"color": color, "size": 4, "opacity": 0.6},
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "hovertemplate": "IoU %{x:.2f}<br>score %{y:.3f}<extra></extra>",
                }
            )
        annotations.append(
            caption(
                f"{HEAD_NAMES[head]} · Spearman ρ = {result['rho']:.2f}",
                x=k * width + 0.04 * width,
                size=13,
            )
        )
    layout = {
        "title": {
            "text": Text(
                "Score against the box's IoU on each object's anchors; ρ ranks the positives",
                "每个目标的锚点：分数与框的 IoU；ρ 为正样本上的秩相关系数",
            )(lang)
        },
        "height": 420,
        "annotations": annotations,
        "legend": {"orientation": "h", "y": -0.25, "font": {"size": 11}},
        "margin": {"t": 80},
    }
    for k in range(len(HEADS)):
        axis = "" if k == 0 else str(k + 1)
        layout[f"xaxis{axis}"] = {
            "domain": [k * width + 0.04 * width, (k + 1) * width - 0.04 * width],
            "anchor": f"y{axis}",
            "title": {"text": "IoU"},
            "range": [0.3, 1.0],
        }
        layout[f"yaxis{axis}"] = {
            "anchor": f"x{axis}",
            "range": [0, 1],
            "title": {"text": Text("score", "分数")(lang) if k == 0 else ""},
        }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def zoomed_object(p: Params, run: dict) -> int:
    """The object to draw: p.zoom − 1, or (0) the one where BCE's top box is loosest relative
    to the tightest box available."""
    d = run["data"]
    objects = len(d["gt"])
    if p.zoom:
        return min(p.zoom, objects) - 1
    n_obj = d["n_object_anchors"]
    iou = d["iou"][:n_obj].reshape(objects, -1)
    bce = run["heads"]["bce"]["scores"][:n_obj].reshape(objects, -1)
    chosen = iou[np.arange(objects), bce.argmax(1)]
    return int(np.argmax(iou.max(1) - chosen))


def _box_path(box: np.ndarray) -> tuple[list, list]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, x2, x2, x1, x1], [y1, y1, y2, y2, y1]


def _result_figure(p: Params, run: dict, lang: str) -> go.Figure:
    d = run["data"]
    data = []
    metrics = ("AP", "AP50", "AP75")
    for head in HEADS:
        stats = run["heads"][head]["stats"]
        values = [max(stats[m], 0.0) for m in metrics]
        data.append(
            {
                "type": "bar",
                "x": list(metrics),
                "y": values,
                "name": HEAD_NAMES[head],
                "marker": {"color": HEAD_COLORS[head]},
                "text": [f"{v:.2f}" for v in values],
                "textposition": "outside",
                "legendgroup": head,
                "hovertemplate": f"{HEAD_NAMES[head]} %{{x}}: %{{y:.3f}}<extra></extra>",
            }
        )
    index = zoomed_object(p, run)
    members = np.flatnonzero(d["object"] == index)
    gt = d["gt"][index]
    for n, j in enumerate(members):
        x, y = _box_path(d["boxes"][j])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": y,
                "line": {"color": MUTED, "width": 1, "dash": "dot"},
                "name": Text("the object's anchor boxes", "该目标各锚点的框")(lang),
                "showlegend": n == 0,
                "legendgroup": "anchors",
                "xaxis": "x2",
                "yaxis": "y2",
                "hoverinfo": "skip",
            }
        )
    x, y = _box_path(gt)
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": y,
            "line": {"color": COLORWAY[2], "width": 4},
            "name": Text("ground truth", "真实框")(lang),
            "xaxis": "x2",
            "yaxis": "y2",
        }
    )
    points = d["point"][members]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": points[:, 0],
            "y": points[:, 1],
            "marker": {
                "color": np.where(d["positive"][members], COLORWAY[2], MUTED).tolist(),
                "size": 8,
                "symbol": "x",
            },
            "name": Text("anchor points (green: central)", "锚点位置（绿色：中心锚点）")(lang),
            "customdata": d["iou"][members],
            "hovertemplate": "IoU %{customdata:.2f}<extra></extra>",
            "xaxis": "x2",
            "yaxis": "y2",
        }
    )
    notes = []
    for k, head in enumerate(HEADS):
        s = run["heads"][head]["scores"][members]
        j = members[int(np.argmax(s))]
        x, y = _box_path(d["boxes"][j])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": y,
                "line": {
                    "color": HEAD_COLORS[head],
                    "width": 2.5,
                    "dash": ("dash", "dashdot", "solid")[k],
                },
                "name": f"{HEAD_NAMES[head]}: IoU {d['iou'][j]:.2f}",
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
        notes.append(f"{HEAD_NAMES[head]} {d['iou'][j]:.2f}")
    pad = 0.6 * max(gt[2] - gt[0], gt[3] - gt[1])
    layout = {
        "title": {
            "text": Text(
                f"After NMS (IoU > {p.nms_iou:.2f}): COCO AP per score head<br>Right: the box each "
                f"head keeps on object {index + 1} (best available IoU {d['iou'][members].max():.2f})",
                f"NMS（IoU > {p.nms_iou:.2f}）之后：各分数头的 COCO AP<br>右：目标 {index + 1} 上各头保留的框"
                f"（可得的最佳 IoU {d['iou'][members].max():.2f}）",
            )(lang)
        },
        "height": 480,
        "barmode": "group",
        "margin": {"t": 80},
        "xaxis": {"domain": [0, 0.45], "title": {"text": Text("metric", "指标")(lang)}},
        "yaxis": {"range": [0, 1.05], "title": {"text": "AP"}},
        "xaxis2": {
            "domain": [0.55, 1],
            "anchor": "y2",
            "range": [gt[0] - pad, gt[2] + pad],
            "title": {"text": Text("x (pixels)", "x（像素）")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "range": [gt[3] + pad, gt[1] - pad],
            "scaleanchor": "x2",
            "title": {"text": Text("y (pixels)", "y（像素）")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.2, "font": {"size": 11}},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    run = train(
        p.alpha,
        p.gamma,
        p.vfl_alpha,
        p.objects,
        p.anchors,
        p.background,
        p.cue,
        p.steps,
        p.nms_iou,
        p.seed,
    )
    figures = [
        _curve_figure(p, lang),
        _weight_figure(p, run, lang),
        _ranking_figure(run, lang),
        _result_figure(p, run, lang),
    ]
    heads = run["heads"]
    header = Text(
        "| head | AP | AP50 | AP75 | Spearman ρ (positives) | weight on objectness | on localisation |",
        "| 分数头 | AP | AP50 | AP75 | Spearman ρ（正样本） | 目标性线索的权重 | 定位线索的权重 |",
    )
    rows = [header(lang), "|---|---:|---:|---:|---:|---:|---:|"]
    for head in HEADS:
        r = heads[head]
        stats = r["stats"]
        rows.append(
            f"| {HEAD_NAMES[head]} | {stats['AP']:.3f} | {stats['AP50']:.3f} | {stats['AP75']:.3f} "
            f"| {r['rho']:.2f} | {r['weights'][0]:.2f} | {r['weights'][1]:.2f} |"
        )
    n = len(run["data"]["iou"])
    rows += [
        "",
        Text(
            f"{n} anchors ({p.objects} objects × {p.anchors} + {p.background} background), "
            f"{p.steps} Adam steps; boxes scored below {SCORE_THRESHOLD} never reach NMS.",
            f"{n} 个锚点（{p.objects} 个目标 × {p.anchors} + {p.background} 个背景），Adam 训练 "
            f"{p.steps} 步；分数低于 {SCORE_THRESHOLD} 的框不进入 NMS。",
        )(lang),
    ]
    return Rendered(figures, "\n".join(rows))


presets = {
    "Central anchor, loose box": Params(),
    "No localisation cue: heads agree": Params(cue=0.0),
    "γ = 0: focal is weighted BCE": Params(gamma=0.0),
    "Easy negatives' loss share": Params(background=2500, objects=50),
}
preset_titles = {
    "Central anchor, loose box": Text("Central anchor, loose box", "锚点居中，框却松"),
    "No localisation cue: heads agree": Text(
        "No localisation cue: heads agree", "没有定位线索：三个头一致"
    ),
    "γ = 0: focal is weighted BCE": Text(
        "γ = 0: focal is weighted BCE", "γ = 0：Focal 就是加权 BCE"
    ),
    "Easy negatives' loss share": Text("Easy negatives' loss share", "简单负样本占多少损失"),
}

EXPLANATION = Text(
    en="""
**Two losses on a score.** A dense detector scores every anchor with p = sigmoid(z). Binary
cross-entropy treats each anchor alike, so the thousands of easy background anchors dominate the
loss. *Focal loss* (Lin et al., 2017, RetinaNet) multiplies it by (1 − p_t)^γ: well-classified
examples fade, on both sides, and α balances positives against negatives. With γ = 0 it is just
α-weighted BCE.

*Varifocal loss* (Zhang et al., 2021, VarifocalNet) changes the target: a positive's target is q,
the IoU of its predicted box with the object, so the score becomes an *IoU-aware classification
score*. Its positive term −q(q log p + (1 − q) log(1 − p)) is smallest at p = q (top panel, dashed
line) and is weighted by q, so good boxes count more; only negatives get the focal fade α·p^γ. The
bottom panel shows ∂loss/∂logit: focal's gradient on a positive vanishes as p → 1, VFL's crosses
zero at p = q.

**Why it matters: NMS keeps the top score.** In the synthetic detector each object has several
anchors; the central ones are "positives" (an objectness cue tells them apart), but how tight
each anchor's box is does not depend on how central it is. A second, noisy cue tells the box's
IoU. Three logistic score heads are trained live: BCE and focal learn "central" and ignore the
localisation cue, VFL learns to read it (compare Spearman's ρ between score and IoU). After NMS
each object keeps its top-scored box: the BCE head often keeps the central anchor with a loose box,
so AP75 suffers; VFL keeps the tight one. Without a localisation cue the heads agree.

The stacked bars evaluate the three losses on the same scores: BCE still spends a visible share
on the many easy negatives (more of them, preset *Easy negatives*, more share), focal and VFL spend
almost nothing there and move the loss to the examples that matter. AP is COCO's (Lin et al., 2014), as
in the mAP demo; box overlaps use IoU, whose generalisation GIoU (Rezatofighi et al., 2019) trains
boxes in DETR.
""",
    zh="""
**同一个分数的两种损失。** 稠密检测器给每个锚点打分 p = sigmoid(z)。二元交叉熵（BCE）对每个锚点一视同仁，于是成千上万
个简单的背景锚点主导了损失。*Focal 损失*（Lin 等，2017，RetinaNet）乘上 (1 − p_t)^γ：分得好的样本——无论正负——权重
都会变小；α 平衡正负样本。γ = 0 时它就是按 α 加权的 BCE。

*Varifocal 损失*（Zhang 等，2021，VarifocalNet）改变了目标：正样本的目标是 q，即它预测的框与目标的 IoU，于是分数成为
*IoU 感知的分类分数*。正样本项 −q(q log p + (1 − q) log(1 − p)) 在 p = q 处最小（上图虚线），并按 q 加权，框越好权重越大；
只有负样本乘上 focal 式的衰减 α·p^γ。下图是 ∂损失/∂logit：focal 在正样本上的梯度随 p → 1 消失，VFL 的梯度在 p = q 处过零。

**为什么重要：NMS 保留分数最高的框。** 合成检测器里每个目标有若干锚点；靠近中心的是“正样本”（目标性线索能把它们区分出来），
但每个锚点的框有多紧与它是否居中无关。另一条带噪声的线索反映框的 IoU。这里现场训练三个逻辑回归分数头：BCE 与 focal
学到“居中”而忽略定位线索，VFL 学会读取它（比较分数与 IoU 的 Spearman ρ）。NMS 之后每个目标只留下分数最高的框：BCE 头
常常留下居中但框很松的锚点，AP75 因而下降；VFL 留下紧的那个。没有定位线索时三个头结果一致。

堆叠柱状图在同一组分数上计算三种损失：BCE 仍把可观的一部分损失花在大量简单负样本上（背景越多，比例越大，见预设“简单负样本”），focal 与 VFL 在那里几乎不花损失，而把它转移到真正重要的样本上。AP 采用
COCO 的定义（Lin 等，2014），与 mAP 演示相同；框的重叠用 IoU 衡量，它的推广 GIoU（Rezatofighi 等，2019）用于 DETR 的框回归。
""",
)

DEMO = Demo(
    slug="varifocal",
    section="vision",
    figures=4,
    title=Text("Varifocal loss: IoU-aware scores", "Varifocal 损失：IoU 感知的分数"),
    summary=Text(
        "Focal vs varifocal loss and their gradients; three score heads trained live; what NMS "
        "keeps and what AP75 says.",
        "Focal 与 Varifocal 损失及其梯度；现场训练三个分数头；NMS 留下什么，AP75 如何变化。",
    ),
    sources=(
        Source(
            "Focal Loss for Dense Object Detection",
            "T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár",
            2017,
            "https://arxiv.org/abs/1708.02002",
        ),
        Source(
            "VarifocalNet: An IoU-aware Dense Object Detector",
            "H. Zhang, Y. Wang, F. Dayoub, N. Sünderhauf",
            2021,
            "https://arxiv.org/abs/2008.13367",
        ),
        Source(
            "Microsoft COCO: Common Objects in Context",
            "T.-Y. Lin et al.",
            2014,
            "https://arxiv.org/abs/1405.0312",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
