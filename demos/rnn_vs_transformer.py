"""RNN vs Transformer: why did attention replace recurrence?

A recurrent network reads a sequence one step at a time and passes everything it knows through
one hidden state: N sequential steps, and a gradient that is a product of N step Jacobians, so it
fades (or explodes) with distance. LSTM and GRU gates patch the fading; self-attention removes the
chain altogether: every token is one step from every other, and all positions run in parallel.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

Signal = Literal["impulse", "step", "sine", "noise"]
SIGNALS: dict[str, Text] = {
    "impulse": Text("Impulse at t₀", "t₀ 处的脉冲"),
    "step": Text("Step at t₀", "t₀ 处的阶跃"),
    "sine": Text("Sine", "正弦"),
    "noise": Text("Seeded noise", "随机噪声（固定种子）"),
}
KIND_NAMES = {
    "rnn": Text("RNN (tanh)", "RNN（tanh）"),
    "lstm": Text("LSTM", "LSTM"),
    "gru": Text("GRU", "GRU"),
    "attention": Text("Self-attention", "自注意力"),
}
COLORS = {"rnn": COLORWAY[1], "lstm": COLORWAY[0], "gru": COLORWAY[2], "attention": COLORWAY[3]}
LSTM_PANELS = ("i", "f", "g", "o", "c", "h")
GRU_PANELS = ("r", "z", "n", "h")
GATES = {"i", "f", "o", "r", "z"}  # σ-valued, in [0, 1]; the others are tanh-valued or c
GRAPH_NODES = 10  # the dependency graphs draw at most this many tokens
COST_N = np.unique(np.round(2 ** np.arange(2, 14.01, 0.25)).astype(int))  # n = 4 … 16 384
FLOOR = 1e-300  # a gradient of exactly 0 is drawn here on the log axis


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    signal: Signal = param("impulse", en="Input signal", zh="输入信号", choices=SIGNALS)
    t0: int = param(
        4,
        en="t₀ (impulse / step position)",
        zh="t₀（脉冲 / 阶跃位置）",
        help_en="Clipped to the sequence's last step.",
        help_zh="超过序列末尾时取最后一步。",
        ge=0,
        le=255,
    )
    length: int = param(48, en="Sequence length T", zh="序列长度 T", ge=8, le=256)
    hidden: int = param(16, en="Hidden size H", zh="隐藏层大小 H", ge=4, le=64)
    weight_scale: float = param(
        0.8,
        en="Recurrent weight scale (spectral radius of W_hh)",
        zh="循环权重尺度（W_hh 的谱半径）",
        help_en="W_hh is a random orthogonal matrix times this scale: above 1 the RNN's gradients explode.",
        help_zh="W_hh 为随机正交矩阵乘以该尺度：大于 1 时 RNN 的梯度会爆炸。",
        ge=0.1,
        le=3.0,
        step=0.05,
    )
    forget_bias: float = param(
        1.0,
        en="LSTM forget-gate bias",
        zh="LSTM 遗忘门偏置",
        help_en="Gers et al. 2000; Jozefowicz et al. 2015 recommend 1.",
        help_zh="Gers 等 2000；Jozefowicz 等 2015 建议取 1。",
        ge=-3.0,
        le=5.0,
        step=0.25,
    )
    step: int = param(
        4,
        en="Step shown in the cell diagrams",
        zh="细胞结构图显示的时间步",
        help_en="Clipped to the sequence's last step.",
        help_zh="超过序列末尾时取最后一步。",
        ge=0,
        le=255,
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


def _torch():
    import torch

    torch.set_num_threads(1)  # small matrices: threads cost more than they save on 2 cores
    return torch


def _signal(kind: str, length: int, t0: int, seed: int) -> np.ndarray:
    t = np.arange(length)
    if kind == "impulse":
        return (t == t0).astype(np.float64)
    if kind == "step":
        return (t >= t0).astype(np.float64)
    if kind == "sine":
        return np.sin(2 * np.pi * t / 16)
    return np.random.default_rng(seed).standard_normal(length)


def _weights(kind: str, hidden: int, scale: float, forget_bias: float, seed: int) -> tuple:
    """Input weights N(0, 1); each gate's W_hh block a random orthogonal matrix × scale (its
    spectral radius is exactly `scale`); biases 0 except the LSTM's forget gate."""
    torch = _torch()
    gates = {"rnn": 1, "lstm": 4, "gru": 3, "attention": 3}[kind]
    generator = torch.Generator().manual_seed(seed)
    weight_ih = torch.randn(gates * hidden, 1, generator=generator, dtype=torch.float64)
    if kind == "attention":
        return tuple(weight_ih.chunk(3))
    blocks = []
    for _ in range(gates):
        q, r = torch.linalg.qr(
            torch.randn(hidden, hidden, generator=generator, dtype=torch.float64)
        )
        blocks.append(q * torch.sign(torch.diagonal(r)))
    weight_hh = torch.cat(blocks) * scale
    bias_ih = torch.zeros(gates * hidden, dtype=torch.float64)
    if kind == "lstm":
        bias_ih[hidden : 2 * hidden] = forget_bias
    return weight_ih, weight_hh, bias_ih, torch.zeros_like(bias_ih)


