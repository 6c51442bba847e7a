"""LoRA: a frozen weight W plus a trainable low-rank update (α/r)·B·A; Houlsby adapters beside it.

Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", eq. (3): h = W₀x + ΔWx =
W₀x + (α/r)·BAx, with A (r × k) Gaussian and B (d × r) zero at the start, so ΔW = 0 at step 0.
Houlsby et al. 2019: an adapter x + W_up·GELU(W_down·x) after attention and after the MLP.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.finetuning.shapes import matrices, resolve
from core.trace import Trace


def lora_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """x Wᵀ + b + (α/r)(x Aᵀ)Bᵀ, unmerged: the low-rank path never forms the d × k product.

    Hu et al. 2021, eq. (3). x: (..., k), weight: (d, k), bias: (d,) or None,
    lora_a: (r, k), lora_b: (d, r) -> (..., d)
    """
    rank = lora_a.shape[0]
    if rank < 1:
        raise ValueError(f"lora_a: needs rank r >= 1 rows (got {rank})")
    base = F.linear(x, weight, bias)
    return base + (alpha / rank) * F.linear(F.linear(x, lora_a), lora_b)


def merge(
    weight: torch.Tensor, lora_a: torch.Tensor, lora_b: torch.Tensor, alpha: float
) -> torch.Tensor:
    """W + (α/r)·B·A: the merged weight, so inference costs exactly the base model's.

    weight: (d, k), lora_a: (r, k), lora_b: (d, r) -> (d, k)
    """
    rank = lora_a.shape[0]
    if rank < 1:
        raise ValueError(f"lora_a: needs rank r >= 1 rows (got {rank})")
    return weight + (alpha / rank) * (lora_b @ lora_a)


def trainable_parameters(
    shape_config: str | dict[str, Any], rank: int, targets: Iterable[str]
) -> int:
    """n_layers · Σ r·(in + out) over the target matrices (A is r × in, B is out × r).

    LLaMA-7B, targets q and v, r = 8: 32 · 2 · 8 · (4096 + 4096) = 4,194,304.
    ValueError for a target the config lacks (e.g. "gate" in a plain MLP).
    """
    config = resolve(shape_config)
    shapes = matrices(config)
    total = 0
    for target in targets:
        if target not in shapes:
            raise ValueError(f"targets: {target!r} is not a matrix of this shape "
                             f"(allowed: {', '.join(shapes)})")  # fmt: skip
        fan_in, fan_out = shapes[target]
        total += rank * (fan_in + fan_out)
    return config["n_layers"] * total


def adapter_parameters(
    shape_config: str | dict[str, Any], bottleneck: int, per_layer: int = 2
) -> int:
    """n_layers · per_layer · (2·d·m + d + m): down (m × d) and up (d × m) with their biases.

    Houlsby et al. 2019 put two adapters in each layer (after attention, after the MLP).
    GPT-3 175B, m = 1: 7,078,080.
    """
    config = resolve(shape_config)
    d, m = config["d_model"], bottleneck
    return config["n_layers"] * per_layer * (2 * d * m + d + m)


def adapter(
    x: torch.Tensor,
    down_weight: torch.Tensor,
    down_bias: torch.Tensor,
    up_weight: torch.Tensor,
    up_bias: torch.Tensor,
) -> torch.Tensor:
    """A Houlsby adapter: x + W_up·GELU(W_down·x + b_down) + b_up (a residual bottleneck).

    Houlsby et al. 2019, Figure 2. x: (..., d), down_weight: (m, d), down_bias: (m,),
    up_weight: (d, m), up_bias: (d,) -> (..., d); up starts at zero, so the adapter starts as
    the identity.
    """
    return x + F.linear(F.gelu(F.linear(x, down_weight, down_bias)), up_weight, up_bias)


def subspace_similarity(a: Any, b: Any, i: int, j: int) -> float:
    """φ(a, b, i, j) = ‖Uᵢᵀ Uⱼ‖²_F / min(i, j) ∈ [0, 1].

    Hu et al. 2021, eq. (4): Uᵢ holds the top-i right-singular vectors of a (r₁, k), Uⱼ the
    top-j of b (r₂, k); 1 when one subspace contains the other, 0 when orthogonal.
    """
    a = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).double()
    b = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b).double()
    if not (1 <= i <= min(a.shape) and 1 <= j <= min(b.shape)):
        raise ValueError(f"i, j: need 1 <= i <= {min(a.shape)} and 1 <= j <= {min(b.shape)}")
    u_i = torch.linalg.svd(a, full_matrices=False).Vh[:i].T  # (k, i)
    u_j = torch.linalg.svd(b, full_matrices=False).Vh[:j].T  # (k, j)
    return float((u_i.T @ u_j).square().sum() / min(i, j))


def subspace_similarity_grid(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """φ(a, b, i, j) for every i ≤ r₁, j ≤ r₂ at once: (r₁, r₂), one SVD per factor."""
    a, b = a.double(), b.double()
    u = torch.linalg.svd(a, full_matrices=False).Vh  # (r₁, k): row i is the i-th direction
    w = torch.linalg.svd(b, full_matrices=False).Vh
    overlap = (u @ w.T).square()  # (r₁, r₂): squared cosines between single directions
    cumulative = overlap.cumsum(0).cumsum(1)  # ‖Uᵢᵀ Uⱼ‖²_F for every (i, j)
    i = torch.arange(1, u.shape[0] + 1, dtype=torch.float64)[:, None]
    j = torch.arange(1, w.shape[0] + 1, dtype=torch.float64)[None, :]
    return (cumulative / torch.minimum(i, j)).numpy()


# --- the live toy: a frozen tanh MLP 32 → 64 → 64 → 16 whose middle matrix is fine-tuned -------

TOY_SIZES = (32, 64, 64, 16)
TOY_RANKS = (1, 2, 4, 8, 16, 32)


def toy_network(seed: int) -> dict[str, torch.Tensor]:
    """The frozen "pretrained" MLP: weights N(0, 1.5/fan_in) so that tanh works in its bend."""
    generator = torch.Generator().manual_seed(seed)
    net = {}
    for n, (fan_in, fan_out) in enumerate(itertools.pairwise(TOY_SIZES), 1):
        net[f"w{n}"] = torch.randn(fan_out, fan_in, generator=generator) * math.sqrt(1.5 / fan_in)
        net[f"b{n}"] = torch.randn(fan_out, generator=generator) * 0.1
    return net


def toy_shift(
    weight: torch.Tensor, shift_rank: int, shift_size: float, noise: float, seed: int
) -> torch.Tensor:
    """ΔW*: a rank-k matrix with equal singular values and ‖ΔW*‖_F = size·‖W‖_F, plus
    full-rank Gaussian noise of Frobenius norm noise·‖W‖_F."""
    generator = torch.Generator().manual_seed(seed + 1)
    d, k = weight.shape
    u, _ = torch.linalg.qr(torch.randn(d, shift_rank, generator=generator))
    v, _ = torch.linalg.qr(torch.randn(k, shift_rank, generator=generator))
    norm = weight.norm()
    low_rank = u @ v.T * (shift_size * norm / math.sqrt(shift_rank))
    gaussian = torch.randn(d, k, generator=generator)
    return low_rank + gaussian * (noise * norm / gaussian.norm())


def fit_toy(
    *,
    shift_rank: int = 4,
    shift_size: float = 0.5,
    noise: float = 0.0,
    n_samples: int = 512,
    steps: int = 300,
    lr: float = 0.01,
    alpha: float = 8.0,
    bottleneck: int = 8,
    seed: int = 0,
    trace: Trace | None = None,
) -> dict[str, torch.Tensor]:
    """Fine-tune the toy's middle matrix W to the task W + ΔW*, all methods in one batch.

    Models: LoRA at r ∈ TOY_RANKS (one batched model: A (6, 32, 64), B (6, 64, 32), rows and
    columns beyond each r masked out), full fine-tuning of W (ΔW_full trained from 0), and a
    Houlsby adapter of width `bottleneck` on the layer's output. Adam, full batch, MSE on the
    16 outputs. Their losses add up but share no parameter, so each trains as if alone.

    Returns {"delta_target", "delta_full", "delta_lora" (6, 64, 64), "lora_a" (6, 32, 64),
    "lora_b" (6, 64, 32), "losses" (steps + 1, 8): LoRA ranks, full, adapter}; with `trace`,
    a "step" event per step (losses) and one "final" event with the returned tensors.
    """
    net = toy_network(seed)
    w2 = net["w2"]
    delta_target = toy_shift(w2, shift_rank, shift_size, noise, seed)
    generator = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(n_samples, TOY_SIZES[0], generator=generator)
    h1 = torch.tanh(F.linear(x, net["w1"], net["b1"]))

    def head(z: torch.Tensor) -> torch.Tensor:
        return F.linear(torch.tanh(z), net["w3"], net["b3"])

    z_base = F.linear(h1, w2, net["b2"])
    y = head(z_base + F.linear(h1, delta_target))

    n_ranks, r_max, d = len(TOY_RANKS), max(TOY_RANKS), w2.shape[0]
    ranks = torch.tensor(TOY_RANKS, dtype=torch.float32)
    mask = (torch.arange(r_max)[None, :] < ranks[:, None]).float()  # (6, 32)
    scale = (alpha / ranks)[:, None, None]
    lora_a = (torch.randn(n_ranks, r_max, d, generator=generator) / math.sqrt(d)).requires_grad_()
    lora_b = torch.zeros(n_ranks, d, r_max, requires_grad=True)
    delta_full = torch.zeros_like(w2, requires_grad=True)
    m = bottleneck
    down_w = (torch.randn(m, d, generator=generator) / math.sqrt(d)).requires_grad_()
    down_b = torch.zeros(m, requires_grad=True)
    up_w = torch.zeros(d, m, requires_grad=True)
    up_b = torch.zeros(d, requires_grad=True)
    params = [lora_a, lora_b, delta_full, down_w, down_b, up_w, up_b]
    # fused: one kernel for the whole update instead of a loop of small ops per tensor
    optimizer = torch.optim.Adam(params, lr=lr, fused=True)

    def losses() -> torch.Tensor:
        # LoRA's and full fine-tuning's effective middle matrices, one batched matmul for all
        low = (lora_b * mask[:, None, :]) @ (lora_a * mask[:, :, None]) * scale  # (6, 64, 64)
        deltas = torch.cat([low, delta_full[None]])  # (7, 64, 64)
        z = torch.baddbmm(z_base.expand(len(deltas), -1, -1), h1.expand(len(deltas), -1, -1),
                          deltas.transpose(1, 2))  # fmt: skip
        z_adapter = adapter(z_base, down_w, down_b, up_w, up_b)
        return torch.cat(
            [
                (head(z) - y).square().mean(dim=(1, 2)),  # (7,)
                (head(z_adapter) - y).square().mean()[None],
            ]
        )

    history = []
    for step in range(steps + 1):
        loss = losses()
        history.append(loss.detach())
        if trace is not None:
            trace.record("step", step=step, losses=loss)
        if step == steps:
            break
        optimizer.zero_grad()
        loss.sum().backward()
        optimizer.step()

    with torch.no_grad():
        a, b = lora_a * mask[:, :, None], lora_b * mask[:, None, :]
        result = {
            "delta_target": delta_target,
            "delta_full": delta_full.detach().clone(),
            "delta_lora": (b @ a) * scale,
            "lora_a": a.clone(),
            "lora_b": b.clone(),
            "losses": torch.stack(history),
        }
    if trace is not None:
        trace.record("final", **result)
    return result
