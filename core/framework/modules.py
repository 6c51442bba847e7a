"""What an `nn.Module` holds, and its forward pass written as the `torch.nn.functional` call.

A module is state (parameters, buffers, hyper-parameters, the `training` flag) plus a call to a
stateless function in `torch.nn.functional`. `functional_forward` makes that call by hand from
the module's tensors and attributes, never calling the module or its methods, and updates the
buffers exactly as the module's own forward would (BatchNorm's running statistics,
`num_batches_tracked`). Srivastava et al. 2014 (dropout); Ioffe & Szegedy 2015 (batch norm).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_padding(module: nn.Conv2d) -> tuple[int, int, int, int]:
    """The (left, right, top, bottom) padding `F.pad` takes for a Conv2d's padding.

    "same" pads dilation·(k − 1) in total per side pair, the extra pixel on the right/bottom;
    "valid" pads nothing; integers pad both sides alike."""
    if module.padding == "valid":
        return (0, 0, 0, 0)
    if module.padding == "same":
        pads = []
        for k, d in zip(module.kernel_size, module.dilation, strict=True):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return (left, right, top, bottom)
    pad_h, pad_w = module.padding
    return (pad_w, pad_w, pad_h, pad_h)


def _conv2d(module: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    common = {"stride": module.stride, "dilation": module.dilation, "groups": module.groups}
    if module.padding_mode == "zeros":
        # F.conv2d takes "same"/"valid" itself; integers are its `padding`
        return F.conv2d(x, module.weight, module.bias, padding=module.padding, **common)
    padded = F.pad(x, conv_padding(module), mode=module.padding_mode)
    return F.conv2d(padded, module.weight, module.bias, padding=0, **common)


def _batch_norm2d(module: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    if x.dim() != 4:
        raise ValueError(f"x: BatchNorm2d takes (N, C, H, W), got {x.dim()} dimensions")
    factor = 0.0 if module.momentum is None else module.momentum
    if module.training and module.track_running_stats and module.num_batches_tracked is not None:
        module.num_batches_tracked.add_(1)
        # momentum None: the cumulative average, each batch weighted 1/t
        if module.momentum is None:
            factor = 1.0 / float(module.num_batches_tracked)
    # batch statistics in training, or at eval when no running statistics are kept
    use_batch_stats = module.training or (
        module.running_mean is None and module.running_var is None
    )
    keep = not module.training or module.track_running_stats
    return F.batch_norm(
        x,
        module.running_mean if keep else None,
        module.running_var if keep else None,
        module.weight,
        module.bias,
        use_batch_stats,
        factor,
        module.eps,
    )


def functional_forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The module's output computed by `torch.nn.functional` from its tensors and attributes.

    Linear: F.linear(x, W, b); Conv2d: F.conv2d (F.pad first for reflect/replicate/circular);
    Dropout: F.dropout(x, p, training=module.training) (the same random mask for the same
    seed); BatchNorm2d: F.batch_norm with the module's running statistics, updated in place.
    Other module types: ValueError."""
    if isinstance(module, nn.Conv2d):
        return _conv2d(module, x)
    if isinstance(module, nn.Linear):
        return F.linear(x, module.weight, module.bias)
    if isinstance(module, nn.Dropout):
        return F.dropout(x, module.p, training=module.training, inplace=module.inplace)
    if isinstance(module, nn.BatchNorm2d):
        return _batch_norm2d(module, x)
    raise ValueError(
        f"module: {type(module).__name__} is not one of Linear, Conv2d, Dropout, BatchNorm2d"
    )


def describe(module: nn.Module) -> dict:
    """What the module holds.

    -> {"parameters": {name: shape}, "buffers": {name: shape} (persistent or not),
        "state_dict": [keys in order], "training": bool, "n_trainable": int}."""
    return {
        "parameters": {name: tuple(p.shape) for name, p in module.named_parameters()},
        "buffers": {name: tuple(b.shape) for name, b in module.named_buffers()},
        "state_dict": list(module.state_dict().keys()),
        "training": module.training,
        "n_trainable": sum(p.numel() for p in module.parameters() if p.requires_grad),
    }
