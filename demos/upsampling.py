"""Upsampling: where does every output pixel come from, and with what weight?

Interpolation (nearest, bilinear, bicubic) reads each output pixel from a few input pixels at a
source coordinate; a transposed convolution scatters every input pixel into a patch of the
output, unevenly when the kernel size is not a multiple of the stride; PixelShuffle moves r²
channels into an r × r block; max-unpooling puts each maximum back where it was found. The
figures show each rule on images and on a small feature map, computed by core.vision.upsampling.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch

IMAGE_SIZE = 128  # every bundled image is IMAGE_SIZE × IMAGE_SIZE, grey levels in [0, 1]
PHOTO = Path(__file__).resolve().parents[1] / "assets" / "images" / "camera.png"
TCONV_INPUT = 6  # the constant input of the transposed-convolution figure is 6 × 6
SHUFFLE_SIZE = 3  # PixelShuffle input: r² channels of 3 × 3
POOLED_SIZE = 4  # max-unpooling: a 4r × 4r map pooled to 4 × 4
TEXT_LIMIT = 16  # write values into cells only up to this many cells per side
GREY = [[0.0, "#000000"], [1.0, "#FFFFFF"]]
SEQUENTIAL = "Viridis"
COLUMN_PX, ROW_PX = Text("column (px)", "列（像素）"), Text("row (px)", "行（像素）")

Image = Literal["camera", "zone_plate", "checkerboard"]
Mode = Literal["nearest", "nearest-exact", "bilinear", "bicubic"]
IMAGES: dict[str, Text] = {
    "camera": Text("Photo (cameraman)", "照片（摄影师）"),
    "zone_plate": Text("Zone plate", "波带片（zone plate）"),
    "checkerboard": Text("Checkerboard", "棋盘格"),
}
MODES: dict[str, Text] = {
    "nearest": Text("nearest", "最近邻 nearest"),
    "nearest-exact": Text("nearest-exact", "最近邻 nearest-exact"),
    "bilinear": Text("bilinear", "双线性 bilinear"),
    "bicubic": Text("bicubic", "双三次 bicubic"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    image: Image = param("camera", en="Image", zh="图像", choices=IMAGES)
    scale: float = param(
        4.0,
        en="Scale factor (image)",
        zh="缩放倍数（图像）",
        help_en="Below 1 the image is downscaled: watch the zone plate alias.",
        help_zh="小于 1 时为缩小：观察波带片上的混叠。",
        ge=0.25,
        le=6.0,
        step=0.25,
    )
    crop: int = param(24, en="Crop size (input pixels)", zh="裁剪大小（输入像素）", ge=8, le=64)
    crop_x: float = param(
        0.4, en="Crop position, left → right", zh="裁剪位置：左 → 右", ge=0.0, le=1.0, step=0.05
    )
    crop_y: float = param(
        0.25, en="Crop position, top → bottom", zh="裁剪位置：上 → 下", ge=0.0, le=1.0, step=0.05
    )
    methods: list[Mode] = param(
        ["nearest", "bilinear", "bicubic"],
        en="Methods compared on the image",
        zh="在图像上比较的方法",
        choices=MODES,
        min_length=1,
        max_length=len(MODES),
    )
    align_corners: bool = param(
        False,
        en="align_corners (bilinear, bicubic)",
        zh="align_corners（双线性、双三次）",
        help_en="True: the corner pixels' centres line up; False: the pixel areas line up.",
        help_zh="True：输入输出四角像素的中心对齐；False：像素区域（边界）对齐。",
    )
    map_in: int = param(4, en="Feature map: input size", zh="特征图：输入边长", ge=2, le=8)
    map_out: int = param(8, en="Feature map: output size", zh="特征图：输出边长", ge=1, le=16)
    focus: Mode = param("bilinear", en="Feature map: method", zh="特征图：方法", choices=MODES)
    out_row: int = param(3, en="Output pixel: row", zh="输出像素：行", ge=0, le=15)
    out_col: int = param(2, en="Output pixel: column", zh="输出像素：列", ge=0, le=15)
    kernel: int = param(
        3, en="Transposed conv: kernel size k", zh="转置卷积：卷积核大小 k", ge=1, le=8
    )
    stride: int = param(2, en="Transposed conv: stride s", zh="转置卷积：步长 s", ge=1, le=4)
    factor: int = param(
        2,
        en="PixelShuffle / unpooling factor r",
        zh="PixelShuffle / 反池化倍数 r",
        ge=2,
        le=4,
    )


# --- bundled images -----------------------------------------------------------------------------


def zone_plate(n: int = IMAGE_SIZE) -> torch.Tensor:
    """½ + ½·cos(π r²/R), r in pixels from the centre, R = n·√2: rings whose frequency r/R
    (cycles per pixel) grows from 0 at the centre to ½, the Nyquist limit, in the corners. A
    resampler that aliases draws rings that are not there."""
    import torch

    c = (n - 1) / 2
    y, x = torch.meshgrid(torch.arange(n) - c, torch.arange(n) - c, indexing="ij")
    return 0.5 + 0.5 * torch.cos(math.pi * (x**2 + y**2) / (n * math.sqrt(2)))


def checkerboard(n: int = IMAGE_SIZE, square: int = 4) -> torch.Tensor:
    """Black and white squares of `square` pixels: hard edges, one pixel wide."""
    import torch

    i = torch.arange(n) // square
    return ((i[:, None] + i[None, :]) % 2).float()


@functools.cache
def _photo() -> torch.Tensor:
    import torch
    from PIL import Image as PILImage  # Pillow comes with Gradio; only this image needs it

    with PILImage.open(PHOTO) as photo:
        grey = np.asarray(photo.convert("L"), dtype=np.float32) / 255.0
    return torch.from_numpy(grey)


@functools.cache
def load_image(name: str) -> torch.Tensor:
    """The bundled image `name` as (IMAGE_SIZE, IMAGE_SIZE) float32 in [0, 1] (cached: do not
    modify it)."""
    if name == "camera":
        return _photo()
    return zone_plate() if name == "zone_plate" else checkerboard()


# --- figure helpers, shared with the spp demo ---------------------------------------------------


def panel_axes(count: int, gap: float = 0.04, titles: list[str] | None = None) -> dict:
    """Layout of `count` image panels side by side: square pixels, row 0 at the top, a title
    above each panel. Panel i uses axes x{i+1}/y{i+1} (plain "x"/"y" for the first)."""
    width = (1 - gap * (count - 1)) / count
    layout: dict = {"annotations": []}
    for i in range(count):
        suffix = "" if i == 0 else str(i + 1)
        start = i * (width + gap)
        layout[f"xaxis{suffix}"] = {
            "domain": [start, start + width],
            "constrain": "domain",
            "showgrid": False,
            "zeroline": False,
            "anchor": f"y{suffix}",
        }
        layout[f"yaxis{suffix}"] = {
            "autorange": "reversed",
            "scaleanchor": f"x{suffix}",
            "constrain": "domain",
            "showgrid": False,
            "zeroline": False,
            "anchor": f"x{suffix}",
        }
        if titles:
            layout["annotations"].append(
                caption(
                    titles[i],
                    x=0.5,
                    xref=f"x{suffix} domain",
                    yref=f"y{suffix} domain",
                    xanchor="center",
                )
            )
    return layout


def label_axes(layout: dict, count: int, x: str, y: str) -> None:
    """Axis titles: x under every panel, y on the first only."""
    for i in range(count):
        suffix = "" if i == 0 else str(i + 1)
        layout[f"xaxis{suffix}"]["title"] = {"text": x}
    layout["yaxis"]["title"] = {"text": y}


def pixel_ticks(layout: dict, panel: int, rows: int, cols: int) -> None:
    """Ticks on whole pixels of panel `panel` (0-based): every 1, 2, 5, 10... pixels."""
    suffix = "" if panel == 0 else str(panel + 1)
    for axis, size in (("xaxis", cols), ("yaxis", rows)):
        step = next(step for step in (1, 2, 5, 10, 20, 50, 100) if size / step <= 8)
        layout[f"{axis}{suffix}"].update({"tick0": 0, "dtick": step})


def heatmap(z: np.ndarray, panel: int, **extra) -> dict:
    """A heatmap trace on panel `panel` (0-based), cells at integer (col, row) centres."""
    suffix = "" if panel == 0 else str(panel + 1)
    return {
        "type": "heatmap",
        "z": np.asarray(z, dtype=np.float32),
        "xaxis": f"x{suffix}",
        "yaxis": f"y{suffix}",
        **extra,
    }


def cell_text(size: int, template: str) -> dict:
    """Values written into the cells of small maps only (large ones would be unreadable)."""
    return {"texttemplate": template, "textfont": {"size": 11}} if size <= TEXT_LIMIT else {}


def colorbar_under(domain: list[float], title: str) -> dict:
    """A horizontal colour bar under the panels spanning `domain` (paper x coordinates)."""
    return {
        "orientation": "h",
        "x": (domain[0] + domain[1]) / 2,
        "xanchor": "center",
        "y": -0.3,
        "yanchor": "top",
        "len": domain[1] - domain[0],
        "thickness": 12,
        "title": {"text": title, "side": "right"},
    }


def figure(data: list, layout: dict) -> go.Figure:
    """A Figure from plain dicts. `figure_json` puts the page's template in when it serialises,
    so none is copied in here (copying Plotly's default template costs milliseconds)."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


# --- figure 1: the image, zoomed, per method -----------------------------------------------------


def _align(mode: str, align_corners: bool) -> bool | None:
    return align_corners if mode in ("bilinear", "bicubic") else None


def _crop(p: Params) -> tuple[torch.Tensor, int, int]:
    image = load_image(p.image)
    top = round(p.crop_y * (IMAGE_SIZE - p.crop))
    left = round(p.crop_x * (IMAGE_SIZE - p.crop))
    return image[top : top + p.crop, left : left + p.crop], top, left


def _repeats(index: torch.Tensor, size: int) -> str:
    """How many output columns each input column became (nearest): '2, 3' is uneven."""
    import torch

    counts = torch.bincount(index[:, 0], minlength=size)
    return ", ".join(str(c) for c in sorted(set(counts.tolist())))


def _image_figure(p: Params, lang: str) -> tuple[go.Figure, list[str]]:
    from core.vision import upsampling as up

    crop, top, left = _crop(p)
    x = crop[None, None]
    methods = list(dict.fromkeys(p.methods))
    outputs, rows = [], []
    for mode in methods:
        out = up.interpolate(
            x, scale_factor=p.scale, mode=mode, align_corners=_align(mode, p.align_corners)
        )[0, 0]
        outputs.append(out)
        repeats = "—"
        if mode.startswith("nearest"):
            cols = up.axis_sampling(p.crop, out.shape[1], mode, scale_factor=p.scale)
            repeats = _repeats(cols.index, p.crop)
        rows.append(
            f"| {MODES[mode](lang)} | {out.shape[0]}×{out.shape[1]} | {float(out.min()):.3f} | "
            f"{float(out.max()):.3f} | {repeats} |"
        )
    hover = Text("row %{y}, col %{x}<br>value %{z:.3f}", "第 %{y} 行，第 %{x} 列<br>值 %{z:.3f}")(
        lang
    )
    common = {"coloraxis": "coloraxis", "hovertemplate": hover + "<extra></extra>"}
    data = [heatmap(crop.numpy(), 0, **common)]
    data += [heatmap(out.numpy(), i + 1, **common) for i, out in enumerate(outputs)]
    size_in = f"{p.crop}×{p.crop}"
    titles = [Text(f"input {size_in}", f"输入 {size_in}")(lang)]
    titles += [
        f"{MODES[m](lang)} {o.shape[0]}×{o.shape[1]}" for m, o in zip(methods, outputs, strict=True)
    ]
    layout = panel_axes(len(data), titles=titles)
    label_axes(
        layout,
        len(data),
        COLUMN_PX(lang),
        ROW_PX(lang),
    )
    corners = f", align_corners={p.align_corners}" if set(methods) & {"bilinear", "bicubic"} else ""
    title = Text(
        f"{IMAGES[p.image].en}: crop at row {top}, column {left}, resized ×{p.scale:g}{corners}",
        f"{IMAGES[p.image].zh}：从第 {top} 行、第 {left} 列裁剪，缩放 ×{p.scale:g}{corners}",
    )
    layout.update(
        {
            "title": {"text": title(lang)},
            "coloraxis": {
                "colorscale": GREY,
                "cmin": 0,
                "cmax": 1,
                "colorbar": {"title": {"text": Text("grey level", "灰度")(lang)}, "len": 0.8},
            },
            "height": min(480, 140 + 860 // len(data)),  # the panels are square
            "margin": {"t": 70, "b": 50},
        }
    )
    return figure(data, layout), rows


# --- figure 2: one output pixel's sources on a small feature map --------------------------------


def feature_map(size: int) -> torch.Tensor:
    """A fixed (1, 1, size, size) map of values 0.00..1.00 (seeded: the same on every render)."""
    import torch

    generator = torch.Generator().manual_seed(7)
    return (torch.rand(1, 1, size, size, generator=generator) * 100).round() / 100


def _sources(rows: list, cols: list, weights: list) -> list[tuple[int, int, float]]:
    """Distinct source pixels of one output pixel with their summed weights (a clamped border
    tap repeats a pixel), from its taps' rows, columns and weights."""
    merged: dict[tuple[int, int], float] = {}
    for row, col, weight in zip(rows, cols, weights, strict=True):
        merged[(row, col)] = merged.get((row, col), 0.0) + weight
    return [(row, col, w) for (row, col), w in merged.items() if w != 0.0]


def _all_sources(pixel: dict) -> list[list[list[tuple[int, int, float]]]]:
    """`_sources` of every output pixel, indexed [row][column]."""
    taps = zip(pixel["row"].tolist(), pixel["col"].tolist(), pixel["weight"].tolist(), strict=True)
    return [[_sources(*tap) for tap in zip(*line, strict=True)] for line in taps]


def _hover_sources(sources: list, rows: dict, cols: dict, lang: str) -> np.ndarray:
    sample = Text("samples", "采样点")(lang)
    y, x = rows["coordinate"].tolist(), cols["coordinate"].tolist()
    text = np.empty((len(y), len(x)), dtype=object)
    for r, line in enumerate(sources):
        for c, pixel in enumerate(line):
            taps = sorted(pixel, key=lambda s: -abs(s[2]))[:8]
            text[r, c] = f"{sample} ({y[r]:.2f}, {x[c]:.2f})<br>" + "<br>".join(
                f"({row}, {col}) × {w:+.3f}" for row, col, w in taps
            )
    return text


def _weight_label(weight: float, size: int) -> str:
    """'×0.563' in large cells, fewer characters in the small cells of a larger map."""
    if size <= 4:
        return f"<b>×{weight:.3f}</b>"
    return f"<b>×{weight:.2f}</b>" if size <= 6 else f"{weight:.2f}"


def _sampling_figure(p: Params, lang: str) -> tuple[go.Figure, str]:
    import torch

    from core.trace import Trace
    from core.vision import upsampling as up

    x = feature_map(p.map_in)
    trace = Trace()
    out = up.interpolate(
        x, size=p.map_out, mode=p.focus, align_corners=_align(p.focus, p.align_corners), trace=trace
    )[0, 0]
    rows, cols = trace["axis"]
    every_pixel = _all_sources(trace["sources"][0])
    r, c = min(p.out_row, p.map_out - 1), min(p.out_col, p.map_out - 1)
    sources = every_pixel[r][c]
    y_src, x_src = float(rows["coordinate"][r]), float(cols["coordinate"][c])
    grid_y, grid_x = torch.meshgrid(rows["coordinate"], cols["coordinate"], indexing="ij")
    value = Text("value", "值")(lang)
    low = min(float(x.min()), float(out.min()))
    high = max(float(x.max()), float(out.max()), low + 1e-6)

    def ink(values: list[float]) -> list[str]:
        """Text colour that reads on the grey cell behind it."""
        return ["#111827" if (v - low) / (high - low) > 0.5 else "#FFFFFF" for v in values]

    n = p.map_in
    cell_rows, cell_cols = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    values = x[0, 0].flatten().tolist()
    source_values = [float(x[0, 0, row, col]) for row, col, _ in sources]
    data = [
        heatmap(
            x[0, 0].numpy(),
            0,
            coloraxis="coloraxis",
            xgap=1,
            ygap=1,
            hovertemplate=Text("input (%{y}, %{x})", "输入 (%{y}, %{x})")(lang)
            + f"<br>{value} %{{z:.2f}}<extra></extra>",
        ),
        {
            "type": "scatter",
            "mode": "markers",
            "x": grid_x.flatten().numpy().astype(np.float32),
            "y": grid_y.flatten().numpy().astype(np.float32),
            "marker": {"size": 6, "color": COLORWAY[4], "line": {"width": 1, "color": "#111827"}},
            "name": Text("where every output pixel samples", "每个输出像素的采样点")(lang),
            "hoverinfo": "skip",
        },
        {  # the value of each input pixel, low in its cell (the weight goes above it)
            "type": "scatter",
            "mode": "text",
            "x": cell_cols.flatten().numpy(),
            "y": (cell_rows.flatten() + 0.28).numpy(),
            "text": [f"{v:.2f}" for v in values] if n <= 6 else [],
            "textfont": {"size": 11, "color": ink(values)},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "text",
            "x": [col for _, col, _ in sources],
            "y": [row - 0.12 for row, _, _ in sources],
            "text": [_weight_label(w, n) for _, _, w in sources],
            "textfont": {"size": 13 if n <= 6 else 10, "color": ink(source_values)},
            "name": Text(
                "source pixels, × weight (orange outline: weight < 0)",
                "源像素 × 权重（橙色边框：权重为负）",
            )(lang),
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {  # legend entry for the outlines (shapes have none)
            "type": "scatter",
            "mode": "markers",
            "x": [None],
            "y": [None],
            "marker": {
                "symbol": "square-open",
                "size": 14,
                "line": {"width": 3},
                "color": COLORWAY[0],
            },
            "name": Text(
                "source pixel × weight (orange: weight < 0)", "源像素 × 权重（橙色：权重为负）"
            )(lang),
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": [x_src],
            "y": [y_src],
            "marker": {"symbol": "x-thin", "size": 16, "line": {"width": 3, "color": COLORWAY[2]}},
            "name": Text(f"sample point of output ({r}, {c})", f"输出 ({r}, {c}) 的采样点")(lang),
            "hovertemplate": Text("samples at (%{y:.3f}, %{x:.3f})", "采样于 (%{y:.3f}, %{x:.3f})")(
                lang
            )
            + "<extra></extra>",
        },
        heatmap(
            out.numpy(),
            1,
            coloraxis="coloraxis",
            xgap=1,
            ygap=1,
            customdata=_hover_sources(every_pixel, rows, cols, lang),
            hovertemplate=Text("output (%{y}, %{x})", "输出 (%{y}, %{x})")(lang)
            + f"<br>{value} %{{z:.3f}}<br>%{{customdata}}<extra></extra>",
            **cell_text(p.map_out, "%{z:.2f}"),
        ),
    ]
    m = p.map_out
    titles = [
        Text(
            f"input {n}×{n}: sources of output ({r}, {c})", f"输入 {n}×{n}：输出 ({r}, {c}) 的来源"
        )(lang),
        Text(f"output {m}×{m} (hover: sources, weights)", f"输出 {m}×{m}（悬停查看来源与权重）")(
            lang
        ),
    ]
    layout = panel_axes(2, gap=0.12, titles=titles)
    label_axes(layout, 2, COLUMN_PX(lang), ROW_PX(lang))
    layout["xaxis"]["range"] = [-0.6, n - 0.4]
    layout["yaxis"]["range"] = [n - 0.4, -0.6]
    layout["yaxis"].pop("autorange")
    pixel_ticks(layout, 0, n, n)
    pixel_ticks(layout, 1, m, m)
    corners = f", align_corners={p.align_corners}" if p.focus in ("bilinear", "bicubic") else ""
    title = Text(
        f"Where output pixel ({r}, {c}) samples from: {p.focus}{corners}, source point ({y_src:.3f}, {x_src:.3f})",
        f"输出像素 ({r}, {c}) 从哪里取值：{MODES[p.focus].zh}{corners}，采样点 ({y_src:.3f}, {x_src:.3f})",
    )
    layout.update(
        {
            "title": {"text": title(lang)},
            "shapes": [
                *(
                    {
                        "type": "rect",
                        "xref": "x",
                        "yref": "y",
                        "x0": col - 0.45,
                        "x1": col + 0.45,
                        "y0": row - 0.45,
                        "y1": row + 0.45,
                        "line": {"width": 3, "color": COLORWAY[0] if w > 0 else COLORWAY[1]},
                    }
                    for row, col, w in sources
                ),
                {
                    "type": "rect",
                    "xref": "x2",
                    "yref": "y2",
                    "x0": c - 0.5,
                    "x1": c + 0.5,
                    "y0": r - 0.5,
                    "y1": r + 0.5,
                    "line": {"width": 3, "color": COLORWAY[2]},
                },
            ],
            "coloraxis": {
                "colorscale": GREY,
                "cmin": low,
                "cmax": high,
                "colorbar": {"title": {"text": value}, "len": 0.8},
            },
            "legend": {"orientation": "h", "y": -0.18},
            "height": 470,
            "margin": {"t": 80},
        }
    )
    header = Text(
        f"**Output pixel ({r}, {c})** = {float(out[r, c]):.4f} = Σ weight × input\n\n"
        "| input pixel | value | weight |\n|---|---:|---:|",
        f"**输出像素 ({r}, {c})** = {float(out[r, c]):.4f} = Σ 权重 × 输入\n\n"
        "| 输入像素 | 值 | 权重 |\n|---|---:|---:|",
    )
    lines = [
        f"| ({row}, {col}) | {float(x[0, 0, row, col]):.2f} | {w:+.4f} |" for row, col, w in sources
    ]
    total = Text("sum of weights", "权重之和")(lang)
    lines.append(f"| {total} | | {sum(s[2] for s in sources):.4f} |")
    return figure(data, layout), "\n".join([header(lang), *lines])


# --- figure 3: transposed convolution versus resize-convolution ----------------------------------


def _interior(values: torch.Tensor, margin: int) -> torch.Tensor:
    """The part of an output away from the borders (everything if nothing is left)."""
    inner = values[margin : values.shape[0] - margin, margin : values.shape[1] - margin]
    return inner if inner.numel() else values


def _diverging_at_one(top: float) -> list[list]:
    """Red below 1, white at 1 (the mean), blue above, on a colour axis from 0 to `top`."""
    one = 1 / top
    return [
        [0.0, "#B2182B"],
        [one / 2, "#EF8A62"],
        [one, "#F7F7F7"],
        [(1 + one) / 2, "#67A9CF"],
        [1.0, "#2166AC"],
    ]


def _tconv_figure(p: Params, lang: str) -> tuple[go.Figure, str]:
    import torch
    import torch.nn.functional as F

    from core.trace import Trace
    from core.vision import upsampling as up

    k, s = p.kernel, p.stride
    ones = torch.ones(1, 1, TCONV_INPUT, TCONV_INPUT)
    generator = torch.Generator().manual_seed(0)
    weight = 0.5 + torch.rand(1, 1, k, k, generator=generator)  # a random positive kernel
    trace = Trace()
    tconv = up.conv_transpose2d(ones, weight, stride=s, trace=trace)[0, 0]
    overlap = trace["overlap"][0]
    # resize-convolution (Odena et al. 2016): nearest ×s, then a stride-1 convolution
    resized = up.interpolate(ones, scale_factor=s, mode="nearest")
    before, after = (k - 1) // 2, k // 2  # "same" size, the extra row below for even k
    resize_conv = F.conv2d(F.pad(resized, (before, after, before, after)), weight)[0, 0]
    margin = k - 1
    tconv_rel = tconv / _interior(tconv, margin).mean()
    resize_rel = resize_conv / _interior(resize_conv, margin).mean()
    top = float(max(tconv_rel.max(), resize_rel.max()))
    hover_count = Text(
        "output (%{y}, %{x})<br>%{z} kernel taps land here",
        "输出 (%{y}, %{x})<br>落在这里的卷积核分量：%{z} 个",
    )(lang)
    hover_rel = Text(
        "output (%{y}, %{x})<br>%{z:.3f} × the mean", "输出 (%{y}, %{x})<br>均值的 %{z:.3f} 倍"
    )(lang)
    data = [
        heatmap(
            overlap.numpy(),
            0,
            coloraxis="coloraxis",
            hovertemplate=hover_count + "<extra></extra>",
            **cell_text(overlap.shape[0], "%{z}"),
        ),
        heatmap(
            tconv_rel.numpy(),
            1,
            coloraxis="coloraxis2",
            hovertemplate=hover_rel + "<extra></extra>",
        ),
        heatmap(
            resize_rel.numpy(),
            2,
            coloraxis="coloraxis2",
            hovertemplate=hover_rel + "<extra></extra>",
        ),
    ]
    size_t, size_r = tconv.shape[0], resize_conv.shape[0]
    titles = [
        Text(
            f"taps per output pixel ({size_t}×{size_t})",
            f"每个输出像素接收的分量数（{size_t}×{size_t}）",
        )(lang),
        Text("transposed conv of a constant input", "常数输入的转置卷积")(lang),
        Text(f"resize ×{s} + conv ({size_r}×{size_r})", f"先放大 ×{s} 再卷积（{size_r}×{size_r}）")(
            lang
        ),
    ]
    layout = panel_axes(3, gap=0.08, titles=titles)
    label_axes(layout, 3, COLUMN_PX(lang), ROW_PX(lang))
    if s > k:
        verdict = Text(
            "the stride exceeds the kernel: gaps that no tap reaches",
            "步长大于卷积核：有些像素没有任何分量落入（空洞）",
        )
    elif k % s == 0:
        verdict = Text("k divisible by s: even overlap", "k 能被 s 整除：重叠均匀")
    else:
        verdict = Text(
            "k not divisible by s: uneven overlap, a checkerboard",
            "k 不能被 s 整除：重叠不均，出现棋盘格",
        )
    title = Text(
        f"Transposed convolution k={k}, s={s} on a constant {TCONV_INPUT}×{TCONV_INPUT} input: {verdict.en}",
        f"转置卷积 k={k}、s={s}，输入为 {TCONV_INPUT}×{TCONV_INPUT} 的常数：{verdict.zh}",
    )
    layout.update(
        {
            "title": {"text": title(lang)},
            "coloraxis": {
                "colorscale": SEQUENTIAL,
                "cmin": 0,
                "colorbar": colorbar_under(layout["xaxis"]["domain"], Text("taps", "分量数")(lang)),
            },
            "coloraxis2": {
                "colorscale": _diverging_at_one(max(2.0, top)),
                "cmin": 0,
                "cmax": max(2.0, top),
                "colorbar": colorbar_under(
                    [layout["xaxis2"]["domain"][0], layout["xaxis3"]["domain"][1]],
                    Text("output ÷ its mean", "输出 ÷ 其均值")(lang),
                ),
            },
            "height": 440,
            "margin": {"t": 80, "b": 120},
        }
    )

    def spread(values: torch.Tensor) -> str:
        inner = _interior(values, margin)
        return f"{float(inner.min()):.2f} … {float(inner.max()):.2f}"

    notes = Text(
        f"**Away from the borders** (output ÷ its mean): transposed convolution {spread(tconv_rel)}, "
        f"resize-convolution {spread(resize_rel)}; taps per pixel {spread(overlap.double())}.",
        f"**远离边界处**（输出 ÷ 均值）：转置卷积 {spread(tconv_rel)}，先放大再卷积 {spread(resize_rel)}；"
        f"每像素接收的分量数 {spread(overlap.double())}。",
    )
    return figure(data, layout), notes(lang)


# --- figure 4: PixelShuffle and max-unpooling ----------------------------------------------------


def _channel_colors(count: int) -> list[list]:
    """A stepped colour scale giving channel i (of `count`) its own colour."""
    palette = [*COLORWAY, "#AEC7E8"]
    scale = []
    for i in range(count):
        color = palette[i % len(palette)]
        scale += [[i / count, color], [(i + 1) / count, color]]
    return scale


def _tiles(r: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The r² input channels laid out as an r × r grid of size × size tiles (one empty cell
    between tiles): channel ids and '(h,w)' labels."""
    side = r * size + r - 1
    ids = np.full((side, side), np.nan, dtype=np.float32)
    labels = np.full((side, side), "", dtype=object)
    for channel in range(r * r):
        i, j = divmod(channel, r)
        y0, x0 = i * (size + 1), j * (size + 1)
        ids[y0 : y0 + size, x0 : x0 + size] = channel
        for h in range(size):
            for w in range(size):
                labels[y0 + h, x0 + w] = f"{h},{w}"
    return ids, labels


def _layers_figure(p: Params, lang: str) -> go.Figure:
    import torch
    import torch.nn.functional as F

    from core.trace import Trace
    from core.vision import upsampling as up

    r, n = p.factor, SHUFFLE_SIZE
    # what pixel_shuffle does to a channel id and to the source position
    ids = torch.arange(r * r, dtype=torch.float32).view(1, r * r, 1, 1).expand(1, r * r, n, n)
    h = torch.arange(n, dtype=torch.float32).view(1, 1, n, 1).expand(1, r * r, n, n)
    w = torch.arange(n, dtype=torch.float32).view(1, 1, 1, n).expand(1, r * r, n, n)
    shuffled_id, shuffled_h, shuffled_w = (up.pixel_shuffle(t, r)[0, 0].long() for t in (ids, h, w))
    tile_ids, tile_labels = _tiles(r, n)
    labels = np.char.add(
        np.char.add(shuffled_h.numpy().astype(str), ","), shuffled_w.numpy().astype(str)
    )
    source = Text("channel", "通道")(lang)
    shuffle_hover = Text(
        f"output (%{{y}}, %{{x}})<br>← {source} %{{z}}, pixel (%{{text}})",
        f"输出 (%{{y}}, %{{x}})<br>← {source} %{{z}}，像素 (%{{text}})",
    )(lang)

    # max-unpooling: a 4r × 4r map, max-pooled r × r, put back
    generator = torch.Generator().manual_seed(3)
    original = (
        torch.rand(1, 1, POOLED_SIZE * r, POOLED_SIZE * r, generator=generator) * 100
    ).round() / 100
    pooled, indices = F.max_pool2d(original, r, return_indices=True)
    unpool_trace = Trace()
    unpooled = up.max_unpool2d(pooled, indices, r, trace=unpool_trace)[0, 0]
    kept = np.where(unpooled.numpy() != 0, unpooled.numpy(), np.nan)  # zeros drawn empty
    value = Text("value", "值")(lang)
    by_channel = {  # both PixelShuffle panels: one colour per input channel
        "colorscale": _channel_colors(r * r),
        "zmin": -0.5,
        "zmax": r * r - 0.5,
        "showscale": False,
        "textfont": {"size": 10},
        "xgap": 1,
        "ygap": 1,
    }
    data = [
        heatmap(
            tile_ids,
            0,
            **by_channel,
            text=tile_labels,
            texttemplate="%{text}",
            hovertemplate=f"{source} %{{z}}, "
            + Text("pixel (%{text})", "像素 (%{text})")(lang)
            + "<extra></extra>",
        ),
        heatmap(
            shuffled_id.numpy(),
            1,
            **by_channel,
            text=labels,
            texttemplate="%{z}",
            hovertemplate=shuffle_hover + "<extra></extra>",
        ),
        heatmap(
            original[0, 0].numpy(),
            2,
            coloraxis="coloraxis",
            xgap=1,
            ygap=1,
            hovertemplate=f"(%{{y}}, %{{x}}) {value} %{{z:.2f}}<extra></extra>",
        ),
        heatmap(
            pooled[0, 0].numpy(),
            3,
            coloraxis="coloraxis",
            xgap=1,
            ygap=1,
            hovertemplate="(%{y}, %{x}) max %{z:.2f}<extra></extra>",
            **cell_text(POOLED_SIZE, "%{z:.2f}"),
        ),
        heatmap(
            kept,
            4,
            coloraxis="coloraxis",
            xgap=1,
            ygap=1,
            hovertemplate=f"(%{{y}}, %{{x}}) {value} %{{z:.2f}}<extra></extra>",
        ),
    ]
    side = POOLED_SIZE * r
    titles = [
        Text(f"{r * r} input channels, {n}×{n} each", f"{r * r} 个输入通道，各 {n}×{n}")(lang),
        Text(f"PixelShuffle → 1×{n * r}×{n * r}", f"PixelShuffle → 1×{n * r}×{n * r}")(lang),
        Text(f"map {side}×{side}", f"特征图 {side}×{side}")(lang),
        Text(f"max-pool {r}×{r}", f"最大池化 {r}×{r}")(lang),
        Text("max-unpool (0 elsewhere)", "最大反池化（其余为 0）")(lang),
    ]
    layout = panel_axes(5, gap=0.035, titles=titles)
    label_axes(layout, 5, Text("column", "列")(lang), Text("row", "行")(lang))
    for axis in ("xaxis", "yaxis"):
        layout[axis]["showticklabels"] = False
        layout[axis]["ticks"] = ""
    title = Text(
        f"PixelShuffle: channel i·{r} + j → sub-pixel (i, j) of each {r}×{r} block · "
        f"max-unpooling: each maximum back in its place",
        f"PixelShuffle：通道 i·{r} + j 填入每个 {r}×{r} 块中的子像素 (i, j) · 最大反池化把最大值放回原位",
    )
    layout.update(
        {
            "title": {"text": title(lang)},
            "coloraxis": {"colorscale": SEQUENTIAL, "cmin": 0, "cmax": 1, "showscale": False},
            "shapes": [
                {
                    "type": "line",
                    "xref": f"x{panel}",
                    "yref": f"y{panel}",
                    **(
                        {"x0": at, "x1": at, "y0": -0.5, "y1": side - 0.5}
                        if vertical
                        else {"x0": -0.5, "x1": side - 0.5, "y0": at, "y1": at}
                    ),
                    "line": {"width": 2, "color": "#9CA3AF"},
                }
                for panel in (3, 5)  # the pooling windows on the map and on the unpooled map
                for at in np.arange(r, side, r) - 0.5
                for vertical in (True, False)
            ],
            "height": 330,
            "margin": {"t": 90},
        }
    )
    return figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    image, image_rows = _image_figure(p, lang)
    sampling, sampling_notes = _sampling_figure(p, lang)
    tconv, tconv_notes = _tconv_figure(p, lang)
    layers = _layers_figure(p, lang)
    header = Text(
        "| method | output size | min | max | times each input column is repeated |\n|---|---|---:|---:|---|",
        "| 方法 | 输出尺寸 | 最小值 | 最大值 | 每个输入列被重复的次数 |\n|---|---|---:|---:|---|",
    )
    notes = "\n".join([header(lang), *image_rows, "", sampling_notes, "", tconv_notes])
    return Rendered([image, sampling, tconv, layers], notes)


presets = {
    "Nearest at a non-integer factor": Params(
        image="checkerboard", scale=2.5, crop=16, methods=["nearest", "nearest-exact", "bilinear"],
        map_in=4, map_out=10, focus="nearest", out_row=4, out_col=4,
    ),
    "Downscaling aliases": Params(
        image="zone_plate", scale=0.5, crop=64, crop_x=1.0, crop_y=1.0,
        methods=["nearest", "bilinear", "bicubic"], map_in=8, map_out=4, focus="bilinear",
        out_row=1, out_col=1,
    ),
    "align_corners=True": Params(
        align_corners=True, map_in=4, map_out=8, focus="bilinear", out_row=0, out_col=7,
    ),
    "Bicubic overshoots": Params(
        image="checkerboard", scale=4.0, crop=12, methods=["bilinear", "bicubic"],
        focus="bicubic", map_in=4, map_out=8, out_row=3, out_col=4,
    ),
    "Checkerboard artifacts (k=3, s=2)": Params(kernel=3, stride=2),
    "Even overlap (k=4, s=2)": Params(kernel=4, stride=2),
    "Gaps when s > k": Params(kernel=2, stride=3),
    "Sub-pixel convolution (r=3)": Params(factor=3, scale=3.0, methods=["nearest", "bicubic"]),
}  # fmt: skip
preset_titles = {
    "Nearest at a non-integer factor": Text(
        "Nearest at a non-integer factor", "非整数倍数下的最近邻"
    ),
    "Downscaling aliases": Text("Downscaling aliases (zone plate)", "缩小会产生混叠（波带片）"),
    "align_corners=True": Text(
        "align_corners=True: corners line up", "align_corners=True：四角对齐"
    ),
    "Bicubic overshoots": Text("Bicubic overshoots at edges", "双三次插值在边缘处过冲"),
    "Checkerboard artifacts (k=3, s=2)": Text(
        "Checkerboard artifacts (k=3, s=2)", "棋盘格伪影（k=3，s=2）"
    ),
    "Even overlap (k=4, s=2)": Text("Even overlap (k=4, s=2)", "均匀重叠（k=4，s=2）"),
    "Gaps when s > k": Text("Gaps when the stride exceeds the kernel", "步长大于卷积核时出现空洞"),
    "Sub-pixel convolution (r=3)": Text(
        "Sub-pixel convolution (ESPCN, r=3)", "亚像素卷积（ESPCN，r=3）"
    ),
}

EXPLANATION = Text(
    en="""
**Interpolation** computes every output pixel from input pixels near one *source coordinate*.
With `align_corners=False` (PyTorch's default) the pixel *areas* of input and output line up:
output pixel i samples at (i + ½)·in/out − ½. With `align_corners=True` the *centres of the corner
pixels* line up: i·(in − 1)/(out − 1); the small orange dots in the second figure are these sample points.
When a scale factor is given, PyTorch uses 1/scale_factor, not in/out, in these formulas.
**Nearest** takes the pixel under floor(i·in/out) (the top-left corner of the output pixel, an old
OpenCV rule kept for compatibility); **nearest-exact** takes the pixel under the output pixel's
centre. At a non-integer factor both repeat some input pixels more often than others (the table
gives the counts). **Bilinear** mixes the 2 × 2 neighbours with weights that fall linearly with
distance; **bicubic** mixes 4 × 4 with Keys' cubic kernel (A = −0.75), whose negative lobes make
edges sharper but overshoot below 0 and above 1 (see the table's min and max). At the border
the taps are clamped to the edge pixel. The weights always sum to 1.

**Downscaling** by these rules samples without averaging first, so frequencies above the new
Nyquist limit fold back: the zone plate grows rings that are not there (aliasing).

**Learned upsampling.** FCN (Long et al., 2015) upsamples with a *transposed convolution*: each
input pixel adds a copy of the kernel, scaled by its value, to the output, s pixels apart. When
the kernel size k is not a multiple of the stride s, the copies overlap unevenly: some output
pixels receive more kernel taps than their neighbours (first panel), and even a constant input
comes out as a checkerboard (Odena, Dumoulin & Olah, 2016, "Deconvolution and Checkerboard
Artifacts"). Their remedy, *resize-convolution* — nearest upsampling followed by a stride-1
convolution — gives every output pixel the same k² taps (third panel). **Sub-pixel convolution**
(ESPCN, Shi et al., 2016) computes r² channels at low resolution and *PixelShuffle* rearranges
them: channel i·r + j becomes sub-pixel (i, j) of each r × r block. **Max-unpooling** (SegNet)
writes each pooled maximum back at the position its max-pool recorded and leaves zeros elsewhere.
""",
    zh="""
**插值**用某个*源坐标*附近的输入像素计算每个输出像素。`align_corners=False`（PyTorch 默认）时，输入与输出的
*像素区域*对齐：输出像素 i 的采样位置是 (i + ½)·in/out − ½；`align_corners=True` 时，*四角像素的中心*对齐：
i·(in − 1)/(out − 1)。第二张图中的橙色小点就是所有输出像素的采样位置。给定 scale_factor 时，PyTorch 在这些公式中使用
1/scale_factor，而不是 in/out。**nearest** 取 floor(i·in/out) 处的像素（即输出像素左上角落在的像素，这是为兼容而
保留的 OpenCV 旧规则）；**nearest-exact** 取输出像素中心落在的像素。倍数不是整数时，两者都会让一些输入像素比
其他像素重复更多次（表格给出了次数）。**双线性**按距离线性递减的权重混合 2 × 2 个邻居；**双三次**用 Keys 三次
卷积核（A = −0.75）混合 4 × 4 个邻居，核的负值部分让边缘更锐利，但会过冲到 0 以下、1 以上（见表格的最小值和最大值）。
在边界处，越界的取样点被截断到边缘像素。权重之和始终为 1。

**缩小**时这些规则直接取样而不先做平均，超出新奈奎斯特频率的成分会折叠回来：波带片上出现本不存在的圆环（混叠）。

**可学习的上采样。** FCN（Long 等，2015）用*转置卷积*上采样：每个输入像素按自己的值把卷积核复制一份加到输出上，
相邻两份相隔 s 个像素。当卷积核大小 k 不是步长 s 的倍数时，这些副本重叠得不均匀：有的输出像素比邻居接收更多的
卷积核分量（第一个子图），于是即使输入是常数，输出也是棋盘格（Odena、Dumoulin 与 Olah，2016，《Deconvolution
and Checkerboard Artifacts》）。他们的办法是*先缩放再卷积*：先最近邻放大，再做步长为 1 的卷积，每个输出像素都
接收同样的 k² 个分量（第三个子图）。**亚像素卷积**（ESPCN，Shi 等，2016）在低分辨率下算出 r² 个通道，再由
*PixelShuffle* 重排：通道 i·r + j 成为每个 r × r 块中的子像素 (i, j)。**最大反池化**（SegNet）把每个最大值写回
最大池化记录的位置，其余位置为 0。
""",
)

DEMO = Demo(
    slug="upsampling",
    section="vision",
    figures=4,
    title=Text("Upsampling", "上采样"),
    summary=Text(
        "Nearest, bilinear, bicubic, transposed convolution, PixelShuffle and max-unpooling: "
        "where every output pixel comes from.",
        "最近邻、双线性、双三次、转置卷积、PixelShuffle 与最大反池化：每个输出像素从哪里来。",
    ),
    sources=(
        Source(
            "Fully convolutional networks for semantic segmentation",
            "J. Long, E. Shelhamer, T. Darrell",
            2015,
            "https://arxiv.org/abs/1411.4038",
        ),
        Source(
            "Real-time single image and video super-resolution using an efficient sub-pixel "
            "convolutional neural network (ESPCN)",
            "W. Shi et al.",
            2016,
            "https://arxiv.org/abs/1609.05158",
        ),
        Source(
            "Deconvolution and checkerboard artifacts",
            "A. Odena, V. Dumoulin, C. Olah",
            2016,
            "https://distill.pub/2016/deconv-checkerboard/",
        ),
        Source(
            "Cubic convolution interpolation for digital image processing",
            "R. Keys",
            1981,
        ),
        Source(
            "SegNet: a deep convolutional encoder-decoder architecture for image segmentation",
            "V. Badrinarayanan, A. Kendall, R. Cipolla",
            2017,
            "https://arxiv.org/abs/1511.00561",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
