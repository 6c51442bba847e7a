"""Activation functions: what each curve looks like, and what it does to a network's gradients.

The question: why did networks move from the perceptron's threshold to sigmoid, then ReLU, then
GELU and SwiGLU? The curves and their slopes, a random layer's histograms with its dead units,
and the gradient that reaches each layer of a deep stack answer it.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

Function = Literal[
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "gelu_tanh",
    "silu",
    "mish",
    "softplus",
    "glu",
    "reglu",
    "geglu",
    "swiglu",
]
NAMES: dict[str, Text] = {
    "step": Text("Step (perceptron)", "阶跃（感知机）"),
    "sigmoid": Text("Sigmoid", "Sigmoid"),
    "tanh": Text("Tanh", "Tanh"),
    "relu": Text("ReLU", "ReLU"),
    "leaky_relu": Text("Leaky ReLU", "Leaky ReLU"),
    "elu": Text("ELU", "ELU"),
    "gelu": Text("GELU (erf)", "GELU（erf）"),
    "gelu_tanh": Text("GELU (tanh approx.)", "GELU（tanh 近似）"),
    "silu": Text("SiLU / Swish", "SiLU / Swish"),
    "mish": Text("Mish", "Mish"),
    "softplus": Text("Softplus", "Softplus"),
    "glu": Text("GLU (gated)", "GLU（门控）"),
    "reglu": Text("ReGLU (gated)", "ReGLU（门控）"),
    "geglu": Text("GEGLU (gated)", "GEGLU（门控）"),
    "swiglu": Text("SwiGLU (gated)", "SwiGLU（门控）"),
}
SATURATION = 0.05  # a slope below this is drawn as "saturated": almost no gradient passes
BIAS_SWEEP = np.linspace(-6.0, 6.0, 17)
LAYER = {"fan_in": 64, "width": 64, "n_samples": 64}  # the random layer of the dead-unit figures
CURVE_POINTS = 241


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    functions: list[Function] = param(
        ["sigmoid", "relu", "gelu"],
        en="Functions",
        zh="激活函数",
        help_en="Gated units (GLU family) take two inputs: they appear in the layer and depth figures.",
        help_zh="门控单元（GLU 系列）有两个输入：它们出现在单层与深度两张图中。",
        choices=NAMES,
        min_length=1,
        max_length=len(NAMES),
    )
    x_range: float = param(6.0, en="x range (±)", zh="x 范围（±）", ge=1.0, le=20.0, step=0.5)
    focus: Function = param(
        "relu",
        en="Function in focus (shading, histograms)",
        zh="重点观察的函数（阴影、直方图）",
        choices=NAMES,
    )
    bias_shift: float = param(
        0.0,
        en="Bias of the random layer",
        zh="随机层的偏置",
        help_en="A large update can push biases negative; watch ReLU units die.",
        help_zh="一次过大的更新可能把偏置推向负值：看 ReLU 神经元如何“死亡”。",
        ge=-6.0,
        le=6.0,
        step=0.25,
    )
    depth: int = param(20, en="Depth of the stack", zh="网络深度（层数）", ge=2, le=50)
    init: Literal["xavier", "kaiming"] = param(
        "xavier",
        en="Weight initialisation",
        zh="权重初始化",
        choices={
            "xavier": Text("Xavier", "Xavier"),
            "kaiming": Text("Kaiming (He)", "Kaiming（He）"),
        },
    )
    residual: bool = param(
        False, en="Pre-norm residual blocks", zh="Pre-norm 残差块（h + f(norm(h)W)）"
    )
    leaky_alpha: float = param(
        0.1,
        en="Leaky ReLU α (PyTorch default 0.01)",
        zh="Leaky ReLU 的 α（PyTorch 默认 0.01）",
        ge=0.01,
        le=1.0,
        step=0.01,
    )
    elu_alpha: float = param(1.0, en="ELU α", zh="ELU 的 α", ge=0.1, le=3.0, step=0.1)
    swish_beta: float = param(1.0, en="Swish β", zh="Swish 的 β", ge=0.1, le=10.0, step=0.1)
    softplus_beta: float = param(
        1.0, en="Softplus β", zh="Softplus 的 β", ge=0.1, le=10.0, step=0.1
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


def _shape(name: str, p: Params) -> dict[str, float]:
    """alpha/beta for the functions that take one, from the demo's four sliders."""
    values = {
        "leaky_relu": {"alpha": p.leaky_alpha},
        "elu": {"alpha": p.elu_alpha},
        "silu": {"beta": p.swish_beta},
        "softplus": {"beta": p.softplus_beta},
    }
    return values.get(name, {})


