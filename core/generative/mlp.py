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
        """One update of every parameter with a gradient; a few multi-tensor (foreach) kernels in all,
        not a handful per tensor: small models are bound by per-call overhead."""
        self.t += 1
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [self.params[i].grad for i in live]
        m = [self.m[i] for i in live]
        v = [self.v[i] for i in live]
        correction1 = 1 - self.beta1**self.t
        correction2_sqrt = math.sqrt(1 - self.beta2**self.t)
        torch._foreach_lerp_(m, grads, 1 - self.beta1)  # m ← β₁m + (1 − β₁)g
        torch._foreach_mul_(v, self.beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta2)
        denominator = torch._foreach_sqrt(v)
        torch._foreach_div_(denominator, correction2_sqrt)
        torch._foreach_add_(denominator, self.eps)
        torch._foreach_addcdiv_(params, m, denominator, value=-self.lr / correction1)
