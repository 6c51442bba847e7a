"""Stochastic approximation: how a noisy estimate settles on a root, and how fast.

The question: with only noisy observations of g, which step sizes a_k make w_{k+1} =
w_k − a_k·ỹ_k reach the root of g, and at what rate? Many seeds at once show the spread; the
error on log-log axes shows the 1/√k rate; a constant step and a too-fast decay show what
goes wrong when Σa_k² = ∞ or Σa_k < ∞.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch

    from core.trace import Trace

ROOT = 1.0  # w*: the mean of X, the root of g, the least-squares θ*
TRACE_POINTS = 200  # points per drawn curve over k (the runs themselves take every step)
ROOT_VIEW_POINTS = 400  # observations drawn in the root-finding view
SAMPLE_RUNS = 3  # single runs drawn over the band
SLOPE_DECADE = 10  # the fitted slope uses k in [n/10, n]

Problem = Literal["mean", "nonlinear", "least_squares"]
Schedule = Literal["harmonic", "slow", "constant", "fast"]
PROBLEMS: dict[str, Text] = {
    "mean": Text("Mean of X: g(w) = w − E[X]", "估计均值：g(w) = w − E[X]"),
    "nonlinear": Text("Nonlinear: g(w) = 2·tanh(w − w*)", "非线性：g(w) = 2·tanh(w − w*)"),
    "least_squares": Text(
        "SGD on least squares: g(θ) = E[x(xθ − y)]", "最小二乘上的 SGD：g(θ) = E[x(xθ − y)]"
    ),
}
SCHEDULES: dict[str, Text] = {
    "harmonic": Text("a/k", "a/k"),
    "slow": Text("a/k^p, ½ < p < 1", "a/k^p，½ < p < 1"),
    "constant": Text("constant step", "常数步长"),
    "fast": Text("a/k^q, q > 1 (too fast)", "a/k^q，q > 1（衰减过快）"),
}
SLOPE_AT_ROOT = {"mean": 1.0, "nonlinear": 2.0, "least_squares": 1.0}  # g′(w*)


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    problem: Problem = param(
        "nonlinear",
        en="Problem (root w* = 1)",
        zh="问题（根 w* = 1）",
        help_en="Each observation is g(w) plus noise; the least-squares one is a single sample's gradient.",
        help_zh="每次观测都是 g(w) 加噪声；最小二乘问题的观测是单个样本的梯度。",
        choices=PROBLEMS,
    )
    schedules: list[Schedule] = param(
        ["harmonic", "slow", "constant", "fast"],
        en="Step-size schedules",
        zh="步长序列",
        choices=SCHEDULES,
        min_length=1,
        max_length=len(SCHEDULES),
    )
    a: float = param(1.0, en="Gain a", zh="增益 a", ge=0.05, le=3.0, step=0.05)
    p_slow: float = param(
        0.7, en="Exponent p (½ < p < 1)", zh="指数 p（½ < p < 1）", ge=0.55, le=0.95, step=0.05
    )
    q_fast: float = param(
        2.0, en="Exponent q (too fast, q > 1)", zh="指数 q（过快，q > 1）", ge=1.1, le=3.0, step=0.1
    )
    constant_step: float = param(
        0.1, en="Constant step a_k", zh="常数步长 a_k", ge=0.01, le=1.0, step=0.01
    )
    w0: float = param(-4.0, en="Start w₀", zh="初始值 w₀", ge=-10.0, le=10.0, step=0.5)
    noise_std: float = param(1.0, en="Noise std σ", zh="噪声标准差 σ", ge=0.0, le=3.0, step=0.1)
    steps: int = param(300, en="Steps n", zh="迭代步数 n", ge=10, le=5000, step=10)
    seeds: int = param(200, en="Runs (seeds)", zh="独立运行次数（种子数）", ge=10, le=300, step=10)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


def _g(problem: str):
    """The true g of each problem (its root is ROOT)."""
    import torch

    if problem == "nonlinear":
        return lambda w: 2.0 * torch.tanh(w - ROOT)
    return lambda w: w - ROOT  # the mean of X; least squares with E[x²] = 1


def _schedule_pairs(p: Params, names: list[str]) -> list[tuple[float, float]]:
    pairs = {
        "harmonic": (p.a, 1.0),
        "slow": (p.a, p.p_slow),
        "constant": (p.constant_step, 0.0),
        "fast": (p.a, p.q_fast),
    }
    return [pairs[name] for name in names]


def _formula(p: Params, name: str) -> str:
    return {
        "harmonic": f"{p.a:g}/k",
        "slow": f"{p.a:g}/k^{p.p_slow:g}",
        "constant": f"{p.constant_step:g}",
        "fast": f"{p.a:g}/k^{p.q_fast:g}",
    }[name]


def _run(p: Params, pairs: list[tuple[float, float]], trace: Trace) -> torch.Tensor:
    """Iterates (S, seeds, n + 1) of every schedule on the same noise."""
    import torch

    from core.optim import stochastic_approximation as sa

    common = {"noise_std": p.noise_std, "seeds": p.seeds, "seed": p.seed, "trace": trace}
    if p.problem == "least_squares":
        theta = sa.sgd_least_squares(
            torch.tensor([ROOT]),
            p.steps,
            schedules=pairs,
            theta0=torch.tensor([p.w0]),
            **common,
        )
        return theta[..., 0]
    return sa.robbins_monro_schedules(_g(p.problem), p.w0, p.steps, pairs, **common)


def _columns(n: int, count: int, log: bool) -> np.ndarray:
    """Indices k of the iterates drawn: all of them, or `count` spread linearly / log-wise."""
    if n + 1 <= count:
        return np.arange(0 if not log else 1, n + 1)
    if log:
        return np.unique(np.geomspace(1, n, count).round().astype(np.int64))
    return np.unique(np.linspace(0, n, count).round().astype(np.int64))


def _panels(names: list[str]) -> list[tuple[float, float]]:
    gap = 0.04
    width = (1 - gap * (len(names) - 1)) / len(names)
    return [(i * (width + gap), i * (width + gap) + width) for i in range(len(names))]


def _quantiles(values: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """Quantiles over axis 1 with numpy's default (linear) rule, from one sort.

    values: (S, runs, K) -> (len(levels), S, K)
    """
    ordered = np.sort(values, axis=1)
    runs = ordered.shape[1]
    result = []
    for level in levels:
        position = level * (runs - 1)
        low = math.floor(position)
        high = min(low + 1, runs - 1)
        frac = position - low
        result.append(ordered[:, low] + frac * (ordered[:, high] - ordered[:, low]))
    return np.stack(result)


def _with_gaps(k: np.ndarray, runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Several runs (R, K) as one line broken by NaN: one Plotly trace instead of R."""
    gap = np.full((runs.shape[0], 1), np.nan)
    x = np.concatenate([np.broadcast_to(k, runs.shape), gap], axis=1).ravel()
    return x[:-1], np.concatenate([runs, gap], axis=1).ravel()[:-1]


