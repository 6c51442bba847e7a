"""Activation functions from their closed forms, their derivatives, and two instrumented hooks.

History in one line: the perceptron's threshold (Rosenblatt 1957) → sigmoid and tanh → ReLU
(Nair & Hinton 2010) and its leaky/exponential cousins → GELU (Hendrycks & Gimpel 2016),
SiLU/Swish (Elfwing et al. 2017; Ramachandran et al. 2017), Mish (Misra 2019) → the gated
GLU family (Dauphin et al. 2016; Shazeer 2020, "GLU Variants Improve Transformer").

Every function is written from its formula with torch primitives (exp, expm1, log1p, erfc),
arranged so that no intermediate overflows: ±1e4, ±inf, subnormals and 0 give the right value
and NaN passes through. `torch.nn.functional` is the reference the tests hold them to.

The hooks show what the curves mean for training:
- `random_layer` / `dead_unit_fractions`: how many units of a freshly initialised layer pass
  no gradient for any input of a batch (ReLU's dead units);
- `gradient_norms_by_depth`: the gradient reaching each layer of a deep stack at
  initialisation (sigmoid's vanishing gradient).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from core.trace import Trace

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_RMS_EPS = 1e-6
_GELU_TANH_C = 0.044715  # Hendrycks & Gimpel 2016, eq. for the tanh approximation


def _float(x: Tensor) -> Tensor:
    x = torch.as_tensor(x)
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def _keep_nan(x: Tensor, y: Tensor) -> Tensor:
    """y, except where x is NaN (a comparison such as x > 0 would turn NaN into 0)."""
    return torch.where(torch.isnan(x), x, y)


def _times(x: Tensor, g: Tensor) -> Tensor:
    """x·g where g → 0 faster than x grows: an exact 0 in g wins over an infinite x."""
    return torch.where(g == 0, torch.zeros_like(g), x * g)


def _sech2(x: Tensor) -> Tensor:
    """sech²(x) = 1 − tanh²(x) = 4e^{−2|x|} / (1 + e^{−2|x|})², without cancellation."""
    e = torch.exp(-2 * x.abs())
    return 4 * e / (1 + e) ** 2


# --- the functions ------------------------------------------------------------------------


def step(x: Tensor) -> Tensor:
    """Threshold unit of the perceptron: 1 if x > 0 else 0 (Rosenblatt 1957)."""
    x = _float(x)
    return _keep_nan(x, (x > 0).to(x.dtype))


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^{−x}) for x ≥ 0 and e^x / (1 + e^x) for x < 0: no exp overflows.

    Each branch sees its own half-line (clamp), so autograd through it is exact too.
    """
    x = _float(x)
    e_neg = torch.exp(-x.clamp(min=0))
    e_pos = torch.exp(x.clamp(max=0))
    return torch.where(x >= 0, 1 / (1 + e_neg), e_pos / (1 + e_pos))


def tanh(x: Tensor) -> Tensor:
    """tanh(u) = (1 − e^{−2u}) / (1 + e^{−2u}) for u ≥ 0, and tanh(−u) = −tanh(u).

    expm1 keeps small inputs exact; each branch sees its own half-line (clamp).
    """
    x = _float(x)

    def positive(u: Tensor) -> Tensor:
        em1 = torch.expm1(-2 * u)  # e^{−2u} − 1, in (−1, 0]
        return -em1 / (2 + em1)

    return torch.where(x >= 0, positive(x.clamp(min=0)), -positive(-x.clamp(max=0)))


def relu(x: Tensor) -> Tensor:
    """max(0, x) (Nair & Hinton 2010)."""
    x = _float(x)  # x > 0 picks the branch, so autograd's slope at 0 is 0, as for F.relu
    return _keep_nan(x, torch.where(x > 0, x, torch.zeros_like(x)))


def leaky_relu(x: Tensor, *, alpha: float = 0.01) -> Tensor:
    """x if x ≥ 0 else αx (Maas et al. 2013)."""
    x = _float(x)
    return torch.where(x > 0, x, alpha * x)


def elu(x: Tensor, *, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else α(e^x − 1) (Clevert et al. 2015)."""
    x = _float(x)
    return torch.where(x > 0, x, alpha * torch.expm1(x.clamp(max=0)))


def gelu(x: Tensor) -> Tensor:
    """x·Φ(x) = ½x·erfc(−x/√2), the exact GELU (Hendrycks & Gimpel 2016).

    erfc(−x/√2) equals 1 + erf(x/√2) but keeps its digits when x is very negative.
    """
    x = _float(x)
    return _times(x, 0.5 * torch.erfc(-x / _SQRT_2))


def gelu_tanh(x: Tensor) -> Tensor:
    """½x·(1 + tanh(√(2/π)(x + 0.044715x³))), GELU's tanh approximation (BERT, GPT-2)."""
    x = _float(x)
    u = _SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3)
    return _times(x, 0.5 * (1 + tanh(u)))


