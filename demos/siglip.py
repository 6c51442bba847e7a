"""SigLIP: what changes when every image–text pair is its own binary classification?

The same batch read by CLIP's softmax and by SigLIP's sigmoid: per-pair terms and gradients,
the temperature t and bias b with a live fit from the paper's initialisation, the loss at
initialisation against the batch size, and the chunked loss that passes text chunks round a
ring of devices instead of gathering the N×N matrix.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.clip import _figure, _tensors, encode, packed, world
from demos.theme import COLORWAY

LOG_T_INIT, B_INIT = math.log(10.0), -10.0  # Zhai et al. 2023: t' = log 10, b = −10
SWEEP_SIZES = tuple(2**k for k in range(1, 13))  # N = 2 … 4,096
GRID = 25  # the loss surface's points per axis
POSITIVE, NEGATIVE = COLORWAY[2], COLORWAY[1]


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    embeddings: Literal["clip", "siglip", "random"] = param(
        "siglip",
        en="Embeddings",
        zh="嵌入来源",
        help_en="A batch of the toy world through either trained model, or random pairs of alignment ρ.",
        help_zh="玩具世界中的一个批次经任一训练好的模型编码，或对齐程度为 ρ 的随机向量对。",
        choices={
            "clip": Text("toy model, softmax-trained", "玩具模型（softmax 训练）"),
            "siglip": Text("toy model, sigmoid-trained", "玩具模型（sigmoid 训练）"),
            "random": Text("random pairs of alignment ρ", "对齐程度为 ρ 的随机向量对"),
        },
    )
    rho: float = param(
        0.5,
        en="Alignment ρ of random pairs",
        zh="随机向量对的对齐程度 ρ",
        help_en="Text = ρ·image + √(1−ρ²)·noise before normalising; also the batch-size sweep's pairs.",
        help_zh="文本 = ρ·图像 + √(1−ρ²)·噪声，再归一化；批大小扫描也使用这种向量对。",
        ge=0.0,
        le=1.0,
        step=0.05,
    )
    batch_size: int = param(16, en="Batch size N", zh="批大小 N", ge=2, le=64)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)
    log_t: float = param(
        round(LOG_T_INIT, 3),
        en="log t (temperature t = e^log t)",
        zh="log t（温度 t = e^log t）",
        help_en="The softmax side uses s = t, capped at 100 as in CLIP.",
        help_zh="softmax 一侧使用 s = t，并像 CLIP 一样截断在 100。",
        ge=-2.0,
        le=5.0,
        step=0.05,
    )
    b: float = param(-10.0, en="Bias b", zh="偏置 b", ge=-20.0, le=10.0, step=0.5)
    devices: int = param(
        4,
        en="Devices D (chunks)",
        zh="设备数 D（分块数）",
        help_en="At most N: a device needs at least one pair.",
        help_zh="不超过 N：每台设备至少要有一对样本。",
        ge=1,
        le=8,
    )
    step: int = param(
        0,
        en="Ring step shown",
        zh="显示的环形步骤",
        help_en="0 … D − 1; past the last step, the last.",
        help_zh="0 … D − 1；超过最后一步时显示最后一步。",
        ge=0,
        le=7,
    )
    fit_steps: int = param(
        100,
        en="Fit steps (Adam on log t and b)",
        zh="拟合步数（用 Adam 优化 log t 与 b）",
        ge=0,
        le=300,
    )


def _random_pairs(n: int, rho: float, seed: int, dim: int = 32):
    torch = _tensors()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    noise = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    x = torch.nn.functional.normalize(x, dim=-1)
    noise = torch.nn.functional.normalize(noise, dim=-1)
    return x, rho * x + math.sqrt(max(0.0, 1 - rho**2)) * noise


@lru_cache(maxsize=32)
def embeddings(kind: str, n: int, rho: float, seed: int):
    """(x, y) float64 embeddings of a batch: the toy world through a model, or random pairs."""
    if kind == "random":
        return _random_pairs(n, rho, seed)
    from core.multimodal import shapes

    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(shapes.COMPOSITIONS), size=n, replace=False)
    compositions = [shapes.COMPOSITIONS[i] for i in chosen]
    images = np.stack([shapes.render_image(c, rng) for c in compositions])
    captions = [shapes.training_caption(c, rng) for c in compositions]
    world(kind)  # loads the model once
    x, y = encode(kind, images, captions)
    return x.double(), y.double()


@lru_cache(maxsize=16)
def fit(kind: str, n: int, rho: float, seed: int, steps: int) -> np.ndarray:
    """Adam (lr 0.1) on (log t, b) from the paper's initialisation, embeddings frozen:
    (steps + 1, 3) rows of log t, b, loss."""
    torch = _tensors()
    from core.multimodal.contrastive import siglip_loss
    from core.optim.adam import adam_trajectory

    x, y = embeddings(kind, n, rho, seed)
    start = torch.tensor([LOG_T_INIT, B_INIT], dtype=torch.float64)
    path = adam_trajectory(
        lambda theta: siglip_loss(x, y, theta[0], theta[1])[0], start, steps=steps, lr=0.1
    )
    with torch.no_grad():
        losses = [float(siglip_loss(x, y, lt, bb)[0]) for lt, bb in path.tolist()]
    return np.column_stack([path.numpy(), losses])


@lru_cache(maxsize=16)
def surface(kind: str, n: int, rho: float, seed: int) -> tuple[np.ndarray, ...]:
    """The sigmoid loss over a GRID × GRID lattice of (log t, b)."""
    torch = _tensors()
    from core.multimodal.contrastive import siglip_loss

    x, y = embeddings(kind, n, rho, seed)
    log_ts, bs = np.linspace(-2, 5, GRID), np.linspace(-20, 10, GRID)
    with torch.no_grad():
        loss = np.array([[float(siglip_loss(x, y, lt, bb)[0]) for lt in log_ts] for bb in bs])
    return log_ts, bs, loss


SWEEP_SEED = 0
CLIP_LOG_SCALE_INIT = math.log(1 / 0.07)


@lru_cache(maxsize=16)
def sweep(rho: float, devices: int) -> dict:
    """Loss at initialisation against N (random pairs of alignment ρ, a fixed seed): softmax at
    CLIP's s = 1/0.07, sigmoid at SigLIP's t = 10 with b = −10 and b = 0 (chunked over D
    devices), and the memory of full vs chunked logits."""
    torch = _tensors()
    from core.multimodal.contrastive import clip_loss, siglip_loss_chunked
    from core.trace import Trace

    out = {"softmax": [], "sigmoid_b-10": [], "sigmoid_b0": [], "full_bytes": [], "block_bytes": []}
    with torch.no_grad():
        for n in SWEEP_SIZES:
            x, y = _random_pairs(n, rho, SWEEP_SEED)
            x, y = x.float(), y.float()
            d = min(devices, n)
            out["softmax"].append(float(clip_loss(x, y, CLIP_LOG_SCALE_INIT)[0]))
            trace = Trace()
            out["sigmoid_b-10"].append(
                float(siglip_loss_chunked(x, y, LOG_T_INIT, -10.0, d, trace=trace))
            )
            out["sigmoid_b0"].append(float(siglip_loss_chunked(x, y, LOG_T_INIT, 0.0, d)))
            out["full_bytes"].append(4 * n * n)
            out["block_bytes"].append(4 * max(trace.column("block", "size")))
    return {k: np.array(v, dtype=float) for k, v in out.items()}


# --- figures -------------------------------------------------------------------------------


def _heat(z, axes: tuple[str, str], colorscale: str, colorbar_x: float, signed: bool) -> dict:
    limit = float(np.abs(z).max()) or 1.0
    return {
        "type": "heatmap",
        "z": z,
        "xaxis": axes[0],
        "yaxis": axes[1],
        "colorscale": colorscale,
        "zmin": -limit if signed else 0.0,
        "zmax": limit if signed else max(float(z.max()), 1e-12),
        "colorbar": {
            "x": colorbar_x,
            "len": 0.42,
            "y": 0.79 if axes[1] == "y" else 0.21,
            "thickness": 10,
        },
        "hovertemplate": "image %{y}, text %{x}: %{z:.4g}<extra></extra>",
    }


def _pairs_figure(p, softmax_p, softmax_grad, sigmoid_p, sigmoid_grad, s, lang) -> go.Figure:
    data = [
        _heat(softmax_p, ("x", "y"), "Viridis", 0.44, False),
        _heat(sigmoid_p, ("x2", "y"), "Viridis", 1.0, False),
        _heat(softmax_grad, ("x", "y2"), "RdBu", 0.44, True),
        _heat(sigmoid_grad, ("x2", "y2"), "RdBu", 1.0, True),
    ]
    titles = [
        Text(
            f"softmax: p(text j | image i), s = {s:.3g}",
            f"softmax：p(文本 j | 图像 i)，s = {s:.3g}",
        ),
        Text(
            f"sigmoid: σ(t·cos + b), t = {math.exp(p.log_t):.3g}, b = {p.b:g}",
            f"sigmoid：σ(t·cos + b)，t = {math.exp(p.log_t):.3g}，b = {p.b:g}",
        ),
        Text("softmax: ∂loss/∂logit (row and column)", "softmax：∂损失/∂logit（行与列共同决定）"),
        Text(
            "sigmoid: ∂loss/∂logit (its own logit only)",
            "sigmoid：∂损失/∂logit（只取决于自身 logit）",
        ),
    ]
    spots = [(0.0, 1.0), (0.56, 1.0), (0.0, 0.42), (0.56, 0.42)]
    annotations = [
        {
            "text": t(lang),
            "x": x,
            "y": y,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 12},
        }
        for t, (x, y) in zip(titles, spots, strict=True)
    ]
    image_axis = {
        "autorange": "reversed",
        "title": {"text": Text("image i", "图像 i")(lang)},
        "showgrid": False,
    }
    text_axis = {"title": {"text": Text("text j", "文本 j")(lang)}, "showgrid": False}
    layout = {
        "title": {
            "text": Text(
                "Per pair: softmax beside sigmoid (positives on the diagonal)",
                "逐对比较：softmax 与 sigmoid（对角线为正样本）",
            )(lang)
        },
        "height": 720,
        "xaxis": {**text_axis, "domain": [0, 0.40], "anchor": "y"},
        "xaxis2": {**text_axis, "domain": [0.56, 0.96], "anchor": "y"},
        "yaxis": {**image_axis, "domain": [0.58, 1.0], "anchor": "x"},
        "yaxis2": {**image_axis, "domain": [0.0, 0.42], "anchor": "x"},
        "annotations": annotations,
        "margin": {"t": 90},
    }
    return _figure(data, layout)


def _rug(values: np.ndarray, y: float, colour: str, name: str) -> dict:
    return {
        "type": "scatter",
        "x": packed(values),
        "y": packed(np.full(len(values), y)),
        "mode": "markers",
        "marker": {"symbol": "line-ns-open", "size": 12, "color": colour, "line": {"width": 1.5}},
        "name": name,
    }


def _bias_figure(p, cos, path, surf, lang) -> go.Figure:
    grid = np.linspace(-1, 1, 201)
    fitted_log_t, fitted_b = path[-1, 0], path[-1, 1]
    n = len(cos)
    positives = np.diag(cos)
    negatives = cos[~np.eye(n, dtype=bool)]
    data = [
        {
            "type": "scatter",
            "x": packed(grid),
            "y": packed(1 / (1 + np.exp(-(math.exp(p.log_t) * grid + p.b)))),
            "name": Text(
                f"σ(t·cos + b) at the sliders (t = {math.exp(p.log_t):.3g}, b = {p.b:g})",
                f"σ(t·cos + b)，滑块取值（t = {math.exp(p.log_t):.3g}，b = {p.b:g}）",
            )(lang),
            "line": {"color": COLORWAY[0]},
        },
        {
            "type": "scatter",
            "x": packed(grid),
            "y": packed(1 / (1 + np.exp(-(math.exp(fitted_log_t) * grid + fitted_b)))),
            "name": Text(
                f"after {len(path) - 1} fit steps (t = {math.exp(fitted_log_t):.3g}, b = {fitted_b:.2f})",
                f"拟合 {len(path) - 1} 步后（t = {math.exp(fitted_log_t):.3g}，b = {fitted_b:.2f}）",
            )(lang),
            "line": {"color": COLORWAY[3], "dash": "dash"},
        },
        _rug(
            positives,
            -0.06,
            POSITIVE,
            Text(f"positive pairs' cos ({n})", f"正样本对的 cos（{n}）")(lang),
        ),
        _rug(
            negatives,
            -0.14,
            NEGATIVE,
            Text(f"negative pairs' cos ({n * (n - 1)})", f"负样本对的 cos（{n * (n - 1)}）")(lang),
        ),
    ]
    log_ts, bs, loss = surf
    data += [
        {
            "type": "contour",
            "x": packed(log_ts),
            "y": packed(bs),
            "z": np.log10(loss),
            "xaxis": "x2",
            "yaxis": "y2",
            "colorscale": "Viridis",
            "ncontours": 20,
            "colorbar": {"title": {"text": "log₁₀ loss"}, "x": 1.0, "thickness": 10},
            "hovertemplate": "log t %{x:.2f}, b %{y:.1f}: log₁₀ loss %{z:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": packed(path[:, 0]),
            "y": packed(path[:, 1]),
            "xaxis": "x2",
            "yaxis": "y2",
            "mode": "lines+markers",
            "marker": {"size": 3, "color": "#FFFFFF"},
            "line": {"color": "#FFFFFF", "width": 2},
            "name": Text("Adam path from (log 10, −10)", "Adam 路径，起点 (log 10, −10)")(lang),
        },
        {
            "type": "scatter",
            "x": [p.log_t],
            "y": [p.b],
            "xaxis": "x2",
            "yaxis": "y2",
            "mode": "markers",
            "marker": {"size": 12, "symbol": "x", "color": COLORWAY[4], "line": {"width": 1}},
            "name": Text("the sliders' (log t, b)", "滑块的 (log t, b)")(lang),
        },
    ]
    layout = {
        "title": {
            "text": Text(
                "Temperature and bias: the sigmoid over cos, and the loss surface over (log t, b)",
                "温度与偏置：cos 上的 sigmoid 曲线，以及 (log t, b) 上的损失曲面",
            )(lang)
        },
        "height": 480,
        "xaxis": {"domain": [0, 0.42], "range": [-1.02, 1.02], "title": {"text": "cos(x̂ᵢ, ŷⱼ)"}},
        "yaxis": {
            "range": [-0.2, 1.05],
            "title": {"text": Text("P(pair matches)", "P(配对匹配)")(lang)},
        },
        "xaxis2": {"domain": [0.55, 0.93], "anchor": "y2", "title": {"text": "log t"}},
        "yaxis2": {"anchor": "x2", "title": {"text": "b"}},
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "margin": {"b": 140},
    }
    return _figure(data, layout)


def _sweep_figure(p, result, devices, lang) -> go.Figure:
    sizes = np.array(SWEEP_SIZES, dtype=float)
    data = [
        {
            "type": "scatter",
            "x": packed(sizes),
            "y": packed(result["softmax"]),
            "name": Text("softmax (CLIP)", "softmax（CLIP）")(lang),
            "mode": "lines+markers",
        },
        {
            "type": "scatter",
            "x": packed(sizes),
            "y": packed(np.log(sizes)),
            "name": "log N",
            "mode": "lines",
            "line": {"dash": "dot", "color": COLORWAY[6]},
        },
        {
            "type": "scatter",
            "x": packed(sizes),
            "y": packed(result["sigmoid_b-10"]),
            "name": Text("sigmoid, b = −10", "sigmoid，b = −10")(lang),
            "mode": "lines+markers",
        },
        {
            "type": "scatter",
            "x": packed(sizes),
            "y": packed(result["sigmoid_b0"]),
            "name": Text("sigmoid, b = 0", "sigmoid，b = 0")(lang),
            "mode": "lines+markers",
        },
        {
            "type": "scatter",
            "x": packed(sizes),
            "y": packed(result["full_bytes"] / 2**20),
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text("full N×N logits (one device)", "完整 N×N logits（单设备）")(lang),
            "mode": "lines+markers",
            "line": {"color": COLORWAY[6]},
        },
        {
            "type": "scatter",
            "x": packed(sizes),
            "y": packed(result["block_bytes"] / 2**20),
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text(
                f"largest block of the chunked loss, D = {devices} (from the trace)",
                f"分块损失的最大块，D = {devices}（来自 trace）",
            )(lang),
            "mode": "lines+markers",
            "line": {"color": COLORWAY[4]},
        },
    ]
    layout = {
        "title": {
            "text": Text(
                f"Batch size: the loss at initialisation (softmax s = 1/0.07, sigmoid t = 10; random pairs, ρ = {p.rho:g}) and the logits' memory",
                f"批大小：初始化时的损失（softmax s = 1/0.07，sigmoid t = 10；随机向量对，ρ = {p.rho:g}）与 logits 占用的内存",
            )(lang)
        },
        "height": 460,
        "xaxis": {
            "domain": [0, 0.44],
            "type": "log",
            "title": {"text": Text("batch size N (log axis)", "批大小 N（对数轴）")(lang)},
            "tickvals": [2, 8, 32, 128, 512, 2048],
        },
        "yaxis": {
            "type": "log",
            "title": {"text": Text("loss (nats, log axis)", "损失（nats，对数轴）")(lang)},
        },
        "xaxis2": {
            "domain": [0.58, 1],
            "type": "log",
            "anchor": "y2",
            "title": {"text": Text("batch size N (log axis)", "批大小 N（对数轴）")(lang)},
            "tickvals": [2, 8, 32, 128, 512, 2048],
        },
        "yaxis2": {
            "type": "log",
            "anchor": "x2",
            "title": {
                "text": Text("float32 logits per device (MiB)", "每台设备的 float32 logits（MiB）")(
                    lang
                )
            },
        },
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "margin": {"b": 140},
    }
    return _figure(data, layout)


def _ring_figure(p, n, devices, step, blocks, block_terms, lang) -> go.Figure:
    filled = np.full((n, n), np.nan)
    for event, terms in zip(blocks, block_terms, strict=True):
        if event["step"] <= step:
            (r0, r1), (c0, c1) = event["rows"], event["cols"]
            filled[r0:r1, c0:c1] = terms.numpy()
    data = [
        {
            "type": "heatmap",
            "z": filled,
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "−log σ(z·ℓ)"}, "x": 0.44, "thickness": 10},
            "hovertemplate": "image %{y}, text %{x}: %{z:.4g}<extra></extra>",
        },
    ]
    shapes_ = []
    for event in blocks:
        if event["step"] == step:
            (r0, r1), (c0, c1) = event["rows"], event["cols"]
            shapes_.append(
                {
                    "type": "rect",
                    "x0": c0 - 0.5,
                    "x1": c1 - 0.5,
                    "y0": r0 - 0.5,
                    "y1": r1 - 0.5,
                    "line": {"color": COLORWAY[4], "width": 3},
                }
            )
    for k in range(devices):
        values = [
            sum(e["loss"] / n for e in blocks if e["device"] == d and e["step"] == k)
            if k <= step
            else 0.0
            for d in range(devices)
        ]
        data.append(
            {
                "type": "bar",
                "x": [f"{Text('device', '设备')(lang)} {d}" for d in range(devices)],
                "y": values,
                "xaxis": "x2",
                "yaxis": "y2",
                "name": Text(f"step {k}", f"第 {k} 步")(lang),
                "marker": {"color": COLORWAY[k % len(COLORWAY)]},
                "hovertemplate": "%{y:.4g}<extra></extra>",
            }
        )
    layout = {
        "title": {
            "text": Text(
                f"The chunked loss, ring step {step} of {devices - 1}: device d scores its images against text chunk (d + step) mod D",
                f"分块损失，环形第 {step} 步（共 {devices - 1}）：设备 d 用自己的图像对第 (d + step) mod D 个文本块打分",
            )(lang)
        },
        "height": 480,
        "barmode": "stack",
        "xaxis": {
            "domain": [0, 0.42],
            "title": {"text": Text("text j", "文本 j")(lang)},
            "showgrid": False,
            "range": [-0.5, n - 0.5],
        },
        "yaxis": {
            "autorange": "reversed",
            "title": {"text": Text("image i", "图像 i")(lang)},
            "showgrid": False,
            "scaleanchor": "x",
        },
        "xaxis2": {
            "domain": [0.66, 1],
            "anchor": "y2",
            "title": {"text": Text("device", "设备")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "title": {"text": Text("loss so far, per device", "每台设备的累计损失")(lang)},
        },
        "shapes": shapes_,
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "margin": {"b": 120},
    }
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    torch = _tensors()
    from core.multimodal.contrastive import clip_loss, siglip_loss, siglip_loss_chunked
    from core.trace import Trace

    n = p.batch_size
    x, y = embeddings(p.embeddings, n, p.rho, p.seed)
    x, y = x.clone().requires_grad_(True), y.clone()
    soft_trace, sig_trace, ring_trace = Trace(), Trace(), Trace()
    softmax_loss, logits = clip_loss(x, y, p.log_t, trace=soft_trace)
    logits.retain_grad()
    softmax_loss.backward()
    sigmoid_loss, sig_logits = siglip_loss(x.detach(), y, p.log_t, p.b, trace=sig_trace)
    devices = min(p.devices, n)
    step = min(p.step, devices - 1)
    with torch.no_grad():
        chunked = siglip_loss_chunked(
            x.detach(), y, p.log_t, p.b, devices, trace=ring_trace, record_terms=True
        )
    cos = (
        torch.nn.functional.normalize(x.detach(), dim=-1)
        @ torch.nn.functional.normalize(y, dim=-1).T
    )
    s = soft_trace["scale"][0]
    pairs = _pairs_figure(
        p,
        soft_trace["row_softmax"][0].numpy(),
        logits.grad.numpy(),
        torch.sigmoid(sig_logits.detach()).numpy(),
        sig_trace["pair_gradients"][0].numpy(),
        s,
        lang,
    )
    path = fit(p.embeddings, n, p.rho, p.seed, p.fit_steps)
    bias = _bias_figure(p, cos.numpy(), path, surface(p.embeddings, n, p.rho, p.seed), lang)
    result = sweep(p.rho, p.devices)
    sizes = _sweep_figure(p, result, p.devices, lang)
    ring = _ring_figure(p, n, devices, step, ring_trace["block"], ring_trace["block_terms"], lang)
    gap = abs(float(chunked) - float(sigmoid_loss))
    notes = Text(
        f"Softmax loss {softmax_loss.item():.4f} (log N = {math.log(n):.3f}); sigmoid loss "
        f"{float(sigmoid_loss):.4f}; chunked over D = {devices}: {float(chunked):.4f} "
        f"(|chunked − full| = {gap:.1e}); largest block {max(ring_trace.column('block', 'size'))} "
        f"pairs vs N² = {n * n}. Fit: log t {path[-1, 0]:.2f}, b {path[-1, 1]:.2f}, loss "
        f"{path[0, 2]:.3f} → {path[-1, 2]:.3f}.",
        f"softmax 损失 {softmax_loss.item():.4f}（log N = {math.log(n):.3f}）；sigmoid 损失 "
        f"{float(sigmoid_loss):.4f}；分 D = {devices} 块计算：{float(chunked):.4f}"
        f"（|分块 − 完整| = {gap:.1e}）；最大块 {max(ring_trace.column('block', 'size'))} 对，"
        f"而 N² = {n * n}。拟合：log t {path[-1, 0]:.2f}，b {path[-1, 1]:.2f}，损失 "
        f"{path[0, 2]:.3f} → {path[-1, 2]:.3f}。",
    )(lang)
    return Rendered([pairs, bias, sizes, ring], notes)


presets = {
    "The paper's initialisation": Params(),
    "No bias: negatives swamp the loss": Params(b=0.0, fit_steps=300),
    "Four devices pass text chunks": Params(devices=4, step=2, batch_size=13, embeddings="clip"),
    "Batch size: log N vs a flat sigmoid": Params(embeddings="random", rho=0.0, devices=8),
}
preset_titles = {
    "The paper's initialisation": Text("The paper's initialisation", "论文的初始化"),
    "No bias: negatives swamp the loss": Text(
        "No bias: negatives swamp the loss", "没有偏置：负样本淹没了损失"
    ),
    "Four devices pass text chunks": Text("Four devices pass text chunks", "四台设备传递文本块"),
    "Batch size: log N vs a flat sigmoid": Text(
        "Batch size: log N vs a flat sigmoid", "批大小：log N 与几乎平坦的 sigmoid"
    ),
}

EXPLANATION = Text(
    en="""
