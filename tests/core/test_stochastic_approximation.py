"""core.optim.stochastic_approximation against closed forms and numpy.

References: the prefix mean numpy.cumsum(x)/k; the p-series test for Σa/k^p and Σa²/k^{2p};
the stationary variance of a linear recursion; Euler's product Π(1 − x²/k²) = sin(πx)/(πx)
for the too-fast schedule; the asymptotic variance σ²a²/((2ag′ − 1)k) of Robbins–Monro with
a_k = a/k on a linear g (Chung 1954; Fabian 1968).
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.optim import stochastic_approximation as sa
from core.trace import Trace

ROOT, SLOPE = 3.0, 2.0  # g(w) = SLOPE·(w − ROOT): a known root and g′


def linear_g(w):
    return SLOPE * (w - ROOT)


def prefix_mean(x):
    return np.cumsum(x, axis=0) / np.arange(1, len(x) + 1).reshape(-1, *([1] * (x.ndim - 1)))


def rms_error(iterates, root=ROOT):
    return (iterates - root).pow(2).mean(0).sqrt().numpy()


def loglog_slope(error, first, last):
    k = np.arange(first, last + 1)
    return np.polyfit(np.log(k), np.log(error[first : last + 1]), 1)[0]


# --- incremental mean ------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 300),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    )
)
def test_incremental_mean_equals_prefix_mean(x):
    # Each update rounds once: the error grows like k·eps·max|x| at worst.
    scale = np.abs(x).max() + 1.0
    np.testing.assert_allclose(
        sa.incremental_mean(x), prefix_mean(x), rtol=0, atol=1e-13 * len(x) * scale
    )


def test_incremental_mean_of_one_sample_is_the_sample():
    assert sa.incremental_mean(np.array([2.5])).tolist() == [2.5]
    assert sa.incremental_mean(torch.tensor([-7.0])).tolist() == [-7.0]


def test_incremental_mean_of_large_values_keeps_relative_precision():
    x = 1e12 + np.random.default_rng(1).normal(0.0, 1e6, size=5000)
    np.testing.assert_allclose(sa.incremental_mean(x), prefix_mean(x), rtol=1e-13)


def test_incremental_mean_keeps_the_shape_and_the_kind_of_its_input():
    x = np.random.default_rng(2).normal(size=(50, 3))
    out = sa.incremental_mean(x)  # one running mean per column
    assert isinstance(out, np.ndarray) and out.shape == (50, 3)
    np.testing.assert_allclose(out, prefix_mean(x), atol=1e-13)
    tensor = sa.incremental_mean(torch.from_numpy(x[:, 0]).float())
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.numpy(), prefix_mean(x[:, 0]), rtol=1e-5, atol=1e-6)
    listed = sa.incremental_mean([1, 2, 3, 4])  # integers become float64
    assert listed.dtype == torch.float64 and listed.tolist() == [1.0, 1.5, 2.0, 2.5]
    assert sa.incremental_mean(np.array([])).shape == (0,)


def test_incremental_mean_rejects_a_scalar():
    with pytest.raises(ValueError, match="xs"):
        sa.incremental_mean(torch.tensor(1.0))


# --- schedules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p,diverges,squares_converge",
    [
        (1.0, True, True),  # a/k: both conditions
        (0.75, True, True),  # p in (1/2, 1)
        (0.5, True, False),  # Σ 1/k diverges: the boundary fails
        (0.0, True, False),  # constant step
        (2.0, False, True),  # too fast
        (1.0001, False, True),
    ],
)
def test_schedule_conditions_follow_the_p_series(p, diverges, squares_converge):
    conditions = sa.schedule_conditions(p)
    assert conditions.sum_diverges is diverges
    assert conditions.sum_of_squares_converges is squares_converge
    assert conditions.satisfied is (diverges and squares_converge)


def test_step_sizes_are_a_over_k_to_the_p():
    table = sa.step_sizes(6, [(1.0, 1.0), (0.5, 0.0), (2.0, 0.7)])
    k = np.arange(1, 7)
    expected = np.stack([1 / k, np.full(6, 0.5), 2.0 / k**0.7], axis=1)
    np.testing.assert_allclose(table.numpy(), expected, rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"a": 0.0}, "a"),
        ({"a": -1.0}, "a"),
        ({"p": -0.5}, "p"),
        ({"p": math.nan}, "p"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"seeds": 0}, "seeds"),
        ({"steps": -1}, "steps"),
        ({"steps": 2.5}, "steps"),
    ],
)
def test_robbins_monro_rejects_bad_arguments_by_name(kwargs, name):
    arguments = {"g": linear_g, "w0": 0.0, "steps": 10, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        sa.robbins_monro(**arguments)


def test_robbins_monro_rejects_a_g_that_changes_the_shape():
    with pytest.raises(ValueError, match=r"^g:"):
        sa.robbins_monro(lambda w: w.sum(), 0.0, 10, seeds=3)


# --- Robbins–Monro ---------------------------------------------------------------------


def test_robbins_monro_shape_start_and_determinism():
    w = sa.robbins_monro(linear_g, 0.5, 40, seeds=7, seed=3)
    assert w.shape == (7, 41) and w.dtype == torch.float64
    assert torch.all(w[:, 0] == 0.5)
    assert torch.equal(w, sa.robbins_monro(linear_g, 0.5, 40, seeds=7, seed=3))
    assert not torch.equal(w, sa.robbins_monro(linear_g, 0.5, 40, seeds=7, seed=4))
    # run i does not depend on how many runs go with it
    assert torch.equal(w[:2], sa.robbins_monro(linear_g, 0.5, 40, seeds=2, seed=3))
    assert sa.robbins_monro(linear_g, 0.5, 0, seeds=3).shape == (3, 1)


def test_robbins_monro_without_noise_is_the_deterministic_recursion():
    w = sa.robbins_monro(linear_g, 0.0, 30, a=0.3, p=0.8, noise_std=0.0)[0]
    expected = [0.0]
    for k in range(1, 31):
        expected.append(expected[-1] - 0.3 / k**0.8 * SLOPE * (expected[-1] - ROOT))
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-14)


def test_robbins_monro_observations_are_g_plus_noise_and_the_step_uses_them():
    trace = Trace()
    w = sa.robbins_monro(linear_g, 0.0, 200, a=0.5, p=1.0, seeds=400, seed=5, trace=trace)
    record = trace["stochastic_approximation"][0]
    assert torch.equal(record["iterates"][:, 0].T, w)
    y = record["observations"][:, 0].T  # (seeds, steps)
    a_k = record["step_sizes"][:, 0, 0]
    torch.testing.assert_close(w[:, 1:], w[:, :-1] - a_k * y, rtol=0, atol=1e-12)
    noise = y - linear_g(w[:, :-1])
    assert abs(noise.mean().item()) < 4 / math.sqrt(noise.numel())  # N(0, 1), 80 000 draws
    assert abs(noise.std().item() - 1.0) < 0.02
    assert trace["schedule"] == [
        {"a": 0.5, "p": 1.0, "sum_diverges": True, "sum_of_squares_converges": True}
    ]


def test_incremental_mean_is_robbins_monro_with_a_over_k_and_a_equal_1():
    # g(w) = w − μ, ỹ_k = w_k − x_k with x_k = μ − noise_k: w_{k+1} is the mean of x_1..x_k.
    trace = Trace()
    w = sa.robbins_monro(lambda w: w - 2.0, -5.0, 300, a=1.0, p=1.0, seeds=3, trace=trace)
    y = trace["stochastic_approximation"][0]["observations"][:, 0].T
    samples = (w[:, :-1] - y).T.numpy()  # (steps, seeds)
    np.testing.assert_allclose(w[:, 1:].T.numpy(), prefix_mean(samples), atol=1e-13)


def test_robbins_monro_a_over_k_error_falls_like_one_over_sqrt_k():
    # a·g′ = 2 > 1/2: the RMS error over many runs is σa/√((2ag′ − 1)k) for large k.
    steps, a = 1500, 1.0
    w = sa.robbins_monro(linear_g, 0.0, steps, a=a, p=1.0, seeds=1500, seed=11)
    error = rms_error(w)
    assert loglog_slope(error, 100, steps) == pytest.approx(-0.5, abs=0.1)
    theory = a / math.sqrt((2 * a * SLOPE - 1) * steps)
    assert error[-1] == pytest.approx(theory, rel=0.1)  # 1500 runs: ±4 % sampling error


def test_robbins_monro_with_a_small_gain_is_slower_than_one_over_sqrt_k():
    # a·g′ = 0.4 < 1/2: the noise of the first steps is forgotten only like k^(−a·g′).
    w = sa.robbins_monro(linear_g, ROOT, 1500, a=0.2, p=1.0, seeds=1000, seed=21)
    assert loglog_slope(rms_error(w), 150, 1500) == pytest.approx(-0.4, abs=0.07)


def test_robbins_monro_slower_schedule_has_error_like_k_to_minus_p_over_2():
    p = 0.7
    w = sa.robbins_monro(linear_g, 0.0, 1500, a=1.0, p=p, seeds=1000, seed=12)
    assert loglog_slope(rms_error(w), 150, 1500) == pytest.approx(-p / 2, abs=0.1)


def test_constant_step_settles_at_a_noise_floor_not_at_the_root():
    # w_{k+1} − w* = (1 − ag′)(w_k − w*) − a·ε_k: stationary variance a/(g′(2 − ag′)).
    a = 0.2
    w = sa.robbins_monro(linear_g, ROOT, 1000, a=a, p=0.0, seeds=1000, seed=13)
    floor = math.sqrt(a / (SLOPE * (2 - a * SLOPE)))
    late = rms_error(w)[100:]
    assert late.mean() == pytest.approx(floor, rel=0.05)
    assert abs(loglog_slope(rms_error(w), 100, 1000)) < 0.05  # flat: no decay


def test_too_fast_schedule_stops_short_of_the_root():
    # a_k = a/k²: w_n − w* = Π(1 − ag′/k²)(w_0 − w*) → sin(π√(ag′))/(π√(ag′))·(w_0 − w*).
    a, w0, steps = 0.1, 0.0, 2000
    x = math.sqrt(a * SLOPE)
    stop = ROOT + math.sin(math.pi * x) / (math.pi * x) * (w0 - ROOT)
    noiseless = sa.robbins_monro(linear_g, w0, steps, a=a, p=2.0, noise_std=0.0)[0, -1]
    assert noiseless.item() == pytest.approx(stop, abs=2 * a * SLOPE / steps * abs(w0 - ROOT))
    noisy = sa.robbins_monro(linear_g, w0, steps, a=a, p=2.0, seeds=200, seed=14)[:, -1]
    assert (noisy - ROOT).abs().median() > 1.5  # |stop − w*| ≈ 2.4: never reaches the root
    assert not sa.schedule_conditions(2.0).sum_diverges


def test_schedules_run_together_equal_their_separate_runs():
    pairs = [(1.0, 1.0), (0.1, 0.0), (0.5, 2.0)]
    together = sa.robbins_monro_schedules(linear_g, 1.0, 50, pairs, seeds=4, seed=2)
    assert together.shape == (3, 4, 51)
    for index, (a, p) in enumerate(pairs):
        alone = sa.robbins_monro(linear_g, 1.0, 50, a=a, p=p, seeds=4, seed=2)
        torch.testing.assert_close(together[index], alone, rtol=0, atol=0)


# --- SGD on least squares ----------------------------------------------------------------


def test_sgd_least_squares_observation_is_a_sample_gradient_of_the_loss():
    theta_star = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    trace = Trace()
    theta = sa.sgd_least_squares(
        theta_star, 1, schedules=[(0.1, 1.0)], seeds=20000, seed=3, trace=trace
    )
    assert theta.shape == (1, 20000, 2, 3)
    y = trace["stochastic_approximation"][0]["observations"][0, 0]  # (seeds, d) at θ_0 = 0
    # E[x(xᵀθ − y)] at θ = 0 is −θ*: the sample gradients average to it (20 000 draws).
    assert torch.allclose(y.mean(0), -theta_star, atol=0.1)
    torch.testing.assert_close(theta[0, :, 1], -0.1 * y, rtol=0, atol=1e-15)


def test_sgd_least_squares_converges_at_the_robbins_monro_rate():
    # Started at θ*, the error is the noise alone: it falls like 1/√k with a_k = 1/k.
    theta_star = torch.tensor([1.0, -2.0], dtype=torch.float64)
    theta = sa.sgd_least_squares(theta_star, 1000, seeds=1000, seed=4, theta0=theta_star)
    error = (theta[0] - theta_star).pow(2).sum(-1).mean(0).sqrt().numpy()
    assert loglog_slope(error, 100, 1000) == pytest.approx(-0.5, abs=0.1)


def test_sgd_least_squares_with_a_too_fast_schedule_stops_short():
    theta_star = torch.tensor([1.0, -2.0], dtype=torch.float64)
    theta = sa.sgd_least_squares(
        theta_star, 1000, schedules=[(1.0, 1.0), (0.05, 3.0)], seeds=200, seed=4
    )
    error = (theta[:, :, -1] - theta_star).pow(2).sum(-1).mean(1).sqrt()
    assert error[0] < 0.1
    assert error[1] > 1.5  # a/k³: Σa_k ≈ 0.06, θ barely leaves θ_0 = 0 (|θ*| ≈ 2.24)


def test_sgd_least_squares_checks_its_shapes():
    with pytest.raises(ValueError, match="theta_star"):
        sa.sgd_least_squares(torch.zeros(2, 2), 5)
    with pytest.raises(ValueError, match="theta0"):
        sa.sgd_least_squares(torch.zeros(2), 5, theta0=torch.zeros(3))
