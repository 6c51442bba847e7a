"""core.sequence.ssm against SciPy, matrix powers, FFT convolution, a naive loop and the exact
Legendre projection (Gauss–Legendre quadrature with scipy.special.eval_legendre)."""

import numpy as np
import pytest
import scipy.signal
import scipy.special
import torch

from core.sequence import ssm
from core.trace import Trace


def random_system(n, seed, stable=True):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, n, generator=g, dtype=torch.float64)
    if stable:
        A -= (torch.linalg.eigvals(A).real.max() + 0.5) * torch.eye(n, dtype=torch.float64)
    B, C = torch.randn(2, n, generator=g, dtype=torch.float64)
    return A, B, C


def test_hippo_legs_matches_the_formula_entry_by_entry():
    A, B = ssm.hippo_legs(5)
    for i in range(5):
        assert B[i] == pytest.approx(np.sqrt(2 * i + 1))
        for j in range(5):
            expected = -np.sqrt(2 * i + 1) * np.sqrt(2 * j + 1) if i > j else 0.0
            expected = -(i + 1) if i == j else expected
            assert A[i, j] == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("method,scipy_method", [("zoh", "zoh"), ("bilinear", "bilinear")])
@pytest.mark.parametrize("singular", [False, True])
def test_discretize_matches_scipy_cont2discrete(method, scipy_method, singular):
    A, B, _ = random_system(4, seed=1)
    if singular:
        A[:, 0] = 0.0  # a zero column: det A = 0, no A⁻¹ exists
    dt = 0.37
    A_d, B_d, *_ = scipy.signal.cont2discrete(
        (A.numpy(), B.numpy()[:, None], np.eye(4), np.zeros((4, 1))), dt, method=scipy_method
    )
    A_bar, B_bar = ssm.discretize(A, B, dt, method)
    assert np.abs(A_bar.numpy() - A_d).max() < 1e-12
    assert np.abs(B_bar.numpy() - B_d[:, 0]).max() < 1e-12


def test_discretize_rejects_an_unknown_method():
    A, B, _ = random_system(2, seed=0)
    with pytest.raises(ValueError, match="method"):
        ssm.discretize(A, B, 0.1, "euler")


@pytest.mark.parametrize("length", [1, 2, 7, 64])
def test_kernel_equals_matrix_powers(length):
    A, B, C = random_system(3, seed=2)
    A_bar, B_bar = ssm.discretize(A, B, 0.1, "zoh")
    expected = torch.stack([C @ torch.linalg.matrix_power(A_bar, j) @ B_bar for j in range(length)])
    assert torch.allclose(ssm.ssm_kernel(A_bar, B_bar, C, length), expected, atol=1e-13)


