"""Mixed precision: what do 16 or 8 bits hold, and how does training live with what they lose?

A number's bits in FP32, FP16, BF16 and the FP8 formats E4M3 / E5M2; where each format's
numbers lie and how far apart; which of a network's gradients vanish in FP16 and how a loss
scale rescues them; GradScaler's dynamic scale over many steps; and why the weights are kept
in FP32 while the arithmetic runs in half precision.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel, field_validator

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

# Format keys, in the order of the rows of the bit figure, and their torch dtype names.
FORMATS = ("fp32", "fp16", "bf16", "e4m3", "e5m2")
DTYPE_NAMES = {
    "fp32": "float32",
    "fp16": "float16",
    "bf16": "bfloat16",
    "e4m3": "float8_e4m3fn",
    "e5m2": "float8_e5m2",
}
LABELS = {"fp32": "FP32", "fp16": "FP16", "bf16": "BF16", "e4m3": "FP8 E4M3", "e5m2": "FP8 E5M2"}
FORMAT_COLORS = {
    "fp32": COLORWAY[6],
    "fp16": COLORWAY[1],
    "bf16": COLORWAY[0],
    "e4m3": COLORWAY[2],
    "e5m2": COLORWAY[3],
}
HALF_FORMATS = {key: Text(LABELS[key], LABELS[key]) for key in FORMATS[1:]}
KINDS = {
    "zero": Text("zero", "零"),
    "subnormal": Text("subnormal", "次正规数"),
    "normal": Text("normal", "正规数"),
    "inf": Text("inf", "无穷大"),
    "nan": Text("NaN", "NaN"),
}
MAX_VALUE_TEXT = 40
# A decimal (0.1, -2.5e-6, .5), a fraction of two decimals (1/3), inf or nan.
DECIMAL = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
VALUE_PATTERN = re.compile(
    rf"\s*({DECIMAL})\s*(?:/\s*({DECIMAL}))?\s*|\s*([+-]?)(inf|infinity|nan)\s*", re.IGNORECASE
)
GRADIENT_LEVEL = -6.0  # log₂ of a step's typical largest |gradient| in the loss-scaling panel
GRADIENT_NOISE = 0.3  # its spread from step to step, in binades
MAX_STEPS = 2000
SWEEP_UPDATES = np.logspace(-8, -1, 36)  # update sizes of the master-weight sweep


def parse_value(text: str) -> float:
    """The number a learner typed: a decimal, `p/q`, inf or nan (never eval)."""
    found = VALUE_PATTERN.fullmatch(text)
    if not found:
        raise ValueError("write a decimal (0.1, -2.5e-6), a fraction (1/3), inf or nan")
    numerator, denominator, sign, special = found.groups()
    if special:
        return float(sign + special.lower())
    value = float(numerator)
    if denominator is None:
        return value
    if float(denominator) == 0:
        raise ValueError("the fraction's denominator is 0")
    return value / float(denominator)


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    value: str = param(
        "3.14159",
        en="Value x",
        zh="数值 x",
        help_en="A decimal (0.1, -2.5e-6), a fraction (1/3), inf or nan; multiplied by 2^shift.",
        help_zh="十进制数（0.1、-2.5e-6）、分数（1/3）、inf 或 nan；再乘以 2^shift。",
        max_length=MAX_VALUE_TEXT,
    )
    shift: int = param(0, en="× 2^shift", zh="乘以 2^shift", ge=-40, le=40)
    depth: int = param(
        8,
        en="tanh MLP depth (gradients)",
        zh="tanh MLP 深度（梯度）",
        help_en="The gradients of the histogram: every weight of a deep tanh MLP at initialisation.",
        help_zh="直方图中的梯度：一个初始化时的深层 tanh MLP 的全部权重梯度。",
        ge=2,
        le=16,
    )
    loss_scale_log2: int = param(
        0,
        en="Loss scale 2^k: k",
        zh="损失缩放 2^k：k",
        help_en="Multiplying the loss by 2^k multiplies every gradient by 2^k (chain rule).",
        help_zh="损失乘以 2^k，每个梯度也乘以 2^k（链式法则）。",
        ge=0,
        le=32,
    )
    focus: Literal["fp16", "bf16", "e4m3", "e5m2"] = param(
        "fp16", en="Histogram coloured by", zh="直方图按此格式着色", choices=HALF_FORMATS
    )
    steps: int = param(
        1000,
        en="Training steps T",
        zh="训练步数 T",
        help_en="Steps of the loss-scaling run and of the weight trajectories.",
        help_zh="损失缩放过程与权重轨迹的步数。",
        ge=10,
        le=MAX_STEPS,
    )
    spike_probability: float = param(
        0.002,
        en="Gradient spike probability",
        zh="梯度尖峰概率",
        ge=0.0,
        le=0.2,
        step=0.001,
    )
    spike_size: int = param(
        10,
        en="Spike size (log₂ of the factor)",
        zh="尖峰大小（放大倍数的 log₂）",
        ge=1,
        le=30,
    )
    init_scale_log2: int = param(
        16,
        en="Initial scale (log₂)",
        zh="初始缩放（log₂）",
        help_en="GradScaler's default init_scale is 2^16 = 65536.",
        help_zh="GradScaler 默认的 init_scale 为 2^16 = 65536。",
        ge=0,
        le=32,
    )
    growth_factor: float = param(2.0, en="Growth factor", zh="增长因子", ge=1.1, le=8.0, step=0.1)
    backoff_factor: float = param(
        0.5, en="Backoff factor", zh="回退因子", ge=0.1, le=0.9, step=0.05
    )
    growth_interval: int = param(
        100,
        en="Growth interval (clean steps)",
        zh="增长间隔（连续正常步数）",
        help_en="GradScaler's default is 2000.",
        help_zh="GradScaler 默认值为 2000。",
        ge=1,
        le=MAX_STEPS,
    )
    update_log10: float = param(
        -3.0,
        en="Weight update per step (log₁₀)",
        zh="每步权重更新量（log₁₀）",
        help_en="lr · gradient added to w = 1 at every step.",
        help_zh="每步加到 w = 1 上的 lr · 梯度。",
        ge=-8.0,
        le=-1.0,
        step=0.1,
    )

    @field_validator("value")
    @classmethod
    def _is_a_number(cls, value: str) -> str:
        parse_value(value)
        return value


def _torch():
    import torch

    torch.set_num_threads(1)  # tiny tensors; one thread also keeps sums in one order
    return torch


def _dtype(key: str):
    return getattr(_torch(), DTYPE_NAMES[key])


def _x(p: Params) -> float:
    """The learner's number: value × 2^shift (in double; decompose rounds it to FP32 first)."""
    value = parse_value(p.value)
    return math.ldexp(value, p.shift) if math.isfinite(value) else value