def _traces_figure(
    p: Params, names: list[str], iterates: torch.Tensor, colors: dict[str, str], lang: str
) -> go.Figure:
    k = _columns(p.steps, TRACE_POINTS, log=True)
    shown = iterates[:, :, k].numpy()
    bands = _quantiles(shown, (0.1, 0.5, 0.9)).astype(np.float32)
    data, layout = [], {}
    low = min(float(bands[0].min()), float(shown[:, :SAMPLE_RUNS].min()), ROOT)
    high = max(float(bands[2].max()), float(shown[:, :SAMPLE_RUNS].max()), ROOT)
    pad = 0.08 * (high - low or 1.0)
    for index, (name, domain) in enumerate(zip(names, _panels(names), strict=True)):
        suffix = "" if index == 0 else str(index + 1)
        axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        color = colors[name]
        lo, mid, hi = bands[:, index]
        runs_x, runs_y = _with_gaps(k, shown[index, :SAMPLE_RUNS])
        data += [
            {
                "type": "scatter",
                "x": np.concatenate([k, k[::-1]]),
                "y": np.concatenate([hi, lo[::-1]]),
                "fill": "toself",
                "fillcolor": _rgba(color, 0.22),
                "line": {"width": 0},
                "hoverinfo": "skip",
                "name": Text("10–90 % of runs", "10–90% 的运行")(lang),
                "legendgroup": "band",
                "showlegend": index == 0,
                **axes,
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": runs_x,
                "y": runs_y.astype(np.float32),
                "line": {"color": _rgba(color, 0.6), "width": 0.8},
                "name": Text(f"{SAMPLE_RUNS} single runs", f"{SAMPLE_RUNS} 次单独运行")(lang),
                "legendgroup": "runs",
                "showlegend": index == 0,
                "hovertemplate": "k=%{x}<br>w_k=%{y:.3f}<extra></extra>",
                **axes,
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": k,
                "y": mid,
                "line": {"color": color, "width": 2.4},
                "name": Text("median", "中位数")(lang),
                "legendgroup": "median",
                "showlegend": index == 0,
                "customdata": np.stack([lo, hi], axis=-1),
                "hovertemplate": Text(
                    "k=%{x}<br>median %{y:.3f}<br>10–90 %: %{customdata[0]:.3f} … %{customdata[1]:.3f}",
                    "k=%{x}<br>中位数 %{y:.3f}<br>10–90%：%{customdata[0]:.3f} … %{customdata[1]:.3f}",
                )(lang)
                + f"<extra>a_k = {_formula(p, name)}</extra>",
                **axes,
            },
        ]
        layout[f"xaxis{suffix}"] = {
            "domain": list(domain),
            "anchor": f"y{suffix}",
            "type": "log",
            "title": {"text": Text("k (log scale)", "k（对数坐标）")(lang)},
        }
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "range": [low - pad, high + pad],
            **(
                {"title": {"text": Text("w after k updates", "k 次更新后的 w")(lang)}}
                if index == 0
                else {}
            ),
            **({} if index == 0 else {"matches": "y", "showticklabels": False}),
        }
    annotations = [
        caption(
            f"<b>{SCHEDULES[name](lang)}</b><br>a_k = {_formula(p, name)}",
            x=0.5,
            xref=f"x{'' if i == 0 else i + 1} domain",
            xanchor="center",
        )
        for i, name in enumerate(names)
    ]
    shapes = [
        {
            "type": "line",
            "xref": f"x{'' if i == 0 else i + 1} domain",
            "yref": f"y{'' if i == 0 else i + 1}",
            "x0": 0,
            "x1": 1,
            "y0": ROOT,
            "y1": ROOT,
            "line": {"dash": "dash", "width": 1.2, "color": "rgba(128,128,128,0.9)"},
        }
        for i in range(len(names))
    ]
    title = Text(
        f"{p.seeds} runs from w₀ = {p.w0:g} per schedule: median, 10–90 % band and "
        f"{SAMPLE_RUNS} single runs (dashed: the root w* = {ROOT:g})",
        f"每种步长从 w₀ = {p.w0:g} 出发运行 {p.seeds} 次：中位数、10–90% 区间与 {SAMPLE_RUNS} 条单次轨迹"
        f"（虚线：根 w* = {ROOT:g}）",
    )
    layout.update(
        {
            "title": {"text": title(lang)},
            "annotations": annotations,
            "shapes": shapes,
            "height": 400,
            "margin": {"t": 95},
            "legend": {"orientation": "h", "y": -0.2},
            "hovermode": "closest",
        }
    )
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _error_figure(
    p: Params, names: list[str], iterates: torch.Tensor, colors: dict[str, str], lang: str
) -> tuple[go.Figure, dict[str, tuple[float, float]]]:
    k = _columns(p.steps, TRACE_POINTS, log=True)
    rms = (iterates[:, :, k] - ROOT).pow(2).mean(dim=1).sqrt().numpy()  # (S, len(k))
    data, fits = [], {}
    for index, name in enumerate(names):
        error = rms[index]
        fits[name] = (_slope(k, error, p.steps), float(error[-1]))
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": k,
                "y": np.where(error > 0, error, np.nan),  # a log axis cannot show 0
                "name": f"{SCHEDULES[name](lang)}: a_k = {_formula(p, name)}",
                "line": {"color": colors[name], "width": 2.2},
                "hovertemplate": "k=%{x}<br>RMS=%{y:.3g}<extra></extra>",
            }
        )
    if p.noise_std > 0:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": k,
                "y": p.noise_std / np.sqrt(k),
                "name": Text(
                    "σ/√k: the sample mean's error (slope −½)", "σ/√k：样本均值的误差（斜率 −½）"
                )(lang),
                "line": {"color": "rgba(128,128,128,0.95)", "width": 1.6, "dash": "dash"},
                "hovertemplate": "k=%{x}<br>σ/√k=%{y:.3g}<extra></extra>",
            }
        )
    title = Text(
        f"Error over {p.seeds} runs, √mean((w_k − w*)²), on log-log axes",
        f"{p.seeds} 次运行的误差 √mean((w_k − w*)²)，双对数坐标",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "type": "log",
            "title": {"text": Text("k (updates, log scale)", "k（更新次数，对数坐标）")(lang)},
        },
        "yaxis": {
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("RMS error (log scale)", "均方根误差（对数坐标）")(lang)},
        },
        "height": 420,
        "legend": {"orientation": "h", "y": -0.22},
        "hovermode": "x unified",
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), fits


