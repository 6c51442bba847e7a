"""Normalizing flows: how a stack of couplings bends a 2-D data cloud into a Gaussian.

The question: how can a network give an exact likelihood and also generate? A flow is an
invertible map x → z with a Jacobian determinant that is cheap to compute. NICE's additive
couplings keep the volume (log|det J| = 0) and leave all of it to a final scaling layer; RealNVP's
affine couplings change the volume in every layer. The flow is trained live on a toy data set;
the figures follow the points and a coordinate grid layer by layer, both ways.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_panels import axis_names, panel_layout
from demos.theme import COLORWAY

N_TRAIN, N_TEST, N_SHOWN = 2000, 500, 500  # training points, held-out points, points drawn
GRID_LINES, LINE_POINTS = 13, 60  # coordinate grid: lines per axis, points per line
DENSITY_GRID = 90  # density heatmap resolution per axis
EXTENT = 3.5  # data panels show [−EXTENT, EXTENT]²
EVAL_EVERY = 10  # held-out NLL every this many steps
BATCH = 128  # minibatch per Adam step: the step's cost is mostly matrix products of this height
GRID_COLOR = "rgba(128,128,128,0.55)"
DATASETS = {
    "moons": Text("Two moons", "双月"),
    "rings": Text("Two rings", "双环"),
    "checkerboard": Text("Checkerboard", "棋盘"),
    "8gaussians": Text("8 Gaussians", "8 个高斯"),
    "spiral": Text("Spiral", "螺旋"),
}
MODELS = {
    "nice": Text("NICE (additive)", "NICE（加性）"),
    "realnvp": Text("RealNVP (affine)", "RealNVP（仿射）"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    dataset: Literal["moons", "rings", "checkerboard", "8gaussians", "spiral"] = param(
        "moons", en="Data set", zh="数据集", choices=DATASETS
    )
    model: Literal["nice", "realnvp"] = param("realnvp", en="Coupling", zh="耦合层", choices=MODELS)
    layers: int = param(8, en="Coupling layers", zh="耦合层数", ge=1, le=8)
    width: int = param(
        32, en="Hidden units per coupling MLP", zh="每个耦合 MLP 的隐藏单元数", ge=8, le=64, step=8
    )
    steps: int = param(
        150,
        en=f"Adam steps (batch {BATCH})",
        zh=f"Adam 步数（批大小 {BATCH}）",
        help_en="Training runs live: ≤ 150 steps keep the heaviest setting (8 × 64) near one second.",
        help_zh="模型在线训练：不超过 150 步，最重的设置（8 层 × 64）约一秒即可完成。",
        ge=10,
        le=150,
        step=10,
    )
    lr: float = param(1e-2, en="Learning rate", zh="学习率", ge=1e-4, le=2e-2, step=1e-4)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=999)
    layer: int = param(
        8,
        en="Show after layer k",
        zh="显示第 k 层之后",
        help_en="0 = the data itself; values above the number of layers show the last one.",
        help_zh="0 表示原始数据；超过层数时显示最后一层。",
        ge=0,
        le=9,
    )


def _grid_lines(extent: float) -> np.ndarray:
    """Points of a square coordinate grid, line by line: (2·GRID_LINES, LINE_POINTS, 2)."""
    ticks = np.linspace(-extent, extent, GRID_LINES)
    along = np.linspace(-extent, extent, LINE_POINTS)
    vertical = np.stack(np.broadcast_arrays(ticks[:, None], along[None, :]), -1)
    return np.concatenate([vertical, vertical[..., ::-1]]).astype(np.float32)


@functools.lru_cache(maxsize=16)
def trained(dataset: str, model: str, layers: int, width: int, steps: int, lr: float, seed: int):
    """Train once per training setting; everything the figures need, as NumPy arrays."""
    import torch

    from core.generative.flows import standard_normal_log_prob, train_flow
    from core.generative.toy_data import sample_toy
    from core.trace import Trace

    x_train = sample_toy(dataset, N_TRAIN, seed).float()
    x_test = sample_toy(dataset, N_TEST, seed + 10_000).float()
    trace = Trace()
    flow = train_flow(
        x_train, x_test, kind=model, n_layers=layers, width=width, steps=steps, lr=lr,
        seed=seed, batch=BATCH, eval_every=EVAL_EVERY, trace=trace,
    )  # fmt: skip
    lines = torch.from_numpy(_grid_lines(EXTENT))
    shown = x_test[:N_SHOWN]
    points, _log_dets = flow.forward_trace(shown)
    grid_forward, _ = flow.forward_trace(lines.reshape(-1, 2))
    z = torch.randn(N_SHOWN, 2, generator=torch.Generator().manual_seed(seed + 2))
    latent_lines = torch.from_numpy(_grid_lines(3.0))
    samples_back = flow.inverse_trace(z)
    grid_back = flow.inverse_trace(latent_lines.reshape(-1, 2))
    axis = np.linspace(-EXTENT, EXTENT, DENSITY_GRID, dtype=np.float32)
    mesh = torch.from_numpy(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2))
    with torch.no_grad():
        log_p = flow.log_prob(mesh).reshape(DENSITY_GRID, DENSITY_GRID)
        _, test_log_dets = flow.forward_trace(x_test)
        latent_nll = -standard_normal_log_prob(points[-1]).mean()
    cell = (axis[1] - axis[0]) ** 2
    shape = lines.shape
    return {
        "points": [p.numpy() for p in points],
        "grid_forward": [g.reshape(shape).numpy() for g in grid_forward],
        "samples_back": [p.numpy() for p in samples_back],
        "grid_back": [g.reshape(shape).numpy() for g in grid_back],
        "log_det": np.stack([d.numpy() for d in test_log_dets], 1),  # (N_TEST, layers)
        "density": np.exp(log_p.numpy()),
        "density_axis": axis,
        "mass": float(np.exp(log_p.numpy()).sum() * cell),
        "data": x_train.numpy(),
        "loss": np.array(trace.column("step", "loss")),
        "test_steps": np.array(trace.column("test", "step")),
        "test_nll": np.array(trace.column("test", "nll")),
        "latent_nll": float(latent_nll),
        "n_couplings": layers,
    }


def _train(p: Params) -> dict:
    return trained(p.dataset, p.model, p.layers, p.width, p.steps, p.lr, p.seed)


def _lines_xy(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid lines (L, P, 2) as one x and one y array with NaN breaks between lines."""
    breaks = np.full((lines.shape[0], 1, 2), np.nan, dtype=np.float32)
    joined = np.concatenate([lines, breaks], 1).reshape(-1, 2)
    return joined[:, 0], joined[:, 1]


