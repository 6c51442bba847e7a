"""Flow matching and rectified flow: straight conditional paths, curved marginal flows, reflow.

The question: diffusion samplers need many steps; why can a flow-matching model take few, and
reflow just one? Flow matching regresses a velocity field v_θ(x, t) on the velocities of simple
paths between a Gaussian source (t = 0) and the data (t = 1). Each path is straight, but paths
of different pairs cross, so the field they average to bends the ODE's trajectories. Reflow
retrains on the model's own pairs (x₀, ODE(x₀)), which no longer cross: straighter flows.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_panels import axis_names, panel_layout
from demos.theme import COLORWAY

N_SAMPLES = 600  # source points for samples, errors and S
N_PATHS = 40  # pairs drawn as paths
N_PAIRS = 80  # pairs drawn in the pairing panels
FIELD_GRID = 17  # arrows per axis in the field panels
ERROR_GRID = 45  # error map resolution
ODE_STEPS = 64  # Euler steps of each ODE solution taken as its endpoint
N_EXACT = 200  # source points integrated along the exact field (paths drawn, its S)
N_REFLOW = 1024  # reflow pairs (x₀, ODE(x₀)) the second model trains on
MOONS_K = 128  # the moons target: this many small Gaussians along the curve
EULER_STEPS = (1, 2, 4, 8, 32)
EXTENT = 3.6
SIGMA0 = 1.0  # source N(0, I)
BEFORE, AFTER = COLORWAY[0], COLORWAY[1]
MUTED = "rgba(128,128,128,0.6)"
TARGETS = {
    "gaussian": Text("Gaussian N((2, 1), 0.5²I)", "高斯 N((2, 1), 0.5²I)"),
    "mixture": Text("4 Gaussians", "4 个高斯的混合"),
    "moons": Text(f"Two moons ({MOONS_K}-Gaussian mixture)", f"双月（{MOONS_K} 个高斯的混合）"),
}
PATHS = {
    "linear": Text("straight: (1−t)x₀ + t·x₁", "直线：(1−t)x₀ + t·x₁"),
    "vp": Text("VP (diffusion): √(1−α²)x₀ + α·x₁", "VP（扩散）：√(1−α²)x₀ + α·x₁"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    target: Literal["gaussian", "mixture", "moons"] = param(
        "mixture", en="Target", zh="目标分布", choices=TARGETS
    )
    path: Literal["linear", "vp"] = param(
        "linear", en="Conditional path", zh="条件路径", choices=PATHS
    )
    steps: int = param(
        200,
        en="Adam steps per model (batch 256)",
        zh="每个模型的 Adam 步数（批大小 256）",
        help_en="The flow-matching model and the reflow model each train this long, live.",
        help_zh="流匹配模型与 reflow 模型各自在线训练这么多步。",
        ge=20,
        le=300,
        step=20,
    )
    lr: float = param(1e-2, en="Learning rate", zh="学习率", ge=1e-4, le=2e-2, step=1e-4)
    t: float = param(
        0.5, en="Time t of the field view", zh="速度场视图的时间 t", ge=0.0, le=0.95, step=0.05
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=999)


def target_mixture(name: str):
    """The target as a Gaussian mixture (weights (K,), means (K, 2), sigmas (K,)), float64."""
    import torch

    from core.generative.toy_data import sample_toy

    if name == "gaussian":
        means = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
        return torch.ones(1, dtype=torch.float64), means, torch.full((1,), 0.5, dtype=torch.float64)
    if name == "mixture":
        angles = torch.arange(4, dtype=torch.float64) * math.pi / 2 + math.pi / 4
        means = 2.3 * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
        return (
            torch.full((4,), 0.25, dtype=torch.float64),
            means,
            torch.full((4,), 0.35, dtype=torch.float64),
        )
    # the moons' curve at MOONS_K points, each a small Gaussian: the exact field stays cheap
    means = sample_toy("moons", MOONS_K, seed=7, noise=0.0)
    return (
        torch.full((MOONS_K,), 1 / MOONS_K, dtype=torch.float64),
        means,
        torch.full((MOONS_K,), 0.15, dtype=torch.float64),
    )


def _sampler(name: str):
    """sample_pairs(generator, n) -> independent (x₀ ~ N(0, I), x₁ ~ target), float32."""
    import torch

    weights, means, sigmas = target_mixture(name)

    def sample_pairs(g, n):
        k = torch.multinomial(weights, n, replacement=True, generator=g)
        x1 = means[k] + sigmas[k, None] * torch.randn(n, 2, generator=g, dtype=torch.float64)
        x0 = SIGMA0 * torch.randn(n, 2, generator=g, dtype=torch.float64)
        return x0.float(), x1.float()

    return sample_pairs


def _exact_field(name: str, kind: str):
    import torch

    from core.generative.flow_matching import mixture_velocity

    weights, means, sigmas = target_mixture(name)
    zero = torch.zeros(2, dtype=torch.float64)

    def velocity(x, t):
        t = min(float(t), 0.999) if kind == "vp" else float(t)
        return mixture_velocity(x.double(), t, zero, SIGMA0, weights, means, sigmas, kind).to(
            x.dtype
        )

    return velocity


@functools.lru_cache(maxsize=16)
def trained(target: str, path: str, steps: int, lr: float, seed: int) -> dict:
    """Flow matching, then reflow on its own ODE pairs; everything t-independent the figures
    need, as NumPy arrays (the models stay in the cache for the field view)."""
    import torch

    from core.generative import flow_matching as fm
    from core.trace import Trace

    sample_pairs = _sampler(target)
    exact = _exact_field(target, path)
    first_trace, reflow_trace = Trace(), Trace()
    v1 = fm.train_flow_matching(
        sample_pairs, steps=steps, lr=lr, kind=path, seed=seed, trace=first_trace
    )
    g = torch.Generator().manual_seed(seed + 3)
    x0, x1 = sample_pairs(g, N_SAMPLES)

    def learned(model):
        def velocity(x, t):
            with torch.no_grad():
                return model(x, t)

        return velocity

    ode1 = fm.euler_sample(learned(v1), x0, ODE_STEPS)
    # reflow pairs: fresh source points and the first model's ODE endpoints (Liu et al. 2023)
    reflow_source = torch.randn(N_REFLOW, 2, generator=g)
    reflow_target = fm.euler_sample(learned(v1), reflow_source, ODE_STEPS)[-1]

    def reflow_pairs(generator, n):
        idx = torch.randint(0, reflow_source.shape[0], (n,), generator=generator)
        return reflow_source[idx], reflow_target[idx]

    v2 = fm.train_flow_matching(
        reflow_pairs, steps=steps, lr=lr, kind="linear", seed=seed + 1, trace=reflow_trace
    )
    ode2 = fm.euler_sample(learned(v2), x0, ODE_STEPS)
    exact_ode = fm.euler_sample(exact, x0[:N_EXACT].double(), ODE_STEPS).float()
    samples, errors = {}, {}
    for name, model, reference in (("before", v1, ode1[-1]), ("after", v2, ode2[-1])):
        samples[name] = {}
        errors[name] = {}
        for k in (*EULER_STEPS, 16):
            end = fm.euler_sample(learned(model), x0, k)[-1]
            samples[name][k] = end.numpy()
            errors[name][k] = float((end - reference).norm(dim=-1).mean())
    ts = torch.linspace(0, 1, 31)
    cond = torch.stack(
        [fm.conditional_path(x0[:N_PATHS], x1[:N_PATHS], float(t), path)[0] for t in ts]
    )
    return {
        "v1": v1,
        "v2": v2,
        "x0": x0.numpy(),
        "x1": x1.numpy(),
        "cond_paths": cond.numpy(),  # (31, N_PATHS, 2)
        "exact_paths": exact_ode[:, :N_PATHS].numpy(),
        "ode1": ode1[-1].numpy(),
        "ode2": ode2[-1].numpy(),
        "reflow_pairs": (reflow_source[:N_PAIRS].numpy(), reflow_target[:N_PAIRS].numpy()),
        "samples": samples,
        "errors": errors,
        "S": {
            "exact": fm.straightness(exact, exact_ode.double()),
            "before": fm.straightness(learned(v1), ode1),
            "after": fm.straightness(learned(v2), ode2),
        },
        "loss": {
            "before": np.array(first_trace.column("step", "loss")),
            "after": np.array(reflow_trace.column("step", "loss")),
        },
    }


@functools.lru_cache(maxsize=16)
def field_view(target: str, path: str, steps: int, lr: float, seed: int, t: float) -> dict:
    """Learned and exact fields at time t on the arrow grid and the error grid."""
    import torch

    from core.generative.flow_matching import conditional_path

    r = trained(target, path, steps, lr, seed)
    exact = _exact_field(target, path)
    out = {}
    for name, n in (("arrows", FIELD_GRID), ("errors", ERROR_GRID)):
        axis = np.linspace(-EXTENT, EXTENT, n, dtype=np.float32)
        points = torch.from_numpy(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2))
        with torch.no_grad():
            learned = r["v1"](points, t)
        out[name] = (axis, points.numpy(), learned.numpy(), exact(points, t).numpy())
    _, _, learned, true = out["errors"]
    out["error_map"] = np.linalg.norm(learned - true, axis=-1).reshape(ERROR_GRID, ERROR_GRID)
    # where the data of time t actually lie: x_t of fresh pairs on the training path
    x0, x1 = _sampler(target)(torch.Generator().manual_seed(seed + 5), N_SAMPLES)
    x_t, _ = conditional_path(x0, x1, min(t, 0.999), path)
    with torch.no_grad():
        gap = (r["v1"](x_t, t) - exact(x_t, t)).norm(dim=-1)
    out["error_mean"] = float(gap.mean())
    return out


def _train(p: Params) -> dict:
    return trained(p.target, p.path, p.steps, p.lr, p.seed)


def _segments(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line segments start→end (N, 2) as x, y arrays with NaN breaks."""
    gap = np.full_like(start, np.nan)
    joined = np.stack([start, end, gap], 1).reshape(-1, 2)
    return joined[:, 0], joined[:, 1]


