"""Adam with L2 vs AdamW: where the weight decay goes, and what that does to each coordinate.

The question: weight decay in Adam was long written as an L2 term added to the loss, so its
gradient λθ runs through Adam's moments and is divided by √v̂. AdamW (Loshchilov & Hutter)
subtracts ηλθ outside the moments. On a 2-D loss surface the two trajectories part ways, and
the decay that actually hits each coordinate shows why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    from core.trace import Trace

EPS = 1e-8  # Adam's ε, PyTorch's default
GRID = 90  # contour grid points per axis
MAX_POINTS = 400  # points per curve drawn over steps (the optimiser takes every step)
COLORS = {"adam": COLORWAY[1], "adamw": COLORWAY[0]}
NAMES = {"adam": Text("Adam + L2", "Adam + L2"), "adamw": Text("AdamW", "AdamW")}
COORDS = ("θ₁", "θ₂")
DASHES = ("solid", "dot")

SurfaceName = Literal["ill_conditioned", "rosenbrock", "far_minimum"]


@dataclass(frozen=True)
class Surface:
    """A 2-D loss with closed-form gradient and Hessian; θ: (..., 2)."""

    title: Text
    start: tuple[float, float]
    minimum: tuple[float, float]
    loss: Callable[[np.ndarray], np.ndarray]
    gradient: Callable[[np.ndarray], np.ndarray]
    hessian: Callable[[np.ndarray], np.ndarray]  # at one point (2,) -> (2, 2)


def quadratic(title: Text, start, centre, curvatures) -> Surface:
    """f(θ) = ½ Σ h_i (θ_i − c_i)², axis-aligned: curvature h_i along coordinate i."""
    c, h = np.asarray(centre, dtype=np.float64), np.asarray(curvatures, dtype=np.float64)
    return Surface(
        title=title,
        start=start,
        minimum=tuple(centre),
        loss=lambda theta: 0.5 * (h * (theta - c) ** 2).sum(-1),
        gradient=lambda theta: h * (theta - c),
        hessian=lambda theta: np.diag(h),
    )


def _rosenbrock_loss(theta: np.ndarray) -> np.ndarray:
    x, y = theta[..., 0], theta[..., 1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosenbrock_gradient(theta: np.ndarray) -> np.ndarray:
    x, y = theta[..., 0], theta[..., 1]
    r = y - x * x
    g = np.empty_like(theta)
    g[..., 0] = -2.0 * (1.0 - x) - 400.0 * x * r
    g[..., 1] = 200.0 * r
    return g


def _rosenbrock_hessian(theta: np.ndarray) -> np.ndarray:
    x, y = theta
    return np.array([[2.0 - 400.0 * (y - x * x) + 800.0 * x * x, -400.0 * x], [-400.0 * x, 200.0]])


ROSENBROCK = Surface(
    title=Text(
        "Rosenbrock: (1 − θ₁)² + 100(θ₂ − θ₁²)²", "Rosenbrock 函数：(1 − θ₁)² + 100(θ₂ − θ₁²)²"
    ),
    start=(-1.5, 2.0),
    minimum=(1.0, 1.0),
    loss=_rosenbrock_loss,
    gradient=_rosenbrock_gradient,
    hessian=_rosenbrock_hessian,
)


def surface(name: str, condition: float) -> Surface:
    if name == "rosenbrock":
        return ROSENBROCK
    if name == "far_minimum":
        return quadratic(
            Text(
                "Minimum far from the origin: ½(¼(θ₁ − 4)² + (θ₂ − 3)²)",
                "最小值远离原点：½(¼(θ₁ − 4)² + (θ₂ − 3)²)",
            ),
            start=(-2.0, 0.0),
            centre=(4.0, 3.0),
            curvatures=(0.25, 1.0),
        )
    return quadratic(
        Text(
            f"Ill-conditioned quadratic: ½((θ₁ − 1)² + {condition:g}(θ₂ − 1)²)",
            f"病态二次函数：½((θ₁ − 1)² + {condition:g}(θ₂ − 1)²)",
        ),
        start=(-2.0, -1.5),
        centre=(1.0, 1.0),
        curvatures=(1.0, condition),
    )


def l2_minimum(s: Surface, weight_decay: float, iterations: int = 50) -> np.ndarray:
    """argmin f(θ) + (λ/2)‖θ‖² by Newton's method from the loss's own minimum (2,).

    Where Adam + L2 goes if it converges: its update is zero exactly where ∇f + λθ = 0.
    """
    theta = np.asarray(s.minimum, dtype=np.float64)
    for _ in range(iterations):
        gradient = s.gradient(theta) + weight_decay * theta
        step = np.linalg.solve(s.hessian(theta) + weight_decay * np.eye(2), gradient)
        theta = theta - step
        if np.abs(step).max() < 1e-14:
            break
    return theta


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    surface: SurfaceName = param(
        "ill_conditioned",
        en="Loss surface",
        zh="损失曲面",
        choices={
            "ill_conditioned": Text("Ill-conditioned quadratic", "病态二次函数"),
            "rosenbrock": Text("Rosenbrock valley", "Rosenbrock 山谷"),
            "far_minimum": Text("Minimum far from the origin", "最小值远离原点"),
        },
    )
    lr: float = param(0.05, en="Learning rate η", zh="学习率 η", ge=0.001, le=0.3, step=0.001)
    weight_decay: float = param(
        0.5,
        en="Weight decay λ",
        zh="权重衰减 λ",
        help_en="PyTorch's weight_decay: Adam adds λθ to the gradient, AdamW multiplies θ by 1 − ηλ.",
        help_zh="即 PyTorch 的 weight_decay：Adam 把 λθ 加到梯度上，AdamW 把 θ 乘以 1 − ηλ。",
        ge=0.0,
        le=2.0,
        step=0.01,
    )
    steps: int = param(300, en="Steps", zh="迭代步数", ge=10, le=3000, step=10)
    beta1: float = param(0.9, en="β₁ (first moment)", zh="β₁（一阶矩）", ge=0.0, le=0.99, step=0.01)
    beta2: float = param(
        0.999, en="β₂ (second moment)", zh="β₂（二阶矩）", ge=0.9, le=0.9999, step=0.0001
    )
    gradient_noise: float = param(
        0.0,
        en="Gradient noise σ (minibatch-like)",
        zh="梯度噪声 σ（类似小批量）",
        help_en="Adds N(0, σ²) to every gradient coordinate, the same draws for both optimisers.",
        help_zh="给梯度的每个坐标加上 N(0, σ²) 噪声，两个优化器使用相同的随机数。",
        ge=0.0,
        le=3.0,
        step=0.1,
    )
    seed: int = param(0, en="Random seed (noise)", zh="随机种子（噪声）", ge=0, le=9999)
    condition: float = param(
        50.0,
        en="Curvature ratio κ (ill-conditioned quadratic)",
        zh="曲率比 κ（病态二次函数）",
        ge=1.0,
        le=200.0,
        step=1.0,
    )


def _run(p: Params, s: Surface, trace: Trace) -> np.ndarray:
    """Adam + L2 (run 0) and AdamW (run 1) side by side: iterates (steps + 1, 2, 2)."""
    from core.optim.adam import adam_steps

    start = np.array([s.start, s.start], dtype=np.float64)
    gradient = s.gradient
    if p.gradient_noise > 0:  # one draw per step, shared by both runs
        noise = p.gradient_noise * np.random.default_rng(p.seed).standard_normal((p.steps, 1, 2))
        draws = iter(noise)  # adam_steps asks for exactly one gradient per step

        def noisy_gradient(theta: np.ndarray) -> np.ndarray:
            return s.gradient(theta) + next(draws)

        gradient = noisy_gradient

    return adam_steps(
        gradient,
        start,
        steps=p.steps,
        lr=p.lr,
        betas=(p.beta1, p.beta2),
        eps=EPS,
        weight_decay=p.weight_decay,
        decoupled=[False, True],
        trace=trace,
    )


def _every(steps: int) -> np.ndarray:
    """Step indices t = 1..steps drawn (all of them up to MAX_POINTS)."""
    return np.unique(np.linspace(1, steps, min(steps, MAX_POINTS)).round().astype(np.int64))


def _contour_figure(
    p: Params, s: Surface, path: np.ndarray, target: np.ndarray, lang: str
) -> go.Figure:
    points = np.concatenate([path.reshape(-1, 2), [s.minimum, (0.0, 0.0), target]])
    low, high = points.min(0), points.max(0)
    pad = 0.12 * np.maximum(high - low, 0.5)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], GRID)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], GRID)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    z = np.log10(s.loss(grid) + 1e-3)
    shown = np.concatenate([[0], _every(p.steps)])
    data = [
        {
            "type": "contour",
            "x": xs.astype(np.float32),
            "y": ys.astype(np.float32),
            "z": z.astype(np.float32),
            "ncontours": 22,
            "contours": {"coloring": "lines"},
            "line": {"width": 1},
            # green near the minimum to grey far away: readable on light and dark pages and
            # apart from the two trajectories' orange and blue
            "colorscale": [[0.0, "#009E73"], [1.0, "#A3A3A3"]],
            "colorbar": {"title": {"text": "log₁₀(f + 10⁻³)"}, "thickness": 12, "len": 0.85},
            "hovertemplate": "θ₁=%{x:.2f}, θ₂=%{y:.2f}<br>log₁₀(f + 10⁻³)=%{z:.2f}<extra></extra>",
            "name": Text("loss", "损失")(lang),
            "showlegend": False,
        }
    ]
    for run, key in enumerate(("adam", "adamw")):
        xy = path[shown, run]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": xy[:, 0],
                "y": xy[:, 1],
                "name": NAMES[key](lang),
                "line": {"color": COLORS[key], "width": 2.2},
                "marker": {"size": 3.5, "color": COLORS[key]},
                "customdata": shown,
                "hovertemplate": "t=%{customdata}<br>θ=(%{x:.3f}, %{y:.3f})<extra>"
                + NAMES[key](lang)
                + "</extra>",
            }
        )
        end = path[-1, run]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [end[0]],
                "y": [end[1]],
                "name": NAMES[key](lang),
                "showlegend": False,
                "marker": {
                    "size": 13,
                    "color": COLORS[key],
                    "symbol": "circle",
                    "line": {"width": 1.5, "color": "rgba(128,128,128,1)"},
                },
                "hovertemplate": Text(
                    f"end, t={p.steps}<br>θ=(%{{x:.4f}}, %{{y:.4f}})",
                    f"终点，t={p.steps}<br>θ=(%{{x:.4f}}, %{{y:.4f}})",
                )(lang)
                + f"<extra>{NAMES[key](lang)}</extra>",
            }
        )
    marks = [
        (s.start, "circle-open", Text("start", "起点")),
        (s.minimum, "star", Text("minimum of f", "f 的最小值")),
        ((0.0, 0.0), "cross-thin-open", Text("origin (where decay pulls)", "原点（衰减的拉向）")),
        (tuple(target), "x-thin-open", Text("minimum of f + λ/2·‖θ‖²", "f + λ/2·‖θ‖² 的最小值")),
    ]
    for (x, y), symbol, label in marks:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [x],
                "y": [y],
                "name": label(lang),
                "marker": {
                    "symbol": symbol,
                    "size": 14,
                    "color": "rgba(128,128,128,1)",
                    "line": {"width": 2.5, "color": "rgba(128,128,128,1)"},
                },
                "hovertemplate": f"{label(lang)}<br>θ=(%{{x:.4f}}, %{{y:.4f}})<extra></extra>",
            }
        )
    title = Text(
        f"{s.title.en}: both optimisers from the same start, {p.steps} steps",
        f"{s.title.zh}：两个优化器从同一起点出发，共 {p.steps} 步",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"title": {"text": "θ₁"}, "range": [xs[0], xs[-1]]},
        "yaxis": {"title": {"text": "θ₂"}, "range": [ys[0], ys[-1]]},
        "height": 500,
        "legend": {"orientation": "h", "y": -0.16},
        "hovermode": "closest",
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _decay_figure(p: Params, history: dict, lang: str) -> go.Figure:
    t = _every(p.steps)
    decay = history["effective_decay"][t - 1]  # (T, run, coordinate)
    positive = p.weight_decay > 0
    data = []
    for run, key in enumerate(("adam", "adamw")):
        coordinates = (0, 1) if key == "adam" else (0,)  # AdamW's decay is the same for both
        for i in coordinates:
            label = (
                f"{NAMES[key](lang)}, {COORDS[i]}"
                if key == "adam"
                else Text("AdamW, θ₁ and θ₂: ηλ", "AdamW，θ₁ 与 θ₂：ηλ")(lang)
            )
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": t,
                    "y": decay[:, run, i].astype(np.float32),
                    "name": label,
                    "line": {"color": COLORS[key], "width": 2.2, "dash": DASHES[i]},
                    "hovertemplate": "t=%{x}<br>c=%{y:.3g}<extra>" + label + "</extra>",
                }
            )
    title = Text(
        "Effective weight decay c_t per coordinate: the fraction of θ removed per step",
        "每个坐标的有效权重衰减 c_t：每一步被衰减掉的 θ 的比例",
    )
    note = Text(
        "Adam + L2: c = ηλ / (√v̂ + ε), small where gradients are large · AdamW: c = ηλ",
        "Adam + L2：c = ηλ / (√v̂ + ε)，梯度大的坐标衰减小 · AdamW：c = ηλ",
    )
    if not positive:
        note = Text(
            "λ = 0: no weight decay at all, and Adam and AdamW are the same algorithm",
            "λ = 0：完全没有权重衰减，Adam 与 AdamW 是同一个算法",
        )
    layout = {
        "title": {"text": title(lang)},
        "annotations": [caption(note(lang))],
        "xaxis": {"title": {"text": Text("step t", "步数 t")(lang)}},
        "yaxis": {
            "type": "log" if positive else "linear",
            "exponentformat": "power",
            "title": {
                "text": Text("c_t (log scale)", "c_t（对数坐标）")(lang) if positive else "c_t"
            },
        },
        "height": 400,
        "margin": {"t": 80},
        "legend": {"orientation": "h", "y": -0.22},
        "hovermode": "x unified",
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _moments_figure(p: Params, history: dict, lang: str) -> go.Figure:
    t = _every(p.steps)
    m_hat, v_hat = history["m_hat"][t - 1], history["v_hat"][t - 1]
    data = []
    for run, key in enumerate(("adam", "adamw")):
        for i in (0, 1):
            label = f"{NAMES[key](lang)}, {COORDS[i]}"
            common = {
                "type": "scatter",
                "mode": "lines",
                "x": t,
                "name": label,
                "legendgroup": f"{key}{i}",
                "line": {"color": COLORS[key], "width": 2, "dash": DASHES[i]},
            }
            data.append(
                {
                    **common,
                    "y": m_hat[:, run, i].astype(np.float32),
                    "hovertemplate": "t=%{x}<br>m̂=%{y:.3g}<extra>" + label + "</extra>",
                }
            )
            v = v_hat[:, run, i]
            data.append(
                {
                    **common,
                    "y": np.where(v > 0, v, np.nan).astype(np.float32),
                    "showlegend": False,
                    "xaxis": "x2",
                    "yaxis": "y2",
                    "hovertemplate": "t=%{x}<br>v̂=%{y:.3g}<extra>" + label + "</extra>",
                }
            )
    title = Text(
        "Bias-corrected moments: m̂ (mean gradient) and v̂ (mean squared gradient)",
        "偏差修正后的矩：m̂（梯度的滑动平均）与 v̂（梯度平方的滑动平均）",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 0.45], "title": {"text": Text("step t", "步数 t")(lang)}},
        "yaxis": {"title": {"text": "m̂_t"}},
        "xaxis2": {
            "domain": [0.55, 1],
            "anchor": "y2",
            "title": {"text": Text("step t", "步数 t")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("v̂_t (log scale)", "v̂_t（对数坐标）")(lang)},
        },
        "height": 400,
        "legend": {"orientation": "h", "y": -0.22},
        "hovermode": "x unified",
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    from core.trace import Trace

    s = surface(p.surface, p.condition)
    trace = Trace()
    path = _run(p, s, trace)
    history = trace["adam"][0]
    target = l2_minimum(s, p.weight_decay)
    figures = [
        _contour_figure(p, s, path, target, lang),
        _decay_figure(p, history, lang),
        _moments_figure(p, history, lang),
    ]
    tail = slice(max(p.steps - p.steps // 10, 0), p.steps)  # the last tenth of the steps
    header = Text(
        "| optimiser | end θ₁ | end θ₂ | f(θ) | ‖θ‖ | ‖θ − θ_L2‖ | c on θ₁ | c on θ₂ |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        "| 优化器 | 终点 θ₁ | 终点 θ₂ | f(θ) | ‖θ‖ | ‖θ − θ_L2‖ | θ₁ 的 c | θ₂ 的 c |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    )
    rows = []
    for run, key in enumerate(("adam", "adamw")):
        end = path[-1, run]
        c = history["effective_decay"][tail, run].mean(0)
        rows.append(
            f"| {NAMES[key](lang)} | {end[0]:.4f} | {end[1]:.4f} | {float(s.loss(end)):.3g} "
            f"| {float(np.linalg.norm(end)):.4f} | {float(np.linalg.norm(end - target)):.2e} "
            f"| {c[0]:.2e} | {c[1]:.2e} |"
        )
    legend = Text(
        f"θ_L2 = ({target[0]:.4f}, {target[1]:.4f}) minimises f + λ/2·‖θ‖² (the ×); c is the "
        "effective decay averaged over the last 10 % of the steps.",
        f"θ_L2 = ({target[0]:.4f}, {target[1]:.4f}) 是 f + λ/2·‖θ‖² 的最小值点（图中的 ×）；"
        "c 是最后 10% 步的平均有效衰减。",
    )
    gap = float(np.abs(path[:, 0] - path[:, 1]).max())
    footer = Text(
        f"Largest gap between the two trajectories: {gap:.3g}"
        + (" (λ = 0: identical, as they must be)." if p.weight_decay == 0 else "."),
        f"两条轨迹之间的最大差距：{gap:.3g}"
        + ("（λ = 0：完全相同，理应如此）。" if p.weight_decay == 0 else "。"),
    )
    return Rendered(
        figures, "\n".join([header(lang), *rows, "", legend(lang) + " " + footer(lang)])
    )


presets = {
    "L2 spares the steep coordinate": Params(surface="ill_conditioned", weight_decay=0.5),
    "Minimum far from the origin": Params(surface="far_minimum", weight_decay=0.2, steps=500),
    "Rosenbrock valley": Params(surface="rosenbrock", lr=0.05, weight_decay=0.2, steps=1500),
    "Noisy gradients: where AdamW settles": Params(
        surface="far_minimum", lr=0.02, weight_decay=0.2, steps=3000, gradient_noise=2.0
    ),
    "No weight decay: the same algorithm": Params(surface="ill_conditioned", weight_decay=0.0),
}
preset_titles = {
    "L2 spares the steep coordinate": Text("L2 spares the steep coordinate", "L2 放过了陡峭的坐标"),
    "Minimum far from the origin": Text("Minimum far from the origin", "最小值远离原点"),
    "Rosenbrock valley": Text("Rosenbrock valley", "Rosenbrock 山谷"),
    "Noisy gradients: where AdamW settles": Text(
        "Noisy gradients: where AdamW settles", "带噪声的梯度：AdamW 停在哪里"
    ),
    "No weight decay: the same algorithm": Text(
        "No weight decay: the same algorithm", "没有权重衰减：两者是同一个算法"
    ),
}

EXPLANATION = Text(
    en="""
