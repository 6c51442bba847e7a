"""Pose keypoints: what does decoding a heatmap lose, and what does RLE learn about the error?

A heatmap-based pose network predicts one map per keypoint and reads the point off it: argmax
snaps to a cell (its error floor is the stride), soft-argmax takes the expectation (sub-cell, but
pulled towards the map's centre by background mass). A regression network predicts the point
itself, and its loss says what it assumes about the error: L2 a Gaussian, L1 a Laplace, RLE a
density learned by a normalising flow. Here the decoders run on synthetic heatmaps and the three
likelihoods are fitted live to residuals drawn from a chosen law.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

INPUT = 256  # px: the side of the input image
MARGIN = 40  # px: random keypoints keep this far from the image border
RESOLUTIONS = (8, 12, 16, 24, 32, 48, 64, 96, 128)  # heatmap sides of the error sweep
POSITIONS = 96  # random keypoints per resolution in the sweeps
BETAS = np.geomspace(1.0, 200.0, 12)  # soft-argmax's β in the bias/noise sweep
OUTLIER_BOX = ((4.0, 12.0), (-6.0, 6.0))  # px: an annotation put on the wrong joint lands here
SWAP = 4.0  # px: the second mode of "two modes" (a left/right swap) sits at (SWAP, 0)
X_RANGE, Y_RANGE = (-8.0, 14.0), (-8.0, 8.0)  # px: the residual window drawn
LOCATIONS = np.linspace(-3.0, 8.0, 56)  # px: predicted points scanned in the total loss
DENSITY_LEVELS = (-3.0, -2.0, -1.0)  # log₁₀ density contours drawn for every model

COLORS = {
    "truth": "#FFFFFF",
    "argmax": COLORWAY[1],
    "shift": COLORWAY[3],
    "soft": COLORWAY[5],
    "closed": "#8C8C8C",
    "gaussian": COLORWAY[0],
    "laplace": COLORWAY[2],
    "flow": COLORWAY[1],
}

Law = Literal["gaussian", "laplace", "heavy tail", "two modes"]
LAWS = {
    "gaussian": Text("Gaussian", "高斯"),
    "laplace": Text("Laplace", "拉普拉斯"),
    "heavy tail": Text("heavy tail (Student t, ν = 3)", "重尾（Student t，ν = 3）"),
    "two modes": Text("two modes (left/right swaps)", "双峰（左右关节互换）"),
}
MODELS = {
    "gaussian": Text("Gaussian MLE (L2)", "高斯 MLE（L2）"),
    "laplace": Text("Laplace MLE (L1)", "拉普拉斯 MLE（L1）"),
    "flow": Text("RealNVP flow (RLE)", "RealNVP 流（RLE）"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    resolution: int = param(
        64,
        en="Heatmap resolution (cells per side)",
        zh="热图分辨率（每边格数）",
        help_en="The 256 px input is read off an H × W map; the stride is 256 / H px.",
        help_zh="256 px 的输入由 H × W 的热图读出；步长为 256 / H px。",
        ge=8,
        le=128,
    )
    sigma: float = param(2.0, en="Heatmap σ (cells)", zh="热图 σ（格）", ge=0.5, le=4.0, step=0.1)
    beta: float = param(
        20.0,
        en="Soft-argmax β",
        zh="Soft-argmax 的 β",
        help_en="softmax(β·h): small β lets the background in, large β approaches argmax.",
        help_zh="softmax(β·h)：β 小则背景权重大，β 大则接近 argmax。",
        ge=1.0,
        le=100.0,
        step=1.0,
    )
    noise: float = param(
        0.0,
        en="Background noise (std)",
        zh="背景噪声（标准差）",
        help_en="Gaussian noise added to every cell of the predicted heatmap (peak = 1).",
        help_zh="加到预测热图每个格上的高斯噪声（峰值 = 1）。",
        ge=0.0,
        le=0.3,
        step=0.01,
    )
    law: Law = param("laplace", en="Error law of the residuals", zh="残差的误差分布", choices=LAWS)
    outliers: float = param(
        0.1,
        en="Outlier share",
        zh="离群点比例",
        help_en="Annotations put on a wrong joint: uniform in a box to the right.",
        help_zh="标注到错误关节上：在右侧一个方框内均匀分布。",
        ge=0.0,
        le=0.4,
        step=0.01,
    )
    samples: int = param(512, en="Residual samples", zh="残差样本数", ge=64, le=1024, step=32)
    flow_steps: int = param(
        100, en="Flow training steps (Adam)", zh="流的训练步数（Adam）", ge=0, le=200, step=10
    )
    couplings: int = param(4, en="Flow couplings", zh="流的耦合层数", ge=1, le=4)
    seed: int = param(0, en="Seed", zh="随机种子", ge=0, le=99)


# --- computations, cached by the parameters they depend on -----------------------------------


def _torch():
    import torch

    torch.set_num_threads(1)  # small tensors: one thread, and the same bits as the app
    return torch


def _keypoint(seed: int) -> np.ndarray:
    """The single keypoint of figure 1, at a sub-pixel position of the input (x, y) px."""
    return np.random.default_rng(seed).uniform(MARGIN, INPUT - MARGIN, 2)


def _heatmaps(points, resolution: int, sigma: float, noise: float, seed: int):
    """Predicted heatmaps: the Gaussian target around each point (N, 2) px, plus background
    noise. -> (N, R, R) float32 (float64 would double the cost of the sweeps for nothing seen)."""
    torch = _torch()
    from core.vision.keypoints import gaussian_heatmap

    stride = INPUT / resolution
    points = torch.as_tensor(points, dtype=torch.float32)
    heat = gaussian_heatmap(points, (resolution, resolution), sigma, stride)
    if noise > 0:
        generator = torch.Generator().manual_seed(1000 * seed + resolution)
        heat = heat + noise * torch.randn(heat.shape, generator=generator, dtype=heat.dtype)
    return heat


def _decode(heat, resolution: int, beta: float) -> dict[str, np.ndarray]:
    from core.vision.keypoints import argmax_decode, soft_argmax

    stride = INPUT / resolution
    return {
        "argmax": argmax_decode(heat, stride).numpy(),
        "shift": argmax_decode(heat, stride, shift=True).numpy(),
        "soft": (soft_argmax(heat, beta) * stride).numpy(),
    }


def _positions(seed: int) -> np.ndarray:
    return np.random.default_rng(10_000 + seed).uniform(MARGIN, INPUT - MARGIN, (POSITIONS, 2))


def _rms(error: np.ndarray) -> float:
    """RMS error per axis, px: √(mean over points and both axes of e²)."""
    return float(np.sqrt(np.mean(error**2)))


@lru_cache(maxsize=16)
def _resolution_sweep(sigma: float, beta: float, noise: float, seed: int) -> dict:
    """RMS error per axis of each decoder against the heatmap resolution."""
    points = _positions(seed)
    rms = {name: [] for name in ("argmax", "shift", "soft")}
    for resolution in RESOLUTIONS:
        decoded = _decode(_heatmaps(points, resolution, sigma, noise, seed), resolution, beta)
        for name, found in decoded.items():
            rms[name].append(_rms(found - points))
    return {name: np.asarray(values) for name, values in rms.items()}


@lru_cache(maxsize=16)
def _beta_sweep(resolution: int, sigma: float, noise: float, seed: int) -> dict:
    """Soft-argmax's RMS error and its mean pull towards the map's centre against β."""
    from core.vision.keypoints import argmax_decode, soft_argmax

    points = _positions(seed)
    heat = _heatmaps(points, resolution, sigma, noise, seed)
    stride = INPUT / resolution
    towards = INPUT / 2 - points
    towards /= np.linalg.norm(towards, axis=-1, keepdims=True)
    rms, pull = [], []
    for beta in BETAS:
        error = (soft_argmax(heat, float(beta)) * stride).numpy() - points
        rms.append(_rms(error))
        pull.append(float(np.mean((error * towards).sum(-1))))
    argmax = _rms(argmax_decode(heat, stride).numpy() - points)
    return {"rms": np.asarray(rms), "pull": np.asarray(pull), "argmax": argmax}


def residuals(law: str, outliers: float, n: int, seed: int) -> np.ndarray:
    """n residuals (prediction − ground truth) (n, 2) px drawn from `law`, a share `outliers`
    of them replaced by annotations on a wrong joint (uniform in OUTLIER_BOX)."""
    rng = np.random.default_rng(seed)
    if law == "gaussian":
        r = rng.standard_normal((n, 2))
    elif law == "laplace":
        r = rng.laplace(0.0, 1 / np.sqrt(2), (n, 2))  # unit variance
    elif law == "heavy tail":
        r = rng.standard_t(3, (n, 2)) / np.sqrt(3)  # unit variance, polynomial tails
    else:
        r = 0.6 * rng.standard_normal((n, 2))
        r[rng.random(n) < 0.3, 0] += SWAP
    wrong = rng.random(n) < outliers
    (x0, x1), (y0, y1) = OUTLIER_BOX
    r[wrong] = rng.uniform((x0, y0), (x1, y1), (int(wrong.sum()), 2))
    return r


def _refined_minimum(xs: np.ndarray, ys: np.ndarray) -> float:
    """The minimum of a sampled smooth curve: the parabola through the lowest sample and its
    neighbours (the sample itself at an end)."""
    k = int(np.argmin(ys))
    if k in (0, len(ys) - 1):
        return float(xs[k])
    left, middle, right = ys[k - 1 : k + 2]
    curvature = left - 2 * middle + right
    step = xs[1] - xs[0]
    return float(xs[k] + (0.5 * step * (left - right) / curvature if curvature > 0 else 0.0))


@lru_cache(maxsize=16)
def _fit(law: str, outliers: float, samples: int, steps: int, couplings: int, seed: int) -> dict:
    """The three likelihoods fitted to training residuals, evaluated on held-out ones."""
    torch = _torch()
    from core.trace import Trace
    from core.vision.keypoints import fit_flow, gaussian_nll, laplace_nll

    train = residuals(law, outliers, samples, seed)
    test = residuals(law, outliers, samples, seed + 1000)
    # Zero-location MLEs: the residual is measured from the ground truth, as a regression loss
    # measures it; L2's scale is the RMS, L1's the mean absolute value.
    sigma = np.sqrt(np.mean(train**2, 0))
    b = np.mean(np.abs(train), 0)
    trace = Trace()
    # The flow sees residuals divided by σ (RLE's normalised residual μ̄ = (μ_g − μ̂)/σ̂).
    flow = fit_flow(
        torch.as_tensor(train / sigma, dtype=torch.float32), couplings, 32, steps, seed=seed,
        trace=trace,
    )  # fmt: skip
    log_sigma = float(np.log(sigma).sum())

    def flow_log_density(points: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            z = torch.as_tensor(points / sigma, dtype=torch.float32)
            return flow.log_prob(z.reshape(-1, 2)).double().numpy().reshape(points.shape[:-1])

    def log_densities(points: np.ndarray) -> dict[str, np.ndarray]:
        r = torch.as_tensor(points)
        return {
            "gaussian": -gaussian_nll(r, torch.as_tensor(sigma)).sum(-1).numpy(),
            "laplace": -laplace_nll(r, torch.as_tensor(b)).sum(-1).numpy(),
            "flow": flow_log_density(points) - log_sigma,
        }

    xs = np.linspace(*X_RANGE, 89)
    ys = np.linspace(*Y_RANGE, 49)  # the contour grid: 1/3 px, float32, ~15 KB a model
    contour_xs = np.linspace(*X_RANGE, 67)
    grid = np.stack(np.meshgrid(contour_xs, ys, indexing="xy"), -1)  # (Y, X, 2)
    # x-marginals: the 2-D density integrated over y (a wide window holds the flow's mass).
    wide = np.linspace(-24.0, 24.0, 121)
    marginal_grid = np.stack(np.meshgrid(xs, wide, indexing="xy"), -1)
    flow_marginal = np.exp(log_densities(marginal_grid)["flow"]).sum(0) * (wide[1] - wide[0])
    marginals = {
        "gaussian": -gaussian_nll(torch.as_tensor(xs), float(sigma[0])).numpy(),
        "laplace": -laplace_nll(torch.as_tensor(xs), float(b[0])).numpy(),
        "flow": np.log(flow_marginal),
    }
    # Total loss of each model over a predicted point (μ, 0), for the held-out annotations.
    shifted = test[None, :, :] - np.stack([LOCATIONS, np.zeros_like(LOCATIONS)], -1)[:, None]
    totals = {name: -value.mean(1) for name, value in log_densities(shifted).items()}
    minimisers = {
        "gaussian": float(test[:, 0].mean()),
        "laplace": float(np.median(test[:, 0])),
        "flow": _refined_minimum(LOCATIONS, totals["flow"]),
    }
    held_out = {name: float(-value.mean()) for name, value in log_densities(test).items()}
    trained = {name: float(-value.mean()) for name, value in log_densities(train).items()}
    return {
        "train": train,
        "test": test,
        "sigma": sigma,
        "b": b,
        "xs": xs,
        "ys": ys,
        "contour_xs": contour_xs,
        "grid": {
            name: (value / np.log(10)).astype(np.float32)
            for name, value in log_densities(grid).items()
        },
        "marginals": marginals,
        "totals": totals,
        "minimisers": minimisers,
        "held_out": held_out,
        "trained": trained,
        "flow_nll": np.asarray(trace.events.get("flow_nll", [])) + log_sigma,
    }


# --- figures ------------------------------------------------------------------------------


def _figure(data: list, layout: dict) -> go.Figure:
    """A Figure from plain dicts; the page's template goes in when it is serialised."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


