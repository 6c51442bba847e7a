"""Alpaca and Self-Instruct: which generated instructions make it into the training set?

Self-Instruct grows a pool of instructions from 175 human-written seeds: a language model writes
new ones, and a candidate joins the pool only when its ROUGE-L with every instruction already
there is at most 0.7. Alpaca used the same recipe (with text-davinci-003) to make 52K examples
for LLaMA-7B. No language model runs here: released instructions stand in for the generations,
and the figures show the filter at work and the prompt template the fine-tuning sees.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

DATA = Path(__file__).resolve().parents[1] / "assets" / "alignment" / "instructions.json"
KEPT, BLOCKED, RULED = COLORWAY[0], COLORWAY[1], "#8C8C8C"

CANDIDATES = {
    "code": Text("code (GPTeacher, by GPT-4)", "代码（GPTeacher，GPT-4 生成）"),
    "user": Text("user-oriented (human-written)", "面向用户（人工编写）"),
    "both": Text("both", "两者"),
}
POOLS = {
    "self-instruct": Text("Self-Instruct's 175 seeds", "Self-Instruct 的 175 个种子"),
    "code": Text("21 code seeds", "21 个代码种子"),
    "none": Text("none", "无"),
}
ORDERS = {"released": Text("as released", "按发布顺序"), "shuffled": Text("shuffled", "打乱")}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    candidates: Literal["code", "user", "both"] = param(
        "code", en="Candidates", zh="候选指令", choices=CANDIDATES
    )
    pool: Literal["self-instruct", "code", "none"] = param(
        "code", en="Seed pool", zh="种子池", choices=POOLS
    )
    count: int = param(200, en="Candidates used", zh="使用的候选数", ge=10, le=400, step=10)
    threshold: float = param(
        0.7,
        en="ROUGE-L threshold",
        zh="ROUGE-L 阈值",
        help_en="Rejected when the best ROUGE-L is above it (Self-Instruct: 0.7).",
        help_zh="最高 ROUGE-L 超过阈值即被拒（Self-Instruct 用 0.7）。",
        ge=0.3,
        le=1.0,
        step=0.05,
    )
    keyword_filter: bool = param(
        True,
        en="Keyword blacklist (image, file, draw, …)",
        zh="关键词黑名单（image、file、draw 等）",
    )
    length_filter: bool = param(True, en="Length filter (4–150 words)", zh="长度过滤（4–150 词）")
    order: Literal["released", "shuffled"] = param(
        "released", en="Order", zh="顺序", choices=ORDERS
    )
    example: int = param(
        0,
        en="Example candidate (index)",
        zh="示例候选（序号）",
        help_en="The candidate shown in the pair view and the template.",
        help_zh="在配对视图和模板中展示的候选。",
        ge=0,
        le=399,
    )


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))["sets"]


def _items(p: Params) -> tuple[list[dict], list[str]]:
    sets = _data()
    if p.candidates == "code":
        items = sets["code_instruct"]
    elif p.candidates == "user":
        items = sets["user_oriented"]
    else:
        items = [
            x
            for pair in zip(sets["code_instruct"], sets["user_oriented"], strict=False)
            for x in pair
        ]
        items += sets["code_instruct"][len(sets["user_oriented"]) :]
    items = list(items)
    if p.order == "shuffled":
        random.Random(0).shuffle(items)
    pool = {"self-instruct": sets["self_instruct_seed"], "code": sets["code_seed"], "none": []}[
        p.pool
    ]
    return items[: p.count], [x["instruction"] for x in pool]


@lru_cache(maxsize=8)
def _matrix(candidates: str, pool: str, order: str) -> np.ndarray:
    """ROUGE-L of all 400 (or fewer) candidates against the pool, then against each other."""
    from core.alignment.self_instruct import rouge_l_matrix

    p = Params(candidates=candidates, pool=pool, order=order, count=400)
    items, seeds = _items(p)
    texts = [x["instruction"] for x in items]
    return rouge_l_matrix(texts, [*seeds, *texts])


TOP_VERBS, TOP_NOUNS = 20, 4  # Self-Instruct's Figure 2
THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(15))  # the slider's values


def _run(p: Params) -> dict:
    """The filter run of `p` (the example index does not change it), cached."""
    return _filter(p.model_copy(update={"example": 0}))


def _reasons(items: list[dict], keywords: bool, length: bool) -> list[str | None]:
    from core.alignment.self_instruct import rule_filter

    return [rule_filter(item["instruction"], keywords, length) for item in items]


def _statuses(
    reasons: list[str | None], n_pool: int, scores: np.ndarray, threshold: float
) -> tuple[list[str], list[float], list[int], list[int]]:
    """The filter, in order: rules first, then the novelty check against pool and kept ones."""
    n = len(reasons)
    # the best score so far of each candidate over pool + kept columns, updated once per kept one
    # (columns in order and a strict > keep the first best, as argmax over the columns would)
    if n_pool:
        top, column = scores[:n, :n_pool].max(axis=1), scores[:n, :n_pool].argmax(axis=1)
    else:
        top, column = np.full(n, -np.inf), np.full(n, -1)
    status, best, blocking, kept = [], [], [], []
    for c, reason in enumerate(reasons):
        compared = bool(n_pool or kept)
        best.append(float(top[c]) if compared else 0.0)
        blocking.append(int(column[c]) if compared else -1)
        if reason is not None:
            status.append(reason)
        elif compared and top[c] > threshold:
            status.append("rouge")
        else:
            status.append("kept")
            kept.append(c)
            scores_c = scores[:n, n_pool + c]
            better = scores_c > top
            top = np.where(better, scores_c, top)
            column = np.where(better, n_pool + c, column)
    return status, best, blocking, kept


@lru_cache(maxsize=16)
def _filter(p: Params) -> dict:
    items, seeds = _items(p)
    scores = _matrix(p.candidates, p.pool, p.order)
    reasons = _reasons(items, p.keyword_filter, p.length_filter)
    status, best, blocking, kept = _statuses(reasons, len(seeds), scores, p.threshold)
    return {
        "items": items,
        "seeds": seeds,
        "scores": scores,
        "status": status,
        "best": np.asarray(best),
        "blocking": blocking,
        "kept": kept,
    }


@lru_cache(maxsize=2048)
def _parse(instruction: str) -> tuple[str, str] | None:
    from core.alignment.self_instruct import verb_noun

    return verb_noun(instruction)


def _pairs_per_100(texts: list[str]) -> float:
    pairs = {_parse(t) for t in texts} - {None}
    return 100 * len(pairs) / len(texts) if texts else 0.0


@lru_cache(maxsize=8)
def _sweep(p: Params) -> dict:
    """The filter at every threshold of the slider: kept count and distinct verb–noun pairs."""
    items, seeds = _items(p)
    scores = _matrix(p.candidates, p.pool, p.order)
    thresholds = THRESHOLDS
    reasons = _reasons(items, p.keyword_filter, p.length_filter)
    kept_counts, diversity = [], []
    for threshold in thresholds:
        kept = _statuses(reasons, len(seeds), scores, threshold)[3]
        kept_counts.append(len(kept))
        diversity.append(_pairs_per_100([items[i]["instruction"] for i in kept]))
    return {"thresholds": thresholds, "kept": kept_counts, "diversity": diversity}


def _text_of(run: dict, column: int) -> str:
    n_pool = len(run["seeds"])
    if column < 0:
        return ""
    return run["seeds"][column] if column < n_pool else run["items"][column - n_pool]["instruction"]


def _figure(data: list, layout: dict) -> go.Figure:
    """A Figure from plain dicts; the page's template goes in when it is serialised."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