**Adam** (Kingma & Ba, 2015) keeps two moving averages of the gradient g: m (its mean,
momentum) and v (its mean square), corrects their start-up bias (m̂, v̂) and steps
θ ← θ − η·m̂/(√v̂ + ε). Dividing by √v̂ gives every coordinate a step of about η, however
large or small its gradient.

**Weight decay two ways.** For plain SGD, adding (λ/2)‖θ‖² to the loss (L2) and shrinking the
weights by θ ← θ − ηλθ (weight decay) are the same thing. Loshchilov & Hutter (2019,
*Decoupled Weight Decay Regularization*) showed that in Adam they are not. With L2
(`torch.optim.Adam(weight_decay=λ)`), λθ is added to the gradient, passes through m and v, and
is divided by √v̂ like the rest: a coordinate with large gradients has a large √v̂ and is
decayed *less*, one with small gradients *more*. AdamW (`torch.optim.AdamW`) takes the decay
out of the gradient: θ ← θ − ηλθ before the Adam step, the same fraction ηλ for every
coordinate (PyTorch multiplies λ by the learning rate).

**What to look at.** The second figure is the decay that actually acts on each coordinate:
AdamW's flat line ηλ, and Adam + L2's ηλ/(√v̂ + ε). On the ill-conditioned quadratic the steep
θ₂ is barely regularised by L2 while the flat θ₁ is pulled towards 0, whereas AdamW shrinks
both alike. Adam + L2 minimises a fixed objective and lands on the minimum of
f + λ/2·‖θ‖² (the ×). AdamW has no such objective: it stops where the normalised gradient
m̂/(√v̂ + ε) balances λθ. Without noise, v̂ shrinks with the gradient, the normalised gradient
stays near ±1, and AdamW creeps towards the minimum of f over thousands of steps (try more
steps). With noisy gradients, as with minibatches, v̂ stays at the noise level: AdamW settles
where the mean gradient is about −λ√v̂·θ, an L2 pull that grows with the noise, while the
noise shrinks L2's own decay (preset *Noisy gradients*). With λ = 0 the two are one
algorithm. The third figure shows m̂ and v̂: v̂ remembers roughly the last 1/(1 − β₂) steps.