**One pair, one question.** CLIP's loss asks, for each image, *which* of the N captions is its
own: a softmax over the row (and one over the column). SigLIP (Zhai, Mustafa, Kolesnikov &
Beyer 2023) asks of every pair separately *is this a match?*: logits = t·cos + b, label +1 on
the diagonal and −1 elsewhere, and the loss −(1/N) Σᵢⱼ log σ(zᵢⱼ·logitᵢⱼ). There is no
normalisation over the batch. In the first figure a softmax pair's gradient depends on its
whole row and column (every probability moves when one logit moves); a sigmoid pair's gradient
depends on its own logit only.

**t and b.** With N positives and N² − N negatives, a fresh model would spend its first steps
learning that almost every pair is negative. SigLIP starts at t = 10 and **b = −10**, already
near that prior: σ(t·cos − 10) is close to 0 for every cosine. Set b = 0 and the N² − N
negatives each cost log 2 at the start: the loss grows linearly with N (third figure), while
the softmax starts at log N. The fit moves (log t, b) with Adam on frozen embeddings, over the
loss surface.

**Chunks instead of the matrix.** Because no term needs a row's sum, the loss splits into blocks:
each of D devices keeps its N/D images and passes its text chunk round a ring; at step k device
d scores its images against chunk (d + k) mod D. The positives all fall in step 0, and each
device holds a (N/D)² block instead of N² logits, the memory a gathered softmax needs. The sum
equals the full formula up to float rounding (the note gives the difference).

