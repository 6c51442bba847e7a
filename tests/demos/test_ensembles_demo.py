"""The ensembles demo's stories hold on its own numbers."""

import numpy as np

from demos import ensembles as demo


def bagging(p):
    return demo._bagging(p.dataset, p.n, p.noise, p.trees, p.tree_depth, p.seed)


def test_fifty_bagged_trees_beat_one_deep_tree_and_the_variance_falls():
    bag = bagging(demo.presets["bagging"])
    assert bag["test_error"][-1] < bag["single_error"] - 0.02
    v = bag["variance"]
    assert v["measured"][-1] < 0.5 * v["measured"][0]
    assert 0 < v["rho"] < 1 and v["predicted"][-1] > v["rho"] * v["sigma2"]


def test_adaboost_weights_pile_onto_points_near_the_boundary():
    p = demo.presets["adaboost"]
    ada = demo._adaboost(p.dataset, p.n, p.noise, p.stages, p.ada_rate, p.seed)
    w = ada["model"].weights[p.stage - 1]
    radius = np.linalg.norm(ada["x"], axis=1)
    heavy = w >= np.quantile(w, 0.9)
    # circles at r = 0.5 and 1: the hard points lie between them, near r = 0.75
    assert np.abs(radius[heavy] - 0.75).mean() < np.abs(radius[~heavy] - 0.75).mean()
    assert w.max() / w.min() > 5  # from uniform at stage 1


def test_stacking_beats_its_best_base_learner():
    p = demo.presets["stacking"]
    st = demo._stacking(p.dataset, p.n, p.noise, p.k_neighbors, p.folds, p.seed)
    assert st["stack_error"] < st["base_error"].min()


def test_three_classes_draw_and_table_every_model():
    rendered = demo.DEMO.render(demo.Params(dataset="blobs", n=60, trees=3, stages=3))
    assert rendered.notes.count("\n| ") == 8
    assert len(rendered.figures[5].data) == 3  # one bar group per class