AdamW is the default optimiser for training today's large language models.
""",
    zh="""
**Adam**（Kingma 与 Ba，2015）维护梯度 g 的两个滑动平均：m（均值，即动量）与 v（平方的均值），
修正它们初始阶段的偏差得到 m̂、v̂，然后更新 θ ← θ − η·m̂/(√v̂ + ε)。除以 √v̂ 使每个坐标的步长都在 η 左右，
与梯度本身的大小无关。

**权重衰减的两种写法。** 对普通的 SGD 来说，在损失里加上 (λ/2)‖θ‖²（L2 正则）与每步把权重缩小
θ ← θ − ηλθ（权重衰减）是一回事。Loshchilov 与 Hutter（2019，*Decoupled Weight Decay Regularization*）
指出，在 Adam 里两者并不等价。用 L2 时（`torch.optim.Adam(weight_decay=λ)`），λθ 被加到梯度上，
参与一阶、二阶矩的计算，并和梯度一起被 √v̂ 除：梯度大的坐标 √v̂ 也大，受到的衰减反而**更小**，
梯度小的坐标则衰减得更多。AdamW（`torch.optim.AdamW`）把衰减项从梯度中拿出来：在 Adam 更新之前执行
θ ← θ − ηλθ，每个坐标被衰减的比例都是 ηλ（PyTorch 会把 λ 乘上学习率）。

