"""FlashAttention in PyTorch, tile by tile: the forward with an online softmax, and the backward.

Dao et al. 2022, "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness";
Dao 2023, "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning";
the online softmax of Milakov & Gimelshein 2018, "Online normalizer calculation for softmax".

No N×N matrix is ever formed: a tile S_ij = Q_i K_jᵀ/√d of `block_m` queries × `block_n` keys
lives only inside the loop. Each query row keeps a running max m, a running sum
l = Σ exp(s − m) and an output accumulator; when a new tile raises the max, the old sum and
accumulator are rescaled by exp(m_old − m_new), so after the last tile acc / l is exactly
softmax(S)V and m + log l is the row's log-sum-exp.

- `flash_attention`: FlashAttention-2's loop order (Dao 2023, Algorithm 1): outer loop over
  query blocks, inner loop over key/value blocks; the accumulator stays on chip and O is
  normalised once, at the end.
- `flash_attention_v1`: FlashAttention's Algorithm 1 (Dao et al. 2022) line by line: outer loop
  over key/value blocks, inner over query blocks; O, ℓ, m live in HBM and are read and written
  back after every tile. Same numbers, different order and more HBM traffic.
- `flash_attention_backward`: Dao 2023, Algorithm 2: P is recomputed tile by tile from the
  saved log-sum-exp, so the backward keeps no N×N matrix either.

`causal` means what `scaled_dot_product_attention(is_causal=True)` means: query i sees keys
j ≤ i (top-left aligned, also when Nq ≠ Nk). A tile entirely above that diagonal is skipped,
a tile the diagonal crosses is masked element by element, the others are computed in full.

The trace (when given) gets one "config" event, then one "tile" event per (query block,
key block) pair in the order the loops meet them (a skipped tile is recorded where its loop
would have visited it):
    q_block, k_block, status ("computed" | "masked" | "skipped"), rows (r0, r1), cols (c0, c1):
    the index ranges [r0, r1) × [c0, c1); m, l: (B, H, r1 − r0) running max and sum of each
    row after this tile (None when skipped); acc: (B, H, r1 − r0, d), the unnormalised
    accumulator Σ exp(s − m)·v after this tile (only with trace_accumulator=True);
    hbm_read_bytes, hbm_write_bytes: what the loop loads from and stores to HBM at this tile
    (Q, K, V, O at the inputs' element size; m, l, lse at the accumulation dtype's).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from core.attention.naive import accumulation_dtype, causal_mask, check_qkv
from core.trace import Trace

TileStatus = Literal["computed", "masked", "skipped"]


def blocks(n: int, size: int) -> list[range]:
    """[0, n) cut into ranges of `size` (the last one shorter when size does not divide n)."""
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def tile_status(rows: range, cols: range, causal: bool) -> TileStatus:
    """How the loop treats tile rows × cols under the top-left causal mask (col ≤ row)."""
    if not causal:
        return "computed"
    if cols.start > rows.stop - 1:  # every key is after every query of the block
        return "skipped"
    if cols.stop - 1 > rows.start:  # some key is after some query: mask inside the tile
        return "masked"
    return "computed"


def _check_block(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected an integer ≥ 1, got {value!r}")


def _inputs(q: Tensor, k: Tensor, v: Tensor, block_m: int, block_n: int) -> tuple[Tensor, ...]:
    """q, k, v checked and in the accumulation dtype: the copies the loops read as "HBM"."""
    check_qkv(q, k, v)
    _check_block(block_m, "block_m")
    _check_block(block_n, "block_n")
    dtype = accumulation_dtype(q.dtype)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def _record_tile(
    trace: Trace,
    i: int,
    j: int,
    status: TileStatus,
    rows: range,
    cols: range,
    m_rows: Tensor | None = None,
    l_rows: Tensor | None = None,
    acc: Tensor | None = None,
    read_bytes: int = 0,
    write_bytes: int = 0,
) -> None:
    """One "tile" event (the fields are described in the module docstring)."""
    trace.record(
        "tile",
        q_block=i,
        k_block=j,
        status=status,
        rows=(rows.start, rows.stop),
        cols=(cols.start, cols.stop),
        m=m_rows,
        l=l_rows,
        acc=acc,
        hbm_read_bytes=read_bytes,
        hbm_write_bytes=write_bytes,
    )


def _record_config(trace: Trace, q: Tensor, k: Tensor, causal, block_m, block_n, order) -> None:
    trace.record(
        "config",
        n_q=q.shape[2],
        n_k=k.shape[2],
        d=q.shape[3],
        block_m=block_m,
        block_n=block_n,
        causal=causal,
        loop_order=order,
        n_q_blocks=len(blocks(q.shape[2], block_m)),
        n_k_blocks=len(blocks(k.shape[2], block_n)),
    )


def _scores(q_i: Tensor, k_j: Tensor, rows: range, cols: range, status: TileStatus) -> Tensor:
    """S_ij = Q_i K_jᵀ/√d for one tile, −inf where the causal mask hides a key."""
    s = (q_i @ k_j.transpose(-1, -2)) / math.sqrt(q_i.shape[-1])
    if status == "masked":
        s = s.masked_fill(~causal_mask(rows, cols, s.device), float("-inf"))
    return s


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    block_m: int = 32,
    block_n: int = 32,
    trace: Trace | None = None,
    trace_accumulator: bool = False,
) -> tuple[Tensor, Tensor]:
    """Exact attention softmax(QKᵀ/√d)V computed tile by tile with an online softmax.

    Dao 2023 (FlashAttention-2), Algorithm 1: outer loop over query blocks of `block_m` rows,
    inner loop over key/value blocks of `block_n` rows. Accumulates in fp32 (fp64 for fp64).
    q: (B, H, Nq, d), k, v: (B, H, Nk, d) -> out (B, H, Nq, d) in q's dtype,
    lse (B, H, Nq): log Σ_j exp(q_i·k_j/√d), natural log, in the accumulation dtype.
    Any Nq, Nk ≥ 1 (the last block of each is ragged when the block size does not divide it).
    trace: see the module docstring; `trace_accumulator` also records each tile's accumulator.
    """
    q_hbm, k_hbm, v_hbm = _inputs(q, k, v, block_m, block_n)
    dtype, (batch, heads, n_q, d) = q_hbm.dtype, q.shape
    bh = batch * heads
    io_size, stat_size = q.element_size(), q_hbm.element_size()
    out = torch.empty_like(q)
    lse = torch.empty(batch, heads, n_q, dtype=dtype, device=q.device)
    col_blocks = blocks(k.shape[2], block_n)
    if trace is not None:
        _record_config(trace, q, k, causal, block_m, block_n, "fa2")

    for i, rows in enumerate(blocks(n_q, block_m)):
        q_i = q_hbm[:, :, rows.start : rows.stop]  # load Q_i into SRAM (line 4)
        m_i = torch.full((batch, heads, len(rows)), float("-inf"), dtype=dtype, device=q.device)
        l_i = torch.zeros_like(m_i)
        acc_i = torch.zeros(batch, heads, len(rows), d, dtype=dtype, device=q.device)
        status = [tile_status(rows, cols, causal) for cols in col_blocks]
        visited = [j for j, s in enumerate(status) if s != "skipped"]
        for j in visited:
            cols = col_blocks[j]
            k_j = k_hbm[:, :, cols.start : cols.stop]  # load K_j, V_j into SRAM (line 7)
            v_j = v_hbm[:, :, cols.start : cols.stop]
            s = _scores(q_i, k_j, rows, cols, status[j])  # S_ij (line 8)
            # Line 9: m_ij = max(m_i,j−1, rowmax S_ij); P̃_ij = exp(S_ij − m_ij);
            # l_ij = e^{m_i,j−1 − m_ij} l_i,j−1 + rowsum P̃_ij. Key 0 sits in the first tile
            # visited, so after it m is finite for every row and a fully masked row of a
            # later tile gets exp(−inf − m) = 0.
            m_new = torch.maximum(m_i, s.amax(dim=-1))
            p = torch.exp(s - m_new[..., None])
            alpha = torch.exp(m_i - m_new)
            l_i = alpha * l_i + p.sum(dim=-1)
            acc_i = (
                alpha[..., None] * acc_i + p @ v_j
            )  # line 10: O = diag(e^{m_old − m_new}) O + P̃ V
            m_i = m_new
            if trace is not None:
                # Q_i is read before the first tile, O_i and L_i written after the last one.
                q_rows = len(rows) if j == visited[0] else 0
                o_rows = len(rows) if j == visited[-1] else 0
                _record_tile(
                    trace,
                    i,
                    j,
                    status[j],
                    rows,
                    cols,
                    m_i,
                    l_i,
                    acc_i if trace_accumulator else None,
                    read_bytes=bh * d * io_size * (q_rows + 2 * len(cols)),
                    write_bytes=bh * o_rows * (d * io_size + stat_size),
                )
        # Lines 12–15: O_i = diag(l_i)⁻¹ O_i, L_i = m_i + log l_i, written to HBM once.
        out[:, :, rows.start : rows.stop] = (acc_i / l_i[..., None]).to(q.dtype)
        lse[:, :, rows.start : rows.stop] = m_i + torch.log(l_i)
        if trace is not None:
            for j in (j for j, s in enumerate(status) if s == "skipped"):
                _record_tile(trace, i, j, "skipped", rows, col_blocks[j])
    return out, lse


def flash_attention_v1(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    block_m: int = 32,
    block_n: int = 32,
    trace: Trace | None = None,
    trace_accumulator: bool = False,
) -> tuple[Tensor, Tensor]:
    """Exact attention by FlashAttention's Algorithm 1 (Dao et al. 2022), line by line.

    Outer loop over key/value blocks (B_c = block_n rows), inner over query blocks
    (B_r = block_m rows); O, ℓ, m are kept in HBM and read and written back at every tile.
    Shapes, dtypes, `causal` and the trace as `flash_attention` (the trace's `acc` is ℓ·O, the
    unnormalised accumulator, so both loop orders record the same quantity). The returned lse
    = m + log ℓ is an extra read of m and ℓ that Algorithm 1 (which returns O) does not count.
    """
    q_hbm, k_hbm, v_hbm = _inputs(q, k, v, block_m, block_n)
    dtype, (batch, heads, n_q, d) = q_hbm.dtype, q.shape
    bh = batch * heads
    io_size, stat_size = q.element_size(), q_hbm.element_size()
    # Line 2: initialise O = 0, ℓ = 0, m = −∞ in HBM (a write of N·d + 2N elements).
    o_hbm = torch.zeros(batch, heads, n_q, d, dtype=dtype, device=q.device)
    l_hbm = torch.zeros(batch, heads, n_q, dtype=dtype, device=q.device)
    m_hbm = torch.full_like(l_hbm, float("-inf"))
    init_write_bytes = bh * n_q * (d * io_size + 2 * stat_size)
    row_blocks = blocks(n_q, block_m)
    if trace is not None:
        _record_config(trace, q, k, causal, block_m, block_n, "fa1")

    first = True
    for j, cols in enumerate(blocks(k.shape[2], block_n)):
        k_j = k_hbm[:, :, cols.start : cols.stop]  # line 6: load K_j, V_j
        v_j = v_hbm[:, :, cols.start : cols.stop]
        kv_read_bytes = bh * 2 * len(cols) * d * io_size
        for i, rows in enumerate(row_blocks):
            status = tile_status(rows, cols, causal)
            if status == "skipped":
                if trace is not None:
                    _record_tile(trace, i, j, "skipped", rows, cols)
                continue
            sl = slice(rows.start, rows.stop)
            q_i, o_i, l_i, m_i = q_hbm[:, :, sl], o_hbm[:, :, sl], l_hbm[:, :, sl], m_hbm[:, :, sl]
            s = _scores(q_i, k_j, rows, cols, status)  # line 9: S_ij = Q_i K_jᵀ (scaled)
            # Line 10: m̃_ij = rowmax(S_ij), P̃_ij = exp(S_ij − m̃_ij), ℓ̃_ij = rowsum(P̃_ij).
            # A row that the causal mask hides entirely in this tile has m̃ = −∞: shift it by 0
            # instead, so that its P̃ row is exp(−∞) = 0 rather than NaN.
            m_tilde = s.amax(dim=-1)
            p = torch.exp(s - torch.where(torch.isinf(m_tilde), 0.0, m_tilde)[..., None])
            l_tilde = p.sum(dim=-1)
            # Line 11: m_new = max(m_i, m̃_ij), ℓ_new = e^{m_i − m_new} ℓ_i + e^{m̃ − m_new} ℓ̃.
            m_new = torch.maximum(m_i, m_tilde)
            old, new = torch.exp(m_i - m_new), torch.exp(m_tilde - m_new)
            l_new = old * l_i + new * l_tilde
            # Line 12: O_i ← diag(ℓ_new)⁻¹ (diag(ℓ_i) e^{m_i − m_new} O_i + e^{m̃ − m_new} P̃ V_j).
            acc = (l_i * old)[..., None] * o_i + new[..., None] * (p @ v_j)
            o_hbm[:, :, sl] = acc / l_new[..., None]
            l_hbm[:, :, sl], m_hbm[:, :, sl] = l_new, m_new  # line 13
            if trace is not None:
                # Line 8 reads Q_i, O_i, ℓ_i, m_i; lines 12–13 write O_i, ℓ_i, m_i.
                row_bytes = bh * len(rows) * (d * io_size + 2 * stat_size)
                kv_bytes = kv_read_bytes if i == _first_visited(row_blocks, cols, causal) else 0
                _record_tile(
                    trace,
                    i,
                    j,
                    status,
                    rows,
                    cols,
                    m_new,
                    l_new,
                    acc if trace_accumulator else None,
                    read_bytes=row_bytes + bh * len(rows) * d * io_size + kv_bytes,
                    write_bytes=row_bytes + (init_write_bytes if first else 0),
                )
                first = False
    return o_hbm.to(q.dtype), m_hbm + torch.log(l_hbm)


def _first_visited(row_blocks: list[range], cols: range, causal: bool) -> int:
    """Index of the first query block that visits key block `cols` (where K_j, V_j are counted)."""
    return next(
        i for i, rows in enumerate(row_blocks) if tile_status(rows, cols, causal) != "skipped"
    )


def flash_attention_backward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    grad_out: Tensor,
    *,
    causal: bool = False,
    block_m: int = 32,
    block_n: int = 32,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of attention w.r.t. q, k, v, recomputing P tile by tile from the saved lse.

    Dao 2023 (FlashAttention-2), Algorithm 2: outer loop over key/value blocks, inner over
    query blocks; P_ij = exp(S_ij − L_i), dV_j += P_ijᵀ dO_i, dP_ij = dO_i V_jᵀ,
    dS_ij = P_ij ∘ (dP_ij − D_i) with D_i = rowsum(dO_i ∘ O_i), dQ_i += dS_ij K_j/√d,
    dK_j += dS_ijᵀ Q_i/√d. No N×N matrix is kept: only one tile at a time.
    q, out, grad_out: (B, H, Nq, d); k, v: (B, H, Nk, d); lse: (B, H, Nq) as returned by
    `flash_attention` -> dq (B, H, Nq, d), dk, dv (B, H, Nk, d), in the inputs' dtype.
    """
    q_hbm, k_hbm, v_hbm = _inputs(q, k, v, block_m, block_n)
    if out.shape != q.shape or grad_out.shape != q.shape:
        raise ValueError(
            f"out {tuple(out.shape)}, grad_out {tuple(grad_out.shape)}: expected q's shape "
            f"{tuple(q.shape)}"
        )
    if lse.shape != q.shape[:3]:
        raise ValueError(f"lse: expected shape {tuple(q.shape[:3])}, got {tuple(lse.shape)}")
    dtype = q_hbm.dtype
    scale = 1.0 / math.sqrt(q.shape[-1])
    do_hbm, lse_hbm = grad_out.to(dtype), lse.to(dtype)
    d_rows = (do_hbm * out.to(dtype)).sum(dim=-1)  # D = rowsum(dO ∘ O) (line 4)
    dq = torch.zeros_like(q_hbm)
    dk = torch.zeros_like(k_hbm)
    dv = torch.zeros_like(v_hbm)
    row_blocks = blocks(q.shape[2], block_m)
    for cols in blocks(k.shape[2], block_n):
        cs = slice(cols.start, cols.stop)
        k_j, v_j = k_hbm[:, :, cs], v_hbm[:, :, cs]
        for rows in row_blocks:
            status = tile_status(rows, cols, causal)
            if status == "skipped":
                continue
            rs = slice(rows.start, rows.stop)
            q_i, do_i = q_hbm[:, :, rs], do_hbm[:, :, rs]
            s = _scores(q_i, k_j, rows, cols, status)
            p = torch.exp(s - lse_hbm[:, :, rs, None])  # P_ij recomputed (line 11)
            dv[:, :, cs] += p.transpose(-1, -2) @ do_i  # line 12
            dp = do_i @ v_j.transpose(-1, -2)  # line 13
            ds = p * (dp - d_rows[:, :, rs, None])  # line 14
            dq[:, :, rs] += (ds @ k_j) * scale  # line 15
            dk[:, :, cs] += (ds.transpose(-1, -2) @ q_i) * scale  # line 16
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)