def _two_panels(
    title: str, left: str, right: str, height: int, legend_y: float = -0.2, **axes: dict
) -> dict:
    """The layout of two panels side by side (x/y left, x2/y2 right): a title, a caption over
    each panel, the legend below; `axes` add to each axis."""
    layout = {
        "title": {"text": title},
        "annotations": [caption(left, y=1.0), caption(right, x=0.56, y=1.0)],
        "xaxis": {"domain": [0, 0.44]},
        "yaxis": {},
        "xaxis2": {"domain": [0.56, 1], "anchor": "y2"},
        "yaxis2": {"anchor": "x2"},
        "legend": {"orientation": "h", "y": legend_y, "x": 0.0},
        "height": height,
        "margin": {"t": 80},
    }
    for name, axis in axes.items():
        layout[name] = {**layout[name], **axis}
    return layout


def _decoder_names(lang: str, beta: float) -> dict[str, str]:
    return {
        "truth": Text("true point", "真实位置")(lang),
        "argmax": "argmax",
        "shift": Text("argmax + ¼-cell shift", "argmax + ¼ 格偏移")(lang),
        "soft": f"soft-argmax, β = {beta:g}",
    }


def _heatmap_figure(p: Params, lang: str) -> tuple[go.Figure, dict]:
    point = _keypoint(p.seed)
    heat = _heatmaps(point[None], p.resolution, p.sigma, p.noise, p.seed)
    decoded = {name: value[0] for name, value in _decode(heat, p.resolution, p.beta).items()}
    stride = INPUT / p.resolution
    cells = np.arange(p.resolution) * stride
    z = heat[0].numpy()
    # the zoom sends only the cells it shows (±5 around the point)
    near = [slice(max(0, int(c / stride) - 5), int(c / stride) + 6) for c in point]
    views = {"": (cells, cells, z), "2": (cells[near[0]], cells[near[1]], z[near[1], near[0]])}
    names = _decoder_names(lang, p.beta)
    symbols = {"argmax": "square-open", "shift": "diamond-open", "soft": "circle-open"}
    data = []
    for axis, gap in (("", 0), ("2", 1)):
        x, y, shown = views[axis]
        data.append(
            {"type": "heatmap", "x": x, "y": y, "z": shown, "colorscale": "Viridis",
             "zmin": float(z.min()), "zmax": float(z.max()),
             "xgap": gap, "ygap": gap, "xaxis": f"x{axis}", "yaxis": f"y{axis}",
             "showscale": axis == "", "colorbar": {"title": {"text": "h"}, "len": 0.8},
             "hovertemplate": "x %{x:.1f}, y %{y:.1f}: %{z:.3f}<extra></extra>"}
        )  # fmt: skip
        for name, symbol in symbols.items():
            data.append(
                {"type": "scatter", "x": [decoded[name][0]], "y": [decoded[name][1]],
                 "mode": "markers", "name": names[name], "legendgroup": name,
                 "showlegend": axis == "", "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                 "marker": {"symbol": symbol, "size": 14, "color": COLORS[name],
                            "line": {"width": 3, "color": COLORS[name]}}}
            )  # fmt: skip
        data.append(
            {"type": "scatter", "x": [point[0]], "y": [point[1]], "mode": "markers",
             "name": names["truth"], "legendgroup": "truth", "showlegend": axis == "",
             "xaxis": f"x{axis}", "yaxis": f"y{axis}",
             "marker": {"symbol": "x", "size": 13, "color": COLORS["truth"],
                        "line": {"width": 1.5, "color": "#111827"}}}
        )  # fmt: skip
    half = 3.5 * stride
    edge = [-stride / 2, INPUT - stride / 2]
    px = Text("px", "px")(lang)
    layout = _two_panels(
        Text(
            f"A keypoint on a {p.resolution} × {p.resolution} heatmap (stride {stride:g} px)",
            f"{p.resolution} × {p.resolution} 热图上的一个关键点（步长 {stride:g} px）",
        )(lang),
        Text("the whole 256 px input", "整张 256 px 输入")(lang),
        Text("zoom: ±3.5 cells", "放大：±3.5 格")(lang),
        500,
        -0.18,
        xaxis={"range": edge, "title": {"text": f"x ({px})"}, "constrain": "domain"},
        yaxis={"range": edge[::-1], "scaleanchor": "x", "title": {"text": f"y ({px})"},
               "constrain": "domain"},
        xaxis2={"title": {"text": f"x ({px})"}, "range": [point[0] - half, point[0] + half],
                "constrain": "domain"},
        yaxis2={"scaleanchor": "x2", "constrain": "domain",
                "range": [point[1] + half, point[1] - half]},
    )  # fmt: skip
    return _figure(data, layout), {"point": point, **decoded}