@lru_cache(maxsize=32)
def _run(
    signal: str, t0: int, length: int, hidden: int, scale: float, forget_bias: float, seed: int
) -> dict:
    """Gate traces, gradient norms and the error against torch.nn, for one setting."""
    torch = _torch()
    from core.sequence import rnn
    from core.trace import Trace

    u = torch.tensor(_signal(signal, length, t0, seed))[:, None]  # (T, I = 1)
    weights = {kind: _weights(kind, hidden, scale, forget_bias, seed) for kind in COLORS}
    trace = Trace()
    with torch.no_grad():
        out_lstm, _ = rnn.lstm(u[:, None, :], *weights["lstm"], trace=trace)
        out_gru, _ = rnn.gru(u[:, None, :], *weights["gru"], trace=trace)
        errors = {}
        for kind, module_type, out in (
            ("lstm", torch.nn.LSTM, out_lstm),
            ("gru", torch.nn.GRU, out_gru),
        ):
            module = module_type(1, hidden).double()
            for name, value in zip(
                ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                weights[kind],
                strict=True,
            ):
                getattr(module, name).copy_(value)
            errors[kind] = float((module(u[:, None, :])[0] - out).abs().max())
    panels = {
        "lstm": {k: torch.cat(trace.column("lstm", k)).numpy() for k in LSTM_PANELS},
        "gru": {k: torch.cat(trace.column("gru", k)).numpy() for k in GRU_PANELS},
    }
    norms = {
        kind: rnn.input_gradient_norms(kind, u, *weights[kind]).numpy()
        for kind in ("rnn", "lstm", "gru")
    }
    norms["attention"] = rnn.attention_gradient_norms(u, *weights["attention"]).numpy()
    return {"u": u[:, 0].numpy(), "panels": panels, "norms": norms, "errors": errors}


def _grid(rows: int, cols: int, gap_x: float = 0.05, gap_y: float = 0.14) -> list[tuple]:
    """(x domain, y domain) of each cell of a rows × cols grid, row by row from the top."""
    width, height = (1 - gap_x * (cols - 1)) / cols, (1 - gap_y * (rows - 1)) / rows
    cells = []
    for row in range(rows):
        top = 1 - row * (height + gap_y)
        for col in range(cols):
            left = col * (width + gap_x)
            cells.append(
                (
                    [round(left, 4), round(min(left + width, 1), 4)],
                    [round(max(top - height, 0), 4), round(top, 4)],
                )
            )
    return cells