def _number(value: float, digits: int = 6) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "−inf" if value < 0 else "inf"
    return f"{value:.{digits}g}".replace("-", "−")


# --- 1. bit layouts ---------------------------------------------------------------------------

FIELD_COLORS = {  # (bit 0, bit 1): a pale and a strong tint, opaque to read on both themes
    "sign": ("#F1D3E4", "#B8407F"),
    "exponent": ("#CDE3F2", "#0B5E96"),
    "mantissa": ("#FBE3C9", "#C25A00"),
}
FIELD_NAMES = {
    "sign": Text("sign", "符号"),
    "exponent": Text("exponent", "指数"),
    "mantissa": Text("mantissa (fraction)", "尾数（小数部分）"),
}


def _decomposed(x: float) -> dict:
    # Keyed by the exact bits: a cache keyed by x would give −0 the answer of +0 (0.0 == −0.0).
    return _decomposed_bits(x.hex())


@lru_cache(maxsize=64)
def _decomposed_bits(x_hex: str) -> dict:
    from core.training.precision import decompose, format_info

    x = float.fromhex(x_hex)
    rows = {}
    for key in FORMATS:
        info = format_info(_dtype(key))
        fields = {name: info[name] for name in ("exponent_bits", "mantissa_bits", "bias")}
        rows[key] = {**decompose(x, _dtype(key)), **fields, "width": info["bits"]}
    return rows


def _bit_hover(key: str, d: dict, field: str, position: int, bit: int, lang: str) -> str:
    """What one bit means: its weight in its field, or what it adds to this number."""
    bias, m = d["bias"], d["mantissa_bits"]
    if field == "sign":
        sign = Text("negative", "负数") if bit else Text("positive", "正数")
        return Text(f"sign bit = {bit}: {sign.en}", f"符号位 = {bit}：{sign.zh}")(lang)
    if field == "exponent":
        weight = 2 ** (d["exponent_bits"] - 1 - position)
        return Text(
            f"exponent bit = {bit}, weight {weight} in the field<br>"
            f"field {d['exponent']} − bias {bias} = {d['exponent'] - bias}",
            f"指数位 = {bit}，在指数字段中的权重 {weight}<br>"
            f"字段 {d['exponent']} − 偏置 {bias} = {d['exponent'] - bias}",
        )(lang)
    i = position + 1  # the i-th fraction bit is worth 2^−i of the leading digit
    scale = max(d["exponent"], 1) - bias  # subnormals keep the exponent 1 − bias
    worth = math.ldexp(1.0, scale - i)
    return Text(
        f"mantissa bit {i} of {m} = {bit}: 2^−{i} × 2^{scale} = {_number(worth)}",
        f"尾数第 {i} 位（共 {m} 位）= {bit}：2^−{i} × 2^{scale} = {_number(worth)}",
    )(lang)


def _bits_figure(p: Params, x: float, lang: str) -> go.Figure:
    rows = _decomposed(x)
    z, text, hover = [], [], []
    for key in FORMATS:
        d = rows[key]
        fields = ["sign"] + ["exponent"] * d["exponent_bits"] + ["mantissa"] * d["mantissa_bits"]
        bits = [(d["bits"] >> (len(fields) - 1 - c)) & 1 for c in range(len(fields))]
        codes = {"sign": 0, "exponent": 2, "mantissa": 4}
        pad = 32 - len(fields)
        z.append([codes[f] + b for f, b in zip(fields, bits, strict=True)] + [None] * pad)
        text.append([str(b) for b in bits] + [""] * pad)
        positions = [0, *range(d["exponent_bits"]), *range(d["mantissa_bits"])]
        hover.append(
            [
                f"{LABELS[key]} · {_bit_hover(key, d, f, q, b, lang)}"
                for f, q, b in zip(fields, positions, bits, strict=True)
            ]
            + [""] * pad
        )
    palette = [FIELD_COLORS[f][b] for f in ("sign", "exponent", "mantissa") for b in (0, 1)]
    colorscale = [
        [edge, colour]
        for i, colour in enumerate(palette)
        for edge in (i / len(palette), (i + 1) / len(palette))
    ]
    heatmap = {
        "type": "heatmap",
        "z": z,
        "x": list(range(32)),
        "y": [LABELS[k] for k in FORMATS],
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"size": 11},
        "customdata": hover,
        "hovertemplate": "%{customdata}<extra></extra>",
        "colorscale": colorscale,
        "zmin": -0.5,
        "zmax": 5.5,
        "showscale": False,
        "xgap": 2,
        "ygap": 4,
        "hoverongaps": False,
    }
    legend = [  # one swatch per field for the legend (the heatmap itself has none)
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "mode": "markers",
            "marker": {"symbol": "square", "size": 12, "color": FIELD_COLORS[f][1]},
            "name": FIELD_NAMES[f](lang),
        }
        for f in ("sign", "exponent", "mantissa")
    ]
    notes = []
    for key in FORMATS:
        d = rows[key]
        error = d["error"]
        notes.append(
            caption(
                f"= {_number(d['value'], 10)} · {KINDS[d['kind']](lang)}<br>"
                + Text("error", "误差")(lang)
                + f" {_number(error, 2)} · ulp {_number(d['ulp'], 2)}",
                x=0.58,
                y=LABELS[key],
                xref="paper",
                yref="y",
                size=11,
            )
            | {"yanchor": "middle", "align": "left"}
        )
    title = Text(
        f"x = {p.value} × 2^{p.shift} = {_number(x, 10)}: its bits in five formats",
        f"x = {p.value} × 2^{p.shift} = {_number(x, 10)}：它在五种格式中的各个位",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "domain": [0, 0.56],
            "range": [-0.5, 31.5],
            "showgrid": False,
            "zeroline": False,
            "tickvals": [0, 8, 16, 24, 31],
            "title": {
                "text": Text(
                    "bit, from the sign (hover one for its weight)",
                    "位，从符号位起（悬停查看权重）",
                )(lang)
            },
        },
        "yaxis": {"autorange": "reversed", "showgrid": False, "showline": False, "ticks": ""},
        "annotations": notes,
        "height": 380,
        "margin": {"r": 10},
        "legend": {"orientation": "h", "y": -0.32, "x": 0},
    }
    return go.Figure({"data": [heatmap, *legend], "layout": layout}, _validate=False)


