"""core.vision.upsampling.interpolate against torch.nn.functional.interpolate.

Nearest modes pick pixels: they must agree exactly. Bilinear and bicubic are compared in float64
to 1e-12, and in float32 to a few float32 roundings of values of size ~4 (randn): PyTorch fuses
multiply-adds, so the last bits may differ, not more.
"""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.trace import Trace
from core.vision.upsampling import MODES, InputError, axis_sampling, interpolate

LINEAR = ("bilinear", "bicubic")
FLOAT32_ATOL = {"bilinear": 2e-6, "bicubic": 1e-5}  # observed worst: 7e-7 and 4e-6


def assert_matches(out: torch.Tensor, ref: torch.Tensor, mode: str) -> None:
    assert out.shape == ref.shape and out.dtype == ref.dtype
    if mode.startswith("nearest"):
        assert torch.equal(out, ref)
    elif out.dtype == torch.float64:
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    else:
        torch.testing.assert_close(out, ref, rtol=0, atol=FLOAT32_ATOL[mode])


def both(x, mode, align_corners=None, **size):
    ours = interpolate(x, mode=mode, align_corners=align_corners, **size)
    return ours, F.interpolate(x, mode=mode, align_corners=align_corners, **size)


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    batch=st.integers(1, 2),
    channels=st.integers(1, 5),
    height=st.integers(1, 23),
    width=st.integers(1, 23),
    out_h=st.integers(1, 70),
    out_w=st.integers(1, 70),
    align=st.sampled_from([None, False, True]),
    double=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_for_explicit_sizes(
    mode, batch, channels, height, width, out_h, out_w, align, double, seed
):
    generator = torch.Generator().manual_seed(seed)
    dtype = torch.float64 if double else torch.float32
    x = torch.randn(batch, channels, height, width, generator=generator, dtype=dtype)
    align = align if mode in LINEAR else None
    assert_matches(*both(x, mode, align, size=(out_h, out_w)), mode)