def _short(text: str, limit: int = 90) -> str:
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _pipeline(p: Params, run: dict, lang: str) -> go.Figure:
    t = Text
    n_kept = len(run["kept"])
    n_rouge = run["status"].count("rouge")
    n_rules = len(run["status"]) - n_kept - n_rouge
    stages = [
        (t("seed tasks", "种子任务")(lang), t(f"{len(run['seeds'])} here; 175 in Self-Instruct", f"此处 {len(run['seeds'])} 个；Self-Instruct 为 175 个")(lang)),
        (t("generation", "生成")(lang), t("8 in-context (6 human, 2 generated); Alpaca: 3 seeds, 20 per request.<br>No model runs here: released samples stand in", "上下文 8 条（6 人工 + 2 生成）；Alpaca：3 个种子，每次 20 条。<br>此处不运行语言模型：用已发布的样本代替")(lang)),
        (t("filters", "过滤")(lang), t(f"rules: −{n_rules}; ROUGE-L > {p.threshold:g}: −{n_rouge}", f"规则：−{n_rules}；ROUGE-L > {p.threshold:g}：−{n_rouge}")(lang)),
        (t("pool", "指令池")(lang), t(f"+{n_kept} of {len(run['items'])}", f"{len(run['items'])} 条中 +{n_kept}")(lang)),
        (t("52K examples", "5.2 万条样本")(lang), t("Alpaca's data set", "Alpaca 的数据集")(lang)),
        (t("fine-tuning", "微调")(lang), t("LLaMA-7B, 3 h on 8 × A100 80 GB, ≈ $100", "LLaMA-7B，8 × A100 80 GB 上 3 小时，约 100 美元")(lang)),
    ]  # fmt: skip
    shapes, notes = [], []
    for i, (head, body) in enumerate(stages):
        y0 = 5 - i
        shapes.append(
            {"type": "rect", "x0": 0, "x1": 1, "y0": y0, "y1": y0 + 0.8,
             "line": {"color": "#9CA3AF"},
             "fillcolor": "rgba(0,114,178,0.15)" if i == 2 else "rgba(156,163,175,0.15)"}
        )  # fmt: skip
        notes.append({"x": 0.02, "y": y0 + 0.4, "xanchor": "left", "showarrow": False,
                      "text": f"<b>{head}</b>: {body}"})  # fmt: skip
    data = [{"type": "scatter", "x": [0.5] * 6, "y": [5.4 - i for i in range(6)], "mode": "markers",
             "marker": {"opacity": 0}, "hoverinfo": "skip", "showlegend": False}]  # fmt: skip
    hidden = {"visible": False, "fixedrange": True}
    layout = {
        "title": {
            "text": t("Self-Instruct → Alpaca: the pipeline", "Self-Instruct → Alpaca：流程")(lang)
        },
        "shapes": shapes,
        "annotations": notes,
        "xaxis": {**hidden, "range": [0, 1]},
        "yaxis": {**hidden, "range": [-0.1, 5.9]},
        "height": 380,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
    }
    return _figure(data, layout)


