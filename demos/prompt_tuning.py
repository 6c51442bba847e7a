"""Prompt methods: what do prompt tuning, P-tuning, prefix-tuning and deep prompts train, and
where does it enter a frozen model?

All four keep the pretrained weights frozen and learn n "virtual tokens": at the input (prompt
tuning, P-tuning with an encoder) or as keys and values in every attention layer (prefix-tuning
through an MLP, P-Tuning v2's deep prompts directly). The figures place them in a block, count
them for real shapes, draw one head's attention over [prefix | tokens], and fine-tune a tiny
frozen transformer live with the chosen methods beside full fine-tuning.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.lora import SHAPES, ShapeName  # the same real shapes and their names
from demos.plots_blocks import arrow, box, figure, hover_points
from demos.theme import COLORWAY, caption

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "assets" / "models" / "tiny_lm.npz"
COUNT_SWEEP = np.unique(np.round(np.logspace(0, np.log10(256), 40)).astype(int))

Method = Literal["prompt", "p-tuning-mlp", "p-tuning-lstm", "prefix", "deep-prompt", "full"]
METHODS: dict[str, Text] = {
    "prompt": Text("prompt tuning", "Prompt tuning"),
    "p-tuning-mlp": Text("P-tuning (MLP encoder)", "P-tuning（MLP 编码器）"),
    "p-tuning-lstm": Text("P-tuning (bi-LSTM encoder)", "P-tuning（双向 LSTM 编码器）"),
    "prefix": Text("prefix-tuning (MLP)", "Prefix-tuning（MLP）"),
    "deep-prompt": Text("deep prompts (P-Tuning v2)", "深层提示（P-Tuning v2）"),
    "full": Text("full fine-tuning", "全量微调"),
}
COLORS = {
    "prompt": COLORWAY[0],
    "p-tuning-mlp": COLORWAY[5],
    "p-tuning-lstm": COLORWAY[7],
    "prefix": COLORWAY[1],
    "deep-prompt": COLORWAY[4],
    "full": "#8C8C8C",
}
INPUT_METHODS = ("prompt", "p-tuning-mlp", "p-tuning-lstm")  # = core.finetuning.tiny_lm's
KV_METHODS = ("prefix", "deep-prompt")
Task = Literal["copy", "reverse", "sort", "add one", "reverse + add one"]
TASKS: dict[str, Text] = {
    "copy": Text("copy", "复制"),
    "reverse": Text("reverse", "倒序"),
    "sort": Text("sort", "排序"),
    "add one": Text("add one", "每位加一"),
    "reverse + add one": Text("reverse + add one (new)", "倒序再加一（新技能）"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    methods: list[Method] = param(
        ["prompt", "p-tuning-mlp", "prefix", "deep-prompt", "full"],
        en="Methods (tiny model)",
        zh="方法（小模型）",
        help_en="Each trains alone on the same examples; full fine-tuning is the reference.",
        help_zh="各自独立训练、使用相同样本；全量微调作为参照。",
        choices=METHODS,
        min_length=1,
        max_length=len(METHODS),
    )
    n_virtual: int = param(
        4, en="Virtual tokens n (tiny model)", zh="虚拟 token 数 n（小模型）", ge=1, le=16
    )
    encoder_hidden: int = param(
        48,
        en="Encoder width h",
        zh="编码器宽度 h",
        help_en="Hidden width of the P-tuning encoders and of the prefix MLP.",
        help_zh="P-tuning 编码器和 prefix MLP 的隐藏层宽度。",
        ge=16,
        le=64,
        step=8,
    )
    reparameterise: bool = param(
        True,
        en="Train through the encoders",
        zh="通过编码器训练",
        help_en="Off: P-tuning and prefix start from the same prompts but train them directly.",
        help_zh="关闭：P-tuning 和 prefix 从相同的提示出发，但直接训练提示本身。",
    )
    task: Task = param(
        "reverse",
        en="Task (no task token given)",
        zh="任务（不给任务 token）",
        help_en="The model was pretrained on the first four, each named by a task token.",
        help_zh="模型预训练过前四个任务，每个任务由一个任务 token 指明。",
        choices=TASKS,
    )
    # ≤ 40 steps of 16 examples: a new setting trains in under 2 s on one thread
    steps: int = param(40, en="Adam steps", zh="Adam 步数", ge=10, le=40, step=10)
    lr: float = param(
        0.03,
        en="Learning rate (prompts)",
        zh="学习率（提示）",
        help_en="Full fine-tuning uses a tenth of it (a prompt's rate would wreck the weights).",
        help_zh="全量微调使用它的十分之一（提示的学习率会毁掉权重）。",
        ge=0.001,
        le=0.1,
        step=0.001,
    )
    seed: int = param(0, en="Seed", zh="随机种子", ge=0, le=99)
    layer: int = param(2, en="Attention map: layer", zh="注意力图：层", ge=1, le=2)
    head: int = param(1, en="Attention map: head", zh="注意力图：头", ge=1, le=4)
    shape: ShapeName = param(
        "llama-7b", en="Counts: model shape", zh="计数：模型形状", choices=SHAPES
    )
    count_tokens: int = param(
        20, en="Counts: virtual tokens", zh="计数：虚拟 token 数", ge=1, le=256
    )


# --- the live run, cached by its training parameters ----------------------------------------------


@lru_cache(maxsize=1)
def _weights():
    from core.finetuning.tiny_lm import load_weights

    return load_weights(WEIGHTS)


@lru_cache(maxsize=16)
def _run(
    methods: tuple[str, ...],
    n_virtual: int,
    encoder_hidden: int,
    reparameterise: bool,
    task: str,
    steps: int,
    lr: float,
    seed: int,
) -> dict:
    from core.finetuning.tiny_lm import fine_tune
    from core.trace import Trace

    trace = Trace()
    result = fine_tune(
        _weights(),
        methods,
        task,
        n_virtual=n_virtual,
        encoder_hidden=encoder_hidden,
        reparameterise=reparameterise,
        steps=steps,
        lr=lr,
        full_lr=lr / 10,
        seed=seed,
        trace=trace,
    )
    attention = {}
    for event in trace["attention"]:
        attention.setdefault(event["method"], []).append(event)
    runs = {}
    for method, run in result["runs"].items():
        events = attention[method]
        # answer rows only (the last 4 queries), averaged over heads and the 64 examples; the
        # first n key columns are the prefix (key/value methods) or the virtual tokens (input)
        mass = [
            0.0 if method == "full" else float(e["weights"][:, :, -4:, :n_virtual].sum(-1).mean())
            for e in events
        ]
        runs[method] = {
            "losses": run["losses"],
            "exact_match": run["exact_match"],
            "trainable": run["trainable"],
            "stored": run["stored"],
            "mass": mass,
            "nearest": _nearest(run["prompt"]) if method in INPUT_METHODS else None,
            "maps": [e["weights"][0].numpy() for e in events],  # (H, T, P + T) per layer
            "check": _sdpa_error(events) if method in KV_METHODS else None,
        }
    tokens = result["held_out"][0].tolist()
    return {"runs": runs, "eval_steps": result["eval_steps"], "example": tokens}


def _nearest(prompt) -> np.ndarray:
    """Cosine similarity (n, V) of each virtual token to every vocabulary embedding."""
    import torch.nn.functional as F

    embed = _weights()["embed"]
    return (F.normalize(prompt, dim=-1) @ F.normalize(embed, dim=-1).T).numpy()


def _sdpa_error(events: list[dict]) -> float:
    """max |prefix_attention − SDPA on the concatenation with its own mask| over the layers."""
    import torch
    import torch.nn.functional as F

    from core.finetuning.prompt_tuning import prefix_attention

    worst = 0.0
    for e in events:
        q, k, v, pk, pv = e["q"], e["k"], e["v"], e["prefix_k"], e["prefix_v"]
        n, p = q.shape[2], pk.shape[2]
        for b in range(4):  # a few examples: each has its own (H, P, d) prefix view
            ours = prefix_attention(q[b : b + 1], k[b : b + 1], v[b : b + 1], pk[b], pv[b], True)
            mask = torch.cat(
                [torch.ones(n, p, dtype=torch.bool), torch.ones(n, n).tril().bool()], 1
            )
            reference = F.scaled_dot_product_attention(
                q[b : b + 1],
                torch.cat([pk[b][None], k[b : b + 1]], 2),
                torch.cat([pv[b][None], v[b : b + 1]], 2),
                attn_mask=mask,
            )
            worst = max(worst, float((ours - reference).abs().max()))
    return worst


# --- figures ---------------------------------------------------------------------------------------


def _fill(color: str, on: bool) -> str:
    """A method's colour, translucent when chosen, pale grey when not."""
    if not on:
        return "rgba(156,163,175,0.12)"
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.45)"


