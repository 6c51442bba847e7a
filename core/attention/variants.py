"""Attention that shares or compresses its keys and values: MHA, MQA, GQA and MLA.

Vaswani et al. 2017 (multi-head attention); Shazeer 2019 (multi-query, one K/V head);
Ainslie et al. 2023 (grouped-query, H_kv K/V heads); DeepSeek-AI 2024 ("DeepSeek-V2", §2.1,
multi-head latent attention: a low-rank latent c_KV and one decoupled RoPE key are cached).
Weights are in `nn.Linear` layout (y = x Wᵀ, no bias); features are head-major (feature h·d + i
is element i of head h).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from core.llm.blocks import compute_dtype, rope
from core.trace import Trace

MLA_WEIGHTS = ("w_dq", "w_uq", "w_qr", "w_dkv", "w_uk", "w_kr", "w_uv", "w_o")

# Published configurations (Touvron et al. 2023, Llama 2, Table 1 and the released configs;
# DeepSeek-AI 2024, DeepSeek-V2 §3.1.2 / config.json).
MODEL_SHAPES: dict[str, dict[str, int]] = {
    "LLaMA-2 7B": {
        "n_layers": 32,
        "d_model": 4096,
        "n_heads": 32,
        "head_dim": 128,
        "n_kv_heads": 32,
    },
    "LLaMA-2 70B": {
        "n_layers": 80,
        "d_model": 8192,
        "n_heads": 64,
        "head_dim": 128,
        "n_kv_heads": 8,
    },
    "DeepSeek-V2": {
        "n_layers": 60,
        "d_model": 5120,
        "n_heads": 128,
        "head_dim": 128,  # d_nope of the query/key heads, and d_v
        "rope_dim": 64,
        "v_head_dim": 128,
        "kv_latent_dim": 512,
        "q_latent_dim": 1536,
    },
}


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """(B, N, H·d) head-major features -> (B, H, N, d)."""
    b, n, width = x.shape
    if width % n_heads:
        raise ValueError(f"{width} features do not split into {n_heads} heads")
    return x.view(b, n, n_heads, width // n_heads).transpose(1, 2)


def causal_keep(n_q: int, n_k: int, device: torch.device | None = None) -> Tensor:
    """True where query i may see key j ≤ i: SDPA's is_causal, aligned to the top left."""
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril()


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    scale: float | None = None,
    mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """softmax(q kᵀ·scale) v with query head h reading K/V head ⌊h·H_kv/H⌋ (SDPA's enable_gqa).

    q: (B, H, N, d), k: (B, H_kv, N_k, d), v: (B, H_kv, N_k, d_v) -> output (B, H, N, d_v) and
    the probabilities (B, H, N, N_k). scale: 1/√d unless given; mask: (N, N_k) bool, True where a
    query may attend (a tree mask), applied with `causal` if both are given.
    """
    n_heads, n_kv_heads = q.shape[1], k.shape[1]
    if n_kv_heads < 1 or n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads ({n_kv_heads}) must divide n_heads ({n_heads})")
    group = n_heads // n_kv_heads
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-1, -2)) * scale
    if causal:
        scores = scores.masked_fill(~causal_keep(q.shape[2], k.shape[2], q.device), -math.inf)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    probs = torch.softmax(scores, dim=-1)
    return probs @ v, probs


