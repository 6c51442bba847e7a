"""BLIP: one text transformer, three objectives — which tokens may each one see, and what does it learn from?

The masks of ITC, ITM and LM (and of BLIP-2's Q-Former), ITC's similarity matrix with one-hot
and momentum-distilled targets, hard negatives drawn by similarity against their histogram,
teacher forcing with label smoothing, and CapFilt on a generated world of captioned items.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.clip import _figure, _tensors, packed
from demos.theme import COLORWAY

SCORE_BINS = 40
ALLOWED, BLOCKED = COLORWAY[0], "rgba(140,140,140,0.18)"
CLEAN, NOISY, NEUTRAL = COLORWAY[2], COLORWAY[1], "rgba(140,140,140,0.45)"
HARD, UNIFORM = COLORWAY[3], COLORWAY[6]
WORDS_ZH = {
    "red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色",
    "circle": "圆", "square": "方块", "triangle": "三角", "star": "星", "ring": "圆环",
    "left": "左", "right": "右", "top": "上", "bottom": "下", "centre": "中",
}  # fmt: skip
GRAMMAR = ("photo", "of", "a", "at", "the", "next", "to")
SPECIAL = ("[PAD]", "[SEP]")


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    family: Literal["blip", "blip2"] = param(
        "blip",
        en="Mask family",
        zh="掩码家族",
        choices={
            "blip": Text("BLIP: three encoders/decoder", "BLIP：三个编码器/解码器"),
            "blip2": Text("BLIP-2: Q-Former", "BLIP-2：Q-Former"),
        },
    )
    text_tokens: int = param(
        8,
        en="Text length (tokens)",
        zh="文本长度（token）",
        help_en="[CLS]/[ENC]/[DEC] and the first words of the caption.",
        help_zh="[CLS]/[ENC]/[DEC] 加上描述的前几个词。",
        ge=2,
        le=16,
    )
    image_tokens: int = param(6, en="Image patches", zh="图像块数", ge=1, le=16)
    queries: int = param(
        4,
        en="Q-Former queries",
        zh="Q-Former 查询数",
        help_en="Learned queries of BLIP-2 (32 in the paper).",
        help_zh="BLIP-2 中可学习的查询（论文中为 32 个）。",
        ge=1,
        le=16,
    )
    batch: int = param(8, en="Batch size N", zh="批大小 N", ge=2, le=32)
    temperature: float = param(
        0.1,
        en="Temperature τ",
        zh="温度 τ",
        help_en="Logits are cosine / τ (BLIP starts at 0.07).",
        help_zh="logits = 余弦相似度 / τ（BLIP 初始为 0.07）。",
        ge=0.02,
        le=1.0,
        step=0.01,
    )
    alpha: float = param(
        0.4,
        en="Distillation weight α",
        zh="蒸馏权重 α",
        help_en="Targets (1 − α)·one-hot + α·momentum softmax (0.4 in ALBEF and BLIP).",
        help_zh="目标为 (1 − α)·one-hot + α·动量模型 softmax（ALBEF 与 BLIP 取 0.4）。",
        ge=0.0,
        le=1.0,
        step=0.05,
    )
    sampler: Literal["hard", "uniform"] = param(
        "hard",
        en="Negative sampler (histogram)",
        zh="负样本采样器（直方图）",
        choices={
            "hard": Text("hard: ∝ exp(similarity)", "困难：∝ exp(相似度)"),
            "uniform": Text("uniform", "均匀"),
        },
    )
    row: int = param(
        0,
        en="Image row",
        zh="图像行",
        help_en="Which image's negatives the histogram shows (the last if past the batch).",
        help_zh="直方图展示哪张图像的负样本（超出批大小时取最后一张）。",
        ge=0,
        le=31,
    )
    draws: int = param(5000, en="Draws", zh="采样次数", ge=100, le=20000, step=100)
    epsilon: float = param(
        0.1,
        en="Label smoothing ε",
        zh="标签平滑 ε",
        help_en="BLIP's LM uses 0.1.",
        help_zh="BLIP 的 LM 使用 0.1。",
        ge=0.0,
        le=0.5,
        step=0.01,
    )
    web_pairs: int = param(10000, en="Web pairs", zh="网络图文对数", ge=100, le=100000, step=100)
    rho: float = param(
        0.3,
        en="Web noise rate ρ",
        zh="网络噪声率 ρ",
        help_en="Share of web captions that describe another image.",
        help_zh="描述的是另一张图像的网络文本所占比例。",
        ge=0.0,
        le=0.95,
        step=0.05,
    )
    q: float = param(
        0.8,
        en="Captioner accuracy q",
        zh="描述生成器准确率 q",
        help_en="Else it writes a neighbour's caption (one word wrong).",
        help_zh="否则写出邻近物体的描述（错一个词）。",
        ge=0.0,
        le=1.0,
        step=0.05,
    )
    threshold: float = param(
        0.5,
        en="Filter threshold",
        zh="过滤阈值",
        help_en="Keep a pair whose ITM match probability reaches this (BLIP: 0.5).",
        help_zh="ITM 匹配概率达到该值的图文对被保留（BLIP：0.5）。",
        ge=0.01,
        le=0.99,
        step=0.01,
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


# --- words ---------------------------------------------------------------------------------------


def _short(item, lang: str) -> str:
    """'red circle, left' / '红色圆·左' for an item (colour, shape, position)."""
    from core.multimodal.blip import COLOURS, POSITIONS, SHAPES

    colour, shape, position = (int(v) for v in item)
    words = (COLOURS[colour], SHAPES[shape], POSITIONS[position])
    if lang == "zh":
        return f"{WORDS_ZH[words[0]]}{WORDS_ZH[words[1]]}·{WORDS_ZH[words[2]]}"
    return f"{words[0]} {words[1]}, {words[2]}"


def _sentence(items: np.ndarray, row: int) -> list[str]:
    """The 15 words the mask and LM figures use: two items of the batch in one caption."""
    from core.multimodal.blip import caption

    first = caption(items[row]).split()
    second = caption(items[(row + 1) % len(items)]).split()
    return ["photo", "of", *first, "next", "to", *second]


# --- cached computations -------------------------------------------------------------------------


@lru_cache(maxsize=32)
def world(batch: int, seed: int) -> dict[str, np.ndarray]:
    """The batch of the generated world: items and the cosines of images to captions (now and
    by the momentum encoder), as float64 arrays."""
    torch = _tensors()
    from core.multimodal.blip import world_batch

    b = world_batch(batch, torch.Generator().manual_seed(seed))
    return {
        "items": b["items"].numpy(),
        "cosine": (b["image"] @ b["text"].T).double().numpy(),
        "momentum": (b["momentum_image"] @ b["momentum_text"].T).double().numpy(),
    }


@lru_cache(maxsize=32)
def negatives(batch: int, seed: int, temperature: float, sampler: str, draws: int) -> dict:
    """`draws` negatives per image and per text from the chosen sampler (0: none, the weights
    only), the exact weights, and the share of negatives sharing a word with the positive."""
    torch = _tensors()
    from core.multimodal.blip import sample_hard_negatives, shares_word
    from core.trace import Trace

    w = world(batch, seed)
    similarity = torch.from_numpy(w["cosine"] / temperature)
    if sampler == "uniform":
        similarity = torch.zeros_like(similarity)  # exp(0) for every other caption
    trace = Trace()
    generator = torch.Generator().manual_seed(seed + 1)
    neg_text, neg_image = sample_hard_negatives(
        similarity, generator, draws=draws or None, trace=trace
    )
    (weights,) = trace["sampling_weights"]
    items = torch.from_numpy(w["items"])
    shared = shares_word(items[:, None, :], items[None, :, :]).double()
    shared.fill_diagonal_(0)
    n = batch
    text_counts = np.zeros((n, n))
    image_counts = np.zeros((n, n))
    for i in range(n if draws else 0):
        text_counts[i] = np.bincount(neg_text[i].numpy(), minlength=n)
        image_counts[i] = np.bincount(neg_image[i].numpy(), minlength=n)
    return {
        "text_weights": weights["text"].numpy(),
        "image_weights": weights["image"].numpy(),
        "text_counts": text_counts,
        "image_counts": image_counts,
        # share of image→text negatives sharing a word: expected and drawn
        "share_expected": float((weights["text"] * shared).sum(1).mean()),
        "share_drawn": float((text_counts * shared.numpy()).sum() / (n * max(draws, 1))),
        "share_batch": float(shared.sum() / (n * (n - 1))),
    }


def _p(value: float) -> str:
    """A p-value for a title; NaN (one other caption: nothing to test) as a dash."""
    return "–" if np.isnan(value) else f"{value:.3g}"


def _pooled_chisquare(counts: np.ndarray, probabilities: np.ndarray) -> float:
    """SciPy's chi-square p-value, categories with expected count < 5 pooled into one
    (the test's usual rule); NaN when fewer than two categories remain."""
    from scipy.stats import chisquare

    total = counts.sum()
    expected = probabilities * total
    small = expected < 5
    observed = list(counts[~small])
    wanted = list(expected[~small])
    if small.any():
        observed.append(counts[small].sum())
        wanted.append(expected[small].sum())
    if len(observed) < 2:
        return float("nan")
    wanted = np.array(wanted) * total / np.sum(wanted)  # equal sums, as chisquare checks
    return float(chisquare(observed, wanted).pvalue)


def chi_square(p: Params) -> tuple[float, float]:
    """p-values of the drawn image→text and text→image negatives of `row` against their softmax."""
    return _chi_square(p.batch, p.seed, p.temperature, p.sampler, p.draws, min(p.row, p.batch - 1))


@lru_cache(maxsize=64)
def _chi_square(
    batch: int, seed: int, temperature: float, sampler: str, draws: int, row: int
) -> tuple[float, float]:
    n = negatives(batch, seed, temperature, sampler, draws)
    others = np.arange(batch) != row
    text = _pooled_chisquare(n["text_counts"][row, others], n["text_weights"][row, others])
    image = _pooled_chisquare(n["image_counts"][row, others], n["image_weights"][row, others])
    return text, image


@lru_cache(maxsize=32)
def losses(batch: int, seed: int, temperature: float, alpha: float) -> dict:
    """ITC with one-hot and with momentum targets; ITM over B positives + 2B negatives drawn
    by similarity and uniformly (one draw each, the contract's default path)."""
    torch = _tensors()
    from core.multimodal.blip import (
        SCORE_CENTRE,
        SCORE_SLOPE,
        itc_loss,
        itm_loss,
        sample_hard_negatives,
    )
    from core.trace import Trace

    w = world(batch, seed)
    cosine = torch.from_numpy(w["cosine"])
    logits = cosine / temperature
    momentum = torch.from_numpy(w["momentum"]) / temperature
    trace = Trace()
    soft = itc_loss(logits, momentum, alpha, trace=trace)
    (targets,) = trace["soft_targets"]
    result = {
        "itc_one_hot": max(float(itc_loss(logits)), 0.0),  # ≥ 0; no "-0.000" from rounding
        "itc_soft": max(float(soft), 0.0),
        "row_targets": targets["rows"].numpy(),
    }
    rows = torch.arange(batch)
    for name, similarity in (("hard", logits), ("uniform", torch.zeros_like(logits))):
        generator = torch.Generator().manual_seed(seed + 2)
        neg_text, neg_image = sample_hard_negatives(similarity, generator)
        pairs = torch.cat([cosine[rows, rows], cosine[rows, neg_text], cosine[neg_image, rows]])
        match = SCORE_SLOPE * (pairs - SCORE_CENTRE)  # 2-way logits (0, match): P = σ(match)
        result[f"itm_{name}"] = float(itm_loss(torch.stack([torch.zeros_like(match), match], 1)))
    return result


def decoder_logits(words: tuple[str, ...], seed: int) -> tuple[np.ndarray, list[str]]:
    """A generated stand-in for the decoder's logits at each position (not a trained model):
    the right next token gets a margin, 5 for grammar words and [SEP], 2.5 for the words the
    image must tell (colour, shape, position), plus standard normal noise. -> (L, V), vocabulary."""
    from core.multimodal.blip import WORDS

    vocabulary = [*SPECIAL, *GRAMMAR, *WORDS]
    targets = [*words[1:], "[SEP]"]
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((len(targets), len(vocabulary)))
    for t, target in enumerate(targets):
        logits[t, vocabulary.index(target)] += 2.5 if target in WORDS else 5.0
    return logits, vocabulary


@lru_cache(maxsize=64)
def lm_losses(words: tuple[str, ...], seed: int, epsilon: float) -> dict:
    """Per-token and mean LM loss with label smoothing ε and without, by core.lm_loss."""
    torch = _tensors()
    from core.multimodal.blip import lm_loss

    logits_np, vocabulary = decoder_logits(words, seed)
    logits = torch.from_numpy(logits_np)
    targets = torch.tensor([vocabulary.index(w) for w in [*words[1:], "[SEP]"]])
    result = {}
    for name, eps in (("plain", 0.0), ("smoothed", epsilon)):
        per_token = [
            float(lm_loss(logits[t : t + 1], targets[t : t + 1], 0, eps))
            for t in range(len(targets))
        ]
        result[name] = np.array(per_token)
        result[f"{name}_mean"] = float(lm_loss(logits, targets, 0, eps))
    # The least loss with smoothing: the entropy of the smoothed target (1 − ε)·one-hot + ε/V
    # (PyTorch spreads ε over all V classes, the ignored [PAD] included).
    n_vocab = len(vocabulary)
    on, off = 1 - epsilon + epsilon / n_vocab, epsilon / n_vocab
    result["floor"] = float(
        -(on * np.log(on) + (n_vocab - 1) * off * np.log(off)) if epsilon > 0 else 0.0
    )
    result["vocabulary"] = vocabulary
    return result


@lru_cache(maxsize=16)
def capfilt_run(web_pairs: int, rho: float, q: float, threshold: float, seed: int) -> dict:
    """Counts on every edge of CapFilt and the filter scores' histograms (clean / noisy)."""
    torch = _tensors()
    from core.multimodal.blip import capfilt
    from core.trace import Trace

    trace = Trace()
    counts = capfilt(web_pairs, rho, q, threshold, torch.Generator().manual_seed(seed), trace=trace)
    (scores,) = trace["filter_scores"]
    edges = np.linspace(0, 1, SCORE_BINS + 1)
    histograms = {}
    for source in ("web", "synthetic"):
        score, clean = scores[source].numpy(), scores[f"{source}_clean"].numpy()
        histograms[f"{source}/clean"] = np.histogram(score[clean], edges)[0]
        histograms[f"{source}/noisy"] = np.histogram(score[~clean], edges)[0]
    return {"counts": counts, "histograms": histograms, "edges": edges}


# --- figures -------------------------------------------------------------------------------------


def _blocks(matrices: list[np.ndarray], gap: int = 1) -> tuple[np.ndarray, list[int]]:
    """Matrices of equal height side by side, `gap` NaN columns apart: one heatmap, one pair
    of axes (each extra pair of Plotly axes costs milliseconds). -> (grid, first column of each)."""
    rows = matrices[0].shape[0]
    parts, starts, column = [], [], 0
    for index, matrix in enumerate(matrices):
        if index:
            parts.append(np.full((rows, gap), np.nan))
            column += gap
        starts.append(column)
        parts.append(matrix.astype(float))
        column += matrix.shape[1]
    return np.concatenate(parts, axis=1), starts


def _mask_trace(grid: np.ndarray, hover: np.ndarray, axis: str = "") -> dict:
    return {
        "type": "heatmap",
        "z": grid,
        "text": hover,
        "zmin": 0,
        "zmax": 1,
        "colorscale": [[0, BLOCKED], [0.5, BLOCKED], [0.5, ALLOWED], [1, ALLOWED]],
        "showscale": False,
        "xgap": 1,
        "ygap": 1,
        "xaxis": f"x{axis}",
        "yaxis": f"y{axis}",
        "hovertemplate": "%{text}<extra></extra>",
    }


def _hover(grid: np.ndarray, rows: list[str], columns: list[str], lang: str) -> np.ndarray:
    """'query → key: may attend / masked' for every cell of a grid (blank in the gaps)."""
    yes, no = Text("may attend", "可以关注")(lang), Text("masked", "被屏蔽")(lang)
    text = np.full(grid.shape, "", dtype=object)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            if column and not np.isnan(grid[i, j]):
                text[i, j] = f"{row} → {column}: {yes if grid[i, j] else no}"
    return text.astype(str)  # a str array: Plotly deep-copies it in one piece, not cell by cell


def _ticks(labels: list[str], size: int = 9) -> dict:
    return {
        "tickvals": [i for i, label in enumerate(labels) if label],
        "ticktext": [label for label in labels if label],
        "tickfont": {"size": size},
        "showgrid": False,
        "zeroline": False,
        "ticks": "",
    }


def _legend_squares(lang: str) -> list[dict]:
    return [
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "mode": "markers",
            "marker": {"symbol": "square", "size": 12, "color": colour},
            "name": name(lang),
        }
        for colour, name in (
            (ALLOWED, Text("may attend", "可以关注")),
            (BLOCKED, Text("masked", "被屏蔽")),
        )
    ]


def _thin(labels: list[str], p: Params) -> list[str]:
    """Tick labels that fit: of many queries only the first and the last, of many patches
    every other one (the hover names every cell)."""
    last_query, last_patch = f"Q{p.queries}", f"p{p.image_tokens}"
    kept = []
    for label in labels:
        number = label[1:]
        if (
            p.queries > 4
            and label[:1] == "Q"
            and number.isdigit()
            and label not in ("Q1", last_query)
        ):
            label = ""
        elif p.image_tokens > 8 and label[:1] == "p" and number.isdigit() and int(number) % 2 == 0:
            label = "" if label != last_patch else label
        kept.append(label)
    return kept


def _masks_figure(p: Params, words: list[str], lang: str) -> go.Figure:
    from core.multimodal.blip import attention_masks, qformer_masks

    patches = [f"p{i + 1}" for i in range(p.image_tokens)]
    caption_words = words[: p.text_tokens - 1]
    if p.family == "blip":
        panels = [
            ("itc", "[CLS]", Text("ITC<br>text encoder", "ITC<br>文本编码器")),
            ("itm", "[ENC]", Text("ITM<br>image-grounded encoder", "ITM<br>图像引导的编码器")),
            ("lm", "[DEC]", Text("LM<br>image-grounded decoder", "LM<br>图像引导的解码器")),
        ]
        queries = []
    else:
        panels = [
            ("itc", "[CLS]", Text("ITC<br>uni-modal mask", "ITC<br>单模态掩码")),
            ("itm", "[CLS]", Text("ITM<br>bi-directional mask", "ITM<br>双向掩码")),
            ("itg", "[DEC]", Text("ITG<br>multimodal causal mask", "ITG<br>多模态因果掩码")),
        ]
        queries = [f"Q{i + 1}" for i in range(p.queries)]
    self_masks, cross_masks, labels = [], [], []
    for mode, special, _ in panels:
        text = [special, *caption_words]
        if p.family == "blip":
            self_mask, cross_mask = attention_masks(len(text), len(patches), mode)
        else:
            self_mask, cross_mask = qformer_masks(p.queries, len(text), len(patches), mode)
        self_masks.append(self_mask.numpy())
        cross_masks.append(cross_mask.numpy())
        labels.append([*queries, *text])
    # rows: the three panels' tokens differ only in the special token, named once as "[CLS]/[ENC]/[DEC]"
    specials = "/".join(dict.fromkeys(special for _, special, _ in panels))
    rows = [*queries, specials, *caption_words]
    self_grid, self_starts = _blocks(self_masks, gap=2)
    cross_grid, cross_starts = _blocks(cross_masks, gap=2)
    self_columns = [""] * self_grid.shape[1]
    cross_columns = [""] * cross_grid.shape[1]
    for start, names in zip(self_starts, labels, strict=True):
        self_columns[start : start + len(names)] = names
    for start in cross_starts:
        cross_columns[start : start + len(patches)] = patches
    data = [
        _mask_trace(self_grid, _hover(self_grid, rows, self_columns, lang)),
        _mask_trace(cross_grid, _hover(cross_grid, rows, cross_columns, lang), "2"),
    ]
    annotations = [
        {
            "text": title(lang), "x": start - 0.5, "y": 1.0, "xref": "x",
            "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False,
            "font": {"size": 11}, "align": "left",
        }
        for start, (_, _, title) in zip(self_starts, panels, strict=True)
    ] + [
        {
            "text": f"<b>{mode.upper()}</b>", "x": start - 0.5, "y": 0.32, "xref": "x2",
            "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False,
            "font": {"size": 11},
        }
        for start, (mode, _, _) in zip(cross_starts, panels, strict=True)
    ]  # fmt: skip
    layout = {
        "xaxis": {**_ticks(_thin(self_columns, p)), "anchor": "y", "side": "top", "tickangle": -60,
                  "domain": [0, 1]},
        "yaxis": {**_ticks(_thin(rows, p)), "domain": [0.42, 0.9], "autorange": "reversed",
                  "title": {"text": Text("self-attention", "自注意力")(lang), "font": {"size": 11}}},
        "xaxis2": {**_ticks(_thin(cross_columns, p)), "anchor": "y2", "tickangle": -60, "domain": [0, 1],
                   "title": {"text": Text("image patches (keys), per objective",
                                          "图像块（键），每个目标一组")(lang), "font": {"size": 12}}},
        "yaxis2": {**_ticks(_thin(rows, p)), "domain": [0.0, 0.32], "anchor": "x2",
                   "autorange": "reversed",
                   "title": {"text": Text("cross-attention", "交叉注意力")(lang), "font": {"size": 11}}},
    }  # fmt: skip
    if p.family == "blip":
        title = Text(
            "Three objectives, one text transformer: the masks decide what each sees<br>"
            "<sup>self-attention: bidirectional / bidirectional / causal<br>"
            "cross-attention to the image: none / all / all</sup>",
            "三个目标共用一个文本 transformer：掩码决定各自能看到什么<br>"
            "<sup>自注意力：双向 / 双向 / 因果<br>对图像的交叉注意力：无 / 全部 / 全部</sup>",
        )
    else:
        title = Text(
            "BLIP-2's Q-Former: learned queries and text in one self-attention<br>"
            "<sup>three masks over queries Q and text; only the queries cross-attend the frozen<br>"
            "image encoder's patches: text reaches the image through them</sup>",
            "BLIP-2 的 Q-Former：可学习查询与文本共用一个自注意力<br>"
            "<sup>查询 Q 与文本上的三种掩码；只有查询对冻结图像编码器的图块做交叉注意力，<br>"
            "文本经由查询获取图像信息</sup>",
        )
    layout.update(
        title={"text": title(lang)},
        height=max(700, 420 + 18 * len(rows)),
        annotations=annotations,
        legend={"orientation": "h", "y": -0.14, "yanchor": "top"},
        margin={"t": 170, "l": 90, "r": 20, "b": 60},
    )
    return _figure(data + _legend_squares(lang), layout)