def _filter_run(p: Params, run: dict, lang: str) -> go.Figure:
    index = np.arange(len(run["items"]))
    status = np.asarray(run["status"])
    groups = [
        ("kept", Text("kept", "保留")(lang), KEPT, status == "kept"),
        ("rouge", Text("rejected: ROUGE-L", "拒绝：ROUGE-L")(lang), BLOCKED, status == "rouge"),
        (
            "rules",
            Text("rejected: rules", "拒绝：规则")(lang),
            RULED,
            ~np.isin(status, ["kept", "rouge"]),
        ),
    ]
    data = []
    for _, name, color, mask in groups:
        hover = [
            f"{_short(run['items'][i]['instruction'])}<br>{status[i]}<br>↔ {_short(_text_of(run, run['blocking'][i]))}"
            for i in index[mask]
        ]
        data.append({"type": "scatter", "x": index[mask], "y": run["best"][mask], "mode": "markers",
                     "name": name, "marker": {"color": color, "size": 6}, "hovertext": hover,
                     "hoverinfo": "text+y"})  # fmt: skip
    data.append({"type": "scatter", "x": [0, len(index) - 1], "y": [p.threshold] * 2, "mode": "lines",
                 "line": {"dash": "dash", "color": COLORWAY[4]},
                 "name": Text(f"threshold {p.threshold:g}", f"阈值 {p.threshold:g}")(lang)})  # fmt: skip
    layout = {
        "title": {
            "text": Text(
                "The filter run: each candidate's highest ROUGE-L against pool + kept",
                "过滤过程：每个候选与指令池 + 已保留指令的最高 ROUGE-L",
            )(lang)
        },
        "annotations": [
            caption(
                Text(
                    f"kept {int((status == 'kept').sum())} of {len(index)}",
                    f"{len(index)} 条中保留 {int((status == 'kept').sum())} 条",
                )(lang)
            )
        ],
        "xaxis": {"title": {"text": Text("candidate, in order", "候选（按顺序）")(lang)}},
        "yaxis": {
            "title": {"text": Text("highest ROUGE-L", "最高 ROUGE-L")(lang)},
            "range": [0, 1.05],
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 420,
    }
    return _figure(data, layout)


def _lcs_mask(a: list[str], b: list[str]) -> tuple[set[int], set[int]]:
    """Positions of one longest common subsequence in a and in b (backtracking the DP table)."""
    table = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1, j + 1] = (
                table[i, j] + 1 if x == y else max(table[i, j + 1], table[i + 1, j])
            )
    i, j, in_a, in_b = len(a), len(b), set(), set()
    while i and j:
        if a[i - 1] == b[j - 1]:
            in_a.add(i - 1)
            in_b.add(j - 1)
            i, j = i - 1, j - 1
        elif table[i - 1, j] >= table[i, j - 1]:
            i -= 1
        else:
            j -= 1
    return in_a, in_b


