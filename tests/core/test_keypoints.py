"""Keypoint decoding and likelihoods against closed forms, torch.argmax and torch.distributions;
the RealNVP flow against its own laws (inverse, log-det by autograd, density sums to 1)."""

import math

import numpy as np
import pytest
import torch

from core.vision import keypoints as kp


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: on a shared 2-core machine a second thread only waits (a 100-step fit
    took a minute with two threads, seconds with one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_soft_argmax_of_a_sampled_gaussian_is_its_discrete_mean():
    xs, ys = np.meshgrid(np.arange(24.0), np.arange(20.0))
    log_density = -((xs - 9.3) ** 2 + (ys - 7.6) ** 2) / (2 * 1.7**2)
    weights = np.exp(log_density) / np.exp(log_density).sum()
    expected = [(weights * xs).sum(), (weights * ys).sum()]
    point = kp.soft_argmax(torch.as_tensor(log_density))
    np.testing.assert_allclose(point.numpy(), expected, rtol=1e-12)
    assert point.numpy() == pytest.approx([9.3, 7.6], abs=1e-4)  # 4.5σ from the borders


@pytest.mark.parametrize("slope, beta, width", [(0.3, 1.0, 10), (-0.7, 2.0, 16), (1.5, 0.5, 5)])
def test_soft_argmax_of_a_ramp_is_the_truncated_geometric_mean(slope, beta, width):
    heat = torch.arange(width, dtype=torch.float64).repeat(3, 1) * slope
    r = math.exp(beta * slope)
    expected = r / (1 - r) - width * r**width / (1 - r**width)  # Σ j r^j / Σ r^j, j < W
    point = kp.soft_argmax(heat, beta)
    assert point[0].item() == pytest.approx(expected, rel=1e-10)
    assert point[1].item() == pytest.approx(1.0)  # rows equal: the middle row


def test_soft_argmax_beta_scales_the_map_and_is_differentiable():
    heat = torch.randn(2, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(kp.soft_argmax(heat, 3.0), kp.soft_argmax(3.0 * heat))
    assert kp.soft_argmax(heat.float()).dtype == torch.float32
    assert torch.autograd.gradcheck(lambda h: kp.soft_argmax(h, 2.0), heat.requires_grad_())


def test_argmax_decode_is_torch_argmax_with_first_ties():
    g = torch.Generator().manual_seed(1)
    heat = torch.randint(0, 4, (5, 6, 8), generator=g).float()  # many ties
    point = kp.argmax_decode(heat, stride=4)
    index = torch.argmax(heat.flatten(-2), -1)
    torch.testing.assert_close(point, torch.stack([index % 8, index // 8], -1).float() * 4)
    for n in range(5):  # the first maximal cell in row-major order
        i, j = np.argwhere(heat[n].numpy() == heat[n].max().item())[0]
        assert point[n].tolist() == [4.0 * j, 4.0 * i]


def test_argmax_decode_of_integer_maps_is_floating():
    heat = torch.zeros(2, 4, 6, dtype=torch.int64)
    heat[0, 3, 5], heat[1, 0, 2] = 7, 1
    point = kp.argmax_decode(heat, stride=2.5)
    assert point.is_floating_point()
    assert point.tolist() == [[12.5, 7.5], [5.0, 0.0]]


def test_the_quarter_shift_moves_towards_the_higher_neighbour():
    heat = torch.zeros(5, 5)
    heat[2, 2], heat[2, 3], heat[1, 2] = 1.0, 0.6, 0.3
    assert kp.argmax_decode(heat, shift=True).tolist() == [2.25, 1.75]


def test_nlls_are_torch_distributions_and_differentiable():
    r = torch.randn(50, dtype=torch.float64, requires_grad=True)
    sigma = torch.rand(50, dtype=torch.float64).add(0.1).requires_grad_()
    expected = -torch.distributions.Normal(0.0, sigma).log_prob(r)
    torch.testing.assert_close(kp.gaussian_nll(r, sigma), expected)
    expected = -torch.distributions.Laplace(0.0, sigma).log_prob(r)
    torch.testing.assert_close(kp.laplace_nll(r, sigma), expected)
    (kp.gaussian_nll(r, sigma).sum() + kp.laplace_nll(r, 0.5).sum()).backward()
    assert torch.isfinite(r.grad).all() and torch.isfinite(sigma.grad).all()


def flow(seed=0):
    generator = torch.Generator().manual_seed(seed)
    f = kp.RealNVP(4, 16, generator=generator).double()
    with torch.no_grad():  # away from the identity, so the checks mean something
        for p in f.parameters():
            p.add_(0.15 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return f


def test_flow_inverse_undoes_forward():
    f = flow()
    x = torch.randn(100, 2, dtype=torch.float64)
    z, _ = f(x)
    torch.testing.assert_close(f.inverse(z), x)


def test_flow_log_det_is_the_autograd_jacobian():
    f = flow(1)
    x = torch.randn(5, 2, dtype=torch.float64)
    _, log_det = f(x)
    for n in range(5):
        jacobian = torch.autograd.functional.jacobian(lambda v: f(v[None])[0][0], x[n])
        assert log_det[n].item() == pytest.approx(
            torch.linalg.slogdet(jacobian)[1].item(), abs=1e-10
        )


def test_flow_density_sums_to_one_on_a_grid():
    f = flow(2)
    xs, _, density = kp.flow_density(f, extent=16.0, cells=480)
    cell = (xs[1] - xs[0]).item()
    assert density.sum().item() * cell**2 == pytest.approx(1.0, abs=2e-3)


def test_rle_loss_of_an_identity_flow_is_laplace_plus_normal_plus_log_sigma():
    f = kp.RealNVP(2, 8).double()
    with torch.no_grad():  # zero nets: s = t = 0, the flow is the identity, G = N(0, I)
        for p in f.parameters():
            p.zero_()
    g = torch.Generator().manual_seed(4)
    mu_hat, mu_gt = torch.randn(2, 6, 2, dtype=torch.float64, generator=g)
    sigma_hat = torch.rand(6, 2, dtype=torch.float64, generator=g) + 0.2
    bar = (mu_gt - mu_hat) / sigma_hat
    expected = (
        -torch.distributions.Laplace(0.0, 1.0).log_prob(bar).sum(-1)
        - torch.distributions.Normal(0.0, 1.0).log_prob(bar).sum(-1)
        + sigma_hat.log().sum(-1)
    )
    torch.testing.assert_close(kp.rle_loss(f, mu_hat, sigma_hat, mu_gt), expected)


def test_fitting_the_flow_lowers_the_nll_of_two_modes():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(256, 2, generator=g) * 0.3 + torch.tensor([[2.0, 0.0]]) * torch.sign(
        torch.randn(256, 1, generator=g)
    )
    from core.trace import Trace

    trace = Trace()
    kp.fit_flow(x, couplings=4, hidden=32, steps=100, trace=trace)
    nll = trace["flow_nll"]
    gaussian = kp.gaussian_nll(x - x.mean(0), x.std(0)).sum(-1).mean().item()
    assert nll[-1] < nll[0] and nll[-1] < gaussian - 0.3  # it sees the two modes
