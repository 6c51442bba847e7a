"""The xgboost demo's stories hold on its own numbers, and its figures show the core's model."""

import numpy as np

from core.classic.boosting import predict_margin, reachable
from demos import xgboost_trees as demo


def run(p):
    return demo._run(*demo._key(p))


def leaves(tree):
    return tree.value[reachable(tree) & (tree.feature < 0)]


def test_lambda_pulls_leaf_weights_toward_zero():
    strong = demo.presets["lambda"]
    weak = strong.model_copy(update={"reg_lambda": 0.0})
    first_strong, first_weak = run(strong)["model"].trees[0], run(weak)["model"].trees[0]
    assert np.abs(leaves(first_strong)).max() < 0.6 * np.abs(leaves(first_weak)).max()
    live = reachable(first_strong) & (first_strong.feature < 0)
    g, h = first_strong.grad_sum[live], first_strong.cover[live]
    # each leaf is the unregularised −G/H shrunk by H/(H + λ)
    np.testing.assert_allclose(first_strong.value[live], -g / h * h / (h + strong.reg_lambda))


def test_gamma_prunes_weak_splits_and_the_tree_figure_greys_them():
    p = demo.presets["gamma"]
    tree = run(p)["model"].trees[p.round - 1]
    assert tree.pruned.any()
    assert np.all(tree.gain[tree.pruned] < p.gamma)
    figure = demo.DEMO.render(p).figures[1]
    assert any(len([v for v in trace.x if v is not None]) for trace in figure.data[1:2])


def test_squared_error_chases_the_outlier_and_the_example_is_the_outlier():
    p = demo.presets["outlier"]
    with_outlier, without = run(p), run(p.model_copy(update={"outlier": 0.0}))
    row = int(np.argmin(np.abs(with_outlier["x"][:, 0] - 0.3)))
    gap = (
        predict_margin(with_outlier["model"], with_outlier["x"][row : row + 1])[0]
        - predict_margin(without["model"], without["x"][row : row + 1])[0]
    )
    assert gap > 2.0  # the fit bends toward the +8 outlier
    title = demo.DEMO.render(p).figures[3].layout.title.text
    assert title.startswith(f"Row {row} ")


def test_min_child_weight_blocks_candidates_of_logistic_nodes():
    p = demo.presets["min_child_weight"]
    candidates = demo._scan(demo._key(p), p.round - 1)[0]
    assert any(c["blocked"].any() for c in candidates)
    figure = demo.DEMO.render(p).figures[2]
    assert figure.layout.shapes  # the blocked zones are shaded


def test_the_model_figure_draws_the_margin_after_round_r():
    p = demo.Params(round=4)
    r = run(p)
    curve = demo.DEMO.render(p).figures[0].data[2].y
    np.testing.assert_allclose(curve, predict_margin(r["model"], r["xs"][:, None], rounds=4))


def test_a_node_that_does_not_exist_falls_back_to_the_root():
    rendered = demo.DEMO.render(demo.Params(node=126, max_depth=2))
    assert "root" in rendered.notes
    assert rendered.figures[2].layout.title.text.startswith("Split scan at node #0 ")
