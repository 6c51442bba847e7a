"""The nn-vs-functional demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np
import pytest

from demos import nn_vs_functional as demo


def table(rendered) -> dict[str, list[str]]:
    cells = rendered.figures[0].data[0].cells.values
    return {row[0]: list(row) for row in zip(*cells, strict=True)}


@pytest.mark.parametrize("layer", ["conv", "linear", "dropout", "cnn"])
def test_module_and_functional_outputs_are_identical(layer):
    title = demo.render(demo.Params(layer=layer, padding_mode="circular")).figures[1].layout.title
    assert "max |Δ| = 0.0e+00" in title.text


def test_dropout_at_eval_without_training_argument_still_drops():
    params = demo.presets["Dropout at eval: the module knows, F.dropout does not"]
    figure = demo.render(params).figures[1]
    assert "the bug: 50% dropped at eval" in figure.layout.title.text
    module_at_eval, custom = np.asarray(figure.data[0].z), np.asarray(figure.data[3].z)
    assert (module_at_eval > 0).mean() > 0.9  # eval: the module passes the photo through
    assert abs((custom == 0).mean() - 0.5) < 0.05  # F.dropout(x, p): half of it gone
    fixed = params.model_copy(update={"pass_training": True})
    assert "the bug" not in demo.render(fixed).figures[1].layout.title.text


def test_dropout_draws_a_new_mask_on_each_call_in_training():
    figure = demo.render(demo.Params(layer="dropout")).figures[1]
    first, second = (np.asarray(figure.data[k].z) == 0 for k in (0, 1))
    assert (first != second).mean() > 0.3


def test_batch_norm_momentum_none_is_the_cumulative_average():
    out = demo._outputs(demo.Params(layer="batchnorm", momentum="none", train_steps=30))
    means = out["runs"]["none"]["mean"]
    # with momentum None the running mean after the last step averages every batch mean,
    # which for equal batches is the mean of all crops seen
    assert means[-1] == pytest.approx(out["true_mean"], rel=1e-5)
    assert out["gap"] < 1e-6  # module and F.batch_norm agree to float32 rounding
    assert out["eval_vs_batch2"] > 0.01  # eval uses running stats, not the pair's own


def test_the_table_shows_where_each_piece_lives():
    rows = table(demo.render(demo.presets["A non-persistent buffer"]))
    assert rows["0.weight"][1:6] == ["parameter", "(4, 2, 3, 3)", "✓", "✓", "✓"]
    assert rows["1.running_mean"][1] == "buffer" and rows["1.running_mean"][5] == "✗"
    assert rows["1.num_batches_tracked"][6] == "✓ int64"  # .to(float64) casts floats only
    assert rows["pixel_mean"][1] == "buffer (not persistent)" and rows["pixel_mean"][4] == "✗"
    assert rows["training"][2] == "False"