def _diagram(p: Params, lang: str) -> go.Figure:
    chosen = set(p.methods)
    frozen, training_only = "rgba(156,163,175,0.30)", "rgba(156,163,175,0.10)"
    shapes, notes, arrows, xs, ys, hovers = [], [], [], [], [], []

    def block(x0, y0, x1, y1, fill, label, hover, dash="solid", line="#6B7280"):
        shapes.append(box(x0, y0, x1, y1, fill, line=line, dash=dash))
        notes.append(
            {
                "x": (x0 + x1) / 2,
                "y": (y0 + y1) / 2,
                "text": label,
                "showarrow": False,
                "font": {"size": 11},
            }
        )
        xs.append((x0 + x1) / 2)
        ys.append((y0 + y1) / 2)
        hovers.append(hover)

    n = p.n_virtual
    # the frozen model, bottom to top
    block(
        3.4,
        0.2,
        6.6,
        0.8,
        frozen,
        Text("tokens x₁…x<sub>T</sub>", "输入 token x₁…x<sub>T</sub>")(lang),
        "frozen",
    )
    block(
        0.2,
        1.9,
        6.6,
        2.5,
        frozen,
        Text("sequence [v₁…vₙ | x₁…x<sub>T</sub>]", "序列 [v₁…vₙ | x₁…x<sub>T</sub>]")(lang),
        "input sequence",
    )
    for i, (y0, label) in enumerate(((2.9, "1"), (4.6, "2"))):
        block(
            3.4,
            y0,
            6.6,
            y0 + 0.6,
            frozen,
            Text(f"layer {label}: attention over [P | x]", f"第 {label} 层：在 [P | x] 上做注意力")(
                lang
            ),
            "frozen attention",
        )
        block(3.4, y0 + 0.9, 6.6, y0 + 1.4, frozen, "MLP", "frozen MLP")
        lit = chosen & set(KV_METHODS)
        color = COLORS["prefix"] if "prefix" in lit else COLORS["deep-prompt"]
        block(
            7.2,
            y0,
            9.8,
            y0 + 0.6,
            _fill(color, bool(lit)),
            f"P<sub>k</sub>, P<sub>v</sub>: {n}×d {Text('per layer', '每层')(lang)}",
            "key/value prefix of this layer",
        )
        arrows.append(arrow(7.2, y0 + 0.3, 6.6, y0 + 0.3))
        arrows.append(arrow(5.0, y0 - 0.4 if i == 0 else y0 - 0.3, 5.0, y0))
    block(3.4, 6.4, 6.6, 6.9, frozen, Text("LM head → answer", "输出头 → 答案")(lang), "frozen")
    arrows += [arrow(5.0, 0.8, 5.0, 1.9), arrow(5.0, 4.3, 5.0, 4.6), arrow(5.0, 6.0, 5.0, 6.4)]
    # input side (left)
    block(
        0.2,
        0.2,
        2.8,
        0.8,
        _fill(COLORS["prompt"], "prompt" in chosen),
        Text(f"prompt:<br>{n}×d embeddings", f"提示：<br>{n}×d 的嵌入")(lang),
        "prompt tuning (Lester et al.)",
    )
    p_tuning = chosen & {"p-tuning-mlp", "p-tuning-lstm"}
    block(
        0.2,
        1.0,
        2.8,
        1.6,
        training_only if p_tuning else "rgba(156,163,175,0.05)",
        Text(
            "P-tuning: MLP / bi-LSTM<br>encoder (training only)",
            "P-tuning：MLP / 双向 LSTM<br>编码器（仅训练时）",
        )(lang),
        "P-tuning's encoder, dropped after training",
        dash="dash",
        line=COLORS["p-tuning-mlp"] if p_tuning else "#9CA3AF",
    )
    arrows += [arrow(1.5, 0.8, 1.5, 1.0), arrow(1.5, 1.6, 1.5, 1.9)]
    # key/value side (right)
    block(
        7.2,
        0.2,
        9.8,
        0.8,
        _fill(COLORS["deep-prompt"], bool(chosen & set(KV_METHODS))),
        Text(f"prefix: {n}×d<br>(deep prompts: {n}×2Ld)", f"前缀：{n}×d<br>（深层提示：{n}×2Ld）")(
            lang
        ),
        "prefix-tuning's embedding, or deep prompts' keys and values",
    )
    block(
        7.2,
        1.2,
        9.8,
        2.2,
        training_only if "prefix" in chosen else "rgba(156,163,175,0.05)",
        Text("prefix MLP d→h→2Ld<br>(training only)", "prefix 的 MLP d→h→2Ld<br>（仅训练时）")(
            lang
        ),
        "prefix-tuning's reparameterisation, dropped after training",
        dash="dash",
        line=COLORS["prefix"] if "prefix" in chosen else "#9CA3AF",
    )
    arrows += [arrow(8.5, 0.8, 8.5, 1.2), arrow(8.5, 2.2, 8.5, 2.9), arrow(9.5, 3.5, 9.5, 4.6)]
    legend = Text(
        "coloured: chosen methods; grey: frozen; dashed: encoders used only while training",
        "彩色：所选方法；灰色：冻结；虚线：只在训练时使用的编码器",
    )(lang)
    data = [hover_points(xs, ys, hovers)]
    hidden = {"visible": False, "range": [0, 10], "fixedrange": True}
    layout = {
        "title": {
            "text": Text(
                "Where each method attaches: input embeddings, or keys and values of every layer",
                "各方法接在哪里：输入嵌入，或每一层的键和值",
            )(lang)
        },
        "shapes": shapes,
        "annotations": [*notes, *arrows, caption(legend, y=1.0)],
        "xaxis": hidden,
        "yaxis": {**hidden, "range": [0, 7.1]},
        "height": 560,
        "margin": {"l": 10, "r": 10, "t": 70, "b": 10},
    }
    return figure(data, layout)


