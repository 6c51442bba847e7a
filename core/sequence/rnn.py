"""Recurrent cells from their gate equations, and what their gradients do over distance.

Elman RNN (tanh), LSTM (Hochreiter & Schmidhuber 1997, with Gers et al. 2000's forget gate) and
GRU (Cho et al. 2014) in `torch.nn`'s weight layout, one time step at a time so that a `Trace`
sees every gate; a causal self-attention layer (Vaswani et al. 2017) for comparison, and the
per-layer costs of Vaswani et al. 2017, Table 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from core.trace import Trace

KINDS = ("rnn", "lstm", "gru")


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return x @ weight.T if bias is None else x @ weight.T + bias


def _initial(x: Tensor, h0: Tensor | None, hidden: int) -> Tensor:
    return x.new_zeros(x.shape[1], hidden) if h0 is None else h0


def rnn(
    x: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    h0: Tensor | None = None,
    *,
    trace: Trace | None = None,
) -> tuple[Tensor, Tensor]:
    """Elman RNN h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), as `torch.nn.RNN`.

    x: (T, B, I); weight_ih (H, I), weight_hh (H, H); biases (H,) or None; h0 (B, H) or None
    -> out (T, B, H), h_n (B, H). Records `"rnn"` per step with `h` (B, H).
    """
    h = _initial(x, h0, weight_hh.shape[0])
    outputs = []
    for x_t in x:
        h = torch.tanh(_affine(x_t, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh))
        outputs.append(h)
        if trace is not None:
            trace.record("rnn", h=h)
    return torch.stack(outputs), h


def lstm(
    x: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    h0: Tensor | None = None,
    c0: Tensor | None = None,
    *,
    trace: Trace | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """LSTM as `torch.nn.LSTM`: gates i, f, g, o; c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t).

    Hochreiter & Schmidhuber 1997; forget gate: Gers, Schmidhuber & Cummins 2000.
    x: (T, B, I); weight_ih (4H, I), weight_hh (4H, H), row blocks i, f, g, o; biases (4H,) or
    None; h0, c0 (B, H) or None (zeros) -> out (T, B, H), (h_n, c_n) each (B, H).
    Records `"lstm"` per step with `i, f, g, o, c, h`, each (B, H).
    """
    hidden = weight_hh.shape[1]
    h, c = _initial(x, h0, hidden), _initial(x, c0, hidden)
    outputs = []
    for x_t in x:
        gates = _affine(x_t, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g  # the conveyor belt: keep a share f, add i·g
        h = o * torch.tanh(c)
        outputs.append(h)
        if trace is not None:
            trace.record("lstm", i=i, f=f, g=g, o=o, c=c, h=h)
    return torch.stack(outputs), (h, c)


def gru(
    x: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    h0: Tensor | None = None,
    *,
    trace: Trace | None = None,
) -> tuple[Tensor, Tensor]:
    """GRU as `torch.nn.GRU`: r, z gates; n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
    h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.

    Cho et al. 2014. x: (T, B, I); weight_ih (3H, I), weight_hh (3H, H), row blocks r, z, n;
    biases (3H,) or None; h0 (B, H) or None -> out (T, B, H), h_n (B, H).
    Records `"gru"` per step with `r, z, n, h`, each (B, H).
    """
    h = _initial(x, h0, weight_hh.shape[1])
    outputs = []
    for x_t in x:
        x_r, x_z, x_n = _affine(x_t, weight_ih, bias_ih).chunk(3, dim=-1)
        h_r, h_z, h_n = _affine(h, weight_hh, bias_hh).chunk(3, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        outputs.append(h)
        if trace is not None:
            trace.record("gru", r=r, z=z, n=n, h=h)
    return torch.stack(outputs), h


def _last_state(kind: str, x: Tensor, weights: tuple) -> Tensor:
    if kind == "rnn":
        return rnn(x, *weights)[1]
    if kind == "lstm":
        return lstm(x, *weights)[1][0]
    if kind == "gru":
        return gru(x, *weights)[1]
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _distance_norms(last: Tensor, x_copies: Tensor) -> Tensor:
    """‖∂last[b, b]/∂x‖ per time step, from one backward over the batch of H copies.

    last: (H, H), row b the output of copy b; x_copies: (T, H, I) -> (T,), k = 0 the last step.
    Copy b's output unit b only depends on copy b's input, so the gradient of the diagonal's sum
    at copy b is row b of the Jacobian ∂h_{T−1}/∂x_t.
    """
    (grad,) = torch.autograd.grad(last.diagonal().sum(), x_copies)
    return grad.square().sum(dim=(1, 2)).sqrt().flip(0)


def input_gradient_norms(
    kind: str,
    x: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> Tensor:
    """‖∂h_{T−1}/∂x_{T−1−k}‖_F for k = 0..T−1, from a zero initial state.

    Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013: the product of T − 1 − k
    step Jacobians shrinks or grows geometrically in k. kind: "rnn", "lstm" or "gru";
    x: (T, I) -> (T,). One backward over H copies of the sequence, not H passes.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    hidden = weight_hh.shape[1]
    copies = x.detach()[:, None, :].expand(-1, hidden, -1).clone().requires_grad_(True)
    last = _last_state(kind, copies, (weight_ih, weight_hh, bias_ih, bias_hh))
    return _distance_norms(last, copies)


