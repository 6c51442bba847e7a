"""What Stable Diffusion 3 changed: rectified-flow noising, timestep densities, QK-norm, MM-DiT.

Esser et al. 2024, "Scaling Rectified Flow Transformers for High-Resolution Image Synthesis":
the forward process z_t = (1 − t)·x₀ + t·ε puts data at t = 0 and noise at t = 1 (eq. 3); the
timestep t of each training example is drawn from a density π(t) that favours the middle
(logit-normal eq. 19, mode sampling eq. 20, CosMap eq. 21); a resolution-dependent shift
t' = αt/(1 + (α − 1)t) moves it towards noise (eq. 23). In ε-prediction terms the rectified-flow
loss weights timestep t by w_t = t/(1 − t) (section 3.1); the signal-to-noise ratio is
SNR = ((1 − t)/t)². The MM-DiT block runs one attention over text and image tokens with
weights per modality, and normalises q and k by RMSNorm (QK-norm, Dehghani et al. 2023).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

MODE_S_MAX = 2 / (math.pi - 2)  # mode sampling stays monotone for −1 ≤ s ≤ 2/(π − 2)


def logit_normal_density(t: Tensor, m: float = 0.0, s: float = 1.0) -> Tensor:
    """π_ln(t; m, s) = exp(−(logit t − m)²/(2s²)) / (s√(2π)·t(1 − t)), elementwise (eq. 19)."""
    logit = torch.log(t) - torch.log1p(-t)
    return torch.exp(-((logit - m) ** 2) / (2 * s * s)) / (s * math.sqrt(2 * math.pi) * t * (1 - t))


def logit_normal_sample(n: int, m: float = 0.0, s: float = 1.0, seed: int = 0) -> Tensor:
    """n draws t = σ(m + s·u), u ~ N(0, 1), float64 (n,)."""
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(m + s * torch.randn(n, generator=g, dtype=torch.float64))


def _check_mode_s(s: float) -> None:
    if not -1.0 <= s <= MODE_S_MAX:
        raise ValueError(f"s: mode sampling needs −1 ≤ s ≤ 2/(π − 2) ≈ {MODE_S_MAX:.4f}, got {s}")


def mode_map(u: Tensor, s: float) -> Tensor:
    """f_mode(u; s) = 1 − u − s·(cos²(πu/2) − 1 + u) (eq. 20): decreasing from 1 at u = 0 to 0."""
    return 1 - u - s * (torch.cos(math.pi * u / 2) ** 2 - 1 + u)


def mode_sample(n: int, s: float, seed: int = 0) -> Tensor:
    """n draws t = f_mode(u; s), u ~ U(0, 1), float64 (n,)."""
    _check_mode_s(s)
    g = torch.Generator().manual_seed(seed)
    return mode_map(torch.rand(n, generator=g, dtype=torch.float64), s)


def mode_density(t: Tensor, s: float) -> Tensor:
    """The density of t = f_mode(u; s), u ~ U(0, 1): 1/|f'(u)| at u = f⁻¹(t), same shape as t.

    f'(u) = −1 − s + s·(π/2)·sin(πu); f is inverted by bisection (it is monotone for the
    allowed s), to float64 precision.
    """
    _check_mode_s(s)
    t64 = t.to(torch.float64)
    low, high = torch.zeros_like(t64), torch.ones_like(t64)
    for _ in range(60):  # f decreases: f(mid) > t means the root lies right of mid
        mid = 0.5 * (low + high)
        right = mode_map(mid, s) > t64
        low, high = torch.where(right, mid, low), torch.where(right, high, mid)
    u = 0.5 * (low + high)
    slope = -1 - s + s * (math.pi / 2) * torch.sin(math.pi * u)
    return (1 / slope.abs()).to(t.dtype)


def cosmap_density(t: Tensor) -> Tensor:
    """CosMap (eq. 21): t = 1 − 1/(tan(πu/2) + 1), u ~ U(0, 1); density 2/(π(1 − 2t + 2t²))."""
    return 2 / (math.pi * (1 - 2 * t + 2 * t * t))


def cosmap_sample(n: int, seed: int = 0) -> Tensor:
    """n draws of CosMap's t, float64 (n,)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=g, dtype=torch.float64)
    return 1 - 1 / (torch.tan(math.pi * u / 2) + 1)


def uniform_density(t: Tensor) -> Tensor:
    return torch.ones_like(t)


def uniform_sample(n: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=g, dtype=torch.float64)


def shift_timestep(t: Tensor, alpha: float) -> Tensor:
    """t' = αt/(1 + (α − 1)t) (eq. 23): α > 1 moves timesteps towards noise (t = 1)."""
    return alpha * t / (1 + (alpha - 1) * t)


def shifted_density(density, t: Tensor, alpha: float) -> Tensor:
    """The density of t' = shift(t) when t has `density`: π(t)·dt/dt' at t = t'/(α − (α − 1)t')."""
    denominator = alpha - (alpha - 1) * t
    return density(t / denominator) * alpha / denominator**2


