"""Gradient checkpointing: what does backprop keep in memory, and what does forgetting cost?

Backprop needs every layer's activations again on the way back. Keeping them all costs memory
linear in depth; keeping only every k-th (a checkpoint) and recomputing a segment just before
its backward trades one extra forward for memory ~2√n. The animation walks the events, the
frontier compares every k with the optimal schedule, and a real model measured with
`torch.utils.checkpoint` confirms the bytes and the identical gradients.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

STRATEGIES = {
    "store_all": Text("Store all (plain backprop)", "全部保存（普通反向传播）"),
    "segments": Text("k segments (checkpoints)", "k 段（检查点）"),
    "recompute_all": Text("Recompute all", "全部重算"),
}
MODELS = {
    "tanh_mlp": Text("tanh MLP", "tanh MLP"),
    "residual_mlp": Text("Residual MLP", "残差 MLP"),
    "transformer": Text("nn.TransformerEncoderLayer", "nn.TransformerEncoderLayer"),
}
MAX_FRAMES = 400  # animated events; longer schedules are sampled evenly
SWEEP_N = (4, 8, 16, 32, 64)
SWEEP_WIDTH, SWEEP_BATCH = 32, 4  # the sweep runs 5 depths: smaller than the main measure
SEQUENCE = 8  # tokens per example for the transformer layers
STATE_COLORS = {
    "checkpoint": COLORWAY[0],
    "held": COLORWAY[5],
    "recomputed": COLORWAY[4],
    "active": COLORWAY[1],
    "freed": "rgba(140,140,140,0.35)",
}
STATE_NAMES = {
    "checkpoint": Text("checkpoint (kept)", "检查点（保留）"),
    "held": Text("held", "保留中"),
    "recomputed": Text("recomputed, held", "重算后保留"),
    "active": Text("this event's layer", "当前事件的层"),
    "freed": Text("freed / not yet computed", "已释放 / 尚未计算"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    n_layers: int = param(16, en="Layers n", zh="层数 n", ge=2, le=64)
    strategy: Literal["store_all", "segments", "recompute_all"] = param(
        "segments", en="Strategy", zh="策略", choices=STRATEGIES
    )
    segments: int = param(
        4,
        en="Segments k",
        zh="段数 k",
        help_en="Clipped to n. √n segments give the smallest peak, about 2√n.",
        help_zh="超过 n 时取 n。√n 段时峰值最小，约 2√n。",
        ge=1,
        le=64,
    )
    model: Literal["tanh_mlp", "residual_mlp", "transformer"] = param(
        "tanh_mlp", en="Measured model", zh="实测模型", choices=MODELS
    )
    width: int = param(64, en="Width", zh="宽度", ge=16, le=128, step=16)
    batch: int = param(8, en="Batch", zh="批大小", ge=1, le=32)
    dropout: bool = param(
        False,
        en="Dropout 0.2 in every layer",
        zh="每层加 0.2 的 dropout",
        help_en="checkpoint restores the RNG state, so the recomputed masks are the same.",
        help_zh="checkpoint 会恢复随机数状态，所以重算时的 dropout 掩码相同。",
    )


def _torch():
    import torch

    torch.set_num_threads(1)  # small layers: threads cost more than they save on 2 cores
    return torch


def _k(p: Params) -> int:
    return {"store_all": p.n_layers, "recompute_all": 1}.get(
        p.strategy, min(p.segments, p.n_layers)
    )


@lru_cache(maxsize=32)
def _schedule(n: int, strategy: str, k: int) -> dict:
    from core.training.checkpointing import schedule

    return schedule(n, strategy, k if strategy == "segments" else None)


def _states(run: dict, n: int, event: int) -> list[str]:
    kind, layer = run["events"][event]
    held = set(run["held"][event])
    boundaries = set(run["boundaries"])
    states = []
    for node in range(n + 1):
        if node == layer and kind != "backward":
            states.append("active")
        elif node in held:
            states.append("checkpoint" if node in boundaries else "held")
        else:
            states.append("freed")
    if kind == "recompute":
        states[layer] = "recomputed"
    if kind == "backward":
        states[layer] = "active"
    return states


def _animation(p: Params, lang: str) -> go.Figure:
    n = p.n_layers
    run = _schedule(n, p.strategy, _k(p))
    events = run["events"]
    shown = np.unique(
        np.linspace(0, len(events) - 1, min(len(events), MAX_FRAMES)).round().astype(int)
    )
    held_counts = np.array([len(h) for h in run["held"]])
    nodes = np.arange(n + 1)
    kinds = {
        "forward": Text("forward", "前向"),
        "recompute": Text("recompute", "重算"),
        "backward": Text("backward", "反向"),
    }

    def node_trace(event: int) -> dict:
        states = _states(run, n, event)
        return {
            "type": "scatter",
            "mode": "markers",
            "x": nodes,
            "y": np.zeros(n + 1),
            "marker": {
                "size": max(8, min(22, 600 // (n + 1))),
                "color": [STATE_COLORS[s] for s in states],
                "symbol": "square",
            },
            "hovertemplate": Text("node %{x}", "节点 %{x}")(lang) + "<extra></extra>",
            "showlegend": False,
        }

    def cursor(event: int) -> dict:
        return {
            "type": "scatter",
            "mode": "markers",
            "x": [event + 1],
            "y": [held_counts[event]],
            "xaxis": "x2",
            "yaxis": "y2",
            "marker": {"size": 11, "color": STATE_COLORS["active"]},
            "showlegend": False,
            "hoverinfo": "skip",
        }

    def label(event: int) -> str:
        kind, layer = events[event]
        return f"{event + 1}/{len(events)}: {kinds[kind](lang)} {layer}, held {held_counts[event]}"

    legend = [
        {
            "type": "scatter",
            "mode": "markers",
            "x": [None],
            "y": [None],
            "name": STATE_NAMES[state](lang),
            "marker": {"color": color, "symbol": "square", "size": 12},
        }
        for state, color in STATE_COLORS.items()
    ]
    first = int(shown[0])
    data = [
        node_trace(first),
        {
            "type": "scatter",
            "mode": "lines",
            "x": np.arange(1, len(events) + 1),
            "y": held_counts,
            "xaxis": "x2",
            "yaxis": "y2",
            "line": {"color": COLORWAY[0], "width": 1.8, "shape": "hv"},
            "name": Text("nodes held", "保留的节点数")(lang),
        },
        cursor(first),
        *legend,
    ]
    # Frames travel inside the slider's and the button's arguments (Plotly.animate takes frame
    # objects), not as figure frames, which plotly.py would validate one by one.
    frames = [
        {
            "name": str(e),
            "data": [node_trace(int(e)), cursor(int(e))],
            "traces": [0, 2],
            "layout": {"annotations": [caption(label(int(e)), y=0.9)]},
        }
        for e in shown
    ]
    slider = {
        "active": 0,
        "x": 0.1,
        "len": 0.9,
        "currentvalue": {"prefix": Text("event ", "事件 ")(lang)},
        "pad": {"t": 40},
        "steps": [
            {
                "label": str(int(e) + 1),
                "method": "animate",
                "args": [[frame], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}],
            }
            for e, frame in zip(shown, frames, strict=True)
        ],
    }
    play = {
        "type": "buttons",
        "showactive": False,
        "x": 0,
        "y": -0.12,
        "xanchor": "left",
        "buttons": [
            {
                "label": "▶",
                "method": "animate",
                "args": [frames, {"frame": {"duration": 120, "redraw": True}, "mode": "immediate"}],
            },
            {
                "label": "⏸",
                "method": "animate",
                "args": [[None], {"mode": "immediate", "frame": {"duration": 0}}],
            },
        ],
    }
    title = Text(
        f"{STRATEGIES[p.strategy].en}, n = {n}: peak {run['peak']} nodes held, "
        f"{run['recomputations']} recomputed layer calls",
        f"{STRATEGIES[p.strategy].zh}，n = {n}：峰值保留 {run['peak']} 个节点，重算 {run['recomputations']} 次层调用",
    )
    peak_line = {
        "type": "line",
        "xref": "x2 domain",
        "yref": "y2",
        "x0": 0,
        "x1": 1,
        "y0": run["peak"],
        "y1": run["peak"],
        "line": {"dash": "dot", "width": 1.2, "color": "rgba(128,128,128,0.9)"},
    }
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "domain": [0, 1],
            "anchor": "y",
            "range": [-0.7, n + 0.7],
            "title": {
                "text": Text(
                    "node (0 = input, i = output of layer i)", "节点（0 = 输入，i = 第 i 层输出）"
                )(lang)
            },
        },
        "yaxis": {"domain": [0.72, 0.9], "visible": False, "range": [-1, 1]},
        "xaxis2": {
            "domain": [0, 1],
            "anchor": "y2",
            "title": {"text": Text("event", "事件")(lang)},
        },
        "yaxis2": {
            "domain": [0, 0.45],
            "anchor": "x2",
            "rangemode": "tozero",
            "title": {"text": Text("nodes held", "保留的节点")(lang)},
        },
        "annotations": [caption(label(first), y=0.9)],
        "shapes": [peak_line],
        "sliders": [slider],
        "updatemenus": [play],
        "height": 560,
        "margin": {"b": 150},
        "legend": {"orientation": "h", "y": 1.08, "x": 0},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


@lru_cache(maxsize=32)
def _frontier(n: int) -> dict:
    from core.training.checkpointing import optimal_frontier, schedule

    points = [schedule(n, "segments", k) for k in range(1, n + 1)]
    return {
        "k_peak": [s["peak"] for s in points],
        "k_extra": [s["recomputations"] for s in points],
        "dp": optimal_frontier(n),
        "recompute_all": schedule(n, "recompute_all"),
    }


def _frontier_figure(p: Params, lang: str) -> go.Figure:
    n = p.n_layers
    run = _frontier(n)
    k = np.arange(1, n + 1)
    calls = n + np.asarray(run["k_extra"])  # forward layer calls, first pass included
    smooth = np.linspace(1, n, 200)
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "x": calls,
            "y": run["k_peak"],
            "text": k,
            "name": Text("k segments, k = 1..n", "k 段，k = 1..n")(lang),
            "marker": {"color": COLORWAY[0], "size": 8},
            "hovertemplate": "k=%{text}<br>calls=%{x}<br>peak=%{y}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": 2 * n - smooth,
            "y": smooth + n / smooth + 1,
            "name": Text(
                "k + n/k + 1 (min 2√n + 1 at k = √n)", "k + n/k + 1（k = √n 时最小 2√n + 1）"
            )(lang),
            "line": {"color": COLORWAY[0], "dash": "dot", "width": 1.2},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": n + np.asarray(run["dp"]["recomputations"]),
            "y": run["dp"]["peak"],
            "name": Text("optimal (revolve, DP)", "最优（revolve，动态规划）")(lang),
            "line": {"color": COLORWAY[2], "shape": "hv", "width": 2},
            "marker": {"size": 5},
        },
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": [n, n + run["recompute_all"]["recomputations"]],
            "y": [n + 1, run["recompute_all"]["peak"]],
            "text": [STRATEGIES["store_all"](lang), STRATEGIES["recompute_all"](lang)],
            "textposition": ["top right", "top left"],
            "name": Text("corners", "两个极端")(lang),
            "marker": {"color": COLORWAY[1], "size": 12, "symbol": "diamond"},
        },
    ]
    title = Text(
        f"Memory against work, n = {n}: peak nodes held vs forward layer calls",
        f"内存与计算量，n = {n}：峰值保留节点数与前向层调用次数",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "type": "log",
            "title": {
                "text": Text(
                    "forward layer calls (first pass + recomputation, log)",
                    "前向层调用次数（首次前向 + 重算，对数）",
                )(lang)
            },
        },
        "yaxis": {
            "type": "log",
            "title": {"text": Text("peak nodes held (log)", "峰值保留节点数（对数）")(lang)},
        },
        "height": 420,
        "legend": {"orientation": "h", "y": -0.25},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


@lru_cache(maxsize=1)
def _warm() -> None:
    """torch.utils.checkpoint's first call costs seconds of set-up: pay it outside the timing."""
    torch = _torch()
    from core.training import checkpointing as ck

    ck.measure(ck.chain("tanh_mlp", 2, 4), torch.zeros(1, 4), 1)


