"""A small SiLU multilayer perceptron with a seeded initialisation, shared by the 2-D models."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn


def seeded_mlp(sizes: Sequence[int], seed: int, *, zero_last: bool = False) -> nn.Sequential:
    """Linear–SiLU–…–Linear through `sizes` (in, hidden…, out), initialised as PyTorch's
    default U(±1/√fan_in) but drawn from a generator seeded with `seed`.

    zero_last: start with a zero output layer (a coupling that begins as the identity).
    """
    g = torch.Generator().manual_seed(seed)
    modules: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        linear = nn.Linear(fan_in, fan_out)
        bound = 1 / math.sqrt(fan_in)
        with torch.no_grad():
            linear.weight.copy_((torch.rand(fan_out, fan_in, generator=g) * 2 - 1) * bound)
            linear.bias.copy_((torch.rand(fan_out, generator=g) * 2 - 1) * bound)
            if zero_last and i == len(sizes) - 2:
                linear.weight.zero_()
                linear.bias.zero_()
        modules.append(linear)
        if i < len(sizes) - 2:
            modules.append(nn.SiLU())
    return nn.Sequential(*modules)


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1) over a module's parameters, PyTorch's update order.

    torch.optim.Adam would do; its first construction imports torch._dynamo (seconds), which a
    demo's first render should not pay.
    """

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        correction1 = 1 - self.beta1**self.t
        correction2_sqrt = math.sqrt(1 - self.beta2**self.t)
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            m.lerp_(p.grad, 1 - self.beta1)  # m ← β₁m + (1 − β₁)g
            v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            denominator = (v.sqrt() / correction2_sqrt).add_(self.eps)
            p.addcdiv_(m, denominator, value=-self.lr / correction1)
