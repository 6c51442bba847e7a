"""Coupling flows: NICE's additive and RealNVP's affine couplings, log-likelihood, training.

Dinh, Krueger & Bengio 2015 (NICE), eqs. (4)–(7); Dinh, Sohl-Dickstein & Bengio 2017 (RealNVP),
eqs. (4)–(9). A flow f maps data x to a latent z = f(x) through layers that each leave the
coordinates with mask b = 1 unchanged and shift (and, affine, scale) the others by functions of
b⊙x, so that the Jacobian is triangular and

    log p(x) = log N(f(x); 0, I) + Σ_layers log|det ∂f_l/∂h|          (change of variables)

NICE's additive coupling has log|det| = 0; its volume change sits in a final diagonal scaling
layer z = h⊙exp(log_scale). Generation runs the inverse: x = f⁻¹(z), z ~ N(0, I).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from core.generative.mlp import Adam, seeded_mlp
from core.trace import Trace

Fn = Callable[[Tensor], Tensor]
Layer = tuple[Tensor, Fn, Fn | None]  # (mask (D,) bool, t_fn, s_fn or None)
FlowKind = Literal["nice", "realnvp"]
S_MAX = 2.0  # RealNVP's scale s = S_MAX·tanh(·): each coupling scales by at most e^±2


def coupling_forward(
    x: Tensor, mask: Tensor, t_fn: Fn, s_fn: Fn | None = None
) -> tuple[Tensor, Tensor]:
    """One coupling layer x -> y and its log|det ∂y/∂x|.

    x: (N, D); mask (D,) bool, True where a coordinate passes unchanged; t_fn, s_fn: (N, D) ->
    (N, D), called with b⊙x. Affine (RealNVP eq. 6): y = b⊙x + (1−b)⊙(x⊙exp(s) + t),
    log_det = Σ(1−b)⊙s. Additive (NICE eq. 5, s_fn None): y = b⊙x + (1−b)⊙(x + t), log_det = 0.
    Returns y (N, D) and log_det (N,).
    """
    b = mask.to(x.dtype)
    xb = x * b
    t = t_fn(xb)
    if s_fn is None:
        return xb + (1 - b) * (x + t), x.new_zeros(x.shape[0])
    s = s_fn(xb)
    return xb + (1 - b) * (x * torch.exp(s) + t), ((1 - b) * s).sum(-1)


def coupling_inverse(y: Tensor, mask: Tensor, t_fn: Fn, s_fn: Fn | None = None) -> Tensor:
    """The inverse of `coupling_forward`: x = b⊙y + (1−b)⊙(y − t(b⊙y))⊙exp(−s(b⊙y)).

    y: (N, D) -> x (N, D). b⊙y = b⊙x, so t and s see the same input as in the forward pass.
    """
    b = mask.to(y.dtype)
    yb = y * b
    t = t_fn(yb)
    if s_fn is None:
        return yb + (1 - b) * (y - t)
    return yb + (1 - b) * (y - t) * torch.exp(-s_fn(yb))


def flow_forward(
    x: Tensor, layers: Sequence[Layer], log_scale: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Data -> latent through `layers` in order, then z = h⊙exp(log_scale) (NICE eq. 7).

    x: (N, D); layers: (mask, t_fn, s_fn) triples; log_scale (D,) or None.
    Returns z (N, D) and the summed log|det J| (N,).
    """
    h, log_det = x, x.new_zeros(x.shape[0])
    for mask, t_fn, s_fn in layers:
        h, layer_log_det = coupling_forward(h, mask, t_fn, s_fn)
        log_det = log_det + layer_log_det
    if log_scale is not None:
        h = h * torch.exp(log_scale)
        log_det = log_det + log_scale.sum()
    return h, log_det