def _sweep_figure(p: Params, lang: str) -> tuple[go.Figure, dict]:
    sweep = _resolution_sweep(p.sigma, p.beta, p.noise, p.seed)
    betas = _beta_sweep(p.resolution, p.sigma, p.noise, p.seed)
    resolutions = np.asarray(RESOLUTIONS, dtype=float)
    fine = np.geomspace(RESOLUTIONS[0], RESOLUTIONS[-1], 60)
    names = _decoder_names(lang, p.beta)
    t = Text
    data = [
        {"type": "scatter", "x": fine, "y": INPUT / fine / np.sqrt(12), "mode": "lines",
         "name": t("stride/√12 (argmax's floor)", "stride/√12（argmax 的误差下界）")(lang),
         "line": {"color": COLORS["closed"], "dash": "dash"}},
        {"type": "scatter", "x": fine, "y": INPUT / fine / np.sqrt(48), "mode": "lines",
         "name": t("stride/√48 (with the shift, σ large)", "stride/√48（加偏移，σ 足够大）")(lang),
         "line": {"color": COLORS["closed"], "dash": "dot"}},
    ]  # fmt: skip
    for name in ("argmax", "shift", "soft"):
        data.append(
            {"type": "scatter", "x": resolutions, "y": sweep[name], "mode": "lines+markers",
             "name": names[name], "line": {"color": COLORS[name]}}
        )  # fmt: skip
    data += [
        {"type": "scatter", "x": BETAS, "y": betas["rms"], "mode": "lines+markers",
         "name": t("soft-argmax RMS error", "soft-argmax 的 RMS 误差")(lang),
         "line": {"color": COLORS["soft"]}, "xaxis": "x2", "yaxis": "y2"},
        {"type": "scatter", "x": BETAS, "y": betas["pull"], "mode": "lines+markers",
         "name": t("mean pull towards the centre", "向中心的平均偏移")(lang),
         "line": {"color": COLORWAY[4], "dash": "dash"}, "xaxis": "x2", "yaxis": "y2"},
        {"type": "scatter", "x": [BETAS[0], BETAS[-1]], "y": [betas["argmax"]] * 2,
         "mode": "lines", "name": t("argmax RMS error", "argmax 的 RMS 误差")(lang),
         "line": {"color": COLORS["argmax"], "dash": "dot"}, "xaxis": "x2", "yaxis": "y2"},
    ]  # fmt: skip
    chosen = {"type": "line", "line": {"color": "#9CA3AF", "width": 1, "dash": "dot"},
              "yref": "paper", "y0": 0, "y1": 1}  # fmt: skip
    layout = _two_panels(
        t(
            f"Decoding error over {POSITIONS} random keypoints (σ = {p.sigma:g} cells, "
            f"noise {p.noise:g})",
            f"{POSITIONS} 个随机关键点上的解码误差（σ = {p.sigma:g} 格，噪声 {p.noise:g}）",
        )(lang),
        t("against the heatmap resolution", "随热图分辨率变化")(lang),
        t(f"soft-argmax against β at {p.resolution} cells",
          f"{p.resolution} 格时 soft-argmax 随 β 变化")(lang),
        520,
        -0.22,
        xaxis={"type": "log", "tickvals": list(RESOLUTIONS),
               "title": {"text": t("heatmap cells per side", "热图每边格数")(lang)}},
        yaxis={"type": "log",
               "title": {"text": t("RMS error per axis (px)", "每轴 RMS 误差（px）")(lang)}},
        xaxis2={"type": "log", "title": {"text": "β"}},
        yaxis2={"title": {"text": t("error (px)", "误差（px）")(lang)}},
    )  # fmt: skip
    layout["shapes"] = [
        {**chosen, "x0": p.resolution, "x1": p.resolution, "xref": "x"},
        {**chosen, "x0": p.beta, "x1": p.beta, "xref": "x2"},
    ]
    return _figure(data, layout), {"sweep": sweep, "betas": betas}


