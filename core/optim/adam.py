"""Adam with L2 weight decay vs AdamW's decoupled weight decay, from the update equations.

Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1; Loshchilov &
Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2. With gradient g_t of the
loss at θ_{t−1}, learning rate η, weight decay λ:

    Adam + L2:  g_t ← g_t + λθ_{t−1}                  (the decay joins the gradient)
    AdamW:      θ_{t−1} ← θ_{t−1} − ηλθ_{t−1}          (the decay bypasses m and v)
    m_t = β1·m_{t−1} + (1 − β1)·g_t                    (1) first moment
    v_t = β2·v_{t−1} + (1 − β2)·g_t²                   (2) second moment
    m̂_t = m_t / (1 − β1^t),  v̂_t = v_t / (1 − β2^t)    (3, 4) bias corrections
    θ_t = θ_{t−1} − η·m̂_t / (√v̂_t + ε)                (5)

This is `torch.optim.Adam(weight_decay=λ)` and `torch.optim.AdamW(weight_decay=λ)` (amsgrad
off), down to the order of the floating-point operations, so the two agree step for step.
The loop uses only arithmetic operators, so it runs on torch tensors and on NumPy arrays alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.trace import Trace

Array = Any  # a torch.Tensor or a numpy.ndarray: the loop needs only + − × ÷ and ** 0.5


def adam_trajectory(
    loss_fn: Callable[[Tensor], Tensor],
    x0: Tensor,
    *,
    steps: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    trace: Trace | None = None,
) -> Tensor:
    """Iterates of Adam (decoupled=False, L2 in the gradient) or AdamW (decoupled=True).

    loss_fn maps parameters (D,) to a scalar; its gradient comes from autograd. x0: (D,)
    floating (integers become the default float dtype) -> iterates (steps + 1, D), row 0 = x0.
    decoupled=False equals torch.optim.Adam(lr, betas, eps, weight_decay), decoupled=True
    equals torch.optim.AdamW(...). See `adam_steps` for what `trace` records.
    """
    x0 = torch.as_tensor(x0)
    if not x0.is_floating_point():
        x0 = x0.to(torch.get_default_dtype())
    if x0.ndim != 1:
        raise ValueError(f"x0: need a 1-D tensor of D parameters, got shape {tuple(x0.shape)}")

    def gradient(theta: Tensor) -> Tensor:
        with torch.enable_grad():
            leaf = theta.detach().requires_grad_(True)
            loss = loss_fn(leaf)
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                raise ValueError("loss_fn: must return a scalar tensor")
            if not loss.requires_grad:  # a constant loss: its gradient is 0
                return torch.zeros_like(theta)
            (grad,) = torch.autograd.grad(loss.reshape(()), leaf, allow_unused=True)
        return torch.zeros_like(theta) if grad is None else grad

    return adam_steps(
        gradient,
        x0.detach(),
        steps=steps,
        lr=lr,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        decoupled=decoupled,
        trace=trace,
    )


def adam_steps(
    gradient: Callable[[Array], Array],
    x0: Array,
    *,
    steps: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float | Sequence[float] = 0.0,
    decoupled: bool | Sequence[bool] = False,
    trace: Trace | None = None,
) -> Array:
    """The Adam/AdamW loop for a given gradient function, on R runs at once.

    gradient maps θ to ∂loss/∂θ (same shape); x0: (D,) or (R, D), a tensor or a NumPy array
    (the result is the same kind). weight_decay and decoupled: one value, or one per run
    (R,), so Adam+L2 and AdamW can run side by side. -> iterates (steps + 1, *x0.shape).

    When traced, records one "adam" event with histories over t = 1..steps, each
    (steps, *x0.shape): m_hat (m̂_t), v_hat (v̂_t, of the gradient the moments saw, L2 term
    included), step (the Adam update −η·m̂_t/(√v̂_t + ε), decay excluded), effective_decay.

    Effective decay c_t (per coordinate) is the fraction of the weights that weight decay
    removes at step t: the decay's part of θ_t − θ_{t−1} is exactly −c_t·θ̄_t, with
      AdamW:     c_t = ηλ, the same for every coordinate, θ̄_t = θ_{t−1};
      Adam + L2: c_t = ηλ / (√v̂_t + ε), θ̄_t = the bias-corrected moving average (β1) of
                 θ_0..θ_{t−1} (θ_{t−1} itself when β1 = 0), because m is linear in the
                 gradients and λθ entered it; coordinates with a large v̂ are decayed less.
    """
    beta1, beta2 = _check(steps, lr, betas, eps)
    is_tensor = isinstance(x0, Tensor)
    theta = x0.detach().clone() if is_tensor else np.array(x0, dtype=np.result_type(x0, float))
    l2, decay = _decay_coefficients(weight_decay, decoupled, theta, is_tensor)

    def empty(shape: tuple[int, ...]) -> Array:
        if is_tensor:
            return torch.empty(shape, dtype=theta.dtype, device=theta.device)
        return np.empty(shape, dtype=theta.dtype)

    path = empty((steps + 1, *theta.shape))
    path[0] = theta
    moments = (
        (empty((steps, *theta.shape)), empty((steps, *theta.shape))) if trace is not None else None
    )
    m, v = empty(theta.shape), empty(theta.shape)
    m[...], v[...] = 0.0, 0.0
    lerp_weight = 1.0 - beta1
    shrink = None if decay is None else 1.0 - lr * decay
    for t in range(1, steps + 1):
        g = gradient(theta)
        if l2 is not None:
            g = g + l2 * theta  # Adam + L2: λθ joins the gradient, and so m and v
        if shrink is not None:
            theta = theta * shrink  # AdamW: θ ← θ − ηλθ = θ·(1 − ηλ), outside m and v
        m = _lerp(m, g, lerp_weight)  # (1): β1·m + (1 − β1)·g
        v = v * beta2 + (1.0 - beta2) * g * g  # (2)
        bias1, bias2 = 1.0 - beta1**t, 1.0 - beta2**t  # (3, 4)
        denom = v**0.5 / bias2**0.5 + eps  # √v̂_t + ε
        theta = theta + (-(lr / bias1) * m) / denom  # (5): θ − η m̂_t / (√v̂_t + ε)
        path[t] = theta
        if moments is not None:
            moments[0][t - 1], moments[1][t - 1] = m, v
    if trace is not None:
        trace.record("adam", **_history(*moments, lr, beta1, beta2, eps, l2, decay))
    return path


def _lerp(start: Array, end: Array, weight: float) -> Array:
    """start + weight·(end − start) in the form torch's lerp uses for that weight."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def _history(
    m: Array, v: Array, lr: float, beta1: float, beta2: float, eps: float, l2: Any, decay: Any
) -> dict[str, Array]:
    """The traced quantities for t = 1..steps from the moments (steps, ...), by the loop's
    own formulas, vectorised over t (the same values up to the last bit of rounding)."""
    steps = m.shape[0]
    t = np.arange(1, steps + 1, dtype=np.float64).reshape(steps, *([1] * (m.ndim - 1)))
    bias1, bias2 = 1.0 - beta1**t, 1.0 - beta2**t
    if isinstance(m, Tensor):
        bias1, bias2 = (torch.as_tensor(b, dtype=m.dtype, device=m.device) for b in (bias1, bias2))
    denom = v**0.5 / bias2**0.5 + eps
    effective = 0.0 * denom
    if l2 is not None:
        effective = effective + lr * l2 / denom
    if decay is not None:
        effective = effective + lr * decay
    return {
        "m_hat": m / bias1,
        "v_hat": v / bias2,
        "step": (-(lr / bias1) * m) / denom,
        "effective_decay": effective,
    }