def _lit(tokens: list[str], marked: set[int], color: str) -> str:
    words = [f"<b><span style='color:{color}'>{escape(t, quote=False)}</span></b>" if i in marked else escape(t, quote=False)
             for i, t in enumerate(tokens)]  # fmt: skip
    lines, line = [], []
    for word in words:
        line.append(word)
        if len(line) == 14:
            lines.append(" ".join(line))
            line = []
    return "<br>".join([*lines, " ".join(line)][:6])


def _pair_view(p: Params, run: dict, lang: str) -> go.Figure:
    from core.alignment.self_instruct import rouge_l, tokens

    c = min(p.example, len(run["items"]) - 1)
    candidate = run["items"][c]["instruction"]
    other = _text_of(run, run["blocking"][c])
    a, b = tokens(candidate), tokens(other)
    in_a, in_b = _lcs_mask(a, b) if a and b else (set(), set())
    score = rouge_l(candidate, other) if other else 0.0
    t = Text
    notes = [
        {"x": 0, "y": 0.95, "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
         "text": f"<b>{t('candidate', '候选')(lang)} #{c}</b> ({run['status'][c]})<br>{_lit(a, in_a, BLOCKED)}"},
        {"x": 0, "y": 0.45, "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
         "text": f"<b>{t('its best match', '最相似的指令')(lang)}</b><br>{_lit(b, in_b, BLOCKED) or '—'}"},
    ]  # fmt: skip
    data = [{"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "markers", "marker": {"opacity": 0},
             "hoverinfo": "skip", "showlegend": False}]  # fmt: skip
    hidden = {"visible": False, "range": [0, 1], "fixedrange": True}
    lcs = len(in_a)
    layout = {
        "title": {"text": t(f"One pair: LCS = {lcs} tokens, ROUGE-L = {score:.3f}", f"一对指令：LCS = {lcs} 个词，ROUGE-L = {score:.3f}")(lang)},
        "annotations": [*notes, caption(t(f"P = {lcs}/{len(a)}, R = {lcs}/{max(len(b), 1)}; the LCS tokens are lit", f"P = {lcs}/{len(a)}，R = {lcs}/{max(len(b), 1)}；LCS 中的词已高亮")(lang))],
        "xaxis": hidden,
        "yaxis": hidden,
        "height": 330,
        "margin": {"l": 10, "r": 10, "t": 70, "b": 10},
    }  # fmt: skip
    return _figure(data, layout)


