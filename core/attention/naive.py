"""Standard attention, the teaching baseline: it materialises the N×N matrices S and P.

Dao et al. 2022 ("FlashAttention"), Algorithm 0: S = QKᵀ/√d is written to HBM, read back to
compute P = softmax(S), which is written again and read once more to compute O = PV. Both
N×N matrices exist at once, so memory and HBM traffic grow as N².

Also the checks and conventions the tiled versions share (`check_qkv`, `accumulation_dtype`,
`causal_mask`): shapes (B, H, N, d), accumulation in fp32 (fp64 for fp64 inputs), and the
causal mask of `scaled_dot_product_attention(is_causal=True)`, aligned to the top left.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from core.trace import Trace


def check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Raise ValueError unless q: (B, H, Nq, d), k, v: (B, H, Nk, d), one float dtype, Nk ≥ 1."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, Tensor):
            raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"{name}: expected shape (B, H, N, d), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{name}: expected a floating dtype, got {x.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v: one dtype expected, got {q.dtype}, {k.dtype}, {v.dtype}")
    if k.shape != v.shape:
        raise ValueError(f"k, v: same shape expected, got {tuple(k.shape)} and {tuple(v.shape)}")
    if q.shape[:2] != k.shape[:2] or q.shape[3] != k.shape[3]:
        raise ValueError(
            f"q {tuple(q.shape)} and k {tuple(k.shape)}: batch, heads and head_dim must agree"
        )
    if k.shape[2] < 1:
        raise ValueError("k: at least one key is needed (softmax over no keys is undefined)")
    if q.shape[3] < 1:
        raise ValueError("q: head_dim d must be at least 1")


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp64 for fp64 inputs, fp32 for every other float dtype (fp32, fp16, bf16, fp8...)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def causal_mask(rows: range, cols: range, device: torch.device | None = None) -> Tensor:
    """True where query `row` may see key `col`: col ≤ row (SDPA's is_causal, top-left aligned).

    rows, cols: index ranges of a tile -> bool (len(rows), len(cols)).
    """
    r = torch.arange(rows.start, rows.stop, device=device)
    c = torch.arange(cols.start, cols.stop, device=device)
    return c[None, :] <= r[:, None]


def naive_attention(
    q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, trace: Trace | None = None
) -> tuple[Tensor, Tensor]:
    """Exact attention softmax(QKᵀ/√d)V through the full score matrix.

    Dao et al. 2022, Algorithm 0 (standard attention). Computed in fp32 (fp64 for fp64 inputs).
    q: (B, H, Nq, d), k, v: (B, H, Nk, d) -> out (B, H, Nq, d) in q's dtype,
    lse (B, H, Nq) = log Σ_j exp(s_ij) in the accumulation dtype (natural log).
    `causal`: query i sees keys j ≤ i, as `scaled_dot_product_attention(is_causal=True)`.
    trace: records "scores" S and "probs" P, (B, H, Nq, Nk) each, and "hbm" with the bytes
    Algorithm 0 reads and writes (hbm_read_bytes, hbm_write_bytes: S and P written and read once).
    """
    check_qkv(q, k, v)
    acc = accumulation_dtype(q.dtype)
    n_q, n_k, d = q.shape[2], k.shape[2], q.shape[3]
    s = (q.to(acc) @ k.to(acc).transpose(-1, -2)) / math.sqrt(d)  # S = QKᵀ/√d
    if causal:
        s = s.masked_fill(~causal_mask(range(n_q), range(n_k), q.device), float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.exp(s - lse[..., None])  # P = softmax(S), row by row
    out = p @ v.to(acc)
    if trace is not None:
        bh, io_size, sp_size = q.shape[0] * q.shape[1], q.element_size(), s.element_size()
        trace.record("scores", s)
        trace.record("probs", p)
        # Algorithm 0: line 1 reads Q, K and writes S; line 2 reads S, writes P; line 3 reads
        # P, V and writes O (S and P in the accumulation dtype, the rest in the inputs').
        trace.record(
            "hbm",
            hbm_read_bytes=bh * (2 * n_q * n_k * sp_size + (n_q + 2 * n_k) * d * io_size),
            hbm_write_bytes=bh * (2 * n_q * n_k * sp_size + n_q * d * io_size),
        )
    return out.to(q.dtype), lse