def _slope(k: np.ndarray, error: np.ndarray, n: int) -> float:
    """Least-squares slope of log error against log k over the last decade k ∈ [n/10, n]."""
    keep = (k >= n / SLOPE_DECADE) & (error > 0)
    if keep.sum() < 3:
        return math.nan
    return float(np.polyfit(np.log(k[keep]), np.log(error[keep]), 1)[0])


def _root_figure(
    p: Params,
    name: str,
    index: int,
    iterates: torch.Tensor,
    observations: torch.Tensor,
    lang: str,
) -> go.Figure:
    import torch

    count = min(p.steps, ROOT_VIEW_POINTS)
    w = iterates[index, 0, :count].numpy()  # run 1: the iterate each observation was taken at
    y = observations[index, 0, :count].numpy()
    low, high = min(w.min(), ROOT - 1.0), max(w.max(), ROOT + 1.0)
    pad = 0.05 * (high - low)
    grid = torch.linspace(low - pad, high + pad, 161, dtype=torch.float64)
    curve = _g(p.problem)(grid).numpy()
    k = np.arange(1, count + 1)
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "x": w,
            "y": y,
            "name": Text("observations ỹ_k at w_k (run 1)", "第 1 次运行：在 w_k 处的观测 ỹ_k")(
                lang
            ),
            "marker": {
                "size": 6,
                "color": np.log10(k),
                "colorscale": [[0.0, "#E69F00"], [1.0, "#0072B2"]],  # early orange, late blue
                "opacity": 0.75,
                "colorbar": {
                    "title": {"text": "k"},
                    "tickvals": list(range(int(math.log10(count)) + 1)),
                    "ticktext": [f"{10**e:g}" for e in range(int(math.log10(count)) + 1)],
                    "thickness": 12,
                    "len": 0.8,
                },
            },
            "customdata": k,
            "hovertemplate": "k=%{customdata}<br>w_k=%{x:.3f}<br>ỹ_k=%{y:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": grid.numpy(),
            "y": curve,
            "name": Text("true g(w)", "真实的 g(w)")(lang),
            "line": {"color": "rgba(128,128,128,1)", "width": 2.6},
            "hovertemplate": "w=%{x:.3f}<br>g(w)=%{y:.3f}<extra></extra>",
        },
    ]
    spread = max(float(np.abs(y).max()), float(np.abs(curve).max()))
    title = Text(
        f"Noisy root finding: observations scatter around g; the iterates close in on w* "
        f"(a_k = {_formula(p, name)}, first {count} steps)",
        f"带噪声的求根：观测值散布在 g 周围，迭代值逐步逼近 w*（a_k = {_formula(p, name)}，前 {count} 步）",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"title": {"text": Text("w (where g is observed)", "w（观测 g 的位置）")(lang)}},
        "yaxis": {
            "title": {"text": Text("g(w) and observation ỹ", "g(w) 与观测值 ỹ")(lang)},
            "range": [-1.1 * spread, 1.1 * spread] if spread > 0 else None,
        },
        "shapes": [
            {
                "type": "line",
                "xref": "x",
                "yref": "y domain",
                "x0": ROOT,
                "x1": ROOT,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dash", "width": 1.2, "color": "rgba(128,128,128,0.9)"},
            },
            {
                "type": "line",
                "xref": "x domain",
                "yref": "y",
                "x0": 0,
                "x1": 1,
                "y0": 0,
                "y1": 0,
                "line": {"width": 1, "color": "rgba(128,128,128,0.7)"},
            },
        ],
        "height": 420,
        "legend": {"orientation": "h", "y": -0.22},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _yes(value: bool, lang: str) -> str:
    return Text("yes", "是")(lang) if value else Text("**no**", "**否**")(lang)


