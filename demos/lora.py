"""LoRA: how few parameters does fine-tuning need, and where do they go?

Full fine-tuning of a 7B model trains (and keeps Adam states for) every weight. LoRA freezes W and
learns ΔW = (α/r)·B·A of rank r beside the matrices it targets. The figures place the path in a
block, count what it trains for real shapes, check that merging changes nothing, and fine-tune a
toy frozen network live: full fine-tuning beside LoRA at six ranks and a Houlsby adapter.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_blocks import arrow as _arrow
from demos.plots_blocks import box as _box
from demos.plots_blocks import figure as _figure
from demos.plots_blocks import hover_points
from demos.theme import COLORWAY, caption

ROOT = Path(__file__).resolve().parents[1]
LATENCY_JSON = ROOT / "benchmarks" / "peft_latency.json"
TOY_RANKS = (1, 2, 4, 8, 16, 32)  # = core.finetuning.lora.TOY_RANKS (not imported: no torch here)
MERGE_SIZE = 256  # the merge check's layer is 256 × 256, so that every r ≤ 256 fits
RANK_SWEEP = np.unique(np.round(np.logspace(0, np.log10(256), 40)).astype(int))

ShapeName = Literal["llama-7b", "llama-13b", "llama2-70b", "gpt3-175b"]
SHAPES: dict[str, Text] = {
    "llama-7b": Text("LLaMA-7B", "LLaMA-7B"),
    "llama-13b": Text("LLaMA-13B", "LLaMA-13B"),
    "llama2-70b": Text("Llama 2 70B (GQA)", "Llama 2 70B（GQA）"),
    "gpt3-175b": Text("GPT-3 175B", "GPT-3 175B"),
}
TargetSet = Literal["q,v", "attention", "all linear"]
TARGETS: dict[str, Text] = {
    "q,v": Text("Wq, Wv (the paper)", "Wq、Wv（论文）"),
    "attention": Text("Wq, Wk, Wv, Wo", "Wq、Wk、Wv、Wo"),
    "all linear": Text("all linear layers", "所有线性层"),
}
METHOD_COLORS = {"full": "#8C8C8C", "adapter": COLORWAY[3]}
RANK_COLORS = [COLORWAY[i] for i in (0, 1, 2, 4, 5, 7)]


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    shape: ShapeName = param("llama-7b", en="Model shape", zh="模型形状", choices=SHAPES)
    targets: TargetSet = param(
        "q,v",
        en="Adapted matrices",
        zh="加 LoRA 的矩阵",
        help_en="Hu et al. adapt only Wq and Wv in their GPT-3 runs.",
        help_zh="Hu 等人在 GPT-3 上只对 Wq 和 Wv 加 LoRA。",
        choices=TARGETS,
    )
    rank: int = param(8, en="Rank r", zh="秩 r", ge=1, le=256)
    alpha: float = param(
        8.0,
        en="Scale α (ΔW = α/r · BA)",
        zh="缩放 α（ΔW = α/r · BA）",
        help_en="α/r keeps the update's size when r changes; the toy trains with it too.",
        help_zh="α/r 让改变 r 时更新量的大小不变；玩具模型训练时也用它。",
        ge=1,
        le=64,
        step=1,
    )
    bottleneck: int = param(
        8,
        en="Adapter bottleneck m",
        zh="Adapter 瓶颈宽度 m",
        help_en="Counts use m as given; the 64-wide toy uses min(m, 64).",
        help_zh="参数计数直接用 m；64 维的玩具模型用 min(m, 64)。",
        ge=1,
        le=256,
    )
    shift_rank: int = param(
        4,
        en="Toy: rank k of the task shift ΔW*",
        zh="玩具：任务偏移 ΔW* 的秩 k",
        ge=1,
        le=64,
    )
    shift_size: float = param(
        0.5,
        en="Toy: size ‖ΔW*‖ / ‖W‖",
        zh="玩具：大小 ‖ΔW*‖ / ‖W‖",
        ge=0.1,
        le=2.0,
        step=0.1,
    )
    noise: float = param(
        0.0,
        en="Toy: full-rank noise ‖N‖ / ‖W‖",
        zh="玩具：满秩噪声 ‖N‖ / ‖W‖",
        ge=0.0,
        le=0.5,
        step=0.01,
    )
    n_samples: int = param(
        384, en="Toy: training inputs N", zh="玩具：训练输入数 N", ge=128, le=384, step=32
    )
    # N ≤ 384 and ≤ 150 steps: the heaviest new setting trains in under 1 s of one thread
    steps: int = param(150, en="Toy: Adam steps", zh="玩具：Adam 步数", ge=10, le=150, step=10)
    lr: float = param(
        0.01, en="Toy: learning rate", zh="玩具：学习率", ge=0.0005, le=0.05, step=0.0005
    )
    seed: int = param(0, en="Seed", zh="随机种子", ge=0, le=99)


# --- the toy run, cached by its training parameters ---------------------------------------------


@lru_cache(maxsize=16)
def _toy(
    shift_rank: int,
    shift_size: float,
    noise: float,
    n_samples: int,
    steps: int,
    lr: float,
    alpha: float,
    bottleneck: int,
    seed: int,
) -> dict:
    import torch

    from core.finetuning.lora import fit_toy, subspace_similarity_grid
    from core.trace import Trace

    with torch.random.fork_rng(devices=[]):
        trace = Trace()
        fit_toy(
            shift_rank=shift_rank,
            shift_size=shift_size,
            noise=noise,
            n_samples=n_samples,
            steps=steps,
            lr=lr,
            alpha=alpha,
            bottleneck=bottleneck,
            seed=seed,
            trace=trace,
        )
    final = trace["final"][0]
    full, target = final["delta_full"].double(), final["delta_target"].double()
    full_values = torch.linalg.svdvals(full)
    full_norm = full.norm()
    relative = [
        float((final["delta_lora"][i].double() - full).norm() / full_norm) for i in range(6)
    ]
    # Eckart–Young: the best rank-r approximation of ΔW_full leaves √(Σ_{i>r} σᵢ²)
    tail = full_values.square().flip(0).cumsum(0).flip(0).sqrt() / full_norm
    best = [float(tail[r]) if r < len(tail) else 0.0 for r in TOY_RANKS]
    a8, a32 = final["lora_a"][3, :8], final["lora_a"][5, :32]
    return {
        "losses": torch.stack(trace.column("step", "losses")).numpy(),
        "full_values": full_values.numpy(),
        "target_values": torch.linalg.svdvals(target).numpy(),
        "relative": np.asarray(relative),
        "best": np.asarray(best),
        "phi": subspace_similarity_grid(a8, a32),
        "target_error": float((full - target).norm() / target.norm()),
    }


@lru_cache(maxsize=16)
def _merge_check(rank: int, alpha: float, seed: int) -> dict:
    """max |merged − unmerged| on a random 256 × 256 layer with trained-looking (non-zero) B,
    in float32 and float64, and the singular values of (α/r)·B·A."""
    import torch

    from core.finetuning.lora import lora_linear, merge

    generator = torch.Generator().manual_seed(seed)
    d = MERGE_SIZE
    weight = torch.randn(d, d, generator=generator, dtype=torch.float64) / d**0.5
    lora_a = torch.randn(rank, d, generator=generator, dtype=torch.float64) / d**0.5
    lora_b = torch.randn(d, rank, generator=generator, dtype=torch.float64) * 0.1
    x = torch.randn(16, d, generator=generator, dtype=torch.float64)
    errors = {}
    for dtype in (torch.float32, torch.float64):
        w, a, b, xs = (t.to(dtype) for t in (weight, lora_a, lora_b, x))
        unmerged = lora_linear(xs, w, None, a, b, alpha)
        merged = xs @ merge(w, a, b, alpha).T
        errors[str(dtype).removeprefix("torch.")] = float((merged - unmerged).abs().max())
    values = torch.linalg.svdvals((alpha / rank) * lora_b @ lora_a).numpy()
    return {"errors": errors, "values": values}


@lru_cache(maxsize=1)
def _latency_file() -> dict:
    if not LATENCY_JSON.exists():
        return {"meta": {}, "rows": []}
    return json.loads(LATENCY_JSON.read_text(encoding="utf-8"))


def _latency_table() -> list[dict]:
    return _latency_file()["rows"]


def _latency_meta() -> dict:
    return _latency_file()["meta"]


# --- figures -------------------------------------------------------------------------------------


def _diagram(p: Params, lang: str) -> go.Figure:
    from core.finetuning.shapes import matrices, resolve

    config = resolve(p.shape)
    shapes_of = matrices(config)
    lit = set(_targets(p.shape, p.targets))
    lit_fill, frozen_fill, adapter_fill = (
        "rgba(0,114,178,0.55)",
        "rgba(156,163,175,0.25)",
        ("rgba(204,121,167,0.45)"),
    )
    boxes, notes, arrows, xs, ys, hovers = [], [], [], [], [], []

    def block(name: str, label: str, x0: float, y0: float, x1: float, y1: float, fill: str):
        boxes.append(_box(x0, y0, x1, y1, fill))
        notes.append({"x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "text": label, "showarrow": False})
        xs.append((x0 + x1) / 2)
        ys.append((y0 + y1) / 2)
        hovers.append(name)

    # left: one transformer layer, bottom to top
    for i, name in enumerate(("q", "k", "v")):
        fan_in, fan_out = shapes_of[name]
        block(
            f"W{name}: {fan_in}×{fan_out}",
            f"W<sub>{name}</sub><br>{fan_in}×{fan_out}",
            0.2 + 1.35 * i,
            0.6,
            1.4 + 1.35 * i,
            1.6,
            lit_fill if name in lit else frozen_fill,
        )
    block("softmax(QKᵀ/√d)V", Text("attention", "注意力")(lang), 0.2, 2.0, 4.1, 2.7, frozen_fill)
    fan_in, fan_out = shapes_of["o"]
    block(
        f"Wo: {fan_in}×{fan_out}",
        f"W<sub>o</sub> {fan_in}×{fan_out}",
        1.0,
        3.0,
        3.3,
        3.7,
        lit_fill if "o" in lit else frozen_fill,
    )
    adapter_label = Text("adapter", "Adapter")(lang)
    block("Houlsby adapter 1", f"{adapter_label} d→m→d", 1.0, 4.0, 3.3, 4.6, adapter_fill)
    mlp = ["gate", "up"] if config["gated_mlp"] else ["up"]
    for i, name in enumerate(mlp):
        fan_in, fan_out = shapes_of[name]
        width = 3.9 / len(mlp)
        block(
            f"W{name}: {fan_in}×{fan_out}",
            f"W<sub>{name}</sub> {fan_in}×{fan_out}",
            0.2 + width * i + 0.05,
            5.0,
            0.2 + width * (i + 1) - 0.05,
            5.7,
            lit_fill if name in lit else frozen_fill,
        )
    fan_in, fan_out = shapes_of["down"]
    block(
        f"Wdown: {fan_in}×{fan_out}",
        f"W<sub>down</sub> {fan_in}×{fan_out}",
        1.0,
        6.0,
        3.3,
        6.7,
        lit_fill if "down" in lit else frozen_fill,
    )
    block("Houlsby adapter 2", f"{adapter_label} d→m→d", 1.0, 7.0, 3.3, 7.6, adapter_fill)
    for y0, y1 in ((1.6, 2.0), (2.7, 3.0), (3.7, 4.0), (4.6, 5.0), (5.7, 6.0), (6.7, 7.0)):
        arrows.append(_arrow(2.15, y0, 2.15, y1))

    # right: the LoRA path beside one frozen matrix, x (k) → h (d)
    d, k = shapes_of["q"][1], shapes_of["q"][0]
    r = p.rank
    block(f"x: {k}", "x", 6.6, 0.3, 7.6, 0.9, frozen_fill)
    block(
        f"W (frozen): {d}×{k}",
        Text("W frozen", "W 冻结")(lang) + f"<br>{d}×{k}",
        5.2,
        2.6,
        6.8,
        4.6,
        frozen_fill,
    )
    block(f"A: {r}×{k}", f"A {r}×{k}<br>~ N(0, σ²)", 7.5, 1.6, 9.5, 2.6, lit_fill)
    block(f"B: {d}×{r}", f"B {d}×{r}<br>= 0", 7.5, 3.2, 9.5, 4.2, lit_fill)
    block(f"α/r = {p.alpha / r:.3g}", f"× α/r = {p.alpha / r:.3g}", 7.5, 4.8, 9.5, 5.4, lit_fill)
    block("h = Wx + (α/r)BAx", "h = Wx + (α/r)·BAx", 6.0, 6.3, 8.2, 7.0, frozen_fill)
    arrows += [
        _arrow(7.1, 0.9, 6.0, 2.6),
        _arrow(7.1, 0.9, 8.5, 1.6),
        _arrow(8.5, 2.6, 8.5, 3.2),
        _arrow(8.5, 4.2, 8.5, 4.8),
        _arrow(6.0, 4.6, 6.8, 6.3),
        _arrow(8.5, 5.4, 7.4, 6.3),
    ]
    legend = Text(
        "blue: trained (LoRA targets), grey: frozen, pink: Houlsby adapters (the alternative)",
        "蓝色：训练（LoRA 目标），灰色：冻结，粉色：Houlsby adapter（另一种做法）",
    )(lang)
    title = Text(
        f"Where LoRA plugs in: one layer of {SHAPES[p.shape].en} ({config['n_layers']} layers), "
        f"r = {r}",
        f"LoRA 加在哪里：{SHAPES[p.shape].zh} 的一层（共 {config['n_layers']} 层），r = {r}",
    )(lang)
    data = [hover_points(xs, ys, hovers)]
    hidden = {"visible": False, "range": [0, 9.8], "fixedrange": True}
    layout = {
        "title": {"text": title},
        "shapes": boxes,
        "annotations": [*notes, *arrows, caption(legend, y=1.0)],
        "xaxis": hidden,
        "yaxis": {**hidden, "range": [0, 7.9]},
        "height": 480,
        "margin": {"l": 10, "r": 10, "t": 70, "b": 10},
    }
    return _figure(data, layout)


def _targets(shape: str, name: str) -> tuple[str, ...]:
    """The matrices of a target set that this shape has (a plain MLP has no gate)."""
    from core.finetuning.shapes import TARGET_SETS, matrices

    present = matrices(shape)
    return tuple(t for t in TARGET_SETS[name] if t in present)


def _counts(p: Params) -> dict:
    from core.finetuning.lora import adapter_parameters, trainable_parameters
    from core.finetuning.shapes import block_parameters

    sets = {
        name: [trainable_parameters(p.shape, int(r), _targets(p.shape, name)) for r in RANK_SWEEP]
        for name in TARGETS
    }
    chosen = trainable_parameters(p.shape, p.rank, _targets(p.shape, p.targets))
    adapters = [adapter_parameters(p.shape, int(m)) for m in RANK_SWEEP]
    return {
        "sets": sets,
        "chosen": chosen,
        "adapter": adapter_parameters(p.shape, p.bottleneck),
        "adapters": adapters,
        "full": block_parameters(p.shape),
    }


def _counts_figure(p: Params, counts: dict, lang: str) -> go.Figure:
    data = []
    for i, name in enumerate(TARGETS):
        data.append(
            {
                "type": "scatter",
                "x": RANK_SWEEP,
                "y": counts["sets"][name],
                "mode": "lines",
                "name": "LoRA: " + TARGETS[name](lang),
                "line": {"color": COLORWAY[i], "width": 3 if name == p.targets else 1.5},
            }
        )
    data.append(
        {
            "type": "scatter",
            "x": RANK_SWEEP,
            "y": counts["adapters"],
            "mode": "lines",
            "name": Text("Houlsby adapters (x = m)", "Houlsby adapter（横轴为 m）")(lang),
            "line": {"color": METHOD_COLORS["adapter"], "dash": "dash"},
        }
    )
    data.append(
        {
            "type": "scatter",
            "x": [1, 256],
            "y": [counts["full"]] * 2,
            "mode": "lines",
            "name": Text("full fine-tuning", "全量微调")(lang),
            "line": {"color": METHOD_COLORS["full"], "dash": "dot"},
        }
    )
    data.append(
        {
            "type": "scatter",
            "x": [p.rank],
            "y": [counts["chosen"]],
            "mode": "markers+text",
            "text": [f"{counts['chosen']:,}"],
            "textposition": "top left",
            "marker": {"size": 11, "color": COLORWAY[list(TARGETS).index(p.targets)]},
            "name": f"r = {p.rank}",
        }
    )
    layout = {
        "title": {
            "text": Text(
                f"Trainable parameters of {SHAPES[p.shape].en} against r",
                f"{SHAPES[p.shape].zh} 的可训练参数量随 r 的变化",
            )(lang)
        },
        "xaxis": {
            "type": "log",
            "title": {"text": Text("rank r (adapter: m)", "秩 r（adapter：m）")(lang)},
        },
        "yaxis": {
            "type": "log",
            "exponentformat": "SI",
            "title": {"text": Text("trainable parameters", "可训练参数量")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 460,
        "margin": {"b": 120},
    }
    return _figure(data, layout)


def _merge_figure(p: Params, merge: dict, lang: str) -> go.Figure:
    values = np.maximum(merge["values"], 1e-18)  # exact zeros drawn at the floor of a log axis
    index = np.arange(1, len(values) + 1)
    data = [
        {
            "type": "scatter",
            "x": index,
            "y": values,
            "mode": "markers",
            "marker": {"size": 5, "color": np.where(index <= p.rank, COLORWAY[0], "#9CA3AF")},
            "name": Text("σᵢ of (α/r)·BA", "(α/r)·BA 的奇异值 σᵢ")(lang),
        }
    ]
    errors = merge["errors"]
    note = Text(
        f"max |merged − unmerged|: float32 {errors['float32']:.1e}, float64 {errors['float64']:.1e}",
        f"max |合并 − 未合并|：float32 {errors['float32']:.1e}，float64 {errors['float64']:.1e}",
    )(lang)
    layout = {
        "title": {
            "text": Text(
                f"Merge check on a 256×256 layer: (α/r)·BA has r = {p.rank} non-zero singular values",
                f"合并检查（256×256 的层）：(α/r)·BA 只有 r = {p.rank} 个非零奇异值",
            )(lang)
        },
        "annotations": [caption(note, y=1.0)],
        "xaxis": {"title": {"text": Text("index i", "序号 i")(lang)}},
        "yaxis": {
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("singular value σᵢ", "奇异值 σᵢ")(lang)},
        },
        "showlegend": False,
        "height": 380,
        "shapes": [
            {
                "type": "line",
                "x0": p.rank + 0.5,
                "x1": p.rank + 0.5,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": "#9CA3AF"},
            }
        ],
    }
    return _figure(data, layout)


def _spectrum_figure(p: Params, toy: dict, lang: str) -> go.Figure:
    index = np.arange(1, 65)
    data = [
        {
            "type": "scatter",
            "x": index,
            "y": toy["target_values"],
            "mode": "lines+markers",
            "name": Text("ΔW* (the task)", "ΔW*（任务）")(lang),
            "line": {"color": COLORWAY[1]},
            "marker": {"size": 4},
        },
        {
            "type": "scatter",
            "x": index,
            "y": toy["full_values"],
            "mode": "lines+markers",
            "name": Text("ΔW_full (full fine-tuning)", "ΔW_full（全量微调）")(lang),
            "line": {"color": METHOD_COLORS["full"]},
            "marker": {"size": 4},
        },
    ]
    layout = {
        "title": {
            "text": Text(
                "Toy: singular values of the learned and the true update",
                "玩具：学到的更新与真实更新的奇异值",
            )(lang)
        },
        "annotations": [
            caption(
                Text(
                    f"‖ΔW_full − ΔW*‖ / ‖ΔW*‖ = {toy['target_error']:.3f}",
                    f"‖ΔW_full − ΔW*‖ / ‖ΔW*‖ = {toy['target_error']:.3f}",
                )(lang)
            )
        ],
        "xaxis": {"title": {"text": Text("index i", "序号 i")(lang)}},
        "yaxis": {
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("singular value σᵢ", "奇异值 σᵢ")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 400,
    }
    return _figure(data, layout)


def _loss_figure(p: Params, toy: dict, lang: str) -> go.Figure:
    losses = toy["losses"]
    steps = np.arange(len(losses))
    data = [
        {
            "type": "scatter",
            "x": steps,
            "y": np.maximum(losses[:, i], 1e-12),
            "mode": "lines",
            "name": f"LoRA r = {r}",
            "line": {"color": RANK_COLORS[i]},
        }
        for i, r in enumerate(TOY_RANKS)
    ]
    data.append(
        {
            "type": "scatter",
            "x": steps,
            "y": np.maximum(losses[:, 6], 1e-12),
            "mode": "lines",
            "name": Text("full fine-tuning", "全量微调")(lang),
            "line": {"color": METHOD_COLORS["full"], "width": 3, "dash": "dot"},
        }
    )
    m = min(p.bottleneck, 64)
    data.append(
        {
            "type": "scatter",
            "x": steps,
            "y": np.maximum(losses[:, 7], 1e-12),
            "mode": "lines",
            "name": Text(f"adapter m = {m}", f"adapter m = {m}")(lang),
            "line": {"color": METHOD_COLORS["adapter"], "dash": "dash"},
        }
    )
    layout = {
        "title": {
            "text": Text(
                f"Toy: training loss, task shift of rank k = {p.shift_rank}",
                f"玩具：训练损失，任务偏移的秩 k = {p.shift_rank}",
            )(lang)
        },
        "xaxis": {"title": {"text": Text("Adam step", "Adam 步数")(lang)}},
        "yaxis": {
            "type": "log",
            "exponentformat": "power",
            "title": {"text": Text("mean squared error", "均方误差")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 420,
        "margin": {"b": 110},
    }
    return _figure(data, layout)


def _rank_error_figure(p: Params, toy: dict, lang: str) -> go.Figure:
    data = [
        {
            "type": "scatter",
            "x": list(TOY_RANKS),
            "y": toy["relative"],
            "mode": "lines+markers",
            "name": Text(
                "LoRA: ‖ΔW_r − ΔW_full‖ / ‖ΔW_full‖", "LoRA：‖ΔW_r − ΔW_full‖ / ‖ΔW_full‖"
            )(lang),
            "line": {"color": COLORWAY[0]},
        },
        {
            "type": "scatter",
            "x": list(TOY_RANKS),
            "y": toy["best"],
            "mode": "lines+markers",
            "name": Text(
                "best rank-r approximation (Eckart–Young)", "最佳秩 r 近似（Eckart–Young）"
            )(lang),
            "line": {"color": COLORWAY[2], "dash": "dash"},
        },
    ]
    layout = {
        "title": {
            "text": Text(
                "Toy: how far each rank's ΔW is from full fine-tuning's",
                "玩具：各个秩的 ΔW 与全量微调的 ΔW 相差多远",
            )(lang)
        },
        "xaxis": {
            "type": "log",
            "tickvals": list(TOY_RANKS),
            "title": {"text": Text("LoRA rank r", "LoRA 秩 r")(lang)},
        },
        "yaxis": {
            "rangemode": "tozero",
            "title": {"text": Text("relative error", "相对误差")(lang)},
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 400,
    }
    return _figure(data, layout)


def _phi_figure(toy: dict, lang: str) -> go.Figure:
    phi = toy["phi"]
    data = [
        {
            "type": "heatmap",
            "z": phi,
            "x": np.arange(1, phi.shape[1] + 1),
            "y": np.arange(1, phi.shape[0] + 1),
            "zmin": 0,
            "zmax": 1,
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "φ"}},
            "hovertemplate": "i = %{y}, j = %{x}: φ = %{z:.2f}<extra></extra>",
        }
    ]
    layout = {
        "title": {
            "text": Text(
                "Toy: subspace similarity φ of A (r = 8) and A (r = 32)",
                "玩具：A（r = 8）与 A（r = 32）的子空间相似度 φ",
            )(lang)
        },
        "xaxis": {
            "title": {
                "text": Text("j (top-j directions of A, r = 32)", "j（r = 32 的 A 的前 j 个方向）")(
                    lang
                )
            }
        },
        "yaxis": {
            "title": {"text": Text("i (top-i of A, r = 8)", "i（r = 8 的 A 的前 i 个方向）")(lang)}
        },
        "height": 340,
    }
    return _figure(data, layout)


def _notes(p: Params, counts: dict, toy: dict, lang: str) -> str:
    from core.finetuning.shapes import resolve

    config = resolve(p.shape)
    d, m = config["d_model"], p.bottleneck
    full = counts["full"]
    rows = [
        ("LoRA " + TARGETS[p.targets](lang) + f", r = {p.rank}", counts["chosen"]),
        (Text(f"Houlsby adapters, m = {m}", f"Houlsby adapter，m = {m}")(lang), counts["adapter"]),
        (Text("full fine-tuning", "全量微调")(lang), full),
    ]
    header = Text(
        "| method | trainable | % of the blocks' weights | Adam states (m, v) |\n|---|---:|---:|---:|",
        "| 方法 | 可训练参数 | 占各层权重的 % | Adam 状态（m、v） |\n|---|---:|---:|---:|",
    )(lang)
    table = [header] + [
        f"| {name} | {n:,} | {100 * n / full:.4g} % | {2 * n:,} |" for name, n in rows
    ]
    final = toy["losses"][-1]
    loss_line = Text("Toy, final loss: ", "玩具的最终损失：")(lang) + ", ".join(
        [f"r={r} {final[i]:.1e}" for i, r in enumerate(TOY_RANKS)]
        + [f"full {final[6]:.1e}", f"adapter {final[7]:.1e}"]
    )
    flops = 2 * 2 * (2 * d * m)  # two adapters per layer, each two matmuls of d·m MACs
    latency = Text(
        f"Adapter cost per token and layer: +{flops:,} FLOPs and 4 extra matmuls that must run "
        "one after another (two per adapter, after attention and after the MLP); merged LoRA: "
        "+0 FLOPs, 0 extra matmuls.",
        f"Adapter 每个 token、每层的额外开销：+{flops:,} FLOPs，以及 4 次必须依次执行的矩阵乘法"
        "（每个 adapter 两次，分别在注意力和 MLP 之后）；合并后的 LoRA：+0 FLOPs，0 次额外矩阵乘法。",
    )(lang)
    lines = ["\n".join(table), "", loss_line, "", latency]
    rows = _latency_table()
    if rows:
        lines += [
            "",
            Text(
                "Measured (`benchmarks/peft_latency.py`, CPU, one thread, batch 1, width 1,024, 24 layers, ms; "
                f"load average {_latency_meta().get('load_average_1min', 0):.0f} while measured):",
                "实测（`benchmarks/peft_latency.py`，CPU，单线程，batch 1，宽度 1,024，24 层，毫秒；"
                f"测量时负载均值 {_latency_meta().get('load_average_1min', 0):.0f}）：",
            )(lang),
            "",
            Text(
                "| sequence | base | LoRA merged | LoRA unmerged | adapter |",
                "| 序列长度 | 原模型 | LoRA 合并 | LoRA 未合并 | adapter |",
            )(lang),
            "|---:|---:|---:|---:|---:|",
            *(
                f"| {row['sequence']} | {row['base']:.3f} | {row['merged']:.3f} | "
                f"{row['unmerged']:.3f} | {row['adapter']:.3f} |"
                for row in rows
            ),
        ]
    return "\n".join(lines)


def render(p: Params, lang: str = "en") -> Rendered:
    toy = _toy(
        p.shift_rank,
        p.shift_size,
        p.noise,
        p.n_samples,
        p.steps,
        p.lr,
        p.alpha,
        min(p.bottleneck, 64),
        p.seed,
    )
    counts = _counts(p)
    merge = _merge_check(p.rank, p.alpha, p.seed)
    figures = [
        _diagram(p, lang),
        _counts_figure(p, counts, lang),
        _merge_figure(p, merge, lang),
        _spectrum_figure(p, toy, lang),
        _loss_figure(p, toy, lang),
        _rank_error_figure(p, toy, lang),
        _phi_figure(toy, lang),
    ]
    return Rendered(figures, _notes(p, counts, toy, lang))


presets = {
    "gpt3": Params(shape="gpt3-175b", targets="q,v", rank=1),
    "rank4": Params(shift_rank=4, noise=0.0, n_samples=384),
    "full_rank": Params(shift_rank=64, shift_size=0.5, n_samples=384),
    "few": Params(shift_rank=4, n_samples=128, steps=150),
}
preset_titles = {
    "gpt3": Text(
        "GPT-3 175B as in the paper: 4.7M and 37.7M",
        "论文中的 GPT-3 175B：470 万与 3770 万",
    ),
    "rank4": Text(
        "A rank-4 shift: r = 4 matches full fine-tuning",
        "秩为 4 的偏移：r = 4 就追上全量微调",
    ),
    "full_rank": Text("A full-rank shift: small r falls short", "满秩的偏移：小的 r 不够用"),
    "few": Text("Few examples: ΔW_full grows a noisy tail", "样本很少：ΔW_full 长出一条噪声尾巴"),
}

EXPLANATION = Text(
    en="""