@lru_cache(maxsize=32)
def _measure(model: str, n: int, width: int, batch: int, k: int, dropout: bool) -> dict:
    torch = _torch()
    from core.training import checkpointing as ck

    _warm()
    layers = ck.chain(model, n, width, dropout=0.2 if dropout else 0.0, seed=0)
    for layer in layers:
        layer.train()
    shape = (batch, SEQUENCE, width) if model == "transformer" else (batch, width)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    result = ck.measure(layers, x, k)
    delta = max(
        float((a - b).abs().max())
        for a, b in zip(result["grads"], result["grads_checkpointed"], strict=True)
    )
    table = ck.saved_tensors(layers[0], x)
    keep = ("stored_bytes", "stored_bytes_checkpointed", "segment_bytes", "peak_bytes")
    return {
        **{key: result[key] for key in keep},
        "peak_bytes_checkpointed": result["peak_bytes_checkpointed"],
        "seconds": result["seconds"],
        "seconds_checkpointed": result["seconds_checkpointed"],
        "max_grad_difference": delta,
        "saved_table": table,
    }


@lru_cache(maxsize=8)
def _sweep(model: str) -> dict:
    plain, checkpointed = [], []
    for n in SWEEP_N:
        result = _measure(model, n, SWEEP_WIDTH, SWEEP_BATCH, max(1, round(math.sqrt(n))), False)
        plain.append(result["peak_bytes"])
        checkpointed.append(result["peak_bytes_checkpointed"])
    logn = np.log(SWEEP_N)
    slopes = [float(np.polyfit(logn, np.log(values), 1)[0]) for values in (plain, checkpointed)]
    return {"plain": plain, "checkpointed": checkpointed, "slopes": slopes}