def silu(x: Tensor, *, beta: float = 1.0) -> Tensor:
    """x·σ(βx): SiLU for β = 1 (Elfwing et al. 2017), Swish-β (Ramachandran et al. 2017)."""
    x = _float(x)
    return _times(x, sigmoid(beta * x))


def softplus(x: Tensor, *, beta: float = 1.0) -> Tensor:
    """(1/β)·log(1 + e^{βx}), a smooth ReLU."""
    if not beta > 0:
        raise ValueError(f"beta: must be > 0, got {beta}")
    x = _float(x)
    # x ≥ 0: x + log1p(e^{−βx})/β, so βx never has to exist as a number for large x;
    # x < 0: log1p(e^{βx})/β. Each branch sees its own half-line (clamp).
    positive = x.clamp(min=0)
    negative = x.clamp(max=0)
    return torch.where(
        x >= 0,
        positive + torch.log1p(torch.exp(-beta * positive)) / beta,
        torch.log1p(torch.exp(beta * negative)) / beta,
    )


def mish(x: Tensor) -> Tensor:
    """x·tanh(softplus(x)) (Misra 2019)."""
    x = _float(x)
    return _times(x, tanh(softplus(x)))


# --- the gated family: y = f(gate) · value, on the two halves of the last dimension --------

GATE_OF: dict[str, tuple[str, Literal["a", "b"]]] = {
    # name: (activation applied to the gate, which half is the gate)
    "glu": ("sigmoid", "b"),  # a·σ(b)        Dauphin et al. 2016
    "reglu": ("relu", "a"),  # relu(a)·b     Shazeer 2020
    "geglu": ("gelu", "a"),  # gelu(a)·b     Shazeer 2020
    "swiglu": ("silu", "a"),  # silu(a)·b     Shazeer 2020; PaLM, LLaMA
}


def split_halves(x: Tensor, name: str = "x") -> tuple[Tensor, Tensor]:
    """a, b = x.chunk(2, dim=-1), with a clear error when the last dimension is odd."""
    x = _float(x)
    if x.ndim == 0 or x.shape[-1] % 2:
        raise ValueError(
            f"{name}: the last dimension must be even to split into halves a and b, "
            f"got shape {tuple(x.shape)}"
        )
    a, b = x.chunk(2, dim=-1)
    return a, b


def _gated(name: str) -> Callable[[Tensor], Tensor]:
    base, gate_half = GATE_OF[name]

    def gated(x: Tensor) -> Tensor:
        a, b = split_halves(x, name)
        gate, value = (a, b) if gate_half == "a" else (b, a)
        return ACTIVATIONS[base](gate) * value

    gated.__name__ = name
    gated.__doc__ = f"{name}(x) with a, b = x.chunk(2, dim=-1): (…, 2n) -> (…, n)."
    return gated


glu, reglu, geglu, swiglu = (_gated(name) for name in ("glu", "reglu", "geglu", "swiglu"))

# --- derivatives from the closed forms ----------------------------------------------------


def d_sigmoid(x: Tensor) -> Tensor:
    """σ'(x) = σ(x)(1 − σ(x)) = e^{−|x|} / (1 + e^{−|x|})²."""
    x = _float(x)
    e = torch.exp(-x.abs())
    return e / (1 + e) ** 2


def d_tanh(x: Tensor) -> Tensor:
    """tanh'(x) = 1 − tanh²(x) = sech²(x)."""
    return _sech2(_float(x))


def d_relu(x: Tensor) -> Tensor:
    """1 if x > 0 else 0 (0 at x = 0, as autograd takes it)."""
    x = _float(x)
    return _keep_nan(x, (x > 0).to(x.dtype))


def d_leaky_relu(x: Tensor, *, alpha: float = 0.01) -> Tensor:
    """1 if x > 0 else α."""
    x = _float(x)
    return _keep_nan(x, torch.where(x > 0, torch.ones_like(x), torch.full_like(x, alpha)))


def d_elu(x: Tensor, *, alpha: float = 1.0) -> Tensor:
    """1 if x > 0 else αe^x."""
    x = _float(x)
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(x.clamp(max=0)))