def _decay_coefficients(
    weight_decay: float | Sequence[float],
    decoupled: bool | Sequence[bool],
    theta: Array,
    is_tensor: bool,
) -> tuple[Array | float | None, Array | float | None]:
    """(λ of the L2 term, λ of the decoupled decay), None where no run uses it.

    Per-run values become (R, 1) columns: a run of the other kind gets exactly 0 there, and
    g + 0·θ and θ·(1 − η·0) are exact, so every run equals its single-run result.
    """
    if np.ndim(weight_decay) == 0 and np.ndim(decoupled) == 0:
        lam = float(weight_decay)
        if not (math.isfinite(lam) and lam >= 0):
            raise ValueError(f"weight_decay: need a finite value ≥ 0, got {weight_decay!r}")
        if lam == 0.0:  # as torch: no decay term at all
            return None, None
        return (None, lam) if decoupled else (lam, None)
    if theta.ndim != 2:
        raise ValueError("weight_decay/decoupled per run need x0 of shape (R, D)")
    runs = theta.shape[0]
    lam = np.broadcast_to(np.asarray(weight_decay, dtype=np.float64), (runs,))
    split = np.broadcast_to(np.asarray(decoupled, dtype=bool), (runs,))
    if not (np.isfinite(lam).all() and (lam >= 0).all()):
        raise ValueError(f"weight_decay: need finite values ≥ 0, got {weight_decay!r}")
    columns = np.where(split, 0.0, lam)[:, None], np.where(split, lam, 0.0)[:, None]
    if is_tensor:
        columns = tuple(torch.as_tensor(c, dtype=theta.dtype, device=theta.device) for c in columns)
    else:
        columns = tuple(c.astype(theta.dtype) for c in columns)
    return columns


def _check(steps: int, lr: float, betas: tuple[float, float], eps: float) -> tuple[float, float]:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps: need an integer ≥ 0, got {steps!r}")
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr: need a finite value ≥ 0, got {lr!r}")
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps: need a finite value ≥ 0, got {eps!r}")
    beta1, beta2 = (float(b) for b in betas)
    for name, beta in (("betas[0]", beta1), ("betas[1]", beta2)):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{name}: need a value in [0, 1), got {beta!r}")
    return beta1, beta2