# --- 2. range and spacing ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fp8_values() -> dict:
    """Every finite value of each FP8 format, sorted (from all 256 bit patterns)."""
    torch = _torch()
    patterns = torch.arange(256, dtype=torch.int64).to(torch.uint8)
    values = {}
    for key in ("e4m3", "e5m2"):
        decoded = patterns.view(_dtype(key)).float()
        finite = decoded[decoded.isfinite()]
        values[key] = np.unique(finite.numpy().astype(np.float64))
    return values


@lru_cache(maxsize=1)
def _formats() -> dict:
    from core.training.precision import format_info, overflow_threshold

    return {
        key: {**format_info(_dtype(key)), "threshold": overflow_threshold(_dtype(key))}
        for key in FORMATS
    }


def _spacing_figure(p: Params, x: float, lang: str) -> go.Figure:
    infos = _formats()
    data = []
    landmarks = {"smallest_subnormal": [], "smallest_normal": [], "max": []}
    for key in FORMATS:
        info = infos[key]
        m = info["mantissa_bits"]
        low = 1 - info["bias"]  # the exponent of the smallest normal
        high = math.frexp(info["max"])[1] - 1
        xs = [low - m, *range(low, high + 1), math.log2(info["max"])]
        ys = [low - m, *(e - m for e in range(low, high + 1)), high - m]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "line": {"shape": "hv", "color": FORMAT_COLORS[key], "width": 2},
                "name": f"{LABELS[key]} (1·{info['exponent_bits']}·{m})",
                "legendgroup": key,
                "hovertemplate": "log₂|x| = %{x:.2f}<br>log₂ ulp = %{y}<extra>"
                + LABELS[key]
                + "</extra>",
            }
        )
        landmarks["smallest_subnormal"].append((key, low - m, low - m))
        landmarks["smallest_normal"].append((key, low, low - m))
        landmarks["max"].append((key, math.log2(info["max"]), high - m))
    marks = {
        "smallest_subnormal": (Text("smallest subnormal", "最小次正规数"), "circle-open"),
        "smallest_normal": (Text("smallest normal", "最小正规数"), "diamond"),
        "max": (Text("max", "最大值"), "x"),
    }
    for name, (label, symbol) in marks.items():
        points = landmarks[name]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [point[1] for point in points],
                "y": [point[2] for point in points],
                "marker": {
                    "symbol": symbol,
                    "size": 10,
                    "color": [FORMAT_COLORS[point[0]] for point in points],
                    "line": {"width": 2, "color": [FORMAT_COLORS[point[0]] for point in points]},
                },
                "name": label(lang),
                "text": [f"{LABELS[key]}: {_number(infos[key][name], 4)}" for key, _, _ in points],
                "hovertemplate": "%{text}<extra></extra>",
            }
        )
    shapes, annotations = [], []
    if math.isfinite(x) and x != 0:
        shapes.append(
            _vertical_line("x", "y domain", math.log2(abs(x)), "rgba(128,128,128,0.9)", "dot")
        )
        annotations.append(
            caption(f"|x| = {_number(abs(x), 4)}", x=math.log2(abs(x)), xref="x", size=11)
            | {"yref": "y domain", "y": 1.0, "xanchor": "left"}
        )
    # The frame holds FP16 and both FP8 formats whole (and x); FP32 and BF16 run on beyond it.
    x_low, x_high = -28.0, 20.0
    if math.isfinite(x) and x != 0:
        x_low = max(min(x_low, math.log2(abs(x)) - 3), -152.0)
        x_high = min(max(x_high, math.log2(abs(x)) + 3), 130.0)
    y_range = [x_low - 23 - 2, max(x_high - 7, 13) + 2]  # FP32's ulp at the left, BF16's at right
    annotations.append(
        caption(
            Text(
                "FP32 and BF16 run on to 2^−149 / 2^−133 and 2^128: double-click to see all",
                "FP32 和 BF16 一直延伸到 2^−149 / 2^−133 和 2^128：双击查看全部",
            )(lang),
            x=0.01,
            y=0.99,
            size=11,
        )
        | {"yref": "y domain", "yanchor": "top"}
    )
    data += _number_line(x, lang)
    axis_title = Text(
        "the numbers near x (E4M3 and E5M2 values)", "x 附近的数（E4M3 与 E5M2 的值）"
    )
    annotations.append(
        caption(axis_title(lang), x=0, y=0.2, size=12) | {"yref": "paper", "yanchor": "bottom"}
    )
    title = Text(
        "Range and spacing: the gap between neighbours (ulp) doubles every binade",
        "范围与间距：相邻两数的间隔（ulp）每过一个二进制数量级翻一倍",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "domain": [0, 1],
            "anchor": "y",
            "range": [x_low, x_high],
            "title": {"text": Text("log₂|x|", "log₂|x|")(lang)},
        },
        "yaxis": {
            "domain": [0.42, 1],
            "range": y_range,
            "title": {"text": Text("log₂ ulp", "log₂ ulp")(lang)},
        },
        "xaxis2": {
            "domain": [0, 1],
            "anchor": "y2",
            "title": {"text": Text("x (linear)", "x（线性）")(lang)},
        },
        "yaxis2": {
            "domain": [0, 0.14],
            "anchor": "x2",
            "range": [-0.7, 1.7],
            "tickvals": [0, 1],
            "ticktext": ["E5M2", "E4M3"],
            "showgrid": False,
            "zeroline": False,
        },
        "shapes": shapes + _x_marker(x),
        "annotations": annotations,
        "height": 600,
        "legend": {"orientation": "h", "y": -0.2, "x": 0},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _window(x: float) -> tuple[float, float]:
    """The stretch of the number line drawn around x: x ± half of |x| (at least ±2^−14)."""
    centre = x if math.isfinite(x) else (0.0 if math.isnan(x) else math.copysign(60000.0, x))
    half = max(abs(centre) * 0.5, 2.0**-14)  # near 0: E5M2's subnormals, E4M3's 0
    return centre - half, centre + half


