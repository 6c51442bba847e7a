"""Focal and varifocal loss against their closed forms, hand-derived gradients, and greedy NMS
against a plain loop. float64 throughout: the formulas are compared to ~1e-12."""

import numpy as np
import pytest
import torch

from core.detection import boxes, varifocal
from core.trace import Trace


def _logits(n=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=generator, dtype=torch.float64) * 3


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (0.5, 0.0), (0.9, 1.3)])
def test_focal_loss_is_the_closed_form_on_both_targets(alpha, gamma):
    p = torch.sigmoid(_logits())
    target = (torch.arange(64) % 3 == 0).double()
    expected = [
        -alpha * (1 - pi) ** gamma * np.log(pi) if t else -(1 - alpha) * pi**gamma * np.log(1 - pi)
        for pi, t in zip(p.tolist(), target.tolist(), strict=True)
    ]
    loss = varifocal.focal_loss(p, target, alpha, gamma)
    assert loss.dtype == torch.float64 and loss.shape == p.shape
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)


def test_focal_loss_with_gamma_zero_is_alpha_weighted_bce():
    p = torch.sigmoid(_logits())
    target = (torch.arange(64) % 2).double()
    weights = torch.where(target > 0, 0.3, 0.7).double()
    expected = torch.nn.functional.binary_cross_entropy(p, target, weight=weights, reduction="none")
    torch.testing.assert_close(varifocal.focal_loss(p, target, 0.3, 0.0), expected)


def test_varifocal_loss_is_the_closed_form_for_positives_and_negatives():
    p = torch.sigmoid(_logits())
    q = torch.where(
        torch.arange(64) % 2 == 0, torch.rand(64, dtype=torch.float64) * 0.9 + 0.05, 0.0
    )
    expected = [
        -qi * (qi * np.log(pi) + (1 - qi) * np.log(1 - pi))
        if qi > 0
        else -0.75 * pi**2 * np.log(1 - pi)
        for pi, qi in zip(p.tolist(), q.tolist(), strict=True)
    ]
    np.testing.assert_allclose(varifocal.varifocal_loss(p, q).numpy(), expected, rtol=1e-12)


def test_float32_in_float32_out():
    p = torch.tensor([0.2, 0.7], dtype=torch.float32)
    assert varifocal.focal_loss(p, torch.tensor([1, 0])).dtype == torch.float32
    assert varifocal.varifocal_loss(p, torch.tensor([0.5, 0.0])).dtype == torch.float32


@pytest.mark.parametrize("gamma", [0.0, 1.5, 2.0])
def test_traced_logit_gradients_match_autograd(gamma):
    z = _logits(seed=1).requires_grad_()
    p = torch.sigmoid(z)
    target = (torch.arange(64) % 3 == 0).double()
    q = target * torch.linspace(0.1, 1.0, 64, dtype=torch.float64)
    trace = Trace()
    for loss, name in (
        (varifocal.focal_loss(p, target, 0.25, gamma, trace=trace), "focal"),
        (varifocal.varifocal_loss(p, q, 0.75, gamma, trace=trace), "varifocal"),
    ):
        (grad,) = torch.autograd.grad(loss.sum(), z, retain_graph=True)
        torch.testing.assert_close(trace[name][-1]["grad_logit"], grad, rtol=1e-9, atol=1e-12)


def test_varifocal_positive_is_minimal_at_p_equal_q_and_its_weight_is_q():
    p = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    trace = Trace()
    loss = varifocal.varifocal_loss(p, torch.full_like(p, 0.6), trace=trace)
    assert p[loss.argmin()].item() == pytest.approx(0.6)
    torch.testing.assert_close(trace["varifocal"][0]["weight"], torch.full_like(p, 0.6))
    # and negatives are weighted α p^γ
    trace = Trace()
    varifocal.varifocal_loss(p, torch.zeros_like(p), 0.75, 2.0, trace=trace)
    torch.testing.assert_close(trace["varifocal"][0]["weight"], 0.75 * p**2)


# --- NMS -----------------------------------------------------------------------------------


def greedy_loop(b, s, threshold):
    """The rule written as plainly as possible: O(N²) Python."""
    order = sorted(range(len(s)), key=lambda i: -s[i])  # sorted() is stable
    keep = []
    for i in order:
        if all(boxes.box_iou(b[i : i + 1], b[j : j + 1]).item() <= threshold for j in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed, threshold", [(0, 0.5), (1, 0.3), (2, 0.7)])
def test_nms_matches_a_greedy_loop(seed, threshold):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 60, (80, 2))
    wh = rng.uniform(5, 30, (80, 2))
    b = torch.as_tensor(np.concatenate([xy, xy + wh], 1))
    s = torch.as_tensor(rng.choice(np.linspace(0, 1, 20), 80))  # ties occur
    keep = boxes.nms(b, s, threshold)
    assert keep.dtype == torch.int64
    assert keep.tolist() == greedy_loop(b, s.tolist(), threshold)


def test_nms_drops_only_above_the_threshold_and_handles_empty_input():
    b = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]])  # IoU 0.5 with the first
    s = torch.tensor([0.9, 0.8, 0.1])
    assert boxes.nms(b, s, 0.5).tolist() == [0, 1, 2]
    assert boxes.nms(b, s, 0.49).tolist() == [0, 2]
    trace = Trace()
    boxes.nms(b, s, 0.49, trace=trace)
    assert trace["nms"][0]["suppressed_by"].tolist() == [-1, 0, -1]
    assert boxes.nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []
