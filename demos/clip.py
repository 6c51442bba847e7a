"""CLIP: how does a batch of image–caption pairs teach two encoders one embedding space?

A toy dual encoder trained on a 250-composition world of coloured shapes: the batch's N×N
matrix s·cos (rows images, columns captions) and its row and column softmax, the symmetric
cross-entropy and its dependence on the temperature, the joint embedding space, zero-shot
classification by prompts on compositions never seen in training, and the training log.
"""

from __future__ import annotations

import base64
import io
import math
import typing
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = {"clip": "assets/models/toy_clip.npz", "siglip": "assets/models/toy_siglip.npz"}
# The toy world's words (core.multimodal.shapes holds the same; a test checks they agree):
# Literal types for the controls, and their values as tuples.
Shape = Literal["circle", "square", "triangle", "cross", "ring"]
Colour = Literal["red", "green", "blue", "yellow", "purple"]
Position = Literal["top left", "top right", "center", "bottom left", "bottom right"]
Size = Literal["small", "big"]
Template = Literal[
    "a {}", "a photo of a {}", "a drawing of a {}", "a small {}", "a big {}", "a picture of a {}"
]
SHAPES, COLOURS, POSITIONS, SIZES, TEMPLATES = (
    typing.get_args(kind) for kind in (Shape, Colour, Position, Size, Template)
)
WORDS_ZH = {
    **dict(zip(SHAPES, ("圆", "方块", "三角形", "十字", "圆环"), strict=True)),
    **dict(zip(COLOURS, ("红", "绿", "蓝", "黄", "紫"), strict=True)),
    **dict(zip(POSITIONS, ("左上", "右上", "中间", "左下", "右下"), strict=True)),
    "small": "小",
    "big": "大",
}
SAME = Text("same as the image", "与图像相同")
MODELS = {
    "clip": Text("softmax-trained (CLIP loss)", "softmax 训练（CLIP 损失）"),
    "siglip": Text("sigmoid-trained (SigLIP loss)", "sigmoid 训练（SigLIP 损失）"),
}
LN_100 = math.log(100.0)


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain dicts, unvalidated (the contract tests validate every figure once):
    Plotly's per-property validation would cost more than the whole render budget."""
    if isinstance(layout.get("title"), str):
        layout["title"] = {"text": layout["title"]}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def packed(values: np.ndarray) -> dict:
    """A float array as Plotly's typed-array spec {dtype, bdata}, what figure_json would make of
    it, built once here instead of by the serialiser's per-array walk."""
    raw = np.ascontiguousarray(values, dtype="<f4").tobytes()
    return {"dtype": "f4", "bdata": base64.b64encode(raw).decode()}


