"""The LLaMA block piece by piece: what do RMSNorm, SwiGLU, RoPE and pre-norm each change?

LLaMA (Touvron et al. 2023) keeps the Transformer decoder but swaps four parts: RMSNorm for
LayerNorm, a SwiGLU feed-forward layer for ReLU/GELU, rotary position embeddings for absolute
ones, and normalisation before each sublayer instead of after. Each figure takes one swap and
shows it on real tensors from `core.llm.blocks`.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel, field_validator

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch

C_IN, C_LN, C_RMS = COLORWAY[6], COLORWAY[0], COLORWAY[1]
C_PRE, C_POST = COLORWAY[2], COLORWAY[3]
SWEEP_DEPTHS = (1, 3, 8, 24)  # Xiong et al.'s Theorem 1: the last layer's gradient vs L
SWEEP_WIDTH, SWEEP_TOKENS = 32, 16
N_HEADS = 4
DECAY_DISTANCES = np.unique(np.round(np.geomspace(1, 65536, 120)).astype(int))
BASES = ("10000", "500000")


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    shift: float = param(
        0.0,
        en="Norms: shift added to every input",
        zh="归一化：给每个输入加的平移",
        ge=-3.0,
        le=3.0,
        step=0.1,
    )
    scale: float = param(
        1.0, en="Norms: input scale", zh="归一化：输入缩放", ge=0.1, le=10.0, step=0.1
    )
    rope_head_dim: int = param(
        64,
        en="RoPE: head dim d",
        zh="RoPE：头维度 d",
        help_en="Even: RoPE turns pairs of dimensions.",
        help_zh="须为偶数：RoPE 按维度对旋转。",
        ge=4,
        le=128,
        step=2,
    )
    rope_base: Literal["10000", "500000"] = param(
        "10000",
        en="RoPE base",
        zh="RoPE 基数",
        choices={
            "10000": Text("10⁴ (LLaMA, Llama 2)", "10⁴（LLaMA、Llama 2）"),
            "500000": Text("5·10⁵ (Llama 3)", "5·10⁵（Llama 3）"),
        },
    )
    position: int = param(
        5, en="RoPE: position m of the clocks", zh="RoPE：时钟所在位置 m", ge=0, le=63
    )
    n_positions: int = param(
        48, en="RoPE: positions in the score map", zh="RoPE：分数图中的位置数", ge=2, le=64
    )
    depth: int = param(12, en="Stack: layers", zh="堆叠：层数", ge=1, le=24)
    d_model: int = param(
        64,
        en="Stack: model width D",
        zh="堆叠：模型宽度 D",
        help_en=f"A multiple of 8: {N_HEADS} heads of even width.",
        help_zh=f"须为 8 的倍数：{N_HEADS} 个头，每个头宽度为偶数。",
        ge=8,
        le=128,
        step=8,
    )
    n_tokens: int = param(32, en="Stack: tokens N", zh="堆叠：token 数 N", ge=1, le=64)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)

    @field_validator("rope_head_dim")
    @classmethod
    def _even(cls, d: int) -> int:
        if d % 2:
            raise ValueError(f"RoPE turns pairs of dimensions, so d must be even (got {d})")
        return d

    @field_validator("d_model")
    @classmethod
    def _multiple_of_eight(cls, d_model: int) -> int:
        if d_model % 8:
            raise ValueError(f"must be a multiple of 8 ({N_HEADS} heads of even width)")
        return d_model


def _torch() -> torch:
    import torch

    return torch


# --- 1. RMSNorm vs LayerNorm -------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _norms(shift: float, scale: float, seed: int) -> dict:
    torch = _torch()
    import torch.nn.functional as F

    from core.llm.blocks import rms_norm

    g = torch.Generator().manual_seed(seed)
    x3 = torch.randn(40, 3, generator=g, dtype=torch.float64) * scale + shift
    x64 = torch.randn(256, 64, generator=g, dtype=torch.float64) * scale + shift
    out = {"x3": x3.numpy()}
    for name, x in (("3", x3), ("64", x64)):
        out[f"ln{name}"] = F.layer_norm(x, (x.shape[-1],), eps=1e-6).numpy()
        out[f"rms{name}"] = rms_norm(x, eps=1e-6).numpy()
    out["x64"] = x64.numpy()
    return out


def _norm_figure(p: Params, lang: str) -> go.Figure:
    n = _norms(p.shift, p.scale, p.seed)
    names = {
        "x": Text("input x", "输入 x"),
        "ln": Text("LayerNorm(x): mean removed, radius √d", "LayerNorm(x)：去均值，半径 √d"),
        "rms": Text("RMSNorm(x): only rescaled to radius √d", "RMSNorm(x)：只缩放到半径 √d"),
    }
    data = []
    for key, color in (("x", C_IN), ("ln", C_LN), ("rms", C_RMS)):
        pts = n["x3"] if key == "x" else n[f"{key}3"]
        data.append(
            {
                "type": "scatter3d",
                "mode": "markers",
                "x": pts[:, 0],
                "y": pts[:, 1],
                "z": pts[:, 2],
                "marker": {"size": 3.5, "color": color, "opacity": 0.9},
                "name": names[key](lang),
                "legendgroup": key,
            }
        )
    # LayerNorm's outputs lie on the circle of radius √3 in the plane ⊥ (1, 1, 1)
    t = np.linspace(0, 2 * np.pi, 121)
    u, v = np.array([1, -1, 0]) / math.sqrt(2), np.array([1, 1, -2]) / math.sqrt(6)
    circle = math.sqrt(3) * (np.outer(np.cos(t), u) + np.outer(np.sin(t), v))
    data.append(
        {
            "type": "scatter3d",
            "mode": "lines",
            "x": circle[:, 0],
            "y": circle[:, 1],
            "z": circle[:, 2],
            "line": {"color": C_LN, "width": 3},
            "name": Text("circle r = √3 in the plane ⊥ 1", "平面 ⊥ 1 上半径 √3 的圆")(lang),
            "legendgroup": "ln",
        }
    )
    bins = {"start": -6, "end": 6, "size": 0.2}
    for key, color in (("ln", C_LN), ("rms", C_RMS)):
        values = n[f"{key}64"].ravel()
        data.append(
            {
                "type": "histogram",
                "x": values,
                "xbins": bins,
                "histnorm": "probability density",
                "marker": {"color": color},
                "opacity": 0.6,
                "name": f"{names[key](lang).split(':')[0].split('：')[0]}, d = 64",
                "xaxis": "x",
                "yaxis": "y",
            }
        )
    axis3 = {"title": {"text": ""}, "showbackground": False}
    layout = {
        "title": {
            "text": Text(
                f"RMSNorm vs LayerNorm on inputs × {p.scale:g} + {p.shift:g}",
                f"RMSNorm 与 LayerNorm：输入 × {p.scale:g} + {p.shift:g}",
            )(lang)
        },
        "scene": {
            "domain": {"x": [0, 0.5], "y": [0, 1]},
            "xaxis": axis3,
            "yaxis": axis3,
            "zaxis": axis3,
            "aspectmode": "data",
        },
        "xaxis": {
            "domain": [0.6, 1],
            "title": {"text": Text("output value (d = 64)", "输出值（d = 64）")(lang)},
        },
        "yaxis": {
            "anchor": "x",
            "title": {"text": Text("density", "密度")(lang)},
        },
        "annotations": [
            caption(Text("3-D tokens", "三维 token")(lang), x=0),
            caption(
                Text("values of 256 tokens of width 64", "256 个 64 维 token 的取值")(lang), x=0.6
            ),
        ],
        "legend": {"orientation": "h", "x": 0, "y": -0.12},
        "height": 480,
        "barmode": "overlay",
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- 2. SwiGLU ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _swiglu_paths(seed: int) -> dict:
    torch = _torch()
    import torch.nn.functional as F

    from core.llm.blocks import swiglu

    g = torch.Generator().manual_seed(seed)
    d, hidden = 64, 24
    x = torch.randn(1, d, generator=g, dtype=torch.float64)
    w_gate, w_up = (torch.randn(hidden, d, generator=g, dtype=torch.float64) / 8 for _ in range(2))
    w_down = torch.randn(d, hidden, generator=g, dtype=torch.float64) / math.sqrt(hidden)
    gate, value = x @ w_gate.T, x @ w_up.T
    out = swiglu(x, w_gate, w_up, w_down)
    product = F.silu(gate) * value
    return {
        "gate": F.silu(gate)[0].numpy(),
        "value": value[0].numpy(),
        "product": product[0].numpy(),
        "check": float((out - product @ w_down.T).abs().max()),
    }


def ffn_parameters() -> list[tuple[Text, int, int]]:
    """(name, d, parameters of one FFN) for the comparisons the figure draws."""
    from core.llm.blocks import llama_ffn_hidden_dim

    d = 4096
    rows = [
        (Text("GELU, 4d", "GELU，4d"), d, 2 * d * 4 * d),
        (
            Text("SwiGLU, 8d/3", "SwiGLU，8d/3"),
            d,
            3 * d * 8 * d // 3,
        ),
        (
            Text("7B: 11008", "7B：11008"),
            d,
            3 * d * llama_ffn_hidden_dim(d),
        ),
        (
            Text("70B: 28672", "70B：28672"),
            8192,
            3 * 8192 * llama_ffn_hidden_dim(8192, 4096, 1.3),
        ),
    ]
    return rows


def _swiglu_figure(p: Params, lang: str) -> go.Figure:
    s = _swiglu_paths(p.seed)
    units = np.arange(len(s["gate"]))
    data = [
        {
            "type": "bar",
            "x": units,
            "y": s["gate"],
            "name": Text("gate path: SiLU(x W_gateᵀ)", "门控路径：SiLU(x W_gateᵀ)")(lang),
            "marker": {"color": COLORWAY[4]},
            "opacity": 0.75,
        },
        {
            "type": "bar",
            "x": units,
            "y": s["value"],
            "name": Text("value path: x W_upᵀ", "数值路径：x W_upᵀ")(lang),
            "marker": {"color": COLORWAY[5]},
            "opacity": 0.75,
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": units,
            "y": s["product"],
            "name": Text("product (goes to W_down)", "乘积（送入 W_down）")(lang),
            "marker": {"color": COLORWAY[7], "size": 9, "symbol": "diamond"},
        },
    ]
    rows = ffn_parameters()
    ratio = [params / d**2 for _, d, params in rows]
    data.append(
        {
            "type": "bar",
            "y": [name(lang) for name, _, _ in rows],
            "x": ratio,
            "orientation": "h",
            "xaxis": "x2",
            "yaxis": "y2",
            "marker": {"color": [COLORWAY[6], COLORWAY[2], COLORWAY[0], COLORWAY[1]]},
            "text": [f"{r:.4g} d²" for r in ratio],
            "textposition": "auto",
            "showlegend": False,
            "hovertemplate": "%{y}: %{x:.4g} d²<extra></extra>",
        }
    )
    layout = {
        "title": {
            "text": Text(
                "SwiGLU: a gated FFN at 8d/3 costs what a 4d FFN costs",
                "SwiGLU：宽度 8d/3 的门控 FFN 与 4d 的普通 FFN 参数量相同",
            )(lang)
        },
        "barmode": "group",
        "xaxis": {
            "domain": [0, 0.52],
            "title": {"text": Text("hidden unit (one token)", "隐藏单元（一个 token）")(lang)},
        },
        "yaxis": {"title": {"text": Text("activation", "激活值")(lang)}},
        "xaxis2": {
            "domain": [0.7, 1],
            "anchor": "y2",
            "title": {
                "text": Text("parameters per FFN (units of d²)", "每个 FFN 的参数（以 d² 为单位）")(
                    lang
                )
            },
        },
        "yaxis2": {"anchor": "x2", "automargin": True},
        "legend": {"orientation": "h", "x": 0, "y": -0.25},
        "height": 400,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- 3. RoPE -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _rope_maps(d: int, base: float, n: int, seed: int) -> dict:
    torch = _torch()

    from core.llm.blocks import rope

    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(1, d, generator=g, dtype=torch.float64) for _ in range(2))
    positions = torch.arange(n)
    q_rot = rope(q.expand(n, d), positions, base)
    k_rot = rope(k.expand(n, d), positions, base)
    rope_scores = q_rot @ k_rot.T
    # absolute sinusoidal embeddings (Vaswani et al. 2017, §3.5) added to the same q and k
    i = torch.arange(d // 2, dtype=torch.float64)
    angle = positions.double()[:, None] / base ** (2 * i / d)
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)
    absolute = (q + pe) @ (k + pe).T
    diagonal_spread = max(
        float(rope_scores.diagonal(offset).max() - rope_scores.diagonal(offset).min())
        for offset in range(-n + 1, n)
    )
    absolute_spread = max(
        float(absolute.diagonal(offset).max() - absolute.diagonal(offset).min())
        for offset in range(-n + 1, n)
    )
    return {
        "rope": rope_scores.numpy(),
        "absolute": absolute.numpy(),
        "rope_spread": diagonal_spread,
        "absolute_spread": absolute_spread,
    }


def decay_bound(d: int, base: float, distances: np.ndarray) -> np.ndarray:
    """RoFormer's bound on |q·k| at relative distance r: (2/d)·Σ_j |S_j|, S_j = Σ_(k<j) e^(i r θ_k).

    Su et al. 2021, §3.4.3; θ_k = base^(−2k/d). Normalised so that the bound is 1 at r = 0 is
    not done here: at r = 0 it is (2/d)·Σ_j j = (d/2 + 1)/2.
    """
    theta = base ** (-2 * np.arange(d // 2) / d)
    partial = np.cumsum(np.exp(1j * np.outer(distances, theta)), axis=1)  # S_1 … S_(d/2)
    return np.abs(partial).mean(axis=1)


def _rope_figure(p: Params, lang: str) -> go.Figure:
    d, base = p.rope_head_dim, float(p.rope_base)
    pairs = sorted({round(float(x)) for x in np.linspace(0, d // 2 - 1, min(6, d // 2))})
    data, layout, annotations = [], {}, []
    clock_domains = [[i / len(pairs), (i + 0.75) / len(pairs)] for i in range(len(pairs))]
    ring = np.linspace(0, 2 * np.pi, 73)
    for c, i in enumerate(pairs):
        axis = str(c + 1) if c else ""
        theta = base ** (-2 * i / d)
        past = p.position * theta * np.linspace(0, 1, 40)
        hand = p.position * theta
        common = {"xaxis": f"x{axis}", "yaxis": f"y{axis}", "showlegend": False}
        data += [
            {
                "type": "scatter",
                "mode": "lines",
                "x": np.cos(ring),
                "y": np.sin(ring),
                "line": {"color": COLORWAY[6], "width": 1},
                "hoverinfo": "skip",
                **common,
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": 0.75 * np.cos(past),
                "y": 0.75 * np.sin(past),
                "line": {"color": COLORWAY[4], "width": 2},
                "hoverinfo": "skip",
                **common,
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [0, math.cos(hand)],
                "y": [0, math.sin(hand)],
                "marker": {"size": [0, 8], "color": COLORWAY[0]},
                "line": {"color": COLORWAY[0], "width": 3},
                "hovertemplate": f"pair {i}: angle {hand:.3g} rad<extra></extra>",
                **common,
            },
        ]
        hidden = {"visible": False, "fixedrange": True, "range": [-1.2, 1.2]}
        layout[f"xaxis{axis}"] = {**hidden, "domain": clock_domains[c], "anchor": f"y{axis}"}
        layout[f"yaxis{axis}"] = {
            **hidden,
            "domain": [0.68, 0.95],
            "anchor": f"x{axis}",
            "scaleanchor": f"x{axis}",
        }
        wavelength = 2 * math.pi / theta
        annotations.append(
            {
                **caption(
                    Text(f"pair {i}: λ {wavelength:.3g}", f"第 {i} 对：λ {wavelength:.3g}")(lang),
                    size=11,
                ),
                "xref": f"x{axis} domain",
                "yref": f"y{axis} domain",
            }
        )
    n = p.n_positions
    maps = _rope_maps(d, base, n, p.seed)
    lower = [0.0, 0.52]
    for c, key in enumerate(("rope", "absolute")):
        index = len(pairs) + 1 + c
        axis = str(index)
        data.append(
            {
                "type": "heatmap",
                "z": maps[key].astype(np.float32),
                "colorscale": "RdBu",
                "zmid": 0,
                "showscale": False,
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
                "hovertemplate": "m %{y}, n %{x}: %{z:.3f}<extra></extra>",
            }
        )
        layout[f"xaxis{axis}"] = {
            "domain": [0.0, 0.28] if c == 0 else [0.36, 0.64],
            "anchor": f"y{axis}",
            "title": {"text": Text("key position n", "键位置 n")(lang)},
        }
        layout[f"yaxis{axis}"] = {
            "domain": lower,
            "anchor": f"x{axis}",
            "autorange": "reversed",
            "title": {"text": Text("query position m", "查询位置 m")(lang) if c == 0 else ""},
        }
        label = (
            Text("RoPE: q_m·k_n, constant along diagonals", "RoPE：q_m·k_n 沿对角线不变")
            if key == "rope"
            else Text("absolute: (q + p_m)·(k + p_n)", "绝对位置：(q + p_m)·(k + p_n)")
        )
        annotations.append(
            {**caption(label(lang), size=11), "xref": f"x{axis} domain", "yref": f"y{axis} domain"}
        )
    decay_axis = str(len(pairs) + 3)
    for b, dash in zip(BASES, ("solid", "dash"), strict=True):
        bound = decay_bound(d, float(b), DECAY_DISTANCES)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": DECAY_DISTANCES,
                "y": bound / bound.max(),
                "name": Text(f"decay bound, base {int(b):,}", f"衰减上界，基数 {int(b):,}")(lang),
                "line": {"dash": dash, "color": COLORWAY[0] if b == p.rope_base else COLORWAY[6]},
                "xaxis": f"x{decay_axis}",
                "yaxis": f"y{decay_axis}",
            }
        )
    layout[f"xaxis{decay_axis}"] = {
        "domain": [0.74, 1],
        "type": "log",
        "anchor": f"y{decay_axis}",
        "title": {"text": Text("relative distance (log)", "相对距离（对数）")(lang)},
    }
    layout[f"yaxis{decay_axis}"] = {
        "domain": lower,
        "anchor": f"x{decay_axis}",
        "title": {"text": Text("bound / bound at 0", "上界 / 距离 0 处的上界")(lang)},
    }
    annotations.append(
        {
            **caption(Text("RoFormer's long-term decay", "RoFormer 的远程衰减")(lang), size=11),
            "xref": f"x{decay_axis} domain",
            "yref": f"y{decay_axis} domain",
        }
    )
    layout.update(
        {
            "title": {
                "text": Text(
                    f"RoPE: each pair of dimensions is a clock hand turned by the position (m = {p.position})",
                    f"RoPE：每对维度是一根随位置转动的时钟指针（m = {p.position}）",
                )(lang)
            },
            "annotations": annotations,
            "legend": {"orientation": "h", "x": 0.6, "y": -0.12},
            "height": 620,
        }
    )
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- 4. pre- vs post-norm --------------------------------------------------------------------


def _stack_inputs(d_model: int, n_tokens: int, depth: int, seed: int) -> tuple:
    torch = _torch()

    from core.llm.blocks import init_block_weights, llama_ffn_hidden_dim

    g = torch.Generator().manual_seed(seed)
    ffn = llama_ffn_hidden_dim(d_model, 8)
    layers = [init_block_weights(d_model, N_HEADS, N_HEADS, ffn, generator=g) for _ in range(depth)]
    x = torch.randn(1, n_tokens, d_model, generator=g)
    vocab = 64
    targets = torch.randint(0, vocab, (1, n_tokens), generator=g)
    readout = torch.randn(vocab, d_model, generator=g) / math.sqrt(d_model)
    return x, layers, targets, readout


@functools.lru_cache(maxsize=32)
def _stack(d_model: int, n_tokens: int, depth: int, seed: int) -> dict:
    from core.llm.blocks import stack_gradients
    from core.trace import Trace

    x, layers, targets, readout = _stack_inputs(d_model, n_tokens, depth, seed)
    result = {}
    for norm in ("pre", "post"):
        trace = Trace()
        stack_gradients(x, layers, N_HEADS, N_HEADS, targets, readout, norm=norm, trace=trace)
        result[norm] = {
            "grad": np.array(trace.column("layer", "grad_norm")),
            "stream": np.array(trace.column("layer", "stream_norm")),
        }
    return result


@functools.lru_cache(maxsize=1)
def depth_sweep(seed: int = 0) -> dict[str, np.ndarray]:
    """The last layer's ‖∂L/∂W‖ for stacks of SWEEP_DEPTHS layers (width 32, 16 tokens).

    One fixed illustration (seed 0 in the demo), computed once per process.
    """
    from core.llm.blocks import stack_gradients
    from core.trace import Trace

    result = {}
    for norm in ("pre", "post"):
        last = []
        for depth in SWEEP_DEPTHS:
            x, layers, targets, readout = _stack_inputs(SWEEP_WIDTH, SWEEP_TOKENS, depth, seed)
            trace = Trace()
            stack_gradients(x, layers, N_HEADS, N_HEADS, targets, readout, norm=norm, trace=trace)
            last.append(trace.column("layer", "grad_norm")[-1])
        result[norm] = np.array(last)
    return result


def _stack_figure(p: Params, lang: str) -> go.Figure:
    stack = _stack(p.d_model, p.n_tokens, p.depth, p.seed)
    sweep = depth_sweep()
    layers = np.arange(1, p.depth + 1)
    names = {"pre": Text("pre-norm", "前置归一化"), "post": Text("post-norm", "后置归一化")}
    colors = {"pre": C_PRE, "post": C_POST}
    data = []
    for norm in ("pre", "post"):
        common = {"line": {"color": colors[norm]}, "legendgroup": norm}
        data += [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": layers,
                "y": stack[norm]["grad"],
                "name": names[norm](lang),
                **common,
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": layers,
                "y": stack[norm]["stream"],
                "xaxis": "x2",
                "yaxis": "y2",
                "showlegend": False,
                **common,
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": list(SWEEP_DEPTHS),
                "y": sweep[norm],
                "xaxis": "x3",
                "yaxis": "y3",
                "showlegend": False,
                **common,
            },
        ]
    scale = sweep["pre"][0] * np.sqrt(1 / np.array(SWEEP_DEPTHS))
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": list(SWEEP_DEPTHS),
            "y": scale,
            "xaxis": "x3",
            "yaxis": "y3",
            "line": {"dash": "dot", "color": COLORWAY[6]},
            "name": Text("∝ 1/√L", "∝ 1/√L")(lang),
        }
    )
    layer_title = Text("layer l (1 = input side)", "第 l 层（1 = 输入端）")(lang)
    layout = {
        "title": {
            "text": Text(
                f"Pre- vs post-norm: {p.depth} real decoder blocks at initialisation",
                f"前置与后置归一化：初始化时的 {p.depth} 个真实解码器块",
            )(lang)
        },
        "xaxis": {"domain": [0, 0.28], "title": {"text": layer_title}},
        "yaxis": {"type": "log", "title": {"text": "‖∂L/∂W_l‖ (log)"}},
        "xaxis2": {"domain": [0.37, 0.63], "anchor": "y2", "title": {"text": layer_title}},
        "yaxis2": {
            "anchor": "x2",
            "title": {"text": Text("residual stream ‖x_l‖", "残差流 ‖x_l‖")(lang)},
        },
        "xaxis3": {
            "domain": [0.74, 1],
            "anchor": "y3",
            "type": "log",
            "title": {"text": Text("depth L (log)", "深度 L（对数）")(lang)},
        },
        "yaxis3": {
            "anchor": "x3",
            "type": "log",
            "title": {"text": Text("last layer's ‖∂L/∂W‖", "最后一层的 ‖∂L/∂W‖")(lang)},
        },
        "annotations": [
            caption(Text("weight gradient per layer", "每层的权重梯度")(lang), x=0),
            caption(Text("stream after each layer", "每层之后的残差流")(lang), x=0.37),
            caption(
                Text(
                    f"Xiong et al.'s Thm 1 (D = {SWEEP_WIDTH})",
                    f"Xiong 等的定理 1（D = {SWEEP_WIDTH}）",
                )(lang),
                x=0.74,
            ),
        ],
        "legend": {"orientation": "h", "x": 0, "y": -0.22},
        "height": 420,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- notes and render ------------------------------------------------------------------------


def _notes(p: Params, lang: str) -> str:
    n = _norms(p.shift, p.scale, p.seed)
    ln_mean = float(np.abs(n["ln64"].mean(axis=1)).max())
    rms_mean = float(n["rms64"].mean(axis=1).mean())
    radius = float(np.linalg.norm(n["rms64"], axis=1).mean())
    maps = _rope_maps(p.rope_head_dim, float(p.rope_base), p.n_positions, p.seed)
    stack = _stack(p.d_model, p.n_tokens, p.depth, p.seed)
    sweep = depth_sweep()
    check = _swiglu_paths(p.seed)["check"]
    pre, post = stack["pre"]["grad"], stack["post"]["grad"]
    lines = [
        Text(
            f"**Norms (d = 64):** LayerNorm's per-token mean ≤ {ln_mean:.1e}; RMSNorm keeps a mean "
            f"of {rms_mean:.3f} and puts tokens at radius {radius:.3f} (√64 = 8). RMSNorm needs one reduction per token "
            f"where LayerNorm needs two (mean, then variance); Zhang & Sennrich (2019) measured "
            f"7–64% less running time.",
            f"**归一化（d = 64）**：LayerNorm 每个 token 的均值 ≤ {ln_mean:.1e}；RMSNorm 保留均值 {rms_mean:.3f}，"
            f"并把 token 放到半径 {radius:.3f} 处（√64 = 8）。RMSNorm 每个 token 只需一次归约，"
            f"LayerNorm 需要两次（先均值，再方差）；Zhang 与 Sennrich（2019）测得运行时间减少 7%–64%。",
        )(lang),
        Text(
            f"**SwiGLU:** `core.llm.blocks.swiglu` vs SiLU(gate)·value through W_down: max |Δ| = "
            f"{check:.1e}. LLaMA-2 7B's 11008 = 256·⌈10922/256⌉; 70B's 28672 = 4096·⌈1.3·21845/4096⌉.",
            f"**SwiGLU**：`core.llm.blocks.swiglu` 与 SiLU(门控)·数值经 W_down 的结果之差 max |Δ| = {check:.1e}。"
            f"LLaMA-2 7B 的 11008 = 256·⌈10922/256⌉；70B 的 28672 = 4096·⌈1.3·21845/4096⌉。",
        )(lang),
        Text(
            f"**RoPE:** largest spread of q_m·k_n along one diagonal: {maps['rope_spread']:.1e} "
            f"(only m − n matters); with absolute embeddings: {maps['absolute_spread']:.2f}.",
            f"**RoPE**：q_m·k_n 沿同一条对角线的最大波动：{maps['rope_spread']:.1e}（只与 m − n 有关）；"
            f"绝对位置编码：{maps['absolute_spread']:.2f}。",
        )(lang),
        Text(
            f"**Stack:** ‖∂L/∂W_l‖ ranges {pre.min():.3g}–{pre.max():.3g} pre-norm and "
            f"{post.min():.3g}–{post.max():.3g} post-norm (max/min {pre.max() / pre.min():.3g} vs "
            f"{post.max() / post.min():.3g}). Last layer from L = 1 to 24: pre-norm "
            f"{sweep['pre'][0]:.3g} → {sweep['pre'][-1]:.3g}, post-norm {sweep['post'][0]:.3g} → "
            f"{sweep['post'][-1]:.3g}.",
            f"**堆叠**：‖∂L/∂W_l‖ 在前置归一化下为 {pre.min():.3g}–{pre.max():.3g}，后置归一化下为 "
            f"{post.min():.3g}–{post.max():.3g}（最大/最小 {pre.max() / pre.min():.3g} 对 "
            f"{post.max() / post.min():.3g}）。最后一层从 L = 1 到 24：前置 {sweep['pre'][0]:.3g} → "
            f"{sweep['pre'][-1]:.3g}，后置 {sweep['post'][0]:.3g} → {sweep['post'][-1]:.3g}。",
        )(lang),
    ]
    return "\n\n".join(lines)


def render(p: Params, lang: str = "en") -> Rendered:
    figures = [
        _norm_figure(p, lang),
        _swiglu_figure(p, lang),
        _rope_figure(p, lang),
        _stack_figure(p, lang),
    ]
    return Rendered(figures, _notes(p, lang))


presets = {
    "rmsnorm-mean": Params(shift=2.0, scale=3.0),
    "swiglu-8d3": Params(),
    "rope-distance": Params(position=20, n_positions=64, rope_head_dim=16),
    "post-norm-24": Params(depth=24, d_model=64, n_tokens=32),
}
preset_titles = {
    "rmsnorm-mean": Text("RMSNorm ignores the mean", "RMSNorm 不管均值"),
    "swiglu-8d3": Text("SwiGLU at 8d/3 costs a 4d FFN", "8d/3 的 SwiGLU 与 4d 的 FFN 一样贵"),
    "rope-distance": Text("RoPE: only distance matters", "RoPE：只有距离要紧"),
    "post-norm-24": Text("post-norm at depth 24", "24 层的后置归一化"),
}

EXPLANATION = Text(
    en="""