def _itc_figure(p: Params, w: dict, lang: str) -> go.Figure:
    n = p.batch
    lv = losses(p.batch, p.seed, p.temperature, p.alpha)
    names = [_short(item, lang) for item in w["items"]]
    labels = names if n <= 12 else [str(i) if i % 4 == 0 else "" for i in range(n)]
    image_word, text_word = Text("image", "图像")(lang), Text("text", "文本")(lang)
    hover = np.array(
        [
            [f"{image_word}: {names[i]}<br>{text_word}: {names[j]}" for j in range(n)]
            for i in range(n)
        ],
        dtype=object,
    )
    targets, starts = _blocks([np.eye(n), lv["row_targets"]], gap=1)
    target_hover = np.full(targets.shape, "", dtype=object)
    for start in starts:
        target_hover[:, start : start + n] = hover
    target_columns = [""] * targets.shape[1]
    for start in starts:
        target_columns[start : start + n] = labels
    data = [
        {
            "type": "heatmap", "z": w["cosine"] / p.temperature, "text": hover.astype(str),
            "colorscale": "Viridis", "hovertemplate": "%{text}<br>%{z:.3f}<extra></extra>",
            "colorbar": {"x": 0.31, "len": 0.8, "thickness": 10, "xpad": 2},
        },
        {
            "type": "heatmap", "z": targets, "text": target_hover.astype(str), "zmin": 0, "zmax": 1,
            "colorscale": [[0, "rgba(0,114,178,0.04)"], [1, COLORWAY[0]]], "xaxis": "x2", "yaxis": "y2",
            "hovertemplate": "%{text}<br>%{z:.3f}<extra></extra>",
            "colorbar": {"x": 1.0, "len": 0.8, "thickness": 10, "xpad": 2},
        },
    ]  # fmt: skip
    ticks = _ticks(labels, 9 if n <= 12 else 8)
    titles = [
        (0, "paper", Text("logits<br>s_ij = cos / τ", "logits<br>s_ij = cos / τ")),
        (starts[0] - 0.5, "x2", Text("one-hot<br>targets I", "one-hot<br>目标 I")),
        (
            starts[1] - 0.5,
            "x2",
            Text(
                f"soft targets, α = {p.alpha:g}<br>(1 − α)·I + α·softmax(momentum)",
                f"软目标，α = {p.alpha:g}<br>(1 − α)·I + α·softmax(动量)",
            ),
        ),
    ]
    layout = {
        "title": {
            "text": Text(
                f"ITC: match N = {n} images to N captions; soft targets credit near misses<br>"
                f"<sup>loss {lv['itc_one_hot']:.3f} with one-hot targets, {lv['itc_soft']:.3f} with momentum-distilled ones (τ = {p.temperature:g})</sup>",
                f"ITC：N = {n} 张图像匹配 N 条描述；软目标给近似正确的描述一些分数<br>"
                f"<sup>one-hot 目标的损失 {lv['itc_one_hot']:.3f}，动量蒸馏目标的损失 {lv['itc_soft']:.3f}（τ = {p.temperature:g}）</sup>",
            )(lang)
        },
        "height": 480,
        "xaxis": {**ticks, "domain": [0, 0.29], "tickangle": -60,
                  "title": {"text": Text("text j", "文本 j")(lang)}},
        "yaxis": {**ticks, "autorange": "reversed",
                  "title": {"text": Text("image i", "图像 i")(lang)}},
        "xaxis2": {**_ticks(target_columns, 9 if n <= 12 else 8), "domain": [0.4, 0.97], "range": [-0.5, targets.shape[1] - 0.5],
                   "anchor": "y2", "tickangle": -60,
                   "title": {"text": Text("text j", "文本 j")(lang)}},
        "yaxis2": {**ticks, "anchor": "x2", "autorange": "reversed", "showticklabels": False},
        "annotations": [
            {
                "text": title(lang), "x": x, "y": 1.0, "xref": xref, "yref": "paper",
                "xanchor": "left", "yanchor": "bottom", "showarrow": False, "font": {"size": 11}, "align": "left",
            }
            for x, xref, title in titles
        ],
        "margin": {"t": 125, "l": 60, "r": 30, "b": 40},
    }  # fmt: skip
    return _figure(data, layout)


