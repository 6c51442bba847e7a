"""FlashAttention-2 forward as a Triton kernel: output and row log-sum-exp, causal or not.

Dao 2023, "FlashAttention-2", Algorithm 1: one program per (query block, batch·head); it keeps its
Q block, the running max m_i, the running sum l_i and the output accumulator on chip and streams the
K/V blocks through, rescaling by exp(m_old − m_new) whenever the max grows (the online softmax of
Milakov & Gimelshein 2018). The layout follows Triton's tutorial 06-fused-attention.

Where it runs, decided once when this module is imported:
- a CUDA GPU: compiled natively, on CUDA tensors;
- no CUDA: Triton's interpreter on CPU tensors (slow: every tile step is Python and NumPy). This
  module sets TRITON_INTERPRET=1 itself when CUDA is missing and the variable is unset, before it
  imports triton, because Triton reads the flag when `triton.language` is imported and when
  `@triton.jit` decorates. If triton was imported earlier without the flag, it is too late and
  `triton_backend()` says so. Set TRITON_INTERPRET=0 beforehand to opt out (the kernel then
  compiles, e.g. for a CPU-side PTX check, but cannot launch);
- Triton not installed: importing still works; `triton_backend()` says why nothing runs.

Numerics: scores go through exp2 with log2(e)/√d folded into one scale; m and l are fp32; fp16/bf16
matmuls take fp16/bf16 operands (P is cast to V's dtype, as FlashAttention does) with fp32
accumulation; fp32 inputs use full-precision ("ieee") dots, not TF32.
"""

import functools
import importlib.util
import math
import os
import sys

import torch
from torch import Tensor

_TRITON_IMPORTED_FIRST = False
if not torch.cuda.is_available() and "TRITON_INTERPRET" not in os.environ:
    # triton.language reads the flag when it is imported: if triton already is, it is too late
    _TRITON_IMPORTED_FIRST = "triton" in sys.modules
    if not _TRITON_IMPORTED_FIRST:
        os.environ["TRITON_INTERPRET"] = "1"  # see the module docstring
try:
    import triton
    import triton.language as tl
except ImportError as error:  # optional accelerator: core imports without it
    triton = None
    _UNAVAILABLE = f"Triton not installed: {error}"
else:
    _UNAVAILABLE = None
    _INTERPRETED = bool(triton.knobs.runtime.interpret)
    if _INTERPRETED and importlib.util.find_spec("numpy") is None:
        _UNAVAILABLE = "Triton's interpreter needs NumPy, which is not installed"

_LOG2_E = 1.4426950408889634  # exp(x) = exp2(x · log2 e)
_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_MIN_HEAD_DIM, _MAX_HEAD_DIM = 16, 128
_BLOCK_SIZES = (16, 32, 64, 128, 256)  # powers of two; tl.dot needs K ≥ 16 on the GPU


