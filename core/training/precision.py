"""Floating-point formats for training: bit fields, range and spacing, loss scaling, master weights.

IEEE 754-2019 binary32 / binary16, bfloat16 (Kalamkar et al. 2019) and the FP8 formats E4M3fn /
E5M2 (Micikevicius et al. 2022); loss scaling and FP32 master weights of mixed-precision training
(Micikevicius et al. 2018), with `torch.amp.GradScaler`'s update rule.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

# dtype: (bits, exponent bits, mantissa bits, integer view of the same width)
LAYOUTS = {
    torch.float32: (32, 8, 23, torch.int32),
    torch.float16: (16, 5, 10, torch.int16),
    torch.bfloat16: (16, 8, 7, torch.int16),
    torch.float8_e4m3fn: (8, 4, 3, torch.uint8),
    torch.float8_e5m2: (8, 5, 2, torch.uint8),
}
E4M3_MAX = 448.0


def _layout(dtype: torch.dtype) -> tuple[int, int, int, torch.dtype]:
    if dtype not in LAYOUTS:
        raise ValueError(f"dtype must be one of {[str(d) for d in LAYOUTS]}, got {dtype}")
    return LAYOUTS[dtype]


def format_info(dtype: torch.dtype) -> dict:
    """Field widths, bias and the landmarks of a format (what `torch.finfo` reports).

    smallest_subnormal = 2^(1 − bias − mantissa_bits); eps = 2^−mantissa_bits.
    """
    bits, exponent_bits, mantissa_bits, _ = _layout(dtype)
    bias = 2 ** (exponent_bits - 1) - 1
    finfo = torch.finfo(dtype)
    return {
        "bits": bits,
        "exponent_bits": exponent_bits,
        "mantissa_bits": mantissa_bits,
        "bias": bias,
        "max": float(finfo.max),
        "smallest_normal": 2.0 ** (1 - bias),
        "smallest_subnormal": 2.0 ** (1 - bias - mantissa_bits),
        "eps": 2.0**-mantissa_bits,
    }


def _cast(values: Tensor, dtype: torch.dtype) -> Tensor:
    """FP32 values to `dtype` by round-to-nearest-even; E4M3fn saturates at ±448 (inf too)."""
    if dtype == torch.float8_e4m3fn:
        values = torch.where(values.isnan(), values, values.clamp(-E4M3_MAX, E4M3_MAX))
    return values.to(dtype)


def decompose(value: float, dtype: torch.dtype) -> dict:
    """The stored bits of `value` in `dtype` (FP32 first, as `torch.tensor(value).to(dtype)`).

    sign, biased exponent field, fraction field, the unsigned pattern, the value decoded from
    those fields, its error, the ulp 2^(max(⌊log₂|v|⌋, 1 − bias) − mantissa_bits) (the smallest
    subnormal at 0, NaN for inf / NaN) and the kind of number.
    """
    bits, exponent_bits, mantissa_bits, int_dtype = _layout(dtype)
    bias = 2 ** (exponent_bits - 1) - 1
    cast = _cast(torch.tensor(value, dtype=torch.float32), dtype)
    pattern = int(cast.view(int_dtype)) & ((1 << bits) - 1)
    sign = pattern >> (bits - 1)
    exponent = (pattern >> mantissa_bits) & ((1 << exponent_bits) - 1)
    mantissa = pattern & ((1 << mantissa_bits) - 1)
    all_ones = exponent == (1 << exponent_bits) - 1
    if dtype == torch.float8_e4m3fn and all_ones and mantissa == (1 << mantissa_bits) - 1:
        kind = (
            "nan"  # E4M3fn has no inf: only S.1111.111 is NaN, the rest of the top binade is normal
        )
    elif dtype != torch.float8_e4m3fn and all_ones:
        kind = "nan" if mantissa else "inf"
    elif exponent == 0:
        kind = "subnormal" if mantissa else "zero"
    else:
        kind = "normal"
    signed = -1.0 if sign else 1.0
    if kind == "nan":
        decoded = math.nan
    elif kind == "inf":
        decoded = signed * math.inf
    elif kind in ("zero", "subnormal"):  # 0.f × 2^(1 − bias)
        decoded = signed * mantissa * 2.0 ** (1 - bias - mantissa_bits)
    else:  # 1.f × 2^(e − bias)
        decoded = signed * (1 + mantissa * 2.0**-mantissa_bits) * 2.0 ** (exponent - bias)
    if kind in ("nan", "inf"):
        ulp = math.nan
    elif decoded == 0:
        ulp = 2.0 ** (1 - bias - mantissa_bits)
    else:
        exponent_of_value = math.frexp(decoded)[1] - 1  # ⌊log₂|v|⌋, exact (frexp: [0.5, 1))
        ulp = 2.0 ** (max(exponent_of_value, 1 - bias) - mantissa_bits)
    return {
        "sign": sign,
        "exponent": exponent,
        "mantissa": mantissa,
        "bits": pattern,
        "value": decoded,
        "error": decoded - value,
        "ulp": ulp,
        "kind": kind,
    }


def scale_and_cast(values: Tensor, scale: float, dtype: torch.dtype) -> dict:
    """What a loss-scaled gradient keeps: (values·scale in FP32) → dtype → FP32 ÷ scale.

    Micikevicius et al. 2018, §3.2. `underflow`: a non-zero value cast to 0; `overflow`: a cast
    that is not finite (E4M3fn, which saturates: |values·scale| > 448). values: (…) -> each (…).
    """
    scaled = values.to(torch.float32) * torch.tensor(scale, dtype=torch.float32)
    cast = _cast(scaled, dtype)
    back = cast.to(torch.float32)
    saturating = dtype == torch.float8_e4m3fn
    overflow = scaled.abs() > E4M3_MAX if saturating else ~torch.isfinite(back)
    return {
        "recovered": back / torch.tensor(scale, dtype=torch.float32),
        "underflow": (values != 0) & (back == 0),
        "overflow": overflow,
    }


def _scaler_update(
    scale: np.float32, tracker: int, finite: bool, growth: float, backoff: float, interval: int
) -> tuple[np.float32, int]:
    """One `GradScaler.update`: the new FP32 scale and growth tracker after a step.

    GradScaler's kernel multiplies the FP32 scale by the factors as doubles and rounds the
    product to FP32 (a factor such as 0.3 is not rounded to FP32 first).
    """
    if not finite:
        return np.float32(float(scale) * backoff), 0
    tracker += 1
    if tracker == interval:
        grown = np.float32(float(scale) * growth)
        return (grown if np.isfinite(grown) else scale), 0
    return scale, tracker


def loss_scale_trace(
    grad_is_finite,
    init_scale: float = 65536.0,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> dict:
    """Dynamic loss scaling as `torch.amp.GradScaler.update`, step by step.

    A step with a non-finite gradient is skipped: scale ×= backoff, tracker = 0. A finite one:
    tracker += 1; at `growth_interval`, scale ×= growth unless the FP32 product is inf, and
    tracker = 0. The scale is FP32 (it can underflow to 0). grad_is_finite: (T,) bools ->
    `scale` (T + 1,), `skipped` (T,), `growth_tracker` (T,).
    """
    finite = np.asarray(grad_is_finite, dtype=bool)
    scale, tracker = np.float32(init_scale), 0
    scales, trackers = [float(scale)], []
    with np.errstate(over="ignore"):
        for ok in finite:
            scale, tracker = _scaler_update(
                scale, tracker, bool(ok), growth_factor, backoff_factor, growth_interval
            )
            scales.append(float(scale))
            trackers.append(tracker)
    return {
        "scale": np.asarray(scales),
        "skipped": ~finite,
        "growth_tracker": np.asarray(trackers, dtype=np.int64),
    }


def overflow_threshold(dtype: torch.dtype) -> float:
    """The smallest FP32 magnitude whose cast to `dtype` overflows (`scale_and_cast`'s rule).

    max + ulp(max)/2: that tie rounds to the even neighbour, one past max, so to inf. E4M3fn
    saturates instead; its overflow is |x| > 448, so the threshold is the FP32 number after 448.
    """
    if dtype == torch.float8_e4m3fn:
        return float(np.nextafter(np.float32(E4M3_MAX), np.float32(np.inf)))
    info = format_info(dtype)
    top = math.frexp(info["max"])[1] - 1  # ⌊log₂ max⌋
    return info["max"] + 2.0 ** (top - info["mantissa_bits"] - 1)


def loss_scale_run(
    grad_abs_max,
    dtype: torch.dtype = torch.float16,
    init_scale: float = 65536.0,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> dict:
    """Dynamic loss scaling driven by gradients: step t overflows when max|g_t|·scale_t (FP32)
    cast to `dtype` is not finite, and GradScaler's update follows (`loss_scale_trace`).

    Micikevicius et al. 2018, §3.2. grad_abs_max: (T,) the largest unscaled |gradient| of each
    step -> the keys of `loss_scale_trace` and `overflow_threshold`.
    """
    grads = np.abs(np.asarray(grad_abs_max, dtype=np.float32))
    threshold = np.float32(overflow_threshold(dtype))
    scale, tracker = np.float32(init_scale), 0
    scales, skipped, trackers = [float(scale)], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for g in grads:
            finite = bool(g * scale < threshold)  # the FP32 product; NaN (0 · inf) is not finite
            scale, tracker = _scaler_update(
                scale, tracker, finite, growth_factor, backoff_factor, growth_interval
            )
            scales.append(float(scale))
            skipped.append(not finite)
            trackers.append(tracker)
    return {
        "scale": np.asarray(scales),
        "skipped": np.asarray(skipped, dtype=bool),
        "growth_tracker": np.asarray(trackers, dtype=np.int64),
        "overflow_threshold": float(threshold),
    }


def weight_trajectory(
    w0: Tensor, update: Tensor, steps: int, dtype: torch.dtype, master: bool = True
) -> Tensor:
    """Weights after each of `steps` additions of `update`, stored in `dtype`, as FP32.

    master=True: an FP32 copy m ← m + update, the model's weights m.to(dtype) (Micikevicius et
    al. 2018, §3.1); False: w ← (w + update.to(dtype)) in dtype, where an update under half an
    ulp of w rounds away. w0, update: (N,) -> (steps + 1, N).
    """
    if master:
        m = w0.to(torch.float32)
        rows = [m.to(dtype).float()]
        step = update.to(torch.float32)
        for _ in range(steps):
            m = m + step
            rows.append(m.to(dtype).float())
        return torch.stack(rows)
    w = w0.to(dtype)
    step = update.to(dtype).float()
    rows = [w.float()]
    for _ in range(steps):
        w = (w.float() + step).to(dtype)
        rows.append(w.float())
    return torch.stack(rows)


def mlp_gradients(depth: int = 8, width: int = 64, batch: int = 32, seed: int = 0) -> Tensor:
    """Every weight gradient of a deep tanh MLP at initialisation (FP32), flattened.

    A stand-in for a real network's gradients (Micikevicius et al. 2018, Fig. 3 shows their
    log₂ histogram): small, spread over many binades, shrinking towards the input.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=generator)
    weights = [
        (torch.randn(width, width, generator=generator) / math.sqrt(width)).requires_grad_(True)
        for _ in range(depth)
    ]
    h = x
    for w in weights:
        h = torch.tanh(h @ w)
    loss = (h - torch.randn(batch, width, generator=generator)).square().mean() * 1e-3
    grads = torch.autograd.grad(loss, weights)
    return torch.cat([g.flatten() for g in grads])