**What the paper found.** The sigmoid loss beats the softmax at small batches (4k–16k), and both
saturate near a batch of 32k; larger batches bring little. The embeddings here come from the
toy dual encoder of the CLIP demo, or from random pairs: the mechanism, not the paper's numbers.
""",
    zh="""
**一对样本，一个问题。** CLIP 的损失对每张图像问：N 条文字中*哪一条*是它的？也就是对一行（以及一列）做 softmax。
SigLIP（Zhai、Mustafa、Kolesnikov 与 Beyer，2023）对每一对单独问：*这一对匹配吗？* logits = t·cos + b，
对角线标签为 +1，其余为 −1，损失为 −(1/N) Σᵢⱼ log σ(zᵢⱼ·logitᵢⱼ)。不需要在整个批次上做归一化。
第一张图中，softmax 一对的梯度取决于它所在的整行和整列（一个 logit 变化，所有概率都会变）；sigmoid 一对的梯度只取决于它自己的 logit。

**t 与 b。** 一个批次有 N 个正样本和 N² − N 个负样本，新初始化的模型会把最初的训练步花在学习“几乎所有对都是负样本”上。
SigLIP 以 t = 10、**b = −10** 开始，一开始就接近这个先验：对任何余弦值，σ(t·cos − 10) 都接近 0。
若 b = 0，开始时 N² − N 个负样本每个都要付出 log 2 的损失：损失随 N 线性增长（第三张图），而 softmax 从 log N 开始。
拟合过程在冻结的嵌入上用 Adam 调整 (log t, b)，路径画在损失曲面上。