def _polylines(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paths (T, N, 2) as x, y arrays with NaN breaks between paths."""
    p = np.concatenate([paths, np.full((1, *paths.shape[1:]), np.nan, dtype=paths.dtype)])
    joined = p.transpose(1, 0, 2).reshape(-1, 2)
    return joined[:, 0], joined[:, 1]


def _square(layout: dict, n: int) -> None:
    for i in range(n):
        suffix = "" if i == 0 else str(i + 1)
        layout[f"xaxis{suffix}"]["range"] = [-EXTENT, EXTENT]
        layout[f"yaxis{suffix}"]["range"] = [-EXTENT, EXTENT]


def _ends(x0: np.ndarray, x1: np.ndarray, panel: int, lang: str, legend: bool) -> list[dict]:
    return [
        {"type": "scatter", "mode": "markers", "x": x0[:, 0], "y": x0[:, 1], "showlegend": legend,
         "marker": {"size": 5, "color": MUTED}, "name": Text("x₀ (source, t = 0)", "x₀（源，t = 0）")(lang),
         "legendgroup": "x0", **axis_names(panel)},
        {"type": "scatter", "mode": "markers", "x": x1[:, 0], "y": x1[:, 1], "showlegend": legend,
         "marker": {"size": 5, "color": COLORWAY[2]}, "name": Text("x₁ (t = 1)", "x₁（t = 1）")(lang),
         "legendgroup": "x1", **axis_names(panel)},
    ]  # fmt: skip


def _paths_figure(p: Params, r: dict, lang: str) -> go.Figure:
    cx, cy = _polylines(r["cond_paths"])
    ex, ey = _polylines(r["exact_paths"])
    data = [
        {"type": "scatter", "mode": "lines", "x": cx, "y": cy, "line": {"color": BEFORE, "width": 1.3},
         "name": Text("conditional paths x_t of pairs", "成对样本的条件路径 x_t")(lang), **axis_names(0)},
        *_ends(r["cond_paths"][0], r["cond_paths"][-1], 0, lang, True),
        {"type": "scatter", "mode": "lines", "x": ex, "y": ey, "line": {"color": AFTER, "width": 1.3},
         "name": Text("ODE trajectories of the exact marginal field", "精确边缘速度场的 ODE 轨迹")(lang),
         **axis_names(1)},
        *_ends(r["exact_paths"][0], r["exact_paths"][-1], 1, lang, False),
    ]  # fmt: skip
    titles = [
        Text("Pairs on their paths: they cross", "样本对沿各自路径：彼此交叉")(lang),
        Text(f"ODE dx/dt = v(x, t): S = {r['S']['exact']:.3f}",
             f"ODE dx/dt = v(x, t)：S = {r['S']['exact']:.3f}")(lang),
    ]  # fmt: skip
    layout = panel_layout(titles, ["x₁"] * 2, ["x₂"] * 2, equal_aspect=True)
    _square(layout, 2)
    layout.update(
        title={"text": Text(f"{PATHS[p.path].en}: straight per pair, curved in the flow",
                            f"{PATHS[p.path].zh}：每对是直的，整体的流却是弯的")(lang)},
        height=450, margin={"t": 90}, legend={"orientation": "h", "y": -0.15},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _field_figure(p: Params, f: dict, lang: str) -> go.Figure:
    _, points, learned, true = f["arrows"]
    scale = 0.12  # arrow = how far a point moves in Δt = 0.12
    data = []
    for panel, (field, colour) in enumerate(((learned, BEFORE), (true, AFTER))):
        sx, sy = _segments(points, points + scale * field)
        data.append({"type": "scatter", "mode": "lines", "x": sx, "y": sy, "line": {"color": colour, "width": 1.4},
                     "name": (Text("learned v_θ", "学到的 v_θ") if panel == 0 else Text("exact v", "精确的 v"))(lang),
                     "hoverinfo": "skip", **axis_names(panel)})  # fmt: skip
        data.append({"type": "scatter", "mode": "markers", "x": points[:, 0], "y": points[:, 1],
                     "marker": {"size": 2.5, "color": colour}, "showlegend": False, "hoverinfo": "skip",
                     **axis_names(panel)})  # fmt: skip
    error_axis = f["errors"][0]
    data.append({"type": "heatmap", "x": error_axis, "y": error_axis, "z": f["error_map"].astype(np.float32),
                 "colorscale": "Viridis", "colorbar": {"title": {"text": "‖v_θ − v‖"}, "thickness": 10},
                 "hovertemplate": "(%{x:.2f}, %{y:.2f}): %{z:.3f}<extra></extra>", **axis_names(2)})  # fmt: skip
    titles = [
        Text(f"Learned v_θ(x, {p.t:g})", f"学到的 v_θ(x, {p.t:g})")(lang),
        Text(f"Exact v(x, {p.t:g})", f"精确 v(x, {p.t:g})")(lang),
        Text(f"‖v_θ − v‖, mean on x_t {f['error_mean']:.3f}", f"‖v_θ − v‖，x_t 上均值 {f['error_mean']:.3f}")(lang),
    ]  # fmt: skip
    layout = panel_layout(titles, ["x₁"] * 3, ["x₂"] * 3, equal_aspect=True, gap=0.08)
    _square(layout, 3)
    layout.update(
        title={"text": Text("The velocity field at time t: exact v = E[u_t | x_t = x] (arrows: the move over Δt = 0.12)",
                            "时间 t 的速度场：精确场 v = E[u_t | x_t = x]（箭头：Δt = 0.12 内的位移）")(lang)},
        height=400, margin={"t": 90}, legend={"orientation": "h", "y": -0.18},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _samples_figure(p: Params, r: dict, lang: str) -> go.Figure:
    data = []
    for panel, k in enumerate(EULER_STEPS):
        for name, colour, label in (("before", BEFORE, Text("flow matching", "流匹配")),
                                    ("after", AFTER, Text("after reflow", "reflow 之后"))):  # fmt: skip
            pts = r["samples"][name][k]
            data.append({"type": "scatter", "mode": "markers", "x": pts[:, 0], "y": pts[:, 1],
                         "marker": {"size": 3, "color": colour, "opacity": 0.6}, "name": label(lang),
                         "legendgroup": name, "showlegend": panel == 0, **axis_names(panel)})  # fmt: skip
    titles = [
        f"K = {k}<br>{r['errors']['before'][k]:.2f} / {r['errors']['after'][k]:.2f}"
        for k in EULER_STEPS
    ]  # fmt: skip
    layout = panel_layout(titles, ["x₁"] * 5, ["x₂", "", "", "", ""], equal_aspect=True, gap=0.03)
    _square(layout, 5)
    layout.update(
        title={"text": Text("Samples after K Euler steps<br><sup>above each panel: mean distance to the ODE endpoint, before / after reflow</sup>",
                            "K 步欧拉法的样本<br><sup>小标题：到 ODE 终点的平均距离，reflow 前 / 后</sup>")(lang)},
        height=350, margin={"t": 110}, legend={"orientation": "h", "y": -0.2},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _pairing_figure(p: Params, r: dict, lang: str) -> go.Figure:
    steps = np.array((*EULER_STEPS, 16))
    order = np.argsort(steps)
    data = []
    for name, colour, label in (("before", BEFORE, Text("flow matching", "流匹配")),
                                ("after", AFTER, Text("after reflow", "reflow 之后"))):  # fmt: skip
        err = np.array([r["errors"][name][k] for k in steps])
        data.append({"type": "scatter", "mode": "lines+markers", "x": steps[order], "y": err[order],
                     "line": {"color": colour, "width": 2.5}, "name": label(lang), **axis_names(0)})  # fmt: skip
    x0, x1 = r["x0"][:N_PAIRS], r["x1"][:N_PAIRS]
    sx, sy = _segments(x0, x1)
    data.append({"type": "scatter", "mode": "lines", "x": sx, "y": sy, "line": {"color": BEFORE, "width": 1},
                 "name": Text("independent pairs (x₀, x₁)", "独立配对 (x₀, x₁)")(lang), **axis_names(1)})  # fmt: skip
    rx0, rx1 = r["reflow_pairs"]
    sx, sy = _segments(rx0, rx1)
    data.append({"type": "scatter", "mode": "lines", "x": sx, "y": sy, "line": {"color": AFTER, "width": 1},
                 "name": Text("reflow pairs (x₀, ODE(x₀))", "reflow 配对 (x₀, ODE(x₀))")(lang), **axis_names(2)})  # fmt: skip
    s = r["S"]
    titles = [
        Text("Euler error vs steps", "欧拉法误差随步数")(lang),
        Text(f"Flow-matching pairs; S = {s['before']:.3f}", f"流匹配的训练配对：S = {s['before']:.3f}")(lang),
        Text(f"Reflow pairs; S = {s['after']:.3f}", f"reflow 的配对：S = {s['after']:.3f}")(lang),
    ]  # fmt: skip
    layout = panel_layout(
        titles, [Text("Euler steps K", "欧拉步数 K")(lang), "x₁", "x₁"],
        [Text("mean ‖x_K − x_ODE‖", "平均 ‖x_K − x_ODE‖")(lang), "x₂", "x₂"], gap=0.08,
    )  # fmt: skip
    layout["xaxis"].update(type="log", tickvals=[int(k) for k in np.sort(steps)])
    layout["yaxis"].update(type="log", dtick=1)
    for i in ("2", "3"):
        layout[f"yaxis{i}"]["scaleanchor"] = f"x{i}"
        layout[f"xaxis{i}"]["range"] = [-EXTENT, EXTENT]
        layout[f"yaxis{i}"]["range"] = [-EXTENT, EXTENT]
    layout.update(
        title={"text": Text("Reflow: uncrossed pairs, a straighter flow, fewer steps<br><sup>S: the straightness of each model's ODE</sup>",
                            "Reflow：不再交叉的配对、更直的流、更少的步数<br><sup>S：各模型 ODE 的直线度</sup>")(lang)},
        height=400, margin={"t": 90}, legend={"orientation": "h", "y": -0.2},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    r = _train(p)
    f = field_view(p.target, p.path, p.steps, p.lr, p.seed, p.t)
    figures = [
        _paths_figure(p, r, lang),
        _field_figure(p, f, lang),
        _samples_figure(p, r, lang),
        _pairing_figure(p, r, lang),
    ]
    e, s = r["errors"], r["S"]
    header = Text(
        "| model | S | error, 1 step | 4 steps | 32 steps |\n|---|---:|---:|---:|---:|",
        "| 模型 | S | 误差，1 步 | 4 步 | 32 步 |\n|---|---:|---:|---:|---:|",
    )
    rows = [
        f"| {label(lang)} | {s[key]:.4f} | {e[key][1]:.4f} | {e[key][4]:.4f} | {e[key][32]:.4f} |"
        for key, label in (
            ("before", Text("flow matching", "流匹配")),
            ("after", Text("reflow", "reflow")),
        )
    ]
    footer = Text(
        f"Exact marginal flow: S = {s['exact']:.4f}. Learned vs exact field at t = {p.t:g}: "
        f"mean ‖v_θ − v‖ = {f['error_mean']:.4f} over samples of x_t. Errors are mean distances to "
        f"each model's own ODE endpoint ({ODE_STEPS} Euler steps).",
        f"精确边缘流：S = {s['exact']:.4f}。t = {p.t:g} 时学到的场与精确场的平均误差 "
        f"‖v_θ − v‖ = {f['error_mean']:.4f}（在 x_t 的样本上）。误差是到各模型自身 ODE 终点（{ODE_STEPS} 步欧拉）的平均距离。",
    )
    return Rendered(figures, "\n".join([header(lang), *rows, "", footer(lang)]))


presets = {
    "straight-curved": Params(target="mixture", path="linear", steps=200, t=0.5),
    "one-step-reflow": Params(target="gaussian", path="linear", steps=300, t=0.3),
    "vp-vs-straight": Params(target="mixture", path="vp", steps=200, t=0.5),
}
preset_titles = {
    "straight-curved": Text("Straight paths, curved flow", "直的路径，弯的流"),
    "one-step-reflow": Text("One step after reflow", "reflow 之后一步生成"),
    "vp-vs-straight": Text("VP path vs straight path", "VP 路径与直线路径"),
}

EXPLANATION = Text(
    en="""
**From continuous flows to flow matching.** A continuous normalizing flow (Chen et al. 2018)
moves points with an ODE dx/dt = v(x, t) from a Gaussian source at t = 0 to the data at t = 1.
Flow matching (Lipman et al. 2023) trains v_θ without solving the ODE: pick a pair (x₀, x₁), a
time t and a path between them, and regress v_θ(x_t, t) on the path's velocity u_t. The
least-squares optimum is the marginal field v(x, t) = E[u_t | x_t = x], which carries the whole
source distribution onto the data. For Gaussian and mixture targets this expectation has a
closed form, drawn here as the exact field.

**Straight pairs, curved flow.** With the straight path x_t = (1 − t)x₀ + t·x₁ (rectified flow,
Liu, Gong & Liu 2023) every pair moves in a line, but lines of different pairs cross; at a
crossing the field averages the directions, so the ODE's trajectories bend (first figure). The
VP path of diffusion models curves even per pair. Straightness S = ∫E‖(x₁ − x₀) − v(x_t, t)‖²dt
is 0 only for straight, constant-speed trajectories, and then one Euler step is exact.

**Reflow.** Solving the learned ODE pairs each x₀ with its own endpoint; these pairs do not
cross. Training again on them (reflow) gives a straighter field: compare the samples after 1, 2
and 4 Euler steps and S before and after. Here the source is at t = 0 and the data at t = 1;
Stable Diffusion 3 (Esser et al. 2024, next demo) writes the same path with data at t = 0.
""",
    zh="""
**从连续流到流匹配。** 连续标准化流（Chen 等，2018）用常微分方程 dx/dt = v(x, t) 把 t = 0 的高斯源分布
推到 t = 1 的数据分布。流匹配（Lipman 等，2023）训练 v_θ 时不需要求解 ODE：取一对 (x₀, x₁)、一个时间 t
和两者之间的一条路径，让 v_θ(x_t, t) 回归路径的速度 u_t。最小二乘的最优解是边缘速度场
v(x, t) = E[u_t | x_t = x]，它把整个源分布搬到数据分布上。对高斯和高斯混合目标，这个期望有闭式解，
图中画作“精确场”。

**每对是直线，整体的流却是弯的。** 用直线路径 x_t = (1 − t)x₀ + t·x₁（rectified flow，Liu、Gong 与 Liu，2023），
每一对都沿直线运动，但不同对的直线会交叉；在交叉处速度场取各方向的平均，于是 ODE 的轨迹是弯的（第一张图）。
扩散模型的 VP 路径连单对都是弯的。直线度 S = ∫E‖(x₁ − x₀) − v(x_t, t)‖²dt 只有在轨迹是匀速直线时为 0，
这时一步欧拉法就是精确的。

**Reflow。** 求解学到的 ODE，把每个 x₀ 与它自己的终点配对；这些配对不再交叉。在它们上再训练一次
（reflow）得到更直的速度场：比较 reflow 前后 1、2、4 步欧拉采样的结果与 S。这里源分布在 t = 0、数据在 t = 1；
Stable Diffusion 3（Esser 等，2024，下一个演示）用同一条路径，但把数据放在 t = 0。
""",
)

DEMO = Demo(
    slug="flow-matching",
    section="generative",
    title=Text("Flow matching and rectified flow", "流匹配与 rectified flow"),
    summary=Text(
        "Straight conditional paths, curved marginal flows, learned vs exact fields, few-step Euler, reflow.",
        "直的条件路径、弯的边缘流、学到的与精确的速度场、少步欧拉采样、reflow。",
    ),
    sources=(
        Source(
            "Neural Ordinary Differential Equations",
            "R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud",
            2018,
            "https://arxiv.org/abs/1806.07366",
        ),
        Source(
            "Flow Matching for Generative Modeling",
            "Y. Lipman, R. T. Q. Chen, H. Ben-Hamu, M. Nickel, M. Le",
            2023,
            "https://arxiv.org/abs/2210.02747",
        ),
        Source(
            "Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow",
            "X. Liu, C. Gong, Q. Liu",
            2023,
            "https://arxiv.org/abs/2209.03003",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
    figures=4,
)
