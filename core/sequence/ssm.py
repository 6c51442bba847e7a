"""State-space memory: HiPPO-LegS, S4's discretised kernel and Mamba's selective scan.

HiPPO (Gu, Dao, Ermon, Rudra & Ré 2020) keeps the Legendre coefficients of the whole past in
N numbers; S4 (Gu, Goel & Ré 2022) discretises x′ = Ax + Bu and runs it either as a recurrence
or as one long convolution; Mamba (Gu & Dao 2023) makes Δ, B, C depend on the input and runs
the recurrence as a parallel (associative) scan (Blelloch 1990; Smith et al. 2023, S5).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from core.trace import Trace

METHODS = ("zoh", "bilinear")


def hippo_legs(n: int) -> tuple[Tensor, Tensor]:
    """HiPPO-LegS: A_ij = −√(2i+1)√(2j+1) (i > j), −(i+1) (i = j), 0 (i < j); B_i = √(2i+1).

    Gu et al. 2020, eq. (2) / Theorem 2 (x′ = Ax + Bu; LegS divides both by t). -> A (n, n), B (n,).
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    root = torch.sqrt(2 * torch.arange(n, dtype=torch.float64) + 1)
    A = -torch.tril(root[:, None] * root[None, :], diagonal=-1)
    A -= torch.diag(torch.arange(1, n + 1, dtype=torch.float64))
    return A, root.clone()


def discretize(A: Tensor, B: Tensor, dt: float, method: str) -> tuple[Tensor, Tensor]:
    """(Ā, B̄) for step Δ = dt: "zoh" Ā = e^{ΔA}, B̄ = ∫₀^Δ e^{sA} ds B; "bilinear" Ā =
    (I − ΔA/2)⁻¹(I + ΔA/2), B̄ = (I − ΔA/2)⁻¹ΔB.

    S4, eq. (3) for the bilinear form. ZOH reads B̄ off the exponential of the block matrix
    [[A, B], [0, 0]]·Δ, so a singular A needs no A⁻¹. A (N, N), B (N,) -> (N, N), (N,).
    """
    n = A.shape[0]
    if method == "zoh":
        block = A.new_zeros(n + 1, n + 1)
        block[:n, :n] = A * dt
        block[:n, n] = B * dt
        exp = torch.linalg.matrix_exp(block)
        return exp[:n, :n], exp[:n, n]
    if method == "bilinear":
        eye = torch.eye(n, dtype=A.dtype, device=A.device)
        left = eye - A * (dt / 2)
        solved = torch.linalg.solve(left, torch.cat([eye + A * (dt / 2), (B * dt)[:, None]], 1))
        return solved[:, :n], solved[:, n]
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def legendre(n: int, s: Tensor) -> Tensor:
    """Shifted, normalised Legendre basis √(2k+1) P_k(2s − 1), k = 0..n−1, s: (M,) -> (n, M).

    Bonnet's recurrence (k+1) P_{k+1} = (2k+1) z P_k − k P_{k−1}.
    """
    z = 2 * s - 1
    polys = [torch.ones_like(z), z]
    for k in range(1, n - 1):
        polys.append(((2 * k + 1) * z * polys[k] - k * polys[k - 1]) / (k + 1))
    basis = torch.stack(polys[:n])
    return basis * torch.sqrt(2 * torch.arange(n, dtype=s.dtype) + 1)[:, None]


def legs_memory(u: Tensor, n: int, *, trace: Trace | None = None) -> Tensor:
    """HiPPO-LegS online: c_k = Ā_k c_{k−1} + B̄_k u_k, (Ā_k, B̄_k) = discretize(A, B, 1/k,
    "bilinear"), k = 1..L, from c_0 = 0.

    Gu et al. 2020, eq. (4) with the generalised bilinear transform. c_k approximates the
    projection of u_1..u_k (as a function on [0, 1], 1 = now) on the Legendre basis; the past
    is rebuilt by `reconstruct`. u: (L,) -> states (L, n). Records `"legs"` per step (c).
    """
    A, B = hippo_legs(n)
    length = u.shape[0]
    step = 1.0 / torch.arange(1, length + 1, dtype=torch.float64)
    eye = torch.eye(n, dtype=torch.float64)
    # All L bilinear steps at once: (I − A/2k)⁻¹ [(I + A/2k) | B/k], one batched solve.
    left = eye - A * (step[:, None, None] / 2)
    right = torch.cat([eye + A * (step[:, None, None] / 2), (B * step[:, None])[..., None]], -1)
    solved = torch.linalg.solve(left, right)
    A_bar, B_bar = solved[..., :n], solved[..., n]
    c = torch.zeros(n, dtype=torch.float64)
    states = []
    for k in range(length):
        c = A_bar[k] @ c + B_bar[k] * u[k]
        states.append(c)
        if trace is not None:
            trace.record("legs", c=c)
    return torch.stack(states)


def reconstruct(c: Tensor, s: Tensor) -> Tensor:
    """f̂(s) = Σ_n c_n √(2n+1) P_n(2s − 1) on s ∈ [0, 1] (1 = now). c (N,), s (M,) -> (M,)."""
    return c @ legendre(c.shape[0], s)