def _words(values: tuple[str, ...], same: bool = False) -> dict[str, Text]:
    labels = {v: Text(v, WORDS_ZH[v]) for v in values}
    return {"same": SAME, **labels} if same else labels


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    batch_size: int = param(8, en="Batch size N", zh="批大小 N", ge=2, le=32)
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)
    draw: Literal["random", "colour", "shape", "position"] = param(
        "random",
        en="Batch draw",
        zh="批的抽取方式",
        help_en="One colour / shape / position: every pair shares it, so negatives are hard.",
        help_zh="同一颜色/形状/位置：批中所有样本共享该属性，负样本因此更难区分。",
        choices={
            "random": Text("random", "随机"),
            "colour": Text("one colour", "同一颜色"),
            "shape": Text("one shape", "同一形状"),
            "position": Text("one position", "同一位置"),
        },
    )
    image_colour: Colour = param(
        "red", en="Row 1 image: colour", zh="第 1 行图像：颜色", choices=_words(COLOURS)
    )
    image_shape: Shape = param(
        "circle", en="Row 1 image: shape", zh="第 1 行图像：形状", choices=_words(SHAPES)
    )
    image_position: Position = param(
        "top left", en="Row 1 image: position", zh="第 1 行图像：位置", choices=_words(POSITIONS)
    )
    image_size: Size = param(
        "big", en="Row 1 image: size", zh="第 1 行图像：大小", choices=_words(SIZES)
    )
    caption_colour: Literal["same", "red", "green", "blue", "yellow", "purple"] = param(
        "same",
        en="Row 1 caption: colour word",
        zh="第 1 行文字：颜色词",
        help_en="Another word than the image's makes the caption lie.",
        help_zh="选与图像不同的词，文字描述就“说谎”了。",
        choices=_words(COLOURS, same=True),
    )
    caption_shape: Literal["same", "circle", "square", "triangle", "cross", "ring"] = param(
        "same",
        en="Row 1 caption: shape word",
        zh="第 1 行文字：形状词",
        choices=_words(SHAPES, True),
    )
    caption_position: Literal[
        "same", "top left", "top right", "center", "bottom left", "bottom right"
    ] = param(
        "same",
        en="Row 1 caption: position words",
        zh="第 1 行文字：位置词",
        choices=_words(POSITIONS, True),
    )
    caption_size: Literal["same", "small", "big"] = param(
        "same", en="Row 1 caption: size word", zh="第 1 行文字：大小词", choices=_words(SIZES, True)
    )
    scale: Literal["learned", "manual"] = param(
        "learned",
        en="Temperature",
        zh="温度",
        help_en="Learned: the model's own s; manual: the log-scale below.",
        help_zh="learned：模型学到的 s；manual：使用下面的 log-scale。",
        choices={"learned": Text("learned", "学到的"), "manual": Text("manual", "手动")},
    )
    log_scale: float = param(
        2.66,
        en="Manual log-scale ln s",
        zh="手动 log-scale ln s",
        help_en="s = e^value, from 1 to 100 (CLIP's clip); ln(1/0.07) = 2.66 is CLIP's start.",
        help_zh="s = e^value，取值 1 到 100（CLIP 的截断值）；ln(1/0.07) = 2.66 是 CLIP 的初始值。",
        ge=0.0,
        le=round(LN_100, 4),
        step=0.01,
    )
    view: Literal["logits", "rows", "columns"] = param(
        "logits",
        en="Matrix shows",
        zh="矩阵显示",
        choices={
            "logits": Text("logits s·cos", "logits s·cos"),
            "rows": Text("row softmax (image → text)", "按行 softmax（图像 → 文本）"),
            "columns": Text("column softmax (text → image)", "按列 softmax（文本 → 图像）"),
        },
    )
    colour_by: Literal["shape", "colour", "position", "size"] = param(
        "shape",
        en="Embedding map coloured by",
        zh="嵌入图按此着色",
        choices={
            "shape": Text("shape", "形状"),
            "colour": Text("colour", "颜色"),
            "position": Text("position", "位置"),
            "size": Text("size", "大小"),
        },
    )
    task: Literal["shape", "colour", "position", "colour+shape"] = param(
        "colour+shape",
        en="Zero-shot task",
        zh="零样本任务",
        choices={
            "shape": Text("shape (5 classes)", "形状（5 类）"),
            "colour": Text("colour (5 classes)", "颜色（5 类）"),
            "position": Text("position (5 classes)", "位置（5 类）"),
            "colour+shape": Text("colour + shape (25 classes)", "颜色 + 形状（25 类）"),
        },
    )
    templates: list[Template] = param(
        ["a {}", "a photo of a {}", "a small {}"],
        en="Prompt templates",
        zh="提示模板",
        help_en="The first ticked is 'one prompt'; all ticked, averaged, are the ensemble.",
        help_zh="勾选的第一个是“单个提示”；所有勾选的取平均即为集成。",
        choices={t: Text(t, t) for t in TEMPLATES},
        min_length=1,
        max_length=len(TEMPLATES),
    )
    model: Literal["clip", "siglip"] = param("clip", en="Model", zh="模型", choices=MODELS)


# --- the toy world and its embeddings, once per process ----------------------------------------


def _tensors():
    import torch

    torch.set_num_threads(1)
    return torch


@lru_cache(maxsize=2)
def load_model(name: str):
    """The toy dual encoder of a committed file, and its log and temperature arrays."""
    from core.multimodal.toy_clip import load

    return load(ROOT / MODEL_FILES[name])