def _x_marker(x: float) -> list[dict]:
    if not math.isfinite(x):
        return []
    return [
        {
            "type": "line",
            "xref": "x2",
            "yref": "y2",
            "x0": x,
            "x1": x,
            "y0": -0.6,
            "y1": 1.6,
            "line": {"width": 2, "color": COLORWAY[1]},
        }
    ]


def _number_line(x: float, lang: str) -> list[dict]:
    low, high = _window(x)
    traces = []
    for row, key in ((1, "e4m3"), (0, "e5m2")):
        values = _fp8_values()[key]
        inside = values[(values >= low) & (values <= high)]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": inside if inside.size else [None],
                "y": np.full(inside.size, row) if inside.size else [None],
                "xaxis": "x2",
                "yaxis": "y2",
                "marker": {"symbol": "line-ns-open", "size": 16, "color": FORMAT_COLORS[key]},
                "name": Text(f"{LABELS[key]} values", f"{LABELS[key]} 的值")(lang),
                "legendgroup": key,
                "showlegend": False,
                "hovertemplate": "%{x:.6g}<extra>" + LABELS[key] + "</extra>",
            }
        )
    rounded = [_decomposed(x)[key]["value"] for key in ("e4m3", "e5m2")]
    shown = [(v, row) for v, row in zip(rounded, (1, 0), strict=True) if low <= v <= high]
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": [v for v, _ in shown] or [None],
            "y": [row for _, row in shown] or [None],
            "xaxis": "x2",
            "yaxis": "y2",
            "marker": {"symbol": "circle", "size": 9, "color": COLORWAY[1]},
            "name": Text("x rounded to FP8", "x 舍入到 FP8")(lang),
            "hovertemplate": "%{x:.6g}<extra></extra>",
        }
    )
    return traces


# --- 3. underflow -----------------------------------------------------------------------------

OUTCOMES = {
    "lost": (Text("→ 0 (lost)", "→ 0（丢失）"), COLORWAY[1]),
    "subnormal": (Text("subnormal (fewer digits)", "次正规数（有效位变少）"), COLORWAY[4]),
    "normal": (Text("normal", "正规数"), COLORWAY[0]),
    "overflow": (Text("→ inf / saturated", "→ inf / 饱和"), COLORWAY[3]),
}


@lru_cache(maxsize=16)
def _gradients(depth: int) -> np.ndarray:
    from core.training.precision import mlp_gradients

    _torch()
    return mlp_gradients(depth=depth).numpy()


@lru_cache(maxsize=64)
def _outcomes(depth: int, k: int) -> dict:
    """Each gradient's fate per format at loss scale 2^k (lost, subnormal, normal, overflow):
    the histogram of log₂|g·2^k| split by fate (bins half a binade wide), and the fractions."""
    from core.training.precision import scale_and_cast

    torch = _torch()
    grads = torch.from_numpy(_gradients(depth))
    scaled = grads.abs() * 2.0**k
    nonzero = (grads != 0).numpy()
    log2 = np.log2(scaled.numpy()[nonzero])
    edges = np.arange(math.floor(log2.min()), math.ceil(log2.max()) + 0.5, 0.5)
    counts, fractions = {}, {}
    for key in FORMATS[1:]:
        cast = scale_and_cast(grads, 2.0**k, _dtype(key))
        fate = np.full(grads.numel(), 2, dtype=np.int8)  # codes: the order of OUTCOMES
        fate[(scaled < _formats()[key]["smallest_normal"]).numpy()] = 1
        fate[cast["underflow"].numpy()] = 0
        fate[cast["overflow"].numpy()] = 3
        tally = np.bincount(fate, minlength=len(OUTCOMES))
        fractions[key] = {name: tally[i] / fate.size for i, name in enumerate(OUTCOMES)}
        counts[key] = [
            np.histogram(log2[fate[nonzero] == i], bins=edges)[0] for i in range(len(OUTCOMES))
        ]
    return {"edges": edges, "counts": counts, "fractions": fractions, "total": grads.numel()}


