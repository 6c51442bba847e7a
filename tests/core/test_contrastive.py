"""CLIP's and SigLIP's losses against closed forms (SciPy) and separately written formulas."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import log_expit, logsumexp

from core.multimodal.contrastive import (
    clip_loss,
    siglip_loss,
    siglip_loss_chunked,
    zero_shot_logits,
)
from core.trace import Trace


def pairs(n, d=8, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, d, generator=generator, dtype=dtype),
        torch.randn(n, d, generator=generator, dtype=dtype),
    )


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def clip_reference(x, y, logit_scale):
    """½(CE rows + CE columns) with SciPy's logsumexp, in float64."""
    s = math.exp(min(logit_scale, math.log(100)))
    logits = s * unit(x) @ unit(y).T
    diagonal = np.diag(logits)
    return 0.5 * (
        (logsumexp(logits, axis=1) - diagonal).mean()
        + (logsumexp(logits, axis=0) - diagonal).mean()
    )


def siglip_reference(x, y, log_t, b):
    """−(1/N) Σ log σ(z·logits) with SciPy's log_expit, in float64."""
    logits = math.exp(log_t) * unit(x) @ unit(y).T + b
    z = 2 * np.eye(len(x)) - 1
    return -log_expit(z * logits).sum() / len(x)


@pytest.mark.parametrize("n, logit_scale", [(1, 2.0), (5, math.log(1 / 0.07)), (9, 7.0)])
def test_clip_loss_matches_logsumexp_closed_form_float64(n, logit_scale):
    x, y = pairs(n)
    loss, logits = clip_loss(x, y, logit_scale)
    assert loss.dtype == torch.float64 and logits.shape == (n, n)
    expected = clip_reference(x.numpy(), y.numpy(), logit_scale)
    assert abs(float(loss) - expected) <= 1e-10 * max(1.0, abs(expected))


def test_clip_loss_float32_within_1e_5_relative_and_keeps_dtype():
    x, y = pairs(16, dtype=torch.float32)
    loss, logits = clip_loss(x, y, torch.tensor(3.0))
    assert loss.dtype == logits.dtype == torch.float32
    expected = clip_reference(x.double().numpy(), y.double().numpy(), 3.0)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_clip_gradients_match_autograd_of_cross_entropy_formula():
    x, y = pairs(6)
    scale = torch.tensor(2.5, dtype=torch.float64)
    inputs = [
        x.clone().requires_grad_(),
        y.clone().requires_grad_(),
        scale.clone().requires_grad_(),
    ]
    clip_loss(*inputs)[0].backward()
    reference = [
        x.clone().requires_grad_(),
        y.clone().requires_grad_(),
        scale.clone().requires_grad_(),
    ]
    a, b, s = reference
    logits = s.exp() * F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    target = torch.arange(6)
    (0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))).backward()
    for ours, theirs in zip(inputs, reference, strict=True):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-10, atol=1e-12)


def test_clip_scale_is_clipped_at_100_with_no_gradient_past_it():
    x, y = pairs(4)
    scale = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    trace = Trace()
    loss, _ = clip_loss(x, y, scale, trace=trace)
    assert trace["scale"][0] == pytest.approx(100.0)
    loss.backward()
    assert float(scale.grad) == 0.0
    assert float(loss) == pytest.approx(
        clip_reference(x.numpy(), y.numpy(), math.log(100)), abs=1e-12
    )


def test_clip_loss_tends_to_log_n_as_the_scale_vanishes():
    x, y = pairs(12)
    assert float(clip_loss(x, y, -30.0)[0]) == pytest.approx(math.log(12), abs=1e-10)


@pytest.mark.parametrize("n, log_t, b", [(1, 1.0, -2.0), (6, math.log(10), -10.0), (11, 0.3, 4.0)])
def test_siglip_loss_matches_log_expit_closed_form_float64(n, log_t, b):
    x, y = pairs(n)
    loss, logits = siglip_loss(x, y, log_t, b)
    expected = siglip_reference(x.numpy(), y.numpy(), log_t, b)
    assert abs(float(loss) - expected) <= 1e-10 * max(1.0, abs(expected))
    assert logits.shape == (n, n)


