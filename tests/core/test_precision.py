"""core.training.precision against torch: casts and `.view` on every 16- and 8-bit pattern,
`torch.finfo`, and a real `torch.amp.GradScaler("cpu")`."""

import math

import numpy as np
import pytest
import torch

from core.training import precision as pr

INT_VIEW = {
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
    torch.float8_e4m3fn: torch.uint8,
    torch.float8_e5m2: torch.uint8,
}
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2]


@pytest.mark.parametrize("dtype", DTYPES)
def test_format_info_matches_finfo(dtype):
    info, finfo = pr.format_info(dtype), torch.finfo(dtype)
    assert info["bits"] == finfo.bits and info["max"] == finfo.max
    assert info["smallest_normal"] == finfo.smallest_normal and info["eps"] == finfo.eps
    assert info["smallest_subnormal"] == pytest.approx(finfo.smallest_normal * finfo.eps)
    assert 1 + info["exponent_bits"] + info["mantissa_bits"] == info["bits"]


@pytest.mark.parametrize("dtype", list(INT_VIEW))
def test_decompose_every_pattern_matches_torch(dtype):
    bits = pr.format_info(dtype)["bits"]
    patterns = torch.arange(2**bits, dtype=torch.int64)
    if bits == 16:
        patterns = torch.where(patterns >= 2**15, patterns - 2**16, patterns)
    values = patterns.to(INT_VIEW[dtype]).view(dtype).float()
    for pattern, value in zip(range(2**bits), values.tolist(), strict=True):
        result = pr.decompose(value, dtype)
        if math.isnan(value):
            assert result["kind"] == "nan"
            continue
        assert result["bits"] == pattern or value == 0.0  # −0 and +0 keep their own sign bit
        assert result["value"] == value
        assert result["error"] == 0.0 or math.isinf(value)  # inf − inf is NaN
        assert result["bits"] == pattern


@pytest.mark.parametrize("dtype", DTYPES)
def test_decompose_rounds_like_torch(dtype):
    rng = np.random.default_rng(0)
    samples = np.concatenate(
        [
            rng.standard_normal(200) * 10.0 ** rng.integers(-8, 6, 200),
            [0.1, 1 / 3, 65519.0, 65520.0, 1e6],
        ]
    )
    for value in samples:
        expected = torch.tensor(value, dtype=torch.float32).to(dtype).float().item()
        result = pr.decompose(float(value), dtype)
        if math.isnan(expected):
            assert result["kind"] == "nan"
        else:
            assert result["value"] == expected
            assert result["error"] == expected - value


def test_ties_go_to_even_and_signed_zero_and_specials():
    # FP16 spacing at 2048 is 2: 2049 is a tie between 2048 (even mantissa) and 2050.
    assert pr.decompose(2049.0, torch.float16)["value"] == 2048.0
    assert pr.decompose(2051.0, torch.float16)["value"] == 2052.0
    negative_zero = pr.decompose(-0.0, torch.float16)
    assert (
        negative_zero["sign"] == 1
        and negative_zero["kind"] == "zero"
        and negative_zero["ulp"] == 2.0**-24
    )
    assert pr.decompose(1e6, torch.float16)["kind"] == "inf"
    assert math.isnan(pr.decompose(float("inf"), torch.bfloat16)["ulp"])
    assert pr.decompose(float("inf"), torch.float8_e4m3fn)["value"] == 448.0  # saturates
    assert pr.decompose(-1e9, torch.float8_e4m3fn)["value"] == -448.0
    assert pr.decompose(float("nan"), torch.float8_e4m3fn)["bits"] == 0x7F
    assert pr.decompose(1e-6, torch.float16)["kind"] == "subnormal"
    assert pr.decompose(1.0, torch.float32)["ulp"] == 2.0**-23


def test_scale_and_cast_underflow_and_overflow():
    values = torch.tensor([1e-8, 1e-3, 0.0, 70000.0])
    plain = pr.scale_and_cast(values, 1.0, torch.float16)
    assert plain["underflow"].tolist() == [True, False, False, False]
    assert plain["overflow"].tolist() == [False, False, False, True]
    scaled = pr.scale_and_cast(values[:2], 2.0**16, torch.float16)
    assert not scaled["underflow"].any()
    assert torch.allclose(scaled["recovered"], values[:2], rtol=1e-3)
    fp8 = pr.scale_and_cast(torch.tensor([500.0, 100.0]), 1.0, torch.float8_e4m3fn)
    assert fp8["overflow"].tolist() == [True, False] and fp8["recovered"][0] == 448.0