**Why not fine-tune everything?** Full fine-tuning updates every weight and keeps two Adam
states per weight: for a 7B model that is tens of gigabytes beyond the weights themselves (the
seed article quotes about 160 GB for Qwen1.5-7B-Chat and 1,600 GB for the 72B model), and every
task needs its own copy of the model.

**LoRA** (Hu et al. 2021) freezes the pretrained W and learns only an update of rank r:
h = Wx + (α/r)·B·A·x, with A (r × k) drawn from a Gaussian and B (d × r) set to zero, so training
starts exactly at the pretrained model. Only A and B are trained: r·(k + d) numbers per matrix
instead of d·k. On GPT-3 175B the paper adapts only Wq and Wv: r = 1 trains 4.7M parameters, r = 8
trains 37.7M (choose that preset and the rank). After training, W + (α/r)BA is merged into one
matrix, so inference costs what the base model costs: the merge check shows the difference is
rounding only, and that (α/r)BA has exactly r non-zero singular values.

**Why should a low rank be enough?** Aghajanyan, Zettlemoyer & Gupta (2021) found that
fine-tuning has a low *intrinsic dimension*: a random subspace of a few hundred dimensions
suffices. Hu et al. measured that ΔW's top directions agree across ranks (the φ heatmap: the
first directions of r = 8 lie inside those of r = 32). The toy makes this concrete: a frozen
tanh MLP (32 → 64 → 64 → 16) must learn W + ΔW*. When ΔW* has rank k, LoRA with r ≥ k reaches
full fine-tuning's loss; when ΔW* is full rank, small r falls short, and the distance to ΔW_full
follows the Eckart–Young limit (the best any rank-r matrix can do). With few inputs, ΔW_full grows
a tail of small singular values that the data never asked for.