def grouped_query_attention(
    x: Tensor,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    w_o: Tensor,
    n_heads: int,
    n_kv_heads: int,
    *,
    causal: bool = False,
    trace: Trace | None = None,
) -> Tensor:
    """Grouped-query attention; MHA when n_kv_heads = n_heads, MQA when n_kv_heads = 1.

    Ainslie et al. 2023, §2.2. x: (B, N, D), w_q: (H·d, D), w_k, w_v: (H_kv·d, D),
    w_o: (D_out, H·d) -> (B, N, D_out); scale 1/√d; query head h reads K/V head ⌊h·H_kv/H⌋.
    Trace: "heads" (q, k, v per head), "scores" (B, H, N, N), "probs" (B, H, N, N).
    """
    if x.dim() != 3:
        raise ValueError(f"x: expected shape (B, N, D), got {tuple(x.shape)}")
    if n_heads < 1 or n_kv_heads < 1 or n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads ({n_kv_heads}) must divide n_heads ({n_heads}), both ≥ 1")
    if w_q.shape[0] % n_heads or w_k.shape[0] != w_q.shape[0] // n_heads * n_kv_heads:
        raise ValueError(
            f"w_q {tuple(w_q.shape)}, w_k {tuple(w_k.shape)}: expected (n_heads·d, D) and "
            "(n_kv_heads·d, D)"
        )
    in_dtype, dtype = x.dtype, compute_dtype(x.dtype)
    x, w_q, w_k, w_v, w_o = (t.to(dtype) for t in (x, w_q, w_k, w_v, w_o))
    q = split_heads(x @ w_q.T, n_heads)
    k = split_heads(x @ w_k.T, n_kv_heads)
    v = split_heads(x @ w_v.T, n_kv_heads)
    out, probs = attend(q, k, v, causal=causal)
    if trace is not None:
        trace.record("heads", q=q, k=k, v=v)
        group = n_heads // n_kv_heads
        scores = (q @ k.repeat_interleave(group, dim=1).transpose(-1, -2)) / math.sqrt(q.shape[-1])
        trace.record("scores", scores)
        trace.record("probs", probs)
    return (out.transpose(1, 2).flatten(2) @ w_o.T).to(in_dtype)


def kv_cache_bytes(
    kind: str,
    n_layers: int,
    n_heads: int,
    head_dim: int,
    n_kv_heads: int | None = None,
    kv_latent_dim: int | None = None,
    rope_dim: int | None = None,
    bytes_per_element: int = 2,
    seq_len: int = 1,
    batch_size: int = 1,
) -> int:
    """Bytes of the K/V cache: elements per token per layer × layers × bytes × tokens × batch.

    Per token per layer: "mha" 2·H·d, "mqa" 2·d, "gqa" 2·H_kv·d, "mla" d_c + d_rope (DeepSeek-V2,
    Table 1). LLaMA-2 7B, fp16: 512 KiB a token; DeepSeek-V2: (512 + 64)·60·2 B = 67.5 KiB.
    """
    if kind == "mha":
        elements = 2 * n_heads * head_dim
    elif kind == "mqa":
        elements = 2 * head_dim
    elif kind == "gqa":
        if n_kv_heads is None:
            raise ValueError("gqa: n_kv_heads is needed")
        elements = 2 * n_kv_heads * head_dim
    elif kind == "mla":
        if kv_latent_dim is None or rope_dim is None:
            raise ValueError("mla: kv_latent_dim and rope_dim are needed")
        elements = kv_latent_dim + rope_dim
    else:
        raise ValueError(f"kind: one of 'mha', 'mqa', 'gqa', 'mla', got {kind!r}")
    return int(elements * n_layers * bytes_per_element * seq_len * batch_size)