def _heatmaps(run: dict, kind: str, names: tuple, p: Params, step: int, lang: str) -> go.Figure:
    cols = 3 if kind == "lstm" else 2
    rows = -(-len(names) // cols)
    cells = _grid(rows, cols, gap_y=0.2)
    data, layout, annotations, shapes = [], {}, [], []
    for index, (name, (dx, dy)) in enumerate(zip(names, cells, strict=False)):
        suffix = "" if index == 0 else str(index + 1)
        gate = name in GATES
        values = run["panels"][kind][name].T  # (H, T)
        data.append(
            {
                "type": "heatmap",
                "z": values.astype(np.float32),
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "colorscale": "Viridis" if gate else "RdBu",
                "reversescale": not gate,
                "zmin": 0.0 if gate else -1.0,
                "zmax": 1.0,
                "showscale": index in (0, 2),  # one σ bar (i or r), one tanh bar (g or n)
                "colorbar": {
                    "len": 0.45,
                    "y": 0.78 if gate else 0.25,
                    "thickness": 12,
                    "title": {"text": "σ" if gate else "tanh / c"},
                },
                "hovertemplate": f"{name}: t=%{{x}}, unit %{{y}}<br>%{{z:.3f}}<extra></extra>",
            }
        )
        layout[f"xaxis{suffix}"] = {
            "domain": dx,
            "anchor": f"y{suffix}",
            "title": {"text": "t"},
            "showline": False,
        }
        layout[f"yaxis{suffix}"] = {
            "domain": dy,
            "anchor": f"x{suffix}",
            "title": {"text": Text("unit", "单元")(lang) if index % cols == 0 else ""},
            "showline": False,
        }
        label = f"<b>{name}</b>" + (" = f·c + i·g" if name == "c" else "")
        annotations.append(caption(label, x=dx[0], y=dy[1]))
        shapes.append(
            {
                "type": "line",
                "xref": f"x{suffix}",
                "yref": f"y{suffix} domain",
                "x0": step,
                "x1": step,
                "y0": 0,
                "y1": 1,
                "line": {"color": "rgba(128,128,128,0.9)", "width": 1, "dash": "dot"},
            }
        )
    title = {
        "lstm": Text(
            f"LSTM gates over time (T = {p.length}, H = {p.hidden}, forget bias "
            f"{p.forget_bias:+g})",
            f"LSTM 各门随时间的取值（T = {p.length}，H = {p.hidden}，遗忘门偏置 {p.forget_bias:+g}）",
        ),
        "gru": Text(
            f"GRU gates over time (T = {p.length}, H = {p.hidden})",
            f"GRU 各门随时间的取值（T = {p.length}，H = {p.hidden}）",
        ),
    }[kind]
    layout.update(
        title={"text": title(lang)},
        annotations=annotations,
        shapes=shapes,
        height=460,
        margin={"t": 80, "r": 90},
    )
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# The cell diagrams: boxes (x, y, label, key), operators (x, y, symbol), wires (points, key).
LSTM_CELL = {
    "boxes": [(2, 2, "σ", "f"), (3.6, 2, "σ", "i"), (5.0, 2, "tanh", "g"), (6.6, 2, "σ", "o")],
    "ops": [(2, 5, "×"), (5.0, 5, "+"), (5.0, 3.5, "×"), (8.2, 2, "×"), (8.2, 3.6, "tanh")],
    "wires": [
        ([(0, 5), (2, 5)], "c_prev"),
        ([(2, 5), (5.0, 5), (10, 5)], "c"),
        ([(2, 2.4), (2, 5)], "f"),
        ([(3.6, 2.4), (3.6, 3.5), (5.0, 3.5)], "i"),
        ([(5.0, 2.4), (5.0, 3.5), (5.0, 5)], "g"),
        ([(6.6, 2.4), (6.6, 2), (8.2, 2)], "o"),
        ([(8.2, 5), (8.2, 3.6), (8.2, 2), (8.2, 0.5), (10, 0.5)], "h"),
        ([(0, 0.5), (6.6, 0.5), (6.6, 1.6)], "h_prev"),
        ([(2, 0.5), (2, 1.6)], None),
        ([(3.6, 0.5), (3.6, 1.6)], None),
        ([(5.0, 0.5), (5.0, 1.6)], None),
        ([(1.0, -0.5), (1.0, 0.5)], "x"),
    ],
    "labels": {
        "c_prev": (0.2, 5.35, "c<sub>t−1</sub>"),
        "c": (9.2, 5.35, "c<sub>t</sub>"),
        "f": (1.9, 3.5, "f"),
        "i": (3.5, 2.9, "i"),
        "g": (5.1, 2.9, "g"),
        "o": (7.3, 2.35, "o"),
        "h": (9.2, 0.85, "h<sub>t</sub>"),
        "h_prev": (0.2, 0.85, "h<sub>t−1</sub>"),
        "x": (1.35, -0.4, "x<sub>t</sub>"),
    },
    "right": ("f", "i"),  # labels that sit left of their wire
}
GRU_CELL = {
    "boxes": [(2, 2, "σ", "r"), (4.0, 2, "σ", "z"), (6.2, 2, "tanh", "n")],
    "ops": [(2, 3.4, "×"), (4.0, 5, "×"), (6.2, 5, "+"), (5.1, 3.9, "1−")],
    "wires": [
        ([(0, 5), (4.0, 5)], "h_prev"),
        ([(4.0, 5), (6.2, 5), (10, 5)], "h"),
        ([(2, 2.4), (2, 3.4), (6.2, 3.4), (6.2, 2.4)], "r"),
        ([(4.0, 2.4), (4.0, 5)], "z"),
        ([(4.0, 3.9), (5.1, 3.9), (6.2, 3.9)], None),
        ([(6.2, 2.4), (6.2, 5)], "n"),
        ([(0, 0.5), (6.2, 0.5), (6.2, 1.6)], None),
        ([(1.0, 5), (1.0, 0.5)], None),
        ([(2, 0.5), (2, 1.6)], None),
        ([(4.0, 0.5), (4.0, 1.6)], None),
        ([(1.5, -0.5), (1.5, 0.5)], "x"),
    ],
    "labels": {
        "h_prev": (0.2, 5.35, "h<sub>t−1</sub>"),
        "h": (9.2, 5.35, "h<sub>t</sub>"),
        "r": (2.1, 2.75, "r"),
        "z": (4.1, 3.0, "z"),
        "n": (6.3, 2.9, "n"),
        "x": (1.85, -0.4, "x<sub>t</sub>"),
    },
}


def _cell_panel(cell: dict, values: dict, offset: float, axes: str) -> tuple[list, list, list]:
    """Traces, shapes and annotations of one cell diagram, shifted by `offset` along x."""
    xref, yref = axes
    data, shapes, annotations = [], [], []
    wires = {True: ([], []), False: ([], [])}  # highlighted (the memory) or not: one trace each
    for points, key in cell["wires"]:
        highlighted = key in ("c", "c_prev") or ("c" not in values and key in ("h", "h_prev"))
        xs, ys = wires[highlighted]
        for x, y in points:
            xs.append(x + offset)
            ys.append(y)
        xs.append(None)
        ys.append(None)
    for highlighted, (xs, ys) in wires.items():
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "xaxis": xref,
                "yaxis": yref,
                "line": {
                    "color": COLORWAY[4] if highlighted else "rgba(128,128,128,0.8)",
                    "width": 5 if highlighted else 2,
                },
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    for x, y, label, _gate in cell["boxes"]:
        shapes.append(
            {
                "type": "rect",
                "xref": xref,
                "yref": yref,
                "x0": x - 0.55 + offset,
                "x1": x + 0.55 + offset,
                "y0": y - 0.4,
                "y1": y + 0.4,
                "fillcolor": COLORWAY[0] if label == "σ" else COLORWAY[2],
                "line": {"width": 0},
            }
        )
        annotations.append(_text(x + offset, y, f"<b>{label}</b>", xref, yref, "white"))
    for x, y, symbol in cell["ops"]:
        shapes.append(
            {
                "type": "circle",
                "xref": xref,
                "yref": yref,
                "x0": x - 0.32 + offset,
                "x1": x + 0.32 + offset,
                "y0": y - 0.32,
                "y1": y + 0.32,
                "fillcolor": "rgba(230,159,0,0.9)",
                "line": {"width": 0},
            }
        )
        annotations.append(_text(x + offset, y, symbol, xref, yref, "black", 11))
    for key, (x, y, label) in cell["labels"].items():
        value = values.get(key)
        text = label if value is None else f"{label} = {value:+.2f}"
        anchor = "right" if key in cell.get("right", ()) else "left"
        annotations.append(_text(x + offset, y, text, xref, yref, None, 12, anchor))
    return data, shapes, annotations


def _text(x, y, text, xref, yref, color=None, size=13, anchor="center") -> dict:
    font = {"size": size} if color is None else {"size": size, "color": color}
    return {
        "x": x,
        "y": y,
        "xref": xref,
        "yref": yref,
        "text": text,
        "showarrow": False,
        "xanchor": anchor,
        "font": font,
    }


def _cells(run: dict, step: int, lang: str) -> go.Figure:
    """LSTM and GRU cells at one step; each wire labelled with its mean over the H units."""

    def mean(kind: str, name: str, t: int) -> float:
        return float(run["panels"][kind][name][t].mean()) if t >= 0 else 0.0

    lstm_values = {k: mean("lstm", k, step) for k in ("i", "f", "g", "o", "c", "h")}
    lstm_values |= {"c_prev": mean("lstm", "c", step - 1), "h_prev": mean("lstm", "h", step - 1)}
    gru_values = {k: mean("gru", k, step) for k in ("r", "z", "n", "h")}
    gru_values |= {"h_prev": mean("gru", "h", step - 1)}
    for values in (lstm_values, gru_values):
        values["x"] = float(run["u"][step])
    data, shapes, annotations = [], [], []
    for cell, values, offset in ((LSTM_CELL, lstm_values, 0.0), (GRU_CELL, gru_values, 12.0)):
        d, s, a = _cell_panel(cell, values, offset, ("x", "y"))
        data += d
        shapes += s
        annotations += a
    annotations.append(_text(5, 6.3, "<b>LSTM</b>", "x", "y", None, 14))
    annotations.append(_text(17, 6.3, "<b>GRU</b>", "x", "y", None, 14))
    title = Text(
        f"The cells at step t = {step} (each wire: the mean over the H units); "
        "the thick line is the memory: LSTM's c (f·c + i·g), GRU's h",
        f"第 t = {step} 步的细胞（每条线上：H 个单元的平均值）；粗线为记忆：LSTM 的 c（f·c + i·g），GRU 的 h",
    )
    axis = {"visible": False, "showgrid": False, "zeroline": False}
    layout = {
        "title": {"text": title(lang), "font": {"size": 13}},
        "xaxis": {**axis, "range": [-0.5, 23.5]},
        "yaxis": {**axis, "range": [-1.0, 6.8], "scaleanchor": "x", "scaleratio": 1},
        "shapes": shapes,
        "annotations": annotations,
        "height": 360,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "showlegend": False,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _gradients(run: dict, p: Params, lang: str) -> go.Figure:
    data = []
    k = np.arange(p.length)
    for kind, norms in run["norms"].items():
        shown = np.where(np.isfinite(norms), np.maximum(norms, FLOOR), np.nan)
        name = KIND_NAMES[kind]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": k,
                "y": shown,
                "name": name(lang),
                "line": {"color": COLORS[kind], "width": 2.2},
                "hovertemplate": "k=%{x}<br>%{y:.2e}",
            }
        )
    title = Text(
        "How much the last state feels the input k steps back: ‖∂h<sub>T−1</sub>/∂x<sub>T−1−k</sub>‖",
        "最后的状态对 k 步之前输入的敏感度：‖∂h<sub>T−1</sub>/∂x<sub>T−1−k</sub>‖",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"title": {"text": Text("distance k (steps back)", "距离 k（往回的步数）")(lang)}},
        "yaxis": {
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("gradient norm (log)", "梯度范数（对数）")(lang)},
        },
        "height": 400,
        "legend": {"orientation": "h", "y": -0.2},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _graphs(p: Params, lang: str) -> go.Figure:
    """RNN chain vs causal attention: the path from token 1 to the last output highlighted."""
    m = min(p.length, GRAPH_NODES)
    xs = np.arange(m, dtype=float)
    labels = [str(t + 1) for t in range(m)]
    if p.length > m:
        labels[-2], labels[-1] = "…", str(p.length)
    grey, hot = "rgba(128,128,128,0.45)", COLORWAY[1]
    data = []

    def edges(pairs, color, width, y_from, y_to):
        x_line, y_line = [], []
        for a, b in pairs:
            x_line += [xs[a], xs[b], None]
            y_line += [y_from, y_to, None]
        return {
            "type": "scatter",
            "mode": "lines",
            "x": x_line,
            "y": y_line,
            "line": {"color": color, "width": width},
            "hoverinfo": "skip",
            "showlegend": False,
        }

    # RNN: x_t -> h_t, h_{t-1} -> h_t (drawn at y 3 and 4)
    data.append(edges([(t, t) for t in range(m)], grey, 1.5, 3, 4))
    chain_x, chain_y = [], []
    for t in range(m - 1):
        chain_x += [xs[t], xs[t + 1], None]
        chain_y += [4, 4, None]
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": chain_x,
            "y": chain_y,
            "line": {"color": hot, "width": 4},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    )
    data.append(edges([(0, 0)], hot, 4, 3, 4))
    # attention: every x_j -> y_t for j ≤ t (y 0 and 1)
    data.append(edges([(j, t) for t in range(m) for j in range(t + 1)], grey, 1, 0, 1))
    data.append(edges([(0, m - 1)], hot, 4, 0, 1))
    for y, name in ((3, "x"), (4, "h"), (0, "x"), (1, "y")):
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": xs,
                "y": [y] * m,
                "text": labels,
                "textposition": "middle center",
                "textfont": {"size": 10, "color": "white"},
                "marker": {"size": 22, "color": COLORWAY[0] if name in "hy" else COLORWAY[6]},
                "hovertemplate": f"{name}<sub>%{{text}}</sub><extra></extra>",
                "showlegend": False,
            }
        )
    notes = [
        (
            4.75,
            Text(
                f"RNN: token 1 reaches the last state through {p.length} steps, run one after another",
                f"RNN：第 1 个词经过 {p.length} 步（只能依次计算）才到达最后的状态",
            ),
        ),
        (
            1.75,
            Text(
                "Self-attention: every token one step from every later one; all positions in parallel",
                "自注意力：每个词到之后任一位置都只隔一步；所有位置并行计算",
            ),
        ),
    ]
    annotations = [
        {
            "x": -0.5,
            "y": y,
            "xref": "x",
            "yref": "y",
            "text": text(lang),
            "showarrow": False,
            "xanchor": "left",
        }
        for y, text in notes
    ]
    axis = {"visible": False, "showgrid": False, "zeroline": False}
    title = Text(
        "Dependency graphs: path from token 1 to the last output",
        "依赖图：从第 1 个词到最后输出的路径",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {**axis, "range": [-0.7, m - 0.3]},
        "yaxis": {**axis, "range": [-0.5, 5.2]},
        "annotations": annotations,
        "height": 420,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _costs(p: Params, lang: str) -> go.Figure:
    d = p.hidden
    n = COST_N.astype(float)
    series = [
        ("attention", n * n * d, Text("self-attention n²·d", "自注意力 n²·d")),
        ("rnn", n * d * d, Text("recurrent n·d²", "循环层 n·d²")),
    ]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": n,
            "y": y,
            "name": name(lang),
            "line": {"color": COLORS[kind], "width": 2.2},
            "hovertemplate": "n=%{x}<br>%{y:.3g}",
        }
        for kind, y, name in series
    ]
    marker = Text(f"n = d = {d} (crossover)", f"n = d = {d}（交叉点）")
    current = Text(f"current n = {p.length}", f"当前 n = {p.length}")
    shapes, annotations = [], []
    for x, text, dash in ((d, marker, "dot"), (p.length, current, "dash")):
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "y domain",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"dash": dash, "width": 1.2, "color": "rgba(128,128,128,0.9)"},
            }
        )
        annotations.append(
            {
                "x": np.log10(x),
                "y": 0.98 if dash == "dot" else 0.88,
                "xref": "x",
                "yref": "y domain",
                "text": text(lang),
                "showarrow": False,
                "xanchor": "left",
            }
        )
    title = Text(
        f"Operations per layer against sequence length n (width d = {d}; Vaswani et al. 2017, Table 1)",
        f"每层运算量随序列长度 n 的变化（宽度 d = {d}；Vaswani 等 2017，表 1）",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "type": "log",
            "title": {"text": Text("sequence length n", "序列长度 n")(lang)},
        },
        "yaxis": {
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("multiply-adds", "乘加次数")(lang)},
        },
        "shapes": shapes,
        "annotations": annotations,
        "height": 380,
        "legend": {"orientation": "h", "y": -0.22},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _notes(run: dict, p: Params, lang: str) -> str:
    from core.sequence.rnn import layer_costs

    costs = layer_costs(p.length, p.hidden)
    attention, recurrent = costs["self_attention"], costs["recurrent"]
    far = {kind: run["norms"][kind][-1] for kind in run["norms"]}
    rows = Text(
        "| layer | operations | sequential steps | path length | ‖∂h/∂x‖ at k = T−1 |\n"
        "|---|---:|---:|---:|---:|\n"
        f"| self-attention | n²·d = {attention['operations']:,.0f} | 1 | 1 | {far['attention']:.2e} |\n"
        f"| recurrent | n·d² = {recurrent['operations']:,.0f} | {p.length} | {p.length} | "
        f"RNN {far['rnn']:.2e}, LSTM {far['lstm']:.2e}, GRU {far['gru']:.2e} |\n\n",
        "| 层 | 运算量 | 顺序步数 | 路径长度 | k = T−1 处的 ‖∂h/∂x‖ |\n"
        "|---|---:|---:|---:|---:|\n"
        f"| 自注意力 | n²·d = {attention['operations']:,.0f} | 1 | 1 | {far['attention']:.2e} |\n"
        f"| 循环层 | n·d² = {recurrent['operations']:,.0f} | {p.length} | {p.length} | "
        f"RNN {far['rnn']:.2e}，LSTM {far['lstm']:.2e}，GRU {far['gru']:.2e} |\n\n",
    )
    check = Text(
        f"Own cells against `torch.nn` with the same weights (float64): "
        f"max |own − torch.nn.LSTM| = {run['errors']['lstm']:.1e}, "
        f"max |own − torch.nn.GRU| = {run['errors']['gru']:.1e}.",
        f"自己实现的细胞与相同权重的 `torch.nn` 对比（float64）："
        f"max |自己 − torch.nn.LSTM| = {run['errors']['lstm']:.1e}，"
        f"max |自己 − torch.nn.GRU| = {run['errors']['gru']:.1e}。",
    )
    return rows(lang) + check(lang)


