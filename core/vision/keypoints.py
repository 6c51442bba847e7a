"""Keypoints from heatmaps and from regression: decoding, likelihoods, and RLE's learned density.

- Heatmap targets: a Gaussian around the keypoint on an H × W grid (Tompson et al. 2014 style).
- `argmax_decode`: the maximal cell, optionally shifted a quarter cell towards the higher
  neighbour (Xiao et al. 2018, SimpleBaseline); its error is quantisation, RMS stride/√12 per axis.
- `soft_argmax`: the expectation of the cell coordinates under softmax(β·h) (Sun et al. 2018,
  integral regression): differentiable and sub-cell, but pulled to the map's centre by
  background mass.
- `gaussian_nll`, `laplace_nll`: L2 and L1 regression as likelihoods.
- `RealNVP`: a small normalising flow on 2-D residuals (Dinh et al. 2017), and `rle_loss`, the
  residual log-likelihood estimation of Li et al. 2021.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from core.trace import Trace

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_heatmap(
    point: Tensor, size: tuple[int, int], sigma: float, stride: float = 1.0
) -> Tensor:
    """exp(−‖c − p/stride‖² / 2σ²) at each cell c = (j, i) of an H × W grid.

    point: (..., 2) x, y in input units -> (..., H, W), σ in cells.
    """
    height, width = size
    p = torch.as_tensor(point) / stride
    ys = torch.arange(height, dtype=p.dtype)
    xs = torch.arange(width, dtype=p.dtype)
    dx2 = (xs - p[..., 0, None]) ** 2  # (..., W)
    dy2 = (ys - p[..., 1, None]) ** 2  # (..., H)
    return torch.exp(-(dy2[..., :, None] + dx2[..., None, :]) / (2 * sigma**2))


def _grid(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    height, width = heatmaps.shape[-2:]
    ys = torch.arange(height, dtype=heatmaps.dtype, device=heatmaps.device)
    xs = torch.arange(width, dtype=heatmaps.dtype, device=heatmaps.device)
    return xs, ys


def soft_argmax(heatmaps: Tensor, beta: float = 1.0, *, trace: Trace | None = None) -> Tensor:
    """Σ softmax(β·h) × (x, y) over the H·W cells, cell (i, j) at x = j, y = i (cell units).

    Sun et al. 2018, "Integral Human Pose Regression", eq. (3). heatmaps (..., H, W) -> (..., 2)
    in the heatmaps' dtype, differentiable.
    """
    if heatmaps.ndim < 2:
        raise ValueError(f"heatmaps: expected (..., H, W), got {tuple(heatmaps.shape)}")
    height, width = heatmaps.shape[-2:]
    weights = torch.softmax(beta * heatmaps.flatten(-2), -1).unflatten(-1, (height, width))
    xs, ys = _grid(heatmaps)
    x = (weights.sum(-2) * xs).sum(-1)
    y = (weights.sum(-1) * ys).sum(-1)
    point = torch.stack([x, y], -1)
    if trace is not None:
        trace.record("soft_argmax", weights=weights, point=point)
    return point


def argmax_decode(
    heatmaps: Tensor, stride: float = 1, *, shift: bool = False, trace: Trace | None = None
) -> Tensor:
    """(j·stride, i·stride) of the maximal cell (the first in row-major order on ties).

    With `shift`, SimpleBaseline's refinement (Xiao et al. 2018): a quarter cell towards the
    higher of the two neighbours along each axis, where both exist.
    heatmaps (..., H, W) -> (..., 2), floating.
    """
    if heatmaps.ndim < 2:
        raise ValueError(f"heatmaps: expected (..., H, W), got {tuple(heatmaps.shape)}")
    height, width = heatmaps.shape[-2:]
    flat = heatmaps.flatten(-2)
    index = torch.argmax(flat, -1)  # the first maximal index, as documented by torch
    dtype = heatmaps.dtype if heatmaps.is_floating_point() else torch.get_default_dtype()
    i, j = (index // width).to(dtype), (index % width).to(dtype)
    point = torch.stack([j, i], -1)
    if shift:
        ii, jj = index // width, index % width

        def at(di: int, dj: int) -> Tensor:
            r = (ii + di).clamp(0, height - 1)
            c = (jj + dj).clamp(0, width - 1)
            return flat.gather(-1, (r * width + c).unsqueeze(-1)).squeeze(-1)

        inside_x = (jj > 0) & (jj < width - 1)
        inside_y = (ii > 0) & (ii < height - 1)
        dx = torch.where(inside_x, torch.sign(at(0, 1) - at(0, -1)), 0).to(dtype)
        dy = torch.where(inside_y, torch.sign(at(1, 0) - at(-1, 0)), 0).to(dtype)
        point = point + 0.25 * torch.stack([dx, dy], -1)
    point = point * stride
    if trace is not None:
        trace.record("argmax", index=index, point=point)
    return point


def gaussian_nll(residual: Tensor, sigma: Tensor | float) -> Tensor:
    """−log N(r; 0, σ²) = log σ + ½ log 2π + r²/2σ², elementwise with broadcasting."""
    residual, sigma = torch.as_tensor(residual), torch.as_tensor(sigma)
    return torch.log(sigma) + HALF_LOG_2PI + residual**2 / (2 * sigma**2)


def laplace_nll(residual: Tensor, scale: Tensor | float) -> Tensor:
    """−log Laplace(r; 0, b) = log 2b + |r|/b, elementwise with broadcasting."""
    residual, scale = torch.as_tensor(residual), torch.as_tensor(scale)
    return torch.log(2 * scale) + residual.abs() / scale


# --- RealNVP on 2-D residuals ----------------------------------------------------------------


class RealNVP(nn.Module):
    """A RealNVP flow on R²: affine couplings with alternating masks, tanh-bounded log-scales,
    a standard normal base. Dinh et al. 2017, eqs. (4)–(6).

    z = f(x): each coupling keeps x_m (m the mask) and maps x_{1−m} ↦ x_{1−m}·exp(s) + t with
    s, t = MLP(x_m); log q(x) = log N(f(x)) + Σ s (the log-determinant of the Jacobian).
    """

    def __init__(self, couplings: int = 4, hidden: int = 32, *, generator=None) -> None:
        super().__init__()
        masks = torch.tensor([[1.0, 0.0], [0.0, 1.0]] * ((couplings + 1) // 2))[:couplings]
        self.register_buffer("masks", masks)
        self.nets = nn.ModuleList(
            nn.Sequential(
                nn.Linear(2, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(),
                nn.Linear(hidden, 4),
            )
            for _ in range(couplings)
        )  # fmt: skip
        with torch.no_grad():  # start near the identity, seeded
            for net in self.nets:
                for layer in net:
                    if isinstance(layer, nn.Linear):
                        bound = 1 / math.sqrt(layer.in_features)
                        layer.weight.uniform_(-bound, bound, generator=generator)
                        layer.bias.zero_()
                net[-1].weight.mul_(0.01)

    def _scale_shift(self, k: int, x: Tensor) -> tuple[Tensor, Tensor]:
        mask = self.masks[k]
        s, t = self.nets[k](x * mask).chunk(2, -1)
        s = torch.tanh(s) * (1 - mask)  # bounded log-scale, only on the transformed coordinate
        return s, t * (1 - mask)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (N, 2) -> z (N, 2), log|det ∂z/∂x| (N,)."""
        log_det = x.new_zeros(x.shape[:-1])
        for k in range(len(self.nets)):
            s, t = self._scale_shift(k, x)
            x = x * torch.exp(s) + t  # the masked coordinate is unchanged: s = t = 0 there
            log_det = log_det + s.sum(-1)
        return x, log_det

    def inverse(self, z: Tensor) -> Tensor:
        """z (N, 2) -> x (N, 2): the couplings undone in reverse order."""
        for k in reversed(range(len(self.nets))):
            s, t = self._scale_shift(k, z)  # depends only on the unchanged masked coordinate
            z = (z - t) * torch.exp(-s)
        return z

    def log_prob(self, x: Tensor) -> Tensor:
        """log q(x) by the change of variables. x (N, 2) -> (N,)."""
        z, log_det = self(x)
        return -(z**2).sum(-1) / 2 - 2 * HALF_LOG_2PI + log_det


