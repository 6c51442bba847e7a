"""Flow matching and rectified flow: conditional paths, exact marginal fields, Euler, reflow.

Lipman et al. 2023 (flow matching), eqs. (9)–(23); Liu, Gong & Liu 2023 (rectified flow),
eqs. (1)–(3) and the straightness S. A source x₀ (t = 0) and a target x₁ (t = 1) are joined by a
conditional path x_t = a_t·x₀ + c_t·x₁ with velocity u_t = ȧ_t·x₀ + ċ_t·x₁. The marginal field

    v(x, t) = E[u_t | x_t = x]

transports the source distribution to the target (an ODE, Chen et al. 2018); flow matching fits
v_θ(x, t) by least squares on (x_t, u_t) samples. Paths of different pairs cross, so the ODE's
trajectories bend even when every conditional path is straight. Reflow retrains on the ODE's own
pairs (x₀, ODE(x₀)), which no longer cross: straighter flows, fewer Euler steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from core.generative.mlp import Adam, seeded_mlp
from core.trace import Trace

PathKind = Literal["linear", "vp"]
Velocity = Callable[[Tensor, float], Tensor]


def path_coefficients(
    t: Tensor, kind: str = "linear", beta_min: float = 0.1, beta_max: float = 20.0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(a_t, c_t, ȧ_t, ċ_t) of x_t = a_t·x₀ + c_t·x₁, elementwise in t.

    "linear" (rectified flow, Lipman's OT path with σ_min = 0): a = 1 − t, c = t.
    "vp" (Lipman eq. 19 with the time reversed to run source → target): c = α = exp(−½T(1 − t)),
    T(s) = β_min·s + ½(β_max − β_min)s², a = √(1 − α²). ȧ diverges at t = 1 (a = 0 there); the
    square root is kept ≥ 1e-12 so that it stays finite.
    """
    if kind == "linear":
        return 1 - t, t, -torch.ones_like(t), torch.ones_like(t)
    if kind != "vp":
        raise ValueError(f"kind: 'linear' or 'vp', got {kind!r}")
    s = 1 - t
    big_t = beta_min * s + 0.5 * (beta_max - beta_min) * s * s
    alpha = torch.exp(-0.5 * big_t)
    alpha_dot = 0.5 * (beta_min + (beta_max - beta_min) * s) * alpha  # d/dt, dT/dt = −T'(s)
    a = torch.sqrt(torch.clamp(1 - alpha * alpha, min=1e-24))
    return a, alpha, -alpha * alpha_dot / torch.clamp(a, min=1e-12), alpha_dot


def conditional_path(
    x0: Tensor,
    x1: Tensor,
    t: float,
    kind: str = "linear",
    beta_min: float = 0.1,
    beta_max: float = 20.0,
) -> tuple[Tensor, Tensor]:
    """The point x_t (N, D) on the path from x₀ to x₁ and its velocity u_t = dx_t/dt (N, D).

    "linear": (1 − t)x₀ + t·x₁, u = x₁ − x₀. "vp": √(1 − α²)x₀ + α·x₁, α = exp(−½T(1 − t)).
    x0, x1: (N, D); t a float in [0, 1] (or a tensor broadcasting against (N, 1)).
    """
    t = torch.as_tensor(t, dtype=x0.dtype)
    if t.ndim == 1:
        t = t[:, None]
    a, c, a_dot, c_dot = path_coefficients(t, kind, beta_min, beta_max)
    return a * x0 + c * x1, a_dot * x0 + c_dot * x1


def _time(t: float | Tensor, x: Tensor) -> Tensor:
    t = torch.as_tensor(t, dtype=x.dtype)
    return t[:, None] if t.ndim == 1 else t


def gaussian_velocity(
    x: Tensor,
    t: float | Tensor,
    mu0: Tensor,
    sigma0: float | Tensor,
    mu1: Tensor,
    sigma1: float | Tensor,
) -> Tensor:
    """E[x₁ − x₀ | x_t = x] for x_t = (1 − t)x₀ + t·x₁, x₀ ~ N(μ₀, σ₀²), x₁ ~ N(μ₁, σ₁²) (diag).

    x: (N, D); t a float or (N,) in [0, 1); mu0, mu1 (D,); sigma0, sigma1 a float or (D,).
    Per coordinate (x_t, x₁ − x₀) is jointly Gaussian, so the conditional mean is linear:
    v = (μ₁ − μ₀) + (tσ₁² − (1 − t)σ₀²)/((1 − t)²σ₀² + t²σ₁²)·(x − (1 − t)μ₀ − tμ₁).
    """
    t = _time(t, x)
    var0 = torch.as_tensor(sigma0, dtype=x.dtype) ** 2
    var1 = torch.as_tensor(sigma1, dtype=x.dtype) ** 2
    mean_t = (1 - t) * mu0 + t * mu1
    var_t = (1 - t) ** 2 * var0 + t**2 * var1
    return (mu1 - mu0) + (t * var1 - (1 - t) * var0) / var_t * (x - mean_t)


