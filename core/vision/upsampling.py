"""Upsampling from the formulas: for every output pixel, which input pixels and what weights.

- `interpolate`: nearest, nearest-exact, bilinear and bicubic resizing with PyTorch's
  conventions (`align_corners`, scale factor versus size, border clamping), written as explicit
  source coordinates and weights per axis (`axis_sampling`) so that they can be shown.
- `pixel_shuffle` / `pixel_unshuffle`: the periodic shuffling of sub-pixel convolution
  (Shi et al. 2016, ESPCN): r² channels become an r × r block of pixels.
- `conv_transpose2d`: transposed ("de-")convolution, the learned upsampling of FCN
  (Long et al. 2015), written as a scatter-add so that the number of kernel taps landing on each
  output pixel (the checkerboard of Odena et al. 2016) can be counted.
- `max_unpool2d`: each pooled maximum put back where max-pooling found it (SegNet).

Coordinates: input pixel k has its centre at k; an output pixel samples the input at one
source coordinate per axis. With `align_corners=False` the pixel areas line up,
src = (i + ½)·scale − ½; with `align_corners=True` the corner pixels' centres line up,
src = i·(in − 1)/(out − 1). `scale` is 1/scale_factor when a scale factor is given (PyTorch's
default `recompute_scale_factor=None`), else in/out.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from core.trace import Trace

Mode = Literal["nearest", "nearest-exact", "bilinear", "bicubic"]
MODES: tuple[Mode, ...] = ("nearest", "nearest-exact", "bilinear", "bicubic")
CUBIC_A = -0.75  # Keys' cubic convolution parameter as PyTorch (and OpenCV) use it


class InputError(ValueError, RuntimeError):
    """Shapes or sizes the operation cannot take: a ValueError, and the RuntimeError torch raises."""


@dataclass(frozen=True)
class AxisSampling:
    """How one axis of the output samples the same axis of the input.

    coordinate: (out,) float64, where output pixel i samples the input (input pixel k is centred
        at k; for the nearest modes, the point whose pixel is taken)
    index: (out, taps) int64, the input pixels used, clamped to 0..in−1 as PyTorch clamps them
    weight: (out, taps), their weights; every row sums to 1
    """

    coordinate: Tensor
    index: Tensor
    weight: Tensor


# --- interpolate -------------------------------------------------------------------------------


def _is_integer(value: object) -> bool:
    if isinstance(value, Tensor):
        return value.numel() == 1 and not value.is_floating_point() and not value.is_complex()
    return isinstance(value, numbers.Integral)


def _two(value: object, name: str, spatial: Sequence[int]) -> tuple:
    if isinstance(value, (list, tuple, torch.Size)):
        if len(value) != 2:
            raise ValueError(
                f"{name}: a 4-D input has 2 spatial dimensions {list(spatial)}, but got {name} "
                f"{value!r}"
            )
        return tuple(value)
    return (value, value)


def output_size(
    in_size: Sequence[int], size: object = None, scale_factor: object = None
) -> tuple[tuple[int, int], tuple[float | None, float | None]]:
    """(H_out, W_out) and the scale factors the sampling uses (None where a size was given).

    Exactly one of `size` (int or pair of ints) and `scale_factor` (number or pair) is given;
    a scale factor gives H_out = floor(H · scale_factor).
    """
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        sizes = _two(size, "size", in_size)
        if not all(_is_integer(s) for s in sizes):
            raise TypeError(f"size: expected an int or a pair of ints, got {size!r}")
        return (int(sizes[0]), int(sizes[1])), (None, None)
    scales = tuple(float(s) for s in _two(scale_factor, "scale_factor", in_size))
    if not all(math.isfinite(s) for s in scales):
        raise ValueError(f"scale_factor: expected finite numbers, got {scale_factor!r}")
    sizes = tuple(math.floor(n * s) for n, s in zip(in_size, scales, strict=True))
    return (sizes[0], sizes[1]), (scales[0], scales[1])


def _scale(
    in_size: int, out_size: int, align_corners: bool, scale_factor: float | None, dtype
) -> Tensor:
    """Input pixels per output pixel, in `dtype` (PyTorch's area_pixel_compute_scale)."""
    if align_corners:
        if out_size == 1:
            return torch.zeros((), dtype=dtype)
        return torch.tensor(in_size - 1, dtype=dtype) / (out_size - 1)
    if scale_factor is not None and scale_factor > 0:
        return torch.tensor(1.0 / scale_factor, dtype=dtype)  # the factor given, not out/in
    return torch.tensor(in_size, dtype=dtype) / out_size


def _source(scale: Tensor, i: Tensor, align_corners: bool) -> Tensor:
    """Source coordinate of output pixels i: i·scale, or (i + ½)·scale − ½ (pixel areas aligned).

    PyTorch's CPU kernels evaluate (i + ½)·scale − ½ as one fused multiply-add (a single
    rounding); in float64 the float32 product and sum are exact, so rounding once reproduces it.
    """
    if align_corners:
        return scale * i
    return (scale.double() * (i.double() + 0.5) - 0.5).to(i.dtype)


def _cubic_weights(t: Tensor) -> Tensor:
    """Weights of the taps at distances 1 + t, t, 1 − t, 2 − t (Keys 1981, A = −0.75).

    W(x) = (A + 2)|x|³ − (A + 3)|x|² + 1 for |x| ≤ 1, A|x|³ − 5A|x|² + 8A|x| − 4A for 1 < |x| < 2,
    in PyTorch's Horner form. PyTorch's kernels fuse its multiply-adds; evaluating it in float64
    and rounding once comes closest to that in float32.
    """
    a = CUBIC_A

    def near(x: Tensor) -> Tensor:
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Tensor) -> Tensor:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return torch.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], dim=-1)