def _residual_figure(p: Params, fit: dict, lang: str) -> go.Figure:
    names = {name: text(lang) for name, text in MODELS.items()}
    xs, train = fit["xs"], fit["train"]
    t = Text
    data = [
        {"type": "histogram", "x": train[:, 0], "histnorm": "probability density",
         "xbins": {"start": X_RANGE[0], "end": X_RANGE[1], "size": 0.5}, "opacity": 0.45,
         "marker": {"color": "#9CA3AF"}, "name": t("training residuals, x", "训练残差，x")(lang)},
    ]  # fmt: skip
    held = fit["held_out"]
    for name in MODELS:
        label = t(f"{names[name]}: held-out NLL {held[name]:.3f}",
                  f"{names[name]}：留出集 NLL {held[name]:.3f}")(lang)  # fmt: skip
        data.append(
            {"type": "scatter", "x": xs, "y": np.exp(fit["marginals"][name]), "mode": "lines",
             "name": label, "legendgroup": name, "line": {"color": COLORS[name], "width": 2.5}}
        )  # fmt: skip
    data.append(
        {"type": "scatter", "x": train[:, 0], "y": train[:, 1], "mode": "markers",
         "marker": {"size": 4, "color": "#9CA3AF", "opacity": 0.6}, "showlegend": False,
         "xaxis": "x2", "yaxis": "y2", "hoverinfo": "skip"}
    )  # fmt: skip
    for name in MODELS:
        color = COLORS[name]
        data.append(
            {"type": "contour", "x": fit["contour_xs"], "y": fit["ys"], "z": fit["grid"][name],
             "contours": {"coloring": "lines", "start": DENSITY_LEVELS[0],
                          "end": DENSITY_LEVELS[-1], "size": 1},
             "colorscale": [[0, color], [1, color]], "showscale": False,
             "line": {"width": 2, "dash": "solid" if name == "flow" else "dash"},
             "name": names[name], "legendgroup": name, "showlegend": False,
             "xaxis": "x2", "yaxis": "y2", "hoverinfo": "skip"}
        )  # fmt: skip
    residual_x = {
        "range": list(X_RANGE),
        "title": {"text": t("x residual (px)", "x 残差（px）")(lang)},
    }
    layout = _two_panels(
        t(
            f"Residuals: {LAWS[p.law](lang)}, {p.outliers:.0%} outliers, {p.samples} samples",
            f"残差：{LAWS[p.law](lang)}，{p.outliers:.0%} 离群点，{p.samples} 个样本",
        )(lang),
        t("x-residual histogram and fitted marginals", "x 残差直方图与拟合的边缘密度")(lang),
        t("2-D residuals; log₁₀ density = −3, −2, −1", "二维残差；log₁₀ 密度 = −3、−2、−1")(lang),
        500,
        xaxis=residual_x,
        yaxis={"title": {"text": t("density", "密度")(lang)}, "rangemode": "tozero"},
        xaxis2=residual_x,
        yaxis2={"range": list(Y_RANGE), "title": {"text": t("y residual (px)", "y 残差（px）")(lang)}},
    )  # fmt: skip
    return _figure(data, layout)


