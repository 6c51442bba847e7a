"""Our stumps, AdaBoost, bagging and stacking against scikit-learn 1.9's estimators."""

import numpy as np
import pytest
from sklearn.ensemble import AdaBoostClassifier, BaggingClassifier, StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import PredefinedSplit
from sklearn.tree import DecisionTreeClassifier

from core.classic import datasets
from core.classic.ensembles import (
    adaboost,
    adaboost_scores,
    adaboost_staged_predictions,
    bagged_trees,
    bagging_proba,
    base_learners,
    bootstrap_indices,
    breiman_variance,
    fit_stump,
    logistic_proba,
    logistic_regression,
    oob_errors,
    predict_stump,
    stacking,
    tree_probas,
)


def weighted(name: str, seed: int, n: int = 120):
    x, y = datasets.make(name, n, 0.25, seed)
    return x, y, np.random.default_rng(seed).uniform(0.1, 2.0, n)


@pytest.mark.parametrize(("name", "seed"), [("moons", 0), ("blobs", 1), ("circles", 2)])
def test_stump_equals_a_depth_one_sklearn_tree(name, seed):
    x, y, w = weighted(name, seed)
    x[:, 1] = x[:, 1].round(1)  # repeated values: boundaries only between distinct ones
    ours = fit_stump(x, y, w)
    tree = DecisionTreeClassifier(max_depth=1).fit(x, y, sample_weight=w).tree_
    assert ours.feature == tree.feature[0]
    assert ours.threshold == tree.threshold[0]  # both midpoints of the same float32 values
    assert [ours.left_class, ours.right_class] == [
        int(np.argmax(tree.value[tree.children_left[0]])),
        int(np.argmax(tree.value[tree.children_right[0]])),
    ]
    reference = DecisionTreeClassifier(max_depth=1).fit(x, y, sample_weight=w)
    np.testing.assert_array_equal(predict_stump(ours, x), reference.predict(x))


def test_stump_on_a_constant_feature_splits_the_other_and_a_pure_node_is_a_leaf():
    x, y, w = weighted("moons", 3)
    x[:, 0] = 1.5
    assert fit_stump(x, y, w).feature == 1
    leaf = fit_stump(x, np.zeros_like(y), w)
    assert leaf.feature == -1 and leaf.left_class == leaf.right_class == 0


@pytest.mark.parametrize(("name", "rate"), [("moons", 1.0), ("blobs", 0.5)])
def test_adaboost_equals_sklearn_stage_by_stage(name, rate):
    x, y, _ = weighted(name, 4, n=150)
    ours = adaboost(x, y, 25, learning_rate=rate)
    ref = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=25,
                             learning_rate=rate).fit(x, y)  # fmt: skip
    m = len(ours.stumps)
    assert m == len(ref.estimators_) == 25
    # float64 sums in a different order: agreement to rounding
    np.testing.assert_allclose(ours.alphas, ref.estimator_weights_[:m], rtol=1e-10)
    np.testing.assert_allclose(ours.errors, ref.estimator_errors_[:m], rtol=1e-10)
    for stump, tree in zip(ours.stumps, ref.estimators_, strict=True):
        assert (stump.feature, stump.threshold) == (tree.tree_.feature[0], tree.tree_.threshold[0])
    grid = np.random.default_rng(0).normal(size=(400, 2))
    staged = adaboost_staged_predictions(ours, grid)
    for stage, expected in enumerate(ref.staged_predict(grid)):
        np.testing.assert_array_equal(staged[stage], expected)
    # sklearn's decision function is Σα(±coding)/Σα: an increasing affine map of our scores
    k, scores = ours.n_classes, adaboost_scores(ours, grid)
    coded = (scores * k / (k - 1) - ours.alphas.sum() / (k - 1)) / ours.alphas.sum()
    if k == 2:
        coded = coded[:, 1] - coded[:, 0]
    np.testing.assert_allclose(coded, ref.decision_function(grid), atol=1e-12)
    np.testing.assert_array_equal(scores.argmax(1), ref.predict(grid))


def test_adaboost_weights_grow_on_mistakes_and_stay_normalised():
    x, y, _ = weighted("moons", 5)
    model = adaboost(x, y, 6)
    np.testing.assert_allclose(model.weights.sum(1), 1.0)
    for m in range(5):
        wrong = predict_stump(model.stumps[m], x) != y
        ratio = model.weights[m + 1] / model.weights[m]
        np.testing.assert_allclose(ratio[wrong] / ratio[~wrong][0], np.exp(model.alphas[m]))
        assert model.weights[m + 1][wrong].sum() == pytest.approx(0.5)  # err_m after the update


def test_adaboost_stops_at_a_perfect_stump_like_sklearn():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    ours = adaboost(x, y, 10)
    ref = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=10).fit(x, y)
    assert len(ours.stumps) == len(ref.estimators_) == 1
    assert ours.alphas.tolist() == [1.0] and ours.errors.tolist() == [0.0]


