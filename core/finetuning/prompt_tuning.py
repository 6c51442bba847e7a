"""Prompt methods: trainable virtual tokens at the input, or trainable keys and values in every layer.

Li & Liang 2021 (prefix-tuning: per-layer key/value prefixes, trained through an MLP);
Lester, Al-Rfou & Constant 2021 (prompt tuning: input embeddings only); Liu et al. 2021
(P-tuning: the prompt produced by an MLP or bi-LSTM encoder); Liu et al. 2022 (P-Tuning v2:
deep prompts, a prefix in every layer trained directly).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from core.finetuning.shapes import d_kv, resolve

METHODS = ("prompt", "p-tuning-mlp", "p-tuning-lstm", "prefix", "deep-prompt")


def _attend(q, k, v, prefix_k, prefix_v, causal):
    """softmax(q [P_k; K]ᵀ/√d) [P_v; V] with prefixes (H, P, d) shared over B or (B, H, P, d);
    returns (output, attention weights (B, H, N, P + M))."""
    batch, n_queries, dim = q.shape[0], q.shape[2], q.shape[-1]
    if prefix_k.dim() == 3:
        prefix_k = prefix_k.expand(batch, *prefix_k.shape)
        prefix_v = prefix_v.expand(batch, *prefix_v.shape)
    n_prefix = prefix_k.shape[2]
    keys = torch.cat([prefix_k, k], dim=2)
    values = torch.cat([prefix_v, v], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(dim)
    if causal:
        # query i sees all P prefix columns and tokens j <= i (bottom-right of the token block)
        rows = torch.arange(n_queries, device=q.device)[:, None]
        cols = torch.arange(k.shape[2], device=q.device)[None, :]
        allowed = torch.cat(
            [torch.ones(n_queries, n_prefix, dtype=torch.bool, device=q.device), cols <= rows],
            dim=1,
        )
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ values, weights


def prefix_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    prefix_k: torch.Tensor,
    prefix_v: torch.Tensor,
    causal: bool = False,
) -> torch.Tensor:
    """Attention with P trainable key/value vectors prepended in every head, shared over the batch.

    Li & Liang 2021, §4.2: softmax(q [P_k; K]ᵀ/√d) [P_v; V]. q: (B, H, N, d), k, v: (B, H, M, d),
    prefix_k, prefix_v: (H, P, d), P ≥ 0 -> (B, H, N, d). causal (M = N): query i sees all P prefix
    positions and the tokens j ≤ i.
    """
    if prefix_k.dim() != 3 or prefix_k.shape != prefix_v.shape:
        raise ValueError("prefix_k, prefix_v: need equal shapes (H, P, d)")
    if causal and q.shape[2] != k.shape[2]:
        raise ValueError("causal: needs as many queries as keys (N = M)")
    return _attend(q, k, v, prefix_k, prefix_v, causal)[0]


# --- parameter counts -----------------------------------------------------------------------------


def _linear(fan_in: int, fan_out: int) -> int:
    return fan_in * fan_out + fan_out


def _lstm(input_size: int, hidden: int, layers: int = 2) -> int:
    """torch.nn.LSTM(bidirectional=True): per layer and direction 4h·(in + h) + 2·4h biases."""
    total, size = 0, input_size
    for _ in range(layers):
        total += 2 * (4 * hidden * (size + hidden) + 8 * hidden)
        size = 2 * hidden
    return total


def parameter_counts(
    method: str,
    config: str | dict[str, Any],
    n_virtual_tokens: int,
    encoder_hidden: int | None = None,
) -> dict[str, int]:
    """{"trainable": numel() of the modules trained, "stored": numbers kept after training}.

    prompt: Embedding(n, d). p-tuning-mlp: + Linear(d, h), ReLU, Linear(h, h), ReLU, Linear(h, d).
    p-tuning-lstm: + LSTM(d, h, 2 layers, bidirectional), Linear(2h, 2h), ReLU, Linear(2h, d).
    prefix: Embedding(n, d) + Linear(d, h), Tanh, Linear(h, 2·L·d_kv). deep-prompt:
    Embedding(n, 2·L·d_kv). Stored: n·d for the first three, n·2·L·d_kv for the last two.
    LLaMA-7B, 20 tokens: prompt 81,920 stored, deep-prompt 5,242,880.
    """
    c = resolve(config)
    d, n, layers, kv = c["d_model"], n_virtual_tokens, c["n_layers"], d_kv(c)
    h = encoder_hidden or d
    if n < 0:
        raise ValueError(f"n_virtual_tokens: must be >= 0 (got {n})")
    per_token_kv = 2 * layers * kv
    if method == "prompt":
        trainable = n * d
    elif method == "p-tuning-mlp":
        trainable = n * d + _linear(d, h) + _linear(h, h) + _linear(h, d)
    elif method == "p-tuning-lstm":
        trainable = n * d + _lstm(d, h) + _linear(2 * h, 2 * h) + _linear(2 * h, d)
    elif method == "prefix":
        trainable = n * d + _linear(d, h) + _linear(h, per_token_kv)
    elif method == "deep-prompt":
        trainable = n * per_token_kv
    else:
        raise ValueError(f"method: unknown {method!r} (allowed: {', '.join(METHODS)})")
    stored = n * d if method in ("prompt", "p-tuning-mlp", "p-tuning-lstm") else n * per_token_kv
    return {"trainable": trainable, "stored": stored}
