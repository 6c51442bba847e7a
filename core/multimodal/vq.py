"""Images as discrete tokens: patches, a k-means codebook and nearest-code quantisation.

The simplest quantiser, k-means on raw patches (Lloyd iterations from k-means++ seeding,
Arthur & Vassilvitskii 2007); Chameleon (Chameleon Team 2024) uses a learned VQ-VAE
(van den Oord et al. 2017) whose encoder and decoder this leaves out.
"""

from __future__ import annotations

import math

import torch

from core.trace import Trace


def to_patches(image: torch.Tensor, p: int) -> torch.Tensor:
    """(H, W, C) -> ((H/p)·(W/p), p·p·C), row-major patches; H and W divisible by p."""
    h, w, c = image.shape
    if h % p or w % p:
        raise ValueError(f"p must divide the image's sides {h}×{w}; got {p}")
    return image.reshape(h // p, p, w // p, p, c).permute(0, 2, 1, 3, 4).reshape(-1, p * p * c)


def from_patches(patches: torch.Tensor, h: int, w: int, p: int) -> torch.Tensor:
    """The inverse of `to_patches`: ((H/p)·(W/p), p·p·C) -> (H, W, C)."""
    c = patches.shape[1] // (p * p)
    grid = patches.reshape(h // p, w // p, p, p, c).permute(0, 2, 1, 3, 4)
    return grid.reshape(h, w, c)


_BY_DIFFERENCES = "donot_use_mm_for_euclid_dist"


def _squared_distances(patches: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, K) ‖x − c‖², by differences (no ‖x‖² − 2x·c + ‖c‖² cancellation)."""
    return torch.cdist(patches, codebook, compute_mode=_BY_DIFFERENCES) ** 2


def quantize(patches: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest codebook row of every patch by Euclidean distance (ties → lowest index).

    patches (N, D), codebook (K, D) -> (codes int64 (N,), codebook[codes] (N, D)).
    """
    if patches.ndim != 2 or codebook.ndim != 2 or patches.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"patches (N, D) and codebook (K, D) must share D; got {tuple(patches.shape)}, "
            f"{tuple(codebook.shape)}"
        )
    # torch.cdist is exact in its direct mode; argmin returns the first minimum on ties.
    distances = torch.cdist(
        patches.double(), codebook.double(), compute_mode="donot_use_mm_for_euclid_dist"
    )
    codes = distances.argmin(1)
    return codes, codebook[codes]


def kmeans(
    patches: torch.Tensor, k: int, iters: int, seed: int, *, trace: Trace | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A k-codebook by k-means++ seeding and `iters` Lloyd iterations.

    Arthur & Vassilvitskii 2007 (seeding: each next centre drawn ∝ squared distance to the
    nearest chosen one); Lloyd: assign, then move each centroid to its patches' mean (an
    empty cluster keeps its centroid). patches (N, D), 1 ≤ k ≤ N -> (codebook (k, D),
    objective (iters + 1,)): entry t the mean squared distance to the nearest centroid after
    t iterations. Deterministic for a seed. Trace per iteration: objective, cluster sizes.
    """
    n = patches.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..N = {n}; got {k}")
    if iters < 0:
        raise ValueError(f"iters must be ≥ 0; got {iters}")
    generator = torch.Generator().manual_seed(seed)
    x = patches
    first = int(torch.randint(n, (1,), generator=generator))
    centres = [first]
    nearest = _squared_distances(x, x[first : first + 1])[:, 0]
    for _ in range(1, k):
        total = float(nearest.sum())
        if total <= 0:  # every patch already sits on a centre: take the next unchosen one
            chosen = set(centres)
            index = next(i for i in range(n) if i not in chosen)
        else:
            index = int(torch.multinomial(nearest.double() / total, 1, generator=generator))
        centres.append(index)
        nearest = torch.minimum(nearest, _squared_distances(x, x[index : index + 1])[:, 0])
    codebook = x[centres].clone()
    objective = []
    previous = None
    for step in range(iters + 1):
        # The nearest centroid by distance (sqrt is monotone), squared for the objective: the
        # (N, k) matrix is not squared element by element.
        distance, codes = torch.cdist(x, codebook, compute_mode=_BY_DIFFERENCES).min(1)
        best = distance.square()
        objective.append(best.mean())
        sizes = torch.bincount(codes, minlength=k)
        if trace is not None:
            trace.record("iteration", step=step, objective=float(best.mean()), sizes=sizes)
        if step == iters:
            break
        if previous is not None and torch.equal(codes, previous):
            # A fixed point: the same assignment gives the same means, so every later
            # iteration repeats this one exactly; they are recorded without being recomputed.
            for later in range(step + 1, iters + 1):
                objective.append(objective[-1])
                if trace is not None:
                    trace.record("iteration", step=later, objective=float(best.mean()), sizes=sizes)
            break
        previous = codes
        sums = torch.zeros_like(codebook).index_add_(0, codes, x)
        filled = sizes > 0
        codebook[filled] = sums[filled] / sizes[filled, None].to(x.dtype)
    return codebook, torch.stack(objective)


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean())


def psnr(a: torch.Tensor, b: torch.Tensor, peak: float = 1.0) -> float:
    """10·log10(peak² / MSE) in dB; inf for identical images."""
    error = mse(a, b)
    return math.inf if error == 0 else 10 * math.log10(peak**2 / error)