def _matrix_figure(p: Params, run: dict, lang: str) -> go.Figure:
    n = len(run["items"])
    n_pool = len(run["seeds"])
    z = run["scores"][:n, : n_pool + n]
    rejected = [i for i, s in enumerate(run["status"]) if s == "rouge"]
    data = [
        {"type": "heatmap", "z": z, "zmin": 0, "zmax": 1, "colorscale": "Viridis",
         "colorbar": {"title": {"text": "ROUGE-L"}},
         "hovertemplate": "candidate %{y}, column %{x}: %{z:.2f}<extra></extra>"},
        {"type": "scatter", "x": [run["blocking"][i] for i in rejected], "y": rejected, "mode": "markers",
         "marker": {"symbol": "x", "size": 6, "color": BLOCKED},
         "name": Text("blocking cell", "阻挡的格子")(lang)},
    ]  # fmt: skip
    shapes = []
    if n_pool:
        shapes.append({"type": "line", "x0": n_pool - 0.5, "x1": n_pool - 0.5, "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": "#E5E7EB", "width": 2}})  # fmt: skip
    layout = {
        "title": {"text": Text("Candidates × (seed pool | candidates)", "候选 × （种子池 | 候选）")(lang)},
        "annotations": [caption(Text(f"left of the line: the {n_pool} seeds; ×: the instruction that blocked a candidate", f"竖线左侧：{n_pool} 个种子；×：阻挡某个候选的指令")(lang))],
        "xaxis": {"title": {"text": Text("seed, then candidate", "先种子，后候选")(lang)}},
        "yaxis": {"title": {"text": Text("candidate", "候选")(lang)}, "autorange": "reversed"},
        "shapes": shapes,
        "showlegend": False,
        "height": 460,
    }  # fmt: skip
    return _figure(data, layout)


def _histogram(p: Params, run: dict, lang: str) -> go.Figure:
    n_pool = len(run["seeds"])
    kept = run["kept"]
    values = run["scores"][kept, :n_pool].max(axis=1) if n_pool and kept else np.zeros(0)
    data = [{"type": "histogram", "x": values, "xbins": {"start": 0, "end": 1.0001, "size": 0.05},
             "marker": {"color": KEPT}, "name": Text("kept", "保留")(lang)}]  # fmt: skip
    layout = {
        "title": {"text": Text("Kept instructions: highest ROUGE-L to the seed tasks", "保留的指令与种子任务的最高 ROUGE-L")(lang)},
        "annotations": [caption(Text("Self-Instruct's Figure 3: most new instructions overlap the seeds little", "Self-Instruct 图 3：多数新指令与种子重合很少")(lang))],
        "xaxis": {"title": {"text": "ROUGE-L"}, "range": [0, 1]},
        "yaxis": {"title": {"text": Text("instructions", "指令数")(lang)}},
        "bargap": 0.05,
        "height": 360,
    }  # fmt: skip
    return _figure(data, layout)


def _template_figure(p: Params, run: dict, lang: str) -> go.Figure:
    from core.alignment.self_instruct import alpaca_prompt

    c = min(p.example, len(run["items"]) - 1)
    item = run["items"][c]
    panels = []
    for with_input in (True, False):
        prompt = alpaca_prompt(item["instruction"], item["input"] if with_input else "")
        response = (item["output"].split() or ["…"]) + ["</s>"]
        words = [escape(w, quote=False) for w in prompt.split()][-40:]
        lit = [
            f"<b><span style='color:{COLORWAY[2]}'>{escape(w, quote=False)}</span></b>"
            for w in response[:30]
        ]
        lines, line = [], []
        for word in ["…", *words, *lit]:
            line.append(word)
            if len(line) == 16:
                lines.append(" ".join(line))
                line = []
        lines.append(" ".join(line))
        panels.append("<br>".join(lines))
    t = Text
    notes = [
        {"x": 0, "y": 1.0, "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
         "text": f"<b>{t('with input', '带输入')(lang)}</b><br>{panels[0]}"},
        {"x": 0, "y": 0.45, "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
         "text": f"<b>{t('without input', '不带输入')(lang)}</b><br>{panels[1]}"},
    ]  # fmt: skip
    data = [{"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "markers", "marker": {"opacity": 0},
             "hoverinfo": "skip", "showlegend": False}]  # fmt: skip
    hidden = {"visible": False, "range": [0, 1], "fixedrange": True}
    layout = {
        "title": {"text": t("Alpaca's template: only the response and the end token carry loss", "Alpaca 的模板：只有回答和结束符计入损失")(lang)},
        "annotations": [*notes, caption(t("whitespace tokens (LLaMA's tokenizer is not bundled); lit = loss", "按空格分词（未附带 LLaMA 分词器）；高亮 = 计入损失")(lang))],
        "xaxis": hidden,
        "yaxis": hidden,
        "height": 460,
        "margin": {"l": 10, "r": 10, "t": 70, "b": 10},
    }  # fmt: skip
    return _figure(data, layout)


