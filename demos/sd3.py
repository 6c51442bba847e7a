"""Stable Diffusion 3: which timesteps it trains on, what the shift does, why QK-norm.

The question: SD3 is a rectified flow, z_t = (1 − t)x₀ + tε. What did its authors change
besides the path? They draw the training timestep t from densities that favour the middle
(logit-normal, mode, CosMap) over the uniform, shift t towards noise for large images, and
normalise queries and keys so that attention logits cannot explode; text and image tokens share
one attention with separate weights (MM-DiT). Every curve here is a closed form, every
histogram 10,000 draws from the core's samplers.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_panels import axis_names, panel_layout
from demos.theme import COLORWAY

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "images" / "camera.png"
N_DRAWS = 10_000
BINS = 50
CURVE_POINTS = 400
IMAGE_TIMES = (0.0, 0.25, 0.5, 0.75, 1.0)
SCALES = np.logspace(0, 4, 17)  # q, k weight growth ×1 … ×10⁴
WIDTH, HEAD_DIM_TOKENS = 64, 48  # model width d and tokens for the logit sweep
MODE_S_MAX = 2 / (math.pi - 2)
DENSITIES = {
    "uniform": Text("uniform", "均匀"),
    "logit_normal": Text("logit-normal(m, s)", "logit-normal(m, s)"),
    "mode": Text("mode(s)", "mode(s)"),
    "cosmap": Text("CosMap", "CosMap"),
}
COLORS = dict(zip(DENSITIES, (COLORWAY[6], COLORWAY[0], COLORWAY[1], COLORWAY[2]), strict=True))


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    focus: Literal["uniform", "logit_normal", "mode", "cosmap"] = param(
        "logit_normal", en="Highlighted density", zh="突出显示的密度", choices=DENSITIES
    )
    m: float = param(
        0.0, en="Logit-normal location m", zh="logit-normal 位置 m", ge=-2.0, le=2.0, step=0.05
    )
    s: float = param(
        1.0, en="Logit-normal scale s", zh="logit-normal 尺度 s", ge=0.2, le=3.0, step=0.05
    )
    mode_s: float = param(
        1.29,
        en="Mode sampling s",
        zh="mode 采样参数 s",
        help_en="−1 ≤ s ≤ 2/(π − 2) ≈ 1.75 keeps the map monotone; s = 0 is uniform.",
        help_zh="−1 ≤ s ≤ 2/(π − 2) ≈ 1.75 时映射单调；s = 0 即均匀分布。",
        ge=-1.0,
        le=1.75,
        step=0.01,
    )
    shift: float = param(
        1.0,
        en="Resolution shift α",
        zh="分辨率平移 α",
        help_en="t' = αt/(1 + (α − 1)t); SD3 uses α = 3 at 1024².",
        help_zh="t' = αt/(1 + (α − 1)t)；SD3 在 1024² 分辨率下用 α = 3。",
        ge=1.0,
        le=6.0,
        step=0.1,
    )
    qk_norm: bool = param(True, en="QK-norm in the joint attention", zh="联合注意力中使用 QK-norm")
    weight_scale: float = param(
        1.0,
        en="q, k weight scale (joint attention map)",
        zh="q、k 权重的放大倍数（联合注意力图）",
        ge=1.0,
        le=30.0,
        step=0.5,
    )
    n_txt: int = param(8, en="Text tokens", zh="文本 token 数", ge=2, le=32)
    n_img: int = param(16, en="Image tokens", zh="图像 token 数", ge=4, le=64)
    heads: Literal["1", "2", "4", "8"] = param("4", en="Heads", zh="注意力头数")
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=999)


def _samplers(p: Params) -> dict:
    """(density function, samples) per choice; t ∈ (0, 1)."""
    from core.generative import sd3

    return {
        "uniform": (sd3.uniform_density, sd3.uniform_sample(N_DRAWS, p.seed)),
        "logit_normal": (
            lambda t: sd3.logit_normal_density(t, p.m, p.s),
            sd3.logit_normal_sample(N_DRAWS, p.m, p.s, p.seed),
        ),
        "mode": (
            lambda t: sd3.mode_density(t, p.mode_s),
            sd3.mode_sample(N_DRAWS, p.mode_s, p.seed),
        ),
        "cosmap": (sd3.cosmap_density, sd3.cosmap_sample(N_DRAWS, p.seed)),
    }


@functools.lru_cache(maxsize=32)
def densities(m: float, s: float, mode_s: float, shift: float, seed: int) -> dict:
    """Curves and histograms of the four (shifted) densities, as NumPy arrays."""
    import torch

    from core.generative import sd3

    p = Params(m=m, s=s, mode_s=mode_s, shift=shift, seed=seed)
    t = torch.linspace(0, 1, CURVE_POINTS + 2, dtype=torch.float64)[1:-1]
    edges = np.linspace(0, 1, BINS + 1)
    out = {"t": t.numpy(), "edges": edges}
    for name, (density, draws) in _samplers(p).items():
        curve = sd3.shifted_density(density, t, shift)
        shifted = sd3.shift_timestep(draws, shift).numpy()
        hist, _ = np.histogram(shifted, bins=edges, density=True)
        weight = curve * sd3.rectified_flow_eps_weight(t)
        out[name] = {"curve": curve.numpy(), "hist": hist, "weighted": weight.numpy(),
                     "median": float(np.median(shifted))}  # fmt: skip
    out["snr"] = sd3.rectified_flow_snr(t).numpy()
    return out


@functools.cache
def _photo() -> np.ndarray:
    from PIL import Image  # Pillow comes with Gradio; only this image needs it

    with Image.open(PHOTO) as photo:
        return np.asarray(photo.convert("L"), dtype=np.float32) / 127.5 - 1.0  # [−1, 1]


@functools.lru_cache(maxsize=32)
def noised_images(shift: float, seed: int) -> list[tuple[float, np.ndarray]]:
    import torch

    from core.generative import sd3

    x0 = torch.from_numpy(_photo())
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    out = []
    for t in IMAGE_TIMES:
        t_shifted = float(sd3.shift_timestep(torch.tensor(t, dtype=torch.float64), shift))
        out.append((t_shifted, sd3.noise_image(x0, eps, t_shifted).numpy()))
    return out


@functools.lru_cache(maxsize=32)
def qk_sweep(seed: int) -> dict:
    """Max |logit| and entropy vs q, k weight scale, without and with QK-norm (d = WIDTH)."""
    import torch

    from core.generative import sd3

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(HEAD_DIM_TOKENS, WIDTH, generator=g, dtype=torch.float64)
    wq, wk = (
        torch.randn(WIDTH, WIDTH, generator=g, dtype=torch.float64) / math.sqrt(WIDTH)
        for _ in range(2)
    )
    scales = torch.from_numpy(SCALES)
    out = {}
    for norm in (False, True):
        max_logit, entropy = sd3.logit_growth(x, wq, wk, scales, norm)
        out[norm] = (max_logit.numpy(), entropy.numpy())
    return out


@functools.lru_cache(maxsize=32)
def joint_map(n_txt: int, n_img: int, heads: int, qk_norm: bool, weight_scale: float, seed: int):
    """The (N_t + N_i)² attention of one random MM-DiT block, averaged over heads."""
    import torch

    from core.generative import sd3

    g = torch.Generator().manual_seed(seed + 1)
    d = WIDTH

    def weights():
        w = {n: torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d) for n in "qkvo"}
        w["q"], w["k"] = weight_scale * w["q"], weight_scale * w["k"]
        w["q_norm"] = w["k_norm"] = torch.ones(d // heads, dtype=torch.float64)
        return w

    txt = torch.randn(1, n_txt, d, generator=g, dtype=torch.float64) + 1.0  # a modality offset
    img = torch.randn(1, n_img, d, generator=g, dtype=torch.float64)
    _, _, attention = sd3.joint_attention(
        txt, img, weights(), weights(), heads, qk_norm, return_weights=True
    )
    return attention[0].mean(0).numpy()


def _density_figure(p: Params, r: dict, lang: str) -> go.Figure:
    edges = r["edges"]
    centres = 0.5 * (edges[1:] + edges[:-1])
    data = []
    for i, name in enumerate(DENSITIES):
        colour = COLORS[name]
        data.append({"type": "bar", "x": centres, "y": r[name]["hist"], "width": edges[1] - edges[0],
                     "marker": {"color": colour, "opacity": 0.35}, "name": Text("10,000 draws", "10,000 次采样")(lang),
                     "showlegend": i == 0, "legendgroup": "hist", **axis_names(i)})  # fmt: skip
        data.append({"type": "scatter", "mode": "lines", "x": r["t"], "y": r[name]["curve"],
                     "line": {"color": colour, "width": 3.5 if name == p.focus else 2},
                     "name": Text("closed-form density", "闭式密度")(lang), "showlegend": i == 0,
                     "legendgroup": "curve", **axis_names(i)})  # fmt: skip
    shift = "" if p.shift == 1 else f", α = {p.shift:g}"
    names = {
        "uniform": "uniform",
        "logit_normal": f"logit-normal({p.m:g}, {p.s:g})",
        "mode": f"mode(s = {p.mode_s:g})",
        "cosmap": "CosMap",
    }
    titles = [("▶ " if name == p.focus else "") + f"{names[name]}{shift}" for name in DENSITIES]
    layout = panel_layout(titles, ["t"] * 4, ["π(t)", "", "", ""], gap=0.04)
    layout.update(
        title={"text": Text("Training timestep densities π(t) (t = 0 data, t = 1 noise); medians: ",
                            "训练时间步的密度 π(t)（t = 0 为数据，t = 1 为噪声）；中位数：")(lang)
               + " · ".join(f"{r[name]['median']:.2f}" for name in DENSITIES)},
        height=340, margin={"t": 90}, legend={"orientation": "h", "y": -0.25}, bargap=0,
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _snr_figure(p: Params, r: dict, lang: str) -> go.Figure:
    t = r["t"]
    log_snr = np.log(r["snr"])
    data = [
        {"type": "scatter", "mode": "lines", "x": t, "y": log_snr, "line": {"color": COLORWAY[4], "width": 3},
         "name": "log SNR = 2 log((1 − t)/t)", **axis_names(0)},
    ]  # fmt: skip
    for name, label in DENSITIES.items():
        # density of λ = log SNR: π(t)·|dt/dλ| = π(t)·t(1 − t)/2
        data.append({"type": "scatter", "mode": "lines", "x": log_snr, "y": r[name]["curve"] * t * (1 - t) / 2,
                     "line": {"color": COLORS[name], "width": 3.5 if name == p.focus else 1.8},
                     "name": label(lang), "legendgroup": name, **axis_names(1)})  # fmt: skip
        data.append({"type": "scatter", "mode": "lines", "x": t, "y": r[name]["weighted"],
                     "line": {"color": COLORS[name], "width": 3.5 if name == p.focus else 1.8},
                     "name": label(lang), "legendgroup": name, "showlegend": False, **axis_names(2)})  # fmt: skip
    titles = [
        Text("log SNR against t", "log SNR 随 t 的变化")(lang),
        Text("Each density's mass over log SNR", "各密度在 log SNR 上的质量")(lang),
        Text("π(t)·w_t, w_t = t/(1 − t)", "π(t)·w_t，w_t = t/(1 − t)")(lang),
    ]
    layout = panel_layout(
        titles, ["t", "log SNR", "t"],
        ["log SNR", Text("density of log SNR", "log SNR 的密度")(lang), "π(t)·w_t"], gap=0.08,
    )  # fmt: skip
    layout["yaxis3"]["type"] = "log"
    layout["xaxis2"]["range"] = [-12, 12]
    layout["yaxis"]["range"] = [-14, 14]
    layout.update(
        title={"text": Text("Signal-to-noise ratio and the ε-loss weight w_t each density implies",
                            "信噪比，以及每种密度隐含的 ε 损失权重 w_t")(lang)},
        height=380, margin={"t": 90}, legend={"orientation": "h", "y": -0.25},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _image_figure(p: Params, images: list, lang: str) -> go.Figure:
    data = []
    for i, (_, z) in enumerate(images):
        data.append({"type": "heatmap", "z": z[::-1], "colorscale": "Greys", "reversescale": True, "zmin": -1.5,
                     "zmax": 1.5, "showscale": False, "hovertemplate": "%{z:.2f}<extra></extra>",
                     **axis_names(i)})  # fmt: skip
    titles = [
        f"t = {t0:g}" + ("" if p.shift == 1 else f" → t' = {t:.2f}")
        for t0, (t, _) in zip(IMAGE_TIMES, images, strict=True)
    ]
    layout = panel_layout(titles, [""] * 5, [""] * 5, equal_aspect=True, gap=0.02)
    for i in range(5):
        suffix = "" if i == 0 else str(i + 1)
        for axis in ("xaxis", "yaxis"):
            layout[f"{axis}{suffix}"].update(showticklabels=False, showgrid=False, ticks="", showline=False,
                                              zeroline=False)  # fmt: skip
    layout.update(
        title={"text": Text("Forward process z_t = (1 − t)·x₀ + t·ε on a bundled photo",
                            "前向过程 z_t = (1 − t)·x₀ + t·ε（内置照片）")(lang)},
        height=280, margin={"t": 90, "b": 20},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _attention_figure(p: Params, sweep: dict, attention: np.ndarray, lang: str) -> go.Figure:
    data = []
    for norm, dash, label in ((False, "solid", Text("without QK-norm", "不用 QK-norm")),
                              (True, "dash", Text("with QK-norm", "使用 QK-norm"))):  # fmt: skip
        max_logit, entropy = sweep[norm]
        data.append({"type": "scatter", "mode": "lines+markers", "x": SCALES, "y": max_logit,
                     "line": {"color": COLORWAY[1], "dash": dash, "width": 2.5},
                     "name": Text("max |logit|, ", "最大 |logit|，")(lang) + label(lang), **axis_names(0)})  # fmt: skip
        data.append({"type": "scatter", "mode": "lines+markers", "x": SCALES, "y": entropy,
                     "line": {"color": COLORWAY[0], "dash": dash, "width": 2.5},
                     "name": Text("entropy, ", "熵，")(lang) + label(lang), **axis_names(1)})  # fmt: skip
    data.append({"type": "scatter", "mode": "lines", "x": [SCALES[0], SCALES[-1]], "y": [math.sqrt(WIDTH)] * 2,
                 "line": {"color": "rgba(128,128,128,0.9)", "dash": "dot"},
                 "name": Text(f"bound √d = {math.sqrt(WIDTH):g}", f"上界 √d = {math.sqrt(WIDTH):g}")(lang),
                 **axis_names(0)})  # fmt: skip
    n = attention.shape[0]
    data.append({"type": "heatmap", "z": attention, "colorscale": "Viridis",
                 "colorbar": {"title": {"text": Text("weight", "权重")(lang)}, "thickness": 10},
                 "hovertemplate": "query %{y}, key %{x}: %{z:.3f}<extra></extra>", **axis_names(2)})  # fmt: skip
    titles = [
        Text("Max |logit|", "最大 |logit|")(lang),
        Text("Attention entropy (nats)", "注意力熵（nats）")(lang),
        Text(f"Joint map: {p.n_txt} text + {p.n_img} image", f"联合注意力：{p.n_txt} 文本 + {p.n_img} 图像")(lang),
    ]  # fmt: skip
    scale = Text("weight scale", "权重倍数")(lang)
    layout = panel_layout(titles, [scale, scale, Text("key", "键")(lang)],
                          ["|logit|", Text("entropy", "熵")(lang), Text("query", "查询")(lang)], gap=0.09)  # fmt: skip
    for axis in ("xaxis", "yaxis", "xaxis2"):
        layout[axis]["type"] = "log"
    layout["yaxis3"]["autorange"] = "reversed"
    edge = p.n_txt - 0.5
    for x0, y0, x1, y1 in ((edge, -0.5, edge, n - 0.5), (-0.5, edge, n - 0.5, edge)):
        layout.setdefault("shapes", []).append({"type": "line", "xref": "x3", "yref": "y3", "x0": x0, "y0": y0,
                                                "x1": x1, "y1": y1, "line": {"color": "white", "width": 2}})  # fmt: skip
    layout.update(
        title={"text": Text("QK-norm keeps logits bounded; MM-DiT attends over text and image at once",
                            "QK-norm 让 logit 有界；MM-DiT 同时在文本与图像上做注意力")(lang)},
        height=440, margin={"t": 90, "b": 120}, legend={"orientation": "h", "y": -0.32},
    )  # fmt: skip
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def render(p: Params, lang: str = "en") -> Rendered:
    r = densities(p.m, p.s, p.mode_s, p.shift, p.seed)
    images = noised_images(p.shift, p.seed)
    sweep = qk_sweep(p.seed)
    heads = int(p.heads)
    attention = joint_map(p.n_txt, p.n_img, heads, p.qk_norm, p.weight_scale, p.seed)
    figures = [
        _density_figure(p, r, lang),
        _snr_figure(p, r, lang),
        _image_figure(p, images, lang),
        _attention_figure(p, sweep, attention, lang),
    ]
    d = WIDTH
    separate = 2 * 4 * d * d + 2 * 2 * (d // heads)
    shared = 4 * d * d + 2 * (d // heads)
    quadrants = {
        "txt→txt": attention[: p.n_txt, : p.n_txt].sum(1).mean(),
        "txt→img": attention[: p.n_txt, p.n_txt :].sum(1).mean(),
        "img→txt": attention[p.n_txt :, : p.n_txt].sum(1).mean(),
        "img→img": attention[p.n_txt :, p.n_txt :].sum(1).mean(),
    }
    mass = " · ".join(f"{k} {v:.2f}" for k, v in quadrants.items())
    no_norm, norm = sweep[False][0][-1], sweep[True][0][-1]
    notes = Text(
        f"Attention parameters of one block (d = {d}): separate text/image weights (MM-DiT) "
        f"**{separate:,}**, shared weights {shared:,}. Attention mass per quadrant (rows sum to 1): "
        f"{mass}. At ×10⁴ the max |logit| is {no_norm:.3g} without QK-norm and {norm:.3g} with it "
        f"(bound √d = {math.sqrt(d):g}).",
        f"一个块的注意力参数量（d = {d}）：文本与图像各用一套权重（MM-DiT）**{separate:,}**，共享权重 {shared:,}。"
        f"各象限的注意力质量（每行和为 1）：{mass}。权重放大到 ×10⁴ 时，不用 QK-norm 的最大 |logit| 为 "
        f"{no_norm:.3g}，使用时为 {norm:.3g}（上界 √d = {math.sqrt(d):g}）。",
    )
    return Rendered(figures, notes(lang))


presets = {
    "logit-normal": Params(focus="logit_normal", m=0.0, s=1.0),
    "mode": Params(focus="mode", mode_s=1.29),
    "qk-explode": Params(focus="uniform", shift=3.0, qk_norm=False, weight_scale=20.0),
}
preset_titles = {
    "logit-normal": Text("SD3's logit-normal(0, 1)", "SD3 的 logit-normal(0, 1)"),
    "mode": Text("Mode sampling, s = 1.29", "mode 采样，s = 1.29"),
    "qk-explode": Text("Logits explode without QK-norm", "没有 QK-norm 时 logit 爆炸"),
}

EXPLANATION = Text(
    en="""
