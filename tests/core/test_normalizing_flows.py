"""Coupling flows against autograd: log-dets are log|det| of the Jacobian, inverses invert,
and a flow's density integrates to 1."""

import math

import pytest
import torch

from core.generative import flows
from core.generative.flows import (
    CouplingFlow,
    coupling_forward,
    coupling_inverse,
    flow_forward,
    flow_inverse,
    flow_log_prob,
)
from core.generative.toy_data import TOY_NAMES, sample_toy
from core.trace import Trace
from tests.one_thread import one_thread  # noqa: F401

D = 4


def random_fns(seed: int, dim: int = D):
    """Smooth nonlinear t and s built from fixed random weights (float64)."""
    g = torch.Generator().manual_seed(seed)
    w1, w2 = (
        torch.randn(dim, dim, generator=g, dtype=torch.float64),
        torch.randn(dim, dim, generator=g, dtype=torch.float64),
    )
    return (lambda h: torch.tanh(h @ w1) + 0.3 * h), (lambda h: 0.5 * torch.sin(h @ w2))


def jacobian_log_dets(fn, x):
    """log|det ∂fn/∂x| per row by autograd (fn maps (1, D) -> (1, D))."""
    return torch.stack(
        [
            torch.linalg.slogdet(torch.autograd.functional.jacobian(lambda r: fn(r[None])[0], row))[
                1
            ]
            for row in x
        ]
    )


@pytest.mark.parametrize("affine", [False, True])
def test_coupling_log_det_is_the_autograd_jacobian_and_inverse_inverts(affine):
    t_fn, s_fn = random_fns(0)
    s_fn = s_fn if affine else None
    mask = torch.tensor([True, False, True, False])
    x = torch.randn(6, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y, log_det = coupling_forward(x, mask, t_fn, s_fn)
    expected = jacobian_log_dets(lambda r: coupling_forward(r, mask, t_fn, s_fn)[0], x)
    torch.testing.assert_close(log_det, expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(y[:, mask], x[:, mask])  # b = 1 passes unchanged
    torch.testing.assert_close(coupling_inverse(y, mask, t_fn, s_fn), x, rtol=0, atol=1e-13)
    if not affine:
        assert torch.equal(log_det, torch.zeros(6, dtype=torch.float64))


def test_t_and_s_see_only_the_unchanged_coordinates():
    seen = []
    mask = torch.tensor([False, True, False, True])

    def t_fn(h):
        seen.append(h.clone())
        return h.flip(-1)

    x = torch.randn(3, D, dtype=torch.float64)
    coupling_forward(x, mask, t_fn, lambda h: 0.1 * h)
    assert torch.equal(seen[0], x * mask)


def test_flow_log_det_matches_autograd_and_round_trips():
    layers = []
    for i in range(3):
        t_fn, s_fn = random_fns(10 + i)
        layers.append((torch.arange(D) % 2 == i % 2, t_fn, s_fn if i != 1 else None))
    log_scale = torch.tensor([0.3, -0.2, 0.1, 0.5], dtype=torch.float64)
    x = torch.randn(5, D, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    z, log_det = flow_forward(x, layers, log_scale)
    expected = jacobian_log_dets(lambda r: flow_forward(r, layers, log_scale)[0], x)
    torch.testing.assert_close(log_det, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(flow_inverse(z, layers, log_scale), x, rtol=0, atol=1e-12)
    gaussian = torch.distributions.MultivariateNormal(
        torch.zeros(D, dtype=torch.float64), torch.eye(D, dtype=torch.float64)
    )
    torch.testing.assert_close(flow_log_prob(x, layers, log_scale), gaussian.log_prob(z) + expected)


def test_empty_flow_is_a_standard_normal():
    x = torch.randn(7, 2, dtype=torch.float64)
    expected = -0.5 * (x * x).sum(-1) - math.log(2 * math.pi)
    torch.testing.assert_close(flow_log_prob(x, []), expected)


@pytest.mark.parametrize("kind", ["nice", "realnvp"])
def test_trained_flow_density_integrates_to_one_and_learns(kind):
    x_train = sample_toy("moons", 1000, 0).float()
    x_test = sample_toy("moons", 500, 1).float()
    trace = Trace()
    flow = flows.train_flow(
        x_train,
        x_test,
        kind=kind,
        n_layers=4,
        width=16,
        steps=60,
        lr=1e-2,
        eval_every=60,
        trace=trace,
    )
    nll = trace.column("test", "nll")
    assert nll[-1] < nll[0] - 0.3  # 60 steps already buy well over 0.3 nats on moons
    # Riemann sum over a wide window: a density integrates to 1 (up to the tails and the grid)
    axis = torch.linspace(-8, 8, 321, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
    flow = flow.double()
    with torch.no_grad():
        mass = flow.log_prob(grid).exp().sum().item() * (axis[1] - axis[0]).item() ** 2
    assert mass == pytest.approx(1.0, abs=5e-3)
    points, log_dets = flow.forward_trace(x_test.double()[:50])
    torch.testing.assert_close(flow.inverse_trace(points[-1])[-1], points[0], rtol=0, atol=1e-10)
    if kind == "nice":  # additive couplings keep the volume; the scaling layer changes it
        assert all(torch.equal(d, torch.zeros_like(d)) for d in log_dets[:-1])
        assert abs(log_dets[-1][0].item()) > 0.05


def test_the_coupling_nets_memo_does_not_leak_across_inputs():
    flow = CouplingFlow("realnvp", 2, 8, seed=3).double()
    with torch.no_grad():
        for net in flow.nets:
            net.net[-1].weight.normal_()
    x = torch.randn(4, 2, dtype=torch.float64)
    first = flow.log_prob(x)
    flow.log_prob(x + 1)
    torch.testing.assert_close(flow.log_prob(x), first, rtol=0, atol=0)


@pytest.mark.parametrize("name", TOY_NAMES)
def test_toy_data_is_seeded_and_bounded(name):
    a, b = sample_toy(name, 300, 5), sample_toy(name, 300, 5)
    assert a.shape == (300, 2) and torch.equal(a, b)
    assert not torch.equal(a, sample_toy(name, 300, 6))
    assert a.abs().max() < 4.5 and a.std(0).min() > 0.5