def ssm_kernel(A_bar: Tensor, B_bar: Tensor, C: Tensor, length: int) -> Tensor:
    """S4's convolution kernel K_j = C Ā^j B̄, j = 0..length−1 (S4, eq. 5). -> (length,).

    Ā^j B̄ by doubling: [v | Ā v] then [V | Ā² V], … in log₂(length) matrix products.
    """
    columns, power = B_bar[:, None], A_bar
    while columns.shape[1] < length:
        columns = torch.cat([columns, power @ columns], dim=1)
        power = power @ power
    return C @ columns[:, :length]


def ssm_recurrent(A_bar: Tensor, B_bar: Tensor, C: Tensor, u: Tensor) -> Tensor:
    """x_k = Ā x_{k−1} + B̄ u_k from x_{−1} = 0, y_k = C x_k. u: (L,) -> y (L,)."""
    x = torch.zeros_like(B_bar)
    y = []
    for u_k in u:
        x = A_bar @ x + B_bar * u_k
        y.append(C @ x)
    return torch.stack(y) if y else u.new_zeros(0)


def causal_convolution(K: Tensor, u: Tensor) -> Tensor:
    """y_k = Σ_{j ≤ k} K_j u_{k−j} by FFT of length ≥ 2L (no wrap-around). K, u: (L,) -> (L,)."""
    length = u.shape[0]
    size = 1 << max(1, (2 * length - 1).bit_length())
    spectrum = torch.fft.rfft(K, n=size) * torch.fft.rfft(u, n=size)
    return torch.fft.irfft(spectrum, n=size)[:length]


def _combine(first: tuple[Tensor, Tensor], second: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """(a₁, b₁) ∘ (a₂, b₂) = (a₁a₂, a₂b₁ + b₂): x ↦ a₂(a₁x + b₁) + b₂, associative."""
    (a1, b1), (a2, b2) = first, second
    return a1 * a2, a2 * b1 + b2


def linear_scan(
    a: Tensor, b: Tensor, *, method: str = "parallel", trace: Trace | None = None
) -> Tensor:
    """x_t = a_t ⊙ x_{t−1} + b_t from x_{−1} = 0 over t; a, b: (…, L, n) -> x (…, L, n).

    "loop": one step at a time; "parallel": Hillis & Steele's inclusive scan with the
    associative `_combine`, ⌈log₂ L⌉ levels, each level combining element t with t − 2^ℓ
    (Blelloch 1990). Never through exp(±ΣΔA), which overflows. Records `"scan_level"` per
    level with `offset` and `b` (the partial states).
    """
    length = a.shape[-2]
    if method == "loop":
        x = torch.zeros_like(b[..., 0, :])
        states = []
        for t in range(length):
            x = a[..., t, :] * x + b[..., t, :]
            states.append(x)
        return torch.stack(states, dim=-2) if states else b.clone()
    if method != "parallel":
        raise ValueError(f"method must be 'loop' or 'parallel', got {method!r}")
    offset = 1
    while offset < length:
        earlier = (a[..., :-offset, :], b[..., :-offset, :])
        later = (a[..., offset:, :], b[..., offset:, :])
        a_new, b_new = _combine(earlier, later)
        a = torch.cat([a[..., :offset, :], a_new], dim=-2)
        b = torch.cat([b[..., :offset, :], b_new], dim=-2)
        if trace is not None:
            trace.record("scan_level", offset=offset, b=b)
        offset *= 2
    return b


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    *,
    method: str = "parallel",
    trace: Trace | None = None,
) -> Tensor:
    """Mamba's selective SSM: x_t = exp(Δ_t A) ⊙ x_{t−1} + Δ_t B_t u_t, y_t = C_t · x_t + D u_t.

    Gu & Dao 2023, Algorithm 2 (Ā by ZOH, B̄ = ΔB as in the reference code; Δ used as given).
    u, delta: (b, d, L); A: (d, n); B, C: (b, n, L); D: (d,) or None -> y (b, d, L).
    Records `"selective_state"` once with `x` (b, d, L, n), besides the scan's levels.
    """
    a = torch.exp(delta[..., None] * A[None, :, None, :])  # (b, d, L, n)
    bu = (delta * u)[..., None] * B.transpose(1, 2)[:, None, :, :]  # (b, d, L, n)
    x = linear_scan(a, bu, method=method, trace=trace)
    if trace is not None:
        trace.record("selective_state", x=x)
    y = torch.einsum("bdln,bnl->bdl", x, C)
    return y if D is None else y + D[None, :, None] * u


def softplus_delta(x: Tensor, w: float, b: float) -> Tensor:
    """Δ_t = softplus(w·x_t + b): w = 0 gives one Δ for every token (an LTI, S4-like layer)."""
    return torch.nn.functional.softplus(w * x + b)


def horizon(K: Tensor, fraction: float = 0.01) -> int:
    """Lags until |K| falls under `fraction` of its peak for good: 1 + the last lag above it."""
    magnitude = K.abs()
    above = torch.nonzero(magnitude >= fraction * magnitude.max()).flatten()
    return int(above[-1]) + 1 if above.numel() else 0


def levels(length: int) -> int:
    """Levels of the parallel scan for `length` elements: ⌈log₂ length⌉."""
    return math.ceil(math.log2(length)) if length > 1 else 0