**Rectified-flow noising.** Stable Diffusion 3 (Esser et al. 2024) trains a rectified flow
(Liu, Gong & Liu 2023; flow matching, Lipman et al. 2023): z_t = (1 − t)·x₀ + t·ε, a straight
line from the image at t = 0 to Gaussian noise at t = 1 (the flow-matching demo runs the other
way, source at 0, data at 1). The network predicts the velocity ε − x₀.

**Which t to train on.** A uniform t spends as much effort on nearly clean and nearly pure-noise
inputs, where the velocity is easy to guess, as on the middle, where it is hard. SD3 samples t
from a logit-normal (t = σ(m + s·u), u ~ N(0, 1); their best was m = 0, s = 1), from "mode"
sampling (a heavier-tailed alternative, s = 1.29 in the paper) or CosMap. Written as an
ε-prediction loss the rectified flow weights t by w_t = t/(1 − t), so π(t)·w_t is the effective
weight on each noise level; the log-SNR panel shows which signal-to-noise ratios each choice
trains on. Large images keep more signal at the same t, so SD3 shifts t' = αt/(1 + (α − 1)t)
towards noise (α = 3 at 1024²).

**QK-norm and MM-DiT.** As the weights of q and k grow during training (or in mixed precision)
the attention logits grow quadratically, the softmax collapses to one token and training
diverges. RMS-normalising q and k (QK-norm, Dehghani et al. 2023, ViT-22B) bounds every logit by
√d with unit gains. SD3's MM-DiT block keeps separate weights for text and image tokens but runs
one attention over their concatenation: the map has four quadrants, text↔text, text↔image,
image↔text and image↔image.
""",
    zh="""