def _sunburst_trace(texts: list[str], domain: list[float], name: str) -> tuple[dict, float]:
    """Top 20 verbs, 4 nouns each (Self-Instruct's Figure 2), and the share parsed."""
    parsed = [pair for pair in map(_parse, texts) if pair is not None]
    verb_counts = Counter(v for v, _ in parsed)
    verbs = sorted(verb_counts.items(), key=lambda x: (-x[1], x[0]))[:TOP_VERBS]  # ties: a–z
    nouns = Counter(parsed)
    ids, labels, parents, values = [], [], [], []
    for verb, count in verbs:
        ids.append(verb), labels.append(verb), parents.append(""), values.append(count)
        top = sorted(
            ((n, c) for (v, n), c in nouns.items() if v == verb), key=lambda x: (-x[1], x[0])
        )
        for noun, c in top[:TOP_NOUNS]:
            (
                ids.append(f"{verb}/{noun}"),
                labels.append(noun),
                parents.append(verb),
                values.append(c),
            )
    trace = {"type": "sunburst", "ids": ids, "labels": labels, "parents": parents, "values": values,
             "branchvalues": "remainder", "domain": {"x": domain, "y": [0, 0.9]}, "name": name,
             "insidetextorientation": "radial", "maxdepth": 2,
             "hovertemplate": "%{id}: %{value}<extra>" + name + "</extra>"}  # fmt: skip
    return trace, (len(parsed) / len(texts) if texts else 0.0)


def _diversity(p: Params, run: dict, lang: str) -> go.Figure:
    texts = [x["instruction"] for x in run["items"]]
    kept = [texts[i] for i in run["kept"]]
    rejected = [t for i, t in enumerate(texts) if run["status"][i] != "kept"]
    left, kept_share = _sunburst_trace(kept, [0, 0.48], Text("kept", "保留")(lang))
    right, rejected_share = _sunburst_trace(rejected, [0.52, 1], Text("rejected", "拒绝")(lang))
    heads = [
        Text(f"kept: {len(kept)}, {kept_share:.0%} parsed", f"保留：{len(kept)} 条，解析出 {kept_share:.0%}"),
        Text(f"rejected: {len(rejected)}, {rejected_share:.0%} parsed", f"拒绝：{len(rejected)} 条，解析出 {rejected_share:.0%}"),
    ]  # fmt: skip
    notes = [
        {"x": x, "y": 0.97, "xref": "paper", "yref": "paper", "showarrow": False,
         "xanchor": "center", "text": f"<b>{head(lang)}</b>"}
        for x, head in zip((0.24, 0.76), heads, strict=True)
    ]  # fmt: skip
    layout = {
        "title": {"text": Text("Verb → noun: the top 20 verbs and their 4 commonest objects", "动词 → 名词：最常见的 20 个动词及各自最常见的 4 个宾语")(lang)},
        "annotations": [*notes, caption(Text("rule-based parse (first verb, head of its first noun chunk); inner ring verbs, outer ring nouns", "基于规则的解析（首个动词及其后第一个名词短语的中心词）；内圈动词，外圈名词")(lang))],
        "height": 520,
        "margin": {"l": 10, "r": 10, "t": 70, "b": 40},
    }  # fmt: skip
    return _figure([left, right], layout)


