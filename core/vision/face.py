"""Face recognition pieces: angular-margin logits and the similarity alignment of landmarks.

Margin losses put class weights and embeddings on the unit sphere, so a logit is s·cos θ, and
make the target class harder to win by a margin on the angle:

    softmax (normalised)  s·cos θ
    SphereFace            s·ψ(θ), ψ = (−1)^k cos(mθ) − 2k, k = ⌊mθ/π⌋     Liu et al. 2017
    CosFace               s·(cos θ − m)                                   Wang et al. 2018
    ArcFace               s·cos(θ + m)                                    Deng et al. 2019

Alignment maps detected landmarks onto a canonical template by the least-squares similarity
transform (rotation, uniform scale, translation) in Umeyama's closed form (Umeyama 1991), and
`warp_affine` resamples the face into the template's 112 × 112 crop. `train_embeddings` trains
small MLPs to 2-D or 3-D unit embeddings of synthetic identities under each loss, side by side;
`pair_scores` and `error_rates` compare embeddings as a verifier does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.trace import Trace

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


def _chebyshev(c: Tensor, m: int) -> Tensor:
    """cos(mθ) = T_m(cos θ) by T_{k+1} = 2c·T_k − T_{k−1}: exact, no arccos (as SphereFace's
    own code computes it)."""
    previous, current = torch.ones_like(c), c
    for _ in range(m - 1):
        previous, current = current, 2 * c * current - previous
    return current if m >= 1 else previous


def target_logit(cos_theta: Tensor, kind: str, s: float, m: float) -> Tensor:
    """The logit of the true class for each kind, elementwise on cos θ."""
    if kind == "softmax":
        return s * cos_theta
    if kind == "cosface":
        return s * (cos_theta - m)
    if kind == "arcface":
        c = _clamped(cos_theta)
        theta = torch.arccos(c)
        # cos(θ + m) = c·cos m − sin θ·sin m while θ + m < π; else insightface's fallback
        plus = c * math.cos(m) - torch.sqrt(1 - c * c) * math.sin(m)
        return s * torch.where(theta + m < math.pi, plus, cos_theta - m * math.sin(m))
    if kind == "sphereface":
        m = int(m)
        # k = ⌊mθ/π⌋ counts the thresholds cos(jπ/m), j = 1 … m − 1, that θ has passed
        thresholds = torch.cos(torch.arange(1, m, dtype=cos_theta.dtype) * math.pi / m)
        k = (cos_theta.detach()[..., None] <= thresholds).sum(-1).to(cos_theta.dtype)
        sign = 1 - 2 * torch.remainder(k, 2)  # (−1)^k
        return s * (sign * _chebyshev(cos_theta, m) - 2 * k)
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


def warp_affine(image: Tensor, matrix: Any, size: tuple[int, int] = (112, 112)) -> Tensor:
    """The image seen through `matrix`: out(p) = image(M⁻¹·p), bilinear, zeros outside.

    matrix (2, 3) maps input pixel coordinates to output ones (as OpenCV's warpAffine), pixel
    (i, j) centred at x = j, y = i; resampled by F.affine_grid / F.grid_sample, whose θ maps the
    output's normalised coordinates (align_corners=False) to the input's.
    image (C, H, W) floating -> (C, height, width) with size = (height, width).
    """
    if image.ndim != 3 or not image.is_floating_point():
        raise ValueError(f"image: expected a floating (C, H, W) tensor, got {tuple(image.shape)}")
    height, width = size
    forward = np.eye(3)
    forward[:2] = np.asarray(matrix.detach().cpu() if isinstance(matrix, Tensor) else matrix)

    def to_normalised(h: int, w: int) -> np.ndarray:  # pixel -> [−1, 1], pixel edges at ±1
        return np.array([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]])

    theta = (
        to_normalised(*image.shape[1:])
        @ np.linalg.inv(forward)
        @ np.linalg.inv(to_normalised(height, width))
    )
    theta_t = torch.as_tensor(theta[:2], dtype=image.dtype)[None]
    grid = F.affine_grid(theta_t, [1, image.shape[0], height, width], align_corners=False)
    return F.grid_sample(image[None], grid, align_corners=False, padding_mode="zeros")[0]


# --- embeddings trained under each loss --------------------------------------------------------

EMBEDDING_KINDS = ("plain", *KINDS)  # "plain": softmax on W·x + b, nothing normalised


def synthetic_identities(
    classes: int, per_class: int, spread: float, *, features: int = 8, held_out: int = 0,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """Stand-ins for faces: each identity a random centre in R^features, each sample the centre
    plus spread·N(0, I). -> x (classes·per_class, features), labels, and as many again from
    `held_out` further samples per identity (float32, int64)."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=generator)

    def draw(n: int) -> tuple[Tensor, Tensor]:
        labels = torch.arange(classes).repeat_interleave(n)
        noise = torch.randn(len(labels), features, generator=generator)
        return centres[labels] + spread * noise, labels

    return (*draw(per_class), *draw(held_out))


@dataclass
class EmbeddingModels:
    """K one-hidden-layer MLPs x ↦ W₂·relu(W₁x + b₁) and their class weights, stacked."""

    kinds: tuple[str, ...]
    w1: Tensor  # (K, features, hidden)
    b1: Tensor  # (K, 1, hidden)
    w2: Tensor  # (K, hidden, dim)
    weight: Tensor  # (K, classes, dim): class weights; unit length except for "plain"
    bias: Tensor  # (K, 1, classes): used by "plain" only

    def features(self, x: Tensor) -> Tensor:
        """Raw embeddings of x (N, features) by each model -> (K, N, dim)."""
        hidden = torch.relu(torch.baddbmm(self.b1, x.expand(len(self.kinds), *x.shape), self.w1))
        return hidden @ self.w2

    def class_weights(self) -> Tensor:
        """(K, classes, dim), normalised for every kind but "plain" (whose norms matter)."""
        normalised = F.normalize(self.weight, dim=-1)
        plain = torch.tensor([kind == "plain" for kind in self.kinds])[:, None, None]
        return torch.where(plain, self.weight, normalised)


def _smallest_weight_angle(weight: Tensor) -> Tensor:
    """min over class pairs of the angle between their weights. (K, C, dim) -> (K,)."""
    unit = F.normalize(weight, dim=-1)
    gram = unit @ unit.transpose(1, 2)
    eye = torch.eye(gram.shape[-1], dtype=torch.bool)
    return torch.arccos(gram.masked_fill(eye, -1.0).amax((1, 2)).clamp(-1, 1))


def train_embeddings(
    x: Tensor,
    labels: Tensor,
    kinds: Any,
    *,
    dim: int = 2,
    s: float = 16.0,
    margins: dict[str, float] | None = None,
    anneal: Any = False,
    lambdas: tuple[float, float] = (1000.0, 5.0),
    steps: int = 200,
    lr: float = 0.05,
    hidden: int = 32,
    seed: int = 0,
    trace: Trace | None = None,
) -> EmbeddingModels:
    """Train one MLP to `dim`-D embeddings per entry of `kinds` (EMBEDDING_KINDS), side by side
    from the same seeded start, by full-batch Adam on the cross-entropy of each one's logits.

    "plain": W·f + b on the raw features f; the others: `margin_logits` of cos θ between the
    normalised f and the normalised class weights (Liu et al. 2017 §3.3; Wang et al. 2018;
    Deng et al. 2019), margins[kind] or the paper's default. anneal (bool, or one per kind):
    SphereFace's (λ·s·cos θ + s·ψ(θ))/(1 + λ) with λ decaying geometrically over the steps from
    lambdas[0] to lambdas[1] (Liu et al. 2017 §4). The models are independent (their losses
    add, Adam is elementwise), stacked only for speed.
    x (N, features), labels (N,) in [0, C) -> EmbeddingModels. trace: per step "step" with
    (K,) tensors loss, accuracy, target_angle (mean θ_y, radians), weight_angle (smallest
    angle between class weights); at the end "embeddings" (K, N, dim) and "weights".
    """
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in EMBEDDING_KINDS:
            raise ValueError(f"kinds: unknown {kind!r}; allowed: {', '.join(EMBEDDING_KINDS)}")
    if dim < 1 or steps < 0:
        raise ValueError(f"dim ≥ 1 and steps ≥ 0 required, got dim={dim}, steps={steps}")
    annealed = [
        bool(a) for a in (anneal if isinstance(anneal, (list, tuple)) else [anneal] * len(kinds))
    ]
    margins = {**DEFAULT_MARGIN, **(margins or {})}
    count, classes = len(kinds), int(labels.max()) + 1
    generator = torch.Generator().manual_seed(seed)

    def init(*shape: int, fan_in: int) -> Tensor:  # one start, repeated: only the loss differs
        start = (torch.rand(*shape, generator=generator, dtype=x.dtype) * 2 - 1) / math.sqrt(fan_in)
        return start.expand(count, *shape).clone().requires_grad_()

    features = x.shape[1]
    models = EmbeddingModels(
        kinds,
        init(features, hidden, fan_in=features),
        init(1, hidden, fan_in=features),
        init(hidden, dim, fan_in=hidden),
        init(classes, dim, fan_in=1),
        torch.zeros(count, 1, classes, dtype=x.dtype).requires_grad_(),
    )
    parameters = [models.w1, models.b1, models.w2, models.weight, models.bias]
    optimiser = torch.optim.Adam(parameters, lr=lr)
    target = F.one_hot(labels, classes).bool()
    plain = torch.tensor([kind == "plain" for kind in kinds])[:, None, None]
    with torch.enable_grad():
        for step in range(steps):
            raw = models.features(x)
            cos = F.normalize(raw, dim=-1) @ F.normalize(models.weight, dim=-1).transpose(1, 2)
            target_cos = cos.masked_select(target).reshape(count, -1)  # (K, N): cos θ_y
            lam = lambdas[0] * (lambdas[1] / lambdas[0]) ** (step / max(steps - 1, 1))
            targets = []
            for k, kind in enumerate(kinds):
                if kind == "plain":
                    targets.append(target_cos[k])  # replaced below
                    continue
                psi = target_logit(target_cos[k], kind, s, margins[kind])
                if kind == "sphereface" and annealed[k]:  # (λ·s·cos θ + s·ψ(θ)) / (1 + λ)
                    psi = (lam * s * target_cos[k] + psi) / (1 + lam)
                targets.append(psi)
            # margin_logits for all K at once: s·cos θ_j off the label, the kind's own at it
            logits = torch.where(target, torch.stack(targets)[..., None], s * cos)
            logits = torch.where(plain, raw @ models.weight.transpose(1, 2) + models.bias, logits)
            loss = F.cross_entropy(
                logits.flatten(0, 1), labels.repeat(count), reduction="none"
            ).reshape(count, -1).mean(1)  # fmt: skip
            optimiser.zero_grad()
            loss.sum().backward()
            optimiser.step()
            if trace is not None:
                with torch.no_grad():
                    predicted = torch.where(plain, logits, cos).argmax(-1)
                    trace.record(
                        "step",
                        loss=loss.detach(),
                        accuracy=(predicted == labels).float().mean(1),
                        target_angle=torch.arccos(target_cos.clamp(-1, 1)).mean(1),
                        weight_angle=_smallest_weight_angle(models.weight.detach()),
                        lam=lam,
                    )
    for parameter in parameters:
        parameter.requires_grad_(False)
    if trace is not None:
        trace.record("embeddings", models.features(x))
        trace.record("weights", models.class_weights())
    return models


# --- verification: compare two embeddings ------------------------------------------------------


def pair_scores(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Cosine similarity of every unordered pair: (genuine, impostor), same identity or not.

    embeddings (N, dim) (normalised here), labels (N,) -> two 1-D tensors.
    """
    unit = F.normalize(embeddings, dim=-1)
    i, j = torch.triu_indices(len(unit), len(unit), offset=1)
    cos = (unit[i] * unit[j]).sum(-1)
    same = labels[i] == labels[j]
    return cos[same], cos[~same]


def error_rates(genuine: Tensor, impostor: Tensor, threshold: Any) -> tuple[Tensor, Tensor]:
    """(false accept rate, false reject rate) at each threshold: a pair is accepted when its
    score ≥ threshold. FAR = share of impostor pairs accepted, FRR = share of genuine rejected."""
    t = torch.as_tensor(threshold, dtype=genuine.dtype)
    far = (impostor[..., None] >= t).to(genuine.dtype).mean(0)
    frr = (genuine[..., None] < t).to(genuine.dtype).mean(0)
    return far, frr