**Rectified flow 加噪。** Stable Diffusion 3（Esser 等，2024）训练的是 rectified flow（Liu、Gong 与 Liu，2023；
流匹配见 Lipman 等，2023）：z_t = (1 − t)·x₀ + t·ε，是一条从 t = 0 的图像到 t = 1 的高斯噪声的直线
（流匹配演示的方向相反：源在 0，数据在 1）。网络预测速度 ε − x₀。

**在哪些 t 上训练。** 均匀采样 t 会把同样多的精力花在几乎干净和几乎纯噪声的输入上，而那里的速度很容易猜；
真正困难的是中间段。SD3 让 t 服从 logit-normal 分布（t = σ(m + s·u)，u ~ N(0, 1)；论文中最好的是 m = 0、s = 1），
或 “mode” 采样（尾部更重，论文用 s = 1.29），或 CosMap。写成 ε 预测损失时，rectified flow 对 t 的权重是
w_t = t/(1 − t)，所以 π(t)·w_t 是每个噪声水平上的实际权重；log-SNR 图显示每种选择在哪些信噪比上训练。
大图像在同一个 t 下保留更多信号，因此 SD3 把 t 平移为 t' = αt/(1 + (α − 1)t)，偏向噪声一端（1024² 时 α = 3）。

**QK-norm 与 MM-DiT。** 训练中（或混合精度下）q、k 的权重变大时，注意力 logit 按平方增长，softmax 坍缩到单个
token，训练随之发散。对 q、k 做 RMSNorm（QK-norm，Dehghani 等，2023，ViT-22B）后，增益为 1 时每个 logit 都不超过
√d。SD3 的 MM-DiT 块为文本和图像 token 各保留一套权重，但在两者拼接后的序列上只做一次注意力：注意力图分成
四个象限：文本↔文本、文本↔图像、图像↔文本、图像↔图像。
""",
)

DEMO = Demo(
    slug="sd3",
    section="generative",
    title=Text("What Stable Diffusion 3 changed", "Stable Diffusion 3 改了什么"),
    summary=Text(
        "Timestep densities and the resolution shift, SNR and loss weights, noising, QK-norm, joint attention.",
        "时间步密度与分辨率平移、信噪比与损失权重、加噪、QK-norm、联合注意力。",
    ),
    sources=(
        Source(
            "Scaling Rectified Flow Transformers for High-Resolution Image Synthesis",
            "P. Esser, S. Kulal, A. Blattmann et al.",
            2024,
            "https://arxiv.org/abs/2403.03206",
        ),
        Source(
            "Scaling Vision Transformers to 22 Billion Parameters",
            "M. Dehghani, J. Djolonga, B. Mustafa et al.",
            2023,
            "https://arxiv.org/abs/2302.05442",
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
