"""State-space models: how can N numbers remember a whole past, and how does Mamba choose what to keep?

HiPPO-LegS updates N Legendre coefficients online so that the whole signal seen so far can be
rebuilt from them; S4 discretises the same kind of system with a step Δ and runs it either as a
recurrence or as one convolution; Mamba makes Δ depend on the token, so that fillers pass
without touching the state, and runs the recurrence as a parallel scan.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

SignalKind = Literal["sines", "smooth", "step", "chirp", "noise"]
SIGNALS: dict[str, Text] = {
    "sines": Text("Two sines", "两个正弦"),
    "smooth": Text("Smooth random", "平滑随机"),
    "step": Text("Step", "阶跃"),
    "chirp": Text("Chirp", "线性调频"),
    "noise": Text("White noise", "白噪声"),
}
METHOD_NAMES = {"zoh": Text("ZOH", "ZOH（零阶保持）"), "bilinear": Text("Bilinear", "双线性")}
TASKS = {
    "copying": Text("Selective copying", "选择性复制"),
    "induction": Text("Induction toy", "归纳头小例子"),
}
DT_SWEEP = np.linspace(-3.0, 0.0, 13)  # log₁₀Δ of the horizon curve
SWEEP_LENGTH = 4096  # lags the horizon curve looks at
LEGENDRE_SHOWN = 5
SCAN_SHOWN = 16  # positions of the parallel-scan diagram
# The hand-set layer: x_t = +1 on a token to write, −1 elsewhere, b = 0.55 − w, so a token to
# write gets Δ = softplus(0.55) ≈ 1 for every w and the others softplus(0.55 − 2w) (≈ 0 for w ≫ 1).
CONTENT_DELTA_SHIFT = 0.55
MAMBA_RATE = 0.25  # A_k = −0.25 (k + 1): the state's decay rates per unit of Δ


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    signal: SignalKind = param("sines", en="Signal", zh="信号", choices=SIGNALS)
    length: int = param(400, en="Signal length L", zh="信号长度 L", ge=64, le=2000, step=16)
    state_size: int = param(
        32,
        en="State size N (HiPPO, S4)",
        zh="状态维数 N（HiPPO、S4）",
        ge=4,
        le=64,
    )
    read_at: float = param(
        1.0,
        en="Read the memory at time t (share of L)",
        zh="在时刻 t 读取记忆（占 L 的比例）",
        help_en="The past [0, t] is rebuilt from the N numbers of the state at t.",
        help_zh="用 t 时刻状态中的 N 个数重建过去 [0, t]。",
        ge=0.05,
        le=1.0,
        step=0.01,
    )
    log_dt: float = param(
        -1.0,
        en="S4 step log₁₀Δ",
        zh="S4 步长 log₁₀Δ",
        ge=-3.0,
        le=0.0,
        step=0.05,
    )
    method: Literal["zoh", "bilinear"] = param(
        "zoh", en="Discretisation", zh="离散化方法", choices=METHOD_NAMES
    )
    task: Literal["copying", "induction"] = param(
        "copying", en="Mamba task", zh="Mamba 任务", choices=TASKS
    )
    selectivity: float = param(
        6.0,
        en="Selectivity w in Δₜ = softplus(w·xₜ + b)",
        zh="选择性 w（Δₜ = softplus(w·xₜ + b)）",
        help_en="0: every token gets the same Δ (an LTI layer, like S4).",
        help_zh="0：每个词的 Δ 相同（线性时不变层，类似 S4）。",
        ge=0.0,
        le=10.0,
        step=0.5,
    )
    tokens: int = param(48, en="Mamba sequence length", zh="Mamba 序列长度", ge=16, le=512)
    content: int = param(4, en="Content tokens", zh="内容词个数", ge=2, le=8)
    mamba_state: int = param(8, en="Mamba state size n", zh="Mamba 状态维数 n", ge=1, le=16)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


def _torch():
    import torch

    torch.set_num_threads(1)  # small matrices: threads cost more than they save on 2 cores
    return torch


def _signal(kind: str, length: int, seed: int) -> np.ndarray:
    """u_k = f(k / L), k = 1..L."""
    s = np.arange(1, length + 1) / length
    rng = np.random.default_rng(seed)
    if kind == "sines":
        return np.sin(2 * np.pi * 3 * s) + 0.5 * np.sin(2 * np.pi * 7 * s + 1)
    if kind == "smooth":
        freqs = np.arange(1, 9)
        amplitudes = rng.standard_normal(8) / freqs
        phases = rng.uniform(0, 2 * np.pi, 8)
        return (amplitudes[:, None] * np.cos(2 * np.pi * freqs[:, None] * s + phases[:, None])).sum(
            0
        )
    if kind == "step":
        return (s >= 0.5).astype(np.float64)
    if kind == "chirp":
        return np.sin(2 * np.pi * (2 * s + 10 * s**2))
    return rng.standard_normal(length)


# --- HiPPO ---------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _hippo(kind: str, length: int, n: int, seed: int) -> dict:
    torch = _torch()
    from core.sequence import ssm

    u = _signal(kind, length, seed)
    states = ssm.legs_memory(torch.tensor(u), n)
    A, _ = ssm.hippo_legs(n)
    s = torch.linspace(0, 1, 201, dtype=torch.float64)
    return {
        "u": u,
        "states": states.numpy(),
        "A": A.numpy(),
        "basis": ssm.legendre(n, s).numpy(),
        "s": s.numpy(),
    }


def _hippo_memory(p: Params, lang: str) -> tuple[go.Figure, float]:
    run = _hippo(p.signal, p.length, p.state_size, p.seed)
    k = max(1, round(p.read_at * p.length))  # the state after k samples
    c = run["states"][k - 1]
    times = np.arange(1, p.length + 1) / p.length
    s = run["s"]
    rebuilt = c @ run["basis"]  # f̂(s) on [0, 1] (1 = now), time s·t
    # error at the samples seen so far: the basis at s = j / k
    seen = np.arange(1, k + 1) / k
    from core.sequence.ssm import legendre

    torch = _torch()
    at_samples = c @ legendre(p.state_size, torch.tensor(seen)).numpy()
    error = at_samples - run["u"][:k]
    rms = float(np.sqrt(np.mean(error**2)))
    t_read = k / p.length
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": times,
            "y": run["u"],
            "name": Text("signal u", "信号 u")(lang),
            "line": {"color": "rgba(128,128,128,0.7)", "width": 1.5},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": s * t_read,
            "y": rebuilt,
            "name": Text(
                f"rebuilt from the {p.state_size} numbers c(t)",
                f"由 c(t) 的 {p.state_size} 个数重建",
            )(lang),
            "line": {"color": COLORWAY[0], "width": 2.5},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": times[:k],
            "y": error,
            "name": Text("error f̂ − u", "误差 f̂ − u")(lang),
            "line": {"color": COLORWAY[1], "width": 1.5},
            "xaxis": "x2",
            "yaxis": "y2",
        },
    ]
    line = {
        "type": "line",
        "yref": "paper",
        "x0": t_read,
        "x1": t_read,
        "y0": 0,
        "y1": 1,
        "line": {"dash": "dot", "width": 1.5, "color": "rgba(128,128,128,0.9)"},
    }
    title = Text(
        f"HiPPO-LegS: the whole past [0, t] rebuilt from N = {p.state_size} numbers at t = {t_read:.2f} "
        f"(RMS error {rms:.3f})",
        f"HiPPO-LegS：由 t = {t_read:.2f} 时的 N = {p.state_size} 个数重建整个过去 [0, t]（均方根误差 {rms:.3f}）",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 1], "anchor": "y", "range": [0, 1], "showticklabels": False},
        "yaxis": {"domain": [0.38, 1], "title": {"text": "u"}},
        "xaxis2": {
            "domain": [0, 1],
            "anchor": "y2",
            "matches": "x",
            "title": {"text": Text("time (share of L)", "时间（占 L 的比例）")(lang)},
        },
        "yaxis2": {"domain": [0, 0.26], "title": {"text": Text("error", "误差")(lang)}},
        "shapes": [{**line, "xref": "x"}],
        "height": 440,
        "legend": {"orientation": "h", "y": -0.2},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), rms


def _hippo_state(p: Params, lang: str) -> go.Figure:
    run = _hippo(p.signal, p.length, p.state_size, p.seed)
    n = p.state_size
    states = run["states"].T  # (N, L)
    stride = max(1, p.length // 400)  # at most ~400 columns drawn
    times = (np.arange(1, p.length + 1) / p.length)[::stride]
    limit = float(np.abs(states).max()) or 1.0
    data = [
        {
            "type": "heatmap",
            "x": times.astype(np.float32),
            "z": states[:, ::stride].astype(np.float32),
            "colorscale": "RdBu",
            "reversescale": True,
            "zmid": 0,
            "zmin": -limit,
            "zmax": limit,
            "colorbar": {
                "x": 0.4,
                "xanchor": "left",
                "thickness": 10,
                "len": 0.9,
                "title": {"text": "c"},
            },
            "hovertemplate": "t=%{x:.3f}, n=%{y}<br>c=%{z:.3f}<extra></extra>",
        },
        {
            "type": "heatmap",
            "z": run["A"].astype(np.float32),
            "xaxis": "x2",
            "yaxis": "y2",
            "colorscale": "Viridis",
            "showscale": False,
            "hovertemplate": "A[%{y}, %{x}] = %{z:.2f}<extra></extra>",
        },
    ]
    for index in range(min(LEGENDRE_SHOWN, n)):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": run["s"],
                "y": run["basis"][index],
                "xaxis": "x3",
                "yaxis": "y3",
                "name": f"√{2 * index + 1}·P{index}(2s−1)",
                "line": {"color": COLORWAY[index], "width": 1.8},
            }
        )
    title = Text(
        "The state c_n(t) over time, the matrix A and the first Legendre polynomials",
        "状态 c_n(t) 随时间的变化、矩阵 A 与前几个勒让德多项式",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "domain": [0, 0.38],
            "title": {"text": Text("time t (share of L)", "时间 t（占 L 的比例）")(lang)},
        },
        "yaxis": {"title": {"text": Text("coefficient n", "系数 n")(lang)}},
        "xaxis2": {"domain": [0.52, 0.72], "anchor": "y2", "title": {"text": "j"}},
        "yaxis2": {"anchor": "x2", "autorange": "reversed", "title": {"text": "i"}},
        "xaxis3": {
            "domain": [0.8, 1],
            "anchor": "y3",
            "title": {"text": Text("s (1 = now)", "s（1 = 现在）")(lang)},
        },
        "yaxis3": {"anchor": "x3"},
        "annotations": [
            caption(Text("A (LegS)", "A（LegS）")(lang), x=0.52),
            caption(Text("basis", "基函数")(lang), x=0.8),
        ],
        "height": 380,
        "legend": {"orientation": "h", "y": -0.25, "x": 0.55},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- S4 ------------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _s4(n: int, log_dt: float, method: str, kind: str, length: int, seed: int) -> dict:
    torch = _torch()
    from core.sequence import ssm

    A, B = ssm.hippo_legs(n)
    generator = torch.Generator().manual_seed(seed)
    C = torch.randn(n, generator=generator, dtype=torch.float64) / n**0.5
    horizons = {}
    for name in ("zoh", "bilinear"):
        horizons[name] = [
            ssm.horizon(ssm.ssm_kernel(*ssm.discretize(A, B, 10.0**e, name), C, SWEEP_LENGTH))
            for e in DT_SWEEP
        ]
    A_bar, B_bar = ssm.discretize(A, B, 10.0**log_dt, method)
    u = torch.tensor(_signal(kind, length, seed))
    kernel = ssm.ssm_kernel(A_bar, B_bar, C, length)
    recurrent = ssm.ssm_recurrent(A_bar, B_bar, C, u)
    convolved = ssm.causal_convolution(kernel, u)
    return {
        "kernel": kernel.numpy(),
        "horizon": ssm.horizon(ssm.ssm_kernel(A_bar, B_bar, C, SWEEP_LENGTH)),
        "horizons": horizons,
        "eigenvalues": torch.linalg.eigvals(A_bar).numpy(),
        "recurrent": recurrent.numpy(),
        "convolved": convolved.numpy(),
        "difference": float((recurrent - convolved).abs().max()),
    }


def _s4_figure(p: Params, lang: str) -> tuple[go.Figure, dict]:
    run = _s4(p.state_size, p.log_dt, p.method, p.signal, p.length, p.seed)
    method = METHOD_NAMES[p.method](lang)
    lags = np.arange(p.length)
    circle = np.linspace(0, 2 * np.pi, 121)
    sweep = 10.0**DT_SWEEP
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": lags,
            "y": run["kernel"],
            "name": Text(f"kernel K ({method})", f"卷积核 K（{method}）")(lang),
            "line": {"color": COLORWAY[0], "width": 2},
        },
    ]
    for index, name in enumerate(("zoh", "bilinear")):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": sweep,
                "y": run["horizons"][name],
                "name": Text("horizon, ", "记忆范围，")(lang) + METHOD_NAMES[name](lang),
                "xaxis": "x2",
                "yaxis": "y2",
                "line": {
                    "color": COLORWAY[2 + index],
                    "width": 2,
                    "dash": "solid" if index == 0 else "dot",
                },
                "marker": {"size": 5},
                "hovertemplate": "Δ=%{x:.3g}<br>%{y} lags",
            }
        )
    data += [
        {
            "type": "scatter",
            "mode": "lines",
            "x": np.cos(circle),
            "y": np.sin(circle),
            "xaxis": "x3",
            "yaxis": "y3",
            "line": {"color": "rgba(128,128,128,0.7)", "width": 1},
            "hoverinfo": "skip",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": run["eigenvalues"].real,
            "y": run["eigenvalues"].imag,
            "xaxis": "x3",
            "yaxis": "y3",
            "name": Text("eigenvalues of Ā", "Ā 的特征值")(lang),
            "marker": {"color": COLORWAY[1], "size": 7},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": lags,
            "y": run["recurrent"],
            "xaxis": "x4",
            "yaxis": "y4",
            "name": Text("recurrence", "递推")(lang),
            "line": {"color": COLORWAY[0], "width": 3},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": lags,
            "y": run["convolved"],
            "xaxis": "x4",
            "yaxis": "y4",
            "name": Text("FFT convolution", "FFT 卷积")(lang),
            "line": {"color": COLORWAY[4], "width": 1.5, "dash": "dash"},
        },
    ]
    shown_horizon = f"≥ {SWEEP_LENGTH}" if run["horizon"] >= SWEEP_LENGTH else str(run["horizon"])
    title = Text(
        f"S4 with HiPPO-LegS A, N = {p.state_size}, Δ = {10**p.log_dt:.3g} ({method}): memory "
        f"horizon {shown_horizon} steps",
        f"S4（HiPPO-LegS 的 A，N = {p.state_size}，Δ = {10**p.log_dt:.3g}，{method}）：记忆范围 {shown_horizon} 步",
    )
    marker = {
        "type": "line",
        "xref": "x2",
        "yref": "y2 domain",
        "x0": 10**p.log_dt,
        "x1": 10**p.log_dt,
        "y0": 0,
        "y1": 1,
        "line": {"dash": "dot", "width": 1.5, "color": "rgba(128,128,128,0.9)"},
    }
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 0.44], "title": {"text": Text("lag j", "滞后 j")(lang)}},
        "yaxis": {"domain": [0.6, 1], "title": {"text": "K_j = C Ā^j B̄"}},
        "xaxis2": {
            "domain": [0.56, 1],
            "anchor": "y2",
            "type": "log",
            "title": {"text": "Δ"},
        },
        "yaxis2": {
            "domain": [0.6, 1],
            "anchor": "x2",
            "type": "log",
            "title": {
                "text": Text("lags to |K| < 1 % of peak", "|K| 降到峰值 1% 以下的滞后")(lang)
            },
        },
        "xaxis3": {
            "domain": [0, 0.3],
            "anchor": "y3",
            "range": [-1.1, 1.1],
            "title": {"text": "Re"},
        },
        "yaxis3": {
            "domain": [0, 0.4],
            "anchor": "x3",
            "range": [-1.1, 1.1],
            "scaleanchor": "x3",
            "title": {"text": "Im"},
        },
        "xaxis4": {"domain": [0.42, 1], "anchor": "y4", "title": {"text": "k"}},
        "yaxis4": {"domain": [0, 0.4], "anchor": "x4", "title": {"text": "y_k"}},
        "annotations": [
            caption(
                Text(
                    f"recurrence vs convolution: max |difference| = {run['difference']:.1e}",
                    f"递推与卷积：最大差 {run['difference']:.1e}",
                )(lang),
                x=0.42,
                y=0.4,
            )
        ],
        "shapes": [marker],
        "height": 640,
        "legend": {"orientation": "h", "y": -0.14},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), run


# --- Mamba ---------------------------------------------------------------------------------------


def _tokens(task: str, length: int, content: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(u, x, target): token values u (0 = filler), the feature x the layer selects on, and
    for the induction toy the value to recall (−1 for copying)."""
    rng = np.random.default_rng(seed)
    if task == "copying":
        positions = np.sort(rng.choice(length, size=content, replace=False))
        u = np.zeros(length)
        u[positions] = rng.integers(1, 5, size=content)
        return u, np.where(u > 0, 1.0, -1.0), -1
    # induction: random tokens 1..4, a trigger (5) early on and again at the end
    u = rng.integers(1, 5, size=length).astype(np.float64)
    where = int(rng.integers(1, max(2, length // 3)))
    u[where] = 5.0
    u[-1] = 5.0
    target = int(u[where + 1])
    # the feature: "the previous token is the trigger", what Mamba's causal conv can see
    previous = np.concatenate([[0.0], u[:-1]])
    x = np.where(previous == 5.0, 1.0, -1.0)
    x[-1] = -1.0  # the second trigger's own follower is what the model must predict
    return u, x, target


@lru_cache(maxsize=32)
def _mamba(task: str, length: int, content: int, n: int, w: float, seed: int) -> dict:
    torch = _torch()
    from core.sequence import ssm
    from core.trace import Trace

    u_np, x_np, target = _tokens(task, length, content, seed)
    u = torch.tensor(u_np)[None, None, :]
    x = torch.tensor(x_np)
    delta = ssm.softplus_delta(x, w, CONTENT_DELTA_SHIFT - w)[None, None, :]
    rates = -MAMBA_RATE * torch.arange(1, n + 1, dtype=torch.float64)
    if task == "induction":
        rates = -torch.ones(n, dtype=torch.float64)  # one slot, overwritten when Δ ≈ 1
    A = rates[None, :]
    B = torch.ones(1, n, length, dtype=torch.float64)
    C = torch.ones(1, n, length, dtype=torch.float64) / n
    trace = Trace()
    y = ssm.selective_scan(u, delta, A, B, C, trace=trace)
    loop = ssm.selective_scan(u, delta, A, B, C, method="loop")
    states = trace["selective_state"][0]["x"][0, 0]  # (L, n)
    result = {
        "u": u_np,
        "delta": delta[0, 0].numpy(),
        "states": states.numpy(),
        "y": y[0, 0].numpy(),
        "loop_difference": float((y - loop).abs().max()),
        "levels": [
            (e["offset"], e["b"][0, 0, :SCAN_SHOWN, 0].numpy()) for e in trace["scan_level"]
        ],
        "target": target,
    }
    if task == "copying":
        # Decode the content from the last state as if only content tokens had moved the clock:
        # x_T = Σ_j exp(A Δ_c (m−1−j)) Δ_c v_j. Exact when fillers get Δ ≈ 0.
        delta_c = float(torch.nn.functional.softplus(torch.tensor(CONTENT_DELTA_SHIFT)))
        ages = torch.arange(content - 1, -1, -1, dtype=torch.float64)
        M = torch.exp(rates[:, None] * delta_c * ages[None, :]) * delta_c
        decoded = torch.linalg.lstsq(M, states[-1][:, None]).solution[:, 0]
        # LAPACK's least squares may differ in the last bits from one process to another (memory
        # alignment picks the kernel): 1e-9 is far below what the figure shows, and the same everywhere
        result["decoded"] = np.round(decoded.numpy(), 9)
        result["truth"] = u_np[u_np > 0]
    else:
        result["recalled"] = float(y[0, 0, -1])  # C = 1/n averages n equal slots
    return result


def _mamba_figure(p: Params, lang: str) -> tuple[go.Figure, dict]:
    run = _mamba(p.task, p.tokens, p.content, p.mamba_state, p.selectivity, p.seed)
    t = np.arange(p.tokens)
    content = run["u"] > 0 if p.task == "copying" else run["u"] == 5
    data = [
        {
            "type": "bar",
            "x": t,
            "y": run["u"],
            "name": Text("token value (0 = filler)", "词的取值（0 = 填充词）")(lang)
            if p.task == "copying"
            else Text("token (5 = trigger)", "词（5 = 触发词）")(lang),
            "marker": {"color": np.where(content, COLORWAY[1], "rgba(128,128,128,0.6)")},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": t,
            "y": run["delta"],
            "name": "Δₜ",
            "xaxis": "x2",
            "yaxis": "y2",
            "line": {"color": COLORWAY[0], "width": 2},
            "marker": {"size": 4},
        },
        {
            "type": "heatmap",
            "x": t,
            "z": run["states"].T.astype(np.float32),
            "xaxis": "x3",
            "yaxis": "y3",
            "colorscale": "Viridis",
            "colorbar": {"len": 0.28, "y": 0.14, "thickness": 10, "title": {"text": "x"}},
            "hovertemplate": "t=%{x}, state %{y}<br>%{z:.3f}<extra></extra>",
        },
    ]
    if p.task == "copying":
        index = np.arange(1, len(run["truth"]) + 1)
        data += [
            {
                "type": "bar",
                "x": index,
                "y": run["truth"],
                "name": Text("content tokens (truth)", "内容词（真值）")(lang),
                "xaxis": "x4",
                "yaxis": "y4",
                "marker": {"color": "rgba(128,128,128,0.6)"},
            },
            {
                "type": "bar",
                "x": index,
                "y": run["decoded"],
                "name": Text("decoded from the last state", "由最后状态解码")(lang),
                "xaxis": "x4",
                "yaxis": "y4",
                "marker": {"color": COLORWAY[2]},
                "width": 0.4,
            },
        ]
        error = float(np.abs(run["decoded"] - run["truth"]).max())
        result = Text(
            f"content decoded from the state: max error {error:.2g}",
            f"从状态解码内容词：最大误差 {error:.2g}",
        )
        panel = Text("decoded content", "解码出的内容")
    else:
        data.append(
            {
                "type": "bar",
                "x": [Text("target", "目标")(lang), Text("recalled", "回忆值")(lang)],
                "y": [run["target"], run["recalled"]],
                "xaxis": "x4",
                "yaxis": "y4",
                "marker": {"color": ["rgba(128,128,128,0.6)", COLORWAY[2]]},
                "showlegend": False,
            }
        )
        error = abs(run["recalled"] - run["target"])
        result = Text(
            f"recalled {run['recalled']:.2f} for target {run['target']} (error {error:.2g})",
            f"回忆值 {run['recalled']:.2f}，目标 {run['target']}（误差 {error:.2g}）",
        )
        panel = Text("recall at the second trigger", "第二个触发词处的回忆")
    mode = (
        Text("selection off (LTI, S4-like)", "关闭选择（线性时不变，类似 S4）")
        if p.selectivity == 0
        else Text(f"selection on (w = {p.selectivity:g})", f"开启选择（w = {p.selectivity:g}）")
    )
    title = Text(
        f"Mamba, {TASKS[p.task].en.lower()}: {mode.en}; {result.en}",
        f"Mamba，{TASKS[p.task].zh}：{mode.zh}；{result.zh}",
    )
    layout = {
        "title": {"text": title(lang), "font": {"size": 14}},
        "xaxis": {"domain": [0, 0.66], "anchor": "y", "showticklabels": False},
        "yaxis": {"domain": [0.72, 1], "title": {"text": Text("token", "词")(lang)}},
        "xaxis2": {"domain": [0, 0.66], "anchor": "y2", "matches": "x", "showticklabels": False},
        "yaxis2": {"domain": [0.4, 0.66], "title": {"text": "Δₜ"}},
        "xaxis3": {
            "domain": [0, 0.66],
            "anchor": "y3",
            "matches": "x",
            "title": {"text": Text("position t", "位置 t")(lang)},
        },
        "yaxis3": {"domain": [0, 0.32], "title": {"text": Text("state x_t", "状态 x_t")(lang)}},
        "xaxis4": {"domain": [0.76, 1], "anchor": "y4"},
        "yaxis4": {"domain": [0.4, 1], "anchor": "x4"},
        "annotations": [caption(panel(lang), x=0.76)],
        "barmode": "overlay",
        "height": 560,
        "legend": {"orientation": "h", "y": -0.16},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), run


def _scan_figure(p: Params, run: dict, lang: str) -> go.Figure:
    """Hillis–Steele levels on the first positions: level ℓ combines t with t − 2^ℓ."""
    shown = min(SCAN_SHOWN, p.tokens)
    rows = [np.asarray(run["delta"][:shown] * run["u"][:shown])]  # level 0: b_t = Δ_t B_t u_t
    offsets = []
    for offset, partial in run["levels"]:
        if offset >= shown:
            break
        rows.append(partial[:shown])
        offsets.append(offset)
    z = np.vstack(rows).astype(np.float32)
    edge_x, edge_y = [], []
    for level, offset in enumerate(offsets, start=1):
        for t in range(offset, shown):
            edge_x += [t - offset, t, None]
            edge_y += [level - 1, level, None]
    data = [
        {
            "type": "heatmap",
            "z": z,
            "x": np.arange(shown),
            "y": np.arange(len(rows)),
            "colorscale": "Viridis",
            "colorbar": {"thickness": 10, "title": {"text": "b"}},
            "hovertemplate": "t=%{x}, level %{y}<br>%{z:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": edge_x,
            "y": edge_y,
            "line": {"color": "rgba(255,255,255,0.75)", "width": 1.2},
            "hoverinfo": "skip",
            "showlegend": False,
        },
    ]
    title = Text(
        f"Parallel scan on the first {shown} positions: level ℓ combines t with t − 2^(ℓ−1); "
        f"loop vs parallel: max |difference| = {run['loop_difference']:.1e}",
        f"前 {shown} 个位置上的并行扫描：第 ℓ 层把 t 与 t − 2^(ℓ−1) 合并；"
        f"循环与并行的最大差 {run['loop_difference']:.1e}",
    )
    rule = Text(
        "each line: (a₁, b₁)∘(a₂, b₂) = (a₁a₂, a₂b₁ + b₂); colour: the partial state b",
        "每条线：(a₁, b₁)∘(a₂, b₂) = (a₁a₂, a₂b₁ + b₂)；颜色：部分状态 b",
    )
    layout = {
        "title": {"text": title(lang), "font": {"size": 13}},
        "xaxis": {"title": {"text": Text("position t", "位置 t")(lang)}, "dtick": 1},
        "yaxis": {
            "title": {"text": Text("level (state 0)", "层（状态 0）")(lang)},
            "dtick": 1,
        },
        "annotations": [caption(rule(lang))],
        "height": 360,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    memory, rms = _hippo_memory(p, lang)
    s4, s4_run = _s4_figure(p, lang)
    mamba, mamba_run = _mamba_figure(p, lang)
    figures = [memory, _hippo_state(p, lang), s4, mamba, _scan_figure(p, mamba_run, lang)]
    notes = Text(
        f"| check | value |\n|---|---:|\n| HiPPO RMS error on [0, t] | {rms:.2e} |\n"
        f"| S4 max \\|recurrence − FFT convolution\\| | {s4_run['difference']:.1e} |\n"
        f"| Mamba max \\|loop − parallel scan\\| | {mamba_run['loop_difference']:.1e} |",
        f"| 检查 | 数值 |\n|---|---:|\n| HiPPO 在 [0, t] 上的均方根误差 | {rms:.2e} |\n"
        f"| S4 最大 \\|递推 − FFT 卷积\\| | {s4_run['difference']:.1e} |\n"
        f"| Mamba 最大 \\|循环 − 并行扫描\\| | {mamba_run['loop_difference']:.1e} |",
    )
    return Rendered(figures, notes(lang))


presets = {
    "HiPPO remembers a whole sine": Params(signal="sines", state_size=32, read_at=1.0),
    "too few coefficients blur a step": Params(signal="step", state_size=4),
    "small Δ long memory, large Δ short": Params(log_dt=-2.5),
    "ZOH vs bilinear": Params(log_dt=0.0, method="bilinear"),
    "selection on: fillers skipped": Params(task="copying", selectivity=8.0, tokens=64),
    "selection off: LTI smears": Params(task="copying", selectivity=0.0, tokens=64),
}
preset_titles = {
    "HiPPO remembers a whole sine": Text("HiPPO remembers a whole sine", "HiPPO 记住整段正弦"),
    "too few coefficients blur a step": Text(
        "Too few coefficients blur a step", "系数太少，阶跃被抹平"
    ),
    "small Δ long memory, large Δ short": Text(
        "Small Δ long memory, large Δ short", "Δ 小记忆长，Δ 大记忆短"
    ),
    "ZOH vs bilinear": Text("ZOH vs bilinear", "ZOH 与双线性"),
    "selection on: fillers skipped": Text("Selection on: fillers skipped", "开启选择：跳过填充词"),
    "selection off: LTI smears": Text(
        "Selection off: LTI smears", "关闭选择：线性时不变层把内容抹平"
    ),
}

EXPLANATION = Text(
    en="""
**HiPPO: a whole past in N numbers.** Gu, Dao, Ermon, Rudra & Ré (2020) ask which N numbers
best summarise a signal seen so far. HiPPO-LegS answers: its coefficients on the first N
Legendre polynomials, stretched over [0, t]. They obey a linear ODE, c′ = (A c + B u)/t with the
fixed matrix A on screen, so one update per sample keeps them current (bilinear step 1/k). Move
the read time t: the blue curve is the whole past rebuilt from the N numbers of that moment.
Smooth signals need few coefficients; a step needs many (with N = 4 it blurs), and white noise
cannot be compressed at all.

**S4: one system, two ways to run it.** Gu, Goel & Ré (2022) discretise x′ = Ax + Bu with a step
Δ, by zero-order hold (Ā = e^{ΔA}) or the bilinear transform. The recurrence x_k = Ā x_{k−1} +
B̄ u_k is cheap at inference; unrolled, it is a convolution with the kernel K_j = C Ā^j B̄,
computed for training with one FFT (twice the length, or it wraps around). Both give the same
output (the overlaid curves, difference ~1e−15). Δ sets the memory: the kernel fades after
about 1/Δ steps (the horizon curve), and all eigenvalues of Ā stay in the unit disk. At large Δ
the two discretisations differ: ZOH's eigenvalues go to 0, bilinear's to −1 (oscillation).

**Mamba: choosing what to remember.** An S4 layer treats every token alike (time-invariant),
so fillers between the tokens that matter still decay and smear the state. Gu & Dao (2023) make
Δ, B and C functions of the token: Δₜ = softplus(w·xₜ + b). With selectivity w on, fillers get
Δ ≈ 0, Ā = e^{ΔA} ≈ 1, and the state passes them untouched; the content tokens can then be
decoded exactly from the last state (selective copying, their Fig. 2). With w = 0 the layer is
LTI and the decoding fails. In the induction toy the layer writes only the token after the
trigger (Δ ≈ 1 there, ≈ 0 elsewhere) and reads it back at the second trigger. Since Ā varies
with t there is no kernel any more; Mamba runs the recurrence as a parallel scan of the
associative pairs (a, b) (Blelloch 1990; Smith, Warrington & Linderman 2023, S5) in log₂L
levels, drawn for the first 16 positions, equal to the loop to rounding.
""",
    zh="""
**HiPPO：用 N 个数记住整个过去。** Gu、Dao、Ermon、Rudra 与 Ré（2020）提出的问题是：哪 N 个数最能概括到目前为止看到的信号？
HiPPO-LegS 的答案是：信号在拉伸到 [0, t] 上的前 N 个勒让德多项式上的系数。这些系数满足线性常微分方程
c′ = (A c + B u)/t（A 为图中固定的矩阵），所以每来一个样本更新一次就能保持最新（步长 1/k 的双线性离散）。
移动读取时刻 t：蓝色曲线就是由那一刻的 N 个数重建的整个过去。平滑信号只需少量系数；阶跃需要很多
（N = 4 时被抹平）；白噪声则完全无法压缩。

**S4：同一个系统，两种运行方式。** Gu、Goel 与 Ré（2022）用步长 Δ 离散化 x′ = Ax + Bu，
可以用零阶保持（Ā = e^{ΔA}）或双线性变换。递推 x_k = Ā x_{k−1} + B̄ u_k 在推理时很便宜；展开后它是与卷积核
K_j = C Ā^j B̄ 的卷积，训练时用一次 FFT 计算（长度取两倍，否则会首尾相接）。两者输出相同（重叠的两条曲线，差约 1e−15）。
Δ 决定记忆长度：卷积核约在 1/Δ 步后衰减（记忆范围曲线），而 Ā 的所有特征值都在单位圆内。Δ 很大时两种离散化不同：
ZOH 的特征值趋于 0，双线性的趋于 −1（振荡）。

**Mamba：选择记住什么。** S4 层对每个词一视同仁（时不变），所以重要词之间的填充词仍会让状态衰减、被抹平。
Gu 与 Dao（2023）让 Δ、B、C 依赖于当前词：Δₜ = softplus(w·xₜ + b)。开启选择性 w 后，填充词得到 Δ ≈ 0，
Ā = e^{ΔA} ≈ 1，状态原封不动地跳过它们；于是内容词可以从最后的状态中精确解码（选择性复制，论文图 2）。
w = 0 时该层是线性时不变的，解码失败。在归纳头小例子里，该层只写入触发词之后的那个词（那里 Δ ≈ 1，其余 ≈ 0），
并在第二次出现触发词时把它读出来。由于 Ā 随 t 变化，不再有卷积核；Mamba 把递推写成可结合的 (a, b) 对的并行扫描
（Blelloch 1990；Smith、Warrington 与 Linderman 2023，S5），共 log₂L 层，图中画出前 16 个位置，与循环结果只差舍入误差。
""",
)

DEMO = Demo(
    slug="ssm",
    section="attention",
    figures=5,
    title=Text("State-space models: HiPPO, S4, Mamba", "状态空间模型：HiPPO、S4、Mamba"),
    summary=Text(
        "A whole past kept in N numbers, S4's recurrence equal to its convolution, and Mamba's "
        "selective scan that skips fillers.",
        "用 N 个数保存整个过去、S4 的递推等于卷积，以及会跳过填充词的 Mamba 选择性扫描。",
    ),
    sources=(
        Source(
            "HiPPO: Recurrent memory with optimal polynomial projections",
            "A. Gu, T. Dao, S. Ermon, A. Rudra, C. Ré",
            2020,
            "https://arxiv.org/abs/2008.07669",
        ),
        Source(
            "Efficiently modeling long sequences with structured state spaces (S4)",
            "A. Gu, K. Goel, C. Ré",
            2022,
            "https://arxiv.org/abs/2111.00396",
        ),
        Source(
            "Mamba: Linear-time sequence modeling with selective state spaces",
            "A. Gu, T. Dao",
            2023,
            "https://arxiv.org/abs/2312.00752",
        ),
        Source("Prefix sums and their applications", "G. E. Blelloch", 1990),
        Source(
            "Simplified state space layers for sequence modeling (S5)",
            "J. T. H. Smith, A. Warrington, S. W. Linderman",
            2023,
            "https://arxiv.org/abs/2208.04933",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