@lru_cache(maxsize=16)
def _counts(shape: str, count_tokens: int) -> dict:
    from core.finetuning.prompt_tuning import parameter_counts

    hidden = None  # the real shapes' encoders as wide as the model (h = d)
    sweep = {
        method: [parameter_counts(method, shape, int(n), hidden) for n in COUNT_SWEEP]
        for method in METHODS
        if method != "full"
    }
    chosen = {
        method: parameter_counts(method, shape, count_tokens, hidden)
        for method in METHODS
        if method != "full"
    }
    return {"sweep": sweep, "chosen": chosen}


def _counts_figure(p: Params, counts: dict, lang: str) -> go.Figure:
    data = []
    for method, rows in counts["sweep"].items():
        data.append(
            {
                "type": "scatter",
                "x": COUNT_SWEEP,
                "y": [row["trainable"] for row in rows],
                "mode": "lines",
                "name": METHODS[method](lang) + Text(": trained", "：训练时")(lang),
                "line": {"color": COLORS[method], "width": 2.5},
                "legendgroup": method,
            }
        )
    for method in ("prompt", "deep-prompt"):  # the stored sizes: n·d, or n·2·L·d_kv
        data.append(
            {
                "type": "scatter",
                "x": COUNT_SWEEP,
                "y": [row["stored"] for row in counts["sweep"][method]],
                "mode": "lines",
                "name": Text(
                    "stored after: n·d (input side)"
                    if method == "prompt"
                    else "stored after: n·2L·d_kv (key/value side)",
                    "训练后保存：n·d（输入侧）"
                    if method == "prompt"
                    else "训练后保存：n·2L·d_kv（键值侧）",
                )(lang),
                "line": {"color": "#6B7280", "dash": "dot" if method == "prompt" else "dash"},
            }
        )
    n = p.count_tokens
    marks = {m: counts["chosen"][m]["stored"] for m in ("prompt", "deep-prompt")}
    data.append(
        {
            "type": "scatter",
            "x": [n, n],
            "y": list(marks.values()),
            "mode": "markers+text",
            "text": [f"{v:,}" for v in marks.values()],
            "textposition": "middle right",
            "marker": {"size": 10, "color": "#6B7280"},
            "name": Text(f"stored at n = {n}", f"n = {n} 时保存的参数")(lang),
        }
    )
    layout = {
        "title": {
            "text": Text(
                f"Trainable and stored numbers against n, {SHAPES[p.shape].en} (h = d)",
                f"可训练与保存的参数量随 n 的变化，{SHAPES[p.shape].zh}（h = d）",
            )(lang)
        },
        "xaxis": {
            "type": "log",
            "title": {"text": Text("virtual tokens n", "虚拟 token 数 n")(lang)},
        },
        "yaxis": {
            "type": "log",
            "exponentformat": "SI",
            "title": {"text": Text("parameters", "参数量")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.22},
        "height": 480,
        "margin": {"b": 140},
    }
    return figure(data, layout)


def _token_names(tokens: list[int]) -> list[str]:
    from core.finetuning.tiny_lm import VOCAB

    return [VOCAB[t] for t in tokens]


def _attention_figure(p: Params, run: dict, lang: str) -> go.Figure:
    runs = run["runs"]
    shown = next((m for m in (*KV_METHODS, *INPUT_METHODS, "full") if m in runs), next(iter(runs)))
    weights = runs[shown]["maps"][p.layer - 1][p.head - 1]  # (T, P + T)
    body = _token_names(run["example"][:-1])
    n = p.n_virtual
    if shown in KV_METHODS:  # the prefix stands in for the n virtual positions
        rows = body
        columns = [f"P{i + 1}" for i in range(n)] + rows
        prefix = n
    else:  # virtual tokens, or for full fine-tuning n fillers, at the start of the sequence
        rows = [f"v{i + 1}" if shown in INPUT_METHODS else "." for i in range(n)] + body
        columns, prefix = rows, 0
    t = len(rows)
    # the causal mask: token column j is hidden from row i when j > i; prefix columns never
    masked = np.zeros((t, prefix + t), dtype=bool)
    masked[:, prefix:] = np.triu(np.ones((t, t), dtype=bool), 1)
    labels = [f"{i}:{name}" for i, name in enumerate(rows)]
    column_labels = columns[:prefix] + labels  # a token keeps its row's label
    if weights.shape[0] < t:  # the last layer computed queries for the answer positions only
        labels, masked = labels[-weights.shape[0] :], masked[-weights.shape[0] :]
    z = np.where(masked, np.nan, weights)
    data = [
        {
            "type": "heatmap",
            "z": np.where(masked, 1.0, np.nan),
            "x": column_labels,
            "y": labels,
            "colorscale": [[0, "rgba(156,163,175,0.35)"], [1, "rgba(156,163,175,0.35)"]],
            "showscale": False,
            "hoverinfo": "skip",
            "name": Text("masked (causal)", "被遮挡（因果）")(lang),
        },
        {
            "type": "heatmap",
            "z": z,
            "x": column_labels,
            "y": labels,
            "zmin": 0,
            "zmax": 1,
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": Text("weight", "权重")(lang)}},
            "hovertemplate": "%{y} → %{x}: %{z:.3f}<extra></extra>",
        },
    ]
    boundary = n
    note = ""
    if runs[shown]["check"] is not None:
        note = Text(
            f"max |prefix_attention − SDPA on [P; K] with its own mask| = {runs[shown]['check']:.1e}",
            f"max |prefix_attention − 拼接 [P; K] 后带自有掩码的 SDPA| = {runs[shown]['check']:.1e}",
        )(lang)
    layout = {
        "title": {
            "text": Text(
                f"{METHODS[shown].en}: layer {p.layer}, head {p.head}, one held-out example "
                "(grey: masked)",
                f"{METHODS[shown].zh}：第 {p.layer} 层第 {p.head} 个头，一个留出样本（灰色：被遮挡）",
            )(lang)
        },
        "annotations": [caption(note, y=1.0)] if note else [],
        "xaxis": {
            "title": {
                "text": Text("key: [prefix | tokens]", "键：[前缀 | token]")(lang)
                if prefix
                else Text("key: tokens", "键：token")(lang)
            },
            "tickangle": -45,
        },
        "yaxis": {
            "title": {"text": Text("query", "查询")(lang)},
            "autorange": "reversed",
        },
        "shapes": [
            {
                "type": "line",
                "x0": boundary - 0.5,
                "x1": boundary - 0.5,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": "#D55E00", "width": 2},
            }
        ],
        "height": 460,
    }
    return figure(data, layout)


def _curves_figure(run: dict, lang: str) -> go.Figure:
    data = []
    for method, r in run["runs"].items():
        losses = r["losses"]
        data.append(
            {
                "type": "scatter",
                "x": np.arange(1, len(losses) + 1),
                "y": losses,
                "mode": "lines",
                "name": METHODS[method](lang),
                "legendgroup": method,
                "line": {"color": COLORS[method], "width": 1.5},
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": run["eval_steps"],
                "y": r["exact_match"],
                "xaxis": "x2",
                "yaxis": "y2",
                "mode": "lines+markers",
                "name": METHODS[method](lang),
                "legendgroup": method,
                "showlegend": False,
                "line": {"color": COLORS[method]},
            }
        )
    layout = {
        "title": {
            "text": Text(
                "Live run: training loss (left) and exact match on 64 held-out examples (right)",
                "现场训练：训练损失（左）与 64 个留出样本上的完全匹配率（右）",
            )(lang)
        },
        "xaxis": {"domain": [0, 0.45], "title": {"text": Text("Adam step", "Adam 步数")(lang)}},
        "yaxis": {
            "type": "log",
            "title": {"text": Text("cross-entropy (answer digits)", "交叉熵（答案数字）")(lang)},
        },
        "xaxis2": {
            "domain": [0.58, 1],
            "anchor": "y2",
            "title": {"text": Text("Adam step", "Adam 步数")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "range": [-0.02, 1.02],
            "tickformat": ".0%",
            "title": {"text": Text("exact match", "完全匹配率")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 440,
        "margin": {"b": 120},
    }
    return figure(data, layout)


def _accuracy_figure(run: dict, lang: str) -> go.Figure:
    data = []
    for method, r in run["runs"].items():
        final = r["exact_match"][-1]
        data.append(
            {
                "type": "scatter",
                "x": [r["trainable"], r["stored"]],
                "y": [final, final],
                "mode": "lines+markers",
                "marker": {
                    "size": [13, 9],
                    "symbol": ["circle", "circle-open"],
                    "color": COLORS[method],
                },
                "line": {"color": COLORS[method], "dash": "dot", "width": 1},
                "name": METHODS[method](lang),
                "hovertemplate": "%{x:,} → %{y:.0%}<extra></extra>",
            }
        )
    layout = {
        "title": {
            "text": Text(
                "Final exact match against parameters: trained (filled) and stored (open)",
                "最终完全匹配率与参数量：训练时（实心）与保存的（空心）",
            )(lang)
        },
        "xaxis": {
            "type": "log",
            "title": {"text": Text("parameters (tiny model)", "参数量（小模型）")(lang)},
        },
        "yaxis": {
            "range": [-0.03, 1.05],
            "tickformat": ".0%",
            "title": {"text": Text("exact match", "完全匹配率")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 420,
        "margin": {"b": 110},
    }
    return figure(data, layout)


def _nearest_figure(run: dict, lang: str) -> go.Figure:
    from core.finetuning.tiny_lm import VOCAB

    rows, z = [], []
    for method, r in run["runs"].items():
        if r["nearest"] is None:
            continue
        for i, similarity in enumerate(r["nearest"]):
            rows.append(f"{METHODS[method](lang)} v{i + 1}")
            z.append(similarity)
    title = Text(
        "Each stored virtual token's cosine similarity to the vocabulary (★ nearest)",
        "每个保存的虚拟 token 与词表嵌入的余弦相似度（★ 最近）",
    )(lang)
    if not z:
        return figure(
            [{"type": "scatter", "x": [], "y": [], "mode": "markers", "showlegend": False}],
            {
                "title": {"text": title},
                "annotations": [
                    caption(
                        Text(
                            "Choose prompt tuning or P-tuning: key/value prefixes have no token.",
                            "请选择 prompt tuning 或 P-tuning：键值前缀没有对应的 token。",
                        )(lang),
                        y=0.5,
                    )
                ],
                "xaxis": {"visible": False},
                "yaxis": {"visible": False},
                "height": 240,
            },
        )
    z = np.asarray(z)
    best = z.argmax(1)
    data = [
        {
            "type": "heatmap",
            "z": z,
            "x": list(VOCAB),
            "y": rows,
            "zmin": -1,
            "zmax": 1,
            "colorscale": "RdBu",
            "reversescale": True,
            "colorbar": {"title": {"text": "cos"}},
            "hovertemplate": "%{y} · %{x}: %{z:.2f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": [VOCAB[j] for j in best],
            "y": rows,
            "mode": "markers",
            "marker": {
                "symbol": "star",
                "size": 14,
                "color": "#FFFFFF",
                "line": {"color": "#111827", "width": 1.5},
            },
            "name": Text("nearest token", "最近的 token")(lang),
            "hoverinfo": "skip",
        },
    ]
    layout = {
        "title": {"text": title},
        "xaxis": {
            "type": "category",  # the digits are token names, not numbers
            "tickangle": -45,
            "title": {"text": Text("vocabulary token", "词表 token")(lang)},
        },
        "yaxis": {"autorange": "reversed", "type": "category", "dtick": 1},
        "showlegend": False,
        "height": max(320, 150 + 26 * len(rows)),
    }
    return figure(data, layout)


def _mass_figure(run: dict, lang: str) -> go.Figure:
    data = [
        {
            "type": "bar",
            "x": [Text(f"layer {i + 1}", f"第 {i + 1} 层")(lang) for i in range(len(r["mass"]))],
            "y": r["mass"],
            "name": METHODS[method](lang),
            "marker": {"color": COLORS[method]},
            "hovertemplate": "%{y:.1%}<extra></extra>",
        }
        for method, r in run["runs"].items()
        if method != "full"
    ] or [{"type": "bar", "x": [], "y": [], "showlegend": False}]
    layout = {
        "title": {
            "text": Text(
                "Attention mass on the virtual tokens / prefix, answer positions, per layer",
                "答案位置上落在虚拟 token / 前缀上的注意力总量，逐层",
            )(lang)
        },
        "barmode": "group",
        "yaxis": {
            "tickformat": ".0%",
            "rangemode": "tozero",
            "title": {"text": Text("share of attention", "注意力占比")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.2},
        "height": 380,
    }
    return figure(data, layout)


def _notes(p: Params, counts: dict, run: dict, lang: str) -> str:
    header = Text(
        "| method (tiny model) | trained | stored after | final loss | exact match |\n"
        "|---|---:|---:|---:|---:|",
        "| 方法（小模型） | 训练参数 | 训练后保存 | 最终损失 | 完全匹配率 |\n|---|---:|---:|---:|---:|",
    )(lang)
    rows = [
        f"| {METHODS[m](lang)} | {r['trainable']:,} | {r['stored']:,} | "
        f"{r['losses'][-5:].mean():.3f} | {100 * r['exact_match'][-1]:.0f} % |"
        for m, r in run["runs"].items()
    ]
    n, shape = p.count_tokens, SHAPES[p.shape](lang)
    real = [
        f"| {METHODS[m](lang)} | {c['trainable']:,} | {c['stored']:,} |"
        for m, c in counts["chosen"].items()
    ]
    real_header = Text(
        f"| {shape}, n = {n} (h = d) | trained | stored after |\n|---|---:|---:|",
        f"| {shape}，n = {n}（h = d） | 训练参数 | 训练后保存 |\n|---|---:|---:|",
    )(lang)
    context = Text(
        "Tiny model: 2 layers, d = 48, 4 heads, 18-token vocabulary; batches of 16 fresh examples, "
        f"prompts at lr {p.lr:g}, full fine-tuning at {p.lr / 10:g}; n = {p.n_virtual}.",
        "小模型：2 层，d = 48，4 个头，词表 18 个 token；每步 16 个新样本，"
        f"提示的学习率 {p.lr:g}，全量微调 {p.lr / 10:g}；n = {p.n_virtual}。",
    )(lang)
    return "\n".join([header, *rows, "", context, "", real_header, *real])


def render(p: Params, lang: str = "en") -> Rendered:
    methods = tuple(m for m in METHODS if m in p.methods)  # catalogue order, no repeats
    run = _run(
        methods, p.n_virtual, p.encoder_hidden, p.reparameterise, p.task, p.steps, p.lr, p.seed
    )
    counts = _counts(p.shape, p.count_tokens)
    figures = [
        _diagram(p, lang),
        _counts_figure(p, counts, lang),
        _attention_figure(p, run, lang),
        _curves_figure(run, lang),
        _accuracy_figure(run, lang),
        _nearest_figure(run, lang),
        _mass_figure(run, lang),
    ]
    return Rendered(figures, _notes(p, counts, run, lang))


presets = {
    "task_token": Params(methods=["prompt"], n_virtual=1, task="add one", steps=40),
    "composite": Params(
        methods=["prompt", "deep-prompt", "full"],
        n_virtual=16,
        task="reverse + add one",
        steps=40,
        lr=0.1,
    ),
    "prefix_mlp": Params(methods=["prefix", "deep-prompt"], n_virtual=4, task="reverse", steps=40),
    "llama": Params(shape="llama-7b", count_tokens=20, methods=["prompt", "deep-prompt"]),
}
preset_titles = {
    "task_token": Text("The soft prompt finds the task token", "软提示找到了任务 token"),
    "composite": Text(
        "A composite skill: input-only vs deep prompts", "组合技能：只在输入端 vs 深层提示"
    ),
    "prefix_mlp": Text("Prefix with and without its MLP", "带与不带 MLP 的 prefix"),
    "llama": Text(
        "LLaMA-7B: 20 tokens cost 81,920 or 5,242,880",
        "LLaMA-7B：20 个 token 需要 81,920 或 5,242,880 个参数",
    ),
}

EXPLANATION = Text(
    en="""
**Steer a frozen model with a few trained vectors.** Prompt methods keep every pretrained weight
frozen and learn n *virtual tokens* instead; a task stores only those (a few thousand numbers)
instead of a copy of the model.

**Prefix-tuning** (Li & Liang 2021) gives every attention layer n extra keys and values:
softmax(q[P_k; K]ᵀ/√d)[P_v; V]. It is the continuous version of a control code such as CTRL's,
and it trains the prefix through an MLP (training straight on it was unstable), keeping only the
MLP's output afterwards. **Prompt tuning** (Lester, Al-Rfou & Constant 2021) trains just n input
embeddings, nothing in the layers. **P-tuning** (Liu et al. 2021) produces those input vectors
with an MLP or bi-LSTM encoder. **P-Tuning v2** (Liu et al. 2022) trains prefixes in every layer
directly: *deep prompts*.

**The toy.** A 2-layer pre-norm causal transformer (d = 48, 4 heads) was pretrained on digit
tasks named by a task token (copy, reverse, sort, add one), each example after a random run of
filler tokens, so a few extra tokens at the start are nothing new to it. Fine-tuning gives no task
token: the virtual tokens (or the prefix) must take its place. In the attention map every query
sees all prefix columns, but only earlier tokens. Lester et al. read the nearest vocabulary
embedding of each learned vector; here the ★ often lands on the task token itself. A skill the
model never learned (reverse + add one) needs changes inside the layers: deep prompts act on every
layer and lower the loss further than input-only prompts, though 40 steps get neither far. With
its MLP, the prefix learns faster than the same prefix trained directly (the deep prompts).

**What the toy cannot show.** Lester et al. found that prompt tuning matches full fine-tuning only
as models grow to billions of parameters, and P-Tuning v2 closed the gap for smaller models with
deep prompts. A 56k-parameter model stays far below that scale.
""",
    zh="""
**用几条训练出来的向量驾驭一个冻结的模型。** 提示类方法冻结所有预训练权重，只学习 n 个*虚拟 token*；
每个任务只需保存这些向量（几千个数），而不是一整份模型。

**Prefix-tuning**（Li 与 Liang，2021）给每个注意力层加上 n 个额外的键和值：
softmax(q[P_k; K]ᵀ/√d)[P_v; V]。它相当于 CTRL 里控制码的连续版本；前缀通过一个 MLP 来训练（直接训练前缀
不稳定），训练结束后只保留 MLP 的输出。**Prompt tuning**（Lester、Al-Rfou 与 Constant，2021）只训练 n 个
输入嵌入，层内什么也不改。**P-tuning**（Liu 等，2021）用 MLP 或双向 LSTM 编码器生成这些输入向量。
**P-Tuning v2**（Liu 等，2022）直接在每一层训练前缀，即*深层提示*。

**玩具模型。** 一个 2 层 pre-norm 因果 Transformer（d = 48，4 个头）在数字任务上预训练过，任务由任务 token
指明（复制、倒序、排序、每位加一），每个样本前面有一段随机长度的填充 token，所以开头多出几个 token 对它并不陌生。
微调时不给任务 token：虚拟 token（或前缀）必须取代它。注意力图中，每个查询都能看到所有前缀列，但只能看到更早的
token。Lester 等人查看每个学到的向量最近的词表嵌入；这里的 ★ 常常正好落在任务 token 上。模型从没学过的技能
（倒序再加一）需要改变层内的计算：深层提示作用于每一层，损失降得比只在输入端的提示更低，不过 40 步对两者都
不够。带 MLP 的 prefix 比直接训练的同样的前缀（深层提示）学得更快。

**玩具模型展示不了的。** Lester 等人发现，只有当模型增长到数十亿参数时，prompt tuning 才能追上全量微调；
P-Tuning v2 用深层提示为较小的模型弥补了这一差距。一个 5.6 万参数的模型离这个规模还很远。
""",
)

DEMO = Demo(
    slug="prompt-tuning",
    section="finetuning",
    figures=7,
    title=Text("Prompt and prefix tuning", "Prompt tuning 与 prefix tuning"),
    summary=Text(
        "Train virtual tokens, not weights: where each method attaches, what it costs, and a live "
        "fine-tune of a tiny frozen transformer.",
        "训练虚拟 token 而不是权重：各方法接在哪里、花费多少，以及在一个冻结的小 Transformer 上现场微调。",
    ),
    sources=(
        Source(
            "Prefix-Tuning: Optimizing Continuous Prompts for Generation",
            "X. L. Li, P. Liang",
            2021,
            "https://arxiv.org/abs/2101.00190",
        ),
        Source(
            "The Power of Scale for Parameter-Efficient Prompt Tuning",
            "B. Lester, R. Al-Rfou, N. Constant",
            2021,
            "https://arxiv.org/abs/2104.08691",
        ),
        Source(
            "GPT Understands, Too",
            "X. Liu, Y. Zheng, Z. Du, M. Ding, Y. Qian, Z. Yang, J. Tang",
            2021,
            "https://arxiv.org/abs/2103.10385",
        ),
        Source(
            "P-Tuning v2: Prompt Tuning Can Be Comparable to Fine-tuning Universally Across Scales "
            "and Tasks",
            "X. Liu, K. Ji, Y. Fu, W. L. Tam, Z. Du, Z. Yang, J. Tang",
            2022,
            "https://arxiv.org/abs/2110.07602",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
