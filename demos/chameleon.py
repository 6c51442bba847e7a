"""Chameleon: how do images become tokens in one stream with text, and what keeps training stable?

A k-means codebook quantises the patches of a bundled photograph (the simplest stand-in for
Chameleon's learned VQ-VAE); the codes, offset past the text vocabulary, sit between BOI and
EOI in one token stream; and three views of stability: attention logits as q/k weights grow,
with and without QK-norm; softmax's shift invariance and z-loss; a tiny decoder trained live.
"""

from __future__ import annotations

import base64
import io
import math
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.clip import _figure, _tensors, packed
from demos.theme import COLORWAY

IMAGE = Path(__file__).resolve().parents[1] / "assets" / "images" / "camera.png"
SIDE = 128
K_SWEEP = tuple(2**e for e in range(1, 10))  # 2 … 512
CAPTION = ("a", "man", "with", "a", "camera", "<boi>")
AFTER = ("on", "a", "field")
TEXT_VOCABULARY = 16  # toy text vocabulary of the stream figure; image codes start after it
NO_FIX, FIXED = COLORWAY[1], COLORWAY[2]


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    patch: Literal["2", "4", "8"] = param(
        "4",
        en="Patch size p (pixels)",
        zh="图块大小 p（像素）",
        help_en="The 128×128 image becomes (128/p)² tokens.",
        help_zh="128×128 的图像变成 (128/p)² 个 token。",
        choices={v: Text(f"{v}×{v}", f"{v}×{v}") for v in ("2", "4", "8")},
    )
    codebook: int = param(
        64,
        en="Codebook size K",
        zh="码本大小 K",
        help_en="At most the number of patches (256 at p = 8).",
        help_zh="不超过图块数（p = 8 时为 256）。",
        ge=2,
        le=512,
    )
    iterations: int = param(10, en="k-means iterations", zh="k-means 迭代次数", ge=0, le=50)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)
    growth: float = param(
        8.0,
        en="q/k weight growth g",
        zh="q/k 权重放大倍数 g",
        help_en="Both W_q and W_k are multiplied by g: logits grow like g² without QK-norm.",
        help_zh="W_q 与 W_k 同乘 g：没有 QK-norm 时 logits 按 g² 增长。",
        ge=1.0,
        le=30.0,
        step=0.5,
    )
    shift: float = param(
        200.0,
        en="Logit shift c",
        zh="logit 平移量 c",
        help_en="Every output logit + c: the softmax is unchanged, log Z is not.",
        help_zh="所有输出 logit 加 c：softmax 不变，log Z 会变。",
        ge=0.0,
        le=1000.0,
        step=10.0,
    )
    learning_rate: float = param(
        0.1, en="Learning rate (live run)", zh="学习率（实时训练）", ge=0.001, le=0.1, step=0.001
    )
    qk_norm: bool = param(True, en="QK-norm in the fixed run", zh="修正组使用 QK-norm")
    z_weight: float = param(
        0.0,
        en="z-loss weight in the fixed run",
        zh="修正组的 z-loss 权重",
        help_en="Chameleon used 1e-5; a larger weight pulls log Z to 0 within 100 steps.",
        help_zh="Chameleon 使用 1e-5；更大的权重能在 100 步内把 log Z 拉到 0 附近。",
        ge=0.0,
        le=0.1,
        step=0.001,
    )
    steps: int = param(60, en="Live run steps", zh="实时训练步数", ge=1, le=100)


# --- the image, its codebooks, the live run (cached) ---------------------------------------------


@lru_cache(maxsize=1)
def image() -> np.ndarray:
    """The bundled 128×128 grey photograph as float32 in [0, 1]."""
    from PIL import Image

    with Image.open(IMAGE) as file:
        return np.asarray(file.convert("L"), dtype=np.float32) / 255.0


@lru_cache(maxsize=64)
def codebook(p: int, k: int, iterations: int, seed: int):
    """k-means on the image's p×p patches: (codebook, objective, trace, codes, reconstruction)."""
    torch = _tensors()
    from core.multimodal import vq
    from core.trace import Trace

    pixels = torch.from_numpy(image())[..., None]
    patches = vq.to_patches(pixels, p)
    k = min(k, patches.shape[0])
    trace = Trace()
    book, objective = vq.kmeans(patches, k, iterations, seed, trace=trace)
    codes, quantized = vq.quantize(patches, book)
    reconstruction = vq.from_patches(quantized, SIDE, SIDE, p)[..., 0].numpy()
    return book.numpy(), objective.numpy(), trace, codes.numpy(), reconstruction


