"""The clip demo: its matrix and losses are clip_loss's, its row-1 editor and marks tell the truth."""

import math

import numpy as np
import pytest

from core.multimodal.contrastive import clip_loss
from demos import clip as demo

DEMO = demo.DEMO


def test_row_one_is_the_editors_image_and_its_caption_can_lie():
    p = demo.Params(image_colour="green", image_shape="ring", caption_shape="cross")
    compositions, _, captions = demo.draw_batch(p)
    assert (compositions[0].colour, compositions[0].shape) == ("green", "ring")
    assert captions[0] == "a big green cross at the top left"


def test_one_colour_draw_gives_every_pair_the_same_colour():
    p = demo.Params(draw="colour", batch_size=16, image_colour="blue")
    compositions, _, _ = demo.draw_batch(p)
    assert {c.colour for c in compositions} == {"blue"}


def test_matrix_and_loss_figures_show_clip_loss_of_the_batch():
    p = demo.Params(scale="manual", log_scale=1.5, view="rows", batch_size=10, seed=4)
    images, captions, x, y, _ = demo.batch_embeddings(p)
    loss, logits = clip_loss(x, y, 1.5)
    batch, losses, *_ = DEMO.render(p).figures
    rows = np.exp(logits.numpy() - logits.numpy().max(1, keepdims=True))
    np.testing.assert_allclose(batch.data[0].z, rows / rows.sum(1, keepdims=True), atol=1e-6)
    line = next(t for t in losses.data if t.type == "scatter" and t.name.startswith("loss"))
    assert line.y[0] == pytest.approx(float(loss), abs=1e-6)
    marked = next((t for t in batch.data if "same caption" in (t.name or "")), None)
    twins = [(i, j) for i in range(10) for j in range(10) if i != j and captions[i] == captions[j]]
    assert (marked is None) == (not twins)
    assert len(images) == 10


def test_loss_against_scale_starts_near_log_n_and_falls_for_a_trained_batch():
    p = demo.Params(batch_size=12)
    *_, (scales, losses) = demo.batch_embeddings(p)
    assert scales[0] == pytest.approx(1.0) and scales[-1] == pytest.approx(100.0)
    assert abs(losses[0] - math.log(12)) < 1.0  # s = 1: cosines in [−1, 1] barely move log N
    assert losses[-1] < losses[0]


def test_zero_shot_ensemble_and_accuracies_are_consistent():
    z = demo.zero_shot("clip", "shape", ("a {}", "a photo of a {}"))
    held = z["held"]
    assert held.sum() == 50
    for result in z["results"].values():
        correct = result["predicted"] == z["truth"]
        assert result["held_out"] == pytest.approx(correct[held].mean())
    assert z["results"]["ensemble"]["seen"] > 0.5  # far above chance (0.2) on seen compositions


def test_trained_models_beat_chance_on_held_out_colour_shape_pairs():
    for model in ("clip", "siglip"):
        z = demo.zero_shot(model, "colour+shape", ("a {}",))
        assert z["results"]["a {}"]["held_out"] > 3 / 25


def test_the_demos_words_are_the_toy_worlds():
    from core.multimodal import shapes

    assert demo.SHAPES == shapes.SHAPES and demo.COLOURS == shapes.COLOURS
    assert demo.POSITIONS == shapes.POSITIONS and demo.SIZES == shapes.SIZES
    assert demo.TEMPLATES == shapes.TEMPLATES
