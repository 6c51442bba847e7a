"""BLIP's masks by construction, its losses against NumPy / F.cross_entropy, the sampler by
chi-square; BLIP-2's Q-Former masks; the generated world and CapFilt's counts."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import log_softmax, softmax
from scipy.stats import chisquare

from core.multimodal import blip
from core.multimodal.blip import (
    attention_masks,
    capfilt,
    itc_loss,
    itm_loss,
    lm_loss,
    qformer_masks,
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


@pytest.fixture
def one_thread():
    """One torch thread: on a busy 2-core machine a 4×4 softmax on two threads waits ~2 ms for
    the other thread, and this test makes thousands of small calls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_hard_negatives_follow_their_softmax_and_never_draw_the_positive(one_thread):
    similarity = torch.tensor(
        [[2.0, 1.0, 0.0, -1.0], [0.5, 3.0, 0.5, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 2.0, -2.0, 0.0]]
    )
    generator = torch.Generator().manual_seed(0)
    draws = 2000  # smallest expected count: 0.016 · 2000 = 32
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


# --- BLIP-2's Q-Former masks --------------------------------------------------------------------


def expected_qformer(n_query, n_text, n_image, mode):
    """The masks of BLIP-2's Figure 2, written out cell by cell."""
    n = n_query + n_text
    self_mask = np.zeros((n, n), bool)
    for i in range(n):
        for j in range(n):
            query_i, query_j = i < n_query, j < n_query
            if mode == "itm":
                self_mask[i, j] = True
            elif mode == "itc":
                self_mask[i, j] = query_i == query_j
            else:  # itg: queries among themselves; text reads all queries and earlier text
                self_mask[i, j] = (query_i and query_j) or (not query_i and (query_j or j <= i))
    cross = np.zeros((n, n_image), bool)
    cross[:n_query] = True
    return self_mask, cross


@pytest.mark.parametrize("mode", ["itc", "itm", "itg"])
@pytest.mark.parametrize("n_query, n_text, n_image", [(3, 4, 5), (1, 1, 1), (2, 0, 3)])
def test_qformer_masks_by_construction(mode, n_query, n_text, n_image):
    self_mask, cross_mask = qformer_masks(n_query, n_text, n_image, mode)
    want_self, want_cross = expected_qformer(n_query, n_text, n_image, mode)
    assert self_mask.dtype == torch.bool and cross_mask.dtype == torch.bool
    assert (self_mask.numpy() == want_self).all()
    assert (cross_mask.numpy() == want_cross).all()


def test_qformer_unknown_mode_raises():
    with pytest.raises(ValueError, match="mode"):
        qformer_masks(2, 3, 4, "lm")


# --- the sampler's many-draws path ---------------------------------------------------------------


def test_many_draws_follow_the_softmax_of_each_row_and_never_the_positive():
    generator = torch.Generator().manual_seed(5)
    similarity = torch.randn(6, 6, generator=generator, dtype=torch.float64) * 2
    draws = 4000
    neg_text, neg_image = sample_hard_negatives(similarity, generator, draws=draws)
    assert neg_text.shape == neg_image.shape == (6, draws) and neg_text.dtype == torch.int64
    s = similarity.numpy()
    for i in range(6):
        others = [j for j in range(6) if j != i]
        texts = np.bincount(neg_text[i].numpy(), minlength=6)
        images = np.bincount(neg_image[i].numpy(), minlength=6)
        assert texts[i] == 0 and images[i] == 0
        assert chisquare(texts[others], softmax(s[i, others]) * draws).pvalue > 1e-3
        assert chisquare(images[others], softmax(s[others, i]) * draws).pvalue > 1e-3


# --- the generated world and CapFilt -------------------------------------------------------------


def test_world_items_captions_and_embeddings():
    items = blip.compositions(torch.arange(blip.N_COMPOSITIONS))
    assert len({tuple(r) for r in items.tolist()}) == 125
    assert (blip.composition_ids(items) == torch.arange(125)).all()
    assert blip.caption((1, 0, 2)) == "a green circle at the top"
    batch = blip.world_batch(10, torch.Generator().manual_seed(0))
    for key in ("image", "text", "momentum_image", "momentum_text"):
        torch.testing.assert_close(batch[key].norm(dim=1), torch.ones(10))
    cosine = batch["image"] @ batch["text"].T
    # a caption's own image is its most similar one, up to the noise (most rows, not all)
    assert (cosine.argmax(0) == torch.arange(10)).float().mean() >= 0.8
    shared = blip.shares_word(items[:, None], items[None, :])
    assert shared.sum() == 125 * (125 - 64)  # 4·4·4 of the 125 share no word with an item


def test_filter_scores_are_the_sigmoid_of_the_scaled_cosine():
    generator = torch.Generator().manual_seed(1)
    image = F.normalize(torch.randn(7, 32, generator=generator, dtype=torch.float64), dim=1)
    text = F.normalize(torch.randn(7, 32, generator=generator, dtype=torch.float64), dim=1)
    cosine = (image.numpy() * text.numpy()).sum(1)
    expected = 1 / (1 + np.exp(-blip.SCORE_SLOPE * (cosine - blip.SCORE_CENTRE)))
    np.testing.assert_allclose(blip.filter_scores(image, text).numpy(), expected, rtol=1e-12)


def test_capfilt_counts_add_up_follow_rho_and_q_and_match_the_traced_scores():
    from core.trace import Trace

    n, rho, q, threshold = 20000, 0.4, 0.7, 0.5
    trace = Trace()
    counts = capfilt(n, rho, q, threshold, torch.Generator().manual_seed(3), trace=trace)
    assert sum(v for k, v in counts.items() if k.startswith("web")) == n
    assert sum(v for k, v in counts.items() if k.startswith("synthetic")) == n
    web_noisy = counts["web/noisy/kept"] + counts["web/noisy/removed"]
    synthetic_clean = counts["synthetic/clean/kept"] + counts["synthetic/clean/removed"]
    # binomial counts: within 5 standard deviations of n·ρ and n·q
    assert abs(web_noisy - n * rho) < 5 * (n * rho * (1 - rho)) ** 0.5
    assert abs(synthetic_clean - n * q) < 5 * (n * q * (1 - q)) ** 0.5
    (scores,) = trace["filter_scores"]
    for source in ("web", "synthetic"):
        kept = scores[source] >= threshold
        clean = scores[f"{source}_clean"]
        assert counts[f"{source}/clean/kept"] == int((kept & clean).sum())
        assert counts[f"{source}/noisy/removed"] == int((~kept & ~clean).sum())
    kept = sum(v for k, v in counts.items() if k.endswith("kept"))
    kept_noisy = counts["web/noisy/kept"] + counts["synthetic/noisy/kept"]
    assert kept_noisy / kept < 0.5 * web_noisy / n  # the filter removes most of the noise


def test_capfilt_threshold_zero_keeps_everything_and_is_seeded():
    a = capfilt(500, 0.3, 0.8, 0.0, torch.Generator().manual_seed(9))
    b = capfilt(500, 0.3, 0.8, 0.0, torch.Generator().manual_seed(9))
    assert a == b
    assert all(v == 0 for k, v in a.items() if k.endswith("removed"))
    with pytest.raises(ValueError, match="rho"):
        capfilt(10, 1.5, 0.8, 0.5, torch.Generator())