def _underflow_figure(p: Params, lang: str) -> tuple[go.Figure, dict]:
    outcomes = _outcomes(p.depth, p.loss_scale_log2)
    edges, fractions = outcomes["edges"], outcomes["fractions"]
    data = []
    for (label, colour), counts in zip(OUTCOMES.values(), outcomes["counts"][p.focus], strict=True):
        data.append(
            {
                "type": "bar",
                "x": (edges[:-1] + edges[1:]) / 2,
                "y": 100 * counts / outcomes["total"],
                "width": 0.5,
                "marker": {"color": colour},
                "name": f"{LABELS[p.focus]}: {label(lang)}",
                "hovertemplate": "log₂|g·2^k| ≈ %{x}<br>%{y:.2f}%<extra></extra>",
            }
        )
    infos = _formats()
    rows = list(reversed(FORMATS[1:]))
    for part, (start, stop), width in (
        ("subnormal", ("smallest_subnormal", "smallest_normal"), 5),
        ("normal", ("smallest_normal", "max"), 11),
    ):
        xs, ys = [], []
        for row, key in enumerate(rows):
            xs += [math.log2(infos[key][start]), math.log2(infos[key][stop]), None]
            ys += [row, row, None]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "xaxis": "x",
                "yaxis": "y2",
                "line": {"width": width, "color": "rgba(128,128,128,0.75)"},
                "name": Text(
                    "format window: subnormal (thin), normal (thick)",
                    "格式范围：次正规数（细），正规数（粗）",
                )(lang),
                "showlegend": part == "normal",
                "legendgroup": "windows",
                "hoverinfo": "skip",
            }
        )
    focus_info = infos[p.focus]
    shade = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "y domain",
            "x0": math.log2(focus_info[lo]),
            "x1": math.log2(focus_info[hi]),
            "y0": 0,
            "y1": 1,
            "fillcolor": FORMAT_COLORS[p.focus],
            "opacity": opacity,
            "line": {"width": 0},
            "layer": "below",
        }
        for lo, hi, opacity in (
            ("smallest_subnormal", "smallest_normal", 0.06),
            ("smallest_normal", "max", 0.13),
        )
    ]
    ticktext = [f"{LABELS[key]}: {100 * fractions[key]['lost']:.1f}% → 0" for key in rows]
    low = min(edges[0], math.log2(infos["fp16"]["smallest_subnormal"])) - 1
    high = max(edges[-1], math.log2(infos["fp16"]["max"])) + 1
    title = Text(
        f"Which gradients survive? log₂|g| of a depth-{p.depth} tanh MLP, loss scale 2^{p.loss_scale_log2}",
        f"哪些梯度能保留？深度 {p.depth} 的 tanh MLP 的 log₂|g|，损失缩放 2^{p.loss_scale_log2}",
    )
    layout = {
        "title": {"text": title(lang)},
        "barmode": "stack",
        "xaxis": {
            "range": [low, high],
            "anchor": "y2",
            "title": {"text": Text("log₂|gradient · loss scale|", "log₂|梯度 · 损失缩放|")(lang)},
        },
        "yaxis": {
            "domain": [0.42, 1],
            "title": {"text": Text("% of gradients", "梯度占比（%）")(lang)},
        },
        "yaxis2": {
            "domain": [0, 0.3],
            "range": [-0.6, len(rows) - 0.4],
            "tickvals": list(range(len(rows))),
            "ticktext": ticktext,
            "showgrid": False,
            "zeroline": False,
        },
        "shapes": shade,
        "height": 540,
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), fractions


# --- 4. dynamic loss scaling -------------------------------------------------------------------


def _gradient_maxima(steps: int, spike_probability: float, spike_size: int) -> np.ndarray:
    """Each step's largest |gradient|: 2^(level + noise), × 2^size where a spike strikes.

    The same draws for every T (T only cuts them), so a longer run extends a shorter one."""
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, GRADIENT_NOISE, MAX_STEPS)[:steps]
    spikes = (rng.random(MAX_STEPS) < spike_probability)[:steps]
    return 2.0 ** (GRADIENT_LEVEL + noise + spike_size * spikes)


@lru_cache(maxsize=32)
def _scaling_run(
    steps: int,
    spike_probability: float,
    spike_size: int,
    init_scale_log2: int,
    growth_factor: float,
    backoff_factor: float,
    growth_interval: int,
) -> dict:
    from core.training.precision import loss_scale_run

    grads = _gradient_maxima(steps, spike_probability, spike_size)
    run = loss_scale_run(
        grads,
        _dtype("fp16"),
        init_scale=2.0**init_scale_log2,
        growth_factor=growth_factor,
        backoff_factor=backoff_factor,
        growth_interval=growth_interval,
    )
    return {**run, "grads": grads}


def _scaling(p: Params) -> dict:
    fields = ("steps", "spike_probability", "spike_size", "init_scale_log2")
    fields += ("growth_factor", "backoff_factor", "growth_interval")
    return _scaling_run(*(getattr(p, name) for name in fields))


def _scaling_figure(p: Params, lang: str) -> tuple[go.Figure, dict]:
    run = _scaling(p)
    steps = np.arange(p.steps + 1)
    with np.errstate(divide="ignore"):
        log_scale = np.log2(run["scale"])
    log_scale[~np.isfinite(log_scale)] = np.nan  # a scale of 0: a gap
    ceiling = np.log2(run["overflow_threshold"] / run["grads"])
    skipped = np.flatnonzero(run["skipped"])
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": steps[1:],
            "y": ceiling,
            "line": {"color": "rgba(128,128,128,0.6)", "width": 1},
            "name": Text(
                "ceiling: log₂(FP16 overflow / max|g|)", "上限：log₂(FP16 溢出阈值 / max|g|)"
            )(lang),
            "hovertemplate": "%{x}: %{y:.2f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": steps,
            "y": log_scale,
            "line": {"shape": "hv", "color": COLORWAY[0], "width": 2},
            "name": Text("log₂ loss scale", "log₂ 损失缩放")(lang),
            "hovertemplate": "%{x}: 2^%{y:.3g}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": skipped + 1 if skipped.size else [None],
            "y": ceiling[skipped] if skipped.size else [None],
            "marker": {"symbol": "x", "size": 9, "color": COLORWAY[1]},
            "name": Text(
                f"skipped step (inf/NaN): {skipped.size}", f"跳过的步（inf/NaN）：{skipped.size}"
            )(lang),
            "hovertemplate": "%{x}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": steps[1:],
            "y": run["growth_tracker"],
            "xaxis": "x2",
            "yaxis": "y2",
            "line": {"color": COLORWAY[2], "width": 1.5},
            "name": Text("growth tracker", "增长计数器")(lang),
            "hovertemplate": "%{x}: %{y}<extra></extra>",
        },
    ]
    title = Text(
        f"Dynamic loss scaling (GradScaler), FP16, {p.steps} steps: "
        f"{skipped.size} skipped, final scale 2^{_log2_text(run['scale'][-1])}",
        f"动态损失缩放（GradScaler），FP16，{p.steps} 步："
        f"跳过 {skipped.size} 步，最终缩放 2^{_log2_text(run['scale'][-1])}",
    )
    interval_line = {
        "type": "line",
        "xref": "x2 domain",
        "yref": "y2",
        "x0": 0,
        "x1": 1,
        "y0": p.growth_interval,
        "y1": p.growth_interval,
        "line": {"dash": "dash", "width": 1, "color": "rgba(128,128,128,0.9)"},
    }
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 1], "anchor": "y", "matches": "x2", "showticklabels": False},
        "yaxis": {
            "domain": [0.4, 1],
            "title": {"text": Text("log₂ scale", "log₂ 缩放")(lang)},
        },
        "xaxis2": {
            "domain": [0, 1],
            "anchor": "y2",
            "title": {"text": Text("training step", "训练步")(lang)},
        },
        "yaxis2": {
            "domain": [0, 0.3],
            "anchor": "x2",
            "rangemode": "tozero",
            "title": {"text": Text("tracker", "计数器")(lang)},
        },
        "shapes": [interval_line],
        "annotations": [
            caption(
                Text(
                    f"a step overflows when max|g|·scale ≥ {run['overflow_threshold']:g} "
                    f"(typical max|g| ≈ 2^{GRADIENT_LEVEL:g}); dashed: growth interval "
                    f"{p.growth_interval}",
                    f"当 max|g|·缩放 ≥ {run['overflow_threshold']:g} 时该步溢出"
                    f"（典型 max|g| ≈ 2^{GRADIENT_LEVEL:g}）；虚线：增长间隔 {p.growth_interval}",
                )(lang),
                y=1.0,
                size=11,
            )
        ],
        "height": 500,
        "legend": {"orientation": "h", "y": -0.2, "x": 0},
    }
    summary = {
        "skipped": int(skipped.size),
        "final_scale": float(run["scale"][-1]),
        "max_scale": float(run["scale"].max()),
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), summary