def rectified_flow_snr(t: Tensor) -> Tensor:
    """SNR of z_t = (1 − t)x₀ + tε: ((1 − t)/t)²."""
    return ((1 - t) / t) ** 2


def rectified_flow_eps_weight(t: Tensor) -> Tensor:
    """w_t = t/(1 − t): the rectified-flow loss written as a weighted ε-prediction loss."""
    return t / (1 - t)


def noise_image(x0: Tensor, eps: Tensor, t: float) -> Tensor:
    """z_t = (1 − t)·x₀ + t·ε (eq. 3, data at t = 0, noise at t = 1)."""
    return (1 - t) * x0 + t * eps


def rms_norm(x: Tensor, gain: Tensor, eps: float = 1e-6) -> Tensor:
    """x/√(mean(x²) + eps) ⊙ gain over the last dim (Zhang & Sennrich 2019)."""
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * gain


def qk_norm_logits(
    q: Tensor, k: Tensor, q_gain: Tensor, k_gain: Tensor, eps: float = 1e-6
) -> Tensor:
    """Attention logits RMSNorm(q)·RMSNorm(k)ᵀ/√d (Dehghani et al. 2023). q: (…, N_q, d),
    k: (…, N_k, d), gains (d,) -> (…, N_q, N_k). With unit gains |logit| ≤ √d."""
    d = q.shape[-1]
    return rms_norm(q, q_gain, eps) @ rms_norm(k, k_gain, eps).transpose(-1, -2) / math.sqrt(d)


def _heads(x: Tensor, heads: int) -> Tensor:
    b, n, d = x.shape
    return x.reshape(b, n, heads, d // heads).transpose(1, 2)  # (B, H, N, d/H)


def joint_attention(
    txt: Tensor,
    img: Tensor,
    txt_weights: dict[str, Tensor],
    img_weights: dict[str, Tensor],
    heads: int,
    qk_norm: bool = True,
    eps: float = 1e-6,
    return_weights: bool = False,
):
    """MM-DiT's joint attention: one softmax over text and image tokens, weights per modality.

    txt: (B, N_t, d), img: (B, N_i, d); each weights dict holds "q", "k", "v", "o" (d, d), used
    as x @ Wᵀ, and "q_norm", "k_norm" (d/heads,) RMSNorm gains. Each modality projects its own
    q, k, v; heads split; q, k RMS-normalised when qk_norm; softmax(q kᵀ/√(d/H))·v over the
    concatenation [txt, img]; the output split back and each part through its own "o".
    Returns (txt_out (B, N_t, d), img_out (B, N_i, d)), and the attention (B, H, N, N) when
    return_weights.
    """
    d = txt.shape[-1]
    if d % heads:
        raise ValueError(f"heads: must divide d = {d}, got {heads}")
    parts = {}
    for name in ("q", "k", "v"):
        parts[name] = torch.cat(
            [_heads(txt @ txt_weights[name].T, heads), _heads(img @ img_weights[name].T, heads)], 2
        )  # (B, H, N_t + N_i, d/H)
    q, k, v = parts["q"], parts["k"], parts["v"]
    n_t = txt.shape[1]
    if qk_norm:
        q = torch.cat([rms_norm(q[:, :, :n_t], txt_weights["q_norm"], eps),
                       rms_norm(q[:, :, n_t:], img_weights["q_norm"], eps)], 2)  # fmt: skip
        k = torch.cat([rms_norm(k[:, :, :n_t], txt_weights["k_norm"], eps),
                       rms_norm(k[:, :, n_t:], img_weights["k_norm"], eps)], 2)  # fmt: skip
    attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), -1)
    out = (attention @ v).transpose(1, 2).reshape(txt.shape[0], -1, d)  # (B, N, d)
    txt_out, img_out = out[:, :n_t] @ txt_weights["o"].T, out[:, n_t:] @ img_weights["o"].T
    if return_weights:
        return txt_out, img_out, attention
    return txt_out, img_out


def logit_growth(
    x: Tensor, wq: Tensor, wk: Tensor, scales: Tensor, qk_norm: bool, eps: float = 1e-6
) -> tuple[Tensor, Tensor]:
    """Max |logit| and mean attention entropy (nats) as q and k weights grow by `scales`.

    x: (N, d) tokens; wq, wk: (d, d); scales (S,). Without QK-norm logits grow as scale²;
    with it they stay below √d. Returns two (S,) tensors.
    """
    d = x.shape[-1]
    ones = torch.ones(d, dtype=x.dtype)
    max_logit, entropy = [], []
    for scale in scales.tolist():
        q, k = x @ (scale * wq).T, x @ (scale * wk).T
        logits = qk_norm_logits(q, k, ones, ones, eps) if qk_norm else q @ k.T / math.sqrt(d)
        p = torch.softmax(logits, -1)
        max_logit.append(logits.abs().max())
        entropy.append(-(p * torch.log(p.clamp_min(1e-300))).sum(-1).mean())
    return torch.stack(max_logit), torch.stack(entropy)
