"""core.activations checked against independent references.

The implementations are written from closed forms. The references here are
torch.nn.functional for values and torch.autograd for derivatives. All
references run in float64 on the input upcast exactly, so a float32 result is
compared with the float64 value at that same point.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.activations import ACTIVATIONS, DERIVATIVES

INF = math.inf
GATED = ["glu", "reglu", "geglu", "swiglu"]
NON_GATED = ["step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "silu"]
NON_GATED += ["mish", "softplus"]
KINKED = ["relu", "leaky_relu", "elu"]  # not differentiable at 0 (elu only when alpha != 1)


def _gated(gate):
    def f(x):
        a, b = x.chunk(2, dim=-1)
        return gate(a) * b

    return f


REFERENCE = {
    "step": lambda x: torch.heaviside(x, torch.zeros_like(x)),
    "sigmoid": F.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda x, alpha=0.01: F.leaky_relu(x, negative_slope=alpha),
    "elu": lambda x, alpha=1.0: F.elu(x, alpha=alpha),
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": lambda x, beta=1.0: F.silu(x) if beta == 1.0 else x * torch.sigmoid(beta * x),
    "mish": F.mish,
    # F.softplus becomes linear once beta*x > threshold. Past 40, log1p(exp(t)) and t
    # differ by less than 1e-19 relative, so threshold=40 is exact in float64 and
    # avoids exp() overflowing at the extreme inputs.
    "softplus": lambda x, beta=1.0: F.softplus(x, beta=beta, threshold=40.0),
    "glu": lambda x: F.glu(x, dim=-1),
    "reglu": _gated(F.relu),
    "geglu": _gated(F.gelu),
    "swiglu": _gated(F.silu),
}

# (f(-inf), f(+inf), f'(-inf), f'(+inf)) from the closed forms, used at +-inf where
# the references give NaN (inf * 0 in x * sigmoid(x), autograd of gelu, silu, mish).
LIMITS = {
    "step": lambda: (0.0, 1.0, None, None),
    "sigmoid": lambda: (0.0, 1.0, 0.0, 0.0),
    "tanh": lambda: (-1.0, 1.0, 0.0, 0.0),
    "relu": lambda: (0.0, INF, 0.0, 1.0),
    "leaky_relu": lambda alpha=0.01: (-INF, INF, alpha, 1.0),
    "elu": lambda alpha=1.0: (-alpha, INF, 0.0, 1.0),
    "gelu": lambda: (0.0, INF, 0.0, 1.0),
    "gelu_tanh": lambda: (0.0, INF, 0.0, 1.0),
    "silu": lambda beta=1.0: (0.0, INF, 0.0, 1.0),  # beta > 0
    "mish": lambda: (0.0, INF, 0.0, 1.0),
    "softplus": lambda beta=1.0: (0.0, INF, 0.0, 1.0),
}

# Each non-gated function at its defaults, plus non-default parameters, some below
# and some above the usual values.
CASES = [(name, {}) for name in NON_GATED] + [
    (name, {param: value})
    for name, param, values in [
        ("leaky_relu", "alpha", (0.2, 2.0)),
        ("elu", "alpha", (0.2, 2.0)),
        ("silu", "beta", (0.5, 3.0)),
        ("softplus", "beta", (0.5, 3.0)),
    ]
    for value in values
]
DIFF_CASES = [case for case in CASES if case[0] != "step"]
FORWARD_CASES = CASES + [(name, {}) for name in GATED]


def _dtype_id(dtype):
    return str(dtype).removeprefix("torch.")


def _case_id(case):
    name, kw = case
    return "-".join([name, *(f"{k}={v}" for k, v in kw.items())])


# Small shape: 0-d for elementwise functions; a gated function needs an even last dim.
SHAPES = {"small": (), "empty": (0,), "batch": (3, 5, 8)}
GATED_SHAPES = {"small": (2,), "empty": (0, 4), "batch": (3, 5, 8)}


def tolerance(dtype):
    # A closed form rounds a handful of times. Some steps cancel, like 1 + erf(x) for
    # x < 0 or 1 - tanh(u)**2, and lose a few bits relative to the O(1) terms. So use
    # 64 eps of the dtype under test, relative and also absolute for results that
    # cancel towards 0. For float64 that is about 1e-14 and for float32 about 8e-6.
    # float16/bfloat16 round at every op. There 8 eps (about 1e-2 and 6e-2) is the
    # useful resolution.
    eps = torch.finfo(dtype).eps
    k = 64 if dtype in (torch.float32, torch.float64) else 8
    return {"rtol": k * eps, "atol": k * eps}


def random_input(name, shape_key, dtype, seed=1234):
    shape = (GATED_SHAPES if name in GATED else SHAPES)[shape_key]
    generator = torch.Generator().manual_seed(seed)
    # Scale 3 reaches the tails (|x| up to about 10) as well as the curved region around 0.
    return (3 * torch.randn(shape, generator=generator, dtype=torch.float64)).to(dtype)


def reference(name, x, **kw):
    return REFERENCE[name](x.to(torch.float64), **kw)


def reference_derivative(name, x, **kw):
    x64 = x.detach().to(torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(REFERENCE[name](x64, **kw).sum(), x64)
    return grad


def assert_matches(actual, expected, dtype):
    torch.testing.assert_close(actual.to(torch.float64), expected, **tolerance(dtype))


def test_activations_has_exactly_the_contract_names():
    assert set(ACTIVATIONS) == set(NON_GATED) | set(GATED)


def test_derivatives_cover_non_gated_names_except_step():
    assert set(DERIVATIVES) == set(NON_GATED) - {"step"}


@pytest.mark.parametrize("shape_key", SHAPES)
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=_dtype_id
)
@pytest.mark.parametrize("case", FORWARD_CASES, ids=_case_id)
def test_forward_keeps_dtype_and_shape(case, dtype, shape_key):
    name, kw = case
    x = random_input(name, shape_key, dtype)
    out = ACTIVATIONS[name](x, **kw)
    expected_shape = (*x.shape[:-1], x.shape[-1] // 2) if name in GATED else x.shape
    assert out.dtype == dtype
    assert out.shape == expected_shape


@pytest.mark.parametrize("shape_key", SHAPES)
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=_dtype_id
)
@pytest.mark.parametrize("case", FORWARD_CASES, ids=_case_id)
def test_forward_matches_torch_reference(case, dtype, shape_key):
    name, kw = case
    x = random_input(name, shape_key, dtype)
    assert_matches(ACTIVATIONS[name](x, **kw), reference(name, x, **kw), dtype)


@pytest.mark.parametrize("shape_key", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=_dtype_id)
@pytest.mark.parametrize("case", DIFF_CASES, ids=_case_id)
def test_derivative_matches_autograd(case, dtype, shape_key):
    name, kw = case
    x = random_input(name, shape_key, dtype)
    out = DERIVATIVES[name](x, **kw)
    assert out.dtype == dtype
    assert out.shape == x.shape
    assert_matches(out, reference_derivative(name, x, **kw), dtype)


EXTREMES = {
    torch.float32: [0.0, -0.0, 1e-40, -1e-40, 30.0, -30.0, 100.0, -100.0, 1e4, -1e4, INF, -INF],
    torch.float64: [0.0, -0.0, 5e-324, -5e-324, 30.0, -30.0, 100.0, -100.0, 1e4, -1e4, INF, -INF],
}


def _with_limits(expected, x, lower, upper):
    expected = expected.clone()
    expected[x == -INF] = lower
    expected[x == INF] = upper
    return expected


@pytest.mark.parametrize("dtype", EXTREMES, ids=_dtype_id)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_forward_at_extreme_inputs_is_not_nan_and_matches_limits(case, dtype):
    name, kw = case
    x = torch.tensor(EXTREMES[dtype], dtype=dtype)
    out = ACTIVATIONS[name](x, **kw)
    assert not out.isnan().any(), out
    assert out[x.isfinite()].isfinite().all(), out
    f_minus_inf, f_plus_inf, _, _ = LIMITS[name](**kw)
    expected = _with_limits(reference(name, x, **kw), x, f_minus_inf, f_plus_inf)
    assert_matches(out, expected, dtype)


@pytest.mark.parametrize("dtype", EXTREMES, ids=_dtype_id)
@pytest.mark.parametrize("case", DIFF_CASES, ids=_case_id)
def test_derivative_at_extreme_inputs_is_not_nan_and_matches_limits(case, dtype):
    name, kw = case
    x = torch.tensor(EXTREMES[dtype], dtype=dtype)
    out = DERIVATIVES[name](x, **kw)
    assert not out.isnan().any(), out
    assert out.isfinite().all(), out
    _, _, d_minus_inf, d_plus_inf = LIMITS[name](**kw)
    expected = _with_limits(reference_derivative(name, x, **kw), x, d_minus_inf, d_plus_inf)
    # At a kink, 0 has its own test (test_derivative_at_kink_lies_between_one_sided_derivatives).
    keep = x != 0 if name in KINKED else torch.ones_like(x, dtype=torch.bool)
    assert_matches(out[keep], expected[keep], dtype)


RELU_LIKE = ["relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "silu", "mish", "softplus"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64], ids=_dtype_id)
@pytest.mark.parametrize("case", [c for c in CASES if c[0] in RELU_LIKE], ids=_case_id)
def test_relu_like_returns_x_at_the_largest_finite_input(case, dtype):
    # f(x) -> x as x -> inf; intermediates such as beta * x or x**3 must not turn the
    # largest finite input into inf or NaN on the way.
    name, kw = case
    x = torch.tensor(torch.finfo(dtype).max, dtype=dtype)
    assert_matches(ACTIVATIONS[name](x, **kw), x.to(torch.float64), dtype)


@pytest.mark.parametrize("zero", [0.0, -0.0])
@pytest.mark.parametrize("case", [c for c in DIFF_CASES if c[0] in KINKED], ids=_case_id)
def test_derivative_at_kink_lies_between_one_sided_derivatives(case, zero):
    # At 0 any value between the one-sided derivatives is a valid convention (autograd
    # picks 0 for relu, alpha for leaky_relu and elu), so the test accepts any of them.
    name, kw = case
    sides = torch.tensor([-1e-300, 1e-300], dtype=torch.float64)
    lo, hi = sorted(reference_derivative(name, sides, **kw).tolist())
    at_zero = DERIVATIVES[name](torch.tensor([zero], dtype=torch.float64), **kw).item()
    assert lo <= at_zero <= hi


@pytest.mark.parametrize("name", NON_GATED + GATED)
def test_nan_propagates_through_forward(name):
    x = torch.full((3, 4), math.nan, dtype=torch.float64)
    assert ACTIVATIONS[name](x).isnan().all()


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_nan_propagates_through_derivative(name):
    x = torch.full((3, 4), math.nan, dtype=torch.float64)
    assert DERIVATIVES[name](x).isnan().all()


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 1)])
@pytest.mark.parametrize("name", GATED)
def test_gated_with_odd_last_dim_raises_value_error(name, shape):
    with pytest.raises(ValueError):
        ACTIVATIONS[name](torch.ones(shape))


@pytest.mark.parametrize(
    "name, gate", [("glu", None), ("reglu", "relu"), ("geglu", "gelu"), ("swiglu", "silu")]
)
def test_gated_is_activated_gate_times_value(name, gate):
    x = random_input(name, "batch", torch.float64)
    a, b = x.chunk(2, dim=-1)
    # glu is the exception: as in F.glu (which test_forward_matches_torch_reference holds it
    # to), the first half is the value and sigmoid of the second half the gate.
    expected = a * ACTIVATIONS["sigmoid"](b) if gate is None else ACTIVATIONS[gate](a) * b
    assert_matches(ACTIVATIONS[name](x), expected, torch.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=_dtype_id)
def test_step_is_exactly_zero_at_and_below_zero_and_one_above(dtype):
    tiny = torch.finfo(dtype).smallest_normal * torch.finfo(dtype).eps  # smallest subnormal
    negative = torch.tensor([0.0, -0.0, -tiny, -1.0, -1e30, -INF], dtype=dtype)
    positive = torch.tensor([tiny, 1e-30, 1.0, 1e30, INF], dtype=dtype)
    assert ACTIVATIONS["step"](negative).tolist() == [0.0] * len(negative)
    assert ACTIVATIONS["step"](positive).tolist() == [1.0] * len(positive)


# Hypothesis checks identities from the closed forms, in float64, across a wide finite range.
finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_subnormal=True)
hypothesis_settings = settings(max_examples=200, deadline=None, database=None)


def _at(name, value, **kw):
    return ACTIVATIONS[name](torch.tensor(value, dtype=torch.float64), **kw)


@hypothesis_settings
@given(x=finite)
def test_sigmoid_of_x_plus_sigmoid_of_minus_x_is_one(x):
    assert_matches(
        _at("sigmoid", x) + _at("sigmoid", -x),
        torch.tensor(1.0, dtype=torch.float64),
        torch.float64,
    )


@hypothesis_settings
@given(x=finite)
def test_tanh_is_odd(x):
    assert_matches(_at("tanh", -x), -_at("tanh", x), torch.float64)


@pytest.mark.parametrize(
    "case",
    [("gelu", {}), ("gelu_tanh", {}), ("silu", {"beta": 3.0}), ("softplus", {"beta": 0.5})],
    ids=_case_id,
)
@hypothesis_settings
@given(x=finite)
def test_odd_part_is_identity(case, x):
    # gelu, gelu_tanh, silu are x * g(x) with g(x) + g(-x) == 1; softplus(x) - softplus(-x)
    # is log(exp(beta * x)) / beta. Either way f(x) - f(-x) == x, for any beta.
    name, kw = case
    assert_matches(
        _at(name, x, **kw) - _at(name, -x, **kw),
        torch.tensor(x, dtype=torch.float64),
        torch.float64,
    )