def _log2_text(scale: float) -> str:
    if scale == 0:
        return "−inf"
    return f"{math.log2(scale):.3g}".replace("-", "−")


# --- 5. master weights ------------------------------------------------------------------------

RUNS = {  # (dtype, master), in drawing order: the coarse BF16 staircase under the finer lines
    "bf16_master": ("bf16", True),
    "fp16_master": ("fp16", True),
    "fp32_master": ("fp32", True),
    "fp16_pure": ("fp16", False),
    "bf16_pure": ("bf16", False),
}
RUN_NAMES = {
    "fp32_master": Text("FP32 master copy", "FP32 主权重"),
    "fp16_master": Text("FP16 weights from an FP32 master", "由 FP32 主权重得到的 FP16 权重"),
    "bf16_master": Text("BF16 weights from an FP32 master", "由 FP32 主权重得到的 BF16 权重"),
    "fp16_pure": Text("pure FP16 (w += u in FP16)", "纯 FP16（在 FP16 中 w += u）"),
    "bf16_pure": Text("pure BF16 (w += u in BF16)", "纯 BF16（在 BF16 中 w += u）"),
}
RUN_STYLES = {
    "fp32_master": {"color": FORMAT_COLORS["fp32"], "dash": "dot", "width": 2},
    "fp16_master": {"color": FORMAT_COLORS["fp16"], "width": 2},
    "bf16_master": {"color": FORMAT_COLORS["bf16"], "width": 4},
    "fp16_pure": {"color": FORMAT_COLORS["fp16"], "dash": "dash", "width": 2},
    "bf16_pure": {"color": FORMAT_COLORS["bf16"], "dash": "dash", "width": 2},
}


@lru_cache(maxsize=16)
def _trajectories(update_log10: float, steps: int) -> dict:
    """Column 0: the learner's update; the rest: the sweep. Each run: (steps + 1, 37)."""
    from core.training.precision import weight_trajectory

    torch = _torch()
    updates = torch.tensor([10.0**update_log10, *SWEEP_UPDATES], dtype=torch.float32)
    w0 = torch.ones_like(updates)
    return {
        name: weight_trajectory(w0, updates, steps, _dtype(key), master=master).numpy()
        for name, (key, master) in RUNS.items()
    } | {"updates": updates.numpy()}


def _vertical_line(xref: str, yref: str, x: float, colour: str, dash: str) -> dict:
    return {
        "type": "line",
        "xref": xref,
        "yref": yref,
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"dash": dash, "width": 1.5, "color": colour},
    }


def _master_figure(p: Params, lang: str) -> tuple[go.Figure, dict]:
    runs = _trajectories(p.update_log10, p.steps)
    update = float(runs["updates"][0])
    steps = np.arange(p.steps + 1)
    stride = max(1, p.steps // 500)  # at most ~500 points a line: the staircases stay visible
    data = []
    for name in RUNS:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": steps[::stride],
                "y": runs[name][::stride, 0],
                "line": {**RUN_STYLES[name], "shape": "hv"},
                "name": RUN_NAMES[name](lang),
                "legendgroup": name,
                "hovertemplate": "%{x}: w = %{y:.6g}<extra></extra>",
            }
        )
    sweep = ("fp16_pure", "bf16_pure", "fp32_master")
    for name in sweep:
        reached = (runs[name][-1, 1:] - 1.0) / (p.steps * runs["updates"][1:])
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": runs["updates"][1:],
                "y": reached,
                "xaxis": "x2",
                "yaxis": "y2",
                "line": RUN_STYLES[name],
                "marker": {"size": 5},
                "name": RUN_NAMES[name](lang),
                "legendgroup": name,
                "showlegend": False,
                "hovertemplate": "u = %{x:.2g}: %{y:.3f}<extra></extra>",
            }
        )
    shapes, annotations = [], []
    for key in ("fp32", "fp16", "bf16"):
        half = _formats()[key]["eps"] / 2  # half an ulp at w = 1
        shapes.append(_vertical_line("x2", "y2 domain", half, FORMAT_COLORS[key], "dash"))
        annotations.append(  # on a log axis an annotation's x is log₁₀ of the value
            caption(f"{LABELS[key]} ulp(1)/2", x=math.log10(half), xref="x2", size=10)
            | {"yref": "y2 domain", "y": 0.98, "yanchor": "top", "xanchor": "right"}
            | {"textangle": -90}
        )
    shapes.append(_vertical_line("x2", "y2 domain", update, "rgba(128,128,128,0.9)", "dot"))
    annotations += [
        caption(
            Text(f"w from 1, u = {update:.3g} a step", f"w 从 1 开始，每步 u = {update:.3g}")(lang),
            x=0,
            size=12,
        ),
        caption(
            Text(
                f"share of T·u reached, T = {p.steps}",
                f"实现的 T·u 比例，T = {p.steps}",
            )(lang),
            x=0.58,
            size=12,
        ),
    ]
    title = Text(
        "Master weights: an update under half an ulp of w never lands in 16 bits",
        "主权重：小于 w 的半个 ulp 的更新在 16 位中永远加不上",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 0.42], "title": {"text": Text("step", "步")(lang)}},
        "yaxis": {"title": {"text": "w"}},
        "xaxis2": {
            "domain": [0.58, 1],
            "anchor": "y2",
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("update u per step (log)", "每步更新 u（对数）")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "rangemode": "tozero",
            "title": {"text": Text("(w_T − 1) / (T·u)", "(w_T − 1) / (T·u)")(lang)},
        },
        "shapes": shapes,
        "annotations": annotations,
        "height": 460,
        "legend": {"orientation": "h", "y": -0.25, "x": 0},
    }
    summary = {name: float(runs[name][-1, 0]) for name in RUNS} | {"update": update}
    return go.Figure({"data": data, "layout": layout}, _validate=False), summary