**用分块代替整个矩阵。** 由于没有哪一项需要整行求和，损失可以按块拆开：D 台设备各自保留 N/D 张图像，
并沿环形传递手中的文本块；第 k 步时设备 d 用自己的图像对第 (d + k) mod D 个文本块打分。正样本全部落在第 0 步，
每台设备只需保存 (N/D)² 的块，而不是收集所有嵌入后做 softmax 所需的 N² 个 logits。各块之和与完整公式只差浮点舍入（说明中给出差值）。

**论文的结论。** 在较小的批次（4k–16k）上 sigmoid 损失优于 softmax，两者都在批大小约 32k 时饱和，更大的批次收益很小。
这里的嵌入来自 CLIP 演示中的玩具双塔编码器，或随机向量对：展示的是机制，而非论文中的数字。
""",
)

DEMO = Demo(
    slug="siglip",
    section="multimodal",
    figures=4,
    title=Text("SigLIP: a sigmoid loss for image–text pairs", "SigLIP：图文配对的 sigmoid 损失"),
    summary=Text(
        "Per-pair sigmoid vs batch softmax, the learned t and b, batch size, and the chunked loss.",
        "逐对 sigmoid 与批内 softmax、可学习的 t 与 b、批大小，以及分块计算的损失。",
    ),
    sources=(
        Source(
            "Sigmoid Loss for Language Image Pre-Training",
            "X. Zhai, B. Mustafa, A. Kolesnikov, L. Beyer",
            2023,
            "https://arxiv.org/abs/2303.15343",
        ),
        Source(
            "Learning Transferable Visual Models From Natural Language Supervision",
            "A. Radford, J. W. Kim, C. Hallacy, et al.",
            2021,
            "https://arxiv.org/abs/2103.00020",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