@lru_cache(maxsize=2)
def world(name: str) -> dict:
    """Embeddings (normalised) of all 250 canonical images and full captions, and their PCA."""
    torch = _tensors()
    from core.multimodal import shapes

    model, _ = load_model(name)
    images = shapes.canonical_images()
    ids = np.stack([shapes.tokens(c.caption()) for c in shapes.COMPOSITIONS])
    with torch.no_grad():
        x = model.encode_image(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
        y = model.encode_text(torch.from_numpy(ids))
    x = torch.nn.functional.normalize(x, dim=-1).numpy()
    y = torch.nn.functional.normalize(y, dim=-1).numpy()
    both = np.concatenate([x, y])
    mean = both.mean(0)
    _, _, vt = np.linalg.svd(both - mean, full_matrices=False)
    projected = (both - mean) @ vt[:2].T
    return {"images": images, "x": x, "y": y, "pca": projected}


def encode(name: str, images: np.ndarray, captions: list[str]) -> tuple[torch.Tensor, ...]:
    """The model's (unnormalised) embeddings of (N, 24, 24, 3) images and caption strings."""
    torch = _tensors()
    from core.multimodal import shapes

    model, _ = load_model(name)
    ids = torch.from_numpy(np.stack([shapes.tokens(c) for c in captions]))
    with torch.no_grad():
        x = model.encode_image(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
        y = model.encode_text(ids)
    return x, y


@lru_cache(maxsize=32)
def _batch(key: str) -> tuple:
    from core.multimodal.contrastive import clip_loss

    p = Params.model_validate_json(key)
    _, images, captions = draw_batch(p)
    x, y = encode(p.model, images, captions)
    scales = np.geomspace(1, 100, 25)  # this batch's loss against s, drawn once per batch
    losses = np.array([float(clip_loss(x, y, math.log(v))[0]) for v in scales])
    return images, captions, x, y, (scales, losses)


def batch_embeddings(p: Params) -> tuple:
    """Images, captions, their embeddings and the loss-against-s curve of the batch `p` draws
    (cached: the view, the temperature and the zero-shot controls do not change the batch)."""
    keep = {"batch_size", "seed", "draw", "model"} | {
        name for name in Params.model_fields if name.startswith(("image_", "caption_"))
    }
    return _batch(p.model_dump_json(include=keep))


def learned_log_scale(name: str) -> float:
    _, extra = load_model(name)
    return float(extra["logit_scale"] if name == "clip" else extra["log_t"])


# --- the batch ----------------------------------------------------------------------------------


def draw_batch(p: Params) -> tuple[list, np.ndarray, list[str]]:
    """Compositions, jittered images and training-style captions; row 1 from the editor."""
    from core.multimodal import shapes

    rng = np.random.default_rng(p.seed)
    pool = list(shapes.COMPOSITIONS)
    if p.draw != "random":
        attribute = {"colour": "colour", "shape": "shape", "position": "position"}[p.draw]
        pool = [c for c in pool if getattr(c, attribute) == getattr(_row_one(p), attribute)]
    rest = rng.choice(len(pool), size=p.batch_size - 1, replace=len(pool) < p.batch_size - 1)
    compositions = [_row_one(p), *(pool[i] for i in rest)]
    images = np.stack([shapes.render_image(c, rng) for c in compositions])
    words = {
        k: getattr(p, f"caption_{k}") if getattr(p, f"caption_{k}") != "same" else v
        for k, v in vars(compositions[0]).items()
    }
    first = f"a {words['size']} {words['colour']} {words['shape']} at the {words['position']}"
    captions = [first, *(shapes.training_caption(c, rng) for c in compositions[1:])]
    return compositions, images, captions


def _row_one(p: Params):
    from core.multimodal import shapes

    return shapes.Composition(p.image_shape, p.image_colour, p.image_position, p.image_size)


def translate(text: str, lang: str) -> str:
    """A caption of the grammar in Chinese word by word (the model reads the English)."""
    if lang != "zh":
        return text
    for phrase in sorted(WORDS_ZH, key=len, reverse=True):
        text = text.replace(phrase, WORDS_ZH[phrase])
    return text


def _png(images: np.ndarray) -> str:
    """A vertical strip of (N, 24, 24, 3) images as a PNG data URI."""
    from PIL import Image

    strip = (np.concatenate(list(images), axis=0) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _batch_figure(p, images, captions, logits, row_p, col_p, lang) -> go.Figure:
    n = len(captions)
    values = {"logits": logits, "rows": row_p, "columns": col_p}[p.view]
    names = {
        "logits": Text("s·cos", "s·cos"),
        "rows": Text("p(text | image)", "p(文本 | 图像)"),
        "columns": Text("p(image | text)", "p(图像 | 文本)"),
    }
    labels = [f"{j + 1}. {translate(c, lang)}" for j, c in enumerate(captions)]
    data = [
        dict(
            type="heatmap",
            z=values,
            x=list(range(n)),
            y=list(range(n)),
            colorscale="Viridis",
            colorbar={"title": {"text": names[p.view](lang)}, "thickness": 12},
            text=[[f"{v:.2f}" for v in row] for row in values] if n <= 10 else None,
            texttemplate="%{text}" if n <= 10 else None,
            customdata=[[labels[j] for j in range(n)] for _ in range(n)],
            hovertemplate=Text(
                "image %{y}<br>%{customdata}<br>%{z:.3f}<extra></extra>",
                "图像 %{y}<br>%{customdata}<br>%{z:.3f}<extra></extra>",
            )(lang),
        )
    ]
    twins = [(i, j) for i in range(n) for j in range(n) if i != j and captions[i] == captions[j]]
    if twins:
        data.append(
            dict(
                type="scatter",
                x=[j for _, j in twins],
                y=[i for i, _ in twins],
                mode="markers",
                marker={
                    "symbol": "square-open",
                    "size": 14,
                    "color": "#D55E00",
                    "line": {"width": 3},
                },
                name=Text("negative with the same caption", "文字完全相同的“负样本”")(lang),
            )
        )
    data.append(
        dict(
            type="scatter",
            x=list(range(n)),
            y=list(range(n)),
            mode="markers",
            marker={"symbol": "circle-open", "size": 10, "color": "#FFFFFF", "line": {"width": 2}},
            name=Text("positive pair (diagonal)", "正样本对（对角线）")(lang),
        )
    )
    cell = max(16, min(40, 520 // n))
    strip = {
        "source": _png(images),
        "xref": "paper",
        "yref": "y",
        "x": -0.01,
        "y": -0.5,
        "sizex": 1,
        "sizey": n,
        "xanchor": "right",
        "yanchor": "top",
        "sizing": "contain",
        "layer": "above",
    }
    layout = dict(
        title=Text(
            f"The batch: {n} images × {n} captions ({len(twins) // 2} pairs of identical captions)",
            f"一个批次：{n} 张图像 × {n} 条文字（{len(twins) // 2} 对文字完全相同）",
        )(lang),
        height=cell * n + 330,
        margin={"l": cell + 70, "b": 230, "t": 70},
        xaxis={
            "tickvals": list(range(n)),
            "ticktext": labels,
            "tickangle": -50,
            "title": {"text": Text("captions (texts)", "文字")(lang)},
            "showgrid": False,
        },
        yaxis={
            "tickvals": list(range(n)),
            "ticktext": [str(i + 1) for i in range(n)],
            "autorange": "reversed",
            "title": {"text": Text("images", "图像")(lang), "standoff": cell + 4},
            "scaleanchor": "x",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.3},
        images=[strip],
    )
    return _figure(data, layout)


def _loss_figure(p, row_ce, col_ce, loss, s, sweep, lang) -> go.Figure:
    n = len(row_ce)
    index = list(range(1, n + 1))
    data = []
    data.append(
        dict(
            type="bar",
            x=index,
            y=row_ce,
            name=Text("row CE (image → text)", "行交叉熵（图像 → 文本）")(lang),
        )
    )
    data.append(
        dict(
            type="bar",
            x=index,
            y=col_ce,
            name=Text("column CE (text → image)", "列交叉熵（文本 → 图像）")(lang),
        )
    )
    data.append(
        dict(
            type="scatter",
            x=[0.5, n + 0.5],
            y=[loss, loss],
            mode="lines",
            line={"dash": "dash", "color": COLORWAY[2]},
            name=Text(f"loss = ½(mean + mean) = {loss:.3f}", f"损失 = ½(均值 + 均值) = {loss:.3f}")(
                lang
            ),
        )
    )
    scales, losses = sweep
    data.append(
        dict(
            type="scatter",
            x=scales,
            y=losses,
            xaxis="x2",
            yaxis="y2",
            mode="lines",
            line={"color": COLORWAY[3]},
            name=Text("this batch's loss against s", "本批损失随 s 的变化")(lang),
        )
    )
    data.append(
        dict(
            type="scatter",
            x=[1, 100],
            y=[math.log(n)] * 2,
            xaxis="x2",
            yaxis="y2",
            mode="lines",
            line={"dash": "dot", "color": COLORWAY[6]},
            name=Text(
                f"log N = {math.log(n):.2f} (s → 0: uniform)",
                f"log N = {math.log(n):.2f}（s → 0：均匀）",
            )(lang),
        )
    )
    data.append(
        dict(
            type="scatter",
            x=[s],
            y=[loss],
            xaxis="x2",
            yaxis="y2",
            mode="markers",
            marker={"size": 11, "color": COLORWAY[2], "symbol": "diamond"},
            name=Text(f"current s = {s:.1f}", f"当前 s = {s:.1f}")(lang),
        )
    )
    layout = dict(
        title=Text(
            "The loss: per row, per column, and against the temperature",
            "损失：逐行、逐列，以及随温度的变化",
        )(lang),
        barmode="group",
        height=430,
        xaxis={
            "domain": [0, 0.44],
            "title": {"text": Text("pair i", "第 i 对")(lang)},
            "dtick": 1 if n <= 16 else 4,
        },
        yaxis={
            "title": {"text": Text("cross-entropy (nats)", "交叉熵（nats）")(lang)},
            "rangemode": "tozero",
        },
        xaxis2={
            "domain": [0.56, 1],
            "type": "log",
            "anchor": "y2",
            "title": {
                "text": Text("s = e^logit_scale (log axis)", "s = e^logit_scale（对数轴）")(lang)
            },
        },
        yaxis2={
            "anchor": "x2",
            "title": {"text": Text("loss (nats)", "损失（nats）")(lang)},
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.22, "yanchor": "top"},
        margin={"b": 130},
    )
    return _figure(data, layout)


ATTRIBUTES = {"shape": SHAPES, "colour": COLOURS, "position": POSITIONS, "size": SIZES}


def _space_figure(p, lang) -> go.Figure:
    from core.multimodal import shapes

    data = world(p.model)
    n = len(shapes.COMPOSITIONS)
    points = data["pca"]
    data = []
    # image i → caption i, then a NaN that breaks the line: one trace for all 250 pairs
    gaps = np.full(n, np.nan)
    lines_x = np.stack([points[:n, 0], points[n:, 0], gaps], 1).ravel()
    lines_y = np.stack([points[:n, 1], points[n:, 1], gaps], 1).ravel()
    data.append(
        dict(
            type="scatter",
            x=packed(lines_x),
            y=packed(lines_y),
            mode="lines",
            line={"width": 0.6, "color": "rgba(128,128,128,0.45)"},
            name=Text("pair (image—caption)", "配对（图像—文字）")(lang),
            hoverinfo="skip",
        )
    )
    values = ATTRIBUTES[p.colour_by]
    swatch = dict(
        zip(COLOURS, ("#D55E00", "#009E73", "#0072B2", "#E69F00", "#CC79A7"), strict=True)
    )
    for k, value in enumerate(values):
        members = [i for i, c in enumerate(shapes.COMPOSITIONS) if getattr(c, p.colour_by) == value]
        colour = swatch[value] if p.colour_by == "colour" else COLORWAY[k]
        held = [shapes.COMPOSITIONS[i].held_out for i in members]
        for offset, symbol, kind in (
            (0, "circle", Text("image", "图像")),
            (n, "diamond", Text("caption", "文字")),
        ):
            data.append(
                dict(
                    type="scatter",
                    x=packed(points[[offset + i for i in members], 0]),
                    y=packed(points[[offset + i for i in members], 1]),
                    mode="markers",
                    marker={
                        "symbol": symbol,
                        "size": packed(np.where(held, 11, 7)),
                        "color": colour,
                        "line": {"width": packed(np.where(held, 2.5, 0.0)), "color": "#8C8C8C"},
                    },
                    name=f"{WORDS_ZH[value] if lang == 'zh' else value} · {kind(lang)}",
                    legendgroup=value,
                    text=[translate(shapes.COMPOSITIONS[i].caption(), lang) for i in members],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
    layout = dict(
        title=Text(
            "The joint space: PCA of 250 image (●) and 250 caption (◆) embeddings; grey rings: held-out compositions",
            "联合嵌入空间：250 个图像（●）与 250 条文字（◆）嵌入的 PCA；灰色描边：训练中未出现的组合",
        )(lang),
        height=520,
        xaxis={"title": {"text": "PC 1"}},
        yaxis={"title": {"text": "PC 2"}},
    )
    return _figure(data, layout)


def _class_labels(task: str) -> list[str]:
    if task == "colour+shape":
        return [f"{c} {s}" for c in COLOURS for s in SHAPES]
    if task == "position":
        return [f"at the {w}" for w in POSITIONS]
    return list(ATTRIBUTES[task])


def _truth(task: str, composition) -> int:
    if task == "colour+shape":
        return COLOURS.index(composition.colour) * len(SHAPES) + SHAPES.index(composition.shape)
    return ATTRIBUTES[task].index(getattr(composition, task))


@lru_cache(maxsize=64)
def zero_shot(model_name: str, task: str, templates: tuple[str, ...]) -> dict:
    """Predictions on all 250 compositions with each template alone and with their ensemble."""
    torch = _tensors()
    from core.multimodal import shapes
    from core.multimodal.contrastive import zero_shot_logits

    model, _ = load_model(model_name)
    labels = _class_labels(task)
    prompts = [[t.format(label) for t in templates] for label in labels]
    ids = torch.from_numpy(np.stack([shapes.tokens(text) for row in prompts for text in row]))
    with torch.no_grad():
        class_embs = model.encode_text(ids).reshape(len(labels), len(templates), -1)
    x = torch.from_numpy(world(model_name)["x"])
    truth = np.array([_truth(task, c) for c in shapes.COMPOSITIONS])
    held = np.array([c.held_out for c in shapes.COMPOSITIONS])
    results = {}
    for name, embs in [(t, class_embs[:, k]) for k, t in enumerate(templates)] + [
        ("ensemble", class_embs)
    ]:
        predicted = zero_shot_logits(x, embs).argmax(1).numpy()
        correct = predicted == truth
        results[name] = {
            "predicted": predicted,
            "seen": float(correct[~held].mean()),
            "held_out": float(correct[held].mean()),
        }
    return {"results": results, "truth": truth, "held": held, "labels": labels}


def _zero_shot_figure(p, lang) -> tuple[go.Figure, dict]:
    templates = tuple(t for t in TEMPLATES if t in p.templates)
    z = zero_shot(p.model, p.task, templates)
    labels = [translate(label, lang) for label in z["labels"]]
    k = len(labels)
    ensemble = z["results"]["ensemble"]
    confusion = np.zeros((k, k))
    for t, q in zip(z["truth"][z["held"]], ensemble["predicted"][z["held"]], strict=True):
        confusion[t, q] += 1
    present = np.flatnonzero(confusion.sum(1))  # true classes among the held-out compositions
    data = [
        dict(
            type="heatmap",
            z=confusion[present],
            x=labels,
            y=[labels[i] for i in present],
            colorscale=[[0, "rgba(128,128,128,0.12)"], [1, "#0072B2"]],
            text=[[f"{v:.0f}" if v else "" for v in row] for row in confusion[present]],
            texttemplate="%{text}",
            showscale=False,
            hovertemplate=Text(
                "true %{y}<br>predicted %{x}<br>%{z:.0f}<extra></extra>",
                "真实 %{y}<br>预测 %{x}<br>%{z:.0f}<extra></extra>",
            )(lang),
        )
    ]
    names = [*templates, "ensemble"]
    shown = {
        "ensemble": Text(f"ensemble of {len(templates)}", f"{len(templates)} 个模板的集成")(lang)
    }
    for key, offset, colour in (("seen", 0, COLORWAY[0]), ("held_out", 1, COLORWAY[1])):
        data.append(
            dict(
                type="bar",
                x=[shown.get(t, t) for t in names],
                y=[z["results"][t][key] for t in names],
                xaxis="x2",
                yaxis="y2",
                offsetgroup=offset,
                marker={"color": colour},
                name={
                    "seen": Text("seen compositions (200)", "训练中见过的组合（200）"),
                    "held_out": Text("held-out compositions (50)", "未见过的组合（50）"),
                }[key](lang),
            )
        )
    chance = 1 / k
    data.append(
        dict(
            type="scatter",
            x=[shown.get(t, t) for t in names],
            y=[chance] * len(names),
            xaxis="x2",
            yaxis="y2",
            mode="lines",
            line={"dash": "dot", "color": COLORWAY[6]},
            name=Text(f"chance 1/{k}", f"随机猜测 1/{k}")(lang),
        )
    )
    layout = dict(
        title=Text(
            "Zero-shot: confusion on held-out compositions (ensemble), accuracy per prompt",
            "零样本分类：未见组合上的混淆矩阵（集成），以及各提示的准确率",
        )(lang),
        height=max(460, 300 + 9 * k),
        barmode="group",
        xaxis={
            "domain": [0, 0.45],
            "title": {"text": Text("predicted class", "预测类别")(lang)},
            "tickangle": -45,
            "showgrid": False,
        },
        yaxis={
            "title": {"text": Text("true class", "真实类别")(lang)},
            "autorange": "reversed",
            "showgrid": False,
        },
        xaxis2={
            "domain": [0.58, 1],
            "anchor": "y2",
            "tickangle": -30,
            "title": {"text": Text("prompt template", "提示模板")(lang)},
        },
        yaxis2={
            "anchor": "x2",
            "range": [0, 1.02],
            "title": {"text": Text("accuracy", "准确率")(lang)},
        },
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.58},
        margin={"t": 90},
    )
    return _figure(data, layout), z


def _log_figure(p, lang) -> go.Figure:
    _, extra = load_model(p.model)
    steps = extra["log/step"]
    data = []
    data.append(
        dict(
            type="scatter",
            x=steps,
            y=extra["log/loss"],
            name=Text("training loss", "训练损失")(lang),
        )
    )
    if p.model == "clip":
        data.append(
            dict(
                type="scatter",
                x=steps,
                y=np.exp(extra["log/logit_scale"]),
                yaxis="y2",
                name="s = e^logit_scale",
            )
        )
        data.append(
            dict(
                type="scatter",
                x=[steps[0], steps[-1]],
                y=[100, 100],
                yaxis="y2",
                mode="lines",
                line={"dash": "dash", "color": COLORWAY[6]},
                name=Text("clip at s = 100", "截断 s = 100")(lang),
            )
        )
        second = Text("s (log axis)", "s（对数轴）")
    else:
        data.append(
            dict(
                type="scatter",
                x=steps,
                y=np.exp(extra["log/log_t"]),
                yaxis="y2",
                name="t = e^log t",
            )
        )
        data.append(dict(type="scatter", x=steps, y=-extra["log/b"], yaxis="y2", name="−b"))
        second = Text("t and −b (log axis)", "t 与 −b（对数轴）")
    data.append(
        dict(
            type="scatter",
            x=steps,
            y=extra["log/accuracy"],
            yaxis="y3",
            name=Text(
                "held-out zero-shot accuracy (colour + shape, “a {}”)",
                "未见组合零样本准确率（颜色+形状，“a {}”）",
            )(lang),
        )
    )
    axis_x = {"title": {"text": Text("training step", "训练步数")(lang)}, "anchor": "y3"}
    layout = dict(
        title=Text(
            f"The committed training log ({MODELS[p.model].en})",
            f"提交的训练日志（{MODELS[p.model].zh}）",
        )(lang),
        height=560,
        xaxis=axis_x,
        yaxis={"domain": [0.7, 1], "title": {"text": Text("loss", "损失")(lang)}},
        yaxis2={"domain": [0.37, 0.63], "type": "log", "title": {"text": second(lang)}},
        yaxis3={
            "domain": [0, 0.3],
            "range": [0, 1],
            "title": {"text": Text("accuracy", "准确率")(lang)},
        },
        legend={"orientation": "h", "y": -0.15, "yanchor": "top"},
        margin={"b": 120},
    )
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    torch = _tensors()
    from core.multimodal.contrastive import clip_loss
    from core.trace import Trace

    images, captions, x, y, sweep = batch_embeddings(p)
    log_scale = learned_log_scale(p.model) if p.scale == "learned" else p.log_scale
    trace = Trace()
    loss, logits = clip_loss(x, y, log_scale, trace=trace)
    s = trace["scale"][0]
    batch = _batch_figure(
        p,
        images,
        captions,
        logits.numpy(),
        trace["row_softmax"][0].numpy(),
        trace["column_softmax"][0].numpy(),
        lang,
    )
    losses = _loss_figure(
        p,
        trace["row_ce"][0].numpy(),
        trace["column_ce"][0].numpy(),
        float(loss),
        s,
        sweep,
        lang,
    )
    space = _space_figure(p, lang)
    zero, z = _zero_shot_figure(p, lang)
    log = _log_figure(p, lang)
    del torch
    ensemble, first = (
        z["results"]["ensemble"],
        z["results"][next(t for t in TEMPLATES if t in p.templates)],
    )
    notes = Text(
        f"Loss {float(loss):.3f} nats at s = {s:.1f} (log N = {math.log(len(captions)):.3f}). "
        f"Zero-shot {p.task}, held-out compositions: one prompt {first['held_out']:.0%}, "
        f"ensemble {ensemble['held_out']:.0%} (seen: {first['seen']:.0%}, {ensemble['seen']:.0%}).",
        f"损失 {float(loss):.3f} nats，s = {s:.1f}（log N = {math.log(len(captions)):.3f}）。"
        f"零样本任务 {p.task}，未见组合：单个提示 {first['held_out']:.0%}，"
        f"集成 {ensemble['held_out']:.0%}（见过的组合：{first['seen']:.0%}、{ensemble['seen']:.0%}）。",
    )(lang)
    return Rendered([batch, losses, space, zero, log], notes)


presets = {
    "A trained batch": Params(),
    "Hard negatives: one colour": Params(draw="colour", batch_size=16, seed=3),
    "A caption that lies": Params(caption_colour="blue", caption_shape="square", view="rows"),
    "Temperature: uniform at s = 1, one-hot at s = 100": Params(
        scale="manual", log_scale=0.0, view="rows", batch_size=12
    ),
    "Held-out compositions: one prompt vs six": Params(
        task="colour+shape", templates=list(TEMPLATES), colour_by="colour"
    ),
}
preset_titles = {
    "A trained batch": Text("A trained batch", "训练好的模型上的一个批次"),
    "Hard negatives: one colour": Text("Hard negatives: one colour", "困难负样本：同一颜色"),
    "A caption that lies": Text("A caption that lies", "说谎的文字描述"),
    "Temperature: uniform at s = 1, one-hot at s = 100": Text(
        "Temperature: uniform at s = 1, one-hot at s = 100",
        "温度：s = 1 时均匀，s = 100 时接近 one-hot",
    ),
    "Held-out compositions: one prompt vs six": Text(
        "Held-out compositions: one prompt vs six", "未见过的组合：一个提示 vs 六个提示"
    ),
}

EXPLANATION = Text(
    en="""
**What CLIP learns.** Radford et al. (2021) trained an image encoder and a text encoder on
400 million image–caption pairs with one task: in a batch of N pairs, find which caption
belongs to which image. Both embeddings are L2-normalised, every image is compared with every
caption, and the N×N matrix of cosines times a learned scale s = 1/τ is read twice: each row
is a softmax over N captions (image → text), each column a softmax over N images
(text → image). The loss is the mean of the two cross-entropies with the diagonal as the
target — the symmetric InfoNCE of van den Oord, Li & Vinyals (2018), used for images and
medical reports by ConVIRT (Zhang et al. 2020). CLIP used batches of 32,768, started τ at 0.07
and clipped s at 100.

**What to look at.** In the matrix, the diagonal should be bright. Orange squares mark
*negatives that match*: two pairs with the same caption, which the loss still pushes apart —
frequent in this small world, and a real source of noise in web data. *Hard negatives*
(one colour) make rows harder: the model must use shape and position. *A caption that lies*
(row 1) moves the row's probability to the caption that fits the image. With s → 0 every row
is uniform and the loss is log N; large s makes the softmax nearly one-hot.

**Zero-shot.** A class is a prompt such as "a photo of a {label}" embedded by the text encoder;
an image gets the class of the nearest prompt. CLIP averaged 80 prompts per class in
embedding space (an ensemble). Here five colour–shape pairs never appeared in training; the
confusion matrix shows how well the model composes "blue triangle" from "blue" and
"triangle" seen apart.

**The toy.** The encoders have about 86,000 parameters (two 3×3 convolutions; a mean of word
embeddings), the world has 250 compositions of 24×24 pixels, and training takes about a
minute of one CPU thread (`python -m core.multimodal.train_toy_clip`). The mechanism carries
over to CLIP; the numbers do not.
""",
    zh="""
**CLIP 学什么。** Radford 等人（2021）用 4 亿对图像–文字训练一个图像编码器和一个文本编码器，任务只有一个：
在 N 对组成的批次中，找出哪条文字属于哪张图像。两种嵌入都做 L2 归一化，每张图像与每条文字比较，
得到 N×N 的余弦矩阵，再乘上可学习的缩放 s = 1/τ。这个矩阵被读两遍：每一行是对 N 条文字的 softmax
（图像 → 文本），每一列是对 N 张图像的 softmax（文本 → 图像）。损失是两个交叉熵的平均，目标是对角线——
即 van den Oord、Li 与 Vinyals（2018）的对称 InfoNCE，ConVIRT（Zhang 等，2020）曾用它对齐医学图像与报告。
CLIP 的批大小为 32,768，τ 从 0.07 开始学习，s 截断在 100。

**观察要点。** 矩阵的对角线应当最亮。橙色方框标出*文字相同的负样本*：两对样本的文字一模一样，损失却仍然把它们推开——
在这个小世界里很常见，在网络数据里也是真实的噪声来源。*困难负样本*（同一颜色）让每一行更难：模型必须依靠形状与位置。
*说谎的文字*（第 1 行）会让该行的概率转向真正符合图像的那条文字。s → 0 时每一行都是均匀分布，损失等于 log N；
s 越大，softmax 越接近 one-hot。

**零样本分类。** 一个类别就是一条提示，例如 "a photo of a {label}"，由文本编码器嵌入；图像被归到最近的提示所代表的类别。
CLIP 对每个类别在嵌入空间里平均 80 条提示（集成）。这里有五个颜色–形状组合在训练中从未出现；混淆矩阵显示模型能否
把分别见过的“blue”和“triangle”组合成“blue triangle”。

**这是一个玩具模型。** 两个编码器共约 86,000 个参数（两层 3×3 卷积；词向量取平均），世界只有 250 种 24×24 像素的组合，
训练只需单个 CPU 线程约一分钟（`python -m core.multimodal.train_toy_clip`）。机制与 CLIP 相同，数字不能类比。
""",
)

DEMO = Demo(
    slug="clip",
    section="multimodal",
    figures=5,
    title=Text("CLIP: contrastive image–text pretraining", "CLIP：图文对比预训练"),
    summary=Text(
        "The N×N similarity matrix, the symmetric InfoNCE loss, its temperature, and zero-shot prompts.",
        "N×N 相似度矩阵、对称 InfoNCE 损失、温度，以及零样本提示。",
    ),
    sources=(
        Source(
            "Learning Transferable Visual Models From Natural Language Supervision",
            "A. Radford, J. W. Kim, C. Hallacy, et al.",
            2021,
            "https://arxiv.org/abs/2103.00020",
        ),
        Source(
            "Representation Learning with Contrastive Predictive Coding",
            "A. van den Oord, Y. Li, O. Vinyals",
            2018,
            "https://arxiv.org/abs/1807.03748",
        ),
        Source(
            "Contrastive Learning of Medical Visual Representations from Paired Images and Text",
            "Y. Zhang, H. Jiang, Y. Miura, C. D. Manning, C. P. Langlotz",
            2020,
            "https://arxiv.org/abs/2010.00747",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
