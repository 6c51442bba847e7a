"""CenterNet: can a detector find objects as peaks of a heatmap, without boxes to suppress?

The question: CenterNet (Zhou et al. 2019) predicts, per class, a heatmap whose peaks are object
centres, plus a size and a sub-cell offset at each cell. How wide is each training Gaussian (the
CornerNet radius and the bug in its released code), why does a 3×3 max-pool replace NMS, and what
do the offset head and the stride cost in localisation? A generated image, its targets, and the
decoded boxes show each step.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

IMAGE = 128  # input pixels, square
CLASS_NAMES = (Text("disc", "圆"), Text("square", "正方形"), Text("triangle", "三角形"))
CLASS_COLORS = (COLORWAY[0], COLORWAY[1], COLORWAY[2])
CLASS_RGB = ((0, 114, 178), (213, 94, 0), (0, 158, 115))
SHOW_SCORE = 0.3  # decoded boxes drawn and counted from this score (CenterNet's vis threshold)
NMS_CANDIDATES = 300  # cells with the highest scores that enter the greedy NMS
NMS_IOU = 0.5
TABLE_ROWS = 12
MUTED = "rgba(128,128,128,0.9)"


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    objects: int = param(5, en="Objects", zh="目标数", ge=1, le=12)
    classes: int = param(
        3,
        en="Classes (disc, square, triangle)",
        zh="类别数（圆、正方形、三角形）",
        ge=1,
        le=3,
    )
    object_size: float = param(
        48.0,
        en="Object size (pixels, mean)",
        zh="目标大小（像素，均值）",
        ge=6.0,
        le=64.0,
        step=1.0,
    )
    stride: Literal["2", "4", "8"] = param(
        "4",
        en="Output stride",
        zh="输出步长",
        help_en="Input pixels per heatmap cell; CenterNet uses 4.",
        help_zh="每个热图单元对应的输入像素数；CenterNet 用 4。",
    )
    min_overlap: float = param(
        0.7,
        en="Minimum overlap of the radius",
        zh="半径对应的最小重叠",
        ge=0.1,
        le=0.95,
        step=0.05,
    )
    radius_rule: Literal["exact", "released"] = param(
        "exact",
        en="Radius rule",
        zh="半径公式",
        choices={
            "exact": Text("exact roots (CornerNet's conditions)", "精确解（CornerNet 的条件）"),
            "released": Text("released code (wrong roots)", "公开代码（根取错了）"),
        },
    )
    noise: float = param(
        0.0,
        en="Heatmap noise (an imperfect network)",
        zh="热图噪声（不完美的网络）",
        help_en="Bumps inside each peak (log-normal factor) and faint background noise.",
        help_zh="每个峰内部的起伏（对数正态因子）和微弱的背景噪声。",
        ge=0.0,
        le=1.0,
        step=0.01,
    )
    offset_head: bool = param(
        True,
        en="Offset head",
        zh="偏移量分支",
        help_en="Off: centres are decoded at the cell corner (no sub-cell offset).",
        help_zh="关闭时中心只能落在单元格角点上（没有亚单元偏移）。",
    )
    k: int = param(20, en="Top-k peaks", zh="取前 k 个峰值", ge=1, le=100)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


# --- the image -------------------------------------------------------------------------------


def scene(p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A generated image (H, W, 3) uint8 with its boxes (N, 4) x1, y1, x2, y2 and labels (N,)."""
    rng = np.random.default_rng(p.seed)
    n = p.objects
    side = np.clip(p.object_size * rng.uniform(0.6, 1.4, n), 4, IMAGE - 8)
    aspect = np.where(rng.random(n) < 0.5, rng.uniform(0.6, 1.6, n), 1.0)
    labels = rng.integers(0, p.classes, n)
    w = np.where(labels == 2, side * np.sqrt(aspect), side)
    h = np.where(labels == 2, side / np.sqrt(aspect), side)
    w, h = np.minimum(w, IMAGE - 4), np.minimum(h, IMAGE - 4)
    x1 = rng.uniform(2, IMAGE - 2 - w)
    y1 = rng.uniform(2, IMAGE - 2 - h)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], 1)

    ys, xs = np.mgrid[0:IMAGE, 0:IMAGE] + 0.5
    image = np.full((IMAGE, IMAGE, 3), 235, dtype=np.uint8)
    for (a, b, c, d), label in zip(boxes, labels, strict=True):
        cx, cy, bw, bh = (a + c) / 2, (b + d) / 2, c - a, d - b
        if label == 0:
            mask = ((xs - cx) / (bw / 2)) ** 2 + ((ys - cy) / (bh / 2)) ** 2 <= 1
        elif label == 1:
            mask = (xs >= a) & (xs <= c) & (ys >= b) & (ys <= d)
        else:  # apex at the top centre, base at the bottom
            half = (ys - b) / bh * bw / 2
            mask = (ys >= b) & (ys <= d) & (np.abs(xs - cx) <= half)
        image[mask] = CLASS_RGB[label]
    return image, boxes, labels


