"""MHA, MQA, GQA and MLA: how much key/value cache does each keep, and what does it cost?

Multi-head attention caches a key and a value per head per token; multi-query and grouped-query
attention let query heads share K/V heads; DeepSeek-V2's multi-head latent attention caches one
low-rank latent c_KV and one shared RoPE key k_R, and folds the up-projections into the query
and output sides. The page wires the heads, counts cache bytes for published model shapes, runs
the four as real modules on one input and shows why RoPE needs its own decoupled key.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel, field_validator

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch

KINDS = ("mha", "gqa", "mqa", "mla")
KIND_NAMES = {"mha": "MHA", "gqa": "GQA", "mqa": "MQA", "mla": "MLA"}
COLORS = dict(zip(KINDS, COLORWAY[:4], strict=True))
MEMORIES_GB = (24, 80, 141)  # a 24 GB card, an 80 GB A100/H100, a 141 GB H200
CONTEXTS = np.unique(np.round(np.geomspace(1024, 131072, 43)).astype(int))  # 1k … 128k
GQA_FALLBACK_KV_HEADS = 8  # the GQA bar of a model that has none: LLaMA-2 70B's 8 groups
MODELS = {
    "llama2-7b": Text("LLaMA-2 7B", "LLaMA-2 7B"),
    "llama2-70b": Text("LLaMA-2 70B", "LLaMA-2 70B"),
    "deepseek-v2": Text("DeepSeek-V2", "DeepSeek-V2"),
    "custom": Text("custom (sliders below)", "自定义（见下方滑块）"),
}
MODEL_KEYS = {"llama2-7b": "LLaMA-2 7B", "llama2-70b": "LLaMA-2 70B", "deepseek-v2": "DeepSeek-V2"}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    model: Literal["llama2-7b", "llama2-70b", "deepseek-v2", "custom"] = param(
        "llama2-70b",
        en="Model shape for the cache",
        zh="计算缓存所用的模型形状",
        choices=MODELS,
    )
    custom_layers: int = param(32, en="Custom: layers", zh="自定义：层数", ge=1, le=128)
    custom_heads: int = param(32, en="Custom: query heads", zh="自定义：查询头数", ge=1, le=128)
    custom_head_dim: int = param(128, en="Custom: head dim", zh="自定义：头维度", ge=16, le=256)
    custom_kv_heads: int = param(
        8,
        en="Custom: KV heads (GQA)",
        zh="自定义：KV 头数（GQA）",
        help_en="Not a divisor of the query heads: the largest divisor below it is used.",
        help_zh="若不整除查询头数，则取不超过它的最大因数。",
        ge=1,
        le=128,
    )
    custom_latent: int = param(
        512, en="Custom: MLA latent d_c", zh="自定义：MLA 潜向量维度 d_c", ge=16, le=4096
    )
    custom_rope: int = param(
        64, en="Custom: MLA RoPE key d_R", zh="自定义：MLA 的 RoPE 键维度 d_R", ge=0, le=256
    )
    precision: Literal["2", "1", "4"] = param(
        "2",
        en="Cache precision",
        zh="缓存精度",
        choices={
            "2": Text("fp16/bf16 (2 bytes)", "fp16/bf16（2 字节）"),
            "1": Text("fp8 (1 byte)", "fp8（1 字节）"),
            "4": Text("fp32 (4 bytes)", "fp32（4 字节）"),
        },
    )
    batch: int = param(1, en="Batch (sequences)", zh="批大小（序列数）", ge=1, le=256)
    n_tokens: int = param(32, en="Live modules: tokens N", zh="实际模块：token 数 N", ge=1, le=128)
    n_heads: int = param(
        8,
        en="Live modules: query heads H",
        zh="实际模块：查询头数 H",
        ge=1,
        le=16,
    )
    head_dim: int = param(
        8,
        en="Live modules: head dim d (D = H·d)",
        zh="实际模块：头维度 d（D = H·d）",
        help_en="Even (RoPE turns pairs); the model width D = H·d, as nn.MultiheadAttention needs.",
        help_zh="须为偶数（RoPE 按对旋转）；模型宽度 D = H·d，这是 nn.MultiheadAttention 的要求。",
        ge=2,
        le=16,
        step=2,
    )
    n_kv_heads: int = param(
        2,
        en="Live modules: GQA's KV heads",
        zh="实际模块：GQA 的 KV 头数",
        help_en="H gives MHA, 1 gives MQA; not a divisor of H: the largest divisor below it.",
        help_zh="等于 H 即 MHA，等于 1 即 MQA；若不整除 H，则取不超过它的最大因数。",
        ge=1,
        le=16,
    )
    latent: int = param(8, en="Live MLA: latent d_c", zh="实际 MLA：潜向量维度 d_c", ge=1, le=64)
    rope_dim: int = param(
        4, en="Live MLA: RoPE dims d_R", zh="实际 MLA：RoPE 维度 d_R", ge=2, le=32, step=2
    )
    causal: bool = param(True, en="Causal mask", zh="因果掩码")
    rope_on_compressed: bool = param(
        False,
        en="RoPE on the compressed key (no decoupled k_R)",
        zh="把 RoPE 直接加在压缩后的键上（不用解耦的 k_R）",
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)

    @field_validator("rope_dim", "head_dim")
    @classmethod
    def _even(cls, size: int) -> int:
        if size % 2:
            raise ValueError(f"RoPE turns pairs of dimensions, so it must be even (got {size})")
        return size


def divisor_at_most(n: int, requested: int) -> int:
    """The largest divisor of n that is ≤ requested: the K/V heads a group count can use."""
    return max(k for k in range(1, min(n, requested) + 1) if n % k == 0)


def live_kv_heads(p: Params) -> int:
    return divisor_at_most(p.n_heads, p.n_kv_heads)


# --- model shapes and cache bytes -------------------------------------------------------------


def _shape(p: Params) -> dict[str, int]:
    """Layers, heads, head dim, GQA's KV heads and MLA's sizes of the chosen model."""
    from core.attention.variants import MODEL_SHAPES

    if p.model == "custom":
        return {
            "n_layers": p.custom_layers,
            "n_heads": p.custom_heads,
            "head_dim": p.custom_head_dim,
            "n_kv_heads": divisor_at_most(p.custom_heads, p.custom_kv_heads),
            "kv_latent_dim": p.custom_latent,
            "rope_dim": p.custom_rope,
        }
    shape = dict(MODEL_SHAPES[MODEL_KEYS[p.model]])
    if shape.get("n_kv_heads", shape["n_heads"]) == shape["n_heads"]:
        shape["n_kv_heads"] = min(GQA_FALLBACK_KV_HEADS, shape["n_heads"])
    # MLA for a model without it: DeepSeek-V2's ratios, d_c = 4·d_h and d_R = d_h/2
    shape.setdefault("kv_latent_dim", 4 * shape["head_dim"])
    shape.setdefault("rope_dim", shape["head_dim"] // 2)
    return shape


def _hypothetical_mla(p: Params) -> bool:
    return p.model in ("llama2-7b", "llama2-70b")


def _hypothetical_gqa(p: Params) -> bool:
    return p.model in ("llama2-7b", "deepseek-v2")


def cache_per_token(p: Params) -> dict[str, tuple[int, int]]:
    """Bytes per token over all layers, split in two parts: (K, V), or MLA's (c_KV, k_R)."""
    from core.attention.variants import kv_cache_bytes

    s, size = _shape(p), int(p.precision)
    result = {}
    for kind in KINDS:
        total = kv_cache_bytes(
            kind,
            s["n_layers"],
            s["n_heads"],
            s["head_dim"],
            n_kv_heads=s["n_kv_heads"],
            kv_latent_dim=s["kv_latent_dim"],
            rope_dim=s["rope_dim"],
            bytes_per_element=size,
        )
        if kind == "mla":
            latent = s["kv_latent_dim"] * s["n_layers"] * size
            result[kind] = (latent, total - latent)
        else:
            result[kind] = (total // 2, total // 2)
    return result


def _bytes(count: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count:.0f} B"


# --- the live modules ---------------------------------------------------------------------


def _torch() -> torch:
    import torch

    return torch


@functools.lru_cache(maxsize=16)
def _live(
    d: int,
    n: int,
    h: int,
    h_kv: int,
    latent: int,
    rope_dim: int,
    causal: bool,
    seed: int,
) -> dict:
    """The four modules on one input, their maps, the references' errors, MLA's keys and scores."""
    torch = _torch()
    import torch.nn.functional as F

    from core.attention.variants import (
        compressed_rope_scores,
        grouped_query_attention,
        mla_attention,
    )
    from core.trace import Trace

    g = torch.Generator().manual_seed(seed)
    d_model = h * d

    def weight(rows: int, cols: int) -> torch.Tensor:
        return torch.randn(rows, cols, generator=g, dtype=torch.float64) / math.sqrt(cols)

    x = torch.randn(1, n, d_model, generator=g, dtype=torch.float64)
    w_q, w_o = weight(h * d, d_model), weight(d_model, h * d)
    w_k, w_v = weight(h * d, d_model), weight(h * d, d_model)
    maps, errors = {}, {}
    # MHA, and nn.MultiheadAttention with the same weights as its reference
    t = Trace()
    mha = grouped_query_attention(x, w_q, w_k, w_v, w_o, h, h, causal=causal, trace=t)
    maps["mha"] = t["probs"][0][0]
    module = torch.nn.MultiheadAttention(d_model, h, bias=False, batch_first=True).double()
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([w_q, w_k, w_v]))
        module.out_proj.weight.copy_(w_o)
    mask = ~torch.ones(n, n, dtype=torch.bool).tril() if causal else None
    with torch.no_grad():
        reference, _ = module(x, x, x, attn_mask=mask, need_weights=False)
    errors["mha_vs_torch"] = float((mha - reference).abs().max())
    # GQA with H groups is MHA
    full = grouped_query_attention(x, w_q, w_k, w_v, w_o, h, h, causal=causal)
    errors["gqa_h_vs_mha"] = float((full - reference).abs().max())
    # GQA: K/V heads are the first of each group's rows (a mean-pooled checkpoint would do too)
    w_k_g, w_v_g = w_k[: h_kv * d], w_v[: h_kv * d]
    t = Trace()
    grouped_query_attention(x, w_q, w_k_g, w_v_g, w_o, h, h_kv, causal=causal, trace=t)
    maps["gqa"] = t["probs"][0][0]
    # MQA: GQA with one group against one K/V head broadcast through SDPA
    w_k_1, w_v_1 = w_k[:d], w_v[:d]
    t = Trace()
    mqa = grouped_query_attention(x, w_q, w_k_1, w_v_1, w_o, h, 1, causal=causal, trace=t)
    maps["mqa"] = t["probs"][0][0]
    q = (x @ w_q.T).view(1, n, h, d).transpose(1, 2)
    k1, v1 = ((x @ w.T).view(1, 1, n, d).expand(1, h, n, d) for w in (w_k_1, w_v_1))
    sdpa = F.scaled_dot_product_attention(q, k1, v1, is_causal=causal)
    errors["gqa_1_vs_mqa"] = float((mqa - sdpa.transpose(1, 2).flatten(2) @ w_o.T).abs().max())
    # MLA with d_nope = d_v = d, query latent 2·d_c
    w_mla = {
        "w_dq": weight(2 * latent, d_model),
        "w_uq": weight(h * d, 2 * latent),
        "w_qr": weight(h * rope_dim, 2 * latent),
        "w_dkv": weight(latent, d_model),
        "w_uk": weight(h * d, latent),
        "w_kr": weight(rope_dim, d_model),
        "w_uv": weight(h * d, latent),
        "w_o": weight(d_model, h * d),
    }
    t = Trace()
    explicit = mla_attention(x, w_mla, h, causal=causal, trace=t)
    absorbed_trace = Trace()
    absorbed = mla_attention(x, w_mla, h, absorb=True, causal=causal, trace=absorbed_trace)
    maps["mla"] = t["probs"][0][0]
    errors["mla_absorbed_vs_explicit"] = float((absorbed - explicit).abs().max())
    keys = t["keys"][0][0]  # (H, N, d_nope)
    stacked = keys.transpose(0, 1).reshape(n, h * d)  # N × H·d_nope
    singular = torch.linalg.svdvals(stacked)
    scores_explicit, scores_absorbed = t["scores"][0][0], absorbed_trace["scores"][0][0]
    finite = torch.isfinite(scores_explicit)
    decoupled_error = (scores_explicit - scores_absorbed).abs()
    true, attempt = compressed_rope_scores(x, w_mla, h)
    return {
        "maps": {kind: m.numpy() for kind, m in maps.items()},
        "errors": errors,
        "singular": singular.numpy(),
        "decoupled_error": torch.where(finite, decoupled_error, 0.0)[0].numpy(),
        "rope_error": ((true - attempt)[0, 0] / math.sqrt(d + rope_dim)).abs().numpy(),
        "flops": t["flops"][0],
    }


