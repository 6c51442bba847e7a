"""Mixture of Experts: which expert does each token go to, and what happens when one is full?

A router scores every expert for every token; the top k experts run on it and their outputs are
mixed by the gates. Experts have a capacity: assignments past it are dropped. Without a
load-balancing loss the router tends to favour a few experts. The page routes a small clustered
task, trains it with and without Switch's auxiliary loss, and counts total vs active parameters
of Mixtral, DeepSeek-V3 and Seed-Thinking v1.5.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch

SHOWN_TOKENS = 48  # rows of the routing map
CAPACITY_GRID = np.round(np.arange(0.0, 3.01, 0.1), 2)
PART_COLORS = {
    "embeddings": COLORWAY[6],
    "attention": COLORWAY[0],
    "dense": COLORWAY[5],
    "shared": COLORWAY[2],
    "active": COLORWAY[1],
    "idle": COLORWAY[4],
}
SEED_THINKING = (200e9, 20e9)  # ByteDance Seed 2025: published totals only


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    n_experts: int = param(8, en="Experts E", zh="专家数 E", ge=2, le=16)
    top_k: int = param(
        1,
        en="Experts per token k",
        zh="每个 token 的专家数 k",
        help_en="k = 1 is Switch (raw probability as gate); k > 1 renormalises the gates. "
        "Capped at E.",
        help_zh="k = 1 即 Switch（门控取原始概率）；k > 1 时门控重新归一化。不超过 E。",
        ge=1,
        le=2,
    )
    use_capacity: bool = param(True, en="Expert capacity on", zh="启用专家容量")
    capacity_factor: float = param(
        1.25,
        en="Capacity factor",
        zh="容量因子",
        help_en="Capacity = ⌈factor·k·T/E⌉ assignments per expert.",
        help_zh="每个专家最多接收 ⌈因子·k·T/E⌉ 个分配。",
        ge=0.0,
        le=4.0,
        step=0.05,
    )
    n_tokens: int = param(256, en="Tokens T", zh="token 数 T", ge=16, le=1024)
    aux_weight: float = param(
        0.3,
        en="Aux loss weight α",
        zh="辅助损失权重 α",
        help_en="Switch uses 0.01 over long runs; this short toy run needs more to act. "
        "The training figure compares with α = 0.",
        help_zh="Switch 在长时间训练中用 0.01；这个很短的玩具训练需要更大的值才见效。训练图与 α = 0 对比。",
        ge=0.0,
        le=1.0,
        step=0.01,
    )
    steps: int = param(120, en="Training steps", zh="训练步数", ge=10, le=200)
    custom_d: int = param(
        4096, en="Custom model: width", zh="自定义模型：宽度", ge=512, le=16384, step=512
    )
    custom_layers: int = param(32, en="Custom model: layers", zh="自定义模型：层数", ge=2, le=128)
    custom_experts: int = param(
        64, en="Custom model: experts", zh="自定义模型：专家数", ge=2, le=512
    )
    custom_top_k: int = param(
        4,
        en="Custom model: active experts",
        zh="自定义模型：激活专家数",
        help_en="Capped at the number of experts.",
        help_zh="不超过专家数。",
        ge=1,
        le=16,
    )
    custom_shared: int = param(
        1, en="Custom model: shared experts", zh="自定义模型：共享专家数", ge=0, le=4
    )
    custom_expert_ffn: int = param(
        1536,
        en="Custom model: expert FFN width",
        zh="自定义模型：专家 FFN 宽度",
        ge=256,
        le=32768,
        step=256,
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)


def _k(p: Params) -> int:
    return min(p.top_k, p.n_experts)


def _capacity_factor(p: Params) -> float | None:
    return p.capacity_factor if p.use_capacity else None


def _torch() -> torch:
    import torch

    torch.set_num_threads(1)  # small matrices: threads cost more than they save on 2 cores
    return torch


@functools.lru_cache(maxsize=32)
def _train(
    n_tokens: int, n_experts: int, k: int, aux_weight: float, steps: int, capacity, seed: int
) -> dict:
    """One training run, its per-step log and the trained layer's routing (cached)."""
    torch = _torch()
    from core.llm import moe
    from core.trace import Trace

    trace = Trace()
    run = moe.train_moe(n_tokens, n_experts, k, aux_weight, steps, capacity, seed=seed, trace=trace)
    x, router, experts = run["x"], run["router"], run["experts"]
    routing = Trace()
    with torch.no_grad():
        routed = moe.moe_forward(x, router, experts, k, capacity, k > 1, trace=routing)
        dense = moe.dense_mixture(x, router, experts, k, capacity, k > 1)
        logits = x @ router.T
        drops = {}
        for kk in sorted({1, min(2, n_experts)}):
            slots = moe.assignment_slots(torch.topk(logits, kk).indices, n_experts).numpy()
            capacities = np.ceil(CAPACITY_GRID * kk * n_tokens / n_experts)
            drops[kk] = (slots.reshape(-1)[None, :] > capacities[:, None]).mean(axis=1)
    (r,) = routing["routing"]
    (load,) = routing["load"]
    return {
        "load": np.stack(trace.column("step", "load")),
        "task": np.array(trace.column("step", "task_loss")),
        "aux": np.array(trace.column("step", "aux_loss")),
        "probs": r["probs"].numpy(),
        "index": r["expert_index"].numpy(),
        "dropped": r["dropped"].numpy(),
        "capacity": r["capacity"],
        "chosen": load["chosen"].numpy(),
        "kept": load["kept"].numpy(),
        "aux_final": routing["aux_loss"][0],
        "cluster": run["cluster"].numpy(),
        "routed_vs_dense": float((routed - dense).abs().max()),
        "drops": drops,
    }


