"""IoU, GIoU, DIoU and CIoU: what each measures between two boxes, and how a box learns from it.

The question: why did box regression move from 1 − IoU to GIoU, DIoU and CIoU? Move two boxes
and read the four values with the enclosing box and the centre distance they use; look at each
loss as the predicted box slides over the plane (IoU's flat plateau where the boxes do not
overlap); and let one box descend each loss from the same start, as in Zheng et al. (2020).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY

if TYPE_CHECKING:
    from core.detection import boxes

PLANE = (0.0, 10.0)  # the box centres live here (arbitrary units)
GRID = 51  # landscape resolution per axis
SNAPSHOTS = 6  # boxes drawn along each regression path
KIND_NAMES = {"iou": "IoU", "giou": "GIoU", "diou": "DIoU", "ciou": "CIoU"}  # boxes.KINDS' order
KIND_COLORS = dict(zip(KIND_NAMES, COLORWAY, strict=False))
TARGET_COLOR, PRED_COLOR, OVERLAP_COLOR = COLORWAY[0], COLORWAY[1], COLORWAY[2]
MUTED = "rgba(128,128,128,0.9)"
# IoU, GIoU, DIoU, CIoU: IoU's line is wider, so that it shows under DIoU's where they coincide
LINE_DASHES = ("solid", "dash", "dashdot", "dot")
LINE_WIDTHS = (3.5, 2, 2, 2)


def _coordinate(default: float, en: str, zh: str) -> float:
    return param(default, en=en, zh=zh, ge=PLANE[0] + 0.5, le=PLANE[1] - 0.5, step=0.1)


def _size(default: float, en: str, zh: str) -> float:
    return param(default, en=en, zh=zh, ge=0.2, le=6.0, step=0.1)


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    target_cx: float = _coordinate(4.5, "Ground truth: centre x", "真实框：中心 x")
    target_cy: float = _coordinate(4.5, "Ground truth: centre y", "真实框：中心 y")
    target_w: float = _size(3.0, "Ground truth: width", "真实框：宽")
    target_h: float = _size(2.0, "Ground truth: height", "真实框：高")
    pred_cx: float = _coordinate(6.3, "Prediction: centre x", "预测框：中心 x")
    pred_cy: float = _coordinate(6.0, "Prediction: centre y", "预测框：中心 y")
    pred_w: float = _size(2.0, "Prediction: width", "预测框：宽")
    pred_h: float = _size(2.6, "Prediction: height", "预测框：高")
    steps: int = param(
        150,
        en="Regression: gradient steps",
        zh="回归：梯度步数",
        help_en="The step size drops ×10 after 80 % and again after 90 % of the steps (Zheng et al.).",
        help_zh="步长在 80% 与 90% 的步数处各缩小为 1/10（Zheng 等人的设置）。",
        ge=10,
        le=400,
    )
    learning_rate: float = param(
        0.1,
        en="Regression: step size η",
        zh="回归：步长 η",
        help_en="Each step moves the box by η·(2 − IoU)·gradient.",
        help_zh="每一步把框移动 η·(2 − IoU)·梯度。",
        ge=0.01,
        le=1.0,
        step=0.01,
    )
    show_same_iou: bool = param(
        False,
        en="Also show a box with the same IoU, level with the ground truth",
        zh="同时显示一个 IoU 相同、与真实框水平对齐的框",
    )


def _corners(cx: float, cy: float, w: float, h: float) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _outline(box) -> tuple[list[float], list[float]]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, x2, x2, x1, x1], [y1, y1, y2, y2, y1]


def _values(pred: list[float], target: list[float]) -> dict[str, float]:
    import torch

    from core.detection import boxes

    g = boxes.pair_geometry(
        torch.tensor(pred, dtype=torch.float64), torch.tensor(target, dtype=torch.float64)
    )
    return {name: float(value) for name, value in g.as_dict().items() if value.ndim == 0} | {
        "enclosing": g.enclosing.tolist()
    }


def same_iou_box(pred: list[float], target: list[float]) -> list[float] | None:
    """A box of the prediction's size, level with the ground truth (same centre y), shifted
    along x to the prediction's IoU: same IoU, and a different enclosing box. None when the
    prediction does not overlap (every far enough shift has IoU 0)."""
    import torch

    from core.detection import boxes

    iou = _values(pred, target)["iou"]
    if iou <= 0:
        return None
    w, h = pred[2] - pred[0], pred[3] - pred[1]
    tcx, tcy = (target[0] + target[2]) / 2, (target[1] + target[3]) / 2
    centres_x = tcx + np.linspace(0, (w + target[2] - target[0]) / 2, 2001)
    candidates = torch.tensor(
        np.stack(
            [centres_x - w / 2, np.full_like(centres_x, tcy - h / 2), centres_x + w / 2,
             np.full_like(centres_x, tcy + h / 2)], -1
        )
    )  # fmt: skip
    ious = boxes.box_iou(candidates, torch.tensor([target], dtype=torch.float64))[:, 0].numpy()
    best = int(np.argmin(np.abs(ious - iou)))
    return candidates[best].tolist()


# --- figure 1: the two boxes and what each metric measures --------------------------------


def _geometry_figure(p: Params, pred, target, alternative, lang: str) -> go.Figure:
    v = _values(pred, target)
    data = []

    def polygon(box, name, color, *, fill=None, dash="solid", width=2.0, hover=""):
        xs, ys = _outline(box)
        trace = {
            "type": "scatter",
            "mode": "lines",
            "x": xs,
            "y": ys,
            "name": name,
            "line": {"color": color, "dash": dash, "width": width},
            "hovertemplate": hover or f"{name}<extra></extra>",
        }
        if fill:
            trace |= {"fill": "toself", "fillcolor": fill}
        return trace

    box_hover = Text(
        "{name}<br>corner (%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
        "{name}<br>角点 (%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
    )
    names = {
        "target": Text("ground truth", "真实框")(lang),
        "pred": Text("prediction", "预测框")(lang),
        "enclosing": Text("enclosing box C", "最小外接框 C")(lang),
        "overlap": Text("intersection", "交集")(lang),
        "alt": Text("same IoU, level", "IoU 相同、水平对齐")(lang),
    }
    data.append(
        polygon(
            v["enclosing"],
            names["enclosing"],
            MUTED,
            dash="dash",
            width=1.5,
            hover=f"{names['enclosing']}: {Text('area', '面积')(lang)} "
            f"{v['enclosing_area']:.2f}<extra></extra>",
        )
    )
    data.append(
        polygon(
            target,
            names["target"],
            TARGET_COLOR,
            fill="rgba(0,114,178,0.15)",
            hover=box_hover(lang).format(name=names["target"]),
        )
    )
    data.append(
        polygon(
            pred,
            names["pred"],
            PRED_COLOR,
            width=2.5,
            hover=box_hover(lang).format(name=names["pred"]),
        )
    )
    if v["intersection"] > 0:
        overlap = [
            max(pred[0], target[0]),
            max(pred[1], target[1]),
            min(pred[2], target[2]),
            min(pred[3], target[3]),
        ]
        data.append(
            polygon(
                overlap,
                names["overlap"],
                OVERLAP_COLOR,
                fill="rgba(0,158,115,0.45)",
                width=1,
                hover=f"{names['overlap']}: {v['intersection']:.2f}<extra></extra>",
            )
        )
    if alternative is not None:
        data.append(
            polygon(
                alternative,
                names["alt"],
                COLORWAY[3],
                dash="dot",
                width=2,
                hover=box_hover(lang).format(name=names["alt"]),
            )
        )
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in (pred, target)]
    enclosing = v["enclosing"]
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": [c[0] for c in centres],
            "y": [c[1] for c in centres],
            "name": Text("centre distance ρ", "中心距离 ρ")(lang),
            "line": {"color": COLORWAY[4], "width": 2},
            "marker": {"size": 7},
            "hovertemplate": f"ρ = {np.sqrt(v['rho2']):.2f}, ρ² = {v['rho2']:.2f}<extra></extra>",
        }
    )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [enclosing[0], enclosing[2]],
            "y": [enclosing[1], enclosing[3]],
            "name": Text("enclosing diagonal c", "外接框对角线 c")(lang),
            "line": {"color": MUTED, "width": 1.2, "dash": "dot"},
            "hovertemplate": f"c² = {v['c2']:.2f}<extra></extra>",
        }
    )

    metrics = ["iou", "giou", "diou", "ciou"]
    groups = [(names["pred"], v, PRED_COLOR)]
    if alternative is not None:
        groups.append((names["alt"], _values(alternative, target), COLORWAY[3]))
    for name, values, color in groups:
        data.append(
            {
                "type": "bar",
                "x": [KIND_NAMES[m] for m in metrics],
                "y": [values[m] for m in metrics],
                "name": name,
                "showlegend": False,
                "marker": {"color": color},
                "text": [
                    f"{values[m]:.3f}" if len(groups) == 1 else f"{values[m]:.2f}" for m in metrics
                ],
                "textposition": "outside",
                "textfont": {"size": 12 if len(groups) == 1 else 10},
                "cliponaxis": False,
                "xaxis": "x2",
                "yaxis": "y2",
                "hovertemplate": f"{name}<br>%{{x}} = %{{y:.4f}}<extra></extra>",
            }
        )
    low, high = _plane_range([pred, target, enclosing] + ([alternative] if alternative else []))
    title = Text(
        f"IoU {v['iou']:.3f} · GIoU {v['giou']:.3f} · DIoU {v['diou']:.3f} · CIoU {v['ciou']:.3f}",
        f"IoU {v['iou']:.3f} · GIoU {v['giou']:.3f} · DIoU {v['diou']:.3f} · CIoU {v['ciou']:.3f}"
        "（越大越好，1 为完全重合）",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 0.5], "range": [low, high], "title": {"text": "x"}},
        "yaxis": {
            "range": [low, high],
            "scaleanchor": "x",
            "scaleratio": 1,
            "title": {"text": "y"},
        },
        "xaxis2": {"domain": [0.62, 1], "anchor": "y2"},
        "yaxis2": {
            "anchor": "x2",
            "range": [-1.15, 1.15],
            "title": {"text": Text("value (1 = same box)", "数值（1 = 完全重合）")(lang)},
        },
        "barmode": "group",
        "height": 460,
        "legend": {"orientation": "h", "y": -0.16},
        "margin": {"t": 60, "b": 40},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _plane_range(box_list) -> tuple[float, float]:
    values = np.array([list(b) for b in box_list], dtype=float)
    return min(PLANE[0], float(values.min()) - 0.3), max(PLANE[1], float(values.max()) + 0.3)


# --- figure 2: each loss as the prediction's centre moves --------------------------------


PANEL_GAP = 0.035
PANEL_WIDTH = (1 - 3 * PANEL_GAP) / 4


def _panel_axes(i: int) -> tuple[str, float]:
    """Axis suffix and left edge of the i-th of four panels in a row."""
    suffix = "" if i == 0 else str(i + 1)
    return suffix, i * (PANEL_WIDTH + PANEL_GAP)


def _outline_shape(box, suffix: str, color: str, dash: str, fill: str = "") -> dict:
    x1, y1, x2, y2 = (float(v) for v in box)
    return {
        "type": "rect",
        "xref": f"x{suffix}",
        "yref": f"y{suffix}",
        "x0": x1,
        "y0": y1,
        "x1": x2,
        "y1": y2,
        "line": {"color": color, "dash": dash, "width": 1.5},
        "fillcolor": fill or "rgba(0,0,0,0)",
        "layer": "above" if not fill else "below",
    }


def _panel_title(text: str, left: float) -> dict:
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": left + PANEL_WIDTH / 2,
        "y": 1.0,
        "yanchor": "bottom",
        "showarrow": False,
    }


def _landscape_figure(p: Params, target, lang: str) -> go.Figure:
    import torch

    from core.detection import boxes

    centres = np.linspace(*PLANE, GRID)
    cx, cy = np.meshgrid(centres, centres)
    half_w, half_h = p.pred_w / 2, p.pred_h / 2
    grid = torch.tensor(np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], -1))
    geometry = boxes.pair_geometry(grid.reshape(-1, 4), torch.tensor(target, dtype=torch.float64))
    losses = {kind: (1 - geometry.metric(kind)).reshape(GRID, GRID) for kind in boxes.KINDS}
    z_max = max(float(z.max()) for z in losses.values())
    # The centres at which the two boxes overlap: outside it, IoU's loss is flat at 1.
    zone = _corners(p.target_cx, p.target_cy, p.pred_w + p.target_w, p.pred_h + p.target_h)
    axis_centres = centres.astype(np.float32)
    data, annotations, shapes = [], [], []
    layout = {}
    for i, kind in enumerate(boxes.KINDS):
        suffix, left = _panel_axes(i)
        ref = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        name = KIND_NAMES[kind]
        data.append(
            {
                "type": "heatmap",
                "x": axis_centres,
                "y": axis_centres,
                "z": losses[kind].numpy().astype(np.float32),
                "coloraxis": "coloraxis",
                "name": f"1 − {name}",
                "hovertemplate": Text(
                    f"centre (%{{x:.2f}}, %{{y:.2f}})<br>1 − {name} = %{{z:.3f}}<extra></extra>",
                    f"中心 (%{{x:.2f}}, %{{y:.2f}})<br>1 − {name} = %{{z:.3f}}<extra></extra>",
                )(lang),
                **ref,
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [p.pred_cx],
                "y": [p.pred_cy],
                "marker": {
                    "color": PRED_COLOR,
                    "size": 9,
                    "line": {"color": "#FFFFFF", "width": 1},
                },
                "showlegend": False,
                "name": Text("prediction's centre", "预测框中心")(lang),
                **ref,
            }
        )
        shapes.append(_outline_shape(target, suffix, "#FFFFFF", "solid"))
        shapes.append(_outline_shape(zone, suffix, "#FFFFFF", "dot"))
        annotations.append(_panel_title(f"<b>1 − {name}</b>", left))
        layout[f"xaxis{suffix}"] = {
            "domain": [left, left + PANEL_WIDTH],
            "range": list(PLANE),
            "title": {"text": Text("centre x", "中心 x")(lang)},
            "anchor": f"y{suffix}",
        }
        layout[f"yaxis{suffix}"] = {
            "range": list(PLANE),
            "anchor": f"x{suffix}",
            "scaleanchor": f"x{suffix}",
            "showticklabels": i == 0,
            "title": {"text": Text("centre y", "中心 y")(lang) if i == 0 else ""},
        }
    layout |= {
        "title": {
            "text": Text(
                "Loss as the prediction's centre moves (size fixed) · white: ground truth; "
                "dotted: centres where the boxes overlap",
                "预测框中心移动时的损失（大小不变）· 白框：真实框；虚线：两框有交集时中心所在的区域",
            )(lang)
        },
        "annotations": annotations,
        "shapes": shapes,
        "coloraxis": {
            "colorscale": "Viridis",
            "cmin": 0,
            "cmax": z_max,
            "colorbar": {"title": {"text": Text("loss", "损失")(lang)}, "thickness": 12},
        },
        "height": 360,
        "margin": {"t": 80, "b": 50},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- figure 3: one box descending each loss -------------------------------------------------


def _joined_outlines(box_list) -> tuple[np.ndarray, np.ndarray]:
    """Outlines of boxes (K, 4) as one float32 line, separated by gaps (NaN breaks a line)."""
    x1, y1, x2, y2 = np.asarray(box_list, dtype=np.float64).reshape(-1, 4).T
    gap = np.full_like(x1, np.nan)
    xs = np.stack([x1, x2, x2, x1, x1, gap], 1).ravel()
    ys = np.stack([y1, y1, y2, y2, y1, gap], 1).ravel()
    return xs.astype(np.float32), ys.astype(np.float32)


def _regression_figure(p: Params, run: boxes.Regression, target, lang: str) -> go.Figure:
    data, annotations, shapes = [], [], []
    layout = {}
    snapshots = np.unique(np.linspace(0, p.steps, SNAPSHOTS).round().astype(int))[:-1]
    everything = np.array([target, *run.boxes.reshape(-1, 4)])
    low, high = float(everything.min()) - 0.4, float(everything.max()) + 0.4  # zoomed in
    for i, kind in enumerate(run.kinds):
        suffix, left = _panel_axes(i)
        ref = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        color, name = KIND_COLORS[kind], KIND_NAMES[kind]
        shapes.append(_outline_shape(target, suffix, MUTED, "solid", "rgba(128,128,128,0.25)"))
        xs, ys = _joined_outlines(run.boxes[snapshots, i])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "line": {"color": color, "width": 1, "dash": "dot"},
                "showlegend": False,
                "name": name,
                "hovertemplate": Text(
                    f"{name}: the box along the way<extra></extra>",
                    f"{name}：途中的框<extra></extra>",
                )(lang),
                **ref,
            }
        )
        xs, ys = _joined_outlines(run.boxes[-1, i])
        centres = (run.boxes[:, i, :2] + run.boxes[:, i, 2:]) / 2
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": np.concatenate([xs, centres[:, 0].astype(np.float32)]),
                "y": np.concatenate([ys, centres[:, 1].astype(np.float32)]),
                "line": {"color": color, "width": 2},
                "showlegend": False,
                "name": name,
                "hovertemplate": Text(
                    f"{name}: the final box and the centre's path<extra></extra>",
                    f"{name}：最终的框与中心轨迹<extra></extra>",
                )(lang),
                **ref,
            }
        )
        annotations.append(_panel_title(f"<b>{name}</b> · IoU {run.iou[-1, i]:.2f}", left))
        layout[f"xaxis{suffix}"] = {
            "domain": [left, left + PANEL_WIDTH],
            "range": [low, high],
            "anchor": f"y{suffix}",
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [0.5, 1],
            "range": [low, high],
            "anchor": f"x{suffix}",
            "scaleanchor": f"x{suffix}",
            "showticklabels": i == 0,
        }
    steps = np.arange(p.steps + 1)
    for i, kind in enumerate(run.kinds):
        name = KIND_NAMES[kind]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": steps,
                "y": run.iou[:, i].astype(np.float32),
                "name": name,
                "line": {
                    "color": KIND_COLORS[kind],
                    "width": LINE_WIDTHS[i],
                    "dash": LINE_DASHES[i],
                },
                "xaxis": "x5",
                "yaxis": "y5",
                "hovertemplate": Text(
                    f"{name} · step %{{x}} · IoU %{{y:.3f}}<extra></extra>",
                    f"{name} · 第 %{{x}} 步 · IoU %{{y:.3f}}<extra></extra>",
                )(lang),
            }
        )
    for step in (int(0.8 * p.steps), int(0.9 * p.steps)):  # where the step size drops
        shapes.append(
            {
                "type": "line",
                "xref": "x5",
                "yref": "y5 domain",
                "x0": step,
                "x1": step,
                "y0": 0,
                "y1": 1,
                "line": {"color": MUTED, "dash": "dot", "width": 1},
            }
        )
    layout |= {
        "title": {
            "text": Text(
                "Gradient descent on each loss from the same start (dotted: boxes along the way, "
                "solid: the last one) and IoU per step",
                "从同一起点沿各损失做梯度下降（虚线：途中的框，实线：最终的框）与每一步的 IoU",
            )(lang)
        },
        "annotations": annotations,
        "shapes": shapes,
        "height": 640,
        "legend": {"orientation": "h", "y": -0.12},
        "margin": {"t": 80, "b": 50},
        "xaxis5": {
            "domain": [0, 1],
            "anchor": "y5",
            "title": {"text": Text("step (dotted: step size ÷10)", "步数（虚线：步长 ÷10）")(lang)},
        },
        "yaxis5": {
            "domain": [0, 0.34],
            "anchor": "x5",
            "range": [-0.03, 1.03],
            "title": {"text": "IoU"},
        },
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _first_step(iou: np.ndarray, level: float) -> str:
    reached = np.flatnonzero(iou >= level)
    return str(int(reached[0])) if len(reached) else "—"


def render(p: Params, lang: str = "en") -> Rendered:
    from core.detection import boxes

    target = _corners(p.target_cx, p.target_cy, p.target_w, p.target_h)
    pred = _corners(p.pred_cx, p.pred_cy, p.pred_w, p.pred_h)
    alternative = same_iou_box(pred, target) if p.show_same_iou else None
    run = boxes.regress_box(pred, target, steps=p.steps, lr=p.learning_rate)
    figures = [
        _geometry_figure(p, pred, target, alternative, lang),
        _landscape_figure(p, target, lang),
        _regression_figure(p, run, target, lang),
    ]
    v = _values(pred, target)
    header = Text(
        "| I (intersection) | U (union) | C (enclosing area) | ρ² | c² | v | α |\n"
        "|---:|---:|---:|---:|---:|---:|---:|",
        "| I（交集） | U（并集） | C（外接框面积） | ρ² | c² | v | α |\n"
        "|---:|---:|---:|---:|---:|---:|---:|",
    )
    row = (
        f"| {v['intersection']:.3f} | {v['union']:.3f} | {v['enclosing_area']:.3f} | "
        f"{v['rho2']:.3f} | {v['c2']:.3f} | {v['v']:.4f} | {v['alpha']:.4f} |"
    )
    regression = Text(
        "\n\n| loss | IoU at the start | IoU at the end | first step with IoU ≥ 0.5 |\n"
        "|---|---:|---:|---:|",
        "\n\n| 损失 | 起点 IoU | 终点 IoU | IoU 首次 ≥ 0.5 的步数 |\n|---|---:|---:|---:|",
    )
    rows = [
        f"| 1 − {KIND_NAMES[kind]} | {run.iou[0, i]:.3f} | {run.iou[-1, i]:.3f} | "
        f"{_first_step(run.iou[:, i], 0.5)} |"
        for i, kind in enumerate(run.kinds)
    ]
    notes = "\n".join([header(lang), row, regression(lang), *rows])
    if p.show_same_iou and alternative is None:
        notes += Text(
            "\n\nNo same-IoU box to show: the boxes do not overlap.",
            "\n\n没有可显示的同 IoU 框：两个框没有交集。",
        )(lang)
    return Rendered(figures, notes)


PRESET_NO_OVERLAP = "no overlap: IoU has no gradient"
PRESET_SAME_IOU = "same IoU, different GIoU"
PRESET_ALIGNED = "aligned centres: DIoU vs CIoU"
presets = {
    PRESET_NO_OVERLAP: Params(
        target_cx=4.0, target_cy=4.0, target_w=2.0, target_h=2.0,
        pred_cx=7.0, pred_cy=6.5, pred_w=1.5, pred_h=1.0, steps=200, learning_rate=0.1,
    ),
    PRESET_SAME_IOU: Params(
        target_cx=5.0, target_cy=5.0, target_w=3.0, target_h=2.0,
        pred_cx=6.2, pred_cy=6.0, pred_w=3.0, pred_h=2.0, show_same_iou=True,
    ),
    PRESET_ALIGNED: Params(
        target_cx=5.0, target_cy=5.0, target_w=4.0, target_h=1.5,
        pred_cx=5.0, pred_cy=5.0, pred_w=1.5, pred_h=4.0, steps=200, learning_rate=0.1,
    ),
}  # fmt: skip
preset_titles = {
    PRESET_NO_OVERLAP: Text(PRESET_NO_OVERLAP, "不重叠：IoU 没有梯度"),
    PRESET_SAME_IOU: Text(PRESET_SAME_IOU, "IoU 相同，GIoU 不同"),
    PRESET_ALIGNED: Text(PRESET_ALIGNED, "中心重合：DIoU 与 CIoU"),
}

EXPLANATION = Text(
    en="""