def gradscaler_trace(finite, **kwargs):
    scaler = torch.amp.GradScaler("cpu", **kwargs)
    p = torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([p], lr=0.0)
    scales, trackers = [scaler.get_scale()], []
    for ok in finite:
        optimizer.zero_grad()
        scaler.scale(p.sum()).backward()
        if not ok:
            p.grad.fill_(float("inf"))
        scaler.step(optimizer)
        scaler.update()
        scales.append(scaler.get_scale())
        trackers.append(int(scaler._growth_tracker.item()))
    return scales, trackers


# GradScaler multiplies by the factors as doubles, then rounds to FP32: 0.3 and 1.7 are not
# FP32 numbers, so rounding them first would drift from torch in the last bits.
@pytest.mark.parametrize(
    ("init_scale", "growth_factor", "backoff_factor", "growth_interval"),
    [(1024.0, 2.0, 0.5, 4), (1000.0, 1.7, 0.3, 3)],
)
def test_loss_scale_trace_matches_gradscaler(
    init_scale, growth_factor, backoff_factor, growth_interval
):
    rng = np.random.default_rng(1)
    finite = (rng.random(60) > 0.2).tolist()
    kwargs = {
        "init_scale": init_scale,
        "growth_factor": growth_factor,
        "backoff_factor": backoff_factor,
        "growth_interval": growth_interval,
    }
    scales, trackers = gradscaler_trace(finite, **kwargs)
    ours = pr.loss_scale_trace(finite, **kwargs)
    assert ours["scale"].tolist() == scales
    assert ours["growth_tracker"].tolist() == trackers
    assert ours["skipped"].tolist() == [not ok for ok in finite]


@pytest.mark.parametrize("dtype", list(INT_VIEW))
def test_overflow_threshold_is_where_scale_and_cast_starts_to_overflow(dtype):
    threshold = torch.tensor(pr.overflow_threshold(dtype), dtype=torch.float32)
    below = torch.nextafter(threshold, torch.tensor(0.0))
    result = pr.scale_and_cast(torch.stack([threshold, below, -threshold, -below]), 1.0, dtype)
    assert result["overflow"].tolist() == [True, False, True, False]


def test_loss_scale_run_matches_gradscaler_fed_half_precision_gradients():
    # Closed loop: each step's gradient is max|g|·scale cast to FP16 (inf when it overflows),
    # handed to a real GradScaler; spikes of 2^10 make it overflow now and then.
    rng = np.random.default_rng(2)
    grads = 2.0 ** rng.normal(-4, 0.5, 120) * np.where(rng.random(120) < 0.05, 2.0**10, 1.0)
    kwargs = {"init_scale": 2.0**16, "growth_interval": 5}
    scaler = torch.amp.GradScaler("cpu", **kwargs)
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=0.0)
    scales, skipped = [scaler.get_scale()], []
    for g in grads:
        scaled = torch.tensor([g], dtype=torch.float32) * scaler.get_scale()
        p.grad = scaled.to(torch.float16).float()
        skipped.append(not bool(p.grad.isfinite().all()))
        scaler.scale(torch.zeros(()))  # creates the scaler's lazy state
        scaler.step(optimizer)
        scaler.update()
        scales.append(scaler.get_scale())
    ours = pr.loss_scale_run(grads, torch.float16, **kwargs)
    assert ours["scale"].tolist() == scales and ours["skipped"].tolist() == skipped
    assert 0 < sum(skipped) < len(grads)  # both kinds of step occur


def test_loss_scale_stops_growing_at_fp32_overflow_and_can_reach_zero():
    grown = pr.loss_scale_trace([True] * 5, init_scale=2.0**127, growth_interval=1)
    assert grown["scale"][-1] == 2.0**127
    shrunk = pr.loss_scale_trace([False] * 300, init_scale=1.0)
    assert shrunk["scale"][-1] == 0.0


def test_pure_half_weights_ignore_updates_below_half_an_ulp():
    w0, update = torch.tensor([1.0]), torch.tensor([1e-4])  # FP16 ulp at 1 is 2^-10 ≈ 9.8e-4
    pure = pr.weight_trajectory(w0, update, 100, torch.float16, master=False)
    master = pr.weight_trajectory(w0, update, 100, torch.float16, master=True)
    assert (pure == 1.0).all()
    assert master[-1].item() == pytest.approx(1.01, abs=1e-3)
    assert pure.shape == (101, 1) and pure.dtype == torch.float32


def test_mlp_gradients_are_small_and_spread():
    grads = pr.mlp_gradients(depth=6, width=32, batch=16)
    exponents = torch.log2(grads.abs()[grads != 0])
    assert grads.numel() == 6 * 32 * 32 and exponents.max() - exponents.min() > 10