if _UNAVAILABLE is None:

    @triton.jit
    def _load_tile(ptrs, rows, n_rows, cols, MASK_ROWS: tl.constexpr, HEAD_DIM: tl.constexpr,
                   BLOCK_D: tl.constexpr):  # fmt: skip
        """A (rows, BLOCK_D) tile; masks only what can be out of bounds (zeros there)."""
        if MASK_ROWS:
            tile = tl.load(
                ptrs, mask=(rows[:, None] < n_rows) & (cols[None, :] < HEAD_DIM), other=0.0
            )
        elif HEAD_DIM < BLOCK_D:  # head_dim padded to a power of two
            tile = tl.load(ptrs, mask=cols[None, :] < HEAD_DIM, other=0.0)
        else:
            tile = tl.load(ptrs)
        return tile

    @triton.jit
    def _attn_tiles(acc, l_i, m_i, q, k_ptrs, v_ptrs, stride_kn, stride_vn, offs_m, offs_d,
                    lo, hi, N_Q, N_K, qk_scale, M_DBG, L_DBG,
                    MASKED: tl.constexpr, CAUSAL: tl.constexpr, HEAD_DIM: tl.constexpr,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                    DOT_F32: tl.constexpr, PRECISION: tl.constexpr, DEBUG: tl.constexpr):  # fmt: skip
        """Stream the K/V blocks starting at lo, lo + BLOCK_N, … < hi through one Q block.

        MASKED=False: every key of every block is in range and visible (no mask at all);
        MASKED=True: the ragged last block and/or the causal diagonal, masked element-wise.
        """
        offs_n = tl.arange(0, BLOCK_N)
        k_ptrs += lo * stride_kn
        v_ptrs += lo * stride_vn
        for start_n in range(lo, hi, BLOCK_N):
            k = _load_tile(k_ptrs, start_n + offs_n, N_K, offs_d, MASKED, HEAD_DIM, BLOCK_D)
            v = _load_tile(v_ptrs, start_n + offs_n, N_K, offs_d, MASKED, HEAD_DIM, BLOCK_D)
            if DOT_F32:  # interpreter only: its bf16 tl.dot is wrong (triton issue #11584)
                k = k.to(tl.float32)
            # S = Q Kᵀ · log2(e)/√d: scores in base-2 units, so exp2 below is exp of the true score
            s = tl.dot(q, tl.trans(k), input_precision=PRECISION, out_dtype=tl.float32) * qk_scale
            if MASKED:
                keys = start_n + offs_n
                visible = keys[None, :] < N_K
                if CAUSAL:  # top-left aligned, as scaled_dot_product_attention(is_causal=True)
                    visible = visible & (keys[None, :] <= offs_m[:, None])
                s = tl.where(visible, s, float("-inf"))
            # online softmax (FA-2 Alg. 1, lines 8–10): m_new = max(m, rowmax S), P = exp(S − m_new),
            # l = e^(m − m_new) l + rowsum P, acc = e^(m − m_new) acc + P V. Key 0 lies in the
            # first block every row visits, so m_new is finite and no 0·inf arises.
            m_new = tl.maximum(m_i, tl.max(s, 1))
            p = tl.math.exp2(s - m_new[:, None])
            alpha = tl.math.exp2(m_i - m_new)
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None]
            p = p.to(v.dtype)
            if DOT_F32:
                p = p.to(tl.float32)
                v = v.to(tl.float32)
            acc = tl.dot(p, v, acc, input_precision=PRECISION, out_dtype=tl.float32)
            m_i = m_new
            if DEBUG:  # constexpr: with DEBUG=False this block is not in the compiled kernel
                pid_m = tl.program_id(0)
                n_kb = tl.cdiv(N_K, BLOCK_N)
                tile = (tl.program_id(1) * tl.num_programs(0) + pid_m) * n_kb + start_n // BLOCK_N
                rows = tl.arange(0, BLOCK_M)
                valid = offs_m < N_Q
                tl.store(M_DBG + tile * BLOCK_M + rows, m_i * 0.6931471805599453, mask=valid)
                tl.store(L_DBG + tile * BLOCK_M + rows, l_i, mask=valid)
            k_ptrs += BLOCK_N * stride_kn
            v_ptrs += BLOCK_N * stride_vn
        return acc, l_i, m_i

    @triton.jit
    def _attn_fwd(Q, K, V, Out, LSE, M_DBG, L_DBG,
                  stride_qb, stride_qh, stride_qm, stride_qd,
                  stride_kb, stride_kh, stride_kn, stride_kd,
                  stride_vb, stride_vh, stride_vn, stride_vd,
                  stride_ob, stride_oh, stride_om, stride_od,
                  H, N_Q, N_K, qk_scale,
                  HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr,
                  BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, DOT_F32: tl.constexpr,
                  PRECISION: tl.constexpr, DEBUG: tl.constexpr):  # fmt: skip
        """Grid (⌈N_Q/BLOCK_M⌉, B·H): one query block of one head per program.

        Q, K, V, Out: (B, H, N, HEAD_DIM) with any strides; LSE: contiguous (B, H, N_Q) fp32;
        M_DBG, L_DBG: contiguous (B, H, ⌈N_Q/BLOCK_M⌉, ⌈N_K/BLOCK_N⌉, BLOCK_M) fp32 when DEBUG.
        """
        pid_m = tl.program_id(0)
        pid_bh = tl.program_id(1)
        off_b = (pid_bh // H).to(tl.int64)  # 64-bit offsets: B·H·N·d can pass 2³¹
        off_h = (pid_bh % H).to(tl.int64)
        start_m = pid_m * BLOCK_M
        offs_m = start_m + tl.arange(0, BLOCK_M)
        offs_n = tl.arange(0, BLOCK_N)
        offs_d = tl.arange(0, BLOCK_D)

        q_ptrs = (Q + off_b * stride_qb + off_h * stride_qh
                  + offs_m[:, None] * stride_qm + offs_d[None, :] * stride_qd)  # fmt: skip
        k_ptrs = (K + off_b * stride_kb + off_h * stride_kh
                  + offs_n[:, None] * stride_kn + offs_d[None, :] * stride_kd)  # fmt: skip
        v_ptrs = (V + off_b * stride_vb + off_h * stride_vh
                  + offs_n[:, None] * stride_vn + offs_d[None, :] * stride_vd)  # fmt: skip
        q = _load_tile(q_ptrs, offs_m, N_Q, offs_d, True, HEAD_DIM, BLOCK_D)
        if DOT_F32:
            q = q.to(tl.float32)

        m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
        acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)

        # Stage 1: key blocks every row of this Q block sees whole, with no mask. Causal: keys
        # < start_m; otherwise every block that ends inside N_K.
        # Stage 2: the rest, masked: the diagonal block(s) when causal (no key past the block's
        # last row: the blocks above the diagonal are never loaded) and the ragged last block.
        if CAUSAL:
            hi = tl.minimum(start_m + BLOCK_M, N_K)
            full = tl.minimum(start_m, N_K) // BLOCK_N * BLOCK_N
        else:
            hi = N_K
            full = N_K // BLOCK_N * BLOCK_N
        acc, l_i, m_i = _attn_tiles(acc, l_i, m_i, q, k_ptrs, v_ptrs, stride_kn, stride_vn,
                                    offs_m, offs_d, 0, full, N_Q, N_K, qk_scale, M_DBG, L_DBG,
                                    False, CAUSAL, HEAD_DIM, BLOCK_M, BLOCK_N, BLOCK_D,
                                    DOT_F32, PRECISION, DEBUG)  # fmt: skip
        acc, l_i, m_i = _attn_tiles(acc, l_i, m_i, q, k_ptrs, v_ptrs, stride_kn, stride_vn,
                                    offs_m, offs_d, full, hi, N_Q, N_K, qk_scale, M_DBG, L_DBG,
                                    True, CAUSAL, HEAD_DIM, BLOCK_M, BLOCK_N, BLOCK_D,
                                    DOT_F32, PRECISION, DEBUG)  # fmt: skip

        # O = acc / l (FA-2 Alg. 1, line 12); LSE = m + log l, back from base 2 to natural log
        o_ptrs = (Out + off_b * stride_ob + off_h * stride_oh
                  + offs_m[:, None] * stride_om + offs_d[None, :] * stride_od)  # fmt: skip
        o_mask = (offs_m[:, None] < N_Q) & (offs_d[None, :] < HEAD_DIM)
        tl.store(o_ptrs, (acc / l_i[:, None]).to(Out.dtype.element_ty), mask=o_mask)
        lse = (m_i + tl.math.log2(l_i)) * 0.6931471805599453
        tl.store(LSE + pid_bh.to(tl.int64) * N_Q + offs_m, lse, mask=offs_m < N_Q)