**Adapters** (Houlsby et al. 2019) insert a bottleneck d → m → d with a residual after attention
and after the MLP. They train few parameters too, but they cannot be merged: at batch 1 their
extra sequential matmuls add latency, which is what LoRA removes.
""",
    zh="""
**为什么不全部微调？** 全量微调要更新每一个权重，并为每个权重保存两个 Adam 状态：对 7B 模型，这比权重本身
还要多出几十 GB（种子文章给出的数字：Qwen1.5-7B-Chat 约需 160 GB，72B 模型约需 1,600 GB），而且每个任务都要
保存一整份模型。

**LoRA**（Hu 等，2021）冻结预训练权重 W，只学习一个秩为 r 的更新：h = Wx + (α/r)·B·A·x，其中 A（r × k）
用高斯分布初始化，B（d × r）初始化为零，所以训练恰好从预训练模型出发。只训练 A 和 B：每个矩阵 r·(k + d) 个数，
而不是 d·k 个。论文在 GPT-3 175B 上只对 Wq 和 Wv 加 LoRA：r = 1 时训练 470 万个参数，r = 8 时训练 3770 万个
（选择对应预设并调节秩即可看到）。训练结束后把 W + (α/r)BA 合并成一个矩阵，推理开销与原模型相同：合并检查显示
两者的差只是舍入误差，并且 (α/r)BA 恰好有 r 个非零奇异值。