# --- notes and render -------------------------------------------------------------------------


def _bit_table(x: float, lang: str) -> str:
    """x in every format, one column a format (narrow enough for the notes' width)."""
    rows = _decomposed(x)
    cells = {
        Text("bits", "位模式"): [f"`0x{d['bits']:0{d['width'] // 4}X}`" for d in rows.values()],
        Text("sign", "符号"): [str(d["sign"]) for d in rows.values()],
        Text("exponent − bias", "指数 − 偏置"): [
            f"{d['exponent']} − {d['bias']} = {_number(d['exponent'] - d['bias'])}"
            for d in rows.values()
        ],
        Text("mantissa field", "尾数字段"): [str(d["mantissa"]) for d in rows.values()],
        Text("decoded", "解码值"): [_number(d["value"], 10) for d in rows.values()],
        Text("error", "误差"): [_number(d["error"], 3) for d in rows.values()],
        Text("ulp", "ulp"): [_number(d["ulp"], 3) for d in rows.values()],
        Text("kind", "类型"): [KINDS[d["kind"]](lang) for d in rows.values()],
    }
    head = "| | " + " | ".join(LABELS[key] for key in FORMATS) + " |\n"
    head += "|---" * (len(FORMATS) + 1) + "|\n"
    return head + "\n".join(
        f"| {name(lang)} | " + " | ".join(values) + " |" for name, values in cells.items()
    )


def _notes(p: Params, x: float, fractions: dict, scaling: dict, master: dict, lang: str) -> str:
    lost_rows = "\n".join(
        f"| {LABELS[key]} | {100 * f['lost']:.1f}% | {100 * f['subnormal']:.1f}% | "
        f"{100 * f['overflow']:.2f}% |"
        for key, f in fractions.items()
    )
    scale_max, scale_end = _log2_text(scaling["max_scale"]), _log2_text(scaling["final_scale"])
    u = f"{master['update']:.3g}"
    w = {name: f"{value:.6g}" for name, value in master.items()}
    text = Text(
        f"\n\nGradients at loss scale 2^{p.loss_scale_log2}:\n\n"
        "| format | → 0 | subnormal | → inf / saturated |\n|---|---|---|---|\n"
        f"{lost_rows}\n\nLoss scaling: {scaling['skipped']} of {p.steps} steps skipped, "
        f"largest scale 2^{scale_max}, final 2^{scale_end}. Weights after {p.steps} updates "
        f"of {u}: FP32 master {w['fp32_master']}, FP16 from the master {w['fp16_master']}, "
        f"pure FP16 {w['fp16_pure']}, pure BF16 {w['bf16_pure']}.",
        f"\n\n损失缩放 2^{p.loss_scale_log2} 下的梯度：\n\n"
        "| 格式 | → 0 | 次正规数 | → inf / 饱和 |\n|---|---|---|---|\n"
        f"{lost_rows}\n\n损失缩放：{p.steps} 步中跳过 {scaling['skipped']} 步，最大缩放 "
        f"2^{scale_max}，最终 2^{scale_end}。每步更新 {u}、{p.steps} 步后的权重：FP32 主权重 "
        f"{w['fp32_master']}，由主权重得到的 FP16 {w['fp16_master']}，纯 FP16 {w['fp16_pure']}，"
        f"纯 BF16 {w['bf16_pure']}。",
    )
    return _bit_table(x, lang) + text(lang)


def render(p: Params, lang: str = "en") -> Rendered:
    x = _x(p)
    underflow, fractions = _underflow_figure(p, lang)
    scaling, scaling_summary = _scaling_figure(p, lang)
    master, master_summary = _master_figure(p, lang)
    figures = [_bits_figure(p, x, lang), _spacing_figure(p, x, lang), underflow, scaling, master]
    notes = _notes(p, x, fractions, scaling_summary, master_summary, lang)
    return Rendered(figures, notes)


presets = {
    "0.1 is exact nowhere": Params(value="0.1"),
    "FP16 underflows, BF16 does not": Params(depth=16, loss_scale_log2=0),
    "Loss scaling rescues small gradients": Params(depth=16, loss_scale_log2=14),
    "A spike halves the scale": Params(
        steps=2000, spike_probability=0.002, spike_size=12, growth_interval=2000
    ),
    "Updates below half an ulp vanish": Params(update_log10=-4.0),
}
preset_titles = {
    "0.1 is exact nowhere": Text("0.1 is exact nowhere", "0.1 在哪种格式中都不精确"),
    "FP16 underflows, BF16 does not": Text(
        "FP16 underflows, BF16 does not", "FP16 下溢，BF16 不会"
    ),
    "Loss scaling rescues small gradients": Text(
        "Loss scaling rescues small gradients", "损失缩放挽救小梯度"
    ),
    "A spike halves the scale": Text("A spike halves the scale", "一次尖峰让缩放减半"),
    "Updates below half an ulp vanish": Text(
        "Updates below half an ulp vanish", "小于半个 ulp 的更新消失"
    ),
}

