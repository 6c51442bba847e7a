"""Face recognition pieces: angular-margin logits and the similarity alignment of landmarks.

Margin losses put class weights and embeddings on the unit sphere, so a logit is s·cos θ, and
make the target class harder to win by a margin on the angle:

    softmax (normalised)  s·cos θ
    SphereFace            s·ψ(θ), ψ = (−1)^k cos(mθ) − 2k, k = ⌊mθ/π⌋     Liu et al. 2017
    CosFace               s·(cos θ − m)                                   Wang et al. 2018
    ArcFace               s·cos(θ + m)                                    Deng et al. 2019

Alignment maps detected landmarks onto a canonical template by the least-squares similarity
transform (rotation, uniform scale, translation) in Umeyama's closed form (Umeyama 1991).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

KINDS = ("softmax", "sphereface", "cosface", "arcface")
DEFAULT_MARGIN = {"softmax": 0.0, "sphereface": 4, "cosface": 0.35, "arcface": 0.5}
# ArcFace's 112 × 112 template (insightface `arcface_dst`): eyes, nose tip, mouth corners.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)


def _clamped(cos_theta: Tensor) -> Tensor:
    eps = torch.finfo(cos_theta.dtype).eps
    return cos_theta.clamp(-1 + eps, 1 - eps)  # arccos and √(1 − c²) stay differentiable


def target_logit(cos_theta: Tensor, kind: str, s: float, m: float) -> Tensor:
    """The logit of the true class for each kind, elementwise on cos θ."""
    c = _clamped(cos_theta)
    if kind == "softmax":
        return s * c
    if kind == "cosface":
        return s * (c - m)
    if kind == "arcface":
        sin = torch.sqrt(1 - c * c)
        # cos(θ + m) while θ + m < π, i.e. cos θ > cos(π − m); else insightface's fallback
        return s * torch.where(
            c > math.cos(math.pi - m), c * math.cos(m) - sin * math.sin(m), c - m * math.sin(m)
        )
    if kind == "sphereface":
        theta = torch.arccos(c)
        k = torch.floor(m * theta / math.pi).clamp(max=m - 1)
        sign = 1 - 2 * torch.remainder(k, 2)  # (−1)^k
        return s * (sign * torch.cos(m * theta) - 2 * k)
    raise ValueError(f"kind: unknown {kind!r}; allowed: {', '.join(KINDS)}")


def margin_logits(
    cos_theta: Tensor, labels: Tensor, kind: str, s: float = 64.0, m: float | None = None
) -> Tensor:
    """Logits of normalised-softmax, SphereFace, CosFace or ArcFace: s·cos θ_j off the label,
    the kind's margin function at the label (see the module docstring).

    cos_theta (N, C) in [−1, 1], labels (N,) int64 -> (N, C) in cos_theta's dtype. m=None takes
    the paper's default (SphereFace 4, CosFace 0.35, ArcFace 0.5); SphereFace's m must be an
    integer ≥ 1 and uses s in place of ‖x‖, without annealing.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: unknown {kind!r}; allowed: {', '.join(KINDS)}")
    margin = DEFAULT_MARGIN[kind] if m is None else m
    if kind == "sphereface" and (int(margin) != margin or margin < 1):
        raise ValueError(f"m: SphereFace needs an integer margin ≥ 1, got {margin!r}")
    cos_theta = torch.as_tensor(cos_theta)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    if cos_theta.ndim != 2 or labels.shape != cos_theta.shape[:1]:
        raise ValueError(
            f"cos_theta, labels: expected (N, C) and (N,), got {tuple(cos_theta.shape)} and "
            f"{tuple(labels.shape)}"
        )
    one_hot = F.one_hot(labels, cos_theta.shape[1]).bool()
    target = target_logit(cos_theta, kind, s, margin)
    return torch.where(one_hot, target, s * cos_theta)


def sphereface_annealed(cos_theta: Tensor, labels: Tensor, s: float, m: int, lam: float) -> Tensor:
    """SphereFace's training logits with annealing: (λ·s·cos θ + s·ψ(θ)) / (1 + λ) at the label.

    Liu et al. 2017, §4 (λ decays during training so the margin comes in gradually)."""
    plain = margin_logits(cos_theta, labels, "softmax", s)
    margin = margin_logits(cos_theta, labels, "sphereface", s, m)
    return (lam * plain + margin) / (1 + lam)


def similarity_transform(src: Any, dst: Any) -> Any:
    """The [sR | t] (2, 3) minimising Σ‖dst − (sR·src + t)‖² over s ≥ 0 and rotations R.

    Umeyama 1991, "Least-squares estimation of transformation parameters between two point
    patterns", eqs. (40)–(42): SVD of the cross-covariance, det(R) = +1 (never a reflection).
    src, dst: (N, 2), N ≥ 2, float64; torch in -> torch out, else numpy.
    """
    as_torch = isinstance(src, Tensor)
    a = np.asarray(src.detach().cpu() if isinstance(src, Tensor) else src, dtype=np.float64)
    b = np.asarray(dst.detach().cpu() if isinstance(dst, Tensor) else dst, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape != b.shape or len(a) < 2:
        raise ValueError(f"src, dst: expected two (N, 2) arrays, N ≥ 2; got {a.shape}, {b.shape}")
    mean_a, mean_b = a.mean(0), b.mean(0)
    ac, bc = a - mean_a, b - mean_b
    covariance = bc.T @ ac / len(a)  # Σ_xy of eq. (38)
    u, d, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1  # eq. (39): flip the smallest singular direction, never reflect
    rotation = u @ sign @ vt
    variance = (ac**2).sum() / len(a)
    scale = float(np.trace(np.diag(d) @ sign) / variance) if variance > 0 else 0.0
    translation = mean_b - scale * rotation @ mean_a
    matrix = np.concatenate([scale * rotation, translation[:, None]], 1)
    return torch.as_tensor(matrix) if as_torch else matrix


def least_squares_similarity(src: Any, dst: Any) -> np.ndarray:
    """The same transform by a linear solve: x' = a·x − b·y + tx, y' = b·x + a·y + ty in
    (a, b, tx, ty) (rotation and scale together; the reference for `similarity_transform`)."""
    a = np.asarray(src, dtype=np.float64)
    b = np.asarray(dst, dtype=np.float64)
    rows = np.concatenate(
        [
            np.stack([a[:, 0], -a[:, 1], np.ones(len(a)), np.zeros(len(a))], 1),
            np.stack([a[:, 1], a[:, 0], np.zeros(len(a)), np.ones(len(a))], 1),
        ]
    )
    (p, q, tx, ty), *_ = np.linalg.lstsq(rows, np.concatenate([b[:, 0], b[:, 1]]), rcond=None)
    return np.array([[p, -q, tx], [q, p, ty]])


def transform_residuals(matrix: np.ndarray, src: Any, dst: Any) -> np.ndarray:
    """‖dst − (M·[src; 1])‖ per point. -> (N,)."""
    a = np.asarray(src, dtype=np.float64)
    mapped = a @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]
    return np.linalg.norm(np.asarray(dst, dtype=np.float64) - mapped, axis=1)