def _dense_heads(boxes: np.ndarray, out: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Size and offset maps as a trained network would give them near each centre: every cell
    predicts the size and sub-cell offset of the object whose centre is nearest (2, H, W)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / stride
    wh = (boxes[:, 2:] - boxes[:, :2]) / stride
    ys, xs = np.mgrid[0:out, 0:out] + 0.5
    distance = (xs[None] - centre[:, 0, None, None]) ** 2 + (
        ys[None] - centre[:, 1, None, None]
    ) ** 2
    nearest = np.argmin(distance, 0)
    size = np.moveaxis(wh[nearest], -1, 0)
    offset = np.moveaxis((centre - np.floor(centre))[nearest], -1, 0)
    return size, offset


def imperfect(heatmap: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """A network's heatmap instead of the target: each peak's Gaussian bumpy (multiplicative
    log-normal noise, so secondary local maxima appear inside it) and faint background noise
    (at most 0.3·noise, below the drawn score for noise ≤ 1)."""
    rng = np.random.default_rng(seed + 1)
    bumpy = heatmap * np.exp(noise * rng.normal(0, 1, heatmap.shape))
    return np.clip(bumpy + 0.3 * noise * rng.random(heatmap.shape), 0, 1)


def compute(p: Params) -> dict:
    """Targets, the (noisy) heatmap, max-pool decoding and greedy NMS for p."""
    import torch

    from core.detection import centernet
    from core.detection.boxes import box_iou, nms
    from core.trace import Trace

    stride = int(p.stride)
    out = IMAGE // stride
    image, boxes, labels = scene(p)
    trace = Trace()
    box_t = torch.as_tensor(boxes, dtype=torch.float32)
    label_t = torch.as_tensor(labels)
    heatmap, *_ = centernet.encode(
        box_t, label_t, p.classes, (out, out), stride, p.min_overlap,
        radius_rule=p.radius_rule, trace=trace,
    )  # fmt: skip
    noisy = torch.as_tensor(imperfect(heatmap.numpy(), p.noise, p.seed), dtype=torch.float32)
    dense_size, dense_offset = _dense_heads(boxes, out, stride)
    size_map = torch.as_tensor(dense_size, dtype=torch.float32)
    offset_map = torch.as_tensor(
        dense_offset if p.offset_head else 0 * dense_offset, dtype=torch.float32
    )
    decoded, scores, decoded_labels = centernet.decode(
        noisy, size_map, offset_map, stride, p.k, trace=trace
    )

    # the alternative: every cell is a candidate box, greedy NMS per class
    flat = noisy.flatten()
    candidates = torch.argsort(flat, descending=True, stable=True)[:NMS_CANDIDATES]
    cls, cell = candidates // (out * out), candidates % (out * out)
    iy, ix = cell // out, cell % out
    w, h = size_map[0, iy, ix], size_map[1, iy, ix]
    cx, cy = ix + offset_map[0, iy, ix], iy + offset_map[1, iy, ix]
    cand_boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1) * stride
    separated = cand_boxes + (cls * 4 * IMAGE)[:, None].float()  # classes never overlap
    kept = nms(separated, flat[candidates], NMS_IOU)[: p.k]

    encoded = trace["encode"][0]
    radius_trace = Trace()
    centernet.gaussian_radius(
        torch.as_tensor((boxes[:, 3] - boxes[:, 1]) / stride),
        torch.as_tensor((boxes[:, 2] - boxes[:, 0]) / stride),
        p.min_overlap,
        trace=radius_trace,
    )
    return {
        "image": image,
        "boxes": boxes,
        "labels": labels,
        "stride": stride,
        "out": out,
        "heatmap": heatmap.numpy(),
        "noisy": noisy.numpy(),
        "radius": encoded["radius"].numpy(),
        "radii": encoded["radii"].numpy(),
        "cells": encoded["cells"].numpy(),
        "cases": {k: v.numpy() for k, v in radius_trace["radius"][0].items()},
        "peaks": trace["decode"][0]["peaks"].numpy(),
        "decoded": decoded.numpy(),
        "scores": scores.numpy(),
        "decoded_labels": decoded_labels.numpy(),
        "decoded_iou": box_iou(decoded, box_t).numpy()
        if len(decoded)
        else np.zeros((0, len(boxes))),
        "nms_boxes": cand_boxes[kept].numpy(),
        "nms_scores": flat[candidates][kept].numpy(),
        "nms_labels": cls[kept].numpy(),
        "nms_cells": torch.stack([ix[kept], iy[kept]], 1).numpy(),
        "nms_iou": box_iou(cand_boxes[kept], box_t).numpy()
        if len(kept)
        else np.zeros((0, len(boxes))),
    }


def outcomes(iou: np.ndarray, scores: np.ndarray, pred_labels, labels, threshold=0.5) -> dict:
    """Greedy matching of detections (score ≥ SHOW_SCORE, in score order) to objects of the
    same class at IoU ≥ threshold: counts of hits, duplicates and false positives."""
    taken: set[int] = set()
    counts = {"hit": 0, "duplicate": 0, "false": 0}
    for j in np.flatnonzero(scores >= SHOW_SCORE):
        same = np.where(labels == pred_labels[j], iou[j], 0)
        best = int(np.argmax(same)) if len(same) else -1
        if best < 0 or same[best] < threshold:
            counts["false"] += 1
        elif best in taken:
            counts["duplicate"] += 1
        else:
            taken.add(best)
            counts["hit"] += 1
    return counts


# --- figures -------------------------------------------------------------------------------


def _rect(box, color: str, width: float = 2, dash: str = "solid", xref="x", yref="y") -> dict:
    return {
        "type": "rect",
        "x0": float(box[0]),
        "y0": float(box[1]),
        "x1": float(box[2]),
        "y1": float(box[3]),
        "line": {"color": color, "width": width, "dash": dash},
        "xref": xref,
        "yref": yref,
    }


def _image_axes(lang: str, extent: float = IMAGE) -> dict:
    return {
        "xaxis": {
            "range": [0, extent],
            "title": {"text": Text("x (pixels)", "x（像素）")(lang)},
            "constrain": "domain",
            "showgrid": False,
        },
        "yaxis": {
            "range": [extent, 0],
            "scaleanchor": "x",
            "title": {"text": Text("y (pixels)", "y（像素）")(lang)},
            "showgrid": False,
        },
    }


def _image_trace(image: np.ndarray) -> dict:
    return {"type": "image", "z": image, "x0": 0.5, "y0": 0.5, "hoverinfo": "skip"}


def _scene_figure(p: Params, c: dict, lang: str) -> go.Figure:
    stride, boxes, labels = c["stride"], c["boxes"], c["labels"]
    lines = np.arange(0, IMAGE + 1, stride, dtype=np.float32)
    gap, ends = np.full_like(lines, np.nan), np.zeros_like(lines)
    vertical_x, vertical_y = (
        np.stack([lines, lines, gap], 1),
        np.stack([ends, ends + IMAGE, gap], 1),
    )
    grid_x = np.concatenate([vertical_x.ravel(), vertical_y.ravel()])
    grid_y = np.concatenate([vertical_y.ravel(), vertical_x.ravel()])
    shapes = [_rect(b, CLASS_COLORS[k]) for b, k in zip(boxes, labels, strict=True)]
    shapes += [_rect(np.r_[cell, cell + 1] * stride, "#111111", 2) for cell in c["cells"]]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    data = [
        _image_trace(c["image"]),
        {
            "type": "scatter",
            "mode": "lines",
            "x": grid_x,
            "y": grid_y,
            "line": {"color": "rgba(128,128,128,0.45)", "width": 0.6},
            "name": Text(f"cells of {stride} × {stride} pixels", f"{stride} × {stride} 像素的单元")(
                lang
            ),
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": centre[:, 0],
            "y": centre[:, 1],
            "marker": {"color": "#111111", "size": 7, "symbol": "x"},
            "name": Text("box centre; black square: its cell", "框中心；黑方格：它所在的单元")(
                lang
            ),
            "customdata": np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1),
            "hovertemplate": "(%{x:.1f}, %{y:.1f})<br>w %{customdata[0]:.1f}, h %{customdata[1]:.1f}<extra></extra>",
        },
    ]
    title = Text(
        f"A generated {IMAGE} × {IMAGE} image, its boxes and the stride-{stride} grid "
        f"({c['out']} × {c['out']} cells)",
        f"生成的 {IMAGE} × {IMAGE} 图像、它的框与步长 {stride} 的网格（{c['out']} × {c['out']} 个单元）",
    )
    layout = {
        "title": {"text": title(lang)},
        "height": 480,
        "shapes": shapes,
        **_image_axes(lang),
        "legend": {"orientation": "h", "y": -0.15},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _heatmap_trace(
    z: np.ndarray, stride: int, lang: str, *, axis: str = "", bar_x: float = 1.0
) -> dict:
    return {
        "type": "heatmap",
        "z": z.astype(np.float32),
        "x0": stride / 2,
        "dx": stride,
        "y0": stride / 2,
        "dy": stride,
        "zmin": 0,
        "zmax": 1,
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": Text("heat", "热度")(lang)}, "x": bar_x, "len": 0.8},
        "xaxis": f"x{axis}",
        "yaxis": f"y{axis}",
        "hovertemplate": "x %{x:.0f}, y %{y:.0f}<br>%{z:.3f}<extra></extra>",
    }


def _radius_figure(p: Params, c: dict, lang: str) -> go.Figure:
    import torch

    from core.detection import centernet
    from core.trace import Trace

    stride = c["stride"]
    data = [_heatmap_trace(c["heatmap"].max(0), stride, lang, bar_x=0.37)]
    shapes = []
    for cell, r, k in zip(c["cells"], c["radii"], c["labels"], strict=True):
        window = np.r_[cell - r, cell + r + 1] * stride
        shapes.append(_rect(window, CLASS_COLORS[k], 1.5, "dot"))
    # radius against box size: square boxes of side s cells
    side = np.linspace(0.5, 32, 200)
    s = torch.as_tensor(side)
    trace = Trace()
    exact = centernet.gaussian_radius(s, s, p.min_overlap, trace=trace).numpy()
    trace_cases = trace["radius"][0]
    released = centernet.released_radius(s, s, p.min_overlap).numpy()
    curves = [
        (
            Text("moved by (r, r)", "平移 (r, r)"),
            trace_cases["moved"].numpy(),
            COLORWAY[5],
            "dot",
            1.5,
        ),
        (Text("shrunk by r", "每边缩小 r"), trace_cases["shrunk"].numpy(), COLORWAY[4], "dot", 1.5),
        (Text("grown by r", "每边扩大 r"), trace_cases["grown"].numpy(), COLORWAY[3], "dot", 1.5),
        (Text("radius = smallest root", "半径 = 最小的根"), exact, COLORWAY[0], "solid", 3),
        (Text("released code", "公开代码"), released, COLORWAY[1], "dash", 2.5),
    ]
    worst_exact = centernet.displaced_iou(s, s, torch.as_tensor(exact)).numpy()
    worst_released = centernet.displaced_iou(s, s, torch.as_tensor(released)).numpy()
    curves += [
        (
            Text("IoU at the exact radius", "精确半径处的 IoU"),
            worst_exact,
            COLORWAY[0],
            "longdash",
            1.5,
        ),
        (
            Text("IoU at the released radius", "公开代码半径处的 IoU"),
            worst_released,
            COLORWAY[1],
            "longdash",
            1.5,
        ),
    ]
    for n, (name, y, color, dash, width) in enumerate(curves):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": side.astype(np.float32),
                "y": y.astype(np.float32),
                "name": name(lang),
                "line": {"color": color, "dash": dash, "width": width},
                "xaxis": "x2",
                "yaxis": "y3" if n >= 5 else "y2",  # the last two: IoU on the right axis
            }
        )
    wh = (c["boxes"][:, 2:] - c["boxes"][:, :2]) / stride
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": np.sqrt(wh[:, 0] * wh[:, 1]),
            "y": c["radius"],
            "marker": {
                "color": [CLASS_COLORS[k] for k in c["labels"]],
                "size": 9,
                "line": {"width": 1},
            },
            "name": Text(
                f"this image's objects ({p.radius_rule} rule, before ⌊·⌋)",
                f"本图中的目标（{'精确' if p.radius_rule == 'exact' else '公开代码'}公式，取整前）",
            )(lang),
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": "√(wh) %{x:.2f} cells<br>r %{y:.2f}<extra></extra>",
        }
    )
    axes = _image_axes(lang)
    axes["xaxis"]["domain"] = [0, 0.33]
    ten = centernet.gaussian_radius(10, 10, p.min_overlap)
    ten_released = centernet.released_radius(10, 10, p.min_overlap)
    layout = {
        "title": {
            "text": Text(
                f"Left: the class heatmaps (max over classes), dotted: each Gaussian's window "
                f"|dx|, |dy| ≤ r<br>Right: radius against box size at overlap {p.min_overlap:.2f} "
                f"(10 × 10: {ten:.2f} exact, {ten_released:.2f} released)",
                f"左：各类热图（取各类最大值），点线：每个高斯的窗口 |dx|, |dy| ≤ r<br>右：重叠 {p.min_overlap:.2f} 时"
                f"半径随框大小的变化（10 × 10：精确 {ten:.2f}，公开代码 {ten_released:.2f}）",
            )(lang)
        },
        "height": 500,
        "shapes": shapes,
        **axes,
        "xaxis2": {
            "domain": [0.52, 0.9],
            "anchor": "y2",
            "title": {"text": Text("box side (cells)", "框边长（单元）")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "range": [0, 12],
            "title": {"text": Text("radius r (cells)", "半径 r（单元）")(lang)},
        },
        "yaxis3": {
            "anchor": "x2",
            "overlaying": "y2",
            "side": "right",
            "range": [0, 1],
            "title": {"text": Text("worst IoU at r", "r 处的最小 IoU")(lang)},
            "showgrid": False,
        },
        "legend": {"orientation": "h", "y": -0.18, "font": {"size": 11}},
        "margin": {"t": 100},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _peaks_figure(p: Params, c: dict, lang: str) -> go.Figure:
    stride, out = c["stride"], c["out"]
    heat = c["noisy"].max(0)
    data = [
        _heatmap_trace(heat, stride, lang, bar_x=1.0),
        {**_heatmap_trace(heat, stride, lang, axis="2"), "showscale": False},
    ]
    scores, labels = c["scores"], c["decoded_labels"]
    peak_cells = c["peaks"] > 0
    idx = np.flatnonzero(peak_cells.any(0).ravel() & (c["peaks"].max(0).ravel() >= SHOW_SCORE))
    iy, ix = idx // out, idx % out
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": (ix + 0.5) * stride,
            "y": (iy + 0.5) * stride,
            "marker": {"color": "white", "size": 9, "symbol": "circle-open", "line": {"width": 2}},
            "name": Text(f"3×3 max-pool peaks ≥ {SHOW_SCORE}", f"3×3 最大池化峰值 ≥ {SHOW_SCORE}")(
                lang
            ),
            "hoverinfo": "skip",
        }
    )
    nms_shown = c["nms_scores"] >= SHOW_SCORE
    cells = c["nms_cells"][nms_shown]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": (cells[:, 0] + 0.5) * stride,
            "y": (cells[:, 1] + 0.5) * stride,
            "marker": {
                "color": "#FF4FA3",
                "size": 9,
                "symbol": "diamond-open",
                "line": {"width": 2},
            },
            "name": Text(
                f"kept by greedy NMS (IoU > {NMS_IOU}) ≥ {SHOW_SCORE}",
                f"贪心 NMS（IoU > {NMS_IOU}）保留的 ≥ {SHOW_SCORE}",
            )(lang),
            "xaxis": "x2",
            "yaxis": "y2",
            "hoverinfo": "skip",
        }
    )
    pool = outcomes(c["decoded_iou"], scores, labels, c["labels"])
    greedy = outcomes(c["nms_iou"], c["nms_scores"], c["nms_labels"], c["labels"])

    def summary(counts: dict) -> str:
        return Text(
            f"{counts['hit']} found, {counts['duplicate']} duplicates, {counts['false']} false",
            f"找到 {counts['hit']} 个，重复 {counts['duplicate']} 个，误检 {counts['false']} 个",
        )(lang)

    layout = {
        "title": {
            "text": Text(
                f"Peaks of the heatmap (noise {p.noise:.2f}), top-{p.k}:<br>max-pool (left) "
                f"against greedy NMS on every cell's box (right)",
                f"热图（噪声 {p.noise:.2f}）的峰值，前 {p.k} 个：<br>最大池化（左）与对每个单元的框做贪心 NMS（右）",
            )(lang)
        },
        "height": 470,
        "xaxis": {
            "domain": [0, 0.46],
            "range": [0, IMAGE],
            "showgrid": False,
            "constrain": "domain",
        },
        "yaxis": {"range": [IMAGE, 0], "scaleanchor": "x", "showgrid": False},
        "xaxis2": {
            "domain": [0.5, 0.96],
            "range": [0, IMAGE],
            "showgrid": False,
            "constrain": "domain",
        },
        "yaxis2": {"anchor": "x2", "range": [IMAGE, 0], "scaleanchor": "x2", "showgrid": False},
        "annotations": [
            caption(f"max-pool: {summary(pool)}", x=0.0),
            caption(f"NMS: {summary(greedy)}", x=0.5),
        ],
        "legend": {"orientation": "h", "y": -0.08},
        "margin": {"t": 100},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _table_figure(c: dict, lang: str) -> go.Figure:
    rows = min(TABLE_ROWS, int(np.count_nonzero(c["scores"] > 0)))
    boxes, iou = c["decoded"][:rows], c["decoded_iou"][:rows]
    out = c["out"]
    best = iou.argmax(1) if iou.size else np.zeros(rows, dtype=int)
    header = [
        Text("rank", "排名"),
        Text("score", "分数"),
        Text("class", "类别"),
        Text("cell (x, y)", "单元 (x, y)"),
        Text("box x1, y1, x2, y2", "框 x1, y1, x2, y2"),
        Text("best IoU (object)", "最大 IoU（目标）"),
    ]
    cells_flat = [
        int(np.flatnonzero(c["peaks"][c["decoded_labels"][j]].ravel() == c["scores"][j])[0])
        if c["scores"][j] > 0
        else 0
        for j in range(rows)
    ]
    values = [
        list(range(1, rows + 1)),
        [f"{v:.3f}" for v in c["scores"][:rows]],
        [CLASS_NAMES[k](lang) for k in c["decoded_labels"][:rows]],
        [f"({i % out}, {i // out})" for i in cells_flat],
        [", ".join(f"{v:.1f}" for v in b) for b in boxes],
        [f"{iou[j, best[j]]:.2f} (#{best[j] + 1})" if iou.size else "—" for j in range(rows)],
    ]
    data = [
        {
            "type": "table",
            "columnwidth": [0.5, 0.7, 0.8, 0.9, 1.8, 1.2],
            "header": {
                "values": [f"<b>{h(lang)}</b>" for h in header],
                "fill": {"color": "rgba(128,128,128,0.18)"},
                "height": 26,
            },
            "cells": {"values": values, "height": 22, "fill": {"color": "rgba(0,0,0,0)"}},
        }
    ]
    layout = {
        "title": {
            "text": Text(
                f"Top {rows} decoded peaks (score = heat, box from the size and offset heads)",
                f"解码得到的前 {rows} 个峰值（分数 = 热度，框来自尺寸与偏移分支）",
            )(lang)
        },
        "height": 110 + 22 * max(rows, 3),
        "margin": {"t": 60, "b": 10, "l": 10, "r": 10},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _decoded_figure(p: Params, c: dict, lang: str) -> go.Figure:
    shapes = [_rect(b, "rgba(128,128,128,0.9)", 1.5, "dot") for b in c["boxes"]]
    shown = np.flatnonzero(c["scores"] >= SHOW_SCORE)
    for j in shown:
        shapes.append(_rect(c["decoded"][j], CLASS_COLORS[c["decoded_labels"][j]], 2.5))
    centres = (c["decoded"][shown, :2] + c["decoded"][shown, 2:]) / 2
    iou = c["decoded_iou"][shown].max(1) if len(shown) else np.zeros(0)
    data = [
        _image_trace(c["image"]),
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": centres[:, 0],
            "y": centres[:, 1],
            "text": [f"{v:.2f}" for v in iou],
            "textposition": "top center",
            "textfont": {"color": "#111111", "size": 12},
            "marker": {"color": "#111111", "size": 6},
            "name": Text(
                f"decoded centre, label: IoU with its object (score ≥ {SHOW_SCORE})",
                f"解码中心，标注：与目标的 IoU（分数 ≥ {SHOW_SCORE}）",
            )(lang),
            "hovertemplate": "(%{x:.1f}, %{y:.1f})<br>IoU %{text}<extra></extra>",
        },
    ]
    mean_iou = float(iou.mean()) if len(iou) else 0.0
    head = (
        Text("with the offset head", "有偏移量分支")
        if p.offset_head
        else Text(
            "without the offset head: centres snap to cell corners",
            "无偏移量分支：中心只能落在单元格角点",
        )
    )
    layout = {
        "title": {
            "text": Text(
                f"Decoded boxes (solid) on the ground truth (dotted), {head.en}; mean IoU {mean_iou:.3f}",
                f"解码的框（实线）与真实框（点线），{head.zh}；平均 IoU {mean_iou:.3f}",
            )(lang)
        },
        "height": 480,
        "shapes": shapes,
        **_image_axes(lang),
        "legend": {"orientation": "h", "y": -0.15},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    c = compute(p)
    figures = [
        _scene_figure(p, c, lang),
        _radius_figure(p, c, lang),
        _peaks_figure(p, c, lang),
        _table_figure(c, lang),
        _decoded_figure(p, c, lang),
    ]
    wh = (c["boxes"][:, 2:] - c["boxes"][:, :2]) / c["stride"]
    header = Text(
        "| object | class | w × h (cells) | moved | shrunk | grown | radius | ⌊r⌋ used |",
        "| 目标 | 类别 | 宽 × 高（单元） | 平移 | 缩小 | 扩大 | 半径 | 取整后 |",
    )
    rows = [header(lang), "|---:|---|---:|---:|---:|---:|---:|---:|"]
    cases = c["cases"]
    for n in range(len(c["boxes"])):
        rows.append(
            f"| {n + 1} | {CLASS_NAMES[c['labels'][n]](lang)} | {wh[n, 0]:.2f} × {wh[n, 1]:.2f} "
            f"| {cases['moved'][n]:.2f} | {cases['shrunk'][n]:.2f} | {cases['grown'][n]:.2f} "
            f"| {c['radius'][n]:.2f} | {c['radii'][n]} |"
        )
    rows += [
        "",
        Text(
            f"The three case roots use the exact rule; the radius column follows the chosen rule "
            f"({p.radius_rule}).",
            f"三种情形的根用精确公式；半径列按所选公式（{'精确' if p.radius_rule == 'exact' else '公开代码'}）。",
        )(lang),
    ]
    return Rendered(figures, "\n".join(rows))


presets = {
    "Crowded, one class": Params(objects=12, classes=1, object_size=36.0, seed=3),
    "Tiny objects: radius 0": Params(object_size=8.0, stride="8", objects=10),
    "Noisy heatmap: max-pool vs NMS": Params(noise=0.4, radius_rule="released"),
    "No offset head": Params(offset_head=False, stride="8"),
}
preset_titles = {
    "Crowded, one class": Text("Crowded, one class", "拥挤，单一类别"),
    "Tiny objects: radius 0": Text("Tiny objects: radius 0", "微小目标：半径为 0"),
    "Noisy heatmap: max-pool vs NMS": Text(
        "Noisy heatmap: max-pool vs NMS", "噪声热图：最大池化与 NMS"
    ),
    "No offset head": Text("No offset head", "没有偏移量分支"),
}

EXPLANATION = Text(
    en="""
**Objects as points.** CenterNet (Zhou, Wang and Krähenbühl, 2019, "Objects as Points") predicts,
for each class, a heatmap at 1/s of the input resolution (stride s = 4 in the paper): an object is
a peak at the cell holding its centre. Two more heads predict, at every cell, the box size (w, h)
and the sub-cell offset of the centre that the stride rounded away. Decoding reads the peaks, adds
the offset and spans the size around it.

**How wide is a training peak?** The target is not a single hot cell but a Gaussian, so that a
near miss is penalised less. Its radius comes from CornerNet (Law and Deng, 2018): the largest r
such that a box displaced by r still overlaps the object with IoU ≥ min_overlap, under three
displacements — both corners moved by (r, r), shrunk by r on every side, grown by r on every
side. Each gives a quadratic in r; the radius is the smallest of the three roots (right panel;
the worst IoU at that radius is exactly the minimum overlap). The released CornerNet/CenterNet code
divides by 2 instead of 2a and flips a sign: for a 10 × 10 box at 0.7 it gives 2.73 instead of 0.82,
whose worst IoU is far below 0.7. The models were trained with it and work well: a wider Gaussian is
a softer target, not a broken one. σ = (2r + 1)/6 and r is floored, so tiny objects get r = 0: one
hot cell.

**Max-pool instead of NMS.** A cell is kept when it equals the maximum of its 3×3 neighbourhood;
the top k over classes and cells are the detections. On a clean heatmap every object gives exactly
one peak. With noise (an imperfect network), spurious local maxima appear two or more cells away
and survive the pool; greedy NMS on every cell's decoded box (right) suppresses those that overlap,
but costs a sort and a loop. Without the offset head, centres snap to the cell grid and small
objects lose IoU, more so at stride 8.

Boxes are compared by IoU, as in the mAP demo; DETR (Carion et al., 2020) removes the peaks too
and matches a set of predictions to the objects (Hungarian matching, L1 + GIoU costs,
Rezatofighi et al., 2019).
""",
    zh="""
**把目标看成点。** CenterNet（Zhou、Wang、Krähenbühl，2019，“Objects as Points”）为每个类别预测一张分辨率为输入
1/s 的热图（论文中步长 s = 4）：目标就是它中心所在单元上的一个峰值。另外两个分支在每个单元预测框的尺寸 (w, h)，
以及被步长取整丢掉的亚单元中心偏移。解码时读出峰值，加上偏移，再按尺寸展开成框。

**训练用的峰有多宽？** 目标不是单个热点，而是一个高斯分布，这样预测稍有偏差时惩罚更小。半径来自 CornerNet
（Law 与 Deng，2018）：最大的 r，使得框被移动 r 后与目标的 IoU 仍 ≥ min_overlap。考虑三种位移——两个角点都平移 (r, r)、
每边缩小 r、每边扩大 r。每种都给出一个关于 r 的二次方程，半径取三个根中最小的（右图；在该半径处最差的 IoU 恰好等于
最小重叠）。公开的 CornerNet/CenterNet 代码除以 2 而不是 2a，又弄反了一个符号：10 × 10 的框在 0.7 时给出 2.73 而不是
0.82，其最差 IoU 远低于 0.7。模型就是用它训练的，效果依然不错：更宽的高斯只是更“软”的目标，并非错误的目标。
σ = (2r + 1)/6，r 向下取整，因此微小目标的 r = 0：只有一个热点。

**用最大池化代替 NMS。** 一个单元等于它 3×3 邻域的最大值时被保留；在所有类别和单元中取前 k 个作为检测结果。
干净的热图上每个目标恰好给出一个峰。加入噪声（不完美的网络）后，在两格以外会出现伪局部极大值并通过池化；
对每个单元解码出的框做贪心 NMS（右）能抑制相互重叠的框，但需要排序和循环。没有偏移量分支时，中心被吸附到网格上，
小目标的 IoU 下降，步长为 8 时更明显。

框之间用 IoU 比较，与 mAP 演示相同；DETR（Carion 等，2020）连峰值也不要了，直接把一组预测与目标做匹配
（匈牙利匹配，L1 + GIoU 代价，Rezatofighi 等，2019）。
""",
)

DEMO = Demo(
    slug="centernet",
    section="vision",
    figures=5,
    title=Text("CenterNet: objects as points", "CenterNet：把目标看成点"),
    summary=Text(
        "Gaussian heatmap targets with CornerNet's radius (and the released code's), 3×3 "
        "max-pool peaks vs NMS, size and offset heads decoding boxes.",
        "用 CornerNet 半径（及公开代码的半径）生成高斯热图目标，3×3 最大池化峰值与 NMS 对比，尺寸与偏移分支解码出框。",
    ),
    sources=(
        Source(
            "Objects as Points",
            "X. Zhou, D. Wang, P. Krähenbühl",
            2019,
            "https://arxiv.org/abs/1904.07850",
        ),
        Source(
            "CornerNet: Detecting Objects as Paired Keypoints",
            "H. Law, J. Deng",
            2018,
            "https://arxiv.org/abs/1808.01244",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