def render(p: Params, lang: str = "en") -> Rendered:
    t0 = min(p.t0, p.length - 1)
    run = _run(p.signal, t0, p.length, p.hidden, p.weight_scale, p.forget_bias, p.seed)
    step = min(p.step, p.length - 1)
    figures = [
        _heatmaps(run, "lstm", LSTM_PANELS, p, step, lang),
        _heatmaps(run, "gru", GRU_PANELS, p, step, lang),
        _cells(run, step, lang),
        _gradients(run, p, lang),
        _graphs(p, lang),
        _costs(p, lang),
    ]
    return Rendered(figures, _notes(run, p, lang))


presets = {
    "an impulse fades: RNN vs LSTM": Params(signal="impulse", t0=4, forget_bias=0.0, step=6),
    "forget bias 1 keeps gradients alive": Params(
        signal="noise", length=96, forget_bias=1.0, weight_scale=0.8
    ),
    "exploding at weight scale 1.5": Params(
        signal="impulse", t0=44, length=48, weight_scale=1.5, step=45
    ),
    "attention: every token one step away": Params(signal="sine", length=128, hidden=32),
}
preset_titles = {
    "an impulse fades: RNN vs LSTM": Text(
        "An impulse fades: RNN vs LSTM", "脉冲逐渐消退：RNN 与 LSTM"
    ),
    "forget bias 1 keeps gradients alive": Text(
        "Forget bias 1 keeps gradients alive", "遗忘门偏置取 1 让梯度存活"
    ),
    "exploding at weight scale 1.5": Text(
        "Exploding at weight scale 1.5", "权重尺度 1.5 时梯度爆炸"
    ),
    "attention: every token one step away": Text(
        "Attention: every token one step away", "注意力：每个词都只隔一步"
    ),
}

