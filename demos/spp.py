"""Spatial pyramid pooling: how can one network take images of any size?

A fully connected layer needs an input of one fixed length, but a convolutional feature map is as
large as the image. SPP-net pools the map over a pyramid of l × l grids whose bins grow with the
map, so the output always has C·Σ l² numbers. The figures draw every level's bins on the map and
show the length staying put while the learner changes the map's height and width.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY
from demos.upsampling import (
    cell_text,
    colorbar_under,
    figure,
    heatmap,
    label_axes,
    panel_axes,
    pixel_ticks,
)

if TYPE_CHECKING:
    import torch

Level = Literal["1", "2", "3", "4", "6"]
LEVELS: dict[str, Text] = {v: Text(f"{v}×{v}", f"{v}×{v}") for v in ("1", "2", "3", "4", "6")}
POOLS: dict[str, Text] = {"max": Text("max", "最大值"), "avg": Text("average", "平均值")}
SIDE_SWEEP = np.arange(1, 65)  # the length figure's x axis: square maps of side 1..64
INSET = 0.1  # bin outlines are drawn this far inside the bin, so that shared rows show twice


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    height: int = param(
        13,
        en="Feature map height H",
        zh="特征图高度 H",
        help_en="SPP-net's conv5 map is 13×13 for a 224×224 image and grows with the image.",
        help_zh="224×224 的图像在 SPP-net 中得到 13×13 的 conv5 特征图，图像越大特征图越大。",
        ge=1,
        le=64,
    )
    width: int = param(18, en="Feature map width W", zh="特征图宽度 W", ge=1, le=64)
    levels: list[Level] = param(
        ["1", "2", "4"],
        en="Pyramid levels (l × l bins)",
        zh="金字塔层级（l × l 个格子）",
        choices=LEVELS,
        min_length=1,
        max_length=len(LEVELS),
    )
    mode: Literal["max", "avg"] = param("max", en="Pooling", zh="池化方式", choices=POOLS)
    channels: int = param(
        256,
        en="Channels C",
        zh="通道数 C",
        help_en="The figures show channel 0; the vector holds all C.",
        help_zh="图中显示第 0 个通道；输出向量包含全部 C 个通道。",
        ge=1,
        le=512,
    )


def feature_maps(channels: int, height: int, width: int) -> torch.Tensor:
    """(1, C, H, W) smooth maps with zeros, like conv5 activations after ReLU: ReLU(seeded 6 × 6
    noise resized to H × W, + ½), so that a larger H × W shows the same scene more finely."""
    import torch

    from core.vision.upsampling import interpolate

    generator = torch.Generator().manual_seed(0)
    coarse = torch.randn(1, channels, 6, 6, generator=generator)
    smooth = interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    return (smooth + 0.5).relu()


def _bin_shapes(level: dict, panel: int, color: str) -> list[dict]:
    suffix = "" if panel == 0 else str(panel + 1)
    shapes = []
    for r0, r1 in level["row_edges"].tolist():
        for c0, c1 in level["col_edges"].tolist():
            shapes.append(
                {
                    "type": "rect",
                    "xref": f"x{suffix}",
                    "yref": f"y{suffix}",
                    "x0": c0 - 0.5 + INSET,
                    "x1": c1 - 0.5 - INSET,
                    "y0": r0 - 0.5 + INSET,
                    "y1": r1 - 0.5 - INSET,
                    "line": {"width": 2, "color": color},
                }
            )
    return shapes


def _bins_figure(p: Params, levels: list[dict], maps: torch.Tensor, lang: str) -> go.Figure:
    channel0 = maps[0, 0].numpy()
    value = Text("activation", "激活值")(lang)
    data, shapes, titles = [], [], []
    for i, level in enumerate(levels):
        n, color = level["level"], COLORWAY[i % len(COLORWAY)]
        data.append(
            heatmap(
                channel0,
                i,
                coloraxis="coloraxis",
                hovertemplate=f"(%{{y}}, %{{x}}) {value} %{{z:.2f}}<extra></extra>",
            )
        )
        shapes += _bin_shapes(level, i, color)
        # the pooled value of every bin, written at the bin's centre
        edges_r, edges_c = level["row_edges"].double(), level["col_edges"].double()
        centre_r = ((edges_r[:, 0] + edges_r[:, 1] - 1) / 2)[:, None].expand(n, n)
        centre_c = ((edges_c[:, 0] + edges_c[:, 1] - 1) / 2)[None, :].expand(n, n)
        pooled = level["pooled"][0, 0]
        suffix = "" if i == 0 else str(i + 1)
        data.append(
            {
                "type": "scatter",
                # labels only where bins are at least 2 pixels apart (else hover only)
                "mode": "text+markers" if min(p.height, p.width) >= 2 * n else "markers",
                "x": centre_c.flatten().numpy(),
                "y": centre_r.flatten().numpy(),
                "text": [f"{v:.2f}" for v in pooled.flatten().tolist()],
                "textfont": {"size": 11 if n <= 4 else 9, "color": "#FFFFFF"},
                "marker": {
                    "size": 30 if n <= 4 else 22,
                    "color": "rgba(0,0,0,0.45)"
                    if min(p.height, p.width) >= 2 * n
                    else "rgba(0,0,0,0)",
                },
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "showlegend": False,
                "hovertemplate": Text("bin value %{text}", "格子的值 %{text}")(lang)
                + "<extra></extra>",
            }
        )
        if level["argmax"] is not None:
            flat = level["argmax"][0, 0].flatten()
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": (flat % p.width).numpy(),
                    "y": (flat // p.width).numpy(),
                    "marker": {
                        "symbol": "star",
                        "size": 11,
                        "color": color,
                        "line": {"width": 1, "color": "#FFFFFF"},
                    },
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                    "name": Text("maximum of a bin", "格子内的最大值")(lang),
                    "showlegend": i == 0,
                    "hovertemplate": Text("max at (%{y}, %{x})", "最大值位于 (%{y}, %{x})")(lang)
                    + "<extra></extra>",
                }
            )
        titles.append(
            Text(f"level {n}: {n}×{n} bins → {n * n} values", f"第 {n}×{n} 层：{n * n} 个值")(lang)
        )
    layout = panel_axes(len(levels), gap=0.05, titles=titles)
    label_axes(layout, len(levels), Text("column", "列")(lang), Text("row", "行")(lang))
    for i in range(len(levels)):
        pixel_ticks(layout, i, p.height, p.width)
    pool = POOLS[p.mode](lang)
    title = Text(
        f"Channel 0 of the {p.height}×{p.width} map, the bins of each level ({pool} pooling)",
        f"{p.height}×{p.width} 特征图的第 0 个通道与各层的格子（{pool}池化）",
    )
    layout.update(
        {
            "title": {"text": title(lang)},
            "shapes": shapes,
            "coloraxis": {
                "colorscale": "Viridis",
                "colorbar": {"title": {"text": value}, "len": 0.8},
            },
            "legend": {
                "orientation": "h",
                "x": 1,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            },
            "height": 380,
            "margin": {"t": 80},
        }
    )
    return figure(data, layout)


def _vector_figure(p: Params, levels: list[dict], vector: torch.Tensor, lang: str) -> go.Figure:
    import torch

    c = p.channels
    sizes = [level["level"] ** 2 for level in levels]
    per_channel = sum(sizes)
    # the vector is [level 1: C·1 values][level 2: C·4 values]...; fold each block to C rows
    blocks, start = [], 0
    for size in sizes:
        blocks.append(vector[0, start : start + c * size].view(c, size))
        start += c * size
    folded = torch.cat(blocks, dim=1).numpy()
    bounds = np.cumsum([0, *sizes])
    separators = [
        {
            "type": "line",
            "xref": "x",
            "yref": "y domain",
            "x0": b - 0.5,
            "x1": b - 0.5,
            "y0": 0,
            "y1": 1,
            "line": {"width": 2, "color": "#FFFFFF"},
        }
        for b in bounds[1:-1]
    ]
    flatten = c * SIDE_SWEEP**2
    length = np.full(SIDE_SWEEP.shape, c * per_channel)
    side = Text("map side (H = W)", "特征图边长（H = W）")(lang)
    data = [
        heatmap(
            folded,
            0,
            colorscale="Viridis",
            colorbar=colorbar_under([0, 0.42], Text("value", "值")(lang)),
            hovertemplate=Text(
                "channel %{y}, bin column %{x}<br>%{z:.2f}", "通道 %{y}，第 %{x} 列<br>%{z:.2f}"
            )(lang)
            + "<extra></extra>",
            **cell_text(max(c, per_channel), "%{z:.1f}"),
        ),
        {
            "type": "scatter",
            "mode": "lines",
            "x": SIDE_SWEEP,
            "y": length,
            "name": Text(f"SPP: C·Σl² = {c * per_channel}", f"SPP：C·Σl² = {c * per_channel}")(
                lang
            ),
            "line": {"color": COLORWAY[0], "width": 3},
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": f"{side} %{{x}}<br>%{{y}}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": SIDE_SWEEP,
            "y": flatten,
            "name": Text("flatten: C·H·W", "直接展平：C·H·W")(lang),
            "line": {"color": COLORWAY[1], "width": 2, "dash": "dash"},
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": f"{side} %{{x}}<br>%{{y}}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": [np.sqrt(p.height * p.width)],
            "y": [c * p.height * p.width],
            "marker": {"size": 10, "color": COLORWAY[1]},
            "name": Text(
                f"this map: C·H·W = {c * p.height * p.width}",
                f"当前特征图：C·H·W = {c * p.height * p.width}",
            )(lang),
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": "√(H·W) %{x:.1f}<br>%{y}<extra></extra>",
        },
    ]
    labels = [f"{level['level']}²" for level in levels]
    layout = {
        "title": {
            "text": Text(
                f"The output: {c} channels × {per_channel} bins = {c * per_channel} numbers, for every H × W",
                f"输出：{c} 个通道 × {per_channel} 个格子 = {c * per_channel} 个数，与 H × W 无关",
            )(lang)
        },
        "xaxis": {
            "domain": [0, 0.42],
            "title": {
                "text": Text(
                    "bin, grouped by level l (l² each)", "格子，按层级 l 分组（每层 l² 个）"
                )(lang)
            },
            "tickvals": [(a + b - 1) / 2 for a, b in itertools.pairwise(bounds)],
            "ticktext": labels,
            "showgrid": False,
        },
        "yaxis": {
            "title": {"text": Text("channel", "通道")(lang)},
            "autorange": "reversed",
            "showgrid": False,
        },
        "xaxis2": {"domain": [0.56, 1], "title": {"text": side}, "anchor": "y2"},
        "yaxis2": {
            "type": "log",
            "anchor": "x2",
            "exponentformat": "power",
            "dtick": 1,
            "title": {"text": Text("input length of the FC layer", "全连接层的输入长度")(lang)},
        },
        "shapes": separators,
        "legend": {"orientation": "h", "y": -0.22, "x": 0.56},
        "height": 440,
        "margin": {"t": 70, "b": 110},
    }
    return figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    from core.trace import Trace
    from core.vision.spp import spatial_pyramid_pool

    levels_asked = sorted({int(level) for level in p.levels})
    maps = feature_maps(p.channels, p.height, p.width)
    trace = Trace()
    vector = spatial_pyramid_pool(maps, levels_asked, p.mode, trace=trace)
    levels = trace["level"]
    header = Text(
        "| level | bins | rows per bin | columns per bin | values per channel | values (× C) |\n"
        "|---|---:|---|---|---:|---:|",
        "| 层级 | 格子数 | 每格行数 | 每格列数 | 每通道的值 | 值的总数（× C） |\n"
        "|---|---:|---|---|---:|---:|",
    )
    rows = []
    for level in levels:
        n = level["level"]
        heights = sorted(set((level["row_edges"][:, 1] - level["row_edges"][:, 0]).tolist()))
        widths = sorted(set((level["col_edges"][:, 1] - level["col_edges"][:, 0]).tolist()))
        rows.append(
            f"| {n}×{n} | {n * n} | {', '.join(map(str, heights))} | "
            f"{', '.join(map(str, widths))} | {n * n} | {p.channels * n * n} |"
        )
    total = Text("total", "合计")(lang)
    rows.append(f"| **{total}** | | | | {vector.shape[1] // p.channels} | **{vector.shape[1]}** |")
    notes = "\n".join([header(lang), *rows])
    return Rendered(
        [_bins_figure(p, levels, maps, lang), _vector_figure(p, levels, vector, lang)], notes
    )


presets = {
    "SPP-net pyramid (1, 2, 4)": Params(height=13, width=13, levels=["1", "2", "4"]),
    "A larger image, the same length": Params(height=40, width=60, levels=["1", "2", "4"]),
    "Smaller than the finest level": Params(height=3, width=3, levels=["1", "2", "4"]),
    "Detection pyramid (1, 2, 3, 6)": Params(height=20, width=30, levels=["1", "2", "3", "6"]),
    "Average pooling": Params(height=13, width=18, mode="avg"),
}
preset_titles = {
    "SPP-net pyramid (1, 2, 4)": Text("SPP-net pyramid (1, 2, 4)", "SPP-net 的金字塔（1、2、4）"),
    "A larger image, the same length": Text(
        "A larger image, the same length", "更大的图像，同样的长度"
    ),
    "Smaller than the finest level": Text(
        "A 3×3 map, smaller than the 4×4 level", "3×3 的特征图，比 4×4 层还小"
    ),
    "Detection pyramid (1, 2, 3, 6)": Text(
        "Detection pyramid (1, 2, 3, 6)", "目标检测用的金字塔（1、2、3、6）"
    ),
    "Average pooling": Text("Average pooling", "平均池化"),
}

EXPLANATION = Text(
    en="""