def _loss_figure(p: Params, fit: dict, lang: str) -> go.Figure:
    names = {name: text(lang) for name, text in MODELS.items()}
    marks = {
        "gaussian": Text("mean", "均值"),
        "laplace": Text("median", "中位数"),
        "flow": Text("flow's minimiser", "流的最小点"),
    }
    t = Text
    data = []
    for name in MODELS:
        data.append(
            {"type": "scatter", "x": fit["xs"], "y": -fit["marginals"][name], "mode": "lines",
             "name": names[name], "legendgroup": name, "line": {"color": COLORS[name], "width": 2.5}}
        )  # fmt: skip
    for name in MODELS:
        total = fit["totals"][name]
        best = fit["minimisers"][name]
        lowest = float(total.min())
        data.append(
            {"type": "scatter", "x": LOCATIONS, "y": total - lowest, "mode": "lines",
             "legendgroup": name, "showlegend": False, "line": {"color": COLORS[name], "width": 2.5},
             "xaxis": "x2", "yaxis": "y2", "name": names[name]}
        )  # fmt: skip
        at = float(np.interp(best, LOCATIONS, total - lowest))
        data.append(
            {"type": "scatter", "x": [best], "y": [at], "mode": "markers",
             "marker": {"size": 12, "color": COLORS[name], "symbol": "diamond",
                        "line": {"width": 1, "color": "#111827"}},
             "xaxis": "x2", "yaxis": "y2", "name": f"{marks[name](lang)}{t(': ', '：')(lang)}μ = {best:.2f} px"}
        )  # fmt: skip
    # The flow's loss climbs far faster than L1's and L2's: cut the axis where theirs end.
    spans = [np.ptp(fit["totals"][name]) for name in ("gaussian", "laplace")]
    top = max(3.0, 1.3 * max(spans))
    layout = _two_panels(
        t(
            "What each loss assumes, and where it puts the prediction",
            "每个损失的假设，以及它把预测放在哪里",
        )(lang),
        t("−log density of the x-residual", "x 残差的 −log 密度")(lang),
        t("mean loss of a prediction (μ, 0)", "预测 (μ, 0) 的平均损失")(lang),
        480,
        xaxis={"range": list(X_RANGE), "title": {"text": t("x residual (px)", "x 残差（px）")(lang)}},
        yaxis={"title": {"text": "−log p (nats)"}, "range": [0, 16]},
        xaxis2={"title": {"text": t("predicted x, μ (px); truth at 0",
                                    "预测的 x，μ（px）；真值为 0")(lang)}},
        yaxis2={"range": [0, top],
                "title": {"text": t("loss − its minimum (nats)", "损失 − 其最小值（nats）")(lang)}},
    )  # fmt: skip
    return _figure(data, layout)