def _diversity_sweep(p: Params, lang: str) -> go.Figure:
    sweep = _sweep(p.model_copy(update={"threshold": 0.7, "example": 0}))
    x = list(sweep["thresholds"])
    now = x.index(min(x, key=lambda t: abs(t - p.threshold)))
    data = [
        {"type": "scatter", "x": x, "y": sweep["diversity"], "mode": "lines+markers",
         "name": Text("distinct verb–noun pairs per 100 kept", "每 100 条保留指令中不同的动词–名词对")(lang),
         "line": {"color": KEPT}},
        {"type": "scatter", "x": x, "y": sweep["kept"], "mode": "lines+markers", "yaxis": "y2",
         "name": Text("kept instructions", "保留的指令数")(lang), "line": {"color": RULED, "dash": "dot"}},
        {"type": "scatter", "x": [x[now]], "y": [sweep["diversity"][now]], "mode": "markers",
         "marker": {"size": 13, "color": BLOCKED, "symbol": "diamond"},
         "name": Text(f"this threshold ({p.threshold:g})", f"当前阈值（{p.threshold:g}）")(lang)},
    ]  # fmt: skip
    layout = {
        "title": {"text": Text("Diversity against the threshold", "多样性与阈值")(lang)},
        "annotations": [caption(Text("a lower threshold keeps fewer, more varied instructions", "阈值越低，保留的指令越少、越多样")(lang))],
        "xaxis": {"title": {"text": Text("ROUGE-L threshold", "ROUGE-L 阈值")(lang)}, "range": [0.27, 1.03]},
        "yaxis": {"title": {"text": Text("pairs per 100 kept", "每 100 条的对数")(lang)}, "rangemode": "tozero"},
        "yaxis2": {"title": {"text": Text("kept", "保留数")(lang)}, "overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False},
        "legend": {"orientation": "h", "y": -0.28},
        "height": 420,
    }  # fmt: skip
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    from core.alignment.self_instruct import alpaca_prompt

    run = _run(p)
    status = run["status"]
    counts = {
        Text("kept", "保留")(lang): status.count("kept"),
        Text("rejected by ROUGE-L", "被 ROUGE-L 拒绝")(lang): status.count("rouge"),
        Text("rejected by rules", "被规则拒绝")(lang): len(status) - status.count("kept") - status.count("rouge"),
    }  # fmt: skip
    c = min(p.example, len(run["items"]) - 1)
    item = run["items"][c]
    rows = "\n".join(f"| {name} | {n} |" for name, n in counts.items())
    notes = (
        f"| | {Text('candidates', '候选')(lang)} |\n|---|---:|\n{rows}\n\n"
        + Text(
            "The template for the example (Alpaca's `train.py`):",
            "示例的模板（Alpaca 的 `train.py`）：",
        )(lang)
        + "\n\n```text\n"
        + alpaca_prompt(item["instruction"], item["input"])
        + "\n```"
    )
    figures = [
        _pipeline(p, run, lang),
        _filter_run(p, run, lang),
        _pair_view(p, run, lang),
        _matrix_figure(p, run, lang),
        _histogram(p, run, lang),
        _diversity(p, run, lang),
        _diversity_sweep(p, lang),
        _template_figure(p, run, lang),
    ]
    return Rendered(figures, notes)


presets = {
    "code": Params(candidates="code", pool="code", count=200, threshold=0.7),
    "strict": Params(candidates="code", pool="code", count=200, threshold=0.5),
    "human": Params(candidates="user", pool="self-instruct", count=252, threshold=0.7,
                    keyword_filter=False, length_filter=False),
    "shuffled": Params(candidates="code", pool="code", count=200, threshold=0.7, order="shuffled"),
}  # fmt: skip
preset_titles = {
    "code": Text("The paper's filter on generated code", "论文的过滤器用在生成的代码指令上"),
    "strict": Text("A strict filter (0.5)", "严格的过滤器（0.5）"),
    "human": Text("Human-written: 248 of 252 pass at 0.7", "人工编写：0.7 时 252 条中 248 条通过"),
    "shuffled": Text("Order matters: the same set shuffled", "顺序有影响：同一组打乱后"),
}

EXPLANATION = Text(
    en="""
**Self-Instruct** (Wang et al. 2023) bootstraps instruction data from a language model: start from
175 human-written seed tasks, show the model 8 instructions (6 seeds, 2 of its own earlier ones)
and let it write more. A new instruction joins the pool only if its ROUGE-L with every instruction
already in the pool is at most 0.7; rules also drop what a text model cannot do (images, files,
plots), instructions that are too short or long, and odd first characters. **Alpaca** (Taori et al.
2023) used the recipe with text-davinci-003 (3 seeds per prompt, 20 instructions per request) to
produce 52K examples and fine-tuned LLaMA-7B on them: about 3 hours on 8 A100s, roughly $100.

**ROUGE-L** (Lin 2004) compares two texts by their longest common subsequence of words: precision
LCS/|candidate|, recall LCS/|reference|, F = 2PR/(P + R). The pair view lights one LCS. The filter is
greedy and order-dependent: a candidate is compared with the seeds and with the candidates kept
before it, so shuffling the same set keeps a different subset.

**What you see.** No language model runs here: released samples stand in for the generations.
GPTeacher's code instructions (written by GPT-4 in Alpaca's format) were never filtered, and many
near-duplicates are rejected at 0.7. Self-Instruct's 252 user-oriented instructions, written by
people, almost all pass. The template shows what the model is trained on: the whole prompt is
input, and only the response and the end-of-sequence token carry the loss.

**Diversity.** Self-Instruct's Figure 2 shows each instruction's verb and its direct object. Here a
rule stands in for the paper's constituency parser: the first verb (after "please", "can you", …)
and the last word of the noun phrase after it; it matches hand labels on 40 of 44 held-out
instructions. Code instructions crowd onto a few pairs (write, create, implement → function,
program, script); lowering the threshold keeps fewer instructions with more distinct pairs per 100.
""",
    zh="""
**Self-Instruct**（Wang 等 2023）用语言模型自举生成指令数据：从 175 条人工编写的种子任务出发，每次给模型看
8 条指令（6 条种子、2 条它之前生成的），让它写出新的指令。新指令只有在与池中每条指令的 ROUGE-L 都不超过 0.7 时
才加入指令池；另有规则去掉文本模型做不了的任务（图像、文件、绘图）、过短或过长的指令，以及首字符异常的指令。
**Alpaca**（Taori 等 2023）用 text-davinci-003 按这个方法（每个提示 3 个种子，每次请求生成 20 条）得到 5.2 万条
样本，并在其上微调 LLaMA-7B：8 张 A100 约 3 小时，成本约 100 美元。

**ROUGE-L**（Lin 2004）用两段文本的最长公共子序列（按词）来比较它们：精确率 LCS/|候选|，召回率 LCS/|参考|，
F = 2PR/(P + R)。配对视图高亮了一个 LCS。过滤是贪心的，并且依赖顺序：候选要与种子以及在它之前保留下来的候选比较，
所以把同一组指令打乱，保留下来的子集会不同。

**图中看到的。** 这里不运行语言模型：用已发布的样本代替生成结果。GPTeacher 的代码指令（由 GPT-4 按 Alpaca
格式编写）从未经过过滤，阈值 0.7 时许多近似重复的指令被拒绝。Self-Instruct 的 252 条面向用户的指令由人编写，
几乎全部通过。模板展示了模型实际训练的内容：整个提示都是输入，只有回答和序列结束符计入损失。

**多样性。** Self-Instruct 的图 2 展示了每条指令的动词及其直接宾语。这里用规则代替论文中的成分句法分析器：
取第一个动词（跳过 "please"、"can you" 等开头），以及它后面名词短语的最后一个词；在 44 条未参与调规则的
指令上，它与人工标注有 40 条一致。代码指令集中在少数几对上（write、create、implement → function、program、
script）；降低阈值，保留的指令更少，每 100 条中不同的动词–名词对更多。
""",
)

DEMO = Demo(
    slug="alpaca",
    section="finetuning",
    figures=8,
    title=Text("Self-Instruct and Alpaca: instruction data", "Self-Instruct 与 Alpaca：指令数据"),
    summary=Text(
        "The ROUGE-L novelty filter on released instructions, and Alpaca's training template.",
        "在已发布的指令上运行 ROUGE-L 新颖性过滤器，以及 Alpaca 的训练模板。",
    ),
    sources=(
        Source(
            "Self-Instruct: Aligning Language Models with Self-Generated Instructions",
            "Y. Wang, Y. Kordi, S. Mishra, A. Liu, N. A. Smith, D. Khashabi, H. Hajishirzi",
            2023,
            "https://arxiv.org/abs/2212.10560",
        ),
        Source(
            "Alpaca: A Strong, Replicable Instruction-Following Model",
            "R. Taori, I. Gulrajani, T. Zhang, Y. Dubois, X. Li, C. Guestrin, P. Liang, T. B. Hashimoto",
            2023,
            "https://crfm.stanford.edu/2023/03/13/alpaca.html",
        ),
        Source(
            "ROUGE: A Package for Automatic Evaluation of Summaries",
            "C.-Y. Lin",
            2004,
            "https://aclanthology.org/W04-1013/",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
