"""Stochastic approximation: find a root of g from noisy observations, one sample at a time.

Robbins & Monro (1951), "A Stochastic Approximation Method": to solve g(w) = 0 for an
increasing g that can only be observed with noise, ỹ_k = g(w_k) + η_k, iterate

    w_{k+1} = w_k − a_k·ỹ_k,   k = 1, 2, ...                                    (RM)

The minus sign is for an increasing g (g′ > 0 near the root): above the root the observation
is positive on average and the step goes down. Robbins & Monro wrote it as
x_{n+1} = x_n + a_n(α − y_n) for M(x) = α with M increasing, the same rule for g = M − α; the
seed articles (001/003, the mean-estimation chapter of a Chinese RL course) use this form
too, with the incremental mean w_{k+1} = w_k − (1/k)(w_k − x_k) as its first instance
(g(w) = w − E[X], ỹ_k = w_k − x_k, a_k = 1/k).

The steps a_k = a/k^p converge to the root (with probability 1, under the usual conditions on
g and the noise) when Σa_k = ∞ (the steps can travel any distance: p ≤ 1) and Σa_k² < ∞ (the
noise they add up has finite variance: p > 1/2). A constant step (p = 0) keeps a noise floor;
a too-fast decay (p > 1) has a finite total Σa_k and can stop short of the root. With p = 1
and a·g′(w*) > 1/2 the error shrinks like 1/√k, the rate of a sample mean.

SGD on least squares is (RM) for g(θ) = E[x(xᵀθ − y)], the gradient of the expected loss,
whose root is the least-squares solution; one sample's gradient is the noisy observation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.trace import Trace

DTYPE = torch.float64


@dataclass(frozen=True)
class ScheduleConditions:
    """Whether a_k = a/k^p (a > 0) meets the two Robbins–Monro conditions.

    Σ_k a/k^p is a p-series: it diverges iff p ≤ 1; Σ_k a²/k^{2p} converges iff 2p > 1.
    """

    p: float
    sum_diverges: bool  # Σ a_k = ∞: the iterate can still reach a root however far away
    sum_of_squares_converges: bool  # Σ a_k² < ∞: the accumulated noise has finite variance

    @property
    def satisfied(self) -> bool:
        return self.sum_diverges and self.sum_of_squares_converges


def schedule_conditions(p: float) -> ScheduleConditions:
    """The Robbins–Monro conditions for a_k = a/k^p: p = 1 and p ∈ (1/2, 1] meet both; p = 0
    (constant) fails Σa_k² < ∞; p > 1 (too fast) fails Σa_k = ∞."""
    _check_exponent(p)
    return ScheduleConditions(p=float(p), sum_diverges=p <= 1.0, sum_of_squares_converges=p > 0.5)


def step_sizes(steps: int, schedules: Sequence[tuple[float, float]]) -> Tensor:
    """a_k = a/k^p for k = 1..steps, one column per schedule (a, p).

    -> (steps, S) float64
    """
    steps = _check_count("steps", steps, 0)
    if not schedules:
        raise ValueError("schedules: need at least one (a, p) pair")
    for a, p in schedules:
        _check_gain(a)
        _check_exponent(p)
    gains = torch.tensor([a for a, _ in schedules], dtype=DTYPE)
    powers = torch.tensor([p for _, p in schedules], dtype=DTYPE)
    k = torch.arange(1, steps + 1, dtype=DTYPE).unsqueeze(1)
    return gains / k**powers


def stochastic_approximation(
    observe: Callable[[int, Tensor], Tensor],
    w0: Tensor,
    steps_a: Tensor,
    *,
    trace: Trace | None = None,
) -> Tensor:
    """The loop (RM): w_{k+1} = w_k − a_k·ỹ_k with ỹ_k = observe(k − 1, w_k), k = 1..n.

    observe(i, w) returns the noisy observation for update i = 0..n−1 (it must not change w);
    w0: (*shape); steps_a: (n, *s) with s broadcasting to shape -> iterates (n + 1, *shape),
    iterates[k] = w after k updates (iterates[0] = w0). Records "stochastic_approximation"
    (iterates, observations (n, *shape), step_sizes) when traced.
    """
    n = steps_a.shape[0]
    iterates = w0.new_empty((n + 1, *w0.shape))
    iterates[0] = w0
    observations = w0.new_empty((n, *w0.shape)) if trace is not None else None
    rows, gains = iterates.unbind(0), steps_a.unbind(0)
    w = rows[0]
    for i in range(n):
        y = observe(i, w)
        if observations is not None:
            observations[i] = y
        w = torch.addcmul(w, gains[i], y, value=-1.0, out=rows[i + 1])  # (RM)
    if trace is not None:
        trace.record(
            "stochastic_approximation",
            iterates=iterates,
            observations=observations,
            step_sizes=steps_a,
        )
    return iterates


def incremental_mean(xs: Any) -> Any:
    """Running means by the incremental rule w_{k+1} = w_k − (1/k)(w_k − x_k).

    This is (RM) with g(w) = w − E[X], observation w_k − x_k and a_k = 1/k, so w_{k+1} is
    the mean of x_1..x_k (w_1 is arbitrary: a_1 = 1 replaces it by x_1).
    xs: (n,) (or (n, *batch), one mean per column) -> same shape; out[k−1] = mean(xs[:k]).
    A NumPy array gives a NumPy array, anything else a tensor; integers become float64.
    """
    is_numpy = isinstance(xs, np.ndarray)
    x = torch.as_tensor(xs)
    if not x.is_floating_point():
        x = x.to(DTYPE)
    if x.ndim == 0:
        raise ValueError("xs: need a 1-D sequence of samples, got a scalar")
    n = x.shape[0]
    k = torch.arange(1, n + 1, dtype=x.dtype).reshape(n, *([1] * (x.ndim - 1)))
    samples = x.unbind(0)
    w1 = x.new_zeros(x.shape[1:])
    means = stochastic_approximation(lambda i, w: w - samples[i], w1, 1.0 / k)[1:]
    return means.numpy() if is_numpy else means


def robbins_monro(
    g: Callable[[Tensor], Tensor],
    w0: float | Tensor,
    steps: int,
    a: float = 1.0,
    p: float = 1.0,
    noise_std: float = 1.0,
    seeds: int = 1,
    seed: int = 0,
    *,
    trace: Trace | None = None,
) -> Tensor:
    """Robbins–Monro root finding of g(w) = 0 from ỹ_k = g(w_k) + noise_std·N(0, 1).

    w_{k+1} = w_k − a_k·ỹ_k with a_k = a/k^p (a > 0, p ≥ 0), for an increasing g.
    Robbins & Monro 1951. g maps iterates (seeds,) to the true values (seeds,); w0: a number
    or (seeds,). Runs `seeds` independent noise sequences at once; deterministic for `seed`,
    and run i is the same whatever `seeds` is. -> iterates (seeds, steps + 1), column k after
    k updates. Records "schedule" (a, p, sum_diverges, sum_of_squares_converges) and
    "stochastic_approximation" (iterates, observations, step sizes) when traced.
    """
    iterates = robbins_monro_schedules(
        lambda w: g(w[0]).unsqueeze(0),  # one schedule: g sees (seeds,)
        w0,
        steps,
        [(a, p)],
        noise_std=noise_std,
        seeds=seeds,
        seed=seed,
        trace=trace,
    )
    return iterates[0].contiguous()


def robbins_monro_schedules(
    g: Callable[[Tensor], Tensor],
    w0: float | Tensor,
    steps: int,
    schedules: Sequence[tuple[float, float]],
    *,
    noise_std: float = 1.0,
    seeds: int = 1,
    seed: int = 0,
    trace: Trace | None = None,
) -> Tensor:
    """`robbins_monro` for several schedules (a, p) at once, on the same noise sequences.

    Common noise makes the schedules' differences the schedules' own. g maps (S, seeds) to
    (S, seeds). -> iterates (S, seeds, steps + 1) (a view; `.contiguous()` for a copy).
    """
    seeds = _check_count("seeds", seeds, 1)
    steps = _check_count("steps", steps, 0)
    _check_noise(noise_std)
    a_k = step_sizes(steps, schedules).unsqueeze(-1)  # (steps, S, 1)
    noise = _standard_normal(seeds, steps, seed).mul_(noise_std).T.unbind(0)  # steps × (seeds,)
    start = _start(w0, seeds).expand(len(schedules), seeds).clone()

    def observe(i: int, w: Tensor) -> Tensor:
        value = g(w)
        if i == 0 and (not isinstance(value, Tensor) or value.shape != w.shape):
            raise ValueError(f"g: must map iterates of shape {tuple(w.shape)} to that shape")
        return value + noise[i]

    if trace is not None:
        for a, p in schedules:
            trace.record("schedule", a=float(a), p=float(p), **_conditions(p))
    return stochastic_approximation(observe, start, a_k, trace=trace).movedim(0, -1)


def sgd_least_squares(
    theta_star: Tensor,
    steps: int,
    *,
    schedules: Sequence[tuple[float, float]] = ((1.0, 1.0),),
    noise_std: float = 1.0,
    seeds: int = 1,
    seed: int = 0,
    theta0: Tensor | None = None,
    trace: Trace | None = None,
) -> Tensor:
    """SGD on streaming least squares as Robbins–Monro on the gradient's root.

    Samples x_k ~ N(0, I_d), y_k = x_kᵀθ* + noise_std·N(0, 1); the expected loss
    ½E(xᵀθ − y)² has gradient g(θ) = θ − θ* (E[xxᵀ] = I), root θ*. One sample's gradient
    ỹ_k = x_k(x_kᵀθ_k − y_k) is g(θ_k) plus noise whose size grows with |θ_k − θ*|, and
    θ_{k+1} = θ_k − a_k·ỹ_k is SGD. theta_star: (d,); theta0: (d,) (zeros when None).
    -> iterates (S, seeds, steps + 1, d), one block per schedule (a, p), same samples for all.
    """
    seeds = _check_count("seeds", seeds, 1)
    steps = _check_count("steps", steps, 0)
    _check_noise(noise_std)
    theta_star = torch.as_tensor(theta_star, dtype=DTYPE)
    if theta_star.ndim != 1 or theta_star.numel() == 0:
        raise ValueError("theta_star: need a 1-D tensor (d,) with d ≥ 1")
    d = theta_star.numel()
    start = torch.zeros(d, dtype=DTYPE) if theta0 is None else torch.as_tensor(theta0, dtype=DTYPE)
    if start.shape != (d,):
        raise ValueError(f"theta0: need shape ({d},), got {tuple(start.shape)}")
    a_k = step_sizes(steps, schedules)[:, :, None, None]  # (steps, S, 1, 1)
    draws = _standard_normal(seeds, steps * (d + 1), seed).view(seeds, steps, d + 1)
    x = draws[..., :d].transpose(0, 1)  # (steps, seeds, d)
    y = (x @ theta_star + noise_std * draws[..., d].T).unsqueeze(-1)  # (steps, seeds, 1)
    xs, ys = x.unbind(0), y.unbind(0)

    def observe(i: int, theta: Tensor) -> Tensor:
        residual = (xs[i] * theta).sum(-1, keepdim=True) - ys[i]  # x_kᵀθ − y_k
        return xs[i] * residual

    if trace is not None:
        for a, p in schedules:
            trace.record("schedule", a=float(a), p=float(p), **_conditions(p))
    w0 = start.expand(len(schedules), seeds, d).clone()
    return stochastic_approximation(observe, w0, a_k, trace=trace).movedim(0, 2)


def _conditions(p: float) -> dict[str, bool]:
    conditions = schedule_conditions(p)
    return {
        "sum_diverges": conditions.sum_diverges,
        "sum_of_squares_converges": conditions.sum_of_squares_converges,
    }


def _standard_normal(rows: int, columns: int, seed: int) -> Tensor:
    """(rows, columns) N(0, 1) draws; row i depends on `seed` only, not on `rows`.

    NumPy's generator (PCG64, ziggurat) fills row by row and is about twice torch.randn's speed.
    """
    return torch.from_numpy(np.random.default_rng(int(seed)).standard_normal((rows, columns)))


def _start(w0: float | Tensor, seeds: int) -> Tensor:
    start = torch.as_tensor(w0, dtype=DTYPE)
    if start.ndim > 1 or (start.ndim == 1 and start.shape[0] not in (1, seeds)):
        raise ValueError(f"w0: need a number or a tensor of shape ({seeds},)")
    if not torch.isfinite(start).all():
        raise ValueError("w0: must be finite")
    return start.expand(seeds)


def _check_count(name: str, value: int, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise ValueError(f"{name}: need an integer ≥ {least}, got {value!r}")
    return int(value)


def _check_gain(a: float) -> None:
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"a: need a finite gain > 0, got {a!r}")


def _check_exponent(p: float) -> None:
    if not (math.isfinite(p) and p >= 0):
        raise ValueError(f"p: need a finite exponent ≥ 0 (0 = constant step), got {p!r}")


def _check_noise(noise_std: float) -> None:
    if not (math.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std: need a finite value ≥ 0, got {noise_std!r}")