def test_bagging_equals_sklearn_with_its_samples_and_tree_seeds():
    x, y, _ = weighted("blobs", 6, n=90)
    ref = BaggingClassifier(DecisionTreeClassifier(), n_estimators=20, random_state=2,
                            oob_score=True).fit(x, y)  # fmt: skip
    indices = np.array(ref.estimators_samples_)
    seeds = [tree.random_state for tree in ref.estimators_]
    grid = np.random.default_rng(1).normal(size=(300, 2))
    np.testing.assert_array_equal(
        bagging_proba(x, y, grid, indices, random_state=seeds), ref.predict_proba(grid)
    )
    trees = bagged_trees(x, y, indices, random_state=seeds)
    assert oob_errors(tree_probas(trees, x, 3), y, indices)[-1] == pytest.approx(1 - ref.oob_score_)


def test_bagging_with_a_class_missing_from_a_bootstrap():
    x, y = datasets.make("moons", 40, 0.2, 7)
    y[0] = 2  # one row of class 2: most bootstrap samples miss it
    ref = BaggingClassifier(DecisionTreeClassifier(max_depth=3), n_estimators=12,
                            random_state=0).fit(x, y)  # fmt: skip
    indices = np.array(ref.estimators_samples_)
    assert any(0 not in rows for rows in indices)
    seeds = [tree.random_state for tree in ref.estimators_]
    proba = bagging_proba(x, y, x, indices, max_depth=3, random_state=seeds)
    np.testing.assert_array_equal(proba, ref.predict_proba(x))


def test_bootstrap_indices_are_seeded_draws_with_replacement():
    a, b = bootstrap_indices(50, 4, 3), bootstrap_indices(50, 4, 3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 50) and a.min() >= 0 and a.max() < 50
    assert all(len(np.unique(rows)) < 50 for rows in a)  # ≈ 63 % distinct rows each


def test_breiman_variance_recovers_rho_and_the_one_over_b_law():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(400, 1, 30))  # Var 1 shared by a training set's trees
    own = np.sqrt(3.0) * rng.normal(size=(400, 20, 30))  # Var 3 of each tree alone
    result = breiman_variance(shared + own)
    assert result["rho"] == pytest.approx(0.25, abs=0.03)
    assert result["sigma2"] == pytest.approx(4.0, rel=0.05)
    np.testing.assert_allclose(result["measured"], result["predicted"], rtol=0.12)


@pytest.mark.parametrize("name", ["moons", "blobs"])
def test_logistic_regression_equals_sklearn(name):
    x, y = datasets.make(name, 120, 0.3, 8)
    coef, intercept = logistic_regression(x, y, c=0.7)
    ref = LogisticRegression(C=0.7, tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(coef, ref.coef_, atol=1e-5)  # lbfgs stops near, not at, the optimum
    np.testing.assert_allclose(logistic_proba(coef, intercept, x), ref.predict_proba(x), atol=1e-6)


@pytest.mark.parametrize("name", ["xor", "blobs"])
def test_stacking_equals_sklearn_on_the_same_folds(name):
    x, y = datasets.make(name, 120, 0.25, 9)
    grid = np.random.default_rng(2).uniform(-1.5, 2, size=(200, 2))
    folds = np.random.default_rng(3).permutation(120) % 4
    estimators = base_learners(None, 9, 0)
    ours = stacking(x, y, grid, folds, estimators=estimators)
    ref = StackingClassifier(list(estimators.items()),
                             final_estimator=LogisticRegression(tol=1e-12, max_iter=10_000),
                             cv=PredefinedSplit(folds)).fit(x, y)  # fmt: skip
    np.testing.assert_allclose(ours.coef, ref.final_estimator_.coef_, atol=2e-5)
    np.testing.assert_allclose(ours.proba, ref.predict_proba(grid), atol=1e-5)


@pytest.mark.parametrize("name", ["moons", "circles", "blobs", "xor", "sine", "step"])
def test_datasets_are_seeded_and_shaped(name):
    x, y = datasets.make(name, 37, 0.1, 4)
    x2, y2 = datasets.make(name, 37, 0.1, 4)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == (37, 1 if name in datasets.REGRESSION else 2) and y.shape == (37,)
    if name in datasets.CLASSIFICATION:
        assert set(np.unique(y)) == set(range(3 if name == "blobs" else 2))


def test_outlier_moves_one_row_only():
    _, y = datasets.make("sine", 50, 0.1, 0)
    _, y_out = datasets.make("sine", 50, 0.1, 0, outlier=5.0)
    assert np.count_nonzero(y_out != y) == 1 and (y_out - y).max() == pytest.approx(5.0)
