"""The LLaMA decoder block piece by piece: RMSNorm, RoPE, SwiGLU, pre- and post-norm residuals.

Touvron et al. 2023 ("LLaMA"; "Llama 2"): pre-normalisation with RMSNorm (Zhang & Sennrich
2019), the SwiGLU feed-forward layer (Shazeer 2020) and rotary position embeddings (Su et al.
2021), around grouped-query attention (Ainslie et al. 2023). Weights are in `nn.Linear` layout
(y = x Wᵀ, no bias); attention features are head-major (feature h·d + i is element i of head h).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from core.trace import Trace

BLOCK_WEIGHTS = ("attn_norm", "w_q", "w_k", "w_v", "w_o", "ffn_norm", "w_gate", "w_up", "w_down")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp64 for fp64 inputs, fp32 for every other float dtype (bf16 and fp16 included)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def rms_norm(x: Tensor, weight: Tensor | None = None, eps: float = 1e-6) -> Tensor:
    """x / √(mean(x²) + eps) · weight over the last dimension.

    Zhang & Sennrich 2019, eq. 4. x: (..., D), weight: (D,) or None -> (..., D) in x's dtype,
    computed in fp32 (fp64 for fp64 inputs).
    """
    dtype = compute_dtype(x.dtype)
    x32 = x.to(dtype)
    y = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + eps)
    if weight is not None:
        y = y * weight.to(dtype)
    return y.to(x.dtype)


def rope_angles(positions: Tensor, d: int, base: float, dtype: torch.dtype) -> Tensor:
    """θ_(m,i) = m·base^(−2i/d) for i < d/2: (N,) positions -> (N, d/2) angles in `dtype`."""
    i = torch.arange(0, d // 2, dtype=dtype, device=positions.device)
    inv_freq = base ** (-2.0 * i / d)  # Su et al. 2021, eq. 15
    return positions.to(dtype)[:, None] * inv_freq[None, :]


def rope(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """Rotary position embedding: pair (i, i + d/2) of row m turned by m·base^(−2i/d).

    Su et al. 2021 ("RoFormer"), eq. 34, in the half-split layout of LLaMA's Hugging Face code.
    x: (..., N, d) with d even, positions: (N,) integers -> (..., N, d) in x's dtype; angles and
    products in fp32 (fp64 for fp64 inputs).
    """
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"x: the last dimension d must be even for RoPE, got {d}")
    if positions.dim() != 1 or positions.shape[0] != x.shape[-2]:
        raise ValueError(
            f"positions: expected shape ({x.shape[-2]},) to match x's N, got {tuple(positions.shape)}"
        )
    if positions.is_floating_point() or positions.is_complex():
        raise ValueError("positions: integers expected")
    dtype = compute_dtype(x.dtype)
    angles = rope_angles(positions, d, base, dtype)
    cos, sin = torch.cat([angles.cos()] * 2, dim=-1), torch.cat([angles.sin()] * 2, dim=-1)
    x32 = x.to(dtype)
    x1, x2 = x32[..., : d // 2], x32[..., d // 2 :]
    rotated = torch.cat([-x2, x1], dim=-1)  # (x1, x2) -> (x1 cos − x2 sin, x2 cos + x1 sin)
    return (x32 * cos + rotated * sin).to(x.dtype)


def swiglu(x: Tensor, w_gate: Tensor, w_up: Tensor, w_down: Tensor) -> Tensor:
    """FFN_SwiGLU(x) = (SiLU(x W_gateᵀ) ⊙ x W_upᵀ) W_downᵀ.

    Shazeer 2020 ("GLU Variants Improve Transformer"), eq. 6. x: (..., D), w_gate, w_up: (F, D),
    w_down: (D, F) -> (..., D).
    """
    return (F.silu(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T


def llama_ffn_hidden_dim(
    d_model: int, multiple_of: int = 256, ffn_dim_multiplier: float | None = None
) -> int:
    """LLaMA's FFN width: int(2·4d/3), times the multiplier if given, rounded up to `multiple_of`.

    Meta's llama `model.py` (FeedForward): 7B d = 4096 -> 11008; 70B d = 8192, 1.3, 4096 -> 28672.
    """
    if d_model < 1 or multiple_of < 1:
        raise ValueError("d_model and multiple_of must be at least 1")
    hidden = int(2 * 4 * d_model / 3)  # 2/3 of 4d keeps SwiGLU's three matrices at 8d²
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * math.ceil(hidden / multiple_of)


def _rms(x: Tensor) -> float:
    return float(x.detach().double().pow(2).mean().sqrt())


def block_attention(
    x: Tensor, weights: dict[str, Tensor], n_heads: int, n_kv_heads: int, rope_base: float, causal
) -> Tensor:
    """Grouped-query self-attention with RoPE on q and k per head, positions 0…N−1.

    x: (B, N, D) -> (B, N, D_out).
    """
    from core.attention.variants import attend, split_heads  # variants imports rope from here

    positions = torch.arange(x.shape[-2], device=x.device)
    q = rope(split_heads(x @ weights["w_q"].T, n_heads), positions, rope_base)
    k = rope(split_heads(x @ weights["w_k"].T, n_kv_heads), positions, rope_base)
    v = split_heads(x @ weights["w_v"].T, n_kv_heads)
    out, _ = attend(q, k, v, causal=causal)
    return out.transpose(1, 2).flatten(2) @ weights["w_o"].T


def decoder_block(
    x: Tensor,
    weights: dict[str, Tensor],
    n_heads: int,
    n_kv_heads: int,
    *,
    norm: Literal["pre", "post"] = "pre",
    eps: float = 1e-5,
    rope_base: float = 10000.0,
    causal: bool = True,
    trace: Trace | None = None,
) -> Tensor:
    """One LLaMA decoder layer: attention and SwiGLU FFN sublayers with RMSNorm and residuals.

    "pre" (Touvron et al. 2023; Xiong et al. 2020): h = x + Attn(RMSNorm(x)),
    out = h + FFN(RMSNorm(h)). "post" (Vaswani et al. 2017): h = RMSNorm(x + Attn(x)),
    out = RMSNorm(h + FFN(h)). x: (B, N, D); weights: attn_norm, ffn_norm (D,), w_q (H·d, D),
    w_k, w_v (H_kv·d, D), w_o (D, H·d), w_gate, w_up (F, D), w_down (D, F) -> (B, N, D).
    Trace: "sublayer" (name, input_rms, output_rms) and "residual" (after, norm: mean ‖row‖).
    """
    missing = [key for key in BLOCK_WEIGHTS if key not in weights]
    if missing:
        raise ValueError(f"weights: missing {', '.join(missing)}")
    if norm not in ("pre", "post"):
        raise ValueError(f"norm: 'pre' or 'post', got {norm!r}")
    if x.dim() != 3:
        raise ValueError(f"x: expected shape (B, N, D), got {tuple(x.shape)}")
    w = weights

    def attention(inp: Tensor) -> Tensor:
        return block_attention(inp, w, n_heads, n_kv_heads, rope_base, causal)

    def ffn(inp: Tensor) -> Tensor:
        return swiglu(inp, w["w_gate"], w["w_up"], w["w_down"])

    def record(name: str, inp: Tensor, out: Tensor) -> None:
        if trace is not None:
            trace.record("sublayer", name=name, input_rms=_rms(inp), output_rms=_rms(out))

    def residual(after: str, stream: Tensor) -> None:
        if trace is not None:
            norm_value = float(stream.detach().double().norm(dim=-1).mean())
            trace.record("residual", after=after, norm=norm_value)

    if norm == "pre":
        a_in = rms_norm(x, w["attn_norm"], eps)
        a_out = attention(a_in)
        record("attention", a_in, a_out)
        h = x + a_out
        residual("attention", h)
        f_in = rms_norm(h, w["ffn_norm"], eps)
        f_out = ffn(f_in)
        record("ffn", f_in, f_out)
        out = h + f_out
    else:
        a_out = attention(x)
        record("attention", x, a_out)
        h = rms_norm(x + a_out, w["attn_norm"], eps)
        residual("attention", h)
        f_out = ffn(h)
        record("ffn", h, f_out)
        out = rms_norm(h + f_out, w["ffn_norm"], eps)
    residual("ffn", out)
    return out


def init_block_weights(
    d_model: int,
    n_heads: int,
    n_kv_heads: int,
    ffn_dim: int,
    *,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Tensor]:
    """Random block weights at initialisation: N(0, 1/fan_in) matrices, norm gains of one."""
    head_dim = d_model // n_heads
    shapes = {
        "w_q": (n_heads * head_dim, d_model),
        "w_k": (n_kv_heads * head_dim, d_model),
        "w_v": (n_kv_heads * head_dim, d_model),
        "w_o": (d_model, n_heads * head_dim),
        "w_gate": (ffn_dim, d_model),
        "w_up": (ffn_dim, d_model),
        "w_down": (d_model, ffn_dim),
    }
    weights = {
        name: torch.randn(shape, generator=generator, dtype=dtype) / math.sqrt(shape[1])
        for name, shape in shapes.items()
    }
    weights["attn_norm"] = torch.ones(d_model, dtype=dtype)
    weights["ffn_norm"] = torch.ones(d_model, dtype=dtype)
    return weights


def stack_gradients(
    x: Tensor,
    layers: list[dict[str, Tensor]],
    n_heads: int,
    n_kv_heads: int,
    targets: Tensor,
    readout: Tensor,
    *,
    norm: Literal["pre", "post"] = "pre",
    trace: Trace | None = None,
) -> Tensor:
    """A stack of decoder blocks, a readout and cross-entropy; the loss, with per-layer gradients.

    Xiong et al. 2020 ("On Layer Normalization in the Transformer Architecture"), §3: at
    initialisation post-norm's gradients are largest near the output, pre-norm's even.
    x: (B, N, D), layers: weights of each block, targets: (B, N) int64 in [0, V),
    readout: (V, D). Pre-norm ends with a final RMSNorm (as LLaMA). Trace: "layer" (index,
    grad_norm = ‖∂L/∂W_l‖ over the layer's matrices, stream_norm = mean ‖row‖ after it).
    """
    params = [{k: v.detach().clone().requires_grad_(True) for k, v in w.items()} for w in layers]
    h, stream = x, []
    for weights in params:
        h = decoder_block(h, weights, n_heads, n_kv_heads, norm=norm)
        stream.append(float(h.detach().double().norm(dim=-1).mean()))
    if norm == "pre":
        h = rms_norm(h)
    logits = h @ readout.T
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    matrices = [w[k] for w in params for k in BLOCK_WEIGHTS if k.startswith("w_")]
    grads = torch.autograd.grad(loss, matrices)
    per_layer = len(matrices) // max(len(params), 1)
    if trace is not None:
        for index in range(len(params)):
            chunk = grads[index * per_layer : (index + 1) * per_layer]
            grad_norm = float(torch.sqrt(sum(g.double().pow(2).sum() for g in chunk)))
            trace.record("layer", index=index, grad_norm=grad_norm, stream_norm=stream[index])
    return loss.detach()