def axis_sampling(
    in_size: int,
    out_size: int,
    mode: Mode,
    align_corners: bool = False,
    scale_factor: float | None = None,
    dtype: torch.dtype = torch.float32,
    vectorized_kernel: bool = False,
) -> AxisSampling:
    """Source coordinate, input pixels and weights of every output pixel along one axis.

    `dtype` is the type PyTorch computes coordinates in: float64 for float64 input, else
    float32, so that floor() picks the same pixels. The nearest modes have two rules in
    PyTorch's CPU kernels: `vectorized_kernel` (taken for channels-last input with more than 3
    channels, or when H_out + W_out ≤ 128) computes in float32 and copies an axis whose size does
    not change (for nearest, also halves the index when out = 2·in); the generic kernel
    computes in `dtype`.
    """
    dst = torch.arange(out_size)
    last = in_size - 1
    if mode in ("nearest", "nearest-exact"):
        weight = torch.ones(out_size, 1, dtype=dtype)
        if vectorized_kernel:
            dtype = torch.float32
        scale = _scale(in_size, out_size, False, scale_factor, dtype)
        i = dst.to(dtype)
        if mode == "nearest":
            # floor(i·scale): the pixel under the output pixel's top-left corner (OpenCV's rule)
            position = i * scale
            if vectorized_kernel and out_size in (in_size, 2 * in_size):
                position = i * (in_size / out_size)  # exact: 1 or ½
            coordinate = position.double() - 0.5
        elif vectorized_kernel:
            # floor((i + ½)·scale): the pixel under the output pixel's centre
            position = (dst.double() + 0.5) * scale.double()
            coordinate = position - 0.5
        else:  # the same rule written as round(src) with src the centre's coordinate
            coordinate = _source(scale, i, align_corners=False)
            position = coordinate.clamp(min=0) + 0.5
        # PyTorch floors in float32 (floorf) whatever type it computed the position in
        index = position.float().floor().long().clamp(max=last)
        return AxisSampling(coordinate.double(), index[:, None], weight)

    if mode == "bilinear" and in_size == out_size:
        # PyTorch copies an axis whose size does not change, whatever the scale factor
        index = torch.stack([dst, dst], dim=-1)
        weight = torch.tensor([1.0, 0.0], dtype=dtype).expand(out_size, 2)
        return AxisSampling(dst.double(), index, weight)
    scale = _scale(in_size, out_size, align_corners, scale_factor, dtype)
    i = dst.to(dtype)
    src = _source(scale, i, align_corners)
    if mode == "bilinear":
        src_used = src.clamp(min=0)  # left of pixel 0's centre: pixel 0 alone
        i0 = src_used.floor().long().clamp(max=last)
        lam = (src_used - i0.to(dtype)).clamp(0, 1)
        i1 = i0 + (i0 < last).long()  # at the last pixel both taps are that pixel
        return AxisSampling(
            src.double(), torch.stack([i0, i1], dim=-1), torch.stack([1 - lam, lam], dim=-1)
        )
    if mode == "bicubic":
        i0 = src.floor().long().clamp(max=last)
        t = (src - i0.to(dtype)).clamp(0, 1)
        index = (i0[:, None] + torch.arange(-1, 3)).clamp(0, last)  # border pixels repeat
        return AxisSampling(src.double(), index, _cubic_weights(t.double()).to(dtype))
    raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")