SCALES = [2, 3, 1.5, 0.5, 2.5, 1 / 3, 1.09, 0.7, 4.4]


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    channels=st.sampled_from([1, 2, 3, 4, 6]),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    scale_h=st.sampled_from(SCALES),
    scale_w=st.sampled_from(SCALES),
    align=st.sampled_from([None, False, True]),
    double=st.booleans(),
    channels_last=st.booleans(),
)
def test_matches_torch_for_scale_factors(
    mode, channels, height, width, scale_h, scale_w, align, double, channels_last
):
    if math.floor(height * scale_h) < 1 or math.floor(width * scale_w) < 1:
        return
    x = torch.randn(2, channels, height, width, dtype=torch.float64 if double else torch.float32)
    if channels_last:  # PyTorch takes another kernel for channels-last input with C > 3
        x = x.to(memory_format=torch.channels_last)
    align = align if mode in LINEAR else None
    assert_matches(*both(x, mode, align, scale_factor=(scale_h, scale_w)), mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scale", [2, 3, 1.5, 0.5])
def test_matches_torch_on_an_image_sized_input(mode, scale):
    """H_out + W_out > 128 takes PyTorch's generic kernel, smaller outputs its vectorised one."""
    x = torch.rand(1, 3, 97, 131)
    assert_matches(*both(x, mode, False if mode in LINEAR else None, scale_factor=scale), mode)


def test_a_scale_factor_is_used_as_given_not_recomputed_from_the_sizes():
    """5 → 7 via 1.5 samples at (i + ½)/1.5 − ½; size=7 samples at (i + ½)·5/7 − ½."""
    x = torch.arange(5, dtype=torch.float64).view(1, 1, 1, 5)
    by_factor = interpolate(x, scale_factor=(1, 1.5), mode="bilinear")
    by_size = interpolate(x, size=(1, 7), mode="bilinear")
    torch.testing.assert_close(by_factor, F.interpolate(x, scale_factor=(1, 1.5), mode="bilinear"))
    torch.testing.assert_close(by_size, F.interpolate(x, size=(1, 7), mode="bilinear"))
    i = torch.arange(7, dtype=torch.float64)
    expected = ((i + 0.5) / 1.5 - 0.5).clamp(0, 4)  # bilinear on a ramp returns the coordinate
    torch.testing.assert_close(by_factor.flatten(), expected)
    assert not torch.allclose(by_factor, by_size)


def test_nearest_keeps_integers_and_uint8_exact():
    x = torch.randint(0, 256, (2, 3, 7, 9), dtype=torch.uint8)
    for mode in ("nearest", "nearest-exact"):
        for size in [(14, 18), (5, 4), (200, 3)]:
            assert torch.equal(
                interpolate(x, size=size, mode=mode), F.interpolate(x, size=size, mode=mode)
            )


def test_empty_batch_is_allowed_like_torch():
    x = torch.rand(0, 2, 3, 3)
    assert interpolate(x, scale_factor=2, mode="bilinear").shape == (0, 2, 6, 6)


@pytest.mark.parametrize("mode", LINEAR)
def test_gradients_flow_like_torch(mode):
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(interpolate(x, size=(9, 4), mode=mode).square().sum(), x)
    (ref,) = torch.autograd.grad(F.interpolate(x, size=(9, 4), mode=mode).square().sum(), x)
    torch.testing.assert_close(grad, ref)


# --- the hook -------------------------------------------------------------------------------------


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_source_weights_sum_to_one_and_reproduce_the_output(mode, align):
    x = torch.randn(1, 1, 6, 5, dtype=torch.float64)
    trace = Trace()
    align = align if mode in LINEAR else None
    out = interpolate(x, size=(11, 3), mode=mode, align_corners=align, trace=trace)
    (sources,) = trace["sources"]
    assert sources["weight"].shape[:2] == (11, 3)
    torch.testing.assert_close(sources["weight"].sum(-1), torch.ones(11, 3, dtype=torch.float64))
    rebuilt = (x[0, 0][sources["row"], sources["col"]] * sources["weight"]).sum(-1)
    torch.testing.assert_close(rebuilt, out[0, 0])
    assert sources["row"].min() >= 0 and sources["row"].max() <= 5
    assert sources["col"].min() >= 0 and sources["col"].max() <= 4


def test_bicubic_has_negative_weights_and_clamps_its_taps_at_the_border():
    axis = axis_sampling(4, 8, "bicubic", dtype=torch.float64)
    assert (axis.weight < 0).any()
    assert axis.index[0].tolist() == [0, 0, 0, 1]  # taps −2, −1 → pixel 0
    torch.testing.assert_close(axis.weight.sum(-1), torch.ones(8, dtype=torch.float64))


def test_align_corners_puts_the_corner_samples_on_the_corner_pixel_centres():
    aligned = axis_sampling(4, 8, "bilinear", align_corners=True, dtype=torch.float64)
    assert aligned.coordinate[0] == 0 and aligned.coordinate[-1] == 3
    areas = axis_sampling(4, 8, "bilinear", align_corners=False, dtype=torch.float64)
    torch.testing.assert_close(
        areas.coordinate, (torch.arange(8.0) + 0.5) / 2 - 0.5, check_dtype=False
    )


def test_nearest_exact_takes_the_pixel_under_the_output_centre():
    axis = axis_sampling(2, 3, "nearest-exact")  # centres at 1/3, 1, 5/3 input pixels
    assert axis.index.flatten().tolist() == [0, 1, 1]
    assert axis_sampling(2, 3, "nearest").index.flatten().tolist() == [0, 0, 1]  # floor(i·2/3)


# --- what torch refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 4, "scale_factor": 2},
        {},
        {"size": (4, 4, 4)},
        {"scale_factor": (2, 2, 2)},
        {"size": 4, "mode": "nearest", "align_corners": False},
        {"size": 4, "mode": "nearest-exact", "align_corners": True},
    ],
)
def test_rejects_what_torch_rejects_with_a_value_error(kwargs):
    x = torch.rand(1, 1, 3, 3)
    with pytest.raises(ValueError):
        F.interpolate(x, **kwargs)
    with pytest.raises(ValueError):
        interpolate(x, **kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"size": (0, 3)}, {"scale_factor": 0.2}, {"scale_factor": -2.0}]
)
def test_empty_outputs_raise_an_error_that_is_also_torchs_runtime_error(kwargs):
    x = torch.rand(1, 1, 3, 3)
    with pytest.raises(RuntimeError):
        F.interpolate(x, **kwargs)
    with pytest.raises(InputError) as error:
        interpolate(x, **kwargs)
    assert isinstance(error.value, ValueError) and isinstance(error.value, RuntimeError)


def test_rejects_a_float_size_with_a_type_error():
    with pytest.raises(TypeError):
        interpolate(torch.rand(1, 1, 3, 3), size=(4.0, 3))


@pytest.mark.parametrize("bad", ["area", "linear", "Bilinear"])
def test_rejects_modes_it_does_not_implement(bad):
    with pytest.raises(ValueError, match="mode"):
        interpolate(torch.rand(1, 1, 3, 3), size=4, mode=bad)


def test_rejects_non_4d_input_and_integer_input_for_bicubic():
    with pytest.raises(ValueError):
        interpolate(torch.rand(1, 3, 3), size=4)
    with pytest.raises(ValueError):
        interpolate(torch.ones(1, 1, 3, 3, dtype=torch.int32), size=4, mode="bicubic")


def test_none_align_corners_means_false_without_a_warning():
    x = torch.rand(1, 1, 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = interpolate(x, size=7, mode="bilinear")
    assert torch.equal(out, interpolate(x, size=7, mode="bilinear", align_corners=False))