def flow_inverse(z: Tensor, layers: Sequence[Layer], log_scale: Tensor | None = None) -> Tensor:
    """Latent -> data: undo the scaling, then the layers in reverse order. z: (N, D) -> (N, D)."""
    h = z if log_scale is None else z * torch.exp(-log_scale)
    for mask, t_fn, s_fn in reversed(layers):
        h = coupling_inverse(h, mask, t_fn, s_fn)
    return h


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) per row: −½‖z‖² − (D/2)·log 2π. z: (N, D) -> (N,)."""
    return -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


def flow_log_prob(x: Tensor, layers: Sequence[Layer], log_scale: Tensor | None = None) -> Tensor:
    """log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x| (the change of variables). x: (N, D) -> (N,)."""
    z, log_det = flow_forward(x, layers, log_scale)
    return standard_normal_log_prob(z) + log_det


class _CouplingNet(nn.Module):
    """The MLP of one coupling: b⊙x (N, D) -> t (N, D) and, affine, s (N, D).

    t_fn and s_fn share one MLP; its last output is kept so that the two calls a coupling
    makes with the same b⊙x cost one forward pass.
    """

    def __init__(self, dim: int, width: int, affine: bool, seed: int) -> None:
        super().__init__()
        self.dim, self.affine = dim, affine
        out = 2 * dim if affine else dim
        self.net = seeded_mlp((dim, width, width, out), seed, zero_last=True)
        self._last: tuple[Tensor, Tensor] | None = None

    def _out(self, xb: Tensor) -> Tensor:
        if self._last is not None and self._last[0] is xb:
            return self._last[1]
        out = self.net(xb)
        self._last = (xb, out)
        return out

    def t_fn(self, xb: Tensor) -> Tensor:
        return self._out(xb)[:, : self.dim]

    def s_fn(self, xb: Tensor) -> Tensor:
        return S_MAX * torch.tanh(self._out(xb)[:, self.dim :])


class CouplingFlow(nn.Module):
    """A stack of couplings with alternating masks; NICE adds the diagonal scaling layer.

    kind "nice": additive couplings + log_scale (D,); "realnvp": affine couplings, no scaling
    layer. Every coupling starts as the identity (its last linear layer is zero).
    """

    def __init__(self, kind: FlowKind, n_layers: int, width: int, dim: int = 2, seed: int = 0):
        super().__init__()
        if kind not in ("nice", "realnvp"):
            raise ValueError(f"kind: 'nice' or 'realnvp', got {kind!r}")
        self.kind = kind
        self.nets = nn.ModuleList(
            _CouplingNet(dim, width, kind == "realnvp", seed * 1000 + i) for i in range(n_layers)
        )
        self.register_buffer(
            "masks", torch.stack([torch.arange(dim) % 2 == i % 2 for i in range(n_layers)])
        )
        self.log_scale = nn.Parameter(torch.zeros(dim)) if kind == "nice" else None

    def layers(self) -> list[Layer]:
        """(mask, t_fn, s_fn) per coupling, for `flow_forward` and friends."""
        return [
            (mask, net.t_fn, net.s_fn if net.affine else None)
            for mask, net in zip(self.masks, self.nets, strict=True)
        ]

    def log_prob(self, x: Tensor) -> Tensor:
        return flow_log_prob(x, self.layers(), self.log_scale)

    def forward_trace(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Points after each layer (n_layers + 1 or + 2 with the scaling layer, row 0 = x) and
        each layer's log|det J| (N,), without gradients."""
        points, log_dets = [x], []
        with torch.no_grad():
            h = x
            for layer in self.layers():
                h, log_det = coupling_forward(h, *layer)
                points.append(h)
                log_dets.append(log_det)
            if self.log_scale is not None:
                h = h * torch.exp(self.log_scale)
                points.append(h)
                log_dets.append(self.log_scale.sum().expand(x.shape[0]))
        return points, log_dets

    def inverse_trace(self, z: Tensor) -> list[Tensor]:
        """Latent points pulled back layer by layer: row 0 = z, last = f⁻¹(z)."""
        points = [z]
        with torch.no_grad():
            h = z
            if self.log_scale is not None:
                h = h * torch.exp(-self.log_scale)
                points.append(h)
            for layer in reversed(self.layers()):
                h = coupling_inverse(h, *layer)
                points.append(h)
        return points


def train_flow(
    x_train: Tensor,
    x_test: Tensor,
    *,
    kind: FlowKind,
    n_layers: int,
    width: int,
    steps: int,
    lr: float,
    seed: int = 0,
    batch: int = 256,
    eval_every: int = 1,
    trace: Trace | None = None,
) -> CouplingFlow:
    """Maximum likelihood with Adam: minimise −mean log p(x) over minibatches of x_train.

    x_train, x_test: (N, D) float32. The model's init and the minibatches come from `seed`.
    `trace` gets "step" events (step, loss) and, every `eval_every` steps and at the end,
    "test" events (step, nll) with the held-out negative log-likelihood in nats.
    """
    model = CouplingFlow(kind, n_layers, width, x_train.shape[1], seed)
    optimizer = Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    n = x_train.shape[0]
    for step in range(steps + 1):
        if trace is not None and (step % eval_every == 0 or step == steps):
            with torch.no_grad():
                nll = -model.log_prob(x_test).mean().item()
            trace.record("test", step=step, nll=nll)
        if step == steps:
            break
        idx = torch.randint(0, n, (min(batch, n),), generator=g)
        loss = -model.log_prob(x_train[idx]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if trace is not None:
            trace.record("step", step=step, loss=loss.item())
    return model