def d_gelu(x: Tensor) -> Tensor:
    """Φ(x) + x·φ(x), φ the standard normal density."""
    x = _float(x)
    return 0.5 * torch.erfc(-x / _SQRT_2) + _times(x, _INV_SQRT_2PI * torch.exp(-0.5 * x * x))


def d_gelu_tanh(x: Tensor) -> Tensor:
    """½(1 + tanh u) + ½x·sech²(u)·√(2/π)(1 + 3·0.044715x²), u = √(2/π)(x + 0.044715x³)."""
    x = _float(x)
    u = _SQRT_2_OVER_PI * (x + _GELU_TANH_C * x**3)
    x_du = _SQRT_2_OVER_PI * x * (1 + 3 * _GELU_TANH_C * x * x)  # x · du/dx
    return 0.5 * (1 + tanh(u)) + _times(0.5 * x_du, _sech2(u))


def d_silu(x: Tensor, *, beta: float = 1.0) -> Tensor:
    """σ(βx) + βx·σ'(βx)."""
    x = _float(x)
    return sigmoid(beta * x) + _times(beta * x, d_sigmoid(beta * x))


def d_softplus(x: Tensor, *, beta: float = 1.0) -> Tensor:
    """σ(βx)."""
    if not beta > 0:
        raise ValueError(f"beta: must be > 0, got {beta}")
    return sigmoid(beta * _float(x))


def d_mish(x: Tensor) -> Tensor:
    """tanh(sp) + x·sech²(sp)·σ(x), sp = softplus(x)."""
    x = _float(x)
    sp = softplus(x)
    return tanh(sp) + _times(x, _sech2(sp) * sigmoid(x))


ACTIVATIONS: dict[str, Callable[..., Tensor]] = {
    "step": step,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
    "silu": silu,
    "mish": mish,
    "softplus": softplus,
    "glu": glu,
    "reglu": reglu,
    "geglu": geglu,
    "swiglu": swiglu,
}

DERIVATIVES: dict[str, Callable[..., Tensor]] = {
    "sigmoid": d_sigmoid,
    "tanh": d_tanh,
    "relu": d_relu,
    "leaky_relu": d_leaky_relu,
    "elu": d_elu,
    "gelu": d_gelu,
    "gelu_tanh": d_gelu_tanh,
    "silu": d_silu,
    "mish": d_mish,
    "softplus": d_softplus,
}

ELEMENTWISE = tuple(name for name in ACTIVATIONS if name not in GATE_OF)
# The shape parameter each function takes, for callers that hold one alpha and one beta.
SHAPE_PARAMETER = {
    "leaky_relu": "alpha",
    "elu": "alpha",
    "silu": "beta",
    "softplus": "beta",
}


def _check_name(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"name: unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")


def _check_sizes(**sizes: int) -> None:
    for size_name, value in sizes.items():
        if not (isinstance(value, int) and 1 <= value <= 4096):
            raise ValueError(f"{size_name}: must be an integer between 1 and 4096, got {value!r}")


def _shape_kwargs(name: str, alpha: float | None, beta: float | None) -> dict[str, float]:
    key = SHAPE_PARAMETER.get(name)
    value = {"alpha": alpha, "beta": beta}.get(key) if key else None
    return {key: value} if value is not None else {}


def evaluate(
    name: str, x: Tensor, *, alpha: float | None = None, beta: float | None = None
) -> tuple[Tensor, Tensor]:
    """f(x) and f'(x) of an elementwise activation, passing alpha/beta where it takes one.

    The step function's derivative is 0 wherever it exists (x ≠ 0): no gradient flows.
    """
    _check_name(name)
    if name in GATE_OF:
        raise ValueError(f"name: {name} is gated (two inputs); use gated_partials")
    kwargs = _shape_kwargs(name, alpha, beta)
    y = ACTIVATIONS[name](x, **kwargs)
    if name == "step":
        return y, _keep_nan(y, torch.zeros_like(y))
    return y, DERIVATIVES[name](x, **kwargs)


