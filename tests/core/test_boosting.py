"""Our second-order boosting against xgboost-cpu's own trees (tree_method "exact"): structure,
thresholds, gains, covers and leaves round by round, on data without tied gains."""

import json

import numpy as np
import pytest
import xgboost

from core.classic.boosting import Tree, boost, fit_tree, predict_margin, predict_tree, reachable

# float32 storage in the library: gains and leaves agree to ~1e-5 relative
RTOL, ATOL = 2e-4, 1e-5


def compare(ours: Tree, node: dict, i: int = 0, scale: float = 1.0) -> list[float]:
    """Walk our tree and the library's JSON dump together; return |gain| differences."""
    diffs = []
    assert ours.cover[i] == pytest.approx(node["cover"], rel=RTOL, abs=ATOL)
    if "leaf" in node:
        assert ours.feature[i] < 0
        assert scale * ours.value[i] == pytest.approx(node["leaf"], rel=RTOL, abs=ATOL)
        return diffs
    assert ours.feature[i] == int(node["split"][1:])
    assert ours.threshold[i] == pytest.approx(node["split_condition"], rel=1e-6, abs=1e-6)
    assert ours.gain[i] == pytest.approx(node["gain"], rel=RTOL, abs=1e-4)
    diffs.append(abs(ours.gain[i] - node["gain"]))
    children = {c["nodeid"]: c for c in node["children"]}
    diffs += compare(ours, children[node["yes"]], int(ours.left[i]), scale)
    diffs += compare(ours, children[node["no"]], int(ours.right[i]), scale)
    return diffs


def data(seed: int, n: int = 150, d: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).round(4)  # some repeated values, few exact ties in gain
    return x, rng


@pytest.mark.parametrize(
    ("loss", "settings"),
    [
        (
            "squared_error",
            {"max_depth": 3, "reg_lambda": 1.0, "gamma": 0.0, "min_child_weight": 1.0},
        ),
        (
            "squared_error",
            {"max_depth": 4, "reg_lambda": 5.0, "gamma": 2.0, "min_child_weight": 3.0},
        ),
        ("logistic", {"max_depth": 3, "reg_lambda": 1.0, "gamma": 0.5, "min_child_weight": 2.0}),
    ],
)
def test_boost_equals_xgboost_round_by_round(loss, settings):
    x, rng = data(0)
    if loss == "logistic":
        y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * rng.normal(size=len(x)) > 0.3).astype(float)
        objective, base = "binary:logistic", 0.4
    else:
        y = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] + 0.1 * rng.normal(size=len(x))
        objective, base = "reg:squarederror", 0.2
    rounds, eta = 5, 0.3
    model = boost(x, y, loss=loss, rounds=rounds, learning_rate=eta, base_score=base, **settings)
    params = {"tree_method": "exact", "objective": objective, "eta": eta, "base_score": base,
              "lambda": settings["reg_lambda"], "gamma": settings["gamma"],
              "min_child_weight": settings["min_child_weight"], "max_depth": settings["max_depth"]}  # fmt: skip
    booster = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=rounds)
    dumps = booster.get_dump(dump_format="json", with_stats=True)
    for tree, dump in zip(model.trees, dumps, strict=True):
        compare(tree, json.loads(dump), scale=eta)
    expected = booster.predict(xgboost.DMatrix(x), output_margin=True)
    np.testing.assert_allclose(predict_margin(model, x), expected, rtol=1e-4, atol=1e-4)


def test_tied_gains_break_like_the_library():
    # Logistic round 0: g ∈ {0.4, −0.6}, h = 0.24 for every row, so gains depend on counts only
    # and equal gains of different features occur (seed 1: at node LRL, x1 and x2 tie).
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3)).round(4)
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * rng.normal(size=300) > 0.3).astype(float)
    model = boost(x, y, loss="logistic", rounds=3, base_score=0.4, max_depth=4, reg_lambda=2.0,
                  gamma=0.5)  # fmt: skip
    params = {"tree_method": "exact", "objective": "binary:logistic", "eta": 0.3, "base_score": 0.4,
              "lambda": 2.0, "gamma": 0.5, "max_depth": 4}  # fmt: skip
    booster = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=3)
    for tree, dump in zip(
        model.trees, booster.get_dump(dump_format="json", with_stats=True), strict=True
    ):
        compare(tree, json.loads(dump), scale=0.3)


def test_fit_tree_on_arbitrary_gradients_equals_a_custom_objective():
    x, rng = data(1, n=120, d=2)
    g, h = rng.normal(size=120), rng.uniform(0.2, 2.0, size=120)
    tree = fit_tree(x, g, h, max_depth=3, reg_lambda=2.0, min_child_weight=0.5)
    params = {"tree_method": "exact", "eta": 1.0, "lambda": 2.0, "max_depth": 3, "min_child_weight": 0.5,
              "base_score": 0.0}  # fmt: skip
    booster = xgboost.train(
        params, xgboost.DMatrix(x, label=np.zeros(120)), 1, obj=lambda p, d: (g, h)
    )
    compare(tree, json.loads(booster.get_dump(dump_format="json", with_stats=True)[0]))
    np.testing.assert_allclose(predict_tree(tree, x), booster.predict(xgboost.DMatrix(x), output_margin=True),
                               rtol=1e-4, atol=1e-5)  # fmt: skip


def test_constant_feature_and_one_leaf_tree():
    x = np.ones((20, 1))
    tree = fit_tree(x, np.arange(20.0) - 5, np.ones(20), reg_lambda=1.0)
    assert tree.feature.tolist() == [-1]  # no boundary between distinct values: one leaf
    assert tree.value[0] == pytest.approx(-(190 - 100) / 21)
    assert np.all(predict_tree(tree, np.zeros((3, 1))) == tree.value[0])


def test_gamma_prunes_bottom_up_and_keeps_the_subtree_for_drawing():
    x = np.arange(8.0)[:, None]
    g = np.array([-3.0, -3.0, -1.0, -1.0, 1.0, 1.0, 3.0, 3.0])
    # λ = 0: root gain 8²/4 + 8²/4 − 0 = 32, each child's split 6²/2 + 2²/2 − 8²/4 = 4
    full = fit_tree(x, g, np.ones(8), max_depth=2, gamma=0.0, reg_lambda=0.0)
    pruned = fit_tree(x, g, np.ones(8), max_depth=2, gamma=5.0, reg_lambda=0.0)
    assert reachable(full).sum() == 7 and reachable(pruned).sum() == 3
    np.testing.assert_allclose(full.gain[full.feature >= 0], [32.0, 4.0, 4.0])
    assert pruned.pruned.sum() == 2 and not pruned.pruned[0]
