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
from collections.abc import Callable

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
    positions = torch.arange(n) if positions is None else positions
    keep = causal_keep(n, n) if mask is None else mask
    hidden, _ = lm_extend(params, tokens.reshape(-1, n), positions, keep)
    return hidden.reshape(*batch_shape, n, D_MODEL)


def lm_extend(
    params: dict[str, Tensor],
    tokens: Tensor,
    positions: Tensor,
    mask: Tensor,
    past: list[tuple[Tensor, Tensor]] | None = None,
) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """Hidden states of new tokens that also attend to earlier tokens' cached keys and values.

    tokens: (B, m) int64 new tokens at positions (m,); mask: (m, n_past + m) bool over the past
    then the new keys; past: per layer (k, v), each (B, H, n_past, D/H), or None. Returns the
    final hidden states (B, m, D) and the new tokens' keys and values per layer (the KV cache).
    """
    x = params["embed"][tokens]
    present = []
    for i in range(N_LAYERS):
        h = rms_norm(x, params[f"{i}.attn_norm"])
        q = split_heads(h @ params[f"{i}.w_q"].T, N_HEADS)
        k = split_heads(h @ params[f"{i}.w_k"].T, N_HEADS)
        q, k = rope(torch.cat([q, k], dim=1), positions).split(N_HEADS, dim=1)  # one rotation
        v = split_heads(h @ params[f"{i}.w_v"].T, N_HEADS)
        present.append((k, v))
        if past is not None:
            k = torch.cat([past[i][0], k], dim=2)
            v = torch.cat([past[i][1], v], dim=2)
        out, _ = attend(q, k, v, mask=mask)
        x = x + out.transpose(1, 2).flatten(2) @ params[f"{i}.w_o"].T
        ffn_in = rms_norm(x, params[f"{i}.ffn_norm"])
        x = x + swiglu(ffn_in, params[f"{i}.w_gate"], params[f"{i}.w_up"], params[f"{i}.w_down"])
    return rms_norm(x, params["final_norm"]), present


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


@torch.no_grad()
def head_rank_accuracy(
    params: dict[str, Tensor], heads: dict[str, Tensor], ids: Tensor, ranks: int
) -> Tensor:
    """(K, ranks): the share of positions where head k's (r + 1)-th likeliest token is right.

    Over non-overlapping windows of the context; head k (0-based) at position t guesses token
    t + k + 2. ids: (N,) int64, a held-out text.
    """
    n_heads = heads["u"].shape[0]
    hits, counted = torch.zeros(n_heads, ranks, dtype=torch.float64), torch.zeros(n_heads)
    for start in range(0, ids.numel() - 1, CONTEXT):
        window = ids[start : start + CONTEXT + n_heads + 1]
        hidden = lm_hidden(params, window[:CONTEXT])
        order = medusa_logits(heads, hidden).argsort(dim=-1, descending=True)[..., :ranks]
        for k in range(n_heads):
            ahead = k + 2
            n = min(hidden.shape[0], window.numel() - ahead)
            if n <= 0:
                continue
            match = order[k, :n] == window[ahead : ahead + n, None]
            hits[k] += match.double().sum(dim=0)
            counted[k] += n
    return hits / counted[:, None]


def to_arrays(params: dict[str, Tensor], prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{key}": value.detach().numpy() for key, value in params.items()}


def from_arrays(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Tensor]:
    return {
        key[len(prefix) :]: torch.from_numpy(np.asarray(value))
        for key, value in arrays.items()
        if key.startswith(prefix)
    }


def cached_model(
    params: dict[str, Tensor], heads: dict[str, Tensor] | None = None, window: int = CONTEXT
) -> tuple[Callable[..., Tensor], Callable[[Tensor], Tensor]]:
    """`next_logits(tokens, mask=None, positions=None)` and `head_logits(s)` for
    `core.llm.medusa.speculative_decode`, sharing a cache of the longest causal prefix seen.

    A call recomputes only the rows past the part of `tokens` that repeats the cached prefix
    (same tokens at positions 0…m−1 with a causal mask), reading the cached keys and values: the
    KV cache of a decoder, filled by whatever rows were causal (a chain of guesses is). Every row
    attends to keys at most `window` − 1 positions back (the training context), so texts longer
    than the context decode like a sliding window. head_logits(s) -> (K, V): the Medusa heads at
    the last token of s.
    """
    cache: dict = {"tokens": torch.zeros(0, dtype=torch.int64), "kv": None}

    def run(tokens: Tensor, mask: Tensor | None, positions: Tensor | None) -> tuple[Tensor, Tensor]:
        n = tokens.numel()
        if mask is None and positions is None:  # a plain causal call: every row extends the prefix
            prefix = n
            positions = torch.arange(n)
        else:
            causal = causal_keep(n, n)
            positions = torch.arange(n) if positions is None else positions
            mask = causal if mask is None else mask
            is_causal_row = (positions == torch.arange(n)) & (mask == causal).all(dim=1)
            prefix = int(torch.cumprod(is_causal_row, 0).sum())  # rows 0…prefix−1 are causal
        cached = cache["tokens"]
        same = (cached[:prefix] == tokens[: min(prefix, cached.numel())]).long()
        m = int(torch.cumprod(same, 0).sum())
        rows = positions[m:, None]
        keep = rows - positions[None, :] < window  # the sliding window, new rows only
        keep &= positions[None, :] <= rows if mask is None else mask[m:]
        past = None if m == 0 else [(k[:, :, :m], v[:, :, :m]) for k, v in cache["kv"]]
        if m == n:
            return cache["hidden"][:n], cache["logits"][:n]
        hidden_new, present = lm_extend(params, tokens[None, m:], positions[m:], keep, past)
        hidden = torch.cat([cache["hidden"][:m], hidden_new[0]]) if m else hidden_new[0]
        logits_new = hidden_new[0] @ params["lm_head"].T
        logits = torch.cat([cache["logits"][:m], logits_new]) if m else logits_new
        if prefix > m or prefix < cached.numel():  # keep this call's causal rows
            if past is not None:
                present = [
                    (torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2))
                    for (pk, pv), (k, v) in zip(past, present, strict=True)
                ]
            kv = [(k[:, :, :prefix], v[:, :, :prefix]) for k, v in present]
            cache.update(
                tokens=tokens[:prefix].clone(),
                kv=kv,
                hidden=hidden[:prefix],
                logits=logits[:prefix],
            )
        return hidden, logits

    def next_logits(
        tokens: Tensor, mask: Tensor | None = None, positions: Tensor | None = None
    ) -> Tensor:
        return run(tokens, mask, positions)[1]

    def head_logits(s: Tensor) -> Tensor:
        if heads is None:
            raise ValueError("head_logits: cached_model was built without Medusa heads")
        return medusa_logits(heads, run(s, None, None)[0][-1])

    return next_logits, head_logits
