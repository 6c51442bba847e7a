"""The instrumented hooks of core.activations against autograd and brute force.

Reference: a stack built from torch.nn.functional activations (and F.rms_norm for the residual
blocks), differentiated by autograd, on the very weights the hook drew (read from its trace).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import activations as act
from core.trace import Trace

REFERENCE = {
    "step": lambda z: (z > 0).to(z.dtype),  # no gradient at all: the perceptron's problem
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "gelu": F.gelu,
    "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": lambda z: F.softplus(z, threshold=40),
    "glu": lambda z: F.glu(z, dim=-1),
    "reglu": lambda z: F.relu(z.chunk(2, -1)[0]) * z.chunk(2, -1)[1],
    "geglu": lambda z: F.gelu(z.chunk(2, -1)[0]) * z.chunk(2, -1)[1],
    "swiglu": lambda z: F.silu(z.chunk(2, -1)[0]) * z.chunk(2, -1)[1],
}


def autograd_flow(name: str, trace: Trace, residual: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight-gradient norms and output stds of the same stack, by autograd."""
    start = trace["input"][0]
    weights = start["weights"].clone().requires_grad_(True)
    h = start["x"]
    stds = []
    for weight in weights:
        branch_input = F.rms_norm(h, (h.shape[-1],), eps=1e-6) if residual else h
        out = REFERENCE[name](branch_input @ weight)
        h = h + out if residual else out
        stds.append(h.std())
    loss = (h * start["upstream"]).sum()
    if not loss.requires_grad:  # step: nothing depends on the weights differentiably
        return torch.zeros(len(weights), dtype=h.dtype), torch.stack(stds)
    (grad,) = torch.autograd.grad(loss, weights)
    return grad.flatten(1).norm(dim=1), torch.stack(stds)


@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
@pytest.mark.parametrize("init", ["xavier", "kaiming"])
@pytest.mark.parametrize("name", list(act.ACTIVATIONS))
def test_gradient_norms_match_autograd(name, init, residual):
    trace = Trace()
    flow = act.gradient_norms_by_depth(
        name, depth=12, width=16, n_samples=8, init=init, residual=residual, seed=3, trace=trace
    )
    expected, stds = autograd_flow(name, trace, residual)
    finite = torch.isfinite(expected)
    # float64 throughout; the two differ only in the order of the same operations
    torch.testing.assert_close(flow.weight_grad_norm[finite], expected[finite], rtol=1e-9, atol=0)
    torch.testing.assert_close(flow.activation_std, stds, rtol=1e-9, atol=0, equal_nan=True)


def test_sigmoid_gradient_vanishes_with_depth_in_a_plain_stack():
    flow = act.gradient_norms_by_depth("sigmoid", depth=30, init="xavier")
    assert flow.weight_grad_norm[0] < 1e-6 * flow.weight_grad_norm[-1]


def test_relu_with_kaiming_init_keeps_the_gradient_through_50_layers():
    flow = act.gradient_norms_by_depth("relu", depth=50, init="kaiming")
    ratio = flow.weight_grad_norm[0] / flow.weight_grad_norm[-1]
    assert 0.1 < ratio < 10


@pytest.mark.parametrize("name", ["sigmoid", "swiglu", "gelu"])
def test_residual_blocks_carry_the_gradient_to_the_first_layer(name):
    flow = act.gradient_norms_by_depth(name, depth=50, residual=True)
    assert torch.isfinite(flow.weight_grad_norm).all()
    assert flow.weight_grad_norm[0] > 0.1 * flow.weight_grad_norm[-1]


def test_step_passes_no_gradient():
    flow = act.gradient_norms_by_depth("step", depth=5)
    assert torch.count_nonzero(flow.weight_grad_norm) == 0


