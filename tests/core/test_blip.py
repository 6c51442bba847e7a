"""BLIP's masks by construction, its losses against NumPy / F.cross_entropy, the sampler by chi-square."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import log_softmax, softmax
from scipy.stats import chisquare

from core.multimodal.blip import (
    attention_masks,
    itc_loss,
    itm_loss,
    lm_loss,
    sample_hard_negatives,
)


@pytest.mark.parametrize("n_text, n_image", [(1, 1), (5, 3), (0, 4)])
def test_masks_by_construction(n_text, n_image):
    itc_self, itc_cross = attention_masks(n_text, n_image, "itc")
    itm_self, itm_cross = attention_masks(n_text, n_image, "itm")
    lm_self, lm_cross = attention_masks(n_text, n_image, "lm")
    for mask in (itc_self, itc_cross, itm_self, itm_cross, lm_self, lm_cross):
        assert mask.dtype == torch.bool
    assert itc_self.shape == (n_text, n_text) and itc_cross.shape == (n_text, n_image)
    assert itc_self.all() and not itc_cross.any()
    assert itm_self.all() and itm_cross.all()
    rows, cols = np.indices((n_text, n_text))
    assert (lm_self.numpy() == (cols <= rows)).all() and lm_cross.all()


def test_unknown_mask_mode_raises():
    with pytest.raises(ValueError, match="mode"):
        attention_masks(3, 2, "itg")


def numpy_itc(logits, momentum, alpha):
    n = len(logits)
    rows = np.eye(n) if momentum is None else (1 - alpha) * np.eye(n) + alpha * softmax(momentum, 1)
    cols = (
        np.eye(n) if momentum is None else (1 - alpha) * np.eye(n) + alpha * softmax(momentum.T, 1)
    )
    i2t = -(rows * log_softmax(logits, 1)).sum(1).mean()
    t2i = -(cols * log_softmax(logits.T, 1)).sum(1).mean()
    return 0.5 * (i2t + t2i)


@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
def test_itc_loss_matches_numpy_with_and_without_momentum_targets(alpha):
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 6, generator=generator, dtype=torch.float64) * 3
    momentum = torch.randn(6, 6, generator=generator, dtype=torch.float64) * 3
    assert float(itc_loss(logits)) == pytest.approx(numpy_itc(logits.numpy(), None, 0), rel=1e-12)
    ours = itc_loss(logits, momentum, alpha)
    assert ours.dtype == torch.float64
    assert float(ours) == pytest.approx(
        numpy_itc(logits.numpy(), momentum.numpy(), alpha), rel=1e-12
    )


def test_itc_gradient_is_softmax_minus_targets_and_momentum_is_constant():
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 5, generator=generator, dtype=torch.float64).requires_grad_()
    momentum = torch.randn(5, 5, generator=generator, dtype=torch.float64).requires_grad_()
    itc_loss(logits, momentum, 0.4).backward()
    assert momentum.grad is None
    eye = torch.eye(5, dtype=torch.float64)
    rows = 0.6 * eye + 0.4 * torch.softmax(momentum.detach(), 1)
    cols = 0.6 * eye + 0.4 * torch.softmax(momentum.detach().T, 1)
    expected = 0.5 * ((torch.softmax(logits, 1) - rows) + (torch.softmax(logits.T, 1) - cols).T) / 5
    torch.testing.assert_close(logits.grad, expected.detach(), rtol=1e-10, atol=1e-12)


def test_itm_and_lm_losses_are_cross_entropies():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(9, 2, generator=generator)
    labels = torch.tensor([1, 1, 1, 0, 0, 0, 0, 0, 0])
    torch.testing.assert_close(itm_loss(logits), F.cross_entropy(logits, labels))
    lm_logits = torch.randn(2, 5, 11, generator=generator)
    targets = torch.tensor([[4, 5, 6, 2, 0], [7, 8, 2, 0, 0]])
    expected = F.cross_entropy(
        lm_logits.reshape(-1, 11), targets.reshape(-1), ignore_index=0, label_smoothing=0.1
    )
    torch.testing.assert_close(lm_loss(lm_logits, targets), expected)


def test_hard_negatives_follow_their_softmax_and_never_draw_the_positive():
    similarity = torch.tensor(
        [[2.0, 1.0, 0.0, -1.0], [0.5, 3.0, 0.5, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 2.0, -2.0, 0.0]]
    )
    generator = torch.Generator().manual_seed(0)
    draws = 3000
    texts = np.zeros((4, 4))
    images = np.zeros((4, 4))
    for _ in range(draws):
        neg_text, neg_image = sample_hard_negatives(similarity, generator)
        assert neg_text.dtype == torch.int64 and neg_image.dtype == torch.int64
        texts[np.arange(4), neg_text.numpy()] += 1
        images[np.arange(4), neg_image.numpy()] += 1
    assert np.trace(texts) == 0 and np.trace(images) == 0
    s = similarity.double().numpy()
    for i in range(4):
        others = [j for j in range(4) if j != i]
        p_text = softmax(s[i, others])
        p_image = softmax(s[others, i])
        assert chisquare(texts[i, others], p_text * draws).pvalue > 1e-3
        assert chisquare(images[i, others], p_image * draws).pvalue > 1e-3


def test_sampler_needs_two_pairs():
    with pytest.raises(ValueError, match="at least 2"):
        sample_hard_negatives(torch.zeros(1, 1), torch.Generator())
