"""Ensembles of classifiers: AdaBoost (SAMME) on weighted-Gini stumps, bagging, stacking.

Dietterich 2000 ("Ensemble Methods in Machine Learning") gives three reasons a committee beats
its members: statistical, computational and representational. Here:
- AdaBoost: Freund & Schapire 1997; the K-class SAMME rule of Zhu, Zou, Rosset & Hastie 2009.
  Stumps and boosting loop are ours and equal scikit-learn's `AdaBoostClassifier` over
  `DecisionTreeClassifier(max_depth=1)`.
- Bagging: Breiman 1996. Bootstrap rows, out-of-bag error and the soft vote are ours; the trees are
  scikit-learn's `DecisionTreeClassifier`, fitted with bootstrap counts as sample weights, as
  `BaggingClassifier` does.
- Stacking: Wolpert 1992. A logistic-regression meta-learner (ours, Newton's method, the objective
  of scikit-learn's `LogisticRegression`) on out-of-fold class probabilities of scikit-learn base
  learners, as `StackingClassifier` does.
x: (N, D) float arrays, y: (N,) ints 0..K−1 throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURE_THRESHOLD = 1e-7  # scikit-learn's: values closer than this count as equal


def _as_array(x: Any, dtype: Any = np.float64) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, int]:
    x, y = _as_array(x), _as_array(y, np.int64).ravel()
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x: need (N, D) with N = len(y) ≥ 1, got {x.shape} and {y.shape}")
    if y.min() < 0:
        raise ValueError("y: class labels 0..K−1")
    return x, y, int(y.max()) + 1


# --- stumps ---------------------------------------------------------------------------------


@dataclass
class Stump:
    """A depth-1 tree: rows with x[feature] ≤ threshold get left_class, the others right_class.
    feature −1: no split was possible (one class, or constant features); both sides equal."""

    feature: int
    threshold: float
    left_class: int
    right_class: int
    score: float = 0.0  # W_L·Gini_L + W_R·Gini_R of the chosen split


def fit_stump(x: Any, y: Any, sample_weight: Any, n_classes: int | None = None) -> Stump:
    """The split minimising W_L·Gini_L + W_R·Gini_R, as DecisionTreeClassifier(max_depth=1).

    x: (N, D), y: (N,) ints, sample_weight: (N,) ≥ 0. Features are read in float32, as the
    library stores them; a threshold lies halfway between neighbouring distinct values; each side
    predicts its weighted majority class (the lower class on a tie). Gini_S = 1 − Σ_k (c_k/W_S)².
    """
    x, y, k_seen = _xy(x, y)
    k = max(n_classes or 0, k_seen)
    w = _as_array(sample_weight).ravel()
    if w.shape != y.shape or np.any(w < 0):
        raise ValueError(f"sample_weight: need (N,) non-negative, got {w.shape}")
    x = x.astype(np.float32).astype(np.float64)
    counts = np.zeros((len(y), k))
    counts[np.arange(len(y)), y] = w
    total = counts.sum(0)
    majority = int(np.argmax(total))
    leaf = Stump(-1, float("nan"), majority, majority, float(w.sum() - (total**2).sum() / w.sum()))
    if np.count_nonzero(total) < 2:  # a pure node is a leaf
        return leaf
    best_value, best = -np.inf, None
    for j in range(x.shape[1]):
        order = np.argsort(x[:, j], kind="stable")
        values = x[order, j]
        if values[-1] <= values[0] + FEATURE_THRESHOLD:
            continue  # a constant feature
        left = np.cumsum(counts[order], axis=0)[:-1]  # class weights left of each boundary
        right = total - left
        w_left, w_right = left.sum(1), right.sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # W − (W_L·Gini_L + W_R·Gini_R) = Σc_L²/W_L + Σc_R²/W_R: larger is better
            value = (left**2).sum(1) / w_left + (right**2).sum(1) / w_right
        valid = (values[1:] > values[:-1] + FEATURE_THRESHOLD) & np.isfinite(value)
        if not valid.any():
            continue
        p = int(np.argmax(np.where(valid, value, -np.inf)))
        if value[p] > best_value:
            threshold = values[p] / 2 + values[p + 1] / 2
            if threshold == values[p + 1] or not np.isfinite(threshold):
                threshold = values[p]
            best_value = value[p]
            best = (j, threshold, int(np.argmax(left[p])), int(np.argmax(right[p])))
    if best is None:
        return leaf
    return Stump(*best, score=float(w.sum() - best_value))


def predict_stump(stump: Stump, x: Any) -> np.ndarray:
    """(M,) the class of each row (x compared in float32, as the library does)."""
    x = _as_array(x).astype(np.float32)
    if stump.feature < 0:
        return np.full(x.shape[0], stump.left_class)
    return np.where(x[:, stump.feature] <= stump.threshold, stump.left_class, stump.right_class)


# --- AdaBoost (SAMME) -------------------------------------------------------------------------


@dataclass
class AdaBoost:
    stumps: list[Stump]
    alphas: np.ndarray  # (R,) α_m, the stumps' votes
    errors: np.ndarray  # (R,) weighted training error err_m of each stump
    weights: np.ndarray  # (R, N) the normalised sample weights stump m was fitted to
    n_classes: int


def adaboost(
    x: Any, y: Any, n_rounds: int, *, learning_rate: float = 1.0, sample_weight: Any = None
) -> AdaBoost:
    """SAMME (Zhu et al. 2009, Algorithm 2) with weighted-Gini stumps; K = 2 is AdaBoost.M1.

    Round m fits a stump to weights w (Σw = 1), err = Σw[h ≠ y]/Σw,
    α = η(log((1 − err)/err) + log(K − 1)), then w ← w·exp(α[h ≠ y]) and renormalises.
    err = 0: α = 1 and stop; err ≥ 1 − 1/K: the stump is dropped and boosting stops
    (ValueError when that happens to the first). As AdaBoostClassifier(DecisionTreeClassifier(
    max_depth=1), n_estimators=n_rounds, learning_rate=learning_rate).
    """
    x, y, k = _xy(x, y)
    if n_rounds < 1:
        raise ValueError(f"n_rounds: at least 1, got {n_rounds}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate: positive, got {learning_rate}")
    w = np.ones(len(y)) if sample_weight is None else _as_array(sample_weight).ravel().copy()
    if w.shape != y.shape or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("sample_weight: (N,) non-negative with a positive sum")
    w /= w.sum()
    stumps, alphas, errors, seen = [], [], [], []
    for m in range(n_rounds):
        stump = fit_stump(x, y, w, n_classes=k)
        wrong = predict_stump(stump, x) != y
        err = float(np.average(wrong, weights=w))
        if err <= 0:  # a perfect stump: it decides alone
            stumps.append(stump), alphas.append(1.0), errors.append(0.0), seen.append(w.copy())
            break
        if err >= 1 - 1 / k:  # no better than chance: dropped
            if not stumps:
                raise ValueError("the first stump is no better than chance: nothing to boost")
            break
        alpha = learning_rate * (np.log((1 - err) / err) + np.log(k - 1))
        stumps.append(stump), alphas.append(alpha), errors.append(err), seen.append(w.copy())
        if m < n_rounds - 1:
            w = w * np.exp(alpha * wrong * (w > 0))
            w /= w.sum()
    return AdaBoost(stumps, np.array(alphas), np.array(errors), np.array(seen), k)


def adaboost_scores(model: AdaBoost, x: Any, stages: int | None = None) -> np.ndarray:
    """(M, K) Σ_m α_m [h_m(x) = k] over the first `stages` stumps (all); argmax predicts."""
    x = _as_array(x)
    scores = np.zeros((x.shape[0], model.n_classes))
    rows = np.arange(x.shape[0])
    for stump, alpha in zip(model.stumps[:stages], model.alphas[:stages], strict=True):
        scores[rows, predict_stump(stump, x)] += alpha
    return scores


def adaboost_staged_predictions(model: AdaBoost, x: Any) -> np.ndarray:
    """(R, M) the predicted class after each stage (argmax of the running scores)."""
    x = _as_array(x)
    scores = np.zeros((x.shape[0], model.n_classes))
    rows, out = np.arange(x.shape[0]), []
    for stump, alpha in zip(model.stumps, model.alphas, strict=True):
        scores[rows, predict_stump(stump, x)] += alpha
        out.append(np.argmax(scores, axis=1))
    return np.array(out)


# --- bagging ----------------------------------------------------------------------------------


def bootstrap_indices(n: int, n_estimators: int, seed: int) -> np.ndarray:
    """(B, N) rows drawn with replacement, one bootstrap sample per row of the result."""
    return np.random.default_rng(seed).integers(0, n, size=(n_estimators, n))


def _seeds(random_state: int | Sequence[int] | None, count: int) -> list[int]:
    if random_state is None:
        return [0] * count
    if np.ndim(random_state) == 0:
        return [int(random_state)] * count
    seeds = [int(s) for s in random_state]
    if len(seeds) != count:
        raise ValueError(f"random_state: one seed per tree ({count}), got {len(seeds)}")
    return seeds


def bagged_trees(
    x: Any,
    y: Any,
    indices: Any,
    *,
    max_depth: int | None = None,
    random_state: int | Sequence[int] | None = None,
) -> list:
    """B scikit-learn Gini trees, tree b fitted on every row with weight = how often row b drew it
    (BaggingClassifier's way; a row never drawn has weight 0, its class still known)."""
    from sklearn.tree import DecisionTreeClassifier

    x, y, _ = _xy(x, y)
    indices = _as_array(indices, np.int64)
    if indices.ndim != 2 or indices.size == 0 or indices.min() < 0 or indices.max() >= len(y):
        raise ValueError(f"indices: (B, n) row numbers in 0..{len(y) - 1}, got {indices.shape}")
    x32 = np.ascontiguousarray(x, dtype=np.float32)  # what the library's check turns x into
    trees = []
    for rows, seed in zip(indices, _seeds(random_state, len(indices)), strict=True):
        tree = DecisionTreeClassifier(max_depth=max_depth, random_state=seed)
        counts = np.bincount(rows, minlength=len(y)).astype(np.float64)
        trees.append(tree.fit(x32, y, sample_weight=counts, check_input=False))
    return trees


def tree_probas(trees: list, x_query: Any, n_classes: int) -> np.ndarray:
    """(B, M, K) each tree's class probabilities, columns placed by the tree's own classes."""
    x_query = np.ascontiguousarray(_as_array(x_query), dtype=np.float32)
    out = np.zeros((len(trees), x_query.shape[0], n_classes))
    for b, tree in enumerate(trees):
        out[b][:, tree.classes_] = tree.predict_proba(x_query, check_input=False)
    return out


def bagging_proba(
    x: Any,
    y: Any,
    x_query: Any,
    indices: Any,
    *,
    max_depth: int | None = None,
    random_state: int | Sequence[int] | None = None,
) -> np.ndarray:
    """(M, K) the soft vote: the mean over b of tree b's class probabilities (Breiman 1996).

    indices: (B, n) ints, the rows of each bootstrap sample. Equals BaggingClassifier(
    DecisionTreeClassifier(max_depth=max_depth)).predict_proba when its estimators_samples_ are
    `indices` and its trees' random_state the seeds given here (they only break ties between
    equally good splits); random_state: one int for all trees or one per tree (default 0).
    """
    x, y, k = _xy(x, y)
    trees = bagged_trees(x, y, indices, max_depth=max_depth, random_state=random_state)
    return tree_probas(trees, x_query, k).mean(0)


def oob_errors(probas_train: np.ndarray, y: Any, indices: Any) -> np.ndarray:
    """(B,) the out-of-bag error of the first b trees, b = 1..B (NaN while no row is out of bag).

    probas_train: (B, N, K) each tree's probabilities on the training rows. A row's OOB vote is
    the mean over the trees whose sample missed it; the error counts the rows with such a tree.
    """
    y = _as_array(y, np.int64)
    indices = _as_array(indices, np.int64)
    n = len(y)
    out_of_bag = np.array([np.bincount(rows, minlength=n) == 0 for rows in indices])  # (B, N)
    votes = np.cumsum(probas_train * out_of_bag[:, :, None], axis=0)
    seen = np.cumsum(out_of_bag, axis=0) > 0
    wrong = np.argmax(votes, axis=2) != y
    with np.errstate(invalid="ignore"):
        return (wrong & seen).sum(1) / seen.sum(1)


def breiman_variance(p: np.ndarray) -> dict:
    """Breiman's ρσ² + (1 − ρ)σ²/B from trees bagged on R independent training sets.

    p: (R, B, M) one class's probability from tree b of training set r at test point m. σ² is a
    single tree's variance over training sets and bootstraps, ρ the correlation of two trees of
    the same training set (ESL §15.2); `measured` (B,) the variance over r of the mean of the
    first b trees, averaged over the points; `predicted` (B,) the formula. R ≥ 2, B ≥ 2.
    """
    r, b, _ = p.shape
    if r < 2 or b < 2:
        raise ValueError(f"p: need R ≥ 2 training sets and B ≥ 2 trees, got {p.shape}")
    sigma2 = p.reshape(r * b, -1).var(axis=0, ddof=1)  # (M,)
    within = p.var(axis=1, ddof=1).mean(axis=0)  # bootstrap variance inside one training set
    covariance = np.clip(sigma2 - within, 0, None)
    running = np.cumsum(p, axis=1) / np.arange(1, b + 1)[None, :, None]
    measured = running.var(axis=0, ddof=1).mean(axis=1)
    s2, cov = float(sigma2.mean()), float(covariance.mean())
    rho = cov / s2 if s2 > 0 else 0.0
    predicted = rho * s2 + (1 - rho) * s2 / np.arange(1, b + 1)
    return {"sigma2": s2, "rho": rho, "measured": measured, "predicted": predicted}


# --- stacking ---------------------------------------------------------------------------------


def logistic_regression(
    features: Any, y: Any, *, c: float = 1.0, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(coef (K', F), intercept (K',)) minimising C·Σ log-loss + ½‖W‖², by Newton's method.

    scikit-learn's LogisticRegression(C=c) objective: K = 2 one binary coefficient row
    (K' = 1), K > 2 the multinomial softmax with K rows; the intercept is not penalised.
    """
    f, y = _as_array(features), _as_array(y, np.int64).ravel()
    k = max(n_classes or 0, int(y.max()) + 1)
    n, d = f.shape
    design = np.hstack([f, np.ones((n, 1))])
    rows = 1 if k == 2 else k
    targets = (y == 1)[:, None].astype(float) if k == 2 else np.eye(k)[y]
    theta = np.zeros((rows, d + 1))
    penalty = np.ones(d + 1)
    penalty[-1] = 0.0
    for _ in range(100):
        z = design @ theta.T
        if k == 2:
            p = 1 / (1 + np.exp(-z))
            curvature = (p * (1 - p))[:, :, None]  # (N, 1, 1)
        else:
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            curvature = p[:, :, None] * (np.eye(k)[None] - p[:, None, :])  # (N, K, K)
        grad = c * (p - targets).T @ design + penalty * theta  # (K', d + 1)
        hess = c * np.einsum("nkl,na,nb->kalb", curvature, design, design)
        hess = hess.reshape(rows * (d + 1), rows * (d + 1))
        hess += np.diag(np.tile(penalty, rows))
        step = np.linalg.lstsq(hess, grad.ravel(), rcond=None)[0].reshape(rows, d + 1)
        theta -= step
        if np.abs(step).max() < 1e-12:
            break
    return theta[:, :-1], theta[:, -1]


def logistic_proba(coef: np.ndarray, intercept: np.ndarray, features: Any) -> np.ndarray:
    """(M, K) class probabilities of `logistic_regression`'s model."""
    z = _as_array(features) @ coef.T + intercept
    if coef.shape[0] == 1:
        p1 = 1 / (1 + np.exp(-z[:, 0]))
        return np.stack([1 - p1, p1], axis=1)
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def base_learners(depth: int | None, k_neighbors: int, seed: int) -> dict:
    """Stacking's base learners, as scikit-learn estimators: a deep tree, logistic regression
    and k-nearest neighbours."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    return {
        "tree": DecisionTreeClassifier(max_depth=depth, random_state=seed),
        "logistic": LogisticRegression(),
        "knn": KNeighborsClassifier(n_neighbors=k_neighbors),
    }


@dataclass
class Stacking:
    names: list[str]
    oof: np.ndarray  # (N, F) out-of-fold meta features
    coef: np.ndarray  # (K', F) the meta-learner's weights
    intercept: np.ndarray  # (K',)
    base_query: np.ndarray  # (L, M, K) each refitted base learner's probabilities on x_query
    proba: np.ndarray  # (M, K) the stacked probabilities on x_query
    n_classes: int


def _meta(probas: np.ndarray) -> np.ndarray:
    """(M, F) meta features from (L, M, K) probabilities; K = 2 keeps only P(class 1), as the
    library does (the other column is redundant)."""
    if probas.shape[2] == 2:
        probas = probas[:, :, 1:]
    return np.concatenate(list(probas), axis=1)


def _proba(estimator: Any, x: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((x.shape[0], k))
    out[:, estimator.classes_] = estimator.predict_proba(x)
    return out


def stacking(
    x: Any,
    y: Any,
    x_query: Any,
    folds: Any,
    *,
    estimators: dict | None = None,
    c: float = 1.0,
) -> Stacking:
    """Stacked generalisation (Wolpert 1992) with a logistic-regression meta-learner.

    folds: (N,) the fold number of each row. Each base learner predicts the rows of fold f after
    fitting on the other folds: these out-of-fold probabilities train the meta-learner. The base
    learners are then refitted on all rows and the meta-learner combines their probabilities on
    x_query. As StackingClassifier(estimators, LogisticRegression(C=c),
    cv=PredefinedSplit(folds), stack_method="predict_proba"). estimators default: base_learners.
    """
    from sklearn.base import clone

    x, y, k = _xy(x, y)
    x_query = _as_array(x_query)
    folds = _as_array(folds, np.int64).ravel()
    if folds.shape != y.shape or len(np.unique(folds)) < 2:
        raise ValueError("folds: (N,) fold numbers with at least two folds")
    estimators = estimators or base_learners(None, 5, 0)
    oof = np.zeros((len(estimators), len(y), k))
    query = np.zeros((len(estimators), x_query.shape[0], k))
    for i, estimator in enumerate(estimators.values()):
        for fold in np.unique(folds):
            held = folds == fold
            fitted = clone(estimator).fit(x[~held], y[~held])
            oof[i, held] = _proba(fitted, x[held], k)
        query[i] = _proba(clone(estimator).fit(x, y), x_query, k)
    coef, intercept = logistic_regression(_meta(oof), y, c=c, n_classes=k)
    proba = logistic_proba(coef, intercept, _meta(query))
    return Stacking(list(estimators), _meta(oof), coef, intercept, query, proba, k)