@functools.cache
def triton_backend() -> tuple[str | None, str]:
    """Which path `flash_attention_triton` takes here, and a reason a person can read.

    -> ("gpu", "cuda sm_90"), ("interpreter", …) or (None, why nothing can run).
    """
    if _UNAVAILABLE is not None:
        return None, _UNAVAILABLE
    if _INTERPRETED:
        return "interpreter", "Triton interpreter on CPU (no CUDA GPU; slow, small shapes only)"
    try:
        target = triton.runtime.driver.active.get_current_target()
    except RuntimeError as error:  # "0 active drivers" on a machine without a GPU
        if _TRITON_IMPORTED_FIRST:
            why = "triton was imported before this module; set TRITON_INTERPRET=1 before that"
        else:
            why = f"TRITON_INTERPRET={os.environ.get('TRITON_INTERPRET')!r}"
        return None, f"no GPU backend ({error}) and no interpreter: {why}"
    arch = f"sm_{target.arch}" if isinstance(target.arch, int) else str(target.arch)
    return "gpu", f"Triton on {target.backend} {arch} ({torch.cuda.get_device_name()})"


def kernel_config(head_dim: int, dtype: torch.dtype) -> dict[str, int]:
    """The fixed launch configuration for a head_dim and dtype (no autotuning).

    Chosen to fit the H100's 227 KB of shared memory per block (checked by compiling for
    sm_90 in the tests), not yet tuned for speed: tune block sizes, warps and stages on the GPU.
    """
    if dtype == torch.float32:  # fp32 tiles are twice the bytes, and the dots run on FMA units
        return {"block_m": 64, "block_n": 32, "num_warps": 4, "num_stages": 2}
    if head_dim <= 64:
        return {"block_m": 128, "block_n": 64, "num_warps": 4, "num_stages": 3}
    return {"block_m": 128, "block_n": 64, "num_warps": 8, "num_stages": 3}