def mla_sizes(weights: dict[str, Tensor], n_heads: int) -> dict[str, int]:
    """d_cq, d_c, d_nope, d_rope, d_v and D_out read from MLA weights (checked for agreement)."""
    missing = [key for key in MLA_WEIGHTS if key not in weights]
    if missing:
        raise ValueError(f"weights: missing {', '.join(missing)}")
    w = weights
    for key in ("w_uq", "w_qr", "w_uk", "w_uv"):
        if w[key].shape[0] % n_heads:
            raise ValueError(f"{key}: {w[key].shape[0]} rows do not split into {n_heads} heads")
    sizes = {
        "d_model": w["w_dq"].shape[1],
        "d_cq": w["w_dq"].shape[0],
        "d_c": w["w_dkv"].shape[0],
        "d_nope": w["w_uq"].shape[0] // n_heads,
        "d_rope": w["w_qr"].shape[0] // n_heads,
        "d_v": w["w_uv"].shape[0] // n_heads,
        "d_out": w["w_o"].shape[0],
    }
    expected = {
        "w_uq": (n_heads * sizes["d_nope"], sizes["d_cq"]),
        "w_qr": (n_heads * sizes["d_rope"], sizes["d_cq"]),
        "w_dkv": (sizes["d_c"], sizes["d_model"]),
        "w_uk": (n_heads * sizes["d_nope"], sizes["d_c"]),
        "w_kr": (sizes["d_rope"], sizes["d_model"]),
        "w_uv": (n_heads * sizes["d_v"], sizes["d_c"]),
        "w_o": (sizes["d_out"], n_heads * sizes["d_v"]),
    }
    for key, shape in expected.items():
        if tuple(w[key].shape) != shape:
            raise ValueError(f"{key}: expected shape {shape}, got {tuple(w[key].shape)}")
    return sizes


def mla_flops(sizes: dict[str, int], n_heads: int, n_queries: int, n_keys: int) -> dict[str, int]:
    """Multiply-adds × 2 of attention from the cache (c_KV, k_R), explicit and absorbed.

    Query projections, shared by both paths, are left out. Explicit up-projects each cached latent
    to K and V for every head; absorbed forms W_UKᵀq_C and sums heads' latent outputs through
    W_O·W_UV, so its dot products are d_c long instead of d_nope.
    """
    h, s = n_heads, sizes
    nq, nk = n_queries, n_keys
    explicit = (
        2 * nk * s["d_c"] * h * (s["d_nope"] + s["d_v"])  # K_C and V of every cached token
        + 2 * h * nq * nk * (s["d_nope"] + s["d_rope"])  # scores
        + 2 * h * nq * nk * s["d_v"]  # P V
        + 2 * nq * h * s["d_v"] * s["d_out"]  # W_O
    )
    absorbed = (
        2 * h * nq * s["d_nope"] * s["d_c"]  # q_C -> W_UKᵀ q_C
        + 2 * h * nq * nk * (s["d_c"] + s["d_rope"])  # scores against c_KV and k_R
        + 2 * h * nq * nk * s["d_c"]  # P c_KV
        + 2 * nq * h * s["d_c"] * s["d_out"]  # (W_O W_UV) per head
    )
    return {"explicit": explicit, "absorbed": absorbed}