EXPLANATION = Text(
    en="""
**Two problems of recurrence.** An RNN reads token t only after token t−1: a sequence of n tokens
takes n steps that cannot run in parallel. And everything token 1 contributes to the last output
passes through n hidden states, so its gradient is a product of n step Jacobians
∂hₜ/∂hₜ₋₁ = diag(tanh′)·W_hh. If their size stays below 1 the product
shrinks geometrically (vanishing gradients, Bengio, Simard & Frasconi 1994); above 1 it can grow
geometrically (exploding, Pascanu, Mikolov & Bengio 2013). The log-scale gradient figure shows it as
straight lines: try the weight-scale slider, the spectral radius of W_hh.

**LSTM and GRU are patches.** The LSTM (Hochreiter & Schmidhuber 1997) adds a memory cell c that
is updated additively, cₜ = f ⊙ cₜ₋₁ + i ⊙ g: a conveyor belt on which
information rides as long as the forget gate f (Gers, Schmidhuber & Cummins 2000) stays near 1.
Its gradient along the belt is the product of the f's, so a positive forget-gate bias keeps it
alive (Jozefowicz, Zaremba & Sutskever 2015 recommend bias 1): compare bias 0 and 1. The GRU
(Cho et al. 2014) merges the gates: hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁. The
heatmaps show every gate of every unit over time; the step slider puts one step's values on the
cell diagrams. Both cells are checked against `torch.nn.LSTM` / `torch.nn.GRU` (the numbers
under the figures).

**Attention is the replacement.** Self-attention (Vaswani et al. 2017) lets every output look at
every earlier token directly: the path from token 1 to the last output is one step, the gradient
does not decay with distance (the flat line), and all n positions are computed at once. The
price is n²·d operations per layer instead of n·d²: cheaper while n < d, dearer beyond (the
crossover on the cost figure).
""",
    zh="""
**循环结构的两个问题。** RNN 必须读完第 t−1 个词才能读第 t 个词：n 个词需要 n 个无法并行的步骤。
而且第 1 个词对最后输出的影响要经过 n 个隐藏状态，所以它的梯度是 n 个单步雅可比矩阵
∂hₜ/∂hₜ₋₁ = diag(tanh′)·W_hh 的乘积。若它们的大小小于 1，
乘积按几何级数缩小（梯度消失，Bengio、Simard 与 Frasconi 1994）；大于 1 则可能按几何级数增长
（梯度爆炸，Pascanu、Mikolov 与 Bengio 2013）。梯度图用对数坐标，这些都表现为直线：调节权重尺度
（W_hh 的谱半径）试试。

**LSTM 与 GRU 是补丁。** LSTM（Hochreiter 与 Schmidhuber 1997）增加了一个以加法更新的记忆单元 c：
cₜ = f ⊙ cₜ₋₁ + i ⊙ g，就像一条传送带，只要遗忘门 f（Gers、Schmidhuber 与
Cummins 2000）接近 1，信息就能一直传下去。沿传送带的梯度是各步 f 的乘积，所以正的遗忘门偏置能让梯度存活
（Jozefowicz、Zaremba 与 Sutskever 2015 建议取 1）：对比偏置 0 和 1。GRU（Cho 等 2014）合并了门：
hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁。热力图展示每个单元的每个门随时间的取值；
时间步滑块把该步的数值标在细胞结构图上。两种细胞都与 `torch.nn.LSTM` / `torch.nn.GRU` 做了对比（图下的数字）。

**注意力是替代方案。** 自注意力（Vaswani 等 2017）让每个输出直接查看之前的每个词：从第 1 个词到最后输出只有一步，
梯度不随距离衰减（那条平线），所有 n 个位置可同时计算。代价是每层 n²·d 次运算而不是 n·d²：
n < d 时更便宜，超过后更贵（运算量图上的交叉点）。
""",
)