def mixture_velocity(
    x: Tensor,
    t: float | Tensor,
    mu0: Tensor,
    sigma0: float,
    weights: Tensor,
    means: Tensor,
    sigmas: Tensor,
    kind: str = "linear",
) -> Tensor:
    """E[u_t | x_t = x] for x₀ ~ N(μ₀, σ₀²I) and a target Σ_k π_k N(m_k, s_k²I).

    x: (N, D); t a float or (N,); mu0 (D,); weights (K,), means (K, D), sigmas (K,).
    Given component k, x_t ~ N(a·μ₀ + c·m_k, (a²σ₀² + c²s_k²)I) and u_t is jointly Gaussian with
    it; the field is the posterior-weighted mean of the K linear conditional fields, computed with
    (N, K) matrices only. kind
    "linear" (the contract) or "vp" selects the path of `path_coefficients`.
    """
    t = _time(t, x)  # () or (N, 1)
    a, c, a_dot, c_dot = path_coefficients(t, kind)
    var_k = sigmas.to(x.dtype) ** 2  # (K,)
    var = a * a * sigma0**2 + c * c * var_k  # (N or 1, K): Var(x_t | k) per coordinate
    cov = a * a_dot * sigma0**2 + c * c_dot * var_k  # Cov(x_t, u_t) given k, per coordinate
    centred = x - a * mu0  # (N, D); x_t − E[x_t | k] = centred − c·m_k
    # ‖centred − c·m_k‖² expanded into matrix products: no (N, K, D) intermediate
    distance = (
        (centred * centred).sum(-1, keepdim=True)
        - 2 * c * (centred @ means.T)
        + c * c * (means * means).sum(-1)
    )
    d = x.shape[-1]
    log_post = torch.log(weights.to(x.dtype)) - 0.5 * (
        distance / var + d * torch.log(2 * math.pi * var)
    )
    post = torch.softmax(log_post, dim=-1)  # (N, K): p(k | x_t = x)
    gain = post * cov / var  # (N, K)
    # Σ_k p(k|x)·(ȧμ₀ + ċm_k + cov_k/var_k·(centred − c·m_k)), the posterior-weighted fields
    return (
        a_dot * mu0
        + c_dot * (post @ means)
        + gain.sum(-1, keepdim=True) * centred
        - c * (gain @ means)
    )


def euler_sample(velocity: Velocity, x0: Tensor, steps: int) -> Tensor:
    """Euler's method for dx/dt = v(x, t) from t = 0 to 1: (steps + 1, N, D), row 0 = x0.

    x_{k+1} = x_k + v(x_k, k/steps)/steps; velocity is called with (N, D) and a float.
    """
    if steps < 1:
        raise ValueError(f"steps: need at least 1, got {steps}")
    path = [x0]
    for k in range(steps):
        path.append(path[-1] + velocity(path[-1], k / steps) / steps)
    return torch.stack(path)


def straightness(velocity: Velocity, trajectory: Tensor) -> float:
    """S = ∫₀¹ E‖(x₁ − x₀) − v(x_t, t)‖² dt along an Euler trajectory (K + 1, N, D).

    Liu, Gong & Liu 2023, eq. (5): zero exactly when every trajectory is a straight line run at
    constant speed. The integral is the left Riemann sum over the trajectory's K steps.
    """
    k = trajectory.shape[0] - 1
    chord = trajectory[-1] - trajectory[0]
    total = 0.0
    for i in range(k):
        v = velocity(trajectory[i], i / k)
        total += ((chord - v) ** 2).sum(-1).mean().item()
    return total / k


class VelocityMLP(torch.nn.Module):
    """v_θ(x, t): (N, D) and a float or (N,) t -> (N, D); an MLP on the concatenation (x, t)."""

    def __init__(self, dim: int = 2, width: int = 64, depth: int = 3, seed: int = 0) -> None:
        super().__init__()
        self.net = seeded_mlp((dim + 1, *[width] * depth, dim), seed)

    def forward(self, x: Tensor, t: float | Tensor) -> Tensor:
        t = torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0])
        return self.net(torch.cat([x, t[:, None]], 1))


def train_flow_matching(
    sample_pairs: Callable[[torch.Generator, int], tuple[Tensor, Tensor]],
    *,
    steps: int,
    lr: float = 3e-3,
    batch: int = 256,
    kind: str = "linear",
    width: int = 64,
    seed: int = 0,
    trace: Trace | None = None,
) -> VelocityMLP:
    """Conditional flow matching: minimise E‖v_θ(x_t, t) − u_t‖² over t ~ U(0, 1) and pairs.

    Lipman et al. 2023, eq. (23). sample_pairs(generator, n) -> (x₀, x₁), each (n, D); the
    pairs are independent draws (flow matching) or an earlier model's (x₀, ODE(x₀)) (reflow).
    `trace` gets a "step" event (step, loss) per Adam step. t stays ≤ 0.999 on the "vp" path,
    whose conditional velocity diverges at t = 1.
    """
    g = torch.Generator().manual_seed(seed + 1)
    x0, _ = sample_pairs(torch.Generator().manual_seed(seed), 1)
    model = VelocityMLP(x0.shape[1], width, seed=seed)
    optimizer = Adam(model.parameters(), lr=lr)
    t_max = 1.0 if kind == "linear" else 0.999
    for step in range(steps):
        x0, x1 = sample_pairs(g, batch)
        t = torch.rand(batch, generator=g, dtype=x0.dtype) * t_max
        x_t, u_t = conditional_path(x0, x1, t, kind)
        loss = ((model(x_t, t) - u_t) ** 2).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if trace is not None:
            trace.record("step", step=step, loss=loss.item())
    return model