**IoU** (intersection over union, the Jaccard index) is how detection is *scored*: |A ∩ B| / |A ∪ B|,
1 for the same box, 0 when they do not touch, and the same whatever the boxes' scale. Used as a
loss, 1 − IoU has a flaw you can see in the landscape: outside the dotted zone, where the boxes
do not overlap, it is flat at 1, so its gradient is zero and a far prediction never moves (preset
*no overlap: IoU has no gradient*, the IoU panel of the regression).

**GIoU** (Rezatofighi et al., 2019) subtracts the share of the smallest enclosing box C that the two
boxes leave empty: GIoU = IoU − |C \\ (A ∪ B)| / |C|, in [−1, 1]. It keeps pulling when the boxes are
apart, and it separates placements IoU cannot: preset *same IoU, different GIoU* draws a second box
with the same IoU, level with the ground truth, whose enclosing box wastes less space. To get there
GIoU first *grows* the prediction until it reaches the target, then shrinks it (its boxes in the
regression). And once one box lies inside the other, C is the larger box and GIoU is exactly IoU:
its extra pull is gone (move the prediction inside the ground truth and compare the IoU, GIoU and
DIoU curves).

**DIoU** (Zheng et al., 2020) penalises the centre distance directly: DIoU = IoU − ρ²/c², with ρ the
distance between the centres and c the diagonal of C. The penalty pulls the centre straight to
the target. **CIoU** adds the aspect ratio: v = 4/π²·(atan(w_gt/h_gt) − atan(w/h))², weighted by
α = v / (1 − IoU + v), a weight that is held constant when differentiating (as torchvision and the
authors' code do). With the centres aligned (preset *aligned centres: DIoU vs CIoU*), ρ = 0 and DIoU
is plain IoU, while CIoU still pushes the shape towards the target's.

What to look at: the four bars, the flat plateau of 1 − IoU, and how many steps each loss needs to
reach IoU 0.5 (the table). The simulation follows the DIoU paper: each step moves (centre, size)
by η·(2 − IoU)·gradient, the gradient being the exact derivative of torchvision's formulas.
Where an edge of the box lies on the target's edge, 1 − IoU has a kink: moving the edge either way
costs overlap, so the step there takes the one-sided slope nearest 0, and a box placed exactly on
the target stays (autograd's average of the two slopes is not 0 once eps makes IoU < 1, and would
push it off). A box *near* the target overshoots the kink with a fixed η and bounces around it
until η drops.
""",
    zh="""
**IoU**（交并比，即 Jaccard 指数）是检测的*评价*标准：|A ∩ B| / |A ∪ B|，两框重合为 1，不相交为 0，并且与框的尺度无关。
直接拿 1 − IoU 当损失有一个缺陷，在损失地形图里一眼可见：虚线区域之外两框没有交集，损失恒为 1，梯度为 0，
离得远的预测框永远不会移动（预设“不重叠：IoU 没有梯度”，以及回归图中的 IoU 一栏）。

**GIoU**（Rezatofighi 等，2019）再减去最小外接框 C 中没有被两框覆盖的比例：GIoU = IoU − |C \\ (A ∪ B)| / |C|，取值在
[−1, 1]。两框分离时它仍有梯度，还能区分 IoU 分不出的摆放方式：预设“IoU 相同，GIoU 不同”会画出另一个 IoU 相同、
与真实框水平对齐的框，它的外接框浪费的面积更少。为了靠近目标，GIoU 会先把预测框*放大*到碰到目标，再逐渐缩小
（看回归图中它的框）。而一旦一个框落在另一个框内部，C 就是那个大框，GIoU 恰好等于 IoU，额外的拉力消失了
（把预测框移到真实框内部，比较 IoU、GIoU 与 DIoU 三条曲线）。

**DIoU**（Zheng 等，2020）直接惩罚中心距离：DIoU = IoU − ρ²/c²，ρ 为两框中心的距离，c 为 C 的对角线长度。
这一项把中心径直拉向目标。**CIoU** 再加入长宽比：v = 4/π²·(atan(w_gt/h_gt) − atan(w/h))²，权重
α = v / (1 − IoU + v)，求导时 α 视为常数（torchvision 与作者的代码都这样做）。当两框中心重合时（预设“中心重合：DIoU 与 CIoU”），
ρ = 0，DIoU 就等于 IoU，而 CIoU 仍会把框的形状推向目标的长宽比。

观察要点：四根柱子的数值、1 − IoU 的平台区，以及各损失需要多少步才能让 IoU 达到 0.5（见表格）。
模拟按 DIoU 论文的做法：每一步把（中心，宽高）沿梯度移动 η·(2 − IoU)，梯度是 torchvision 公式的精确导数。
当预测框的某条边恰好落在真实框的边上时，1 − IoU 在那里有一个折点：这条边往哪边移都会损失重叠，
所以这一步取两侧斜率中最接近 0 的那个，恰好放在目标上的框会保持不动（autograd 取两侧斜率的平均，
eps 使 IoU < 1 时它不为 0，会把框推离目标）。而*靠近*目标的框在固定步长 η 下会越过折点，
在它两侧来回跳动，直到 η 减小。
""",
)

DEMO = Demo(
    slug="iou-losses",
    section="vision",
    figures=3,
    title=Text("IoU, GIoU, DIoU, CIoU", "IoU、GIoU、DIoU 与 CIoU"),
    summary=Text(
        "Two boxes, four overlap measures: where 1 − IoU has no gradient, and how each loss moves a box.",
        "两个框、四种重叠度量：1 − IoU 在哪里没有梯度，以及每种损失如何移动预测框。",
    ),
    sources=(
        Source(
            "Generalized Intersection over Union: A Metric and A Loss for Bounding Box Regression",
            "H. Rezatofighi, N. Tsoi, J. Gwak, A. Sadeghian, I. Reid, S. Savarese",
            2019,
            "https://arxiv.org/abs/1902.09630",
        ),
        Source(
            "Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression",
            "Z. Zheng, P. Wang, W. Liu, J. Li, R. Ye, D. Ren",
            2020,
            "https://arxiv.org/abs/1911.08287",
        ),
        Source(
            "UnitBox: An Advanced Object Detection Network (the IoU loss)",
            "J. Yu, Y. Jiang, Z. Wang, Z. Cao, T. Huang",
            2016,
            "https://arxiv.org/abs/1608.01471",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