def _negatives_figure(p: Params, w: dict, lang: str) -> go.Figure:
    n = negatives(p.batch, p.seed, p.temperature, p.sampler, p.draws)
    row = min(p.row, p.batch - 1)
    others = [j for j in range(p.batch) if j != row]
    items = w["items"]
    share = [bool((items[j] == items[row]).any()) for j in others]
    labels = [
        _short(items[j], lang) if p.batch <= 12 else (str(j) if j % 2 == 0 else "") for j in others
    ]
    x = list(range(len(others)))
    p_text, p_image = chi_square(p)
    sampler = Text("hard", "困难")(lang) if p.sampler == "hard" else Text("uniform", "均匀")(lang)
    rows_n = lambda key: n[key][row, others]  # noqa: E731
    frequencies = rows_n("text_counts") / p.draws
    weights = rows_n("text_weights").tolist()
    data = [
        *(
            {
                "type": "bar",
                "x": [xi for xi, s in zip(x, share, strict=True) if s == flag],
                "y": [w for w, s in zip(weights, share, strict=True) if s == flag],
                "marker": {"color": HARD if flag else NEUTRAL},
                "name": name(lang),
                "hovertemplate": "%{y:.4f}<extra></extra>",
            }
            for flag, name in (
                (True, Text("softmax: shares a word with the positive", "softmax：与正样本共享一个词")),
                (False, Text("softmax: shares no word", "softmax：不共享任何词")),
            )
        ),
        {
            "type": "scatter",
            "x": x,
            "y": packed(frequencies),
            "mode": "markers",
            "marker": {"symbol": "diamond", "size": 9, "color": COLORWAY[4], "line": {"width": 1}},
            "error_y": {
                "type": "data",
                "array": packed(2 * np.sqrt(np.maximum(frequencies * (1 - frequencies), 1e-12) / p.draws)),
                "thickness": 1,
            },
            "name": Text(f"drawn frequency ({p.draws:,} draws, ± 2 s.e.)", f"抽样频率（{p.draws:,} 次，± 2 标准误）")(lang),
        },
    ]  # fmt: skip
    categories = [Text("hard ∝ exp(s)", "困难 ∝ exp(s)")(lang), Text("uniform", "均匀")(lang)]
    # draws for the chosen sampler only; the other one's share is its exact expectation
    hard = negatives(p.batch, p.seed, p.temperature, "hard", p.draws if p.sampler == "hard" else 0)
    uniform = negatives(
        p.batch, p.seed, p.temperature, "uniform", p.draws if p.sampler == "uniform" else 0
    )
    chosen = hard if p.sampler == "hard" else uniform
    data += [
        {
            "type": "bar",
            "x": categories,
            "y": [hard["share_expected"], uniform["share_expected"]],
            "marker": {"color": [HARD, UNIFORM]},
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text("right: share of negatives sharing a word, expected", "右：与正样本共享一个词的负样本比例，期望值")(lang),
            "text": [f"{hard['share_expected']:.0%}", f"{uniform['share_expected']:.0%}"],
            "textposition": "outside",
            "hovertemplate": "%{y:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": categories,
            "y": [chosen["share_drawn"] if p.sampler == "hard" else None,
                  chosen["share_drawn"] if p.sampler == "uniform" else None],
            "mode": "markers",
            "marker": {"symbol": "diamond", "size": 10, "color": COLORWAY[4], "line": {"width": 1}},
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text("right: the same share in the draws (all images)", "右：抽样中的同一比例（所有图像）")(lang),
            "hovertemplate": "%{y:.3f}<extra></extra>",
        },
    ]  # fmt: skip
    p_words = Text("χ² p-value", "χ² 检验 p 值")(lang)
    layout = {
        "title": {
            "text": Text(
                f"Hard negatives for ITM: image {row} draws a caption j ≠ {row} ∝ exp(s_ij)<br>"
                f"<sup>{sampler} sampler; SciPy {p_words} of the draws against the softmax:<br>"
                f"image→text {_p(p_text)}, text→image {_p(p_image)} (only a small p would reject it)</sup>",
                f"ITM 的困难负样本：图像 {row} 以 ∝ exp(s_ij) 的概率抽取描述 j ≠ {row}<br>"
                f"<sup>{sampler}采样器；抽样结果对 softmax 的 SciPy {p_words}：<br>"
                f"图像→文本 {_p(p_text)}，文本→图像 {_p(p_image)}（p 很小才会拒绝）</sup>",
            )(lang)
        },
        "height": 560,
        "xaxis": {
            "domain": [0, 0.6], "tickvals": x, "ticktext": labels, "tickangle": -45,
            "tickfont": {"size": 9}, "title": {"text": Text(f"caption j ≠ {row}", f"描述 j ≠ {row}")(lang)},
        },
        "yaxis": {"title": {"text": Text("probability", "概率")(lang)}, "rangemode": "tozero"},
        "xaxis2": {"domain": [0.72, 1], "anchor": "y2"},
        "yaxis2": {
            "anchor": "x2", "range": [0, 1.1], "tickformat": ".0%",
            "title": {"text": Text("shares a word with the positive", "与正样本共享一个词")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.42, "yanchor": "top"},
        "margin": {"t": 120, "b": 190},
        "bargap": 0.25,
    }  # fmt: skip
    return _figure(data, layout)


def _lm_figure(p: Params, words: list[str], lang: str) -> go.Figure:
    from core.multimodal.blip import attention_masks

    inputs = ["[DEC]", *words[: p.text_tokens - 1]]
    targets = [*inputs[1:], "[SEP]"]
    result = lm_losses(tuple(inputs), p.seed, p.epsilon)
    causal, _ = attention_masks(len(inputs), p.image_tokens, "lm")
    row_labels = [f"{a} → {b}" for a, b in zip(inputs, targets, strict=True)]
    x = list(range(len(targets)))
    grid = causal.numpy().astype(float)
    data = [
        _mask_trace(grid, _hover(grid, inputs, inputs, lang)),
        {
            "type": "bar",
            "x": x,
            "y": packed(result["plain"]),
            "xaxis": "x2",
            "yaxis": "y2",
            "marker": {"color": COLORWAY[5]},
            "name": Text("loss, no smoothing", "损失，无平滑")(lang),
        },
        {
            "type": "bar",
            "x": x,
            "y": packed(result["smoothed"]),
            "xaxis": "x2",
            "yaxis": "y2",
            "marker": {"color": COLORWAY[0]},
            "name": Text(f"loss, label smoothing ε = {p.epsilon:g}", f"损失，标签平滑 ε = {p.epsilon:g}")(lang),
        },
        {
            "type": "scatter",
            "x": [-0.5, len(targets) - 0.5],
            "y": [result["floor"]] * 2,
            "xaxis": "x2",
            "yaxis": "y2",
            "mode": "lines",
            "line": {"dash": "dash", "color": COLORWAY[1]},
            "name": Text("least loss with smoothing (entropy of the target)", "平滑后的最小损失（目标分布的熵）")(lang),
        },
    ]  # fmt: skip
    layout = {
        "title": {
            "text": Text(
                "LM: teacher forcing, inputs [DEC] + words, targets words + [SEP]<br>"
                f"<sup>mean loss {result['plain_mean']:.3f} without smoothing, {result['smoothed_mean']:.3f} with ε = {p.epsilon:g};<br>"
                "the stand-in decoder is sure of grammar words, less of what the image must tell</sup>",
                "LM：教师强制——输入 [DEC] + 词，目标为词 + [SEP]，使用因果掩码<br>"
                f"<sup>平均损失：无平滑 {result['plain_mean']:.3f}，ε = {p.epsilon:g} 时 {result['smoothed_mean']:.3f}；<br>"
                "替身解码器对语法词很有把握，对需要看图才能说出的词把握较小</sup>",
            )(lang)
        },
        "xaxis": {
            **_ticks(inputs), "domain": [0, 0.34], "tickangle": -60,
            "title": {"text": Text("key (input token)", "键（输入 token）")(lang)},
        },
        "yaxis": {
            **_ticks(row_labels), "autorange": "reversed",
            "title": {"text": Text("query: input → target", "查询：输入 → 目标")(lang)},
        },
        "xaxis2": {
            "domain": [0.5, 1], "anchor": "y2", "tickvals": x, "ticktext": targets,
            "tickangle": -60, "title": {"text": Text("target token", "目标 token")(lang)},
        },
        "yaxis2": {"anchor": "x2", "title": {"text": Text("cross-entropy (nats)", "交叉熵（nats）")(lang)}},
        "barmode": "group",
        "height": 500,
        "legend": {"orientation": "h", "y": -0.42, "yanchor": "top"},
        "margin": {"t": 110, "b": 170, "l": 120},
    }  # fmt: skip
    return _figure(data, layout)


def _capfilt_figure(p: Params, run: dict, lang: str) -> go.Figure:
    c = run["counts"]

    def total(source: str, flag: str = "*", fate: str = "*") -> int:
        return sum(
            v
            for k, v in c.items()
            if k.startswith(source)
            and (flag == "*" or f"/{flag}/" in k)
            and (fate == "*" or k.endswith(fate))
        )

    n = p.web_pairs
    web_noisy = total("web", "noisy")
    syn_noisy = total("synthetic", "noisy")
    kept = total("", "*", "kept")
    kept_noisy = total("", "noisy", "kept")
    removed = total("", "*", "removed")
    before = web_noisy / n
    after = kept_noisy / max(kept, 1)
    T = lambda en, zh: Text(en, zh)(lang)  # noqa: E731
    nodes = [
        T(f"web pairs<br>(I_w, T_w)<br>{n:,}<br>{web_noisy:,} noisy", f"网络图文对<br>(I_w, T_w)<br>{n:,}<br>{web_noisy:,} 对有噪声"),
        T(f"web images<br>I_w: {n:,}", f"网络图像<br>I_w：{n:,}"),
        T(f"captioner<br>{n:,} T_s<br>{syn_noisy:,} wrong", f"描述生成器<br>{n:,} 条 T_s<br>{syn_noisy:,} 条有误"),
        T(f"filter<br>ITM ≥ {p.threshold:g}", f"过滤器<br>ITM ≥ {p.threshold:g}"),
        T(f"kept web<br>{total('web', '*', 'kept'):,}", f"保留的网络对<br>{total('web', '*', 'kept'):,}"),
        T(f"kept synthetic<br>{total('synthetic', '*', 'kept'):,}", f"保留的合成对<br>{total('synthetic', '*', 'kept'):,}"),
        T(f"removed<br>{removed:,}", f"移除<br>{removed:,}"),
        T(f"cleaned set<br>{kept:,}<br>{after:.1%} noisy", f"清洗后数据集<br>{kept:,}<br>噪声 {after:.1%}"),
    ]  # fmt: skip
    clean_word, noisy_word = T("clean", "干净"), T("noisy", "有噪声")
    links = []  # (source, target, value, clean?)
    for flag in ("clean", "noisy"):
        links.append((0, 3, total("web", flag), flag))
        links.append((2, 3, total("synthetic", flag), flag))
        links.append((3, 4, total("web", flag, "kept"), flag))
        links.append((3, 5, total("synthetic", flag, "kept"), flag))
        links.append((3, 6, total("", flag, "removed"), flag))
        links.append((4, 7, total("web", flag, "kept"), flag))
        links.append((5, 7, total("synthetic", flag, "kept"), flag))
    links.append((1, 2, n, ""))
    links = [link for link in links if link[2] > 0]
    colour = {"clean": "rgba(0,158,115,0.45)", "noisy": "rgba(213,94,0,0.55)", "": NEUTRAL}
    word = {"clean": clean_word, "noisy": noisy_word, "": T("images", "图像")}
    data = [
        {
            "type": "sankey",
            "arrangement": "fixed",
            "valueformat": ",d",
            "node": {
                "label": nodes,
                "x": [0.001, 0.001, 0.25, 0.5, 0.75, 0.75, 0.75, 0.999],
                "y": [0.25, 0.8, 0.8, 0.5, 0.2, 0.55, 0.9, 0.35],
                "pad": 18,
                "thickness": 14,
                "color": [COLORWAY[0], COLORWAY[0], COLORWAY[4], COLORWAY[3], CLEAN, CLEAN, NOISY, COLORWAY[0]],
                "hovertemplate": "%{label}<extra></extra>",
            },
            "link": {
                "source": [s for s, _, _, _ in links],
                "target": [t for _, t, _, _ in links],
                "value": [v for _, _, v, _ in links],
                "color": [colour[f] for *_, f in links],
                "customdata": [word[f] for *_, f in links],
                "hovertemplate": "%{customdata}: %{value:,d}<extra></extra>",
            },
        }
    ]  # fmt: skip
    layout = {
        "title": {
            "text": T(
                f"CapFilt: caption every web image, filter all pairs: noise {before:.1%} → {after:.1%}<br>"
                f"<sup>green: clean pairs, orange: noisy pairs (hover a band for its count);<br>"
                f"web captions wrong at ρ = {p.rho:g}, captioner right with q = {p.q:g}</sup>",
                f"CapFilt：为每张网络图像生成描述并过滤所有图文对：噪声 {before:.1%} → {after:.1%}<br>"
                f"<sup>绿色：干净的图文对，橙色：有噪声的图文对（悬停查看数量）；<br>"
                f"网络描述错误率 ρ = {p.rho:g}，描述生成器正确率 q = {p.q:g}</sup>",
            )
        },
        "height": 480,
        "font": {"size": 12},
        "margin": {"t": 100, "l": 20, "r": 20, "b": 20},
    }  # fmt: skip
    return _figure(data, layout)


def _scores_figure(p: Params, run: dict, lang: str) -> go.Figure:
    edges = run["edges"]
    centres = packed((edges[:-1] + edges[1:]) / 2)
    names = {
        "web/clean": (Text("web, clean", "网络，干净"), CLEAN, "solid"),
        "web/noisy": (Text("web, noisy (another image's caption)", "网络，有噪声（另一张图像的描述）"), NOISY, "solid"),
        "synthetic/clean": (Text("synthetic, right", "合成，正确"), CLEAN, "dot"),
        "synthetic/noisy": (Text("synthetic, one word wrong", "合成，错一个词"), NOISY, "dot"),
    }  # fmt: skip
    data = []
    for key, (name, colour, dash) in names.items():
        counts = run["histograms"][key].astype(float)
        data.append(
            {
                "type": "scatter",
                "x": centres,
                "y": packed(np.maximum(counts, 0.5)),
                "mode": "lines",
                "line": {"shape": "hvh", "color": colour, "dash": dash, "width": 2},
                "name": name(lang),
                "hovertemplate": "%{x:.3f}: %{y:,.0f}<extra></extra>",
            }
        )
    data.append(
        {
            "type": "scatter",
            "x": [p.threshold, p.threshold],
            "y": [0.5, p.web_pairs],
            "mode": "lines",
            "line": {"color": COLORWAY[6], "dash": "dash"},
            "name": Text(f"threshold {p.threshold:g}: keep to the right", f"阈值 {p.threshold:g}：保留右侧")(lang),
        }
    )  # fmt: skip
    layout = {
        "title": {
            "text": Text(
                "Filter scores: another image's caption is easy to reject, one wrong word is not<br>"
                "<sup>a generated stand-in ITM head: σ(10·(cos − 0.6)) of the image and caption embeddings</sup>",
                "过滤器分数：另一张图像的描述容易拒绝，只错一个词的则不然<br>"
                "<sup>生成的替身 ITM 头：图像与描述嵌入的 σ(10·(cos − 0.6))</sup>",
            )(lang)
        },
        "height": 420,
        "xaxis": {"range": [0, 1], "title": {"text": Text("ITM match probability", "ITM 匹配概率")(lang)}},
        "yaxis": {"type": "log", "title": {"text": Text("pairs per bin (log axis)", "每个区间的图文对数（对数轴）")(lang)}},
        "legend": {"orientation": "h", "y": -0.22, "yanchor": "top"},
        "margin": {"t": 100, "b": 120},
    }  # fmt: skip
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    w = world(p.batch, p.seed)
    row = min(p.row, p.batch - 1)
    words = _sentence(w["items"], row)
    run = capfilt_run(p.web_pairs, p.rho, p.q, p.threshold, p.seed)
    figures = [
        _masks_figure(p, words, lang),
        _itc_figure(p, w, lang),
        _negatives_figure(p, w, lang),
        _lm_figure(p, words, lang),
        _capfilt_figure(p, run, lang),
        _scores_figure(p, run, lang),
    ]
    return Rendered(figures, _notes(p, run, lang))


def _notes(p: Params, run: dict, lang: str) -> str:
    lv = losses(p.batch, p.seed, p.temperature, p.alpha)
    hard = negatives(p.batch, p.seed, p.temperature, "hard", p.draws if p.sampler == "hard" else 0)
    uniform = negatives(
        p.batch, p.seed, p.temperature, "uniform", p.draws if p.sampler == "uniform" else 0
    )
    drawn = (hard if p.sampler == "hard" else uniform)["share_drawn"]
    p_text, p_image = chi_square(p)
    c = run["counts"]
    rows = []
    for source, name in (("web", Text("web", "网络")), ("synthetic", Text("synthetic", "合成"))):
        cells = [
            f"{c[f'{source}/{flag}/{fate}']:,}"
            for flag in ("clean", "noisy")
            for fate in ("kept", "removed")
        ]
        rows.append(f"| {name(lang)} | " + " | ".join(cells) + " |")
    web_noisy = c["web/noisy/kept"] + c["web/noisy/removed"]
    kept = sum(v for k, v in c.items() if k.endswith("kept"))
    kept_noisy = c["web/noisy/kept"] + c["synthetic/noisy/kept"]
    en = (
        f"ITC loss {lv['itc_one_hot']:.3f} with one-hot targets, {lv['itc_soft']:.3f} with α = {p.alpha:g}. "
        f"ITM loss over {p.batch} positives and {2 * p.batch} negatives: {lv['itm_hard']:.3f} with hard negatives, "
        f"{lv['itm_uniform']:.3f} with uniform ones. Negatives sharing a word with the positive: "
        f"{hard['share_expected']:.1%} hard vs {uniform['share_expected']:.1%} uniform "
        f"(in {p.draws:,} draws of the {p.sampler} sampler per image: {drawn:.1%}). "
        f"Chi-square p-values of the {p.sampler} sampler, row {min(p.row, p.batch - 1)}: {_p(p_text)} (image→text), "
        f"{_p(p_image)} (text→image). CapFilt: noise {web_noisy / p.web_pairs:.1%} in the web pairs, "
        f"{kept_noisy / max(kept, 1):.1%} in the {kept:,} kept.\n\n"
        "| pairs | clean kept | clean removed | noisy kept | noisy removed |\n|---|---|---|---|---|\n"
    )
    zh = (
        f"ITC 损失：one-hot 目标 {lv['itc_one_hot']:.3f}，α = {p.alpha:g} 时 {lv['itc_soft']:.3f}。"
        f"{p.batch} 个正样本与 {2 * p.batch} 个负样本上的 ITM 损失：困难负样本 {lv['itm_hard']:.3f}，"
        f"均匀负样本 {lv['itm_uniform']:.3f}。与正样本共享一个词的负样本比例：困难 {hard['share_expected']:.1%}，"
        f"均匀 {uniform['share_expected']:.1%}（{'困难' if p.sampler == 'hard' else '均匀'}采样器每张图像抽样 {p.draws:,} 次：{drawn:.1%}）。"
        f"{'困难' if p.sampler == 'hard' else '均匀'}采样器第 {min(p.row, p.batch - 1)} 行的卡方检验 p 值：{_p(p_text)}（图像→文本），"
        f"{_p(p_image)}（文本→图像）。CapFilt：网络对的噪声 {web_noisy / p.web_pairs:.1%}，"
        f"保留的 {kept:,} 对中噪声 {kept_noisy / max(kept, 1):.1%}。\n\n"
        "| 图文对 | 干净且保留 | 干净但移除 | 有噪声但保留 | 有噪声且移除 |\n|---|---|---|---|---|\n"
    )
    return Text(en, zh)(lang) + "\n".join(rows)


presets = {
    "Three masks, one caption": Params(text_tokens=12, image_tokens=8),
    "Hard negatives share a word": Params(batch=16, temperature=0.05, draws=20000, row=3),
    "Momentum distillation softens targets": Params(alpha=0.7, temperature=0.15, batch=10),
    "CapFilt on very noisy web data": Params(rho=0.7, web_pairs=50000, q=0.8, threshold=0.5),
    "BLIP-2's Q-Former": Params(family="blip2", queries=8, text_tokens=8, image_tokens=10),
}
preset_titles = {
    "Three masks, one caption": Text("Three masks, one caption", "三种掩码，同一条描述"),
    "Hard negatives share a word": Text("Hard negatives share a word", "困难负样本共享一个词"),
    "Momentum distillation softens targets": Text(
        "Momentum distillation softens targets", "动量蒸馏让目标变软"
    ),
    "CapFilt on very noisy web data": Text(
        "CapFilt on very noisy web data", "在噪声很大的网络数据上做 CapFilt"
    ),
    "BLIP-2's Q-Former": Text("BLIP-2's Q-Former", "BLIP-2 的 Q-Former"),
}

EXPLANATION = Text(
    en="""
**One transformer, three jobs.** BLIP (Li, Li, Xiong & Hoi 2022) trains a text transformer
that shares most of its weights across three objectives; what differs is the first token and
the attention masks. **ITC** (a text encoder, [CLS]) sees the whole caption and no image, and
learns image and text embeddings whose similarity picks the right pair in a batch. **ITM**
([ENC]) sees the whole caption and, through cross-attention, the whole image, and says match
or not. **LM** ([DEC]) sees the image and only the earlier words: causal self-attention, fed
the caption shifted by one (teacher forcing), trained with label smoothing 0.1, so even a
perfect prediction keeps a small loss (the dashed floor).

**From ALBEF.** ITC's targets can be softened by a momentum encoder (Li et al. 2021, ALBEF):
(1 − α)·one-hot + α·its softmax, so a caption that is almost right is not punished as hard as
a wrong one. ITM learns most from **hard negatives**: for each image a caption drawn with
probability ∝ exp(similarity), never the image's own, and likewise an image for each caption.
The histogram checks the sampler against its softmax (SciPy's chi-square test), and the bars
show that hard negatives share words with the positive far more often than uniform ones.

**BLIP-2's Q-Former** (Li et al. 2023) puts a few learned queries and the text in one
self-attention; only the queries read the frozen image encoder. ITC's mask keeps the two apart,
ITM's lets all see all, ITG's lets text read the queries and earlier text.

**CapFilt** bootstraps the data: a captioner writes a caption for every web image, a filter
(an ITM head) removes pairs it judges unmatched, web and synthetic alike. Here the world (items
named by colour, shape and position, embedded as word vectors plus noise), the captioner and
the filter are **generated stand-ins, not trained models**; the decoder's logits in the LM
view are generated too. A caption of another image is easy to reject; one wrong word is not.
""",
    zh="""
**一个 transformer，三项任务。** BLIP（Li、Li、Xiong 与 Hoi，2022）训练一个文本 transformer，
它的大部分权重在三个目标之间共享；不同的是第一个 token 和注意力掩码。**ITC**（文本编码器，[CLS]）
能看到整条描述、看不到图像，学习图像与文本的嵌入，让相似度在一个批次中选出正确的配对。**ITM**（[ENC]）
能看到整条描述，并通过交叉注意力看到整张图像，判断是否匹配。**LM**（[DEC]）能看到图像，但只能看到前面的词：
因果自注意力，输入是右移一位的描述（教师强制），使用 0.1 的标签平滑训练，因此即便预测完美也保留一点损失（虚线下限）。

**来自 ALBEF。** ITC 的目标可以由动量编码器软化（Li 等，2021，ALBEF）：(1 − α)·one-hot + α·动量模型的 softmax，
这样几乎正确的描述不会像完全错误的描述那样受到惩罚。ITM 从**困难负样本**中学到的最多：为每张图像按 ∝ exp(相似度)
的概率抽取一条描述（从不抽到它自己的），每条描述也同样抽取一张图像。直方图用 SciPy 的卡方检验核对采样器与其 softmax，
柱状图显示困难负样本与正样本共享词语的频率远高于均匀采样。

**BLIP-2 的 Q-Former**（Li 等，2023）把少量可学习查询与文本放进同一个自注意力；只有查询读取冻结的图像编码器。
ITC 的掩码让两者互不可见，ITM 的掩码让所有 token 互相可见，ITG 的掩码让文本看到所有查询和前面的文本。

**CapFilt** 自举数据：描述生成器为每张网络图像写一条描述，过滤器（一个 ITM 头）移除它认为不匹配的图文对，
网络对与合成对一视同仁。这里的世界（以颜色、形状和位置命名的物体，嵌入为词向量加噪声）、描述生成器和过滤器都是
**生成的替身，而不是训练出来的模型**；LM 视图中解码器的 logits 也是生成的。另一张图像的描述很容易被拒绝，只错一个词的则不然。
""",
)

DEMO = Demo(
    slug="blip",
    section="multimodal",
    figures=6,
    title=Text(
        "BLIP: three objectives, their masks, and CapFilt", "BLIP：三个目标、它们的掩码与 CapFilt"
    ),
    summary=Text(
        "ITC, ITM with hard negatives and LM on one text transformer; BLIP-2's Q-Former; CapFilt.",
        "一个文本 transformer 上的 ITC、带困难负样本的 ITM 与 LM；BLIP-2 的 Q-Former；CapFilt。",
    ),
    sources=(
        Source(
            "BLIP: Bootstrapping Language-Image Pre-training for Unified Vision-Language Understanding and Generation",
            "J. Li, D. Li, C. Xiong, S. Hoi",
            2022,
            "https://arxiv.org/abs/2201.12086",
        ),
        Source(
            "Align before Fuse: Vision and Language Representation Learning with Momentum Distillation",
            "J. Li, R. R. Selvaraju, A. D. Gotmare, S. Joty, C. Xiong, S. Hoi",
            2021,
            "https://arxiv.org/abs/2107.07651",
        ),
        Source(
            "BLIP-2: Bootstrapping Language-Image Pre-training with Frozen Image Encoders and Large Language Models",
            "J. Li, D. Li, S. Savarese, S. Hoi",
            2023,
            "https://arxiv.org/abs/2301.12597",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