def _training_figure(p: Params, fit: dict, lang: str) -> go.Figure:
    t = Text
    steps = np.arange(1, len(fit["flow_nll"]) + 1)
    data = [
        {"type": "scatter", "x": steps, "y": fit["flow_nll"], "mode": "lines",
         "name": t("flow, training NLL", "流：训练 NLL")(lang), "line": {"color": COLORS["flow"]}},
    ]  # fmt: skip
    last = max(len(steps), 1)
    for name, dash in (("gaussian", "dash"), ("laplace", "dash"), ("flow", "dot")):
        data.append(
            {"type": "scatter", "x": [0, last], "y": [fit["held_out"][name]] * 2, "mode": "lines",
             "name": t(f"{MODELS[name].en}: held-out", f"{MODELS[name].zh}：留出集")(lang),
             "line": {"color": COLORS[name], "dash": dash}}
        )  # fmt: skip
    layout = {
        "title": {
            "text": t(
                f"Training the flow: full-batch Adam, {p.couplings} couplings",
                f"训练流：全批量 Adam，{p.couplings} 个耦合层",
            )(lang)
        },
        "xaxis": {"title": {"text": t("Adam step", "Adam 步数")(lang)}, "range": [0, last]},
        "yaxis": {"title": {"text": t("NLL (nats per point)", "NLL（nats/点）")(lang)}},
        "legend": {"orientation": "h", "y": -0.25, "x": 0.0},
        "height": 400,
    }
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    heatmap, decoded = _heatmap_figure(p, lang)
    sweep, swept = _sweep_figure(p, lang)
    fit = _fit(p.law, p.outliers, p.samples, p.flow_steps, p.couplings, p.seed)
    stride = INPUT / p.resolution
    index = RESOLUTIONS.index(p.resolution) if p.resolution in RESOLUTIONS else None
    point = decoded["point"]
    names = _decoder_names(lang, p.beta)
    t = Text
    rows = [
        t("| decoder | x (px) | y (px) | error (px) |", "| 解码 | x (px) | y (px) | 误差 (px) |")(
            lang
        ),
        "|---|---:|---:|---:|",
        f"| {names['truth']} | {point[0]:.2f} | {point[1]:.2f} | |",
    ]
    for name in ("argmax", "shift", "soft"):
        x, y = decoded[name]
        rows.append(
            f"| {names[name]} | {x:.2f} | {y:.2f} | {np.hypot(x - point[0], y - point[1]):.2f} |"
        )
    floor = t(
        f"Stride {stride:g} px: argmax's floor stride/√12 = {stride / np.sqrt(12):.2f} px per axis",
        f"步长 {stride:g} px：argmax 的误差下界 stride/√12 = 每轴 {stride / np.sqrt(12):.2f} px",
    )(lang)
    if index is not None:
        measured = swept["sweep"]["argmax"][index]
        floor += t(f"; measured {measured:.2f} px", f"；实测 {measured:.2f} px")(lang)
    table = [
        "",
        floor + ".",
        "",
        t(
            "| model | train NLL | held-out NLL | minimiser of the loss (px) |",
            "| 模型 | 训练 NLL | 留出集 NLL | 损失的最小点 (px) |",
        )(lang),
        "|---|---:|---:|---:|",
    ]
    for name, model in MODELS.items():
        table.append(
            f"| {model(lang)} | {fit['trained'][name]:.3f} | {fit['held_out'][name]:.3f} | "
            f"{fit['minimisers'][name]:.2f} |"
        )
    figures = [
        heatmap,
        sweep,
        _residual_figure(p, fit, lang),
        _loss_figure(p, fit, lang),
        _training_figure(p, fit, lang),
    ]
    return Rendered(figures, "\n".join(rows + table))


