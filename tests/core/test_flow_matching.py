"""Flow matching against closed forms and Monte Carlo: exact marginal fields, path velocities,
Euler's method, a learned field approaching the exact one, and reflow straightening the flow."""

import math

import pytest
import torch

from core.generative import flow_matching as fm
from core.generative.mlp import Adam
from tests.one_thread import one_thread  # noqa: F401

F64 = torch.float64


def monte_carlo_velocity(x, t, sample_x0, log_p1, n=200_000, seed=0):
    """E[x₁ − x₀ | x_t = x] by importance sampling: x₀ ~ p₀, then x₁ = (x − (1 − t)x₀)/t is
    fixed by x_t = x and weighted by p₁(x₁) (the Jacobian 1/t^D is the same for every x₀)."""
    x0 = sample_x0(n, torch.Generator().manual_seed(seed))
    out = []
    for row in x:
        x1 = (row - (1 - t) * x0) / t
        w = torch.softmax(log_p1(x1), 0)
        out.append((w[:, None] * (x1 - x0)).sum(0))
    return torch.stack(out)


def normal_log_prob(x, mean, std):
    return torch.distributions.Normal(mean, std).log_prob(x).sum(-1)


@pytest.mark.parametrize("t", [0.3, 0.7])
def test_gaussian_velocity_is_the_monte_carlo_conditional_mean(t):
    mu0, s0 = torch.tensor([0.5, -1.0], dtype=F64), torch.tensor([1.0, 0.7], dtype=F64)
    mu1, s1 = torch.tensor([2.0, 1.0], dtype=F64), torch.tensor([0.5, 1.2], dtype=F64)
    # points where x_t has its mass (far in the tails the importance weights degenerate)
    offsets = torch.tensor([[0.0, 0.0], [0.4, -0.3], [-0.3, 0.5]], dtype=F64)
    x = (1 - t) * mu0 + t * mu1 + offsets
    expected = monte_carlo_velocity(
        x, t, lambda n, g: mu0 + s0 * torch.randn(n, 2, generator=g, dtype=F64),
        lambda x1: normal_log_prob(x1, mu1, s1),
    )  # fmt: skip
    # 2·10⁵ weighted draws: the Monte Carlo error is a few 10⁻³ here
    torch.testing.assert_close(
        fm.gaussian_velocity(x, t, mu0, s0, mu1, s1), expected, atol=2e-2, rtol=0
    )


def test_mixture_velocity_is_the_monte_carlo_conditional_mean():
    weights = torch.tensor([0.2, 0.5, 0.3], dtype=F64)
    means = torch.tensor([[2.0, 0.0], [-1.0, 2.0], [0.0, -2.0]], dtype=F64)
    sigmas = torch.tensor([0.3, 0.5, 0.4], dtype=F64)
    mu0 = torch.tensor([0.2, 0.1], dtype=F64)
    components = torch.distributions.Independent(
        torch.distributions.Normal(means, sigmas[:, None]), 1
    )
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(weights), components
    )
    x = torch.tensor([[0.5, 0.5], [1.0, -1.0], [-0.5, 1.0]], dtype=F64)
    t = 0.6
    expected = monte_carlo_velocity(
        x, t, lambda n, g: mu0 + 0.8 * torch.randn(n, 2, generator=g, dtype=F64), mixture.log_prob
    )
    got = fm.mixture_velocity(x, t, mu0, 0.8, weights, means, sigmas)
    torch.testing.assert_close(got, expected, atol=3e-2, rtol=0)


