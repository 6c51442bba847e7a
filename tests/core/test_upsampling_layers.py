"""pixel_shuffle, pixel_unshuffle, conv_transpose2d and max_unpool2d of core.vision.upsampling
against the torch.nn.functional functions of the same names."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.trace import Trace
from core.vision.upsampling import (
    InputError,
    conv_transpose2d,
    max_unpool2d,
    pixel_shuffle,
    pixel_unshuffle,
)

# --- PixelShuffle -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle_and_unshuffle_match_torch(batch, r):
    x = torch.randn(*batch, 2 * r * r, 5, 3)
    shuffled = pixel_shuffle(x, r)
    assert torch.equal(shuffled, F.pixel_shuffle(x, r))
    assert torch.equal(pixel_unshuffle(shuffled, r), F.pixel_unshuffle(shuffled, r))
    assert torch.equal(pixel_unshuffle(shuffled, r), x)


def test_pixel_shuffle_moves_channel_i_r_plus_j_to_sub_pixel_i_j():
    r = 3
    ids = torch.arange(r * r).view(1, r * r, 1, 1).expand(1, r * r, 2, 2)
    out = pixel_shuffle(ids, r)[0, 0]
    for i, j in itertools.product(range(r), repeat=2):
        assert (out[i::r, j::r] == i * r + j).all()


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f.pixel_shuffle(torch.rand(1, 3, 2, 2), 2),  # 3 channels, not a multiple of 4
        lambda f: f.pixel_shuffle(torch.rand(4, 2), 2),  # fewer than 3 dimensions
        lambda f: f.pixel_shuffle(torch.rand(1, 4, 2, 2), 0),
        lambda f: f.pixel_unshuffle(torch.rand(1, 1, 3, 2), 2),  # height 3, not divisible
    ],
)
def test_pixel_shuffle_refuses_what_torch_refuses(call):
    import core.vision.upsampling as ours

    with pytest.raises(RuntimeError):
        call(F)
    with pytest.raises(InputError):
        call(ours)


# --- transposed convolution ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "stride,padding,output_padding,dilation",
    [
        (s, p, op, d)
        for s, p, op, d in itertools.product([1, 2, 3], [0, 1, 2], [0, 1, 2], [1, 2])
        if op < max(s, d)
    ],
)
def test_conv_transpose2d_matches_torch(stride, padding, output_padding, dilation):
    generator = torch.Generator().manual_seed(stride * 100 + padding * 10 + output_padding)
    x = torch.randn(2, 3, 5, 4, generator=generator, dtype=torch.float64)
    weight = torch.randn(3, 2, 3, 4, generator=generator, dtype=torch.float64)
    ref = F.conv_transpose2d(
        x, weight, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )
    out = conv_transpose2d(x, weight, stride, padding, output_padding, dilation=dilation)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 7),
    width=st.integers(1, 7),
    kernel_h=st.integers(1, 5),
    kernel_w=st.integers(1, 5),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
)
def test_conv_transpose2d_matches_torch_in_float32(
    height, width, kernel_h, kernel_w, stride, padding, c_in, c_out
):
    x = torch.randn(2, c_in, height, width)
    weight = torch.randn(c_in, c_out, kernel_h, kernel_w)
    out_h = (height - 1) * stride[0] - 2 * padding[0] + kernel_h
    out_w = (width - 1) * stride[1] - 2 * padding[1] + kernel_w
    if min(out_h, out_w) < 0:  # torch refuses a negative size (and, unbatched, also 0)
        with pytest.raises(RuntimeError):
            F.conv_transpose2d(x, weight, stride=stride, padding=padding)
        with pytest.raises(InputError):
            conv_transpose2d(x, weight, stride, padding)
        return
    ref = F.conv_transpose2d(x, weight, stride=stride, padding=padding)
    torch.testing.assert_close(conv_transpose2d(x, weight, stride, padding), ref)


def test_conv_transpose2d_takes_an_unbatched_input():
    x, weight = torch.randn(3, 4, 4), torch.randn(3, 2, 3, 3)
    torch.testing.assert_close(
        conv_transpose2d(x, weight, 2, 1, 1), F.conv_transpose2d(x, weight, None, 2, 1, 1)
    )


@pytest.mark.parametrize("kernel,stride", [(3, 2), (4, 2), (2, 3), (5, 3), (3, 1)])
def test_overlap_counts_are_what_a_ones_kernel_adds_up(kernel, stride):
    trace = Trace()
    ones, kernel_ones = torch.ones(1, 1, 6, 6), torch.ones(1, 1, kernel, kernel)
    conv_transpose2d(ones, kernel_ones, stride, trace=trace)
    expected = F.conv_transpose2d(ones, kernel_ones, stride=stride)[0, 0]
    assert torch.equal(trace["overlap"][0].float(), expected)


def test_overlap_is_even_inside_exactly_when_the_stride_divides_the_kernel():
    for kernel, stride in itertools.product(range(1, 7), range(1, 4)):
        trace = Trace()
        conv_transpose2d(
            torch.ones(1, 1, 8, 8), torch.ones(1, 1, kernel, kernel), stride, trace=trace
        )
        inner = trace["overlap"][0][kernel:-kernel, kernel:-kernel]
        assert (inner.min() == inner.max()) == (kernel % stride == 0), (kernel, stride)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stride": 2, "output_padding": 2},  # output_padding must stay below stride or dilation
        {"padding": 3},  # output too small
        {"stride": 0},
        {"padding": -1},
    ],
)
def test_conv_transpose2d_refuses_what_torch_refuses(kwargs):
    x, weight = torch.randn(1, 2, 2, 2), torch.randn(2, 1, 3, 3)
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(x, weight, **kwargs)
    with pytest.raises(InputError):
        conv_transpose2d(x, weight, **kwargs)


def test_conv_transpose2d_refuses_mismatched_channels():
    with pytest.raises(InputError, match="channels"):
        conv_transpose2d(torch.randn(1, 3, 2, 2), torch.randn(2, 1, 3, 3))


# --- max-unpooling ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,kernel,stride,padding",
    [
        ((2, 3, 8, 8), 2, None, 0),
        ((2, 3, 9, 7), 2, None, 0),  # odd sizes: the last row and column are dropped by the pool
        ((1, 2, 9, 9), 3, 2, 1),
        ((1, 2, 7, 10), 3, 1, 1),  # overlapping windows: an index may repeat
        ((3, 8, 8), (2, 3), (2, 3), 0),  # unbatched, rectangular windows
    ],
)
def test_max_unpool2d_undoes_max_pool2d_like_torch(shape, kernel, stride, padding):
    x = torch.randn(*shape)
    pooled, indices = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    try:
        ref = F.max_unpool2d(pooled, indices, kernel, stride, padding)
    except RuntimeError:  # the default size is too small for an index of a dropped border
        with pytest.raises(InputError, match="invalid max index"):
            max_unpool2d(pooled, indices, kernel, stride, padding=padding)
    else:
        torch.testing.assert_close(
            max_unpool2d(pooled, indices, kernel, stride, padding=padding), ref
        )
    sized = max_unpool2d(pooled, indices, kernel, stride, x.shape[-2:], padding=padding)
    assert sized.shape == x.shape
    torch.testing.assert_close(
        sized, F.max_unpool2d(pooled, indices, kernel, stride, padding, output_size=x.shape[-2:])
    )
    kept = sized != 0  # every kept value is the original at that place
    assert torch.equal(sized[kept], x[kept])


def test_max_unpool2d_output_size_accepts_two_or_four_numbers():
    x = torch.randn(1, 1, 9, 9)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(
        max_unpool2d(pooled, indices, 2, output_size=(9, 9)),
        max_unpool2d(pooled, indices, 2, output_size=(1, 1, 9, 9)),
    )


def test_max_unpool2d_traces_where_each_value_goes():
    x = torch.randn(1, 1, 4, 4)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    trace = Trace()
    out = max_unpool2d(pooled, indices, 2, trace=trace)
    (targets,) = trace["targets"]
    assert torch.equal(out[0, 0][targets["row"][0, 0], targets["col"][0, 0]], pooled[0, 0])


def test_max_unpool2d_refuses_an_output_size_beyond_a_stride_and_bad_indices():
    pooled, indices = F.max_pool2d(torch.randn(1, 1, 8, 8), 2, return_indices=True)
    for bad_size in [(6, 8), (10, 8)]:  # default 8: must be strictly within 8 ± 2
        with pytest.raises(ValueError):
            F.max_unpool2d(pooled, indices, 2, output_size=bad_size)
        with pytest.raises(ValueError):
            max_unpool2d(pooled, indices, 2, output_size=bad_size)
    with pytest.raises(RuntimeError):
        max_unpool2d(pooled, indices + 64, 2)