def pixel_sources(rows: AxisSampling, cols: AxisSampling) -> dict[str, Tensor]:
    """For every output pixel, its source pixels and weights: the outer product of two axes.

    -> {"row", "col": (H_out, W_out, K) int64, "weight": (H_out, W_out, K)}, K = taps_h · taps_w;
    an input pixel may appear more than once at a border (clamped taps), weights sum to 1.
    """
    th, tw = rows.index.shape[1], cols.index.shape[1]
    ho, wo = rows.index.shape[0], cols.index.shape[0]
    shape = (ho, wo, th, tw)
    row = rows.index[:, None, :, None].expand(shape).reshape(ho, wo, th * tw)
    col = cols.index[None, :, None, :].expand(shape).reshape(ho, wo, th * tw)
    weight = rows.weight[:, None, :, None] * cols.weight[None, :, None, :]
    return {"row": row, "col": col, "weight": weight.reshape(ho, wo, th * tw)}


def interpolate(
    x: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: Mode = "nearest",
    align_corners: bool | None = None,
    trace: Trace | None = None,
) -> Tensor:
    """Resize a batch of images by sampling each output pixel from weighted input pixels.

    Same meaning and results as torch.nn.functional.interpolate for 4-D input.
    x: (N, C, H, W) -> (N, C, H_out, W_out). Traced: "axis" (rows, then columns: the
    AxisSampling fields) and "sources" (`pixel_sources`: every output pixel's inputs, weights).
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if mode in ("nearest", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    if x.dim() != 4:
        raise InputError(f"x: expected a 4-D (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    height, width = x.shape[2], x.shape[3]
    (out_h, out_w), (scale_h, scale_w) = output_size((height, width), size, scale_factor)
    if min(height, width, out_h, out_w) <= 0:
        raise InputError(
            "Input and output sizes should be greater than 0, but got input "
            f"(H: {height}, W: {width}) output (H: {out_h}, W: {out_w})"
        )
    if x.numel() == 0 and x.shape[1] == 0:
        raise InputError(
            f"Non-empty 4D data tensor expected but got a tensor with sizes {list(x.shape)}"
        )
    linear = mode in ("bilinear", "bicubic")
    if linear and not x.is_floating_point():
        raise InputError(f"x: {mode} interpolation needs a floating-point tensor, got {x.dtype}")
    opmath = torch.float64 if x.dtype == torch.float64 else torch.float32
    vectorized = (x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 3) or (
        out_h + out_w <= 128
    )  # which of PyTorch's CPU kernels runs (UpSampleKernel.cpp, _use_vectorized_kernel_cond_2d)
    rows = axis_sampling(height, out_h, mode, bool(align_corners), scale_h, opmath, vectorized)
    cols = axis_sampling(width, out_w, mode, bool(align_corners), scale_w, opmath, vectorized)
    if trace is not None:
        for name, axis in (("rows", rows), ("cols", cols)):
            trace.record(
                "axis",
                axis=name,
                coordinate=axis.coordinate,
                index=axis.index,
                weight=axis.weight,
            )
        trace.record("sources", **pixel_sources(rows, cols))
    device = x.device  # the tables are built on the CPU
    row_index, col_index = rows.index.to(device), cols.index.to(device)
    if not linear:  # one tap per axis with weight 1: a gather, exact for every dtype
        return x[:, :, row_index[:, 0, None], col_index[None, :, 0]]
    # separable: along the width, then along the height (PyTorch's order for bilinear)
    values = x.to(opmath)
    values = (values[..., col_index] * cols.weight.to(device)).sum(-1)  # (N, C, H, W_out)
    values = (values[..., row_index, :] * rows.weight.to(device)[:, :, None]).sum(-2)
    return values.to(x.dtype)


# --- pixel shuffle ------------------------------------------------------------------------------


def _positive_factor(r: object, name: str, op: str) -> int:
    if not _is_integer(r) or int(r) <= 0:
        raise InputError(f"{op} expects a positive {name}, but got {r}")
    return int(r)


def pixel_shuffle(x: Tensor, r: int) -> Tensor:
    """Rearrange r² channels into an r × r block: out[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w].

    Shi et al. 2016 (ESPCN), the periodic shuffling operator PS of eq. 4.
    x: (..., C·r², H, W) -> (..., C, H·r, W·r)
    """
    r = _positive_factor(r, "upscale_factor", "pixel_shuffle")
    if x.dim() < 3:
        raise InputError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got {x.dim()}"
        )
    *batch, channels, height, width = x.shape
    if channels % (r * r):
        raise InputError(
            f"pixel_shuffle: channels ({channels}) must be divisible by upscale_factor² ({r * r})"
        )
    b = len(batch)
    blocks = x.reshape(*batch, channels // (r * r), r, r, height, width)  # (c, i, j, h, w)
    blocks = blocks.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)  # (c, h, i, w, j)
    return blocks.reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(x: Tensor, r: int) -> Tensor:
    """The inverse of `pixel_shuffle`: every r × r block of pixels becomes r² channels.

    x: (..., C, H·r, W·r) -> (..., C·r², H, W)
    """
    r = _positive_factor(r, "downscale_factor", "pixel_unshuffle")
    if x.dim() < 3:
        raise InputError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got {x.dim()}"
        )
    *batch, channels, height, width = x.shape
    if height % r or width % r:
        raise InputError(
            f"pixel_unshuffle: height and width ({height}, {width}) must be divisible by "
            f"downscale_factor ({r})"
        )
    b = len(batch)
    blocks = x.reshape(*batch, channels, height // r, r, width // r, r)  # (c, h, i, w, j)
    blocks = blocks.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)  # (c, i, j, h, w)
    return blocks.reshape(*batch, channels * r * r, height // r, width // r)


# --- transposed convolution ---------------------------------------------------------------------


def _int_pair(value: object, name: str) -> tuple[int, int]:
    pair = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(pair) != 2 or not all(_is_integer(v) for v in pair):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    output_padding: int | Sequence[int] = 0,
    *,
    dilation: int | Sequence[int] = 1,
    trace: Trace | None = None,
) -> Tensor:
    """Transposed convolution as a scatter-add: every input pixel adds a weighted kernel.

    out[n, o, h·s + a·d − p, w·s + b·d − p] += x[n, c, h, w] · weight[c, o, a, b]
    (Dumoulin & Visin 2016, "A guide to convolution arithmetic", section 4).
    x: (N, C_in, H, W) or (C_in, H, W); weight: (C_in, C_out, kH, kW)
    -> (N, C_out, H_out, W_out), H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1.
    Traced: "overlap", (H_out, W_out) int64: how many (input pixel, kernel tap) pairs land on
    each output pixel — uneven when the kernel size is not a multiple of the stride.
    """
    stride, padding = _int_pair(stride, "stride"), _int_pair(padding, "padding")
    output_padding = _int_pair(output_padding, "output_padding")
    dilation = _int_pair(dilation, "dilation")
    if min(stride) <= 0:
        raise InputError(f"stride: non-positive stride is not supported, got {stride}")
    if min(dilation) <= 0:
        raise InputError(f"dilation: dilation should be greater than zero, got {dilation}")
    if min(padding) < 0:
        raise InputError(f"padding: negative padding is not supported, got {padding}")
    if min(output_padding) < 0 or any(
        op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)
    ):
        raise InputError(
            f"output_padding: must be ≥ 0 and smaller than either stride or dilation, got "
            f"output_padding {output_padding}, stride {stride}, dilation {dilation}"
        )
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)
    if x.dim() != 4 or weight.dim() != 4:
        raise InputError(
            f"expected x (N, C_in, H, W) and weight (C_in, C_out, kH, kW), got shapes "
            f"{tuple(x.shape)} and {tuple(weight.shape)}"
        )
    batch, channels, height, width = x.shape
    in_channels, out_channels, kernel_h, kernel_w = weight.shape
    if channels != in_channels:
        raise InputError(
            f"weight of size {list(weight.shape)} expects x to have {in_channels} channels, "
            f"but got {channels} channels"
        )
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    out_h = (height - 1) * sh - 2 * ph + dh * (kernel_h - 1) + output_padding[0] + 1
    out_w = (width - 1) * sw - 2 * pw + dw * (kernel_w - 1) + output_padding[1] + 1
    if out_h < 0 or out_w < 0:  # 0 gives an empty output, as PyTorch's batched kernel does
        raise InputError(
            f"Given input size per channel: ({height} x {width}). Calculated output size per "
            f"channel: ({out_h} x {out_w}). Output size is too small"
        )
    # where tap (a, b) of input pixel (h, w) lands on the uncropped canvas
    rows = torch.arange(height)[:, None] * sh + torch.arange(kernel_h)[None, :] * dh  # (H, kH)
    cols = torch.arange(width)[:, None] * sw + torch.arange(kernel_w)[None, :] * dw  # (W, kW)
    canvas_h = max(int(rows.max()) + 1, ph + out_h)  # output_padding may reach past the taps
    canvas_w = max(int(cols.max()) + 1, pw + out_w)
    target = (rows[:, None, :, None] * canvas_w + cols[None, :, None, :]).flatten()  # (H·W·kH·kW)
    products = torch.einsum("nchw,coab->nohwab", x, weight)  # each input pixel × the kernel
    canvas = x.new_zeros(batch, out_channels, canvas_h * canvas_w, dtype=products.dtype)
    canvas.index_add_(2, target.to(x.device), products.reshape(batch, out_channels, -1))
    out = canvas.view(batch, out_channels, canvas_h, canvas_w)[
        :, :, ph : ph + out_h, pw : pw + out_w
    ]
    if trace is not None:
        counts = torch.zeros(canvas_h * canvas_w, dtype=torch.long)
        counts.index_add_(0, target, torch.ones_like(target))
        overlap = counts.view(canvas_h, canvas_w)[ph : ph + out_h, pw : pw + out_w]
        trace.record("overlap", overlap)
    out = out.contiguous()
    return out[0] if unbatched else out


# --- max unpooling ------------------------------------------------------------------------------


def max_unpool2d(
    x: Tensor,
    indices: Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    output_size: Sequence[int] | None = None,
    *,
    padding: int | Sequence[int] = 0,
    trace: Trace | None = None,
) -> Tensor:
    """Put each pooled value back where max-pooling took it from; every other pixel is 0.

    Zeiler & Fergus 2014 ("switches"); SegNet (Badrinarayanan et al. 2017) upsamples so.
    x, indices: (N, C, H, W) or (C, H, W), indices from F.max_pool2d(return_indices=True):
    positions h·W_out + w in each output plane. -> (N, C, H_out, W_out), by default
    H_out = (H − 1)·stride − 2·padding + kernel_size; `output_size` ((H, W) or (N, C, H, W))
    may pick a size within ±stride of it (strictly), as PyTorch allows.
    Traced: "targets": {"row", "col"} of every input value in the output.
    """
    kernel = _int_pair(kernel_size, "kernel_size")
    step = kernel if stride is None else _int_pair(stride, "stride")
    pad = _int_pair(padding, "padding")
    if x.dim() not in (3, 4):
        raise InputError(f"x: expected a 3-D or 4-D tensor, got shape {tuple(x.shape)}")
    if indices.shape != x.shape:
        raise InputError(
            f"indices: expected the shape of x {tuple(x.shape)}, got {tuple(indices.shape)}"
        )
    if indices.dtype != torch.int64:
        raise InputError(f"indices: expected int64, got {indices.dtype}")
    default = [(x.shape[-2 + d] - 1) * step[d] + kernel[d] - 2 * pad[d] for d in range(2)]
    if output_size is None:
        size = default
    else:
        size = [int(s) for s in output_size]
        if len(size) == 4:
            size = size[2:]
        if len(size) != 2:
            raise ValueError(
                f"output_size: expected 2 or 4 elements, but it has a length of {len(size)}"
            )
        for d in range(2):
            low, high = default[d] - step[d], default[d] + step[d]
            if not low < size[d] < high:
                raise ValueError(
                    f'invalid output_size "{output_size}" (dim {d} must be between {low} and {high})'
                )
    out_h, out_w = size
    if out_h < 0 or out_w < 0:
        raise ValueError(f"output_size: must be non-negative, got {size}")
    flat_x, flat_index = x.flatten(-2), indices.flatten(-2)
    if flat_index.numel() and (flat_index.min() < 0 or flat_index.max() >= out_h * out_w):
        bad = flat_index[(flat_index < 0) | (flat_index >= out_h * out_w)][0]
        raise InputError(
            f"Found an invalid max index: {int(bad)} (output volumes are of size {out_h}x{out_w})"
        )
    out = flat_x.new_zeros(*flat_x.shape[:-1], out_h * out_w)
    out.scatter_(-1, flat_index, flat_x)
    if trace is not None:
        trace.record("targets", row=indices // max(out_w, 1), col=indices % max(out_w, 1))
    return out.view(*x.shape[:-2], out_h, out_w)
