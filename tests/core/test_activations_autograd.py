"""Autograd through the closed forms agrees with the closed-form derivatives, kinks included."""

import pytest
import torch

from core.activations import ACTIVATIONS, DERIVATIVES

# 0 and −0 are the kinks; ±30 and ±1e4 the tails, where a careless branch gives NaN or inf.
POINTS = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 2.0, -2.0, 30.0, -30.0, 1e4, -1e4]


@pytest.mark.parametrize("name", list(DERIVATIVES))
def test_autograd_through_the_function_equals_its_derivative(name):
    generator = torch.Generator().manual_seed(11)
    x = torch.cat([torch.tensor(POINTS), 4 * torch.randn(64, generator=generator)])
    x = x.double().requires_grad_(True)
    ACTIVATIONS[name](x).sum().backward()
    # float64; autograd's chain rule rounds differently from the closed form in far tails
    # (e.g. tanh'(30) ≈ 3.5e-26 where 1 − tanh² rounds to 0): an absolute 1e-12 is exact enough
    torch.testing.assert_close(x.grad, DERIVATIVES[name](x.detach()), rtol=1e-12, atol=1e-12)
