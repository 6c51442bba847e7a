"""Prompt methods: trainable virtual tokens at the input, or trainable keys and values in every layer.

Li & Liang 2021 (prefix-tuning: per-layer key/value prefixes, trained through an MLP);
Lester, Al-Rfou & Constant 2021 (prompt tuning: input embeddings only); Liu et al. 2021
(P-tuning: the prompt produced by an MLP or bi-LSTM encoder); Liu et al. 2022 (P-Tuning v2:
deep prompts, a prefix in every layer trained directly).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from core.finetuning.shapes import d_kv, resolve

METHODS = ("prompt", "p-tuning-mlp", "p-tuning-lstm", "prefix", "deep-prompt")


@functools.lru_cache(maxsize=64)
def _blocked(n_queries: int, n_keys: int, n_prefix: int, device: str) -> torch.Tensor:
    """(N, P + M) True where a causal query may not look. The N queries are the last N of the M
    tokens (bottom-right aligned): query i sees all P prefix columns and tokens j <= i + M - N.
    Cached: the training loops ask for the same few sizes every step."""
    rows = torch.arange(n_queries, device=device)[:, None] + (n_keys - n_queries)
    cols = torch.arange(n_keys, device=device)[None, :]
    prefix = torch.zeros(n_queries, n_prefix, dtype=torch.bool, device=device)
    return torch.cat([prefix, cols > rows], dim=1)


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
        blocked = _blocked(n_queries, k.shape[2], n_prefix, str(q.device))
        scores = scores.masked_fill(blocked, float("-inf"))
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


# --- the trainable prompts of each method -------------------------------------------------------


class InputPrompt(torch.nn.Module):
    """n virtual token embeddings prepended to the input: (n, d).

    prompt (Lester et al. 2021): the embeddings themselves. p-tuning-mlp / p-tuning-lstm (Liu et
    al. 2021): the embeddings pass through an encoder, Linear(d, h), ReLU, Linear(h, h), ReLU,
    Linear(h, d), or a 2-layer bi-LSTM(d, h) then Linear(2h, 2h), ReLU, Linear(2h, d).
    """

    def __init__(self, method: str, n: int, d_model: int, hidden: int, init_std: float = 1.0):
        super().__init__()
        nn = torch.nn
        self.embedding = nn.Parameter(torch.randn(n, d_model) * init_std)
        self.lstm = None
        if method == "p-tuning-mlp":
            self.encoder = nn.Sequential(
                nn.Linear(d_model, hidden),
                nn.ReLU(),
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Linear(hidden, d_model),
            )
        elif method == "p-tuning-lstm":
            self.lstm = nn.LSTM(d_model, hidden, num_layers=2, bidirectional=True, batch_first=True)
            self.encoder = nn.Sequential(
                nn.Linear(2 * hidden, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, d_model)
            )
        elif method == "prompt":
            self.encoder = None
        else:
            raise ValueError(f"method: {method!r} is not an input-side method")

    def forward(self) -> torch.Tensor:
        x = self.embedding
        if self.lstm is not None:
            x = self.lstm(x[None])[0][0]
        return x if self.encoder is None else self.encoder(x)


class KeyValuePrompt(torch.nn.Module):
    """n trainable keys and values in every attention layer: per layer (prefix_k, prefix_v), each
    (H, n, d_head).

    prefix (Li & Liang 2021, §4.3): Embedding(n, d) through Linear(d, h), Tanh, Linear(h, 2·L·d_kv)
    while training; only its output is kept. deep-prompt (P-Tuning v2, Liu et al. 2022): the
    n × 2·L·d_kv numbers trained directly.
    """

    def __init__(
        self,
        method: str,
        n: int,
        d_model: int,
        n_layers: int,
        n_heads: int,
        hidden: int,
        init_std: float = 1.0,
    ):
        super().__init__()
        nn = torch.nn
        self.shape = (n, n_layers, 2, n_heads, d_model // n_heads)
        width = 2 * n_layers * d_model
        if method == "prefix":
            self.embedding = nn.Parameter(torch.randn(n, d_model))
            self.encoder = nn.Sequential(
                nn.Linear(d_model, hidden), nn.Tanh(), nn.Linear(hidden, width)
            )
        elif method == "deep-prompt":
            self.embedding = nn.Parameter(torch.randn(n, width) * init_std)
            self.encoder = None
        else:
            raise ValueError(f"method: {method!r} is not a key/value method")

    def forward(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x = self.embedding if self.encoder is None else self.encoder(self.embedding)
        kv = x.view(self.shape).permute(1, 2, 3, 0, 4)  # (L, 2, H, n, d_head)
        return [(layer[0], layer[1]) for layer in kv]


class DirectPrompt(torch.nn.Module):
    """What a method stores after training, trained directly: the encoder's output at
    initialisation becomes the parameter, so the start is the same and only the
    reparameterisation is gone (Li & Liang 2021, §7.4: without it, training was less stable)."""

    def __init__(self, prompt: InputPrompt | KeyValuePrompt):
        super().__init__()
        with torch.no_grad():
            out = prompt()
        self.kv = isinstance(out, list)
        stacked = torch.stack([torch.stack(pair) for pair in out]) if self.kv else out
        self.embedding = torch.nn.Parameter(stacked.clone())

    def forward(self):
        if self.kv:
            return [(layer[0], layer[1]) for layer in self.embedding]
        return self.embedding


def make_prompt(
    method: str,
    n: int,
    d_model: int,
    n_layers: int,
    n_heads: int,
    encoder_hidden: int | None = None,
    reparameterise: bool = True,
    init_std: float = 1.0,
) -> torch.nn.Module:
    """The trainable module of a method (torch's global RNG initialises it; seed it first).

    Its `numel()` is parameter_counts(method, ...)["trainable"] for a config with d_kv = d.
    reparameterise=False: the encoder's initial output trained directly (DirectPrompt).
    """
    hidden = encoder_hidden or d_model
    if method in ("prompt", "p-tuning-mlp", "p-tuning-lstm"):
        module = InputPrompt(method, n, d_model, hidden, init_std)
    elif method in ("prefix", "deep-prompt"):
        module = KeyValuePrompt(method, n, d_model, n_layers, n_heads, hidden, init_std)
    else:
        raise ValueError(f"method: unknown {method!r} (allowed: {', '.join(METHODS)})")
    has_encoder = method not in ("prompt", "deep-prompt")
    return DirectPrompt(module) if has_encoder and not reparameterise else module