DEMO = Demo(
    slug="rnn-vs-transformer",
    section="attention",
    figures=6,
    title=Text("RNN vs Transformer", "RNN 与 Transformer"),
    summary=Text(
        "LSTM and GRU gates you can watch, gradients that vanish with distance, and why attention "
        "replaced recurrence.",
        "可以观察的 LSTM 与 GRU 门、随距离消失的梯度，以及注意力为何取代了循环结构。",
    ),
    sources=(
        Source(
            "Learning long-term dependencies with gradient descent is difficult",
            "Y. Bengio, P. Simard, P. Frasconi",
            1994,
        ),
        Source("Long short-term memory", "S. Hochreiter, J. Schmidhuber", 1997),
        Source(
            "Learning to forget: continual prediction with LSTM",
            "F. Gers, J. Schmidhuber, F. Cummins",
            2000,
        ),
        Source(
            "Learning phrase representations using RNN encoder-decoder (GRU)",
            "K. Cho et al.",
            2014,
            "https://arxiv.org/abs/1406.1078",
        ),
        Source(
            "On the difficulty of training recurrent neural networks",
            "R. Pascanu, T. Mikolov, Y. Bengio",
            2013,
            "https://arxiv.org/abs/1211.5063",
        ),
        Source(
            "An empirical exploration of recurrent network architectures",
            "R. Jozefowicz, W. Zaremba, I. Sutskever",
            2015,
        ),
        Source(
            "Attention is all you need",
            "A. Vaswani et al.",
            2017,
            "https://arxiv.org/abs/1706.03762",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