def mla_attention(
    x: Tensor,
    weights: dict[str, Tensor],
    n_heads: int,
    *,
    absorb: bool = False,
    causal: bool = False,
    rope_base: float = 10000.0,
    trace: Trace | None = None,
) -> Tensor:
    """Multi-head latent attention, explicit or with W_UK and W_UV absorbed.

    DeepSeek-AI 2024 ("DeepSeek-V2"), §2.1, eqs. 9–19 without the latent RMSNorm.
    x: (B, N, D); weights: w_dq (d_cq, D), w_uq (H·d_nope, d_cq), w_qr (H·d_rope, d_cq),
    w_dkv (d_c, D), w_uk (H·d_nope, d_c), w_kr (d_rope, D), w_uv (H·d_v, d_c), w_o (D_out, H·d_v)
    -> (B, N, D_out). Positions 0…N−1. Trace: "cache" (c_kv (B, N, d_c), k_r (B, N, d_rope)),
    "keys" (k_c (B, H, N, d_nope), explicit only), "scores" and "probs" (B, H, N, N),
    "flops" (explicit, absorbed).
    """
    if x.dim() != 3:
        raise ValueError(f"x: expected shape (B, N, D), got {tuple(x.shape)}")
    s = mla_sizes(weights, n_heads)
    in_dtype, dtype = x.dtype, compute_dtype(x.dtype)
    w = {key: weights[key].to(dtype) for key in MLA_WEIGHTS}
    x = x.to(dtype)
    n = x.shape[1]
    h = n_heads
    positions = torch.arange(n, device=x.device)
    scale = 1 / math.sqrt(s["d_nope"] + s["d_rope"])

    c_q = x @ w["w_dq"].T  # eq. 12
    q_c = split_heads(c_q @ w["w_uq"].T, h)  # eq. 13
    q_r = rope(split_heads(c_q @ w["w_qr"].T, h), positions, rope_base)  # eq. 14
    c_kv = x @ w["w_dkv"].T  # eq. 9: cached
    k_r = rope(x @ w["w_kr"].T, positions, rope_base)  # eq. 15: cached, shared by all heads
    rope_scores = q_r @ k_r[:, None].transpose(-1, -2)  # (B, H, N, N)
    if absorb:
        w_uk = w["w_uk"].view(h, s["d_nope"], s["d_c"])
        q_latent = q_c @ w_uk  # W_UKᵀ q_C per head: (B, H, N, d_c)
        content = q_latent @ c_kv[:, None].transpose(-1, -2)
    else:
        k_c = split_heads(c_kv @ w["w_uk"].T, h)  # eq. 10
        content = q_c @ k_c.transpose(-1, -2)
    scores = (content + rope_scores) * scale  # eq. 17
    if causal:
        scores = scores.masked_fill(~causal_keep(n, n, x.device), -math.inf)
    probs = torch.softmax(scores, dim=-1)
    if absorb:
        latent_out = probs @ c_kv[:, None]  # (B, H, N, d_c)
        w_uv = w["w_uv"].view(h, s["d_v"], s["d_c"])
        w_o = w["w_o"].view(s["d_out"], h, s["d_v"]).transpose(0, 1)  # (H, D_out, d_v)
        w_ov = w_o @ w_uv  # W_O·W_UV per head: (H, D_out, d_c)
        out = torch.einsum("bhnc,hoc->bno", latent_out, w_ov)
    else:
        v = split_heads(c_kv @ w["w_uv"].T, h)  # eq. 11
        out = (probs @ v).transpose(1, 2).flatten(2) @ w["w_o"].T  # eqs. 18–19
    if trace is not None:
        trace.record("cache", c_kv=c_kv, k_r=k_r)
        if not absorb:
            trace.record("keys", k_c)
        trace.record("scores", scores)
        trace.record("probs", probs)
        trace.record("flops", **mla_flops(s, h, n, n))
    return out.to(in_dtype)


def compressed_rope_scores(
    x: Tensor, weights: dict[str, Tensor], n_heads: int, rope_base: float = 10000.0
) -> tuple[Tensor, Tensor]:
    """Content scores q_C·k_C with RoPE applied to q_C and k_C themselves, both ways.

    DeepSeek-V2 §2.1.3: (R_m q_C)·(R_n W_UK c_n) = q_Cᵀ R_(n−m) W_UK c_n, and R_(n−m) changes with
    position, so no fixed matrix W_UKᵀ can be folded into the query. Returns the true scores and
    the absorbed attempt (W_UKᵀ q_C, rotation lost), each (B, H, N, N), unscaled.
    """
    s = mla_sizes(weights, n_heads)
    dtype = compute_dtype(x.dtype)
    w = {key: weights[key].to(dtype) for key in MLA_WEIGHTS}
    x = x.to(dtype)
    positions = torch.arange(x.shape[1], device=x.device)
    c_kv = x @ w["w_dkv"].T
    q_c = split_heads((x @ w["w_dq"].T) @ w["w_uq"].T, n_heads)
    k_c = split_heads(c_kv @ w["w_uk"].T, n_heads)
    true = rope(q_c, positions, rope_base) @ rope(k_c, positions, rope_base).transpose(-1, -2)
    q_latent = q_c @ w["w_uk"].view(n_heads, s["d_nope"], s["d_c"])
    attempt = q_latent @ c_kv[:, None].transpose(-1, -2)
    return true, attempt