def gated_partials(name: str, gate: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """y = f(gate)·value and its partials ∂y/∂gate = f'(gate)·value, ∂y/∂value = f(gate)."""
    f_gate, df_gate = evaluate(GATE_OF[name][0], gate)
    return f_gate * value, df_gate * value, f_gate


# --- hook 1: dead units of a random layer -------------------------------------------------


@dataclass
class LayerActivity:
    """One random layer's response to a batch. Shapes: pre, post (n_samples, width)."""

    pre: Tensor  # pre-activations entering the nonlinearity (the gate half for gated units)
    post: Tensor  # the layer's outputs
    unit_gradient: Tensor  # (width,) largest |∂output/∂input| of each unit over the batch
    dead_fraction: float  # share of units whose unit_gradient < tol


def _layer_inputs(
    name: str, fan_in: int, width: int, n_samples: int, seed: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """Pre-activations x·W of a random layer, W ~ N(0, 1/fan_in) so each is ~N(0, 1).

    Returns (gate or plain pre-activations, value half or None), each (n_samples, width).
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, fan_in, generator=generator, dtype=dtype)
    out = 2 * width if name in GATE_OF else width
    weight = torch.randn(fan_in, out, generator=generator, dtype=dtype) / math.sqrt(fan_in)
    pre = x @ weight
    if name not in GATE_OF:
        return pre, None
    a, b = pre.chunk(2, dim=-1)
    return (a, b) if GATE_OF[name][1] == "a" else (b, a)


def _unit_response(
    name: str,
    gate: Tensor,
    value: Tensor | None,
    alpha: float | None,
    beta: float | None,
) -> tuple[Tensor, Tensor]:
    """Outputs and each unit-sample's largest |partial derivative| (..., n_samples, width)."""
    if value is None:
        post, slope = evaluate(name, gate, alpha=alpha, beta=beta)
        return post, slope.abs()
    post, d_gate, d_value = gated_partials(name, gate, value)
    return post, torch.maximum(d_gate.abs(), d_value.abs())


def random_layer(
    name: str,
    *,
    bias_shift: float = 0.0,
    fan_in: int = 128,
    width: int = 128,
    n_samples: int = 256,
    seed: int = 0,
    tol: float = 1e-4,
    alpha: float | None = None,
    beta: float | None = None,
    trace: Trace | None = None,
) -> LayerActivity:
    """A layer y = f(xW + b) with x ~ N(0, I), W ~ N(0, 1/fan_in) and every bias b = bias_shift.

    A unit is dead when its gradient |∂y/∂(xW + b)| stays below `tol` for every sample: it
    cannot learn from this batch (for ReLU: its input is negative for all samples). For gated
    units the bias shifts the gate half, and both partials must vanish.
    """
    _check_name(name)
    _check_sizes(fan_in=fan_in, width=width, n_samples=n_samples)
    gate, value = _layer_inputs(name, fan_in, width, n_samples, seed, torch.float32)
    gate = gate + bias_shift
    post, slope = _unit_response(name, gate, value, alpha, beta)
    unit_gradient = slope.amax(dim=0)
    dead_fraction = float((unit_gradient < tol).float().mean())
    if trace is not None:
        trace.record("layer", pre=gate, post=post, unit_gradient=unit_gradient)
    return LayerActivity(gate, post, unit_gradient, dead_fraction)


def dead_unit_fractions(
    name: str,
    bias_shifts: Sequence[float] | Tensor,
    *,
    fan_in: int = 128,
    width: int = 128,
    n_samples: int = 256,
    seed: int = 0,
    tol: float = 1e-4,
    alpha: float | None = None,
    beta: float | None = None,
    trace: Trace | None = None,
) -> Tensor:
    """`random_layer(...).dead_fraction` for each bias shift at once: (S,) -> (S,)."""
    _check_name(name)
    _check_sizes(fan_in=fan_in, width=width, n_samples=n_samples)
    shifts = torch.as_tensor(bias_shifts, dtype=torch.float32).reshape(-1, 1, 1)
    gate, value = _layer_inputs(name, fan_in, width, n_samples, seed, torch.float32)
    _, slope = _unit_response(name, gate + shifts, value, alpha, beta)
    fractions = (slope.amax(dim=1) < tol).float().mean(dim=1)
    if trace is not None:
        trace.record("sweep", bias_shift=shifts.flatten(), dead_fraction=fractions)
    return fractions


# --- hook 2: gradient flow through a deep stack -------------------------------------------


@dataclass
class GradientFlow:
    """Per-layer quantities of a depth-L stack, index 0 = the layer next to the input."""

    weight_grad_norm: Tensor  # (L,) ‖∂loss/∂W_l‖_F, what a gradient step on W_l sees
    input_grad_norm: Tensor  # (L,) ‖∂loss/∂h_{l−1}‖_F, the gradient leaving layer l downwards
    activation_std: Tensor  # (L,) standard deviation of each layer's output h_l


def gradient_norms_by_depth(
    name: str,
    *,
    depth: int = 20,
    width: int = 64,
    n_samples: int = 32,
    init: Literal["xavier", "kaiming"] = "xavier",
    residual: bool = False,
    seed: int = 0,
    alpha: float | None = None,
    beta: float | None = None,
    trace: Trace | None = None,
) -> GradientFlow:
    """Backpropagate through a stack of `depth` layers at initialisation.

    Plain: h_l = f(h_{l−1} W_l). Residual (pre-norm, as in today's transformers):
    h_l = h_{l−1} + f(RMSNorm(h_{l−1}) W_l), RMSNorm(h) = h / √(mean(h²) + ε) without gain.
    Glorot & Bengio 2010 (Fig. 7): saturating units shrink the gradient layer by layer;
    He et al. 2016: a residual path carries it past every layer.
    x ~ N(0, I) is (n_samples, width); W_l ~ N(0, σ²) with σ² = 2/(fan_in + fan_out) (xavier)
    or 2/fan_in (kaiming); gated layers map width -> 2·width -> width. The loss is
    sum(h_L · r) for a fixed r ~ N(0, I), so ∂loss/∂h_L = r. Computed in float64 with the
    closed-form derivatives; the tests check it against autograd through torch.nn.functional.
    """
    _check_name(name)
    if not 1 <= depth <= 200:
        raise ValueError(f"depth: must be between 1 and 200, got {depth}")
    if init not in ("xavier", "kaiming"):
        raise ValueError(f"init: must be 'xavier' or 'kaiming', got {init!r}")
    _check_sizes(width=width, n_samples=n_samples)
    gate_first = name not in GATE_OF or GATE_OF[name][1] == "a"
    dtype = torch.float64
    generator = torch.Generator().manual_seed(seed)
    # Draw in float32 (4x faster than float64 on CPU), compute in float64 so that a gradient
    # of 1e-30 deep in a sigmoid stack is still a number and not an underflow.
    h = torch.randn(n_samples, width, generator=generator).to(dtype)
    upstream = torch.randn(n_samples, width, generator=generator).to(dtype)
    fan_out = 2 * width if name in GATE_OF else width
    std = math.sqrt(2 / (width + fan_out)) if init == "xavier" else math.sqrt(2 / width)
    weights = torch.randn(depth, width, fan_out, generator=generator).to(dtype) * std
    if trace is not None:
        trace.record("input", x=h, upstream=upstream, weights=weights)

    inputs, slopes, rms, outputs = [], [], [], []
    for weight in weights:  # forward, keeping what backward needs
        if residual:
            rms.append(torch.sqrt(h.pow(2).mean(dim=-1, keepdim=True) + _RMS_EPS))
            inputs.append(h / rms[-1])
        else:
            inputs.append(h)
        z = inputs[-1] @ weight
        if name in GATE_OF:
            a, b = z.chunk(2, dim=-1)
            out, d_gate, d_value = gated_partials(name, *((a, b) if gate_first else (b, a)))
            slopes.append((d_gate, d_value))
        else:
            out, slope = evaluate(name, z, alpha=alpha, beta=beta)
            slopes.append(slope)
        h = h + out if residual else out
        outputs.append(h)

    grad_h, grad_zs, input_norms = upstream, [], []
    for layer in reversed(range(depth)):  # backward: ∂/∂z = ∂/∂h ⊙ f'(z), ∂/∂h_{l−1} = ∂/∂z Wᵀ
        if name in GATE_OF:
            g_gate, g_value = (grad_h * slope for slope in slopes[layer])
            grad_z = torch.cat((g_gate, g_value) if gate_first else (g_value, g_gate), dim=-1)
        else:
            grad_z = grad_h * slopes[layer]
        through_layer = grad_z @ weights[layer].T
        if residual:  # back through u = h/r: ∂/∂h = (∂/∂u − u·mean(∂/∂u ⊙ u)) / r, plus the skip
            u = inputs[layer]
            through_norm = through_layer - u * (through_layer * u).mean(-1, keepdim=True)
            grad_h = grad_h + through_norm / rms[layer]
        else:
            grad_h = through_layer
        grad_zs.append(grad_z)
        input_norms.append(grad_h.norm())
    grad_z_all = torch.stack(grad_zs[::-1])
    weight_grads = torch.stack(inputs).transpose(1, 2) @ grad_z_all  # ∂/∂W_l = h_{l−1}ᵀ ∂/∂z_l
    flow = GradientFlow(
        weight_grad_norm=weight_grads.flatten(1).norm(dim=1),
        input_grad_norm=torch.stack(input_norms[::-1]),
        activation_std=torch.stack(outputs).flatten(1).std(dim=1),
    )
    if trace is not None:
        trace.record("layers", **vars(flow))
    return flow