@lru_cache(maxsize=8)
def psnr_sweep(p: int, iterations: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PSNR of the reconstruction for K = 2, 4, …, 512 (K ≤ the number of patches)."""
    from core.multimodal.vq import psnr

    torch = _tensors()
    ks = np.array([k for k in K_SWEEP if k <= (SIDE // p) ** 2])
    original = torch.from_numpy(image())
    values = [
        psnr(original, torch.from_numpy(codebook(p, int(k), iterations, seed)[4])) for k in ks
    ]
    return ks, np.array(values)


@lru_cache(maxsize=16)
def live_run(lr: float, qk_norm: bool, z_weight: float, steps: int, seed: int) -> dict:
    """The tiny decoder trained twice: no fixes, and the chosen fixes."""
    _tensors()
    from core.multimodal.early_fusion import train_tiny_decoder

    plain = train_tiny_decoder(steps, lr, False, 0.0, seed, batch=16)
    fixed = train_tiny_decoder(steps, lr, qk_norm, z_weight, seed, batch=16)
    return {"plain": plain, "fixed": fixed}


def _png(pixels: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _picture(source: str, xref: str, yref: str, size: float) -> dict:
    return {
        "source": source, "xref": xref, "yref": yref, "x": 0, "y": 0, "sizex": size,
        "sizey": size, "xanchor": "left", "yanchor": "top", "sizing": "stretch", "layer": "below",
    }  # fmt: skip


# --- figures -------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _pictures(p: int, k_requested: int, iterations: int, seed: int) -> tuple[str, ...]:
    """PNG data URIs of the original, the reconstruction, the error ×4 and the codebook."""
    book, _, _, _, reconstruction = codebook(p, k_requested, iterations, seed)
    original = image()
    tiles_per_row = math.ceil(math.sqrt(len(book)))
    mosaic = np.ones((tiles_per_row * (p + 1), tiles_per_row * (p + 1)))
    for index, tile in enumerate(book):
        row, col = divmod(index, tiles_per_row)
        top, left = row * (p + 1), col * (p + 1)
        mosaic[top : top + p, left : left + p] = tile.reshape(p, p)
    error = np.clip(4 * np.abs(original - reconstruction), 0, 1)
    return tuple(_png(pixels) for pixels in (original, reconstruction, error, mosaic))


def _vq_figure(params: Params, k: int, codes, lang) -> go.Figure:
    p = int(params.patch)
    n_side = SIDE // p
    original, reconstruction, error, mosaic = _pictures(
        p, params.codebook, params.iterations, params.seed
    )
    panels = [
        (Text("original", "原图"), original),
        (Text(f"rebuilt, K = {k}", f"重建，K = {k}"), reconstruction),
        (Text("|error| ×4", "|误差| ×4"), error),
        (
            Text(f"codebook: {k} tiles", f"码本：{k} 个图块"),
            mosaic,
        ),
    ]
    data, images, annotations, layout = [], [], [], {}
    for i, (title, source) in enumerate(panels):
        suffix = "" if i == 0 else str(i + 1)
        domain = [i * 0.2, i * 0.2 + 0.18]
        layout[f"xaxis{suffix}"] = {"domain": domain, "range": [0, 1], "visible": False}
        layout[f"yaxis{suffix}"] = {
            "domain": [0, 1],
            "range": [-1, 0],
            "visible": False,
            "anchor": f"x{suffix}",
            "scaleanchor": f"x{suffix}",
        }
        layout[f"xaxis{suffix}"]["anchor"] = f"y{suffix}"
        images.append(_picture(source, f"x{suffix}", f"y{suffix}", 1))
        data.append(
            {
                "type": "scatter",
                "x": [0.5],
                "y": [-0.5],
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "mode": "markers",
                "marker": {"opacity": 0},
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
        annotations.append(
            {
                "text": title(lang),
                "x": domain[0],
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12},
            }
        )
    grid = codes.reshape(n_side, n_side)
    data.append(
        {
            "type": "heatmap",
            "z": grid,
            "xaxis": "x5",
            "yaxis": "y5",
            "colorscale": "Turbo",
            "showscale": False,
            "hovertemplate": Text(
                "patch (%{y}, %{x}): code %{z}<extra></extra>",
                "图块 (%{y}, %{x})：码字 %{z}<extra></extra>",
            )(lang),
        }
    )
    layout["xaxis5"] = {"domain": [0.8, 1], "anchor": "y5", "visible": False}
    layout["yaxis5"] = {
        "domain": [0, 1],
        "anchor": "x5",
        "autorange": "reversed",
        "visible": False,
        "scaleanchor": "x5",
    }
    annotations.append(
        {
            "text": Text(
                f"code map: {n_side}×{n_side} ids",
                f"码字图：{n_side}×{n_side} 个 id",
            )(lang),
            "x": 0.8,
            "y": 1.0,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 12},
        }
    )
    layout.update(
        title={
            "text": Text(
                f"Vector quantisation: {p}×{p} patches, k-means codebook of {k}",
                f"向量量化：{p}×{p} 图块，{k} 个码字的 k-means 码本",
            )(lang)
        },
        height=330,
        images=images,
        annotations=annotations,
        margin={"t": 80, "l": 10, "r": 10, "b": 10},
    )
    return _figure(data, layout)


def _curves_figure(p, ks, psnrs, objective, trace, k, lang) -> go.Figure:
    bits = (SIDE // p) ** 2 * np.log2(ks)
    sizes = trace.column("iteration", "sizes")
    empty = [int((s == 0).sum()) for s in sizes]
    data = [
        {
            "type": "scatter",
            "x": packed(ks),
            "y": packed(psnrs),
            "mode": "lines+markers",
            "name": Text("PSNR of the reconstruction", "重建的 PSNR")(lang),
        },
        {
            "type": "scatter",
            "x": packed(ks),
            "y": packed(bits / 8 / 1024),
            "mode": "lines+markers",
            "yaxis": "y4",
            "name": Text(
                f"code size (128/p)²·log₂K, KiB (raw: {SIDE * SIDE / 1024:.0f} KiB)",
                f"码字总大小 (128/p)²·log₂K，KiB（原图：{SIDE * SIDE / 1024:.0f} KiB）",
            )(lang),
            "line": {"dash": "dot"},
        },
        {
            "type": "scatter",
            "x": packed(np.arange(len(objective), dtype=float)),
            "y": packed(objective),
            "xaxis": "x2",
            "yaxis": "y2",
            "mode": "lines+markers",
            "name": Text(f"k-means objective (K = {k})", f"k-means 目标函数（K = {k}）")(lang),
        },
        {
            "type": "bar",
            "x": list(range(len(empty))),
            "y": empty,
            "xaxis": "x2",
            "yaxis": "y3",
            "name": Text("empty clusters (keep their centroid)", "空簇（保留原质心）")(lang),
            "opacity": 0.4,
        },
    ]
    layout = {
        "title": {
            "text": Text(
                "More codes, better pictures: PSNR against K, and Lloyd's objective per iteration",
                "码字越多，图像越好：PSNR 随 K 的变化，以及 Lloyd 迭代的目标函数",
            )(lang)
        },
        "height": 400,
        "xaxis": {
            "domain": [0, 0.4],
            "type": "log",
            "tickvals": list(K_SWEEP),
            "title": {"text": Text("codebook size K (log axis)", "码本大小 K（对数轴）")(lang)},
        },
        "yaxis": {"title": {"text": "PSNR (dB)"}},
        "yaxis4": {
            "overlaying": "y",
            "side": "right",
            "anchor": "x",
            "showgrid": False,
            "title": {"text": "KiB"},
        },
        "xaxis2": {
            "domain": [0.58, 1],
            "anchor": "y2",
            "title": {
                "text": Text(
                    "Lloyd iteration (0: k-means++ seeding)", "Lloyd 迭代（0：k-means++ 初始化）"
                )(lang)
            },
        },
        "yaxis2": {
            "anchor": "x2",
            "title": {"text": Text("mean squared distance", "平均平方距离")(lang)},
        },
        "yaxis3": {
            "anchor": "x2",
            "overlaying": "y2",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
            "title": {"text": Text("empty", "空簇")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "margin": {"b": 120},
    }
    return _figure(data, layout)


def _stream_figure(p, codes, k, lang) -> go.Figure:
    torch = _tensors()
    from core.multimodal.early_fusion import interleave

    words = [*CAPTION[:-1], *AFTER]
    vocabulary = {w: i for i, w in enumerate(dict.fromkeys(words))}
    boi, eoi = TEXT_VOCABULARY, TEXT_VOCABULARY + 1
    offset = TEXT_VOCABULARY + 2
    n_side = SIDE // p
    stream = interleave(
        [torch.tensor([vocabulary[w] for w in CAPTION[:-1]]), torch.from_numpy(codes.reshape(n_side, n_side)), torch.tensor([vocabulary[w] for w in AFTER])],
        offset, boi, eoi,
    ).numpy()  # fmt: skip
    width = 64
    rows = math.ceil(len(stream) / width)
    cells = rows * width
    # colour value: 0 text, 1 BOI/EOI, 2…3 image codes by id; NaN pads the last row
    kind = np.full(cells, np.nan)
    ids = np.full(cells, np.nan)
    ids[: len(stream)] = stream
    is_image = stream >= offset
    kind[: len(stream)] = np.where(
        is_image, 2.0 + (stream - offset) / max(k - 1, 1), np.isin(stream, (boi, eoi)).astype(float)
    )
    scale = [
        [0, COLORWAY[0]],
        [0.33, COLORWAY[0]],
        [0.33, COLORWAY[4]],
        [0.5, COLORWAY[4]],
        [0.5, "#2a2a6a"],
        [1, "#d0e040"],
    ]
    data = [
        {
            "type": "heatmap",
            "z": kind.reshape(rows, width),
            "customdata": ids.reshape(rows, width),
            "zmin": 0,
            "zmax": 3,
            "colorscale": scale,
            "showscale": False,
            "xgap": 1,
            "ygap": 1,
            "hovertemplate": Text(
                "position %{y}·64 + %{x}: token id %{customdata}<extra></extra>",
                "位置 %{y}·64 + %{x}：token id %{customdata}<extra></extra>",
            )(lang),
        }
    ]
    layout = {
        "title": {
            "text": Text(
                f"One token stream: {len(CAPTION) - 1} words, BOI, {n_side**2} image codes (ids {offset}…{offset + k - 1}), EOI, {len(AFTER)} words = {len(stream)} tokens.<br>Chameleon: a 512×512 image → 1,024 tokens from 8,192 codes, in a 65,536-token vocabulary",
                f"一条 token 序列：{len(CAPTION) - 1} 个词、BOI、{n_side**2} 个图像码字（id {offset}…{offset + k - 1}）、EOI、{len(AFTER)} 个词，共 {len(stream)} 个 token。<br>Chameleon：512×512 图像 → 来自 8,192 个码字的 1,024 个 token，词表共 65,536 个 token",
            )(lang),
            "font": {"size": 13},
        },
        "height": max(260, 150 + 12 * rows),
        "xaxis": {
            "title": {
                "text": Text(
                    f"position mod {width} (blue: text, orange: BOI/EOI, dark→yellow: image codes)",
                    f"位置 mod {width}（蓝：文本，橙：BOI/EOI，深→黄：图像码字）",
                )(lang)
            },
            "showgrid": False,
        },
        "yaxis": {
            "autorange": "reversed",
            "title": {"text": Text(f"row of {width}", f"每行 {width} 个")(lang)},
            "showgrid": False,
        },
        "margin": {"t": 90},
    }
    return _figure(data, layout)


@lru_cache(maxsize=16)
def _growth(seed: int, growth: float):
    """(a) attention logits of random q, k as their weights grow ×g, with and without QK-norm:
    g, per variant (max |logit|, entropy) over g, and head 1's attention map at `growth`."""
    torch = _tensors()
    from core.multimodal.early_fusion import attention_logits

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 32, generator=generator)
    w_q = torch.randn(32, 32, generator=generator) / 32**0.5
    w_k = torch.randn(32, 32, generator=generator) / 32**0.5

    def logits(g: float, norm: bool):
        q = (x @ (g * w_q)).reshape(16, 4, 8).transpose(0, 1)
        k = (x @ (g * w_k)).reshape(16, 4, 8).transpose(0, 1)
        return attention_logits(q, k, norm)

    gs = np.linspace(1, 30, 30)
    rows = {}
    for norm in (False, True):
        peak, entropy = [], []
        for g in gs:
            a = logits(float(g), norm)
            probabilities = torch.softmax(a, -1)
            peak.append(float(a.abs().max()))
            entropy.append(
                float(-(probabilities * torch.log(probabilities.clamp_min(1e-30))).sum(-1).mean())
            )
        rows[norm] = (np.array(peak), np.array(entropy))
    maps = {norm: torch.softmax(logits(growth, norm)[0], -1).numpy() for norm in (False, True)}
    return gs, rows, maps