**为什么低秩就够？** Aghajanyan、Zettlemoyer 与 Gupta（2021）发现微调的*内在维度*很低：几百维的随机子空间
就足够。Hu 等人测得不同秩学到的 ΔW 的主要方向彼此一致（φ 热力图：r = 8 的前几个方向落在 r = 32 的方向之中）。
玩具模型把这一点具体化：一个冻结的 tanh MLP（32 → 64 → 64 → 16）要学会 W + ΔW*。当 ΔW* 的秩为 k 时，
r ≥ k 的 LoRA 能达到全量微调的损失；当 ΔW* 满秩时，小的 r 不够用，而与 ΔW_full 的距离服从 Eckart–Young
下界（任何秩 r 矩阵能做到的最好结果）。样本很少时，ΔW_full 会长出一条数据并未要求的小奇异值尾巴。

**Adapter**（Houlsby 等，2019）在注意力和 MLP 之后各插入一个带残差的瓶颈层 d → m → d。它训练的参数也很少，
但无法合并：batch 为 1 时，额外的串行矩阵乘法会增加延迟，而这正是 LoRA 消除的。
""",
)

DEMO = Demo(
    slug="lora",
    section="finetuning",
    figures=7,
    title=Text("LoRA: low-rank adaptation", "LoRA：低秩适配"),
    summary=Text(
        "Freeze W, train (α/r)·BA: parameter counts for real shapes, the merge, and a live toy.",
        "冻结 W，只训练 (α/r)·BA：真实模型的参数量、合并检查和一个现场训练的玩具模型。",
    ),
    sources=(
        Source(
            "LoRA: Low-Rank Adaptation of Large Language Models",
            "E. J. Hu, Y. Shen, P. Wallis, Z. Allen-Zhu, Y. Li, S. Wang, L. Wang, W. Chen",
            2021,
            "https://arxiv.org/abs/2106.09685",
        ),
        Source(
            "Intrinsic Dimensionality Explains the Effectiveness of Language Model Fine-Tuning",
            "A. Aghajanyan, L. Zettlemoyer, S. Gupta",
            2021,
            "https://arxiv.org/abs/2012.13255",
        ),
        Source(
            "Parameter-Efficient Transfer Learning for NLP",
            "N. Houlsby, A. Giurgiu, S. Jastrzebski, B. Morrone, Q. de Laroussilhe, A. Gesmundo, "
            "M. Attariyan, S. Gelly",
            2019,
            "https://arxiv.org/abs/1902.00751",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