def _colors(names: list[str]) -> dict[str, str]:
    """One colour per function, in the order given (the same colour in every figure)."""
    return {name: COLORWAY[i % len(COLORWAY)] for i, name in enumerate(dict.fromkeys(names))}


def _elementwise(name: str) -> str:
    """The elementwise function a gated unit applies to its gate half (itself otherwise)."""
    from core import activations as act

    return act.GATE_OF[name][0] if name in act.GATE_OF else name


def _runs(mask: np.ndarray, x: np.ndarray) -> list[tuple[float, float]]:
    """Intervals of x where mask holds, as (start, end) pairs."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [
        (float(x[start]), float(x[end - 1]))
        for start, end in zip(edges[::2], edges[1::2], strict=True)
    ]


def _curves(p: Params, names: list[str], colors: dict[str, str], lang: str) -> go.Figure:
    import torch

    from core import activations as act

    x = torch.linspace(-p.x_range, p.x_range, CURVE_POINTS, dtype=torch.float64)
    xs = x.numpy().astype(np.float32)
    data = []
    for name in names:
        y, slope = act.evaluate(name, x, **_shape(name, p))
        common = {"type": "scatter", "mode": "lines", "x": xs, "legendgroup": name}
        style = {"color": colors[name], "width": 2.5 if name == p.focus else 1.8}
        data.append(
            {
                **common,
                "y": y.numpy().astype(np.float32),
                "name": NAMES[name](lang),
                "line": style,
                "hovertemplate": "x=%{x:.2f}<br>f=%{y:.3f}",
            }
        )
        data.append(
            {
                **common,
                "y": slope.numpy().astype(np.float32),
                "name": NAMES[name](lang),
                "showlegend": False,
                "line": style,
                "xaxis": "x2",
                "yaxis": "y2",
                "hovertemplate": "x=%{x:.2f}<br>f′=%{y:.3f}",
            }
        )

    focus = _elementwise(p.focus)
    _, focus_slope = act.evaluate(focus, x, **_shape(focus, p))
    # Saturation is a tail where the slope stays small; a slope crossing 0 at an interior
    # minimum (GELU near −0.75, SiLU near −1.28) is not one, so keep runs that reach an edge.
    zones = [
        (start, end)
        for start, end in _runs(focus_slope.abs().numpy() < SATURATION, x.numpy())
        if start == -p.x_range or end == p.x_range
    ]
    shapes = [
        {
            "type": "rect",
            "xref": axis,
            "yref": f"{axis.replace('x', 'y')} domain",
            "x0": start,
            "x1": end,
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(128,128,128,0.18)",
            "line": {"width": 0},
            "layer": "below",
        }
        for start, end in zones
        for axis in ("x", "x2")
    ]
    focus_name = NAMES[focus](lang)
    title = Text(
        f"Curves f(x) and slopes f′(x) · shaded: {focus_name}'s slope < {SATURATION} (saturated)",
        f"曲线 f(x) 与斜率 f′(x) · 阴影：{focus_name} 的斜率 < {SATURATION}（饱和区）",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 0.46], "title": {"text": "x"}},
        "yaxis": {"title": {"text": "f(x)"}},
        "xaxis2": {"domain": [0.54, 1], "title": {"text": "x"}, "matches": "x"},
        "yaxis2": {"anchor": "x2", "title": {"text": "f′(x)"}},
        "shapes": shapes,
        "height": 420,
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _histogram_bars(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts, _ = np.histogram(values, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    return centres.astype(np.float32), (counts / max(values.size, 1)).astype(np.float32)


def _layer(
    p: Params, names: list[str], colors: dict[str, str], lang: str
) -> tuple[go.Figure, dict[str, float]]:
    from core import activations as act

    layer = act.random_layer(
        p.focus, bias_shift=p.bias_shift, seed=p.seed, **LAYER, **_shape(p.focus, p)
    )
    pre, post = layer.pre.numpy(), layer.post.numpy()
    low = float(min(np.percentile(pre, 0.5), np.percentile(post, 0.5)))
    high = float(max(np.percentile(pre, 99.5), np.percentile(post, 99.5)))
    edges = np.linspace(low, high if high > low else low + 1, 61)
    pre_x, pre_y = _histogram_bars(np.clip(pre, low, high), edges)
    post_x, post_y = _histogram_bars(np.clip(post, low, high), edges)
    width = float(edges[1] - edges[0])
    labels = {
        "pre": Text("before f (pre-activation)", "f 之前（预激活）"),
        "post": Text("after f (output)", "f 之后（输出）"),
    }
    data = [
        {
            "type": "bar",
            "x": pre_x,
            "y": pre_y,
            "width": width,
            "name": labels["pre"](lang),
            "marker": {"color": "rgba(140,140,140,0.55)"},
            "legendgroup": "hist",
        },
        {
            "type": "bar",
            "x": post_x,
            "y": post_y,
            "width": width,
            "name": labels["post"](lang),
            "marker": {"color": colors[p.focus], "opacity": 0.65},
            "legendgroup": "hist",
        },
    ]
    dead_now = {}
    for name in names:
        shifts = np.append(BIAS_SWEEP, p.bias_shift)  # the sweep, then the current bias
        fractions = act.dead_unit_fractions(name, shifts, seed=p.seed, **LAYER, **_shape(name, p))
        dead_now[name] = float(fractions[-1])
        fractions = fractions[:-1]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": BIAS_SWEEP.astype(np.float32),
                "y": (100 * fractions).numpy(),
                "name": NAMES[name](lang),
                "xaxis": "x2",
                "yaxis": "y2",
                "line": {
                    "color": colors[name],
                    "width": 2.5 if name == p.focus else 1.6,
                },
                "hovertemplate": "b=%{x:.2f}<br>%{y:.0f}%",
            }
        )
    title = Text(
        f"A random layer of {NAMES[p.focus].en}: {100 * layer.dead_fraction:.0f}% of units dead "
        f"at bias {p.bias_shift:+.2f}",
        f"{NAMES[p.focus].zh} 的随机层：偏置 {p.bias_shift:+.2f} 时 {100 * layer.dead_fraction:.0f}% 的神经元死亡",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 0.46], "title": {"text": Text("value", "数值")(lang)}},
        "yaxis": {"title": {"text": Text("share of values", "占比")(lang)}},
        "xaxis2": {
            "domain": [0.54, 1],
            "title": {"text": Text("bias b", "偏置 b")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "range": [-3, 103],
            "title": {"text": Text("dead units (%)", "死神经元（%）")(lang)},
        },
        "shapes": [
            {
                "type": "line",
                "xref": "x2",
                "yref": "y2 domain",
                "x0": p.bias_shift,
                "x1": p.bias_shift,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "width": 1.5, "color": "rgba(128,128,128,0.9)"},
            }
        ],
        "height": 400,
        "legend": {"orientation": "h", "y": -0.22},
        "bargap": 0,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), dead_now


def _depth(
    p: Params, names: list[str], colors: dict[str, str], lang: str
) -> tuple[go.Figure, dict[str, tuple[float, float]]]:
    from core import activations as act

    layers = np.arange(1, p.depth + 1)
    data, ends = [], {}
    for name in names:
        flow = act.gradient_norms_by_depth(
            name,
            depth=p.depth,
            init=p.init,
            residual=p.residual,
            seed=p.seed,
            **_shape(name, p),
        )
        norms = flow.weight_grad_norm.numpy()
        shown = np.where(np.isfinite(norms) & (norms > 0), norms, np.nan)  # a log axis drops 0
        ends[name] = (float(norms[0]), float(norms[-1]))
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": layers,
                "y": shown,
                "name": NAMES[name](lang),
                "marker": {"size": 5},
                "line": {
                    "color": colors[name],
                    "width": 2.5 if name == p.focus else 1.8,
                },
                "hovertemplate": Text(
                    "layer %{x}<br>‖∂L/∂W‖=%{y:.2e}", "第 %{x} 层<br>‖∂L/∂W‖=%{y:.2e}"
                )(lang),
            }
        )
    kind = (
        Text("pre-norm residual", "pre-norm 残差")(lang)
        if p.residual
        else Text("plain", "普通")(lang)
    )
    title = Text(
        f"Gradient reaching each layer at initialisation ({kind} stack, {p.init} init)",
        f"初始化时到达每一层的梯度（{kind}网络，{p.init} 初始化）",
    )
    hidden = [NAMES[n](lang) for n, (first, last) in ends.items() if not _drawable(first, last)]
    annotations = []
    if hidden:
        note = Text(
            "Not drawn (the gradient is 0 or overflowed, a log axis cannot show it): ",
            "未画出（梯度为 0 或溢出，对数坐标无法显示）：",
        )
        annotations.append(caption(note(lang) + ", ".join(hidden)))
    layout = {
        "title": {"text": title(lang)},
        "annotations": annotations,
        "xaxis": {
            "title": {"text": Text("layer (1 = next to the input)", "层（1 = 最靠近输入）")(lang)},
            "range": [0.5, p.depth + 0.5],
        },
        "yaxis": {
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("‖∂L/∂W_l‖ (log scale)", "‖∂L/∂W_l‖（对数坐标）")(lang)},
        },
        "height": 400,
        "legend": {"orientation": "h", "y": -0.22},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), ends


def _drawable(first: float, last: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in (first, last))


def _ratio(first: float, last: float) -> str:
    if not (math.isfinite(first) and math.isfinite(last)):
        return "overflow"
    if last == 0:
        return "0 / 0" if first == 0 else "∞"
    return f"{first / last:.2e}"


def render(p: Params, lang: str = "en") -> Rendered:
    from core import activations as act

    names = list(dict.fromkeys(p.functions))  # keep order, drop repeats
    # Curves of the elementwise functions picked, and always of the one the shading describes
    # (for a gated focus: the function applied to its gate).
    curve_names = [n for n in names if n in act.ELEMENTWISE]
    curve_names += [] if _elementwise(p.focus) in curve_names else [_elementwise(p.focus)]
    colors = _colors([*names, p.focus, *curve_names])
    curves = _curves(p, curve_names, colors, lang)
    layer, dead = _layer(p, names, colors, lang)
    depth, ends = _depth(p, names, colors, lang)
    header = Text(
        "| function | dead units at this bias | ‖∂L/∂W‖ first layer | last layer | first / last |\n"
        "|---|---:|---:|---:|---:|",
        "| 函数 | 该偏置下的死神经元 | 第一层 ‖∂L/∂W‖ | 最后一层 | 第一层 / 最后一层 |\n"
        "|---|---:|---:|---:|---:|",
    )
    rows = [
        f"| {NAMES[n](lang)} | {100 * dead[n]:.0f}% | {ends[n][0]:.2e} | {ends[n][1]:.2e} | "
        f"{_ratio(*ends[n])} |"
        for n in names
    ]
    return Rendered([curves, layer, depth], "\n".join([header(lang), *rows]))


presets = {
    "Why sigmoid vanishes": Params(
        functions=["sigmoid", "tanh", "relu"], focus="sigmoid", depth=30, init="xavier"
    ),
    "Why ReLU units die": Params(
        functions=["relu", "leaky_relu", "elu", "gelu"], focus="relu", bias_shift=-2.5
    ),
    "Kaiming init for ReLU": Params(
        functions=["relu", "tanh", "sigmoid"], focus="relu", depth=50, init="kaiming"
    ),
    "What GELU and SwiGLU changed": Params(
        functions=["relu", "gelu", "silu", "swiglu"],
        focus="swiglu",
        bias_shift=-2.0,
        depth=30,
        residual=True,
    ),
    "The perceptron has no gradient": Params(
        functions=["step", "sigmoid"], focus="step", x_range=4.0
    ),
}
preset_titles = {
    "Why sigmoid vanishes": Text("Why sigmoid vanishes", "为什么 sigmoid 梯度消失"),
    "Why ReLU units die": Text("Why ReLU units die", "为什么 ReLU 神经元会死亡"),
    "Kaiming init for ReLU": Text("Kaiming init for ReLU", "ReLU 配 Kaiming 初始化"),
    "What GELU and SwiGLU changed": Text(
        "What GELU and SwiGLU changed", "GELU 与 SwiGLU 改变了什么"
    ),
    "The perceptron has no gradient": Text("The perceptron has no gradient", "感知机没有梯度"),
}

EXPLANATION = Text(
    en="""
