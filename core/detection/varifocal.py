"""Focal loss and varifocal loss on predicted probabilities, with their weights and gradients.

Lin et al. 2017, "Focal Loss for Dense Object Detection": FL(p_t) = −α_t (1 − p_t)^γ log p_t.
Zhang et al. 2021, "VarifocalNet: An IoU-aware Dense Object Detector": the target of a positive
is its box's IoU q, and only negatives are down-weighted:

    VFL(p, q) = −q (q log p + (1 − q) log(1 − p))     q > 0
              = −α p^γ log(1 − p)                     q = 0

Both are a weight times binary cross-entropy with the (soft) target: the weight is what the
demo draws. p = sigmoid(z); the gradients with respect to the logit z are written out by hand
(`trace`), and the tests hold them to autograd.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from core.trace import Trace


def _probabilities(p: Any) -> Tensor:
    p = torch.as_tensor(p)
    if not p.is_floating_point():
        p = p.to(torch.get_default_dtype())
    return p


def bce(p: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy −(t log p + (1 − t) log(1 − p)) with a soft target t ∈ [0, 1]."""
    p = _probabilities(p)
    target = torch.as_tensor(target, dtype=p.dtype)
    return -(target * torch.log(p) + (1 - target) * torch.log1p(-p))


def focal_loss(
    p: Any,
    target: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    *,
    trace: Trace | None = None,
) -> Tensor:
    """Elementwise focal loss −α_t (1 − p_t)^γ log p_t of probabilities p and 0/1 targets.

    Lin et al. 2017, eq. (5): p_t = p, α_t = α where target = 1; 1 − p, 1 − α where 0.
    p: (...) in (0, 1), target: broadcastable, in {0, 1} -> p's shape and dtype.
    """
    p = _probabilities(p)
    positive = torch.as_tensor(target, device=p.device) > 0.5
    p_t = torch.where(positive, p, 1 - p)
    alpha_t = torch.where(positive, p.new_tensor(alpha), p.new_tensor(1 - alpha))
    weight = alpha_t * (1 - p_t) ** gamma
    loss = -weight * torch.log(p_t)
    if trace is not None:
        with torch.no_grad():
            # ∂FL/∂z = α_t [γ p_t (1 − p_t)^γ log p_t − (1 − p_t)^(γ+1)] · (±1): dp_t/dz = ±p(1 − p)
            sign = torch.where(positive, 1.0, -1.0).to(p.dtype)
            grad = (
                sign
                * alpha_t
                * (gamma * p_t * (1 - p_t) ** gamma * torch.log(p_t) - (1 - p_t) ** (gamma + 1))
            )
        trace.record("focal", weight=weight, grad_logit=grad, loss=loss)
    return loss


def varifocal_loss(
    p: Any,
    q: Any,
    alpha: float = 0.75,
    gamma: float = 2.0,
    *,
    trace: Trace | None = None,
) -> Tensor:
    """Elementwise varifocal loss of probabilities p with IoU targets q (0 for negatives).

    Zhang et al. 2021, eq. (2): −q (q log p + (1 − q) log(1 − p)) where q > 0,
    −α p^γ log(1 − p) where q = 0. p: (...) in (0, 1), q: broadcastable, in [0, 1].
    """
    p = _probabilities(p)
    q = torch.as_tensor(q, dtype=p.dtype, device=p.device)
    positive = q > 0
    weight = torch.where(positive, q, alpha * p**gamma)  # gradient flows through p^γ, as mmdet's
    loss = weight * bce(p, q)
    if trace is not None:
        with torch.no_grad():
            # q > 0: ∂/∂z = q (p − q); q = 0: ∂/∂z = α [p^(γ+1) − γ p^γ (1 − p) log(1 − p)]
            grad = torch.where(
                positive,
                q * (p - q),
                alpha * (p ** (gamma + 1) - gamma * p**gamma * (1 - p) * torch.log1p(-p)),
            )
        trace.record("varifocal", weight=weight, grad_logit=grad, loss=loss)
    return loss