def fit_flow(
    samples: Tensor,
    couplings: int = 4,
    hidden: int = 32,
    steps: int = 200,
    lr: float = 1e-2,
    seed: int = 0,
    *,
    trace: Trace | None = None,
) -> RealNVP:
    """A RealNVP fitted to samples (N, 2) by full-batch Adam on the mean NLL."""
    generator = torch.Generator().manual_seed(seed)
    flow = RealNVP(couplings, hidden, generator=generator).to(samples.dtype)
    optimiser = torch.optim.Adam(flow.parameters(), lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            nll = -flow.log_prob(samples).mean()
            optimiser.zero_grad()
            nll.backward()
            optimiser.step()
            if trace is not None:
                trace.record("flow_nll", nll.item())
    return flow


def flow_density(flow: RealNVP, extent: float, cells: int = 64, *, trace: Trace | None = None):
    """The flow's density on a cells × cells grid over [−extent, extent]²: (xs, ys, density)."""
    xs = torch.linspace(-extent, extent, cells, dtype=flow.masks.dtype)
    grid = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), -1).reshape(-1, 2)
    with torch.no_grad():
        density = flow.log_prob(grid).exp().reshape(cells, cells)
    if trace is not None:
        trace.record("density", xs=xs, density=density)
    return xs, xs, density


def rle_loss(flow: RealNVP, mu_hat: Tensor, sigma_hat: Tensor, mu_gt: Tensor) -> Tensor:
    """RLE's loss −log Q(μ̄) − log G_φ(μ̄) + log σ̂ with μ̄ = (μ_g − μ̂)/σ̂, Q Laplace(0, 1).

    Li et al. 2021, "Human Pose Regression with Residual Log-likelihood Estimation", eq. (9) with
    the residual flow G_φ = the flow's density. Shapes (N, 2) -> (N,).
    """
    bar = (mu_gt - mu_hat) / sigma_hat
    log_q = -laplace_nll(bar, torch.ones_like(bar)).sum(-1)
    return -log_q - flow.log_prob(bar) + torch.log(sigma_hat).sum(-1)