@pytest.mark.parametrize("depth", [0, 201])
def test_depth_out_of_range_is_a_clear_error(depth):
    with pytest.raises(ValueError, match="depth: must be between 1 and 200"):
        act.gradient_norms_by_depth("relu", depth=depth)


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="name: unknown activation 'swish2'"):
        act.random_layer("swish2")


@pytest.mark.parametrize("name", list(act.ACTIVATIONS))
def test_unit_gradient_is_the_largest_autograd_slope_over_the_batch(name):
    trace = Trace()
    layer = act.random_layer(name, bias_shift=-0.5, n_samples=32, width=8, fan_in=8, trace=trace)
    gate = layer.pre.double().requires_grad_(True)
    if name in act.GATE_OF:
        # rebuild the value half: the layer's pre-activations, in the order F.glu etc. expect
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(32, 8, generator=generator)
        weight = torch.randn(8, 16, generator=generator) / math.sqrt(8)
        a, b = (x @ weight).double().chunk(2, dim=-1)
        gate_first = act.GATE_OF[name][1] == "a"
        value = (b if gate_first else a).requires_grad_(True)
        z = torch.cat((gate, value) if gate_first else (value, gate), dim=-1)
        out = REFERENCE[name](z)
        grads = torch.autograd.grad(out.sum(), (gate, value))
        expected = torch.maximum(grads[0].abs(), grads[1].abs()).amax(0)
    elif name == "step":
        expected = torch.zeros(8, dtype=torch.float64)
    else:
        (grad,) = torch.autograd.grad(REFERENCE[name](gate).sum(), gate)
        expected = grad.abs().amax(0)
    # the hook works in float32: tolerance of float32 slopes of size ≤ 1
    torch.testing.assert_close(layer.unit_gradient.double(), expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(trace["layer"][0]["unit_gradient"], layer.unit_gradient)


def test_dead_relu_units_are_those_negative_for_every_sample():
    layer = act.random_layer("relu", bias_shift=-3.0)
    never_positive = (layer.pre <= 0).all(dim=0)
    assert layer.dead_fraction == pytest.approx(never_positive.float().mean().item())
    assert 0.05 < layer.dead_fraction < 0.95  # the setting shows a partly dead layer


@pytest.mark.parametrize("name", list(act.ACTIVATIONS))
def test_sweep_equals_one_layer_per_bias(name):
    shifts = [-6.0, -2.5, 0.0, 1.0, 6.0]
    fractions = act.dead_unit_fractions(name, shifts, width=32, n_samples=16, fan_in=32, seed=5)
    expected = [
        act.random_layer(
            name, bias_shift=s, width=32, n_samples=16, fan_in=32, seed=5
        ).dead_fraction
        for s in shifts
    ]
    np.testing.assert_allclose(fractions.numpy(), expected, atol=1e-7)


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "silu", "gelu", "swiglu", "geglu"])
def test_units_with_a_slope_for_negative_inputs_do_not_die_at_moderate_bias(name):
    fractions = act.dead_unit_fractions(name, np.linspace(-4, 6, 21), alpha=0.1)
    assert torch.count_nonzero(fractions) == 0


def test_relu_units_all_die_when_the_bias_is_very_negative():
    fractions = act.dead_unit_fractions("relu", [-6.0, 6.0])
    assert fractions.tolist() == [1.0, 0.0]


def test_evaluate_passes_alpha_and_beta_to_the_functions_that_take_them():
    x = torch.linspace(-3, 3, 7)
    y, slope = act.evaluate("leaky_relu", x, alpha=0.3, beta=5.0)
    torch.testing.assert_close(y, F.leaky_relu(x, 0.3))
    y, slope = act.evaluate("softplus", x, alpha=0.3, beta=2.0)
    torch.testing.assert_close(y, F.softplus(x, beta=2.0))
    torch.testing.assert_close(slope, torch.sigmoid(2.0 * x))


def test_evaluate_refuses_gated_units():
    with pytest.raises(ValueError, match="gated"):
        act.evaluate("swiglu", torch.zeros(4))