**观察要点。** 第二张图给出真正作用在每个坐标上的衰减：AdamW 是一条水平线 ηλ，Adam + L2 则是
ηλ/(√v̂ + ε)。在病态二次函数上，陡峭的 θ₂ 几乎不受 L2 约束，平缓的 θ₁ 却被拉向 0，而 AdamW
对两个坐标一视同仁。Adam + L2 在最小化一个固定的目标函数，最终落在 f + λ/2·‖θ‖² 的最小值（图中的 ×）。
AdamW 没有这样的目标函数：它停在归一化梯度 m̂/(√v̂ + ε) 与 λθ 相互抵消的地方。没有噪声时，v̂ 随梯度一起变小，
归一化梯度始终在 ±1 附近，AdamW 会在成千上万步里慢慢挪向 f 本身的最小值（把步数调大试试）。
梯度带噪声时（就像小批量训练），v̂ 停留在噪声的水平：AdamW 停在平均梯度约等于 −λ√v̂·θ 的位置，
相当于一个随噪声增强的 L2 拉力，而噪声反过来削弱了 L2 自身的衰减（预设“带噪声的梯度”）。
λ = 0 时两者就是同一个算法。第三张图展示 m̂ 与 v̂：v̂ 大约记住最近 1/(1 − β₂) 步的梯度。

AdamW 是当今训练大语言模型的默认优化器。
""",
)

DEMO = Demo(
    slug="adam-vs-adamw",
    section="training",
    figures=3,
    title=Text("Adam vs AdamW", "Adam 与 AdamW"),
    summary=Text(
        "Weight decay inside the gradient (L2) or decoupled from it: trajectories, effective decay, m̂ and v̂.",
        "权重衰减放进梯度（L2）还是与梯度解耦：轨迹、有效衰减、m̂ 与 v̂。",
    ),
    sources=(
        Source(
            "Adam: A Method for Stochastic Optimization",
            "D. P. Kingma, J. Ba",
            2015,
            "https://arxiv.org/abs/1412.6980",
        ),
        Source(
            "Decoupled Weight Decay Regularization",
            "I. Loshchilov, F. Hutter",
            2019,
            "https://arxiv.org/abs/1711.05101",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
