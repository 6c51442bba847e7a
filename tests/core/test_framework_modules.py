"""core.framework.modules: the functional spelling equals the module, state updates included."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from core.framework.modules import describe, functional_forward


def forbid_calls(module: nn.Module) -> nn.Module:
    """A copy whose forward and __call__ path raise: functional_forward must not use them."""
    twin = copy.deepcopy(module)

    def refuse(*args, **kwargs):
        raise AssertionError("the module was called")

    twin.forward = refuse
    twin._conv_forward = refuse
    return twin


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "options",
    [
        {"kernel_size": 3, "padding": 1},
        {"kernel_size": (3, 4), "padding": "same", "dilation": (1, 2)},  # uneven "same"
        {"kernel_size": 3, "padding": "valid"},
        {"kernel_size": 3, "padding": (2, 1), "stride": 2, "groups": 2},
    ],
    ids=["int", "same-uneven", "valid", "stride-groups"],
)
def test_conv2d_equals_the_module_in_every_padding_mode(padding_mode, options):
    torch.manual_seed(0)
    module = nn.Conv2d(4, 6, padding_mode=padding_mode, **options).double()
    x = torch.randn(2, 4, 9, 11, dtype=torch.float64)
    expected = module(x)
    got = functional_forward(forbid_calls(module), x)
    assert got.shape == expected.shape
    assert torch.equal(got, expected)  # the same kernel on the same numbers: bit-identical


def test_linear_equals_the_module_with_and_without_bias():
    torch.manual_seed(1)
    x = torch.randn(5, 3, 7)
    for bias in (True, False):
        module = nn.Linear(7, 4, bias=bias)
        assert torch.equal(functional_forward(forbid_calls(module), x), module(x))


@pytest.mark.parametrize("training", [True, False])
def test_dropout_draws_the_same_mask_for_the_same_seed(training):
    module = nn.Dropout(0.3).train(training)
    x = torch.ones(1000)
    torch.manual_seed(7)
    expected = module(x)
    torch.manual_seed(7)
    got = functional_forward(forbid_calls(module), x)
    assert torch.equal(got, expected)
    assert torch.equal(got, x) != training  # only training drops


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("track", [True, False])
def test_batch_norm_updates_running_stats_as_the_module_does(momentum, track):
    torch.manual_seed(2)
    module = nn.BatchNorm2d(3, momentum=momentum, track_running_stats=track).double()
    with torch.no_grad():
        module.weight.uniform_(0.5, 1.5)
        module.bias.uniform_(-1, 1)
    twin = forbid_calls(module)
    for step in range(4):
        x = torch.randn(4, 3, 5, 5, dtype=torch.float64) * (step + 1) + step
        assert torch.allclose(functional_forward(twin, x), module(x), rtol=0, atol=1e-12)
        for name, buffer in module.named_buffers():
            assert torch.equal(dict(twin.named_buffers())[name], buffer), name
    module.eval()
    twin.eval()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    assert torch.allclose(functional_forward(twin, x), module(x), rtol=0, atol=1e-12)
    if track:
        assert int(twin.num_batches_tracked) == 4


def test_other_module_types_are_refused():
    for module in (nn.ReLU(), nn.Conv1d(1, 1, 1), nn.Dropout2d(), nn.BatchNorm1d(2)):
        with pytest.raises(ValueError, match="not one of"):
            functional_forward(module, torch.zeros(2, 2, 2, 2))


def test_describe_lists_parameters_buffers_and_state_dict_keys_in_order():
    module = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(), nn.Linear(4, 3))
    module[1].register_buffer("scratch", torch.zeros(5), persistent=False)
    module.eval()
    info = describe(module)
    assert info["parameters"] == {
        "0.weight": (2, 1, 3, 3),
        "0.bias": (2,),
        "1.weight": (2,),
        "1.bias": (2,),
        "3.weight": (3, 4),
        "3.bias": (3,),
    }
    assert info["buffers"] == {
        "1.running_mean": (2,),
        "1.running_var": (2,),
        "1.num_batches_tracked": (),
        "1.scratch": (5,),
    }
    assert info["state_dict"] == list(module.state_dict())
    assert "1.scratch" not in info["state_dict"]  # non-persistent: not saved
    assert info["training"] is False
    assert info["n_trainable"] == 18 + 2 + 4 + 15
    module[0].weight.requires_grad_(False)
    assert describe(module)["n_trainable"] == 2 + 4 + 15