def _check(q: Tensor, k: Tensor, v: Tensor, block_m: int, block_n: int) -> None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, Tensor) or x.dim() != 4:
            raise ValueError(f"{name} must be a 4-D tensor (B, H, N, d)")
        if x.dtype not in _DTYPES:
            raise ValueError(f"{name}.dtype must be float32, float16 or bfloat16, got {x.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}")
    (b, h, _, d), (bk, hk, n_k, dk) = q.shape, k.shape
    if (bk, hk, dk) != (b, h, d) or v.shape != k.shape:
        raise ValueError(
            f"shapes q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}: "
            "need q (B, H, Nq, d) and k, v (B, H, Nk, d)"
        )
    if not _MIN_HEAD_DIM <= d <= _MAX_HEAD_DIM:
        raise ValueError(f"head_dim must be in [{_MIN_HEAD_DIM}, {_MAX_HEAD_DIM}], got {d}")
    if n_k < 1:
        raise ValueError("k and v need at least one key (Nk ≥ 1): softmax over no keys")
    for name, size in (("block_m", block_m), ("block_n", block_n)):
        if size not in _BLOCK_SIZES:
            raise ValueError(f"{name} must be one of {_BLOCK_SIZES}, got {size}")
    backend, reason = triton_backend()
    if backend is None:
        raise RuntimeError(f"the Triton kernel cannot run here: {reason}")
    wanted = "cuda" if backend == "gpu" else "cpu"
    if q.device.type != wanted:
        raise ValueError(f"the Triton {backend} path takes {wanted} tensors, got {q.device}")


def _launch(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool,
    block_m: int | None,
    block_n: int | None,
    debug: bool,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    config = kernel_config(q.shape[-1], q.dtype)
    block_m = config["block_m"] if block_m is None else block_m
    block_n = config["block_n"] if block_n is None else block_n
    _check(q, k, v, block_m, block_n)
    b, h, n_q, d = q.shape
    n_k = k.shape[2]
    out = torch.empty((b, h, n_q, d), dtype=q.dtype, device=q.device)
    lse = torch.empty((b, h, n_q), dtype=torch.float32, device=q.device)
    n_qb, n_kb = triton.cdiv(n_q, block_m), triton.cdiv(n_k, block_n)
    m_dbg = l_dbg = None
    if debug:  # NaN marks a tile the kernel never visited and rows past Nq
        m_dbg = torch.full((b, h, n_qb, n_kb, block_m), math.nan, device=q.device)
        l_dbg = torch.full_like(m_dbg, math.nan)
    if n_q == 0 or b * h == 0:
        return out, lse, m_dbg, l_dbg
    interpreting = triton_backend()[0] == "interpreter"
    _attn_fwd[(n_qb, b * h)](
        q, k, v, out, lse, m_dbg, l_dbg,
        *q.stride(), *k.stride(), *v.stride(), *out.stride(),
        h, n_q, n_k, _LOG2_E / math.sqrt(d),
        HEAD_DIM=d, BLOCK_D=triton.next_power_of_2(d), BLOCK_M=block_m, BLOCK_N=block_n,
        CAUSAL=bool(causal), DOT_F32=interpreting and q.dtype == torch.bfloat16,
        PRECISION="ieee" if q.dtype == torch.float32 else "tf32", DEBUG=debug,
        num_warps=config["num_warps"], num_stages=config["num_stages"],
    )  # fmt: skip
    return out, lse, m_dbg, l_dbg


def flash_attention_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    block_m: int | None = None,
    block_n: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Exact attention softmax(q kᵀ/√d) v and its row log-sum-exp, by the Triton kernel.

    Dao 2023 (FlashAttention-2), Algorithm 1, forward pass.
    q: (B, H, Nq, d), k, v: (B, H, Nk, d); fp32, fp16 or bf16; 16 ≤ d ≤ 128 (padded to a power
    of two inside); any Nq ≥ 0, Nk ≥ 1; any strides. CUDA tensors on a GPU, CPU tensors under
    the interpreter (see `triton_backend()`).
    causal: query i sees keys j ≤ i (top-left aligned when Nq ≠ Nk), as
    `scaled_dot_product_attention(is_causal=True)`.
    block_m, block_n: tile sizes (16…256, powers of two); default `kernel_config(d, dtype)`.
    -> out (B, H, Nq, d) in q's dtype, lse (B, H, Nq) fp32, natural log of Σ_j exp(q·k_j/√d).
    """
    out, lse, _, _ = _launch(q, k, v, causal, block_m, block_n, debug=False)
    return out, lse


def flash_attention_triton_trace(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    block_m: int = 16,
    block_n: int = 16,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The same kernel with DEBUG on: also each tile's running max m and running sum l.

    -> out, lse as `flash_attention_triton`, and m, l: float32 CPU tensors of shape
    (B, H, ⌈Nq/block_m⌉, ⌈Nk/block_n⌉, block_m). m[b, h, i, j, r] is the max of the scaled scores
    q·k/√d of row i·block_m + r over the keys it has seen after K/V block j, in natural-log
    units; l = Σ exp(s − m) over those keys. NaN where the kernel skipped the tile (causal,
    above the diagonal) and for rows past Nq. On the last tile of a row, m + log l = lse.
    """
    out, lse, m_dbg, l_dbg = _launch(q, k, v, causal, block_m, block_n, debug=True)
    return out, lse, m_dbg.cpu(), l_dbg.cpu()