**1957: the threshold.** Rosenblatt's perceptron outputs 1 when its input exceeds a threshold
and 0 otherwise. Its slope is 0 wherever it is defined (pick *The perceptron has no
gradient*): a step function cannot be trained by backpropagation, so multi-layer networks
needed a smooth unit.

**Sigmoid and tanh** are smooth, but they saturate: for |x| beyond about 3 their slope is almost
0 (the grey bands). Backpropagation multiplies one slope per layer, and σ′ is at most 0.25, so
in a deep plain stack the gradient shrinks geometrically towards the input: the straight
falling line on the log-scale depth figure (Glorot & Bengio, 2010).

**ReLU** (Nair & Hinton, 2010; Krizhevsky et al., 2012) has slope exactly 1 for x > 0: no
saturation on that side, and with Kaiming initialisation (He et al., 2015) the gradient keeps
its size through 50 layers. Its price is the flat side: a unit whose input is negative for
every example passes no gradient and never recovers. Move the layer's bias below 0 and watch
the dead-unit curve: ReLU's rises to 100 %, while Leaky ReLU (Maas et al., 2013) and ELU
(Clevert et al., 2015) keep a slope for x < 0 and their units stay alive.

**GELU** (Hendrycks & Gimpel, 2016), x·Φ(x), weighs the input by the probability that a
standard normal is below it: smooth, slightly negative for x < 0, nearly ReLU for large |x|.
GPT-2 uses its tanh approximation (compare the two curves). **SiLU/Swish** x·σ(βx)
(Elfwing et al., 2017; Ramachandran et al., 2017) and **Mish** (Misra, 2019) are close cousins.