def render(p: Params, lang: str = "en") -> Rendered:
    from core.trace import Trace

    names = [name for name in SCHEDULES if name in p.schedules]  # catalogue order, no repeats
    colors = {name: COLORWAY[i] for i, name in enumerate(SCHEDULES)}
    pairs = _schedule_pairs(p, names)
    trace = Trace()
    iterates = _run(p, pairs, trace)
    record = trace["stochastic_approximation"][0]
    observations = record["observations"]  # (n, S, seeds) or, for least squares, (n, S, seeds, 1)
    if observations.ndim == 4:
        observations = observations[..., 0]
    observations = observations.movedim(0, -1)  # (S, seeds, n)
    traces = _traces_figure(p, names, iterates, colors, lang)
    errors, fits = _error_figure(p, names, iterates, colors, lang)
    focus = names[0]
    root = _root_figure(p, focus, 0, iterates, observations, lang)

    sums = record["step_sizes"].reshape(p.steps, len(names))
    header = Text(
        "| schedule | a_k | Σa_k = ∞ | Σa_k² < ∞ | Σa_k up to n | RMS error at n | slope of log error (last decade) |\n"
        "|---|---|:-:|:-:|---:|---:|---:|",
        "| 步长序列 | a_k | Σa_k = ∞ | Σa_k² < ∞ | 前 n 项 Σa_k | 第 n 步均方根误差 | 对数误差斜率（最后十倍区间） |\n"
        "|---|---|:-:|:-:|---:|---:|---:|",
    )
    rows = []
    for index, (name, event) in enumerate(zip(names, trace["schedule"], strict=True)):
        slope, final = fits[name]
        rows.append(
            f"| {SCHEDULES[name](lang)} | {_formula(p, name)} | {_yes(event['sum_diverges'], lang)} "
            f"| {_yes(event['sum_of_squares_converges'], lang)} | {float(sums[:, index].sum()):.3g} "
            f"| {final:.3g} | {slope:+.2f} |"
        )
    lines = [header(lang), *rows]
    if "harmonic" in names:
        gain = p.a * SLOPE_AT_ROOT[p.problem]
        rate = Text(
            f"\nWith a/k the gain matters: a·g′(w*) = {gain:g}"
            + (
                " > ½, so the error falls like 1/√k."
                if gain > 0.5
                else " ≤ ½, so the error falls only like k^(−a·g′), slower than 1/√k."
            ),
            f"\n对 a/k 而言增益很关键：a·g′(w*) = {gain:g}"
            + (
                " > ½，误差按 1/√k 下降。"
                if gain > 0.5
                else " ≤ ½，误差只按 k^(−a·g′) 下降，慢于 1/√k。"
            ),
        )
        lines.append(rate(lang))
    if p.problem == "mean" and "harmonic" in names:
        lines.append("\n" + _mean_check(p, names.index("harmonic"), iterates, observations, lang))
    return Rendered([traces, errors, root], "\n".join(lines))


