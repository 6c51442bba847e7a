"""The prompt-tuning demo's figures carry the numbers its text and presets claim."""

import numpy as np

from demos import prompt_tuning as demo


def test_the_llama_preset_counts_81_920_and_5_242_880():
    rendered = demo.DEMO.render(demo.presets["llama"])
    assert "81,920" in rendered.notes and "5,242,880" in rendered.notes
    marks = rendered.figures[1].data[-1]
    assert list(marks.y) == [81_920, 5_242_880]


def test_the_attention_map_opens_the_prefix_to_every_row_and_masks_the_future():
    p = demo.Params(methods=["deep-prompt"], n_virtual=3, steps=10, layer=1, head=2)
    rendered = demo.DEMO.render(p)
    weights = np.asarray(rendered.figures[2].data[1].z, dtype=float)  # (T, 3 + T)
    t = weights.shape[0]
    assert weights.shape == (t, 3 + t)
    assert not np.isnan(weights[:, :3]).any()  # every query sees every prefix column
    assert np.isnan(weights[0, 4:]).all() and not np.isnan(weights[-1]).any()
    np.testing.assert_allclose(np.nansum(weights, axis=1), 1.0, atol=1e-5)
    # prefix_attention against SDPA on the concatenation, float32
    run = demo._run(("deep-prompt",), 3, 48, True, "reverse", 10, 0.03, 0)
    assert run["runs"]["deep-prompt"]["check"] < 2e-5


def test_without_an_input_method_the_nearest_token_figure_says_why():
    rendered = demo.DEMO.render(demo.Params(methods=["prefix"], steps=10), lang="zh")
    nearest = rendered.figures[5]
    assert "prompt tuning" in nearest.layout.annotations[0].text


def test_full_fine_tuning_alone_draws_the_answer_rows_of_the_last_layer():
    """The last layer computes queries for the 4 answer digits only (found by the fuzz test)."""
    p = demo.Params(methods=["full"], n_virtual=1, steps=10, task="copy", layer=2, head=1)
    run = demo._run(("full",), 1, p.encoder_hidden, p.reparameterise, "copy", 10, p.lr, p.seed)
    figure = demo._attention_figure(p, run, "en")
    weights = figure.data[1].z
    assert len(weights) == 4 and len(figure.data[1].y) == 4
    assert len(figure.data[1].x) == len(weights[0])  # every key column keeps its label