EXPLANATION = Text(
    en="""
**Bits.** A binary float stores a sign s, a biased exponent field e and a fraction f: a normal
number is (−1)^s · 1.f · 2^(e − bias); the field e = 0 holds zero and the *subnormals*
0.f · 2^(1 − bias), which fill the gap down to zero with fewer significant bits; the all-ones
field holds inf and NaN (IEEE 754-2019). FP32 splits its 32 bits 1·8·23, FP16 1·5·10, BF16
1·8·7: FP32's range with only 8 significant bits (Kalamkar et al. 2019). The FP8 formats of
Micikevicius et al. (2022) are E4M3 (no inf, max 448, for weights and activations) and E5M2
(IEEE-like, max 57344, for gradients). Type a value: 0.1 has no finite binary expansion, so
every format rounds it (to nearest, ties to even); hover a bit to see what it is worth.

**Range and spacing.** Within a binade [2^e, 2^(e+1)) the neighbours are one ulp = 2^(e − m)
apart, so the relative spacing stays near 2^−m while the absolute gap doubles each binade. The
staircases end at the smallest subnormal (below it only zero), bend at the smallest normal and
stop at the max; FP16's window is only 2^−24 … 65504. The number line shows how coarse 8 bits
are around x.

**Underflow and loss scaling.** Micikevicius et al. (2018, Fig. 3) found many activation
gradients below FP16's smallest subnormal: cast to FP16 they become 0 and the update is lost;
those in the subnormal range keep only a few bits. Multiplying the loss by 2^k multiplies every
gradient by 2^k (the chain rule), shifting the histogram right into FP16's window; the optimizer
divides by 2^k again in FP32. BF16 needs no scaling: its window is FP32's.

**Dynamic loss scaling.** `torch.amp.GradScaler` starts at 2^16. A step whose gradients
contain inf or NaN is skipped and the scale is multiplied by the backoff (½); after
`growth_interval` clean steps it is multiplied by the growth factor (2). The scale climbs until
it touches the overflow ceiling, then saws below it; a gradient spike lowers the ceiling for a
step, and the scale halves.

**Master weights.** An update smaller than half an ulp of w rounds away: in FP16, 1 + 10⁻⁴ is
1, forever. Mixed-precision training keeps an FP32 master copy, adds the update there and casts
the weights to 16 bits for the next forward pass (Micikevicius et al. 2018): the small updates
accumulate until they move the 16-bit weight.
""",
    zh="""
**位。** 二进制浮点数存储符号 s、带偏置的指数字段 e 和小数部分 f：正规数为 (−1)^s · 1.f · 2^(e − bias)；字段 e = 0
表示零和*次正规数* 0.f · 2^(1 − bias)，它们以较少的有效位填补到零的空隙；全 1 字段表示 inf 和 NaN（IEEE 754-2019）。
FP32 把 32 位分为 1·8·23，FP16 为 1·5·10，BF16 为 1·8·7：范围与 FP32 相同，但只有 8 位有效数字（Kalamkar 等，2019）。
Micikevicius 等（2022）的 FP8 格式有 E4M3（没有 inf，最大 448，用于权重和激活）和 E5M2（类似 IEEE，最大 57344，
用于梯度）。输入一个数：0.1 的二进制展开是无限的，所以每种格式都要对它舍入（就近舍入，平局取偶）；把鼠标悬停在某一位上
可以看到它的权重。

**范围与间距。** 在一个二进制数量级 [2^e, 2^(e+1)) 内，相邻两数相差一个 ulp = 2^(e − m)，所以相对间距保持在 2^−m
左右，而绝对间隔每过一个数量级翻一倍。阶梯线从最小次正规数开始（再往下只有零），在最小正规数处转折，到最大值结束；
FP16 的范围只有 2^−24 … 65504。数轴显示 8 位在 x 附近有多粗糙。

**下溢与损失缩放。** Micikevicius 等（2018，图 3）发现许多激活梯度小于 FP16 的最小次正规数：转成 FP16 后变成 0，
这次更新就丢失了；落在次正规数范围内的梯度也只剩几位有效数字。把损失乘以 2^k，每个梯度都乘以 2^k（链式法则），
直方图右移进入 FP16 的范围；优化器在 FP32 中再除以 2^k。BF16 不需要缩放：它的范围就是 FP32 的范围。

**动态损失缩放。** `torch.amp.GradScaler` 从 2^16 开始。如果某一步的梯度含有 inf 或 NaN，就跳过这一步，并把缩放乘以
回退因子（½）；连续 `growth_interval` 个正常步之后，缩放乘以增长因子（2）。缩放一路上升直到碰到溢出上限，然后在上限下方
呈锯齿状；一次梯度尖峰会让上限在一步内降低，缩放随之减半。

**主权重。** 小于 w 的半个 ulp 的更新会被舍入掉：在 FP16 中 1 + 10⁻⁴ 等于 1，永远如此。混合精度训练保留一份 FP32
主权重，在其上累加更新，再把权重转成 16 位用于下一次前向（Micikevicius 等，2018）：小的更新不断累积，直到足以让 16 位
权重移动。
""",
)

DEMO = Demo(
    slug="mixed-precision",
    section="training",
    figures=5,
    title=Text("Mixed precision", "混合精度"),
    summary=Text(
        "FP32, FP16, BF16 and FP8 bit by bit; underflow, dynamic loss scaling and FP32 master "
        "weights.",
        "逐位看 FP32、FP16、BF16 与 FP8；下溢、动态损失缩放与 FP32 主权重。",
    ),
    sources=(
        Source(
            "Mixed precision training",
            "P. Micikevicius et al.",
            2018,
            "https://arxiv.org/abs/1710.03740",
        ),
        Source(
            "A study of BFLOAT16 for deep learning training",
            "D. Kalamkar et al.",
            2019,
            "https://arxiv.org/abs/1905.12322",
        ),
        Source(
            "FP8 formats for deep learning",
            "P. Micikevicius et al.",
            2022,
            "https://arxiv.org/abs/2209.05433",
        ),
        Source("IEEE standard for floating-point arithmetic (IEEE 754-2019)", "IEEE", 2019),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
