"""The blip demo: its masks are core's, its targets ALBEF's, its draws the softmax's, its stories hold."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import softmax

from core.multimodal.blip import attention_masks, qformer_masks
from demos import blip as demo

DEMO = demo.DEMO


def blocks(z: np.ndarray) -> list[np.ndarray]:
    """The matrices of a heatmap drawn side by side, split at their all-NaN gap columns."""
    gaps = np.isnan(z).all(0)
    found, start = [], None
    for column, gap in enumerate([*gaps, True]):
        if not gap and start is None:
            start = column
        elif gap and start is not None:
            found.append(z[:, start:column])
            start = None
    return found


@pytest.mark.parametrize("family", ["blip", "blip2"])
def test_mask_figure_draws_cores_masks(family):
    p = demo.Params(family=family, text_tokens=6, image_tokens=3, queries=2)
    figure = DEMO.render(p).figures[0]
    self_blocks = blocks(np.asarray(figure.data[0].z, dtype=float))
    cross_blocks = blocks(np.asarray(figure.data[1].z, dtype=float))
    modes = ("itc", "itm", "lm") if family == "blip" else ("itc", "itm", "itg")
    for mode, self_block, cross_block in zip(modes, self_blocks, cross_blocks, strict=True):
        if family == "blip":
            want_self, want_cross = attention_masks(6, 3, mode)
        else:
            want_self, want_cross = qformer_masks(2, 6, 3, mode)
        assert (self_block == want_self.numpy()).all()
        assert (cross_block == want_cross.numpy()).all()


def test_soft_targets_are_albefs_mixture_and_sum_to_one_by_row():
    p = demo.Params(alpha=0.7, temperature=0.15, batch=10)
    w = demo.world(p.batch, p.seed)
    targets = demo.losses(p.batch, p.seed, p.temperature, p.alpha)["row_targets"]
    want = 0.3 * np.eye(10) + 0.7 * softmax(w["momentum"] / 0.15, axis=1)
    np.testing.assert_allclose(targets, want, rtol=1e-12)
    np.testing.assert_allclose(targets.sum(1), 1, rtol=1e-12)
    # near misses get credit: a caption sharing a word gets more target mass than one sharing none
    items = w["items"]
    shared = (items[:, None, :] == items[None, :, :]).any(-1) & ~np.eye(10, dtype=bool)
    unrelated = ~shared & ~np.eye(10, dtype=bool)
    assert targets[shared].mean() > 5 * targets[unrelated].mean()


@pytest.mark.parametrize("sampler", ["hard", "uniform"])
def test_drawn_negatives_pass_chi_square_and_never_hit_the_positive(sampler):
    p = demo.Params(batch=12, temperature=0.05, draws=20000, sampler=sampler, row=3)
    n = demo.negatives(p.batch, p.seed, p.temperature, p.sampler, p.draws)
    assert np.trace(n["text_counts"]) == 0 and np.trace(n["image_counts"]) == 0
    assert (n["text_counts"].sum(1) == p.draws).all()
    p_text, p_image = demo.chi_square(p)
    assert p_text > 1e-3 and p_image > 1e-3
    if sampler == "uniform":
        np.testing.assert_allclose(n["text_weights"][3, [0, 1, 2, 4]], 1 / 11)


def test_hard_negatives_share_a_word_more_often_than_uniform_ones():
    p = DEMO.presets["Hard negatives share a word"]
    hard = demo.negatives(p.batch, p.seed, p.temperature, "hard", p.draws)
    uniform = demo.negatives(p.batch, p.seed, p.temperature, "uniform", 0)  # weights only
    assert hard["share_expected"] > uniform["share_expected"] + 0.2
    # uniform draws share a word as often as the batch's captions do
    assert uniform["share_expected"] == pytest.approx(uniform["share_batch"], rel=1e-9)
    assert abs(hard["share_drawn"] - hard["share_expected"]) < 0.02
    itm = demo.losses(p.batch, p.seed, p.temperature, p.alpha)
    assert itm["itm_hard"] > itm["itm_uniform"]  # hard negatives are harder to tell apart


def test_lm_losses_are_cross_entropy_with_label_smoothing_and_above_the_floor():
    words = ("[DEC]", "photo", "of", "a", "red", "circle")
    result = demo.lm_losses(words, 0, 0.1)
    logits, vocabulary = demo.decoder_logits(words, 0)
    targets = torch.tensor([vocabulary.index(w) for w in [*words[1:], "[SEP]"]])
    want = F.cross_entropy(torch.from_numpy(logits), targets, reduction="none", label_smoothing=0.1)
    np.testing.assert_allclose(result["smoothed"], want.numpy(), rtol=1e-12)
    assert result["smoothed_mean"] == pytest.approx(float(want.mean()), rel=1e-12)
    assert result["smoothed"].min() >= result["floor"] - 1e-12
    # the floor: the loss of predicting the smoothed target exactly
    v = len(vocabulary)
    target = np.full(v, 0.1 / v)
    target[0] += 0.9
    assert result["floor"] == pytest.approx(-(target * np.log(target)).sum(), rel=1e-12)


def test_capfilt_lowers_the_noise_and_the_sankey_conserves_pairs():
    p = DEMO.presets["CapFilt on very noisy web data"]
    counts = demo.capfilt_run(p.web_pairs, p.rho, p.q, p.threshold, p.seed)["counts"]
    web_noisy = counts["web/noisy/kept"] + counts["web/noisy/removed"]
    kept = sum(v for k, v in counts.items() if k.endswith("kept"))
    kept_noisy = counts["web/noisy/kept"] + counts["synthetic/noisy/kept"]
    assert web_noisy / p.web_pairs > 0.65 and kept_noisy / kept < 0.15
    sankey = DEMO.render(p).figures[4].data[0]
    source, target = np.array(sankey.link.source), np.array(sankey.link.target)
    value = np.array(sankey.link.value)
    filter_node = 3
    assert (
        value[target == filter_node].sum() == value[source == filter_node].sum() == 2 * p.web_pairs
    )


def test_row_past_the_batch_shows_the_last_image_and_min_bounds_render_without_nan_text():
    rendered = DEMO.render(demo.Params(batch=2, row=31))
    assert "image 1" in rendered.figures[2].layout.title.text
    assert "nan" not in rendered.notes and "-0.000" not in rendered.notes