def _stability_figure(p, lang) -> go.Figure:
    gs, rows, maps = _growth(p.seed, p.growth)
    label = {False: Text("no QK-norm", "无 QK-norm"), True: Text("QK-norm", "QK-norm")}
    colour = {False: NO_FIX, True: FIXED}
    data = []
    for norm in (False, True):
        peak, entropy = rows[norm]
        data.append(
            {
                "type": "scatter",
                "x": packed(gs),
                "y": packed(peak),
                "name": Text(f"max |logit|, {label[norm].en}", f"最大 |logit|，{label[norm].zh}")(
                    lang
                ),
                "line": {"color": colour[norm]},
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": packed(gs),
                "y": packed(entropy),
                "yaxis": "y2",
                "xaxis": "x",
                "name": Text(f"attention entropy, {label[norm].en}", f"注意力熵，{label[norm].zh}")(
                    lang
                ),
                "line": {"color": colour[norm], "dash": "dot"},
            }
        )
    data.append(
        {
            "type": "scatter",
            "x": [p.growth, p.growth],
            "y": [0, float(rows[False][0].max())],
            "mode": "lines",
            "line": {"color": COLORWAY[6], "dash": "dash"},
            "name": f"g = {p.growth:g}",
        }
    )
    for i, norm in enumerate((False, True)):
        data.append(
            {
                "type": "heatmap",
                "z": maps[norm],
                "xaxis": f"x{i + 2}",
                "yaxis": f"y{i + 3}",
                "colorscale": "Viridis",
                "zmin": 0,
                "zmax": 1,
                "showscale": i == 1,
                "colorbar": {"thickness": 10, "x": 1.0},
                "hovertemplate": "query %{y}, key %{x}: %{z:.3f}<extra></extra>",
            }
        )
    annotations = [
        {
            "text": Text(
                f"head 1, {label[n].en}",
                f"第 1 个头，{label[n].zh}",
            )(lang),
            "x": x0,
            "y": 1.0,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 12},
        }
        for n, x0 in ((False, 0.53), (True, 0.78))
    ]
    layout = {
        "title": {
            "text": Text(
                f"(a) Growing q/k weights: attention logits explode and attention turns one-hot, unless q and k are normalised (maps at g = {p.growth:g})",
                f"(a) q/k 权重变大：注意力 logits 爆炸、注意力变成 one-hot，除非对 q 与 k 做归一化（右图 g = {p.growth:g}）",
            )(lang)
        },
        "height": 420,
        "xaxis": {
            "domain": [0, 0.34],
            "title": {"text": Text("weight growth g", "权重放大倍数 g")(lang)},
        },
        "yaxis": {
            "type": "log",
            "title": {
                "text": Text("max |attention logit| (log axis)", "最大 |注意力 logit|（对数轴）")(
                    lang
                )
            },
        },
        "yaxis2": {
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "title": {"text": Text("entropy (nats)", "熵（nats）")(lang)},
        },
        "xaxis2": {
            "domain": [0.53, 0.73],
            "anchor": "y3",
            "showgrid": False,
            "title": {"text": "key"},
        },
        "yaxis3": {
            "domain": [0, 1],
            "anchor": "x2",
            "autorange": "reversed",
            "showgrid": False,
            "title": {"text": "query", "standoff": 2},
        },
        "xaxis3": {
            "domain": [0.78, 0.98],
            "anchor": "y4",
            "showgrid": False,
            "title": {"text": "key"},
        },
        "yaxis4": {"domain": [0, 1], "anchor": "x3", "autorange": "reversed", "showgrid": False},
        "annotations": annotations,
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "margin": {"b": 120, "t": 80},
    }
    return _figure(data, layout)