def _measured_figure(p: Params, lang: str) -> tuple[go.Figure, dict, dict]:
    k = _k(p)
    result = _measure(p.model, p.n_layers, p.width, p.batch, k, p.dropout)
    sweep = _sweep(p.model)
    kib = 1 / 1024
    plain = Text("plain", "普通")(lang)
    ckpt = Text(f"checkpointed, k = {k}", f"检查点，k = {k}")(lang)
    labels = [
        Text("stored", "保存")(lang),
        Text("largest segment", "最大段")(lang),
        Text("peak", "峰值")(lang),
    ]
    data = [
        {
            "type": "bar",
            "x": labels,
            "y": [result["stored_bytes"] * kib, 0, result["peak_bytes"] * kib],
            "name": plain,
            "marker": {"color": COLORWAY[1]},
        },
        {
            "type": "bar",
            "x": labels,
            "y": [
                result["stored_bytes_checkpointed"] * kib,
                max(result["segment_bytes"]) * kib,
                result["peak_bytes_checkpointed"] * kib,
            ],
            "name": ckpt,
            "marker": {"color": COLORWAY[0]},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": SWEEP_N,
            "y": np.asarray(sweep["plain"]) * kib,
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text(
                f"no checkpoints (slope {sweep['slopes'][0]:.2f})",
                f"不用检查点（斜率 {sweep['slopes'][0]:.2f}）",
            )(lang),
            "line": {"color": COLORWAY[1]},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": SWEEP_N,
            "y": np.asarray(sweep["checkpointed"]) * kib,
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text(
                f"√n segments (slope {sweep['slopes'][1]:.2f})",
                f"√n 段（斜率 {sweep['slopes'][1]:.2f}）",
            )(lang),
            "line": {"color": COLORWAY[0]},
        },
    ]
    title = Text(
        f"Measured with torch.utils.checkpoint: {MODELS[p.model].en}, n = {p.n_layers}, width "
        f"{p.width}, batch {p.batch}",
        f"用 torch.utils.checkpoint 实测：{MODELS[p.model].zh}，n = {p.n_layers}，宽度 {p.width}，批大小 {p.batch}",
    )
    layout = {
        "title": {"text": title(lang)},
        "barmode": "group",
        "xaxis": {"domain": [0, 0.42]},
        "yaxis": {"title": {"text": Text("saved activations (KiB)", "保存的激活（KiB）")(lang)}},
        "xaxis2": {
            "domain": [0.56, 1],
            "anchor": "y2",
            "type": "log",
            "title": {"text": Text("layers n (log)", "层数 n（对数）")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "type": "log",
            "title": {"text": Text("peak (KiB, log)", "峰值（KiB，对数）")(lang)},
        },
        "annotations": [
            caption(
                Text(
                    f"sweep: width {SWEEP_WIDTH}, batch {SWEEP_BATCH}",
                    f"扫描：宽度 {SWEEP_WIDTH}，批大小 {SWEEP_BATCH}",
                )(lang),
                x=0.56,
            )
        ],
        "height": 420,
        "legend": {"orientation": "h", "y": -0.22},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False), result, sweep


def _notes(p: Params, result: dict, lang: str) -> str:
    k = _k(p)
    rows = "\n".join(
        f"| {row['node']} | {', '.join(f'{name[7:]} {list(shape)}' for name, shape in row['saved'].items())} |"
        for row in result["saved_table"]
        if row["saved"]
    )
    text = Text(
        f"Max |Δgrad| checkpointed vs plain: **{result['max_grad_difference']:.1e}**. "
        # Wall-clock step times are left out: a render must be the same every time.
        "torch re-runs every "
        f"segment whole, its last layer too: {p.n_layers} extra layer calls, where the chain "
        f"needs {p.n_layers - k}.\n\n"
        "| graph node of layer 1 | its `_saved_*` tensors |\n|---|---|\n" + rows,
        f"检查点与普通运行的最大 |Δgrad|：**{result['max_grad_difference']:.1e}**。"
        "torch 会把每段整个重跑一遍，包括最后一层："
        f"额外 {p.n_layers} 次层调用，而链本身只需 {p.n_layers - k} 次。\n\n"
        "| 第 1 层的计算图节点 | 它的 `_saved_*` 张量 |\n|---|---|\n" + rows,
    )
    return text(lang)


def render(p: Params, lang: str = "en") -> Rendered:
    measured, result, _ = _measured_figure(p, lang)
    figures = [_animation(p, lang), _frontier_figure(p, lang), measured]
    return Rendered(figures, _notes(p, result, lang))


presets = {
    "Plain backprop stores everything": Params(strategy="store_all"),
    "√n segments: 2√n memory, one extra forward": Params(strategy="segments", segments=4),
    "Recompute everything: O(n²) work": Params(strategy="recompute_all", n_layers=12),
    "One huge segment": Params(strategy="segments", segments=1),
}
preset_titles = {
    "Plain backprop stores everything": Text(
        "Plain backprop stores everything", "普通反向传播保存一切"
    ),
    "√n segments: 2√n memory, one extra forward": Text(
        "√n segments: 2√n memory, one extra forward", "√n 段：2√n 内存，多一次前向"
    ),
    "Recompute everything: O(n²) work": Text(
        "Recompute everything: O(n²) work", "全部重算：O(n²) 计算量"
    ),
    "One huge segment": Text("One huge segment", "只有一个大段"),
}

EXPLANATION = Text(
    en="""
**What backprop keeps.** To compute layer i's gradient, backward needs layer i's input again
(and often its output): plain backprop keeps every node from the forward pass until its
backward, so memory grows linearly with depth n (the *store all* corner).

**Checkpoints.** Chen et al. (2016) keep only the segment boundaries of k segments. Before the
backward of a segment, its inner nodes are recomputed from the boundary on its left. Peak
memory is about k checkpoints plus one segment of n/k nodes, smallest at k = √n: 2√n, for one
extra forward in total (n − k recomputed layer calls). Press ▶ to watch the nodes: blue
checkpoints stay, orange ones are recomputed just in time and freed again. One huge segment
(k = 1) saves nothing: the recomputed segment is the whole chain. Recomputing everything from
the input (k = 1 at every step) needs only 3 nodes but n(n − 1)/2 extra calls.

**The optimal trade-off.** With c checkpoints that can be reused at several levels, Griewank &
Walther's revolve (2000) finds the fewest recomputations for every memory budget; the green
staircase is that optimum computed by dynamic programming, and every k-segment point lies on or
above it. Korthikanti et al. (2022) recompute only the cheap parts of a transformer layer
(selective recomputation).

**Measured.** The last figure runs the layers with `torch.utils.checkpoint` (non-reentrant)
and counts the bytes of every tensor autograd saves: the peak falls from linear in n to ~√n
(fitted slopes near 1 and ½), the gradients are bit-for-bit equal (dropout included: the RNG
state is restored), and each step is slower by about one forward. torch re-runs a segment whole,
its last layer too, so it makes n extra layer calls where the chain needs n − k.
""",
    zh="""
**反向传播保存了什么。** 计算第 i 层的梯度时，反向传播需要再次用到第 i 层的输入（往往还有输出）：普通反向传播把前向中的每个节点
一直保存到它的反向计算，所以内存随深度 n 线性增长（“全部保存”这一极端）。

**检查点。** Chen 等（2016）只保存 k 段的分段边界。在计算一段的反向之前，从它左边的边界重新计算段内节点。峰值内存约为 k 个检查点
加上一段的 n/k 个节点，在 k = √n 时最小：2√n，代价是总共多一次前向（重算 n − k 次层调用）。按 ▶ 观察节点：蓝色的检查点一直保留，
橙色的节点在需要时才重算、用完即释放。只有一个大段（k = 1）什么也省不下：要重算的段就是整条链。每一步都从输入开始全部重算
只需 3 个节点，但要多做 n(n − 1)/2 次层调用。

**最优折中。** 如果检查点可以在多个层级上复用，Griewank 与 Walther 的 revolve（2000）能为每种内存预算找到最少的重算次数；
绿色阶梯就是用动态规划算出的最优解，所有 k 段方案的点都在它上方或正好落在上面。Korthikanti 等（2022）只重算 Transformer 层中
计算量小的部分（选择性重算）。

**实测。** 最后一张图用 `torch.utils.checkpoint`（非重入式）运行这些层，并统计 autograd 保存的每个张量的字节数：峰值从随 n 线性
下降到约 √n（拟合斜率接近 1 和 ½），梯度逐位相同（包括 dropout：随机数状态会被恢复），每一步大约慢一次前向。torch 会把一段整个
重跑，包括最后一层，因此额外调用 n 次层，而链本身只需 n − k 次。
""",
)

DEMO = Demo(
    slug="gradient-checkpointing",
    section="training",
    figures=3,
    title=Text("Gradient checkpointing", "梯度检查点"),
    summary=Text(
        "What backprop keeps in memory, what √n checkpoints recompute, measured with "
        "torch.utils.checkpoint.",
        "反向传播在内存中保存了什么、√n 个检查点重算了什么，并用 torch.utils.checkpoint 实测。",
    ),
    sources=(
        Source(
            "Training deep nets with sublinear memory cost",
            "T. Chen, B. Xu, C. Zhang, C. Guestrin",
            2016,
            "https://arxiv.org/abs/1604.06174",
        ),
        Source(
            "Algorithm 799: revolve, an implementation of checkpointing for the reverse mode",
            "A. Griewank, A. Walther",
            2000,
        ),
        Source(
            "Reducing activation recomputation in large transformer models",
            "V. Korthikanti et al.",
            2022,
            "https://arxiv.org/abs/2205.05198",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