@pytest.mark.parametrize("length", [1, 5, 300])
def test_recurrence_equals_fft_convolution(length):
    A, B = ssm.hippo_legs(8)
    C = torch.randn(8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    A_bar, B_bar = ssm.discretize(A, B, 0.05, "bilinear")
    u = torch.randn(length, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    recurrent = ssm.ssm_recurrent(A_bar, B_bar, C, u)
    convolved = ssm.causal_convolution(ssm.ssm_kernel(A_bar, B_bar, C, length), u)
    assert (recurrent - convolved).abs().max() < 1e-10 * max(1.0, recurrent.abs().max())


def test_fft_convolution_does_not_wrap_around():
    K = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    u = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)  # an impulse at the end
    assert torch.allclose(ssm.causal_convolution(K, u), torch.tensor([0.0, 0.0, 1.0]).double())


def naive_selective_scan(u, delta, A, B, C, D):
    b, d, L = u.shape
    y = torch.zeros(b, d, L, dtype=torch.float64)
    for i in range(b):
        for c in range(d):
            x = torch.zeros(A.shape[1], dtype=torch.float64)
            for t in range(L):
                x = torch.exp(delta[i, c, t] * A[c]) * x + delta[i, c, t] * B[i, :, t] * u[i, c, t]
                y[i, c, t] = C[i, :, t] @ x + (0 if D is None else D[c] * u[i, c, t])
    return y


def selective_inputs(b, d, n, L, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(b, d, L, generator=g, dtype=torch.float64)
    delta = torch.rand(b, d, L, generator=g, dtype=torch.float64) * scale
    A = -torch.rand(d, n, generator=g, dtype=torch.float64) * 10
    B, C = torch.randn(2, b, n, L, generator=g, dtype=torch.float64)
    D = torch.randn(d, generator=g, dtype=torch.float64)
    return u, delta, A, B, C, D


@pytest.mark.parametrize("b,d,n,L", [(1, 1, 1, 1), (2, 3, 1, 5), (1, 2, 4, 13)])
@pytest.mark.parametrize("method", ["loop", "parallel"])
def test_selective_scan_matches_a_naive_loop(b, d, n, L, method):
    args = selective_inputs(b, d, n, L, seed=L)
    expected = naive_selective_scan(*args)
    assert torch.allclose(ssm.selective_scan(*args, method=method), expected, atol=1e-12)


def test_parallel_scan_is_stable_for_long_sequences_with_large_decay():
    # Δ·A down to ≈ −10 per step over 400 steps: exp(+ΣΔA) would be e^(4000) = inf.
    u, delta, A, B, C, _ = selective_inputs(1, 2, 4, 400, seed=7, scale=1.0)
    loop = ssm.selective_scan(u, delta, A, B, C, method="loop")
    parallel = ssm.selective_scan(u, delta, A, B, C, method="parallel")
    assert torch.isfinite(parallel).all()
    assert (loop - parallel).abs().max() < 1e-12


def test_scan_records_ceil_log2_levels():
    trace = Trace()
    args = selective_inputs(1, 1, 2, 11, seed=2)
    ssm.selective_scan(*args, trace=trace)
    assert [e["offset"] for e in trace["scan_level"]] == [1, 2, 4, 8] and ssm.levels(11) == 4
    assert trace["selective_state"][0]["x"].shape == (1, 1, 11, 2)


def exact_projection(f, n, nodes=200):
    z, w = np.polynomial.legendre.leggauss(nodes)
    s, w = (z + 1) / 2, w / 2
    return np.array(
        [
            np.sum(w * f(s) * np.sqrt(2 * k + 1) * scipy.special.eval_legendre(k, 2 * s - 1))
            for k in range(n)
        ]
    )


def test_legendre_basis_matches_scipy():
    s = torch.linspace(0, 1, 11, dtype=torch.float64)
    basis = ssm.legendre(6, s)
    for k in range(6):
        expected = np.sqrt(2 * k + 1) * scipy.special.eval_legendre(k, 2 * s.numpy() - 1)
        assert np.abs(basis[k].numpy() - expected).max() < 1e-12


def test_legs_state_converges_to_the_legendre_projection_at_rate_one_over_L():
    def f(s):
        return np.sin(6 * s) + s**2

    exact = exact_projection(f, 12)
    errors = []
    for length in (250, 1000):
        u = torch.tensor(f(np.arange(1, length + 1) / length))
        errors.append(np.abs(ssm.legs_memory(u, 12)[-1].numpy() - exact).max())
    assert errors[1] < 5e-3
    assert 3 < errors[0] / errors[1] < 5.5  # 4× the samples, about 4× smaller: O(1/L)


def test_reconstruction_from_the_exact_projection_rebuilds_a_polynomial():
    s = torch.linspace(0, 1, 9, dtype=torch.float64)
    c = torch.tensor(exact_projection(lambda v: 3 * v**2 - v, 4))
    assert torch.allclose(ssm.reconstruct(c, s), 3 * s**2 - s, atol=1e-12)


def test_horizon_and_levels():
    K = torch.tensor([1.0, 0.5, 0.02, 0.005, 0.011, 0.0])
    assert ssm.horizon(K) == 5 and ssm.levels(1) == 0 and ssm.levels(16) == 4