**Gated units** split the projection in two halves and multiply: GLU = a·σ(b) (Dauphin et al.,
2016), and Shazeer's (2020) variants ReGLU, GEGLU and **SwiGLU = SiLU(a)·b**, the feed-forward
layer of PaLM, LLaMA and most of today's LLMs. A gated unit is only as alive as its gate:
SwiGLU's gate is SiLU, which keeps a slope for x < 0, so its dead-unit curve stays near 0;
ReGLU's gate is ReLU, and its units die exactly like ReLU's (add it and see). A product of two
projections does not keep the signal's scale in a plain stack (try it: the gradient collapses
or overflows), which is why these units live in pre-norm residual blocks: tick the box.

What to look at: the grey bands (where the focus function passes almost no gradient), the
spike at 0 in the ReLU histogram, and the slope of each line in the depth figure. The table
gives the numbers.
""",
    zh="""
**1957 年：阈值。** Rosenblatt 的感知机在输入超过阈值时输出 1，否则输出 0。它的斜率在有定义的地方都是 0
（选择预设“感知机没有梯度”）：阶跃函数无法用反向传播训练，多层网络因此需要平滑的激活函数。

**Sigmoid 与 tanh** 是平滑的，但会饱和：|x| 大于约 3 时斜率几乎为 0（灰色区域）。反向传播每经过一层就乘上一个斜率，
而 σ′ 最大只有 0.25，所以在很深的普通网络里，梯度朝输入方向呈指数衰减：深度图（对数坐标）上那条笔直下降的线
（Glorot 与 Bengio，2010）。