presets = {
    "coarse": Params(resolution=16, sigma=1.0, beta=20.0, noise=0.0, seed=3),
    "background": Params(resolution=64, sigma=2.0, beta=8.0, noise=0.1, seed=3),
    "outliers": Params(law="gaussian", outliers=0.3, samples=512, flow_steps=150),
    "two_modes": Params(law="two modes", outliers=0.0, samples=512, flow_steps=150),
}
preset_titles = {
    "coarse": Text("16 × 16 is too coarse for argmax", "16 × 16 对 argmax 来说太粗"),
    "background": Text("Background drags soft-argmax to the centre", "背景把 soft-argmax 拉向中心"),
    "outliers": Text("Outliers: L2 chases them", "离群点：L2 会去追它们"),
    "two_modes": Text("Two modes: only the flow sees them", "双峰：只有流能看出来"),
}

EXPLANATION = Text(
    en="""
**Heatmaps.** A heatmap-based pose network outputs one map per keypoint, trained towards a Gaussian
around the true point, and the point is read off the map. The map is smaller than the input (a
256 px image, a 64 × 64 map: stride 4 px), so **argmax** can only answer a cell centre: with the
true point uniform inside a cell its error is uniform over ±stride/2, RMS stride/√12 per axis (the
dashed line of the second figure, and why maps are rarely smaller than 64 × 64).
SimpleBaseline (Xiao et al. 2018) moves the answer a quarter cell towards the higher neighbour,
which halves the floor when the Gaussian is wide enough. **Soft-argmax** (integral regression,
Sun et al. 2018) takes the expectation of the cell coordinates under softmax(β·h): sub-cell and
differentiable, but every background cell has weight too, so the answer is pulled towards the
map's centre. Small β lets the background in; large β follows the noise and tends to argmax.

**Regression and its likelihood.** A regression network predicts the point directly, and its
loss is a negative log-likelihood of the residual: L2 is a Gaussian, L1 a Laplace. Neither fits
a law with outliers or with two modes (a left wrist taken for the right one). **RLE** (Li et al.
2021) learns the residual's density with a normalising flow: RealNVP (Dinh et al. 2017) maps the
residual through affine couplings to a standard normal, and the change of variables gives
log q(x) = log N(f(x)) + log|det ∂f/∂x|. RLE writes the loss as −log Q(μ̄) − log G(μ̄) + log σ̂ with
μ̄ = (μ_g − μ̂)/σ̂ and Q a Laplace, so the flow only learns the correction. Here one flow is trained
live on normalised residuals; the last two figures show each model's −log density and where the
loss puts a prediction for annotations with outliers: L2 at the mean, L1 at the median, the flow
near the true point. With the heavy-tailed law the flow does no better than the Laplace: a
Gaussian base with bounded scales cannot grow polynomial tails, one reason RLE puts Q under it.
""",
    zh="""
**热图。** 基于热图的姿态网络为每个关键点输出一张图，训练目标是以真实位置为中心的高斯，再从图上读出点。
热图比输入小（256 px 的图像、64 × 64 的热图：步长 4 px），所以 **argmax** 只能给出某个格的中心：
若真实点在格内均匀分布，误差在 ±stride/2 上均匀，每轴 RMS 为 stride/√12（第二张图中的虚线，
这也是热图很少小于 64 × 64 的原因）。SimpleBaseline（Xiao 等 2018）把结果向较高的相邻格移动四分之一格，
高斯足够宽时误差下界减半。**Soft-argmax**（积分回归，Sun 等 2018）取 softmax(β·h) 下格坐标的期望：
可以达到亚格精度且可微，但每个背景格也有权重，结果会被拉向热图中心。β 小则背景进来；β 大则跟着噪声走，趋近 argmax。

**回归与似然。** 回归网络直接预测点，它的损失是残差的负对数似然：L2 对应高斯，L1 对应拉普拉斯。
两者都拟合不了带离群点或双峰（把左手腕当成右手腕）的分布。**RLE**（Li 等 2021）用归一化流学习残差的密度：
RealNVP（Dinh 等 2017）通过仿射耦合层把残差映射到标准正态，变量替换给出
log q(x) = log N(f(x)) + log|det ∂f/∂x|。RLE 把损失写成 −log Q(μ̄) − log G(μ̄) + log σ̂，
其中 μ̄ = (μ_g − μ̂)/σ̂，Q 为拉普拉斯分布，流只需学习修正项。这里在归一化残差上现场训练一个流；
最后两张图给出每个模型的 −log 密度，以及在有离群点的标注上损失把预测放在哪里：L2 在均值，L1 在中位数，
流在真实位置附近。对重尾分布，流并不比拉普拉斯好：高斯基分布加上有界的尺度长不出多项式的尾巴，这也是 RLE 在流之下放一个 Q 的原因之一。
""",
)