**Why a fixed size?** Convolutions and pooling work on a map of any size, but the fully connected
layers at the top of a CNN need an input of one fixed length. Networks like AlexNet therefore crop
or warp every image to 224 × 224, which cuts objects off or distorts them.

**Spatial pyramid pooling** (He, Zhang, Ren & Sun, 2014, SPP-net) replaces the last pooling layer
by a pyramid: for each level l the map is divided into an l × l grid of bins whose size is
proportional to the map, and each bin is max-pooled (or averaged). Every channel gives Σ l² numbers
— 1 + 4 + 16 = 21 for levels 1, 2, 4 — so the vector has C·Σ l² entries (5376 for C = 256)
*whatever H and W are*. Move the height and width sliders: the bins stretch, the stars (each
bin's maximum) move, the number of outputs stays the same, while a plain flatten would grow as
C·H·W. The coarse levels keep what is present anywhere, the fine levels keep roughly where.

The bins here are PyTorch's adaptive pooling bins, from ⌊i·H/l⌋ to ⌈(i + 1)·H/l⌉: they cover every
row, neighbouring bins may share one, and a map smaller than a level (a 3 × 3 map at level 4)
gives bins that repeat rows (the table lists the bin sizes). SPP-net let one network train on
several image sizes and, for detection, compute the convolutional features once per image and
pool each candidate window from them; Fast R-CNN's RoI pooling is a single-level version.
""",
    zh="""
**为什么需要固定尺寸？** 卷积和池化可以处理任意大小的特征图，但 CNN 顶部的全连接层要求输入长度固定。
因此 AlexNet 这类网络要把每张图像裁剪或缩放（变形）成 224 × 224，这会切掉物体的一部分或让它变形。

**空间金字塔池化**（He、Zhang、Ren 与 Sun，2014，SPP-net）用一个金字塔替换最后一个池化层：对每个层级 l，
把特征图划分成 l × l 个格子，格子的大小与特征图成比例，在每个格子里取最大值（或平均值）。每个通道得到 Σ l² 个数
——层级 1、2、4 时为 1 + 4 + 16 = 21——所以向量长度是 C·Σ l²（C = 256 时为 5376），*与 H、W 无关*。
拖动高度和宽度滑块：格子随之伸缩，星号（每个格子的最大值位置）随之移动，输出的个数却不变；而直接展平的长度
C·H·W 会一直增长。粗的层级记录某个特征“是否出现”，细的层级还大致记录它“出现在哪里”。

这里的格子采用 PyTorch 自适应池化的划分：从 ⌊i·H/l⌋ 到 ⌈(i + 1)·H/l⌉。它们覆盖每一行，相邻格子可能共用一行；
特征图比层级还小时（例如 3 × 3 的特征图、4 × 4 的层级），会有格子重复使用同一行（表格列出了每个格子的大小）。
SPP-net 让同一个网络可以用多种尺寸的图像训练；在目标检测中，每张图像只需计算一次卷积特征，再从中为每个候选框
做池化。Fast R-CNN 的 RoI 池化就是单层的 SPP。
""",
)

DEMO = Demo(
    slug="spp",
    section="vision",
    figures=2,
    title=Text("Spatial pyramid pooling", "空间金字塔池化"),
    summary=Text(
        "Any feature-map size in, one fixed-length vector out: the bins of each pyramid level.",
        "输入任意大小的特征图，输出固定长度的向量：金字塔每一层的格子。",
    ),
    sources=(
        Source(
            "Spatial pyramid pooling in deep convolutional networks for visual recognition",
            "K. He, X. Zhang, S. Ren, J. Sun",
            2014,
            "https://arxiv.org/abs/1406.4729",
        ),
        Source(
            "Beyond bags of features: spatial pyramid matching for recognizing natural scene "
            "categories",
            "S. Lazebnik, C. Schmid, J. Ponce",
            2006,
        ),
        Source("Fast R-CNN", "R. Girshick", 2015, "https://arxiv.org/abs/1504.08083"),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