**ReLU**（Nair 与 Hinton，2010；Krizhevsky 等，2012）在 x > 0 时斜率恰好为 1，这一侧不会饱和；配合 Kaiming 初始化
（He 等，2015），梯度穿过 50 层后量级基本不变。代价在于另一侧是平的：如果某个神经元对所有样本的输入都是负的，
它就传不出任何梯度，再也无法恢复。把该层的偏置调到 0 以下，观察死神经元曲线：ReLU 的升到 100%，而 Leaky ReLU
（Maas 等，2013）和 ELU（Clevert 等，2015）在 x < 0 时仍有斜率，神经元不会死亡。

**GELU**（Hendrycks 与 Gimpel，2016）即 x·Φ(x)，用“标准正态变量小于 x 的概率”给输入加权：平滑，x < 0 时略为负，
|x| 很大时接近 ReLU。GPT-2 使用它的 tanh 近似（对比两条曲线）。**SiLU/Swish** x·σ(βx)（Elfwing 等，2017；
Ramachandran 等，2017）与 **Mish**（Misra，2019）是它的近亲。

**门控单元**把投影分成两半再相乘：GLU = a·σ(b)（Dauphin 等，2016），以及 Shazeer（2020）提出的变体 ReGLU、GEGLU 和
**SwiGLU = SiLU(a)·b**——PaLM、LLaMA 以及当今大多数大语言模型的前馈层（FFN）。门控单元是否“活着”取决于它的门：
SwiGLU 的门是 SiLU，在 x < 0 时仍有斜率，所以它的死神经元曲线几乎贴着 0；ReGLU 的门是 ReLU，它的神经元会像 ReLU
一样死亡（勾选它看看）。两个投影的乘积在普通堆叠中保持不住信号的尺度（试试看：梯度会坍缩或溢出），
所以这些单元都放在 pre-norm 残差块里：勾选该选项。