DEMO = Demo(
    slug="pose-rle",
    section="vision",
    figures=5,
    title=Text("Pose keypoints: heatmap decoding and RLE", "姿态关键点：热图解码与 RLE"),
    summary=Text(
        "Argmax's stride floor, soft-argmax's pull to the centre, and L2, L1 and a learned flow "
        "as likelihoods of the residual.",
        "argmax 的步长误差下界、soft-argmax 被拉向中心，以及把 L2、L1 和学到的流看作残差的似然。",
    ),
    sources=(
        Source(
            "Human Pose Regression with Residual Log-likelihood Estimation",
            "J. Li, S. Bian, A. Zeng, C. Wang, B. Pang, W. Liu, C. Lu",
            2021,
            "https://arxiv.org/abs/2107.11291",
        ),
        Source(
            "Integral Human Pose Regression",
            "X. Sun, B. Xiao, F. Wei, S. Liang, Y. Wei",
            2018,
            "https://arxiv.org/abs/1711.08229",
        ),
        Source(
            "Simple Baselines for Human Pose Estimation and Tracking",
            "B. Xiao, H. Wu, Y. Wei",
            2018,
            "https://arxiv.org/abs/1804.06208",
        ),
        Source(
            "Density estimation using Real NVP",
            "L. Dinh, J. Sohl-Dickstein, S. Bengio",
            2017,
            "https://arxiv.org/abs/1605.08803",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