def causal_self_attention(
    x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, *, trace: Trace | None = None
) -> Tensor:
    """One head of causal self-attention softmax(q kᵀ/√d + mask) v, q = x W_qᵀ, etc.

    Vaswani et al. 2017, eq. 1. x: (T, B, I), w_q, w_k, w_v (d, I) -> (T, B, d).
    Records `"attention"` once with `weights` (B, T, T).
    """
    q, k, v = (torch.einsum("tbi,di->btd", x, w) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(w_q.shape[0])
    length = x.shape[0]
    future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    if trace is not None:
        trace.record("attention", weights=weights)
    return (weights @ v).transpose(0, 1)


def _last_attention_row(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> Tensor:
    """The last position's output of `causal_self_attention` alone: x (T, B, I) -> (B, d)."""
    q = x[-1] @ w_q.T  # (B, d)
    k, v = (torch.einsum("tbi,di->btd", x, w) for w in (w_k, w_v))
    scores = torch.einsum("bd,btd->bt", q, k) / math.sqrt(w_q.shape[0])
    return torch.einsum("bt,btd->bd", scores.softmax(dim=-1), v)


def attention_gradient_norms(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> Tensor:
    """‖∂y_{T−1}/∂x_{T−1−k}‖_F for k = 0..T−1 of `causal_self_attention`, x: (T, I) -> (T,).

    Every earlier token reaches the last output through one weighted sum: no product over
    steps, so the norm does not decay with k. The last position sees every token (nothing to
    mask), so only its row of the attention is computed.
    """
    dim = w_v.shape[0]
    copies = x.detach()[:, None, :].expand(-1, dim, -1).clone().requires_grad_(True)
    return _distance_norms(_last_attention_row(copies, w_q, w_k, w_v), copies)


def layer_costs(n: int, d: int) -> dict[str, dict[str, float]]:
    """Per-layer costs of Vaswani et al. 2017, Table 1, for sequence length n and width d.

    `operations`: multiply-adds of the layer's main products (attention n²·d for the scores
    and the weighted sum; recurrence n·d² for the hidden-to-hidden products);
    `sequential`: steps that must run one after another; `path`: the longest path between
    two positions.
    """
    if n < 1 or d < 1:
        raise ValueError(f"n and d must be ≥ 1, got n={n}, d={d}")
    return {
        "self_attention": {"operations": float(n * n * d), "sequential": 1.0, "path": 1.0},
        "recurrent": {"operations": float(n * d * d), "sequential": float(n), "path": float(n)},
    }