def _layer_name(k: int, n_couplings: int, lang: str) -> str:
    if k == 0:
        return Text("the data", "原始数据")(lang)
    if k > n_couplings:
        return Text("the scaling layer", "缩放层")(lang)
    return Text(f"coupling {k}", f"第 {k} 个耦合层")(lang)


def _layers_figure(p: Params, r: dict, lang: str) -> go.Figure:
    total = len(r["points"]) - 1
    k = min(p.layer, total)
    colour = r["points"][0][:, 0]  # every point keeps the colour of its data x₁
    back = r["samples_back"][k]
    data = []
    for panel, (lines, pts) in enumerate(
        [(r["grid_forward"][k], r["points"][k]), (r["grid_back"][k], back)]
    ):
        gx, gy = _lines_xy(lines)
        data.append({
            "type": "scatter", "mode": "lines", "x": gx, "y": gy,
            "line": {"color": GRID_COLOR, "width": 1}, "hoverinfo": "skip", "showlegend": panel == 0,
            "name": Text("coordinate grid", "坐标网格")(lang), **axis_names(panel),
        })  # fmt: skip
        data.append({
            "type": "scatter", "mode": "markers", "x": pts[:, 0], "y": pts[:, 1],
            "marker": {"size": 4, "color": colour if panel == 0 else COLORWAY[1], "colorscale": "Viridis",
                       "opacity": 0.8},
            "name": (Text("held-out points (colour: their data x₁)", "测试点（颜色：原始 x₁）")
                     if panel == 0 else Text("z ~ N(0, I) pulled back", "z ~ N(0, I) 逆向映射"))(lang),
            "hovertemplate": "(%{x:.2f}, %{y:.2f})<extra></extra>", **axis_names(panel),
        })  # fmt: skip
    step_back = Text(f"{k} inverse step(s)", f"逆向 {k} 步")(lang)
    titles = [
        Text(f"Data → latent: after {_layer_name(k, r['n_couplings'], 'en')}",
             f"数据 → 隐空间：经过{_layer_name(k, r['n_couplings'], 'zh')}之后")(lang),
        Text(f"Latent → data: z grid, {step_back}", f"隐空间 → 数据：z 网格，{step_back}")(lang),
    ]  # fmt: skip
    layout = panel_layout(titles, ["h₁", "h₁"], ["h₂", "h₂"], equal_aspect=True)
    layout.update(
        title={"text": Text(
            f"{MODELS[p.model].en}, {total} layer(s) in all: the grid bends, the points follow",
            f"{MODELS[p.model].zh}，共 {total} 层：网格弯曲，点随之移动")(lang)},
        height=470, margin={"t": 90}, legend={"orientation": "h", "y": -0.15},
    )  # fmt: skip
    for name in ("xaxis", "xaxis2"):
        layout[name]["range"] = [-4.5, 4.5]
    for name in ("yaxis", "yaxis2"):
        layout[name]["range"] = [-4.5, 4.5]
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _density_figure(p: Params, r: dict, lang: str) -> go.Figure:
    axis = r["density_axis"]
    samples = r["samples_back"][-1]
    data = [
        {"type": "heatmap", "x": axis, "y": axis, "z": r["density"].astype(np.float32),
         "colorscale": "Viridis", "colorbar": {"title": {"text": "p(x)"}, "thickness": 10, "x": 1.01},
         "hovertemplate": "x=(%{x:.2f}, %{y:.2f})<br>p=%{z:.3f}<extra></extra>", **axis_names(0)},
        {"type": "histogram2d", "x": r["data"][:, 0], "y": r["data"][:, 1], "nbinsx": 45,
         "nbinsy": 45, "xbins": {"start": -EXTENT, "end": EXTENT, "size": 2 * EXTENT / 45},
         "ybins": {"start": -EXTENT, "end": EXTENT, "size": 2 * EXTENT / 45}, "histnorm": "probability density",
         "colorscale": "Viridis", "showscale": False, "name": Text("training data", "训练数据")(lang),
         **axis_names(1)},
        {"type": "scatter", "mode": "markers", "x": samples[:, 0], "y": samples[:, 1],
         "marker": {"size": 3.5, "color": COLORWAY[1], "opacity": 0.75},
         "name": Text("samples f⁻¹(z)", "样本 f⁻¹(z)")(lang), **axis_names(2)},
    ]  # fmt: skip
    titles = [
        Text("Model density exp(log p(x))", "模型密度 exp(log p(x))")(lang),
        Text("Training data (histogram)", "训练数据（直方图）")(lang),
        Text("Samples x = f⁻¹(z), z ~ N(0, I)", "样本 x = f⁻¹(z)，z ~ N(0, I)")(lang),
    ]
    layout = panel_layout(titles, ["x₁"] * 3, ["x₂"] * 3, equal_aspect=True, gap=0.09)
    for i in ("", "2", "3"):
        layout[f"xaxis{i}"]["range"] = [-EXTENT, EXTENT]
        layout[f"yaxis{i}"]["range"] = [-EXTENT, EXTENT]
    layout.update(
        title={"text": Text(f"Density and samples (∫p over the window = {r['mass']:.3f})",
                            f"密度与样本（窗口内 ∫p = {r['mass']:.3f}）")(lang)},
        height=400, margin={"t": 90}, showlegend=False,
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _training_figure(p: Params, r: dict, lang: str) -> go.Figure:
    log_det = r["log_det"]
    names = [
        _layer_name(k + 1, r["n_couplings"], lang).replace("第 ", "").replace(" 个耦合层", "层")
        for k in range(log_det.shape[1])
    ]
    data = [
        {"type": "scatter", "mode": "lines", "x": np.arange(len(r["loss"])), "y": r["loss"].astype(np.float32),
         "name": Text("training loss (minibatch NLL)", "训练损失（小批量 NLL）")(lang),
         "line": {"color": COLORWAY[6], "width": 1}, **axis_names(0)},
        {"type": "scatter", "mode": "lines+markers", "x": r["test_steps"], "y": r["test_nll"],
         "name": Text("held-out NLL", "测试集 NLL")(lang), "line": {"color": COLORWAY[0], "width": 2.5},
         "marker": {"size": 4}, **axis_names(0)},
        {"type": "bar", "x": names, "y": log_det.mean(0),
         "error_y": {"type": "data", "symmetric": False,
                     "array": log_det.max(0) - log_det.mean(0), "arrayminus": log_det.mean(0) - log_det.min(0)},
         "marker": {"color": COLORWAY[2]}, "name": Text("log|det J| (mean, min–max bars)",
                                                          "log|det J|（均值，误差线为最小–最大）")(lang),
         **axis_names(1)},
    ]  # fmt: skip
    titles = [
        Text("Negative log-likelihood per step (nats)", "每步的负对数似然（nats）")(lang),
        Text("log|det J| per layer on the held-out points", "每层在测试点上的 log|det J|")(lang),
    ]
    layout = panel_layout(
        titles,
        [Text("Adam step", "Adam 步")(lang), Text("layer", "层")(lang)],
        ["NLL", "log|det J|"],
    )
    layout.update(
        title={"text": Text("Training and where the volume changes", "训练过程与体积在哪里变化")(lang)},
        height=400, margin={"t": 90}, legend={"orientation": "h", "y": -0.25},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    r = _train(p)
    figures = [
        _layers_figure(p, r, lang),
        _density_figure(p, r, lang),
        _training_figure(p, r, lang),
    ]
    per_layer = " · ".join(f"{v:+.3f}" for v in r["log_det"].mean(0))
    notes = Text(
        f"Held-out NLL after {p.steps} steps: **{r['test_nll'][-1]:.3f} nats** "
        f"(start {r['test_nll'][0]:.3f}). Mean log|det J| per layer: {per_layer}; "
        f"sum {r['log_det'].sum(1).mean():+.3f}. ∫p over the [−{EXTENT}, {EXTENT}]² window: {r['mass']:.3f}.",
        f"训练 {p.steps} 步后的测试集 NLL：**{r['test_nll'][-1]:.3f} nats**（初始 {r['test_nll'][0]:.3f}）。"
        f"每层平均 log|det J|：{per_layer}；总和 {r['log_det'].sum(1).mean():+.3f}。"
        f"[−{EXTENT}, {EXTENT}]² 窗口内 ∫p：{r['mass']:.3f}。",
    )
    return Rendered(figures, notes(lang))


presets = {
    "nice-volume": Params(dataset="moons", model="nice", layers=6, steps=150, lr=2e-2, layer=7),
    "realnvp-moons": Params(
        dataset="moons", model="realnvp", layers=8, width=64, steps=150, lr=1e-2, layer=4
    ),
    "checkerboard-few-layers": Params(
        dataset="checkerboard", model="realnvp", layers=2, width=64, steps=150, layer=2
    ),
}
preset_titles = {
    "nice-volume": Text("NICE: only the scaling layer changes volume", "NICE：只有缩放层改变体积"),
    "realnvp-moons": Text("RealNVP unrolls two moons", "RealNVP 展开双月"),
    "checkerboard-few-layers": Text("Too few layers for the checkerboard", "层数太少，学不会棋盘"),
}

EXPLANATION = Text(
    en="""
**A flow is an invertible network.** It maps data x to a latent z = f(x) that should look like
a standard Gaussian. Because f is invertible, the change-of-variables formula gives the exact
likelihood, log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x|, and sampling is f⁻¹(z) with
z ~ N(0, I). Training maximises the likelihood of the data (the NLL curve).

**Couplings make the determinant cheap.** Each layer leaves half of the coordinates (mask b)
unchanged and moves the other half by functions of the unchanged half: the Jacobian is
triangular. NICE (Dinh, Krueger & Bengio 2015) only shifts, y = x + t(b⊙x): the diagonal is 1,
log|det J| = 0 in every coupling, so all change of volume comes from a final diagonal scaling
layer. RealNVP (Dinh, Sohl-Dickstein & Bengio 2017) shifts and scales, y = x⊙exp(s(b⊙x)) + t(b⊙x),
with log|det J| = Σs, so each layer can contract or expand space where it needs to.

**What to look at.** Move the layer slider: the left panel pushes held-out points and a square
grid forward through the first k layers, each coupling moving only one coordinate; the right
panel pulls a regular grid in z back through k inverse steps towards data space. The bar chart
shows where the volume changes: zero for NICE's couplings, everything in its scaling layer.
With only one or two couplings each coordinate is moved once, too little for the checkerboard.
Continuous-time flows (Chen et al. 2018) and flow matching (next demo) take the same idea to an
ODE.
""",
    zh="""
**流模型是一个可逆网络。** 它把数据 x 映射为隐变量 z = f(x)，并希望 z 服从标准高斯分布。由于 f 可逆，
变量替换公式给出精确的似然：log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x|；采样则是 z ~ N(0, I) 后
计算 f⁻¹(z)。训练就是最大化数据的似然（图中的 NLL 曲线）。

**耦合层让行列式容易计算。** 每一层保持一半坐标（掩码 b）不变，另一半按不变那一半的函数移动，
于是雅可比矩阵是三角的。NICE（Dinh、Krueger 与 Bengio，2015）只做平移 y = x + t(b⊙x)：对角线全为 1，
每个耦合层的 log|det J| = 0，体积变化全部来自最后的对角缩放层。RealNVP（Dinh、Sohl-Dickstein 与
Bengio，2017）既平移又缩放 y = x⊙exp(s(b⊙x)) + t(b⊙x)，log|det J| = Σs，每一层都能在需要的地方压缩或拉伸空间。

**观察要点。** 拖动层滑块：左图把测试点和方形网格依次送过前 k 层，每个耦合层只移动一个坐标；
右图把 z 空间的规则网格逆向经过 k 步拉回数据空间。柱状图显示体积在哪一层变化：NICE 的耦合层都是 0，
全部体积变化在缩放层。只有一两个耦合层时，每个坐标只被移动一次，学不会棋盘分布。
连续时间的流（Chen 等，2018，神经 ODE）与流匹配（下一个演示）把同样的思想推广到常微分方程。
""",
)

DEMO = Demo(
    slug="normalizing-flows",
    section="generative",
    title=Text("Normalizing flows: NICE and RealNVP", "标准化流：NICE 与 RealNVP"),
    summary=Text(
        "Couplings trained live on 2-D data: points and grids layer by layer, density, samples, log|det J|.",
        "在二维数据上在线训练耦合层：逐层的点与网格、密度、样本、log|det J|。",
    ),
    sources=(
        Source(
            "NICE: Non-linear Independent Components Estimation",
            "L. Dinh, D. Krueger, Y. Bengio",
            2015,
            "https://arxiv.org/abs/1410.8516",
        ),
        Source(
            "Density estimation using Real NVP",
            "L. Dinh, J. Sohl-Dickstein, S. Bengio",
            2017,
            "https://arxiv.org/abs/1605.08803",
        ),
        Source(
            "Neural Ordinary Differential Equations",
            "R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud",
            2018,
            "https://arxiv.org/abs/1806.07366",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
    figures=3,
)