def test_one_component_mixture_is_the_gaussian_field_and_t_may_be_per_row():
    x = torch.randn(6, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    t = torch.linspace(0.0, 0.9, 6, dtype=F64)
    mu0, mu1 = torch.zeros(3, dtype=F64), torch.tensor([1.0, 2.0, -1.0], dtype=F64)
    gaussian = fm.gaussian_velocity(x, t, mu0, 0.9, mu1, 0.4)
    mixture = fm.mixture_velocity(
        x, t, mu0, 0.9, torch.ones(1, dtype=F64), mu1[None], torch.tensor([0.4], dtype=F64)
    )
    torch.testing.assert_close(gaussian, mixture, rtol=1e-12, atol=1e-12)
    rows = torch.stack(
        [fm.gaussian_velocity(x[i : i + 1], float(t[i]), mu0, 0.9, mu1, 0.4)[0] for i in range(6)]
    )
    torch.testing.assert_close(gaussian, rows, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gaussian[0], mu1 - x[0])  # t = 0: x₀ = x is known


@pytest.mark.parametrize("kind", ["linear", "vp"])
def test_conditional_path_velocity_is_its_time_derivative(kind):
    x0, x1 = torch.randn(2, 5, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    for t in (0.1, 0.5, 0.9):
        _, u = fm.conditional_path(x0, x1, t, kind)
        derivative = torch.func.jacfwd(lambda s: fm.conditional_path(x0, x1, s, kind)[0])(
            torch.tensor(t, dtype=F64)
        )
        torch.testing.assert_close(u, derivative, rtol=1e-10, atol=1e-10)
    end, _ = fm.conditional_path(x0, x1, 1.0, kind)
    torch.testing.assert_close(end, x1, rtol=0, atol=1e-11)  # VP keeps a ≥ 1e-12 at t = 1
    start, _ = fm.conditional_path(x0, x1, 0.0, kind)
    if kind == "linear":
        torch.testing.assert_close(start, x0, rtol=0, atol=0)
    else:  # α(0) = exp(−½T(1)) ≈ 0.0065: almost all source
        alpha = math.exp(-0.5 * (0.1 + 0.5 * 19.9))
        torch.testing.assert_close(start, math.sqrt(1 - alpha**2) * x0 + alpha * x1)


def test_euler_matches_its_closed_form_on_a_linear_ode():
    x0 = torch.randn(4, 2, dtype=F64)
    path = fm.euler_sample(lambda x, t: -x, x0, 10)
    assert path.shape == (11, 4, 2) and torch.equal(path[0], x0)
    torch.testing.assert_close(path[-1], x0 * 0.9**10, rtol=1e-14, atol=0)
    calls = []
    fm.euler_sample(lambda x, t: calls.append(t) or torch.zeros_like(x), x0, 4)
    assert calls == [0.0, 0.25, 0.5, 0.75]


def test_euler_on_the_exact_gaussian_field_reaches_the_monotone_map():
    mu0, mu1 = torch.tensor([0.0, 1.0], dtype=F64), torch.tensor([2.0, -1.0], dtype=F64)
    s0, s1 = torch.tensor([1.0, 0.5], dtype=F64), torch.tensor([0.3, 2.0], dtype=F64)
    x0 = mu0 + s0 * torch.randn(50, 2, dtype=F64, generator=torch.Generator().manual_seed(3))
    field = lambda x, t: fm.gaussian_velocity(x, t, mu0, s0, mu1, s1)  # noqa: E731
    end = fm.euler_sample(field, x0, 2000)[-1]
    # per coordinate the marginals stay Gaussian and the flow is their monotone (affine) map;
    # Euler's O(1/K) error: below 10⁻² at K = 2000 (the map stretches x₂ fourfold)
    torch.testing.assert_close(end, mu1 + s1 / s0 * (x0 - mu0), rtol=0, atol=1e-2)
    # the flow is not straight: sqrt((1 − t)²σ₀² + t²σ₁²) is not linear in t, so S > 0
    assert fm.straightness(field, fm.euler_sample(field, x0, 50)) > 0.01
    # a constant field is straight: S = 0 and one Euler step is exact
    shift = lambda x, t: (mu1 - mu0).expand_as(x)  # noqa: E731
    torch.testing.assert_close(
        fm.euler_sample(shift, x0, 1)[-1], x0 + (mu1 - mu0), rtol=0, atol=1e-15
    )
    assert fm.straightness(shift, fm.euler_sample(shift, x0, 20)) < 1e-25  # rounding only


def gaussian_pairs(g, n):
    x0 = torch.randn(n, 2, generator=g)
    x1 = torch.tensor([2.0, 1.0]) + 0.5 * torch.randn(n, 2, generator=g)
    return x0, x1


def test_learned_field_approaches_the_exact_field_and_reflow_straightens():
    def field_error(model):
        x0, x1 = gaussian_pairs(torch.Generator().manual_seed(9), 2000)
        x_t, _ = fm.conditional_path(x0, x1, 0.5)
        exact = fm.gaussian_velocity(x_t, 0.5, torch.zeros(2), 1.0, torch.tensor([2.0, 1.0]), 0.5)
        with torch.no_grad():
            return (model(x_t, 0.5) - exact).norm(dim=-1).mean().item()

    short = fm.train_flow_matching(gaussian_pairs, steps=20, seed=0)
    model = fm.train_flow_matching(gaussian_pairs, steps=300, seed=0)
    assert field_error(model) < 0.5 * field_error(short)

    def learned(m):
        return lambda x, t: m(x, t).detach()

    x0 = torch.randn(500, 2, generator=torch.Generator().manual_seed(4))
    s_before = fm.straightness(learned(model), fm.euler_sample(learned(model), x0, 50))
    source = torch.randn(2048, 2, generator=torch.Generator().manual_seed(5))
    target = fm.euler_sample(learned(model), source, 50)[-1]

    def ode_pairs(g, n):
        idx = torch.randint(0, 2048, (n,), generator=g)
        return source[idx], target[idx]

    reflowed = fm.train_flow_matching(ode_pairs, steps=300, seed=1)
    s_after = fm.straightness(learned(reflowed), fm.euler_sample(learned(reflowed), x0, 50))
    assert s_after < 0.3 * s_before


def test_our_adam_is_torch_adam():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    b.load_state_dict(a.state_dict())
    ours, theirs = Adam(a.parameters(), lr=0.01), torch.optim.Adam(b.parameters(), lr=0.01)
    for _ in range(5):
        x = torch.randn(8, 3, dtype=F64)
        for model, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            (model(x) ** 2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