@lru_cache(maxsize=16)
def _shift_curves(seed: int) -> tuple[np.ndarray, ...]:
    """(b) all logits + c: the same cross-entropy, a growing log Z, z-loss and bfloat16 error."""
    torch = _tensors()
    from core.multimodal.early_fusion import z_loss

    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(32, 64, generator=generator, dtype=torch.float64) * 2
    targets = torch.randint(64, (32,), generator=generator)
    exact = torch.softmax(logits, -1)
    cs = np.linspace(0, 1000, 41)
    ce, log_z, z, bf16 = [], [], [], []
    for c in cs:
        shifted = logits + c
        ce.append(float(torch.nn.functional.cross_entropy(shifted, targets)))
        log_z.append(float(torch.logsumexp(shifted, -1).mean()))
        z.append(float(z_loss(shifted, 1e-5)))
        rounded = torch.softmax(shifted.to(torch.bfloat16).double(), -1)
        bf16.append(float((rounded - exact).abs().max()))
    return cs, np.array(ce), np.array(log_z), np.array(z), np.array(bf16)


def _shift_figure(p, lang) -> go.Figure:
    cs, ce, log_z, z, bf16 = _shift_curves(p.seed)
    data = [
        {
            "type": "scatter",
            "x": packed(cs),
            "y": packed(ce),
            "name": Text("cross-entropy (unchanged)", "交叉熵（不变）")(lang),
        },
        {
            "type": "scatter",
            "x": packed(cs),
            "y": packed(log_z),
            "name": Text("mean log Z", "log Z 均值")(lang),
        },
        {
            "type": "scatter",
            "x": packed(cs),
            "y": packed(z),
            "yaxis": "y2",
            "name": Text("z-loss 10⁻⁵·log²Z", "z-loss 10⁻⁵·log²Z")(lang),
        },
        {
            "type": "scatter",
            "x": packed(cs),
            "y": packed(np.maximum(bf16, 1e-12)),
            "xaxis": "x2",
            "yaxis": "y3",
            "name": Text(
                "max |p_bf16 − p| (logits stored in bfloat16)",
                "max |p_bf16 − p|（logits 以 bfloat16 存储）",
            )(lang),
        },
        {
            "type": "scatter",
            "x": [p.shift, p.shift],
            "y": [0, 1000],
            "mode": "lines",
            "line": {"dash": "dash", "color": COLORWAY[6]},
            "name": f"c = {p.shift:g}",
        },
    ]
    layout = {
        "title": {
            "text": Text(
                "(b) Softmax ignores a shift of all logits, so nothing stops the drift; log Z and bfloat16's rounding see it",
                "(b) softmax 对所有 logits 的整体平移不敏感，漂移因此不受约束；log Z 与 bfloat16 的舍入误差却能看到它",
            )(lang)
        },
        "height": 400,
        "xaxis": {"domain": [0, 0.42], "title": {"text": Text("shift c", "平移量 c")(lang)}},
        "yaxis": {"title": {"text": "nats"}},
        "yaxis2": {
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "title": {"text": "z-loss"},
        },
        "xaxis2": {
            "domain": [0.58, 1],
            "anchor": "y3",
            "title": {"text": Text("shift c", "平移量 c")(lang)},
        },
        "yaxis3": {
            "anchor": "x2",
            "type": "log",
            "title": {"text": Text("probability error (log axis)", "概率误差（对数轴）")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "margin": {"b": 120},
    }
    return _figure(data, layout)


def _live_figure(p, run, lang) -> go.Figure:
    fixes = []
    if p.qk_norm:
        fixes.append("QK-norm")
    if p.z_weight > 0:
        fixes.append(f"z-loss {p.z_weight:g}")
    fixed_name = " + ".join(fixes) or Text("no fix", "无修正")(lang)
    data = []
    for key, name, colour in (
        ("plain", Text("no fix", "无修正")(lang), NO_FIX),
        ("fixed", fixed_name, FIXED),
    ):
        steps = packed(np.array([r["step"] for r in run[key]], dtype=float))
        panels = (
            ("max_logit", "", "max |attention logit|"),
            ("log_z", "2", "log Z"),
            ("loss", "3", Text("loss", "损失")(lang)),
        )
        for field, axis, label in panels:
            data.append(
                {
                    "type": "scatter",
                    "x": steps,
                    "y": packed(np.array([r[field] for r in run[key]])),
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "name": f"{label} · {name}",
                    "line": {"color": colour},
                }
            )
    step_axis = {"title": {"text": Text("training step", "训练步数")(lang)}}
    layout = {
        "title": {
            "text": Text(
                f"(c) A tiny decoder (2 layers, width 32, 4 heads) trained live on interleaved toy sequences, learning rate {p.learning_rate:g}",
                f"(c) 在交错的玩具序列上实时训练一个微型解码器（2 层，宽 32，4 个头），学习率 {p.learning_rate:g}",
            )(lang)
        },
        "height": 420,
        "xaxis": {**step_axis, "domain": [0, 0.28]},
        "yaxis": {
            "type": "log",
            "title": {
                "text": Text("max |attention logit| (log axis)", "最大 |注意力 logit|（对数轴）")(
                    lang
                )
            },
        },
        "xaxis2": {**step_axis, "domain": [0.36, 0.64], "anchor": "y2"},
        "yaxis2": {"anchor": "x2", "title": {"text": Text("mean log Z", "log Z 均值")(lang)}},
        "xaxis3": {**step_axis, "domain": [0.72, 1], "anchor": "y3"},
        "yaxis3": {"anchor": "x3", "title": {"text": Text("cross-entropy", "交叉熵")(lang)}},
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
        "margin": {"b": 130},
    }
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    size = int(p.patch)
    book, objective, trace, codes, reconstruction = codebook(size, p.codebook, p.iterations, p.seed)
    k = len(book)
    ks, psnrs = psnr_sweep(size, p.iterations, p.seed)
    run = live_run(p.learning_rate, p.qk_norm, p.z_weight, p.steps, p.seed)
    figures = [
        _vq_figure(p, k, codes, lang),
        _curves_figure(size, ks, psnrs, objective, trace, k, lang),
        _stream_figure(size, codes, k, lang),
        _stability_figure(p, lang),
        _shift_figure(p, lang),
        _live_figure(p, run, lang),
    ]
    from core.multimodal.vq import psnr

    torch = _tensors()
    quality = psnr(torch.from_numpy(image()), torch.from_numpy(reconstruction))
    bits = (SIDE // size) ** 2 * math.log2(k)
    plain, fixed = run["plain"], run["fixed"]
    notes = Text(
        f"K = {k}, p = {size}: PSNR {quality:.2f} dB; {(SIDE // size) ** 2} tokens × log₂K = {bits:,.0f} bits "
        f"vs {SIDE * SIDE * 8:,} bits of raw pixels ({SIDE * SIDE * 8 / bits:.0f}× smaller, codebook not counted). "
        f"Live run, last step: max attention logit {plain[-1]['max_logit']:.1f} without fixes, "
        f"{fixed[-1]['max_logit']:.1f} with them; mean log Z {plain[-1]['log_z']:.2f} vs {fixed[-1]['log_z']:.2f}.",
        f"K = {k}，p = {size}：PSNR {quality:.2f} dB；{(SIDE // size) ** 2} 个 token × log₂K = {bits:,.0f} 比特，"
        f"原始像素为 {SIDE * SIDE * 8:,} 比特（小 {SIDE * SIDE * 8 / bits:.0f} 倍，未计码本）。"
        f"实时训练最后一步：无修正时最大注意力 logit 为 {plain[-1]['max_logit']:.1f}，"
        f"有修正时为 {fixed[-1]['max_logit']:.1f}；log Z 均值 {plain[-1]['log_z']:.2f} 对 {fixed[-1]['log_z']:.2f}。",
    )(lang)
    return Rendered(figures, notes)


presets = {
    "8 codes vs 512": Params(codebook=8, patch="4", iterations=20),
    "Patch size sets the token count": Params(patch="8", codebook=256),
    "Attention logits explode without QK-norm": Params(growth=20.0, learning_rate=0.1, steps=100),
    "z-loss keeps log Z near 0": Params(qk_norm=False, z_weight=0.1, steps=100, shift=600.0),
}
preset_titles = {
    "8 codes vs 512": Text("8 codes vs 512", "8 个码字 vs 512 个"),
    "Patch size sets the token count": Text(
        "Patch size sets the token count", "图块大小决定 token 数"
    ),
    "Attention logits explode without QK-norm": Text(
        "Attention logits explode without QK-norm", "没有 QK-norm，注意力 logits 爆炸"
    ),
    "z-loss keeps log Z near 0": Text("z-loss keeps log Z near 0", "z-loss 让 log Z 保持在 0 附近"),
}

EXPLANATION = Text(
    en="""
**Early fusion.** Chameleon (Chameleon Team 2024) turns an image into discrete tokens and puts
them in the same sequence, and the same vocabulary, as text: one transformer reads and writes
both. Its image tokenizer maps a 512×512 image to 32×32 = 1,024 codes from a codebook of
8,192, and the vocabulary holds 65,536 tokens in all; an image sits between begin- and
end-of-image tokens (BOI, EOI).

**Codes from a codebook.** Here the quantiser is the simplest one: cut the 128×128 photograph
into p×p patches, learn K centroids with k-means (k-means++ seeding, Arthur & Vassilvitskii
2007, then Lloyd iterations), and replace every patch by the id of its nearest centroid.
Chameleon uses a learned VQ-VAE (van den Oord et al. 2017), whose encoder and decoder do far
better per code; the codebook, the nearest-code lookup and the token count work the same way.
More codes raise the PSNR by about a constant per doubling of K; larger patches cut the token
count by p².

**Stability.** With images and text in one model, Chameleon's training diverged late unless it
controlled the norms. (a) When the q and k weights grow, attention logits grow like g² and
attention becomes one-hot (Dehghani et al. 2023; Wortsman et al. 2023); **QK-norm**, a
LayerNorm on each head's q and k, bounds them. (b) Softmax does not change when all logits
shift by c, so nothing in the cross-entropy stops the output logits from drifting; the
normaliser log Z drifts with them, and in bfloat16 the rounding error of large logits ruins
the probabilities. **z-loss**, 10⁻⁵·log²Z (Chowdhery et al. 2022, PaLM), pulls log Z to 0.
Chameleon also moved the LayerNorms (norm reordering, as in Swin v2). (c) The tiny decoder
trained live shows the first effect at learning rate 0.1: attention logits past 100 without
QK-norm, below 20 with it.
""",
    zh="""
**早期融合。** Chameleon（Chameleon Team，2024）把图像变成离散 token，放进与文本相同的序列、相同的词表中：
同一个 transformer 既读也写两种模态。它的图像分词器把 512×512 的图像映射为 32×32 = 1,024 个码字，码本大小为 8,192，
整个词表共 65,536 个 token；图像位于图像开始与结束标记（BOI、EOI）之间。

**来自码本的码字。** 这里使用最简单的量化器：把 128×128 的照片切成 p×p 的图块，用 k-means 学习 K 个质心
（先用 k-means++ 初始化，Arthur 与 Vassilvitskii，2007，再做 Lloyd 迭代），然后把每个图块替换成最近质心的 id。
Chameleon 使用的是可学习的 VQ-VAE（van den Oord 等，2017），其编码器与解码器让每个码字的效果好得多；
但码本、最近码字查找以及 token 数的计算方式相同。K 每翻一倍，PSNR 大约增加一个常数；图块越大，token 数按 p² 减少。

**稳定性。** 图像与文本共用一个模型时，Chameleon 的训练在后期会发散，除非控制住各种范数。(a) q、k 的权重变大时，
注意力 logits 按 g² 增长，注意力变成 one-hot（Dehghani 等，2023；Wortsman 等，2023）；**QK-norm** 对每个头的 q 和 k
做 LayerNorm，把它们限制住。(b) 所有 logits 平移 c 时 softmax 不变，因此交叉熵中没有任何项阻止输出 logits 漂移；
归一化项 log Z 随之漂移，而在 bfloat16 中，大 logits 的舍入误差会毁掉概率。**z-loss** 即 10⁻⁵·log²Z
（Chowdhery 等，2022，PaLM），把 log Z 拉向 0。Chameleon 还调整了 LayerNorm 的位置（norm 重排，与 Swin v2 类似）。
(c) 实时训练的微型解码器在学习率 0.1 时展示第一种现象：没有 QK-norm 时注意力 logits 超过 100，有 QK-norm 时低于 20。
""",
)

DEMO = Demo(
    slug="chameleon",
    section="multimodal",
    figures=6,
    title=Text(
        "Chameleon: images as tokens, and stable training", "Chameleon：图像即 token，以及稳定训练"
    ),
    summary=Text(
        "Vector-quantised image patches in one token stream with text; QK-norm and z-loss.",
        "向量量化的图像块与文本同在一条 token 序列中；QK-norm 与 z-loss。",
    ),
    sources=(
        Source(
            "Chameleon: Mixed-Modal Early-Fusion Foundation Models",
            "Chameleon Team",
            2024,
            "https://arxiv.org/abs/2405.09818",
        ),
        Source(
            "Neural Discrete Representation Learning",
            "A. van den Oord, O. Vinyals, K. Kavukcuoglu",
            2017,
            "https://arxiv.org/abs/1711.00937",
        ),
        Source(
            "k-means++: The Advantages of Careful Seeding",
            "D. Arthur, S. Vassilvitskii",
            2007,
            "https://dl.acm.org/doi/10.5555/1283383.1283494",
        ),
        Source(
            "PaLM: Scaling Language Modeling with Pathways",
            "A. Chowdhery et al.",
            2022,
            "https://arxiv.org/abs/2204.02311",
        ),
        Source(
            "Scaling Vision Transformers to 22 Billion Parameters",
            "M. Dehghani et al.",
            2023,
            "https://arxiv.org/abs/2302.05442",
        ),
        Source(
            "Small-scale proxies for large-scale Transformer training instabilities",
            "M. Wortsman et al.",
            2023,
            "https://arxiv.org/abs/2309.14322",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
