"""A small character-level LLaMA-style language model and its Medusa-1 heads.

The base model is two decoder layers (RMSNorm, RoPE attention, SwiGLU; `core.llm.blocks`) of
width 64 with 4 heads and a context of 128 characters. It takes explicit positions and an
attention mask so that a Medusa candidate tree can be verified in one call (Cai et al. 2024,
§2.1.2). The K Medusa heads (Medusa-1: the base stays frozen) read the last hidden state:
head k = W_k·(h + SiLU(U_k h + b_k)), with W_k initialised from the LM head and U_k at zero, so
each starts as the base model's own next-token guess.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.attention.variants import attend, causal_keep, split_heads
from core.llm.blocks import rms_norm, rope, swiglu

CONTEXT = 128
D_MODEL, N_LAYERS, N_HEADS, FFN = 64, 2, 4, 176  # 176 ≈ 8·64/3 rounded to a multiple of 16
MEDUSA_DECAY = 0.8  # λ_k = 0.8^(k−1) weights head k's loss (Medusa's training code)


def init_lm(vocab: int, generator: torch.Generator) -> dict[str, Tensor]:
    """Base-model weights: embedding (V, D), per layer attention/FFN matrices and norm gains."""

    def linear(rows: int, cols: int) -> Tensor:
        return torch.randn(rows, cols, generator=generator) / math.sqrt(cols)

    params = {"embed": torch.randn(vocab, D_MODEL, generator=generator) * 0.5}
    for i in range(N_LAYERS):
        params |= {
            f"{i}.attn_norm": torch.ones(D_MODEL),
            f"{i}.w_q": linear(D_MODEL, D_MODEL),
            f"{i}.w_k": linear(D_MODEL, D_MODEL),
            f"{i}.w_v": linear(D_MODEL, D_MODEL),
            f"{i}.w_o": linear(D_MODEL, D_MODEL) / math.sqrt(2 * N_LAYERS),
            f"{i}.ffn_norm": torch.ones(D_MODEL),
            f"{i}.w_gate": linear(FFN, D_MODEL),
            f"{i}.w_up": linear(FFN, D_MODEL),
            f"{i}.w_down": linear(D_MODEL, FFN) / math.sqrt(2 * N_LAYERS),
        }
    params["final_norm"] = torch.ones(D_MODEL)
    params["lm_head"] = linear(vocab, D_MODEL)
    return params


def lm_hidden(
    params: dict[str, Tensor],
    tokens: Tensor,
    mask: Tensor | None = None,
    positions: Tensor | None = None,
) -> Tensor:
    """Final hidden states: tokens (..., n) int64 -> (..., n, D).

    mask: (n, n) bool, True where token i may attend to token j (None: causal); positions: (n,)
    int64 for RoPE (None: 0…n−1).
    """
    n = tokens.shape[-1]
    batch_shape = tokens.shape[:-1]
    x = params["embed"][tokens].reshape(-1, n, D_MODEL)
    positions = torch.arange(n) if positions is None else positions
    keep = causal_keep(n, n) if mask is None else mask
    for i in range(N_LAYERS):
        w = {
            key.split(".", 1)[1]: value for key, value in params.items() if key.startswith(f"{i}.")
        }
        h = rms_norm(x, w["attn_norm"])
        q = rope(split_heads(h @ w["w_q"].T, N_HEADS), positions)
        k = rope(split_heads(h @ w["w_k"].T, N_HEADS), positions)
        v = split_heads(h @ w["w_v"].T, N_HEADS)
        out, _ = attend(q, k, v, mask=keep)
        x = x + out.transpose(1, 2).flatten(2) @ w["w_o"].T
        x = x + swiglu(rms_norm(x, w["ffn_norm"]), w["w_gate"], w["w_up"], w["w_down"])
    return rms_norm(x, params["final_norm"]).reshape(*batch_shape, n, D_MODEL)


def lm_logits(
    params: dict[str, Tensor],
    tokens: Tensor,
    mask: Tensor | None = None,
    positions: Tensor | None = None,
) -> Tensor:
    """Next-character logits: tokens (..., n) -> (..., n, V), row i scoring the token after i."""
    return lm_hidden(params, tokens, mask, positions) @ params["lm_head"].T


def init_medusa(params: dict[str, Tensor], n_heads: int) -> dict[str, Tensor]:
    """K Medusa-1 heads: residual SiLU blocks at zero, projections copied from the LM head."""
    return {
        "u": torch.zeros(n_heads, D_MODEL, D_MODEL),
        "b": torch.zeros(n_heads, D_MODEL),
        "w": params["lm_head"].detach().clone().expand(n_heads, -1, -1).clone(),
    }


def medusa_logits(heads: dict[str, Tensor], hidden: Tensor) -> Tensor:
    """Head k's logits for the token k + 1 past the next: hidden (..., D) -> (K, ..., V)."""
    n_heads = heads["u"].shape[0]
    bias = heads["b"].view(n_heads, *([1] * (hidden.dim() - 1)), D_MODEL)
    inner = torch.einsum("...d,ked->k...e", hidden, heads["u"]) + bias
    residual = hidden.unsqueeze(0) + F.silu(inner)
    return torch.einsum("k...d,kvd->k...v", residual, heads["w"])


def medusa_loss(heads: dict[str, Tensor], hidden: Tensor, tokens: Tensor) -> Tensor:
    """Σ_k 0.8^(k−1)·CE(head k at t, token t + k + 1): hidden (B, n, D), tokens (B, n)."""
    logits = medusa_logits(heads, hidden)
    total = hidden.new_zeros(())
    for k in range(logits.shape[0]):
        ahead = k + 2  # head k (0-based) guesses the token k + 2 positions after t
        if tokens.shape[1] <= ahead:
            break
        pred = logits[k][:, : tokens.shape[1] - ahead]
        target = tokens[:, ahead:]
        total = total + MEDUSA_DECAY**k * F.cross_entropy(pred.flatten(0, 1), target.flatten())
    return total


def to_arrays(params: dict[str, Tensor], prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{key}": value.detach().numpy() for key, value in params.items()}


def from_arrays(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Tensor]:
    return {
        key[len(prefix) :]: torch.from_numpy(np.asarray(value))
        for key, value in arrays.items()
        if key.startswith(prefix)
    }