观察要点：灰色区域（重点函数几乎不传梯度的地方）、ReLU 直方图在 0 处的尖峰，以及深度图中每条线的斜率。表格给出具体数值。
""",
)

DEMO = Demo(
    slug="activations",
    section="training",
    figures=3,
    title=Text("Activation functions", "激活函数"),
    summary=Text(
        "From the perceptron's step to SwiGLU: curves, slopes, dead units and vanishing gradients.",
        "从感知机的阶跃函数到 SwiGLU：曲线、斜率、死神经元与梯度消失。",
    ),
    sources=(
        Source(
            "The perceptron: a probabilistic model for information storage and organization in the brain",
            "F. Rosenblatt",
            1958,
        ),
        Source(
            "Understanding the difficulty of training deep feedforward neural networks",
            "X. Glorot, Y. Bengio",
            2010,
        ),
        Source(
            "Rectified linear units improve restricted Boltzmann machines",
            "V. Nair, G. Hinton",
            2010,
        ),
        Source(
            "Delving deep into rectifiers (Kaiming initialisation)",
            "K. He et al.",
            2015,
            "https://arxiv.org/abs/1502.01852",
        ),
        Source(
            "Gaussian Error Linear Units (GELUs)",
            "D. Hendrycks, K. Gimpel",
            2016,
            "https://arxiv.org/abs/1606.08415",
        ),
        Source(
            "Searching for activation functions (Swish)",
            "P. Ramachandran, B. Zoph, Q. V. Le",
            2017,
            "https://arxiv.org/abs/1710.05941",
        ),
        Source(
            "GLU variants improve Transformer",
            "N. Shazeer",
            2020,
            "https://arxiv.org/abs/2002.05202",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