**RMSNorm** (Zhang & Sennrich 2019). LayerNorm (Ba, Kiros & Hinton 2016) subtracts each token's
mean and divides by its standard deviation: geometrically it projects the token onto the plane
⊥ (1, …, 1) and puts it on the sphere of radius √d there (the circle in the 3-D picture).
RMSNorm only divides by the root mean square x/√(mean(x²) + ε): every token lands on the sphere
of radius √d, but the mean stays. Both ignore a scale of the input; only LayerNorm ignores a
shift (move the sliders). RMSNorm saves the mean and works as well in practice; LLaMA uses it.

**SwiGLU** (Shazeer 2020). The FFN becomes (SiLU(x W_gateᵀ) ⊙ x W_upᵀ) W_downᵀ: one path decides
how much of each hidden unit passes, the other carries the value. Three matrices instead of two,
so LLaMA shrinks the hidden width to 2/3 of 4d: 3·d·8d/3 = 8d², the cost of a 4d GELU FFN.
Meta's code then rounds up to a multiple (256 for 7B: 11008; 70B multiplies by 1.3 and rounds to
4096: 28672).

**RoPE** (Su et al. 2021, RoFormer). Each pair of dimensions (i, i + d/2) of q and k is a clock
hand turned by the position m at its own speed θ_i = base^(−2i/d): fast pairs see neighbours,
slow pairs (wavelength up to 2π·base) see far. Since a rotation by m and one by n leave only
m − n in a dot product, q_m·k_n depends on the distance alone: the score map is constant along
diagonals, unlike absolute sinusoidal embeddings (Vaswani et al. 2017) added to q and k.
RoFormer bounds |q·k| by a sum that decays with the distance; a larger base (Llama 3's 5·10⁵)
stretches the wavelengths for long contexts.

**Pre-norm** (Xiong et al. 2020). The original Transformer normalises after each residual sum
(post-norm); LLaMA normalises the input of each sublayer and leaves the residual stream
untouched (pre-norm), so the stream grows with depth. Xiong et al. show that at initialisation
post-norm's gradients near the output do not shrink with depth, which is why it needs a
learning-rate warm-up, while pre-norm's scale like 1/√L. The right panel reproduces that on
real blocks. Here, with SwiGLU and RMSNorm, post-norm's per-layer gradients are also far less
even, largest at the input side: Xiong's plot, made with ReLU FFNs and LayerNorm, has them
peak near the output. Either way, pre-norm keeps them within a small factor.

Touvron et al. 2023 (LLaMA; Llama 2) put these four together.
""",
    zh="""
**RMSNorm**（Zhang 与 Sennrich，2019）。LayerNorm（Ba、Kiros 与 Hinton，2016）减去每个 token 的均值再除以标准差：
几何上就是把 token 投影到与 (1, …, 1) 垂直的平面上，并放到该平面内半径 √d 的球面上（三维图中的圆）。
RMSNorm 只除以均方根 x/√(mean(x²) + ε)：每个 token 都落在半径 √d 的球面上，但均值保留。两者都不受输入缩放影响；
只有 LayerNorm 不受平移影响（拖动滑块试试）。RMSNorm 省去了求均值，实践中效果一样好，LLaMA 采用了它。

**SwiGLU**（Shazeer，2020）。FFN 变成 (SiLU(x W_gateᵀ) ⊙ x W_upᵀ) W_downᵀ：一条路径决定每个隐藏单元放行多少，
另一条携带数值。矩阵从两个变成三个，所以 LLaMA 把隐藏宽度缩到 4d 的 2/3：3·d·8d/3 = 8d²，与 4d 的 GELU FFN 参数量相同。
Meta 的代码再向上取整到某个倍数（7B 取 256 的倍数：11008；70B 先乘 1.3，再取 4096 的倍数：28672）。

**RoPE**（Su 等，2021，RoFormer）。q 和 k 的每一对维度 (i, i + d/2) 是一根时钟指针，按位置 m 以各自的速度
θ_i = base^(−2i/d) 旋转：转得快的对关注近邻，转得慢的对（波长可达 2π·base）关注远处。旋转 m 与旋转 n 在点积中只留下 m − n，
所以 q_m·k_n 只取决于距离：分数图沿对角线不变；而把绝对正弦位置编码（Vaswani 等，2017）加到 q、k 上则不然。
RoFormer 给出 |q·k| 的一个随距离衰减的上界；更大的基数（Llama 3 的 5·10⁵）把波长拉长，适合长上下文。

**前置归一化**（Xiong 等，2020）。原始 Transformer 在每次残差相加之后归一化（后置）；LLaMA 对每个子层的输入归一化，
残差流本身不动（前置），因此残差流随深度增长。Xiong 等证明：初始化时后置归一化靠近输出的梯度不随深度减小，
所以需要学习率预热；而前置归一化的梯度按 1/√L 缩小。右图在真实的解码器块上复现了这一点。此处用 SwiGLU 与 RMSNorm，
后置归一化各层的梯度也很不均匀，在输入端最大；Xiong 的图用的是 ReLU FFN 和 LayerNorm，峰值在输出端。无论哪种，
前置归一化都把各层梯度控制在较小的倍数之内。

Touvron 等 2023（LLaMA；Llama 2）把这四点组合在一起。
""",
)

DEMO = Demo(
    slug="llama-blocks",
    section="attention",
    figures=4,
    title=Text("The LLaMA block, piece by piece", "逐个拆解 LLaMA 的模块"),
    summary=Text(
        "RMSNorm vs LayerNorm, the SwiGLU FFN and its 8d/3 width, RoPE's rotating pairs and "
        "relative scores, pre- vs post-norm gradients in a real stack.",
        "RMSNorm 与 LayerNorm、SwiGLU FFN 及其 8d/3 宽度、RoPE 的旋转维度对与相对位置分数、"
        "真实堆叠中前置与后置归一化的梯度。",
    ),
    sources=(
        Source(
            "LLaMA: Open and Efficient Foundation Language Models",
            "H. Touvron et al.",
            2023,
            "https://arxiv.org/abs/2302.13971",
        ),
        Source(
            "Llama 2: Open Foundation and Fine-Tuned Chat Models",
            "H. Touvron et al.",
            2023,
            "https://arxiv.org/abs/2307.09288",
        ),
        Source(
            "Layer Normalization",
            "J. L. Ba, J. R. Kiros, G. E. Hinton",
            2016,
            "https://arxiv.org/abs/1607.06450",
        ),
        Source(
            "Root Mean Square Layer Normalization",
            "B. Zhang, R. Sennrich",
            2019,
            "https://arxiv.org/abs/1910.07467",
        ),
        Source(
            "GLU Variants Improve Transformer",
            "N. Shazeer",
            2020,
            "https://arxiv.org/abs/2002.05202",
        ),
        Source(
            "RoFormer: Enhanced Transformer with Rotary Position Embedding",
            "J. Su et al.",
            2021,
            "https://arxiv.org/abs/2104.09864",
        ),
        Source(
            "On Layer Normalization in the Transformer Architecture",
            "R. Xiong et al.",
            2020,
            "https://arxiv.org/abs/2002.04745",
        ),
        Source(
            "Attention Is All You Need",
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