def test_siglip_gradients_match_binary_cross_entropy_autograd_and_the_trace():
    x, y = pairs(7)
    params = [torch.tensor(1.7, dtype=torch.float64), torch.tensor(-3.0, dtype=torch.float64)]
    ours = [t.clone().requires_grad_() for t in (x, y, *params)]
    trace = Trace()
    loss, logits = siglip_loss(*ours, trace=trace)
    logits.retain_grad()
    loss.backward()
    theirs = [t.clone().requires_grad_() for t in (x, y, *params)]
    a, b, log_t, bias = theirs
    reference_logits = log_t.exp() * F.normalize(a, dim=1) @ F.normalize(b, dim=1).T + bias
    labels = torch.eye(7, dtype=torch.float64)
    (F.binary_cross_entropy_with_logits(reference_logits, labels, reduction="sum") / 7).backward()
    for mine, reference in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine.grad, reference.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(trace["pair_gradients"][0], logits.grad, rtol=1e-10, atol=1e-14)


def test_float32_stays_finite_and_accurate_at_logits_near_1000():
    x, y = pairs(8, dtype=torch.float32)
    loss, logits = siglip_loss(x, y, math.log(1000.0), 0.0)
    assert float(logits.abs().max()) > 500
    expected = siglip_reference(x.double().numpy(), y.double().numpy(), math.log(1000.0), 0.0)
    assert math.isfinite(float(loss)) and float(loss) == pytest.approx(expected, rel=1e-5)
    chunked = siglip_loss_chunked(x, y, math.log(1000.0), 0.0, 3)
    assert float(chunked) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("n, chunks", [(1, 1), (7, 1), (7, 3), (7, 7), (10, 4)])
def test_chunked_equals_full_in_value_and_gradients(n, chunks):
    x, y = pairs(n, seed=n)
    params = [torch.tensor(2.0, dtype=torch.float64), torch.tensor(-5.0, dtype=torch.float64)]
    full = [t.clone().requires_grad_() for t in (x, y, *params)]
    siglip_loss(*full)[0].backward()
    ring = [t.clone().requires_grad_() for t in (x, y, *params)]
    value = siglip_loss_chunked(*ring, chunks)
    value.backward()
    assert float(value) == pytest.approx(float(siglip_loss(x, y, *params)[0]), rel=1e-12)
    for a, b in zip(full, ring, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("n, chunks", [(10, 3), (64, 8), (5, 5)])
def test_no_traced_block_exceeds_ceil_n_over_d_squared_and_every_pair_is_scored_once(n, chunks):
    x, y = pairs(n)
    trace = Trace()
    siglip_loss_chunked(x, y, 1.0, -1.0, chunks, trace=trace, record_terms=True)
    blocks = trace["block"]
    assert len(blocks) == chunks * chunks
    assert max(e["size"] for e in blocks) <= math.ceil(n / chunks) ** 2
    seen = np.zeros((n, n), dtype=int)
    for event in blocks:
        (r0, r1), (c0, c1) = event["rows"], event["cols"]
        seen[r0:r1, c0:c1] += 1
        if event["step"] == 0:
            assert event["text_chunk"] == event["device"]  # positives: each device's own chunk
    assert (seen == 1).all()
    total = sum(e["loss"] for e in blocks) / n
    assert total == pytest.approx(float(siglip_loss(x, y, 1.0, -1.0)[0]), rel=1e-12)


def test_chunk_count_out_of_range_is_refused():
    x, y = pairs(4)
    for bad in (0, 5):
        with pytest.raises(ValueError, match="n_chunks"):
            siglip_loss_chunked(x, y, 1.0, 0.0, bad)


def test_zero_shot_logits_average_normalised_prompts_then_normalise():
    generator = torch.Generator().manual_seed(3)
    images = torch.randn(5, 6, generator=generator, dtype=torch.float64)
    prompts = torch.randn(4, 3, 6, generator=generator, dtype=torch.float64)
    cosines = zero_shot_logits(images, prompts)
    classes = unit(np.stack([unit(p).mean(0) for p in prompts.numpy()]))
    np.testing.assert_allclose(cosines.numpy(), unit(images.numpy()) @ classes.T, rtol=1e-12)
    torch.testing.assert_close(
        zero_shot_logits(images, prompts[:, 0]), zero_shot_logits(images, prompts[:, :1])
    )
    assert cosines.shape == (5, 4) and float(cosines.abs().max()) <= 1 + 1e-12