def _mean_check(
    p: Params, index: int, iterates: torch.Tensor, observations: torch.Tensor, lang: str
) -> str:
    """How far the a/k run is from the sample mean of the samples it saw (run 1)."""
    from core.optim import stochastic_approximation as sa

    w = iterates[index, 0]
    samples = (w[:-1] - observations[index, 0]).numpy()  # ỹ_k = w_k − x_k
    running = sa.incremental_mean(samples)
    prefix = np.cumsum(samples) / np.arange(1, samples.size + 1)
    gap = float(np.abs(w[1:].numpy() - prefix).max())
    rule = float(np.abs(running - prefix).max())
    return Text(
        f"Run 1 of a_k = {p.a:g}/k against the sample mean of the {samples.size} samples x_k it "
        f"saw: max |w_(k+1) − (x_1 + … + x_k)/k| = {gap:.2g}"
        f"{' (a = 1: the same numbers, up to rounding)' if p.a == 1 else ' (only a = 1 gives the sample mean)'}. "
        f"The incremental rule w_(k+1) = w_k − (1/k)(w_k − x_k) against numpy.cumsum/k: {rule:.2g}.",
        f"a_k = {p.a:g}/k 的第 1 次运行与它见过的 {samples.size} 个样本 x_k 的样本均值相比："
        f"max |w_(k+1) − (x_1 + … + x_k)/k| = {gap:.2g}"
        f"{'（a = 1：两者相同，只差舍入误差）' if p.a == 1 else '（只有 a = 1 才是样本均值）'}。"
        f"增量公式 w_(k+1) = w_k − (1/k)(w_k − x_k) 与 numpy.cumsum/k 之差：{rule:.2g}。",
    )(lang)


presets = {
    "Incremental mean is the sample mean": Params(
        problem="mean", schedules=["harmonic"], a=1.0, steps=1000, seeds=200
    ),
    "Constant step never settles": Params(
        problem="mean", schedules=["harmonic", "constant"], constant_step=0.2, steps=2000
    ),
    "Step too small stops short": Params(
        problem="nonlinear", schedules=["harmonic", "fast"], q_fast=2.0, w0=-6.0, noise_std=0.5
    ),
    "SGD is stochastic approximation": Params(problem="least_squares", w0=-3.0, steps=1000),
}
preset_titles = {
    "Incremental mean is the sample mean": Text(
        "Incremental mean is the sample mean", "增量均值就是样本均值"
    ),
    "Constant step never settles": Text("Constant step never settles", "常数步长永远停不下来"),
    "Step too small stops short": Text("Step too small stops short", "步长衰减太快，停在半路"),
    "SGD is stochastic approximation": Text("SGD is stochastic approximation", "SGD 就是随机近似"),
}

EXPLANATION = Text(
    en="""
**The problem.** We want the root w* of a function g we cannot see: each query at w returns
only a noisy value ỹ = g(w) + noise. Robbins & Monro (1951) showed that the simple rule
**wₖ₊₁ = wₖ − aₖ·ỹₖ** (for an increasing g) converges to w* when the steps satisfy
**Σaₖ = ∞** (they can carry the iterate any distance) and **Σaₖ² < ∞** (the noise they
add up stays finite). aₖ = a/k^p meets both for ½ < p ≤ 1.

**The incremental mean is the first example.** To estimate E[X] take g(w) = w − E[X]: the
observation wₖ − xₖ needs one sample xₖ, and with aₖ = 1/k the rule
wₖ₊₁ = wₖ − (1/k)(wₖ − xₖ) is exactly the running sample mean (preset *Incremental mean
is the sample mean*; the note compares it with numpy's cumsum/k).

**What to look at.** In the first figure, each panel is one schedule: the band holds 80 % of
the runs. With a/k it narrows like 1/√k, the straight line of slope −½ in the log-log
figure, the rate of a sample mean. A *constant step* forgets old noise at a fixed rate and
never averages it away: the band stops narrowing and the error flattens (Σaₖ² = ∞). A decay
that is *too fast* (q > 1) has a finite total Σaₖ: the iterate runs out of steps before it
reaches w*, even without noise. p between ½ and 1 converges, more slowly (slope about −p/2).
With a/k the gain matters too: the 1/√k rate needs a·g′(w*) > ½.

**SGD is stochastic approximation.** Minimising E[½(xθ − y)²] means finding the root of its
gradient g(θ) = E[x(xθ − y)]; one sample's gradient xₖ(xₖθₖ − yₖ) is a noisy observation
of it, and the SGD update θ ← θ − aₖ·(that gradient) is Robbins–Monro. That is why SGD
learning-rate schedules decay, and why a constant learning rate leaves a noise floor. The
third figure shows the noisy observations around g for one run.
""",
    zh="""
**问题。** 我们想找到函数 g 的根 w*，但看不到 g 本身：在 w 处查询一次，只能得到带噪声的值 ỹ = g(w) + 噪声。
Robbins 与 Monro（1951）证明，对单调递增的 g，简单的迭代 **wₖ₊₁ = wₖ − aₖ·ỹₖ** 在步长满足
**Σaₖ = ∞**（步长之和足以把迭代值带到任意远处）且 **Σaₖ² < ∞**（累积的噪声方差有限）时收敛到 w*。
aₖ = a/k^p 在 ½ < p ≤ 1 时同时满足这两个条件。

**增量均值是最简单的例子。** 估计 E[X] 时取 g(w) = w − E[X]：观测值 wₖ − xₖ 只需要一个样本 xₖ；取 aₖ = 1/k，
迭代 wₖ₊₁ = wₖ − (1/k)(wₖ − xₖ) 恰好就是样本均值的递推形式（预设“增量均值就是样本均值”，
说明中把它与 numpy 的 cumsum/k 作了对比）。

**观察要点。** 第一张图每个面板对应一种步长，阴影带包含 80% 的运行。用 a/k 时阴影带按 1/√k 收窄，
在双对数图上是一条斜率为 −½ 的直线，与样本均值的收敛速度相同。**常数步长**以固定比例遗忘旧的噪声，
却无法把噪声平均掉：阴影带不再收窄，误差曲线变平（Σaₖ² = ∞）。**衰减过快**的步长（q > 1）总和 Σaₖ 有限：
即使没有噪声，迭代值也会在到达 w* 之前“走不动”。p 在 ½ 与 1 之间也收敛，只是更慢（斜率约为 −p/2）。
对 a/k 来说增益也很重要：要达到 1/√k 的速度需要 a·g′(w*) > ½。

**SGD 就是随机近似。** 最小化 E[½(xθ − y)²] 等价于寻找其梯度 g(θ) = E[x(xθ − y)] 的根；单个样本的梯度
xₖ(xₖθₖ − yₖ) 就是对它的一次带噪声观测，而 SGD 的更新 θ ← θ − aₖ·（该梯度）正是 Robbins–Monro 迭代。
这就是 SGD 的学习率要逐步衰减的原因，也解释了为什么常数学习率会留下一个噪声底。第三张图展示了一次运行中
围绕 g 散布的带噪声观测。
""",
)

DEMO = Demo(
    slug="stochastic-approximation",
    section="training",
    figures=3,
    title=Text("Stochastic approximation", "随机近似"),
    summary=Text(
        "Robbins–Monro: the incremental mean, step-size schedules and SGD, over many seeds.",
        "Robbins–Monro 算法：增量均值、步长序列与 SGD，多个随机种子一起看。",
    ),
    sources=(
        Source(
            "A Stochastic Approximation Method",
            "H. Robbins, S. Monro",
            1951,
            "https://doi.org/10.1214/aoms/1177729586",
        ),
        Source(
            "Stochastic estimation of the maximum of a regression function",
            "J. Kiefer, J. Wolfowitz",
            1952,
            "https://doi.org/10.1214/aoms/1177729392",
        ),
        Source(
            "Optimization Methods for Large-Scale Machine Learning",
            "L. Bottou, F. E. Curtis, J. Nocedal",
            2018,
            "https://arxiv.org/abs/1606.04838",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