# --- figures --------------------------------------------------------------------------------


def _domains(count: int, gap: float = 0.04) -> list[list[float]]:
    width = (1 - gap * (count - 1)) / count
    return [[i * (width + gap), i * (width + gap) + width] for i in range(count)]


def _sharing_figure(p: Params, lang: str) -> go.Figure:
    """Query heads (top) wired to the K/V heads (or MLA's latent) they read, four panels."""
    h = p.n_heads
    h_kv = live_kv_heads(p)
    groups = {"mha": h, "gqa": h_kv, "mqa": 1}
    data, layout = [], {}
    annotations = []
    panel_names = {
        "mha": Text(f"MHA: {h} K/V heads", f"MHA：{h} 个 K/V 头"),
        "gqa": Text(f"GQA: {h_kv} K/V heads", f"GQA：{h_kv} 个 K/V 头"),
        "mqa": Text("MQA: 1 K/V head", "MQA：1 个 K/V 头"),
        "mla": Text("MLA: one latent c_KV + shared k_R", "MLA：一个潜向量 c_KV + 共享 k_R"),
    }
    qx = np.linspace(0, 1, h) if h > 1 else np.array([0.5])
    for i, (kind, domain) in enumerate(zip(KINDS, _domains(4), strict=True)):
        axis = "" if i == 0 else str(i + 1)
        lines_x, lines_y = [], []
        if kind == "mla":
            kv_x = np.array([0.35, 0.75])
            kv_labels = ["c_KV", "k_R"]
            for xq in qx:
                for xk in kv_x:
                    lines_x += [xq, xk, None]
                    lines_y += [1, 0, None]
        else:
            n_kv = groups[kind]
            kv_x = np.linspace(0, 1, n_kv) if n_kv > 1 else np.array([0.5])
            kv_labels = [f"KV{j}" for j in range(n_kv)]
            for head, xq in enumerate(qx):
                j = head * n_kv // h  # SDPA's enable_gqa grouping
                lines_x += [xq, kv_x[j], None]
                lines_y += [1, 0, None]
        common = {"xaxis": f"x{axis}", "yaxis": f"y{axis}", "showlegend": False}
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": lines_x,
                "y": lines_y,
                "line": {"color": COLORS[kind], "width": 1.5},
                "hoverinfo": "skip",
                **common,
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": qx,
                "y": np.ones(h),
                "marker": {"size": 11, "color": COLORWAY[6], "symbol": "circle"},
                "text": [f"q{j}" for j in range(h)],
                "hovertemplate": "%{text}<extra></extra>",
                **common,
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": kv_x,
                "y": np.zeros(len(kv_x)),
                "marker": {"size": 16, "color": COLORS[kind], "symbol": "square"},
                "text": kv_labels if len(kv_x) <= 4 else ["" for _ in kv_x],
                "textposition": "bottom center",
                "hovertext": kv_labels,
                "hovertemplate": "%{hovertext}<extra></extra>",
                **common,
            }
        )
        hidden = {"visible": False, "fixedrange": True}
        layout[f"xaxis{axis}"] = {**hidden, "domain": domain, "range": [-0.12, 1.12]}
        layout[f"yaxis{axis}"] = {**hidden, "range": [-0.45, 1.25], "anchor": f"x{axis}"}
        annotations.append(
            caption(panel_names[kind](lang), x=(domain[0] + domain[1]) / 2, xanchor="center")
        )
    layout.update(
        {
            "title": {
                "text": Text(
                    "Which keys and values each query head reads (grey dots: query heads)",
                    "每个查询头读取哪些键和值（灰点：查询头）",
                )(lang)
            },
            "annotations": annotations,
            "height": 260,
            "margin": {"l": 20, "r": 20, "t": 80, "b": 30},
        }
    )
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _cache_figure(p: Params, lang: str) -> go.Figure:
    per_token = cache_per_token(p)
    part_names = {
        "mha": (Text("K", "K"), Text("V", "V")),
        "gqa": (Text("K", "K"), Text("V", "V")),
        "mqa": (Text("K", "K"), Text("V", "V")),
        "mla": (Text("latent c_KV", "潜向量 c_KV"), Text("RoPE key k_R", "RoPE 键 k_R")),
    }
    data = []
    names = [KIND_NAMES[k] for k in KINDS]
    for part in (0, 1):
        data.append(
            {
                "type": "bar",
                "x": names,
                "y": [per_token[k][part] / 1024 for k in KINDS],
                "marker": {
                    "color": [COLORS[k] for k in KINDS],
                    "opacity": 1.0 if part == 0 else 0.55,
                },
                "text": [part_names[k][part](lang) for k in KINDS],
                "textposition": "inside",
                "hovertemplate": "%{x} %{text}: %{y:.4g} KiB<extra></extra>",
                "showlegend": False,
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "text",
            "x": names,
            "y": [sum(per_token[k]) / 1024 for k in KINDS],
            "text": [_bytes(sum(per_token[k])) for k in KINDS],
            "textposition": "top center",
            "showlegend": False,
            "hoverinfo": "skip",
        }
    )
    for kind in KINDS:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": CONTEXTS,
                "y": CONTEXTS * sum(per_token[kind]) * p.batch / 1e9,
                "name": KIND_NAMES[kind],
                "line": {"color": COLORS[kind], "width": 2.5},
                "xaxis": "x2",
                "yaxis": "y2",
                "hovertemplate": f"{KIND_NAMES[kind]}: %{{x}} tokens → %{{y:.3g}} GB<extra></extra>",
            }
        )
    shapes, annotations = [], []
    for gb in MEMORIES_GB:
        shapes.append(
            {
                "type": "line",
                "xref": "x2 domain",
                "yref": "y2",
                "x0": 0,
                "x1": 1,
                "y0": gb,
                "y1": gb,
                "line": {"dash": "dot", "color": COLORWAY[6]},
            }
        )
        annotations.append(
            {
                "text": f"{gb} GB",
                "xref": "x2 domain",
                "yref": "y2",
                "x": 0.01,
                "y": math.log10(gb),
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    model = MODELS[p.model](lang)
    annotations.append(caption(Text("per token, all layers", "每个 token，所有层")(lang), x=0))
    annotations.append(
        caption(
            Text(
                f"per batch of {p.batch} against context (cache only)",
                f"{p.batch} 条序列的总缓存随上下文长度（只算缓存）",
            )(lang),
            x=0.5,
        )
    )
    layout = {
        "title": {"text": Text(f"KV cache of {model}", f"{model} 的 KV 缓存")(lang)},
        "barmode": "stack",
        "xaxis": {"domain": [0, 0.4], "title": {"text": Text("attention", "注意力类型")(lang)}},
        "yaxis": {
            "title": {"text": Text("KiB per token", "每个 token 的 KiB")(lang)},
            "range": [0, 1.22 * max(sum(v) for v in per_token.values()) / 1024],
        },
        "xaxis2": {
            "domain": [0.5, 1],
            "type": "log",
            "anchor": "y2",
            "title": {
                "text": Text("context length (tokens, log)", "上下文长度（token，对数）")(lang)
            },
        },
        "yaxis2": {
            "type": "log",
            "anchor": "x2",
            "title": {"text": Text("cache (GB, log)", "缓存（GB，对数）")(lang)},
        },
        "shapes": shapes,
        "annotations": annotations,
        "legend": {"orientation": "h", "x": 0.5, "y": -0.25},
        "height": 420,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _maps_figure(p: Params, live: dict, lang: str) -> go.Figure:
    h = p.n_heads
    shown = sorted({0, 1, h - 2, h - 1} & set(range(h)))
    cols = len(shown)
    data, layout, annotations = [], {}, []
    x_domains = _domains(cols, 0.03)
    y_domains = _domains(4, 0.06)[::-1]
    for r, kind in enumerate(KINDS):
        n_kv = {"mha": h, "gqa": live_kv_heads(p), "mqa": 1, "mla": 1}[kind]
        for c, head in enumerate(shown):
            index = r * cols + c + 1
            axis = "" if index == 1 else str(index)
            data.append(
                {
                    "type": "heatmap",
                    "z": live["maps"][kind][head].astype(np.float32),
                    "zmin": 0,
                    "zmax": 1,
                    "colorscale": "Viridis",
                    "showscale": index == 1,
                    "colorbar": {"title": {"text": "p"}, "len": 0.5},
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "hovertemplate": "query %{y} → key %{x}: %{z:.3f}<extra></extra>",
                }
            )
            layout[f"xaxis{axis}"] = {
                "domain": x_domains[c],
                "anchor": f"y{axis}",
                "showticklabels": r == 3,
                "title": {"text": Text("key", "键")(lang) if r == 3 else ""},
            }
            layout[f"yaxis{axis}"] = {
                "domain": y_domains[r],
                "anchor": f"x{axis}",
                "autorange": "reversed",
                "showticklabels": c == 0,
                "title": {"text": Text("query", "查询")(lang) if c == 0 else ""},
            }
            group = "" if kind == "mla" else f" · KV{head * n_kv // h}"
            annotations.append(
                {
                    **caption(f"{KIND_NAMES[kind]} head {head}{group}", size=11),
                    "xref": f"x{axis} domain",
                    "yref": f"y{axis} domain",
                }
            )
    layout.update(
        {
            "title": {
                "text": Text(
                    "The four as real modules on one input: attention maps of some heads",
                    "四种注意力在同一输入上的实际运行：部分头的注意力图",
                )(lang)
            },
            "annotations": annotations,
            "height": 760,
            "margin": {"l": 60, "r": 20, "t": 70, "b": 50},
        }
    )
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def decode_flops(p: Params, contexts: np.ndarray) -> dict[str, np.ndarray]:
    """FLOPs per new token and layer for MLA, explicit and absorbed, against the context."""
    from core.attention.variants import MODEL_SHAPES, mla_flops

    s = _shape(p)
    d_model = MODEL_SHAPES.get(MODEL_KEYS.get(p.model, ""), {}).get(
        "d_model", s["n_heads"] * s["head_dim"]
    )
    sizes = {
        "d_c": s["kv_latent_dim"],
        "d_nope": s["head_dim"],
        "d_rope": s["rope_dim"],
        "d_v": s["head_dim"],
        "d_out": d_model,
    }
    rows = [mla_flops(sizes, s["n_heads"], 1, int(L)) for L in contexts]
    return {key: np.array([row[key] for row in rows], dtype=float) for key in rows[0]}


def _mla_figure(p: Params, live: dict, lang: str) -> go.Figure:
    singular = live["singular"]
    floor = max(float(singular.max()) * 1e-17, 1e-300)
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": np.arange(1, len(singular) + 1),
            "y": np.maximum(singular, floor),
            "name": Text("singular values of all heads' keys", "所有头的键的奇异值")(lang),
            "line": {"color": COLORS["mla"]},
            "hovertemplate": "σ_%{x} = %{y:.3g}<extra></extra>",
        }
    ]
    flops = decode_flops(p, CONTEXTS)
    for key, dash, label in (
        (
            "explicit",
            "solid",
            Text("explicit: up-project every cached latent", "显式：把每个缓存的潜向量上投影"),
        ),
        (
            "absorbed",
            "dash",
            Text("absorbed: attend over c_KV, k_R", "吸收：直接在 c_KV、k_R 上做注意力"),
        ),
    ):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": CONTEXTS,
                "y": flops[key],
                "name": label(lang),
                "line": {
                    "color": COLORS["mla"] if key == "absorbed" else COLORS["mha"],
                    "dash": dash,
                },
                "xaxis": "x2",
                "yaxis": "y2",
                "hovertemplate": "%{x} tokens: %{y:.3g} FLOPs<extra></extra>",
            }
        )
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": p.latent + 0.5,
            "x1": p.latent + 0.5,
            "y0": 0,
            "y1": 1,
            "line": {"dash": "dot", "color": COLORWAY[6]},
        }
    ]
    model = MODELS[p.model](lang)
    layout = {
        "title": {
            "text": Text(
                "MLA: the keys are low-rank, and absorption makes decoding cheap",
                "MLA：键是低秩的，吸收权重让解码更省",
            )(lang)
        },
        "xaxis": {
            "domain": [0, 0.42],
            "title": {
                "text": Text("index (N × H·d keys matrix)", "序号（N × H·d 的键矩阵）")(lang)
            },
        },
        "yaxis": {
            "type": "log",
            "title": {"text": Text("singular value (log)", "奇异值（对数）")(lang)},
        },
        "xaxis2": {
            "domain": [0.55, 1],
            "type": "log",
            "anchor": "y2",
            "title": {"text": Text("context length (log)", "上下文长度（对数）")(lang)},
        },
        "yaxis2": {
            "type": "log",
            "anchor": "x2",
            "title": {
                "text": Text("FLOPs per new token per layer", "每层每个新 token 的 FLOPs")(lang)
            },
        },
        "shapes": shapes,
        "annotations": [
            caption(
                Text(f"cliff after d_c = {p.latent}", f"在 d_c = {p.latent} 之后断崖")(lang), x=0
            ),
            caption(
                Text(f"decode cost at {model}'s sizes", f"{model} 尺寸下的解码开销")(lang), x=0.55
            ),
        ],
        "legend": {"orientation": "h", "x": 0, "y": -0.25},
        "height": 420,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _rope_figure(p: Params, live: dict, lang: str) -> go.Figure:
    error = live["rope_error"] if p.rope_on_compressed else live["decoupled_error"]
    if p.rope_on_compressed:
        title = Text(
            "RoPE on k_C: absorbed scores miss R_(n−m), error grows off the diagonal (head 0)",
            "把 RoPE 加在 k_C 上：吸收后的分数丢了 R_(n−m)，偏离对角线误差变大（头 0）",
        )
    else:
        title = Text(
            "Decoupled k_R: absorbed = explicit scores up to rounding (head 0)",
            "解耦的 k_R：吸收后的分数与显式计算只差舍入误差（头 0）",
        )
    n = error.shape[0]
    distance = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    by_distance = np.array([error[distance == k].mean() for k in range(n)])
    data = [
        {
            "type": "heatmap",
            "z": error.astype(np.float32),
            "colorscale": "Magma",
            "colorbar": {
                "title": {"text": "|Δ|"},
                "x": 0.41,
                "len": 0.9,
                "thickness": 12,
                "exponentformat": "e",
            },
            "hovertemplate": "m %{y}, n %{x}: |Δ| = %{z:.2e}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": np.arange(n),
            "y": by_distance,
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text("mean |Δ| at distance |m − n|", "距离 |m − n| 处的平均 |Δ|")(lang),
            "line": {"color": COLORS["mla"]},
            "showlegend": False,
        },
    ]
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"domain": [0, 0.36], "title": {"text": Text("key position n", "键位置 n")(lang)}},
        "yaxis": {
            "autorange": "reversed",
            "title": {"text": Text("query position m", "查询位置 m")(lang)},
        },
        "xaxis2": {
            "domain": [0.6, 1],
            "anchor": "y2",
            "title": {"text": Text("distance |m − n|", "距离 |m − n|")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "title": {"text": Text("mean |Δ score|", "平均 |Δ 分数|")(lang)},
            "exponentformat": "e",
        },
        "height": 380,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- notes and render ----------------------------------------------------------------------


def _notes(p: Params, live: dict, lang: str) -> str:
    per_token = cache_per_token(p)
    e = live["errors"]
    lines = [
        Text(
            f"**References (fp64, max |Δ| of outputs):** MHA vs `nn.MultiheadAttention` "
            f"{e['mha_vs_torch']:.1e}; GQA({p.n_heads}) vs MHA {e['gqa_h_vs_mha']:.1e}; GQA(1) vs "
            f"MQA through SDPA {e['gqa_1_vs_mqa']:.1e}; MLA absorbed vs explicit "
            f"{e['mla_absorbed_vs_explicit']:.1e}.",
            f"**参考对照（fp64，输出的最大 |Δ|）**：MHA 对 `nn.MultiheadAttention` "
            f"{e['mha_vs_torch']:.1e}；GQA({p.n_heads}) 对 MHA {e['gqa_h_vs_mha']:.1e}；GQA(1) 对经由 SDPA "
            f"的 MQA {e['gqa_1_vs_mqa']:.1e}；MLA 吸收式对显式 {e['mla_absorbed_vs_explicit']:.1e}。",
        )(lang)
    ]
    notes_hyp = []
    if _hypothetical_gqa(p):
        notes_hyp.append(
            Text(
                f"GQA with {_shape(p)['n_kv_heads']} KV heads is hypothetical for this model",
                f"此模型的 GQA（{_shape(p)['n_kv_heads']} 个 KV 头）是假设的",
            )(lang)
        )
    if _hypothetical_mla(p):
        notes_hyp.append(
            Text(
                "MLA is hypothetical here, with DeepSeek-V2's ratios d_c = 4·d_h, d_R = d_h/2",
                "此处 MLA 是假设的，按 DeepSeek-V2 的比例 d_c = 4·d_h、d_R = d_h/2",
            )(lang)
        )
    header = Text(
        "| | per token | " + " | ".join(f"tokens in {gb} GB" for gb in MEMORIES_GB) + " |",
        "| | 每 token | " + " | ".join(f"{gb} GB 能放的 token" for gb in MEMORIES_GB) + " |",
    )(lang)
    rows = [header, "|---|---:|" + "---:|" * len(MEMORIES_GB)]
    for kind in KINDS:
        size = sum(per_token[kind])
        fits = [f"{int(gb * 1e9 // size):,}" for gb in MEMORIES_GB]
        rows.append(f"| {KIND_NAMES[kind]} | {_bytes(size)} | " + " | ".join(fits) + " |")
    ratio = sum(per_token["mha"]) / sum(per_token["gqa"])
    lines.append(
        Text(
            f"**Cache** ({MODELS[p.model](lang)}, {p.precision} bytes per number; GB = 10⁹ bytes, "
            f"tokens summed over the batch, weights not counted): GQA keeps {ratio:.3g}× less than "
            f"MHA. " + ("; ".join(notes_hyp) + "." if notes_hyp else ""),
            f"**缓存**（{MODELS[p.model](lang)}，每个数 {p.precision} 字节；GB = 10⁹ 字节，token 数按整个批次合计，"
            f"不含权重）：GQA 比 MHA 少 {ratio:.3g} 倍。"
            + ("；".join(notes_hyp) + "。" if notes_hyp else ""),
        )(lang)
    )
    flops = live["flops"]
    return (
        "\n\n".join(lines)
        + "\n\n"
        + "\n".join(rows)
        + "\n\n"
        + Text(
            f"Live MLA prefill over {p.n_tokens} tokens from the cache: explicit {flops['explicit']:,} "
            f"FLOPs, absorbed {flops['absorbed']:,} (absorbed dots are d_c long, but nothing is "
            "up-projected per cached token: it wins once decoding reads a long cache).",
            f"实际 MLA 在 {p.n_tokens} 个 token 上从缓存计算：显式 {flops['explicit']:,} FLOPs，吸收式 "
            f"{flops['absorbed']:,}（吸收式的点积长度是 d_c，但不必为每个缓存 token 上投影：解码读长缓存时它更省）。",
        )(lang)
    )


def render(p: Params, lang: str = "en") -> Rendered:
    live = _live(
        p.head_dim, p.n_tokens, p.n_heads, live_kv_heads(p), p.latent, p.rope_dim, p.causal, p.seed
    )
    figures = [
        _sharing_figure(p, lang),
        _cache_figure(p, lang),
        _maps_figure(p, live, lang),
        _mla_figure(p, live, lang),
        _rope_figure(p, live, lang),
    ]
    return Rendered(figures, _notes(p, live, lang))


presets = {
    "llama2-70b-gqa": Params(model="llama2-70b", n_heads=16, n_kv_heads=2, batch=8),
    "mqa": Params(model="llama2-7b", n_heads=8, n_kv_heads=1),
    "deepseek-v2": Params(model="deepseek-v2", n_heads=8, n_kv_heads=2, latent=8, n_tokens=48),
    "rope-breaks-absorption": Params(
        model="deepseek-v2", rope_on_compressed=True, n_tokens=24, latent=8
    ),
}
preset_titles = {
    "llama2-70b-gqa": Text(
        "LLaMA-2 70B: 8 KV heads, 8× less cache", "LLaMA-2 70B：8 个 KV 头，缓存少 8 倍"
    ),
    "mqa": Text("MQA: one KV head for all", "MQA：所有查询头共用一个 KV 头"),
    "deepseek-v2": Text(
        "DeepSeek-V2: 576 numbers per token per layer", "DeepSeek-V2：每 token 每层只存 576 个数"
    ),
    "rope-breaks-absorption": Text("RoPE breaks absorption", "RoPE 会破坏权重吸收"),
}

EXPLANATION = Text(
    en="""
**Why the cache matters.** A decoder generating token t attends to the keys and values of all
earlier tokens, so it keeps them: the KV cache. Multi-head attention (Vaswani et al. 2017)
stores 2·H·d_h numbers per token per layer; for LLaMA-2 7B (Touvron et al. 2023) that is
2·32·128·32 layers·2 bytes = 512 KiB per token, 2 GiB for a 4k context. Decoding is limited
by reading this cache, not by arithmetic.

**Sharing heads.** Multi-query attention (Shazeer 2019) keeps one K/V head for all H query
heads: H× less cache, some loss of quality. Grouped-query attention (Ainslie et al. 2023) is
the middle ground: H_kv groups, query head h reads K/V head ⌊h·H_kv/H⌋. GQA(H) is MHA, GQA(1) is
MQA — the notes check both on the live modules. LLaMA-2 70B uses 8 groups for 64 heads:
320 KiB per token for a model ten times larger than 7B.

**Compressing instead of sharing: MLA** (DeepSeek-AI 2024, DeepSeek-V2). Each token's keys and
values are up-projections of one small latent c_KV = x W_DKVᵀ (d_c = 512), and only c_KV is
cached. The stacked keys of all heads therefore have rank at most d_c: see the singular values
fall off a cliff at d_c. At inference W_UK folds into the query (q_Cᵀ W_UK c = (W_UKᵀ q_C)ᵀ c)
and W_UV into the output projection, so attention runs on the cache itself and no per-head key
or value is ever formed: absorbed equals explicit up to rounding, and decoding stops paying
for up-projecting the whole cache at every step.

**Why a decoupled RoPE key.** Rotary embeddings turn q and k by their positions. Put on k_C,
the score becomes q_Cᵀ R_(n−m) W_UK c_n: a rotation that depends on the distance sits between
W_UQ and W_UK, so no fixed matrix can be absorbed (tick the toggle: the error is zero only on
the diagonal). DeepSeek-V2 instead adds a small RoPE part: d_R = 64 query dims per head and one
k_R shared by all heads, cached beside c_KV — 512 + 64 = 576 numbers per token per layer, as
much as GQA with 2.25 groups, with quality the paper reports at or above MHA.
""",
    zh="""
**为什么缓存重要。** 解码器生成第 t 个 token 时，要对之前所有 token 的键和值做注意力，所以得把它们存下来：这就是 KV 缓存。
多头注意力（Vaswani 等，2017）每个 token 每层存 2·H·d_h 个数；LLaMA-2 7B（Touvron 等，2023）是
2·32·128·32 层·2 字节 = 每 token 512 KiB，4k 上下文就要 2 GiB。解码的瓶颈是读这块缓存，而不是计算。

**共享头。** 多查询注意力（Shazeer，2019）让所有 H 个查询头共用一个 K/V 头：缓存少 H 倍，质量略有损失。
分组查询注意力（Ainslie 等，2023）折中：分成 H_kv 组，查询头 h 读第 ⌊h·H_kv/H⌋ 个 K/V 头。GQA(H) 就是 MHA，
GQA(1) 就是 MQA——说明中在实际模块上验证了这两点。LLaMA-2 70B 的 64 个头分 8 组：模型比 7B 大十倍，
每 token 缓存却只有 320 KiB。

**不共享而压缩：MLA**（DeepSeek-AI，2024，DeepSeek-V2）。每个 token 的键和值都由一个小的潜向量
c_KV = x W_DKVᵀ（d_c = 512）上投影得到，缓存里只存 c_KV。因此所有头的键拼在一起秩至多为 d_c：
看奇异值在 d_c 处断崖。推理时 W_UK 可以并入查询一侧（q_Cᵀ W_UK c = (W_UKᵀ q_C)ᵀ c），W_UV 并入输出投影，
于是注意力直接在缓存上计算，从不生成逐头的键和值：吸收式与显式结果只差舍入误差，解码时也不必每步把整个缓存上投影一遍。

**为什么要解耦的 RoPE 键。** 旋转位置编码按位置旋转 q 和 k。若加在 k_C 上，分数变成 q_Cᵀ R_(n−m) W_UK c_n：
一个依赖距离的旋转夹在 W_UQ 与 W_UK 之间，任何固定矩阵都无法吸收它（打开开关：误差只在对角线上为零）。
DeepSeek-V2 的做法是另加一小段 RoPE：每个查询头 d_R = 64 维，外加一个所有头共享的 k_R，与 c_KV 一起缓存——
每 token 每层 512 + 64 = 576 个数，相当于 2.25 组的 GQA，而论文报告的效果不低于 MHA。
""",
)

DEMO = Demo(
    slug="attention-variants",
    section="attention",
    figures=5,
    title=Text("MHA, MQA, GQA and MLA: the KV cache", "MHA、MQA、GQA 与 MLA：KV 缓存"),
    summary=Text(
        "Query heads sharing or compressing keys and values: cache bytes of real model shapes, "
        "the four run on one input, MLA's low-rank latent, weight absorption and decoupled RoPE.",
        "查询头共享或压缩键和值：真实模型形状下的缓存字节数、四种注意力在同一输入上运行、"
        "MLA 的低秩潜向量、权重吸收与解耦的 RoPE。",
    ),
    sources=(
        Source(
            "Attention Is All You Need",
            "A. Vaswani et al.",
            2017,
            "https://arxiv.org/abs/1706.03762",
        ),
        Source(
            "Fast Transformer Decoding: One Write-Head is All You Need",
            "N. Shazeer",
            2019,
            "https://arxiv.org/abs/1911.02150",
        ),
        Source(
            "GQA: Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints",
            "J. Ainslie et al.",
            2023,
            "https://arxiv.org/abs/2305.13245",
        ),
        Source(
            "DeepSeek-V2: A Strong, Economical, and Efficient Mixture-of-Experts Language Model",
            "DeepSeek-AI",
            2024,
            "https://arxiv.org/abs/2405.04434",
        ),
        Source(
            "Llama 2: Open Foundation and Fine-Tuned Chat Models",
            "H. Touvron et al.",
            2023,
            "https://arxiv.org/abs/2307.09288",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