def _run(p: Params, aux_weight: float | None = None) -> dict:
    weight = p.aux_weight if aux_weight is None else aux_weight
    return _train(p.n_tokens, p.n_experts, _k(p), weight, p.steps, _capacity_factor(p), p.seed)


# --- figures ---------------------------------------------------------------------------------


def _cluster_colors(cluster: np.ndarray) -> list[str]:
    return [COLORWAY[int(c) % len(COLORWAY)] for c in cluster]


def _routing_figure(p: Params, run: dict, lang: str) -> go.Figure:
    t = min(SHOWN_TOKENS, p.n_tokens)
    picked = np.unique(np.linspace(0, p.n_tokens - 1, t).round().astype(int))  # across T: late
    t = len(picked)  # tokens are the ones dropped first
    picked = picked[np.argsort(run["cluster"][picked], kind="stable")]
    probs = run["probs"][picked]
    index, dropped = run["index"][picked], run["dropped"][picked]
    rows = np.arange(t)
    data = [
        {
            "type": "heatmap",
            "z": probs.astype(np.float32),
            "x": np.arange(p.n_experts),
            "y": rows,
            "customdata": picked,
            "colorscale": "Blues",
            "reversescale": True,
            "zmin": 0,
            "zmax": 1,
            "colorbar": {"title": {"text": Text("router p", "路由概率")(lang)}, "len": 0.8},
            "hovertemplate": "token %{customdata}, expert %{x}: p = %{z:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": np.full(t, -0.9),
            "y": rows,
            "marker": {
                "symbol": "square",
                "size": 7,
                "color": _cluster_colors(run["cluster"][picked]),
            },
            "name": Text("token's cluster", "token 所属的簇")(lang),
            "hovertemplate": "token %{y}<extra></extra>",
        },
    ]
    for is_dropped, symbol, color, label in (
        (False, "circle-open", COLORWAY[1], Text("chosen, kept", "被选中且保留")),
        (True, "x", "#D62728", Text("chosen, dropped (over capacity)", "被选中但丢弃（超出容量）")),
    ):
        mask = dropped == is_dropped
        rr, kk = np.nonzero(mask)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": index[rr, kk],
                "y": rr,
                "marker": {
                    "symbol": symbol,
                    "size": 9,
                    "color": color,
                    "line": {"width": 2, "color": color},
                },
                "name": label(lang),
            }
        )
    layout = {
        "title": {
            "text": Text(
                f"Routing of {t} of the {p.n_tokens} tokens (sorted by cluster) after training, top-{_k(p)}",
                f"训练后 {p.n_tokens} 个 token 中 {t} 个的路由（按簇排序），top-{_k(p)}",
            )(lang)
        },
        "xaxis": {
            "title": {"text": Text("expert", "专家")(lang)},
            "dtick": 1,
            "range": [-1.4, p.n_experts - 0.5],
        },
        "yaxis": {
            "title": {"text": Text("token (sample, by cluster)", "token（抽样，按簇）")(lang)},
            "autorange": "reversed",
            "showticklabels": False,
        },
        "legend": {"orientation": "h", "x": 0, "y": -0.15},
        "height": 560,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _load_figure(p: Params, run: dict, lang: str) -> go.Figure:
    experts = np.arange(p.n_experts)
    k = _k(p)
    f = run["chosen"] / (p.n_tokens * k)
    probs_mean = run["probs"].mean(axis=0)
    data = [
        {
            "type": "bar",
            "x": experts,
            "y": run["chosen"],
            "name": Text("assignments chosen", "被选中的分配")(lang),
            "marker": {"color": COLORWAY[4]},
            "opacity": 0.55,
        },
        {
            "type": "bar",
            "x": experts,
            "y": run["kept"],
            "name": Text("assignments kept", "保留的分配")(lang),
            "marker": {"color": COLORWAY[0]},
        },
        {
            "type": "bar",
            "x": experts,
            "y": f,
            "name": "f_i",
            "xaxis": "x2",
            "yaxis": "y2",
            "marker": {"color": COLORWAY[1]},
        },
        {
            "type": "bar",
            "x": experts,
            "y": probs_mean,
            "name": "P_i",
            "xaxis": "x2",
            "yaxis": "y2",
            "marker": {"color": COLORWAY[2]},
        },
    ]
    shapes = [
        {
            "type": "line",
            "xref": "x2 domain",
            "yref": "y2",
            "x0": 0,
            "x1": 1,
            "y0": 1 / p.n_experts,
            "y1": 1 / p.n_experts,
            "line": {"dash": "dot", "color": COLORWAY[6]},
        }
    ]
    if run["capacity"] is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "x domain",
                "yref": "y",
                "x0": 0,
                "x1": 1,
                "y0": run["capacity"],
                "y1": run["capacity"],
                "line": {"dash": "dash", "color": "#D62728", "width": 2},
            }
        )
    cap = run["capacity"]
    cap_text = (
        Text(f"capacity {cap} (dashed)", f"容量 {cap}（虚线）")
        if cap is not None
        else Text("no capacity limit", "无容量上限")
    )
    layout = {
        "title": {
            "text": Text(
                f"Load per expert · aux loss N·Σ f_i·P_i = {run['aux_final']:.3f} (1 when uniform)",
                f"每个专家的负载 · 辅助损失 N·Σ f_i·P_i = {run['aux_final']:.3f}（均匀时为 1）",
            )(lang)
        },
        "barmode": "overlay",
        "xaxis": {"domain": [0, 0.45], "dtick": 1, "title": {"text": Text("expert", "专家")(lang)}},
        "yaxis": {"title": {"text": Text("assignments", "分配数")(lang)}},
        "xaxis2": {
            "domain": [0.55, 1],
            "anchor": "y2",
            "dtick": 1,
            "title": {"text": Text("expert", "专家")(lang)},
        },
        "yaxis2": {"anchor": "x2", "title": {"text": Text("share", "占比")(lang)}},
        "shapes": shapes,
        "annotations": [
            caption(cap_text(lang), x=0),
            caption(
                Text(
                    "f_i: share of choices · P_i: mean prob. · dotted: 1/E",
                    "f_i：选择占比，P_i：平均概率；点线为 1/E",
                )(lang),
                x=0.55,
            ),
        ],
        "legend": {"orientation": "h", "x": 0, "y": -0.22},
        "height": 400,
    }
    layout["barmode"] = "group"
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _training_figure(p: Params, off: dict, on: dict, lang: str) -> go.Figure:
    steps = np.arange(1, p.steps + 1)
    data = []
    for panel, (run, label) in enumerate(
        (
            (off, Text("α = 0", "α = 0")),
            (on, Text(f"α = {p.aux_weight:g}", f"α = {p.aux_weight:g}")),
        )
    ):
        axis = "" if panel == 0 else "2"
        for e in range(p.n_experts):
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": steps,
                    "y": run["load"][:, e],
                    "line": {"color": COLORWAY[e % len(COLORWAY)], "width": 1.5},
                    "name": f"expert {e}",
                    "legendgroup": f"e{e}",
                    "showlegend": False,
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "hovertemplate": f"{label(lang)}, expert {e}: %{{y:.3f}}<extra></extra>",
                }
            )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": steps,
                "y": run["task"],
                "name": Text(f"task loss, {label.en}", f"任务损失，{label.zh}")(lang),
                "line": {
                    "color": COLORWAY[0] if panel else COLORWAY[1],
                    "dash": "solid" if panel else "dash",
                },
                "xaxis": "x3",
                "yaxis": "y3",
            }
        )
    step_title = Text("step", "步")(lang)
    layout = {
        "title": {
            "text": Text(
                "Training with and without the load-balancing loss: each expert's share of choices",
                "有无负载均衡损失的训练：每个专家被选中的占比",
            )(lang)
        },
        "xaxis": {"domain": [0, 0.28], "title": {"text": step_title}},
        "yaxis": {
            "title": {"text": Text("share of choices", "选择占比")(lang)},
            "rangemode": "tozero",
        },
        "xaxis2": {"domain": [0.36, 0.64], "anchor": "y2", "title": {"text": step_title}},
        "yaxis2": {"anchor": "x2", "matches": "y"},
        "xaxis3": {"domain": [0.74, 1], "anchor": "y3", "title": {"text": step_title}},
        "yaxis3": {
            "anchor": "x3",
            "type": "log",
            "title": {"text": Text("task MSE (log)", "任务 MSE（对数）")(lang)},
        },
        "annotations": [
            caption(Text("α = 0: no aux loss", "α = 0：无辅助损失")(lang), x=0),
            caption(Text(f"α = {p.aux_weight:g}", f"α = {p.aux_weight:g}")(lang), x=0.36),
            caption(Text("task loss", "任务损失")(lang), x=0.74),
        ],
        "legend": {"orientation": "h", "x": 0.6, "y": -0.22},
        "height": 400,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _drops_figure(p: Params, run: dict, lang: str) -> go.Figure:
    data = []
    for kk, values in run["drops"].items():
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": CAPACITY_GRID,
                "y": values,
                "name": Text(f"top-{kk}", f"top-{kk}")(lang),
                "line": {"color": COLORWAY[0] if kk == 1 else COLORWAY[1]},
            }
        )
    layout = {
        "title": {
            "text": Text(
                "Dropped share against the capacity factor (trained router)",
                "丢弃比例随容量因子的变化（训练后的路由器）",
            )(lang)
        },
        "xaxis": {"title": {"text": Text("capacity factor", "容量因子")(lang)}},
        "yaxis": {
            "title": {"text": Text("assignments dropped", "被丢弃的分配比例")(lang)},
            "range": [0, 1.02],
        },
        "height": 340,
    }
    if p.use_capacity:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": p.capacity_factor,
                "x1": p.capacity_factor,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": COLORWAY[6]},
            }
        ]
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def model_parts(p: Params) -> dict[str, dict[str, float]]:
    """Billions of parameters by part for the three published models and the custom one."""
    from core.llm import moe

    heads = max(1, p.custom_d // 128)
    custom = moe.MoEConfig(
        vocab=32000,
        d_model=p.custom_d,
        n_layers=p.custom_layers,
        n_experts=p.custom_experts,
        top_k=min(p.custom_top_k, p.custom_experts),
        expert_ffn=p.custom_expert_ffn,
        n_shared=p.custom_shared,
        n_heads=heads,
        n_kv_heads=max(1, heads // 8),
        head_dim=128,
    )
    result = {}
    for name, config in (
        ("Mixtral 8x7B", moe.MIXTRAL_8X7B),
        ("DeepSeek-V3", moe.DEEPSEEK_V3),
        ("custom", custom),
    ):
        c = moe.parameter_counts(config)
        result[name] = {
            "embeddings": c["embeddings"] / 1e9,
            "attention": (c["attention"] + c["norms"] + c["router"]) / 1e9,
            "dense": c["dense_ffn"] / 1e9,
            "shared": c["shared_experts"] / 1e9,
            "active": c["active_experts"] / 1e9,
            "idle": c["idle_experts"] / 1e9,
            "total": c["total"] / 1e9,
            "active_total": c["active"] / 1e9,
        }
    return result


def _params_figure(p: Params, lang: str) -> go.Figure:
    parts = model_parts(p)
    names = {
        "embeddings": Text("embeddings", "嵌入"),
        "attention": Text("attention, norms, router", "注意力、归一化、路由器"),
        "dense": Text("dense FFN layers", "稠密 FFN 层"),
        "shared": Text("shared experts", "共享专家"),
        "active": Text("routed experts, active", "路由专家（激活）"),
        "idle": Text("routed experts, idle", "路由专家（闲置）"),
    }
    models = list(parts)
    labels = [m if m != "custom" else Text("custom", "自定义")(lang) for m in models]
    seed_label = "Seed-Thinking v1.5"
    data = []
    for key, text in names.items():
        data.append(
            {
                "type": "bar",
                "x": labels,
                "y": [parts[m][key] for m in models],
                "name": text(lang),
                "marker": {"color": PART_COLORS[key]},
                "hovertemplate": "%{x}: %{y:.3f} B<extra>" + text(lang) + "</extra>",
            }
        )
    data.append(
        {
            "type": "bar",
            "x": [seed_label],
            "y": [SEED_THINKING[1] / 1e9],
            "name": Text("published: active", "公开数字：激活")(lang),
            "marker": {"color": "#D62728"},
        }
    )
    data.append(
        {
            "type": "bar",
            "x": [seed_label],
            "y": [(SEED_THINKING[0] - SEED_THINKING[1]) / 1e9],
            "name": Text("published: rest of total", "公开数字：总量其余部分")(lang),
            "marker": {"color": COLORWAY[4], "pattern": {"shape": "/"}},
        }
    )
    totals = [parts[m]["total"] for m in models] + [SEED_THINKING[0] / 1e9]
    actives = [parts[m]["active_total"] for m in models] + [SEED_THINKING[1] / 1e9]
    data.append(
        {
            "type": "scatter",
            "mode": "text",
            "x": [*labels, seed_label],
            "y": totals,
            "text": [f"{t:.4g}B / {a:.3g}B" for t, a in zip(totals, actives, strict=True)],
            "textposition": "top center",
            "showlegend": False,
            "hoverinfo": "skip",
        }
    )
    layout = {
        "title": {
            "text": Text(
                "Total vs active parameters (labels: total / active per token)",
                "总参数与激活参数（标注：总量 / 每 token 激活量）",
            )(lang)
        },
        "barmode": "stack",
        "yaxis": {
            "title": {"text": Text("billions of parameters", "参数量（十亿）")(lang)},
        },
        "legend": {"orientation": "h", "x": 0, "y": -0.15},
        "height": 460,
    }
    layout["yaxis"]["range"] = [0, 1.12 * max(totals)]
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- notes and render ------------------------------------------------------------------------


def _notes(p: Params, off: dict, on: dict, lang: str) -> str:
    k = _k(p)
    dropped = float(on["dropped"].mean())
    parts = model_parts(p)
    lines = [
        Text(
            f"**Routed vs dense** (every expert on every token, masked by the kept gates): max "
            f"|Δ| = {on['routed_vs_dense']:.1e}. Top-{k} of {p.n_experts}, "
            + (f"capacity {on['capacity']}" if on["capacity"] is not None else "no capacity")
            + f": {dropped:.1%} of assignments dropped.",
            f"**路由计算与稠密计算对比**（每个专家算所有 token，再按保留的门控加权）：max |Δ| = "
            f"{on['routed_vs_dense']:.1e}。{p.n_experts} 选 {k}，"
            + (f"容量 {on['capacity']}" if on["capacity"] is not None else "无容量上限")
            + f"：丢弃了 {dropped:.1%} 的分配。",
        )(lang),
        Text(
            f"**Training** ({p.steps} steps): final aux loss {off['aux'][-1]:.3f} without it, "
            f"{on['aux'][-1]:.3f} with α = {p.aux_weight:g}; least-loaded expert "
            f"{off['load'][-1].min():.1%} vs {on['load'][-1].min():.1%}; task MSE "
            f"{off['task'][-1]:.3f} vs {on['task'][-1]:.3f}.",
            f"**训练**（{p.steps} 步）：最终辅助损失，不加时 {off['aux'][-1]:.3f}，α = {p.aux_weight:g} 时 "
            f"{on['aux'][-1]:.3f}；负载最小的专家 {off['load'][-1].min():.1%} 对 {on['load'][-1].min():.1%}；"
            f"任务 MSE {off['task'][-1]:.3f} 对 {on['task'][-1]:.3f}。",
        )(lang),
        Text(
            f"**Parameters:** Mixtral 8x7B {parts['Mixtral 8x7B']['total']:.2f}B total, "
            f"{parts['Mixtral 8x7B']['active_total']:.2f}B active; DeepSeek-V3 "
            f"{parts['DeepSeek-V3']['total']:.1f}B / {parts['DeepSeek-V3']['active_total']:.1f}B "
            "(reported as 671B / 37B; MTP module not counted); Seed-Thinking v1.5: 200B / 20B as "
            "published (no configuration given).",
            f"**参数量**：Mixtral 8x7B 总计 {parts['Mixtral 8x7B']['total']:.2f}B，激活 "
            f"{parts['Mixtral 8x7B']['active_total']:.2f}B；DeepSeek-V3 {parts['DeepSeek-V3']['total']:.1f}B / "
            f"{parts['DeepSeek-V3']['active_total']:.1f}B（官方报告 671B / 37B；不含 MTP 模块）；"
            "Seed-Thinking v1.5：按公开数字 200B / 20B（未公布具体配置）。",
        )(lang),
    ]
    return "\n\n".join(lines)


def render(p: Params, lang: str = "en") -> Rendered:
    on = _run(p)
    off = _run(p, 0.0)
    figures = [
        _routing_figure(p, on, lang),
        _load_figure(p, on, lang),
        _training_figure(p, off, on, lang),
        _drops_figure(p, on, lang),
        _params_figure(p, lang),
    ]
    return Rendered(figures, _notes(p, off, on, lang))


presets = {
    "mixtral": Params(n_experts=8, top_k=2, use_capacity=False),
    "switch-capacity": Params(n_experts=8, top_k=1, capacity_factor=1.0),
    "no-aux-collapse": Params(n_experts=8, top_k=1, use_capacity=False, steps=200),
    "deepseek-v3": Params(
        n_experts=16,
        top_k=2,
        use_capacity=False,
        custom_d=7168,
        custom_layers=61,
        custom_experts=256,
        custom_top_k=8,
        custom_shared=1,
        custom_expert_ffn=2048,
    ),
}
preset_titles = {
    "mixtral": Text("Mixtral: top-2 of 8", "Mixtral：8 选 2"),
    "switch-capacity": Text(
        "Switch: top-1 at capacity 1.0 drops tokens", "Switch：top-1、容量因子 1.0 会丢 token"
    ),
    "no-aux-collapse": Text("no aux loss: the router collapses", "没有辅助损失：路由器坍缩"),
    "deepseek-v3": Text(
        "DeepSeek-V3: 8 of 256 plus a shared expert", "DeepSeek-V3：256 选 8，外加一个共享专家"
    ),
}

EXPLANATION = Text(
    en="""
**Why experts.** A Mixture-of-Experts layer (Shazeer et al. 2017) replaces one FFN by E FFNs
("experts") and a router: a linear map giving each token a probability per expert. Only the k
likeliest experts run on a token, and their outputs are summed with the gates. Parameters grow
with E, compute per token only with k: Seed-Thinking v1.5 (ByteDance Seed 2025) has 200B
parameters but uses 20B per token; Mixtral (Jiang et al. 2024) picks 2 of 8 experts per layer,
46.7B total and 12.9B active.

**Capacity and drops.** Experts run as fixed-size batches, so each takes at most
capacity = ⌈factor·k·T/E⌉ tokens (GShard, Lepikhin et al. 2020). First choices are served
before second choices; what does not fit is dropped and travels on through the residual
connection only (red crosses in the map). Switch Transformer (Fedus et al. 2022) routes to one
expert and shows that a factor near 1 already keeps most tokens once the load is balanced.

**Balancing.** Left alone, the router can favour the experts that happen to be good early; they
get more tokens, learn more, and the rest starve. Switch adds α·N·Σ_i f_i·P_i (f_i: share of the
choices sent to expert i, P_i: its mean probability), smallest when both are uniform; Switch
uses α = 0.01 over a long training, this toy run of a few hundred steps needs a larger α (0.3)
to act within it. Compare the two training panels: without the loss a few experts take most
tokens and others fall to zero; with it the lines stay closer to 1/E. Under a capacity that
matters most: a balanced router drops far fewer tokens and fits the task much better (the
Switch preset). Without a capacity, balance is a constraint rather than a gift: in a short run
it can cost a little task loss.

**Fine-grained and shared experts.** DeepSeek-V3 (DeepSeek-AI 2024) splits the FFN into 256
small routed experts (8 active) plus one shared expert that every token uses: 671B total, 37B
active. The bars split each model's parameters into what every token uses and what sits idle.
""",
    zh="""
**为什么要专家。** 混合专家层（Shazeer 等，2017）把一个 FFN 换成 E 个 FFN（“专家”）和一个路由器：路由器是一个线性映射，
给每个 token 在每个专家上一个概率。每个 token 只运行概率最高的 k 个专家，输出按门控加权求和。参数量随 E 增长，
每个 token 的计算量只随 k 增长：Seed-Thinking v1.5（字节跳动 Seed，2025）共 200B 参数，每个 token 只用 20B；
Mixtral（Jiang 等，2024）每层 8 选 2，总计 46.7B，激活 12.9B。

**容量与丢弃。** 专家以固定大小的批次运行，所以每个专家最多接收 容量 = ⌈因子·k·T/E⌉ 个 token（GShard，Lepikhin 等，2020）。
先满足所有第一选择，再满足第二选择；放不下的被丢弃，只通过残差连接往后传（图中的红叉）。Switch Transformer
（Fedus 等，2022）只路由到一个专家，并指出负载均衡后，因子接近 1 就能保留绝大多数 token。

**均衡。** 放任不管时，路由器会偏爱早期恰好表现好的专家；它们拿到更多 token、学得更快，其余专家则“饿死”。
Switch 加上 α·N·Σ_i f_i·P_i（f_i：分给专家 i 的选择占比，P_i：它的平均概率），两者都均匀时最小；Switch 在长时间训练中用
α = 0.01，这里只有几百步的玩具训练需要更大的 α（0.3）才能在训练内见效。对比两个训练面板：没有这项损失时少数专家拿走大部分
token，另一些降到零；加上之后各条线更靠近 1/E。有容量上限时这一点最要紧：均衡的路由器丢弃的 token 少得多，任务也拟合得好得多
（Switch 预设）。没有容量上限时，均衡是一种约束而不是白送的好处：短训练里它可能让任务损失略高。

**细粒度专家与共享专家。** DeepSeek-V3（DeepSeek-AI，2024）把 FFN 拆成 256 个小的路由专家（激活 8 个），
外加一个每个 token 都使用的共享专家：总计 671B，激活 37B。柱状图把每个模型的参数拆成每个 token 都用到的部分和闲置的部分。
""",
)

DEMO = Demo(
    slug="moe",
    section="attention",
    title=Text("Mixture of Experts: routing, capacity, balance", "混合专家：路由、容量与均衡"),
    summary=Text(
        "Tokens routed to their top-k experts, capacity drops, the Switch load-balancing loss in "
        "training, and total vs active parameters of Mixtral, DeepSeek-V3 and Seed-Thinking v1.5.",
        "token 路由到 top-k 专家、容量造成的丢弃、训练中的 Switch 负载均衡损失，以及 Mixtral、"
        "DeepSeek-V3 与 Seed-Thinking v1.5 的总参数与激活参数。",
    ),
    sources=(
        Source(
            "Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer",
            "N. Shazeer et al.",
            2017,
            "https://arxiv.org/abs/1701.06538",
        ),
        Source(
            "GShard: Scaling Giant Models with Conditional Computation and Automatic Sharding",
            "D. Lepikhin et al.",
            2020,
            "https://arxiv.org/abs/2006.16668",
        ),
        Source(
            "Switch Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity",
            "W. Fedus, B. Zoph, N. Shazeer",
            2022,
            "https://arxiv.org/abs/2101.03961",
        ),
        Source(
            "Mixtral of Experts", "A. Q. Jiang et al.", 2024, "https://arxiv.org/abs/2401.04088"
        ),
        Source(
            "DeepSeek-V3 Technical Report", "DeepSeek-AI", 2024, "https://arxiv.org/abs/2412.19437"
        ),
        Source(
            "Seed-Thinking-v1.5: Advancing Superb Reasoning Models with Reinforcement Learning",
            "ByteDance Seed",
            2025,
            "https://arxiv.org/abs/2504.13914",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
    figures=5,
)
