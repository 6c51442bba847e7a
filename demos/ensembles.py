"""Ensembles: why do many weak or unstable classifiers, combined, beat one?

Three ways to combine, drawn on 2-D data: bagging averages deep trees grown on bootstrap samples
(variance falls as ρσ² + (1 − ρ)σ²/B), AdaBoost reweights the rows each stump gets wrong and
adds the stumps with votes α_m, stacking trains a logistic regression on its base learners'
out-of-fold probabilities. Dietterich's three reasons (statistical, computational,
representational) can be seen in the maps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_maps import CLASS_COLORS, class_edges, class_map, class_points, grid
from demos.theme import COLORWAY, caption

DATASETS = {
    "moons": Text("moons", "双月"),
    "circles": Text("circles", "同心圆"),
    "blobs": Text("three blobs", "三团点"),
    "xor": Text("XOR", "异或"),
}
TEST_ROWS = 500  # test set, drawn with seed + 1000
VARIANCE_SETS = 4  # independent training sets for Breiman's variance curve
VARIANCE_POINTS = 200  # test points the variance is averaged over
MAP_STEPS = 60
FAINT_TREES = 10  # bootstrap trees drawn as faint boundaries
MUTED = "#9CA3AF"
BASE_NAMES = {
    "tree": Text("deep tree", "深决策树"),
    "logistic": Text("logistic regression", "逻辑回归"),
    "knn": Text("k-NN", "k 近邻"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    dataset: Literal["moons", "circles", "blobs", "xor"] = param(
        "moons", en="Data", zh="数据", choices=DATASETS
    )
    n: int = param(150, en="Training rows n", zh="训练样本数 n", ge=50, le=400, step=10)
    noise: float = param(0.3, en="Noise", zh="噪声", ge=0.0, le=1.0, step=0.05)
    trees: int = param(25, en="Bagging: trees B", zh="Bagging：树的数量 B", ge=2, le=50)
    tree_depth: int = param(
        0, en="Bagging: tree depth (0 = grown out)", zh="Bagging：树深（0 = 长满）", ge=0, le=12
    )
    stages: int = param(40, en="AdaBoost: stages M", zh="AdaBoost：阶段数 M", ge=1, le=100)
    ada_rate: float = param(
        1.0, en="AdaBoost: learning rate η", zh="AdaBoost：学习率 η", ge=0.1, le=2.0, step=0.1
    )
    stage: int = param(
        5, en="AdaBoost: stage m shown", zh="AdaBoost：展示的阶段 m", ge=1, le=100,
        help_en="Past the last stage: the last.", help_zh="超过最后阶段时取最后一个。",
    )  # fmt: skip
    k_neighbors: int = param(15, en="Stacking: k of k-NN", zh="Stacking：k-NN 的 k", ge=1, le=30)
    folds: int = param(5, en="Stacking: folds", zh="Stacking：折数", ge=2, le=10)
    seed: int = param(0, en="Seed", zh="随机种子", ge=0, le=99)


def _one_thread(fit: Callable) -> Callable:
    """Run `fit` with one BLAS/OpenMP thread: these problems are tiny, and on a busy machine
    threads only wait for each other (LogisticRegression.fit ran 8× slower with two)."""

    @functools.wraps(fit)
    def wrapped(*args: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return fit(*args)

    return wrapped


def _data(dataset: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from core.classic import datasets

    return datasets.make(dataset, n, noise, seed)


def _test(dataset: str, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return _data(dataset, TEST_ROWS, noise, seed + 1000)


@lru_cache(maxsize=8)
@_one_thread
def _bagging(dataset: str, n: int, noise: float, trees: int, depth: int, seed: int) -> dict:
    from sklearn.tree import DecisionTreeClassifier

    from core.classic.ensembles import (
        bagged_trees,
        bootstrap_indices,
        breiman_variance,
        oob_errors,
        tree_probas,
    )  # fmt: skip

    x, y = _data(dataset, n, noise, seed)
    x_test, y_test = _test(dataset, noise, seed)
    k = int(y.max()) + 1
    max_depth = depth or None
    xs, ys, points = grid(x, MAP_STEPS)
    indices = bootstrap_indices(n, trees, seed)
    fitted = bagged_trees(x, y, indices, max_depth=max_depth, random_state=seed)
    on_grid, on_test = tree_probas(fitted, points, k), tree_probas(fitted, x_test, k)
    running = np.cumsum(on_test, axis=0) / np.arange(1, trees + 1)[:, None, None]
    single = DecisionTreeClassifier(max_depth=max_depth, random_state=seed).fit(x, y)
    # Breiman's curve: the same bagging on independent training sets, one class's probability
    sets = [fitted] + [
        bagged_trees(*_data(dataset, n, noise, seed + 100 * s), bootstrap_indices(n, trees, seed + s),
                     max_depth=max_depth, random_state=seed)
        for s in range(1, VARIANCE_SETS)
    ]  # fmt: skip
    p1 = np.array([tree_probas(f, x_test[:VARIANCE_POINTS], k)[:, :, 1] for f in sets])
    bag = on_grid.mean(0)
    vote = bag.argmax(1)
    return {
        "x": x, "y": y, "k": k, "xs": xs, "ys": ys,
        "tree_edges": class_edges(xs, ys, on_grid.argmax(2)[:FAINT_TREES]),
        "bag_edges": class_edges(xs, ys, vote), "bag_classes": vote,
        "spread": on_grid[:, np.arange(len(points)), vote].std(0),
        "test_error": (running.argmax(2) != y_test).mean(1),
        "oob_error": oob_errors(tree_probas(fitted, x, k), y, indices),
        "single_error": float((single.predict(x_test) != y_test).mean()),
        "variance": breiman_variance(p1),
    }  # fmt: skip


@lru_cache(maxsize=8)
@_one_thread
def _adaboost(dataset: str, n: int, noise: float, stages: int, rate: float, seed: int) -> dict:
    from core.classic.ensembles import adaboost, adaboost_staged_predictions, predict_stump

    x, y = _data(dataset, n, noise, seed)
    x_test, y_test = _test(dataset, noise, seed)
    model = adaboost(x, y, stages, learning_rate=rate)
    xs, ys, points = grid(x, MAP_STEPS)
    return {
        "x": x, "y": y, "model": model, "xs": xs, "ys": ys,
        "grid_classes": adaboost_staged_predictions(model, points),
        "train_error": (adaboost_staged_predictions(model, x) != y).mean(1),
        "test_error": (adaboost_staged_predictions(model, x_test) != y_test).mean(1),
        "wrong": np.array([predict_stump(s, x) != y for s in model.stumps]),
    }  # fmt: skip


@lru_cache(maxsize=8)
@_one_thread
def _stacking(dataset: str, n: int, noise: float, k_neighbors: int, folds: int, seed: int) -> dict:
    from core.classic.ensembles import base_learners, stacking

    x, y = _data(dataset, n, noise, seed)
    x_test, y_test = _test(dataset, noise, seed)
    fold_of = np.random.default_rng(seed).permutation(n) % folds
    k_eff = min(k_neighbors, n - int(np.bincount(fold_of).max()))  # k ≤ rows of a training fold
    xs, ys, points = grid(x, MAP_STEPS)
    query = np.concatenate([points, x_test])
    result = stacking(x, y, query, fold_of, estimators=base_learners(None, k_eff, seed))
    g = len(points)
    base_grid, stack_grid = result.base_query[:, :g].argmax(2), result.proba[:g].argmax(1)
    base_test = result.base_query[:, g:].argmax(2)
    return {
        "x": x, "y": y, "xs": xs, "ys": ys, "k_eff": k_eff, "result": result,
        "base_grid": base_grid, "stack_grid": stack_grid,
        "edges": [class_edges(xs, ys, c) for c in [*base_grid, stack_grid]],
        "base_error": (base_test != y_test).mean(1),
        "stack_error": float((result.proba[g:].argmax(1) != y_test).mean()),
    }  # fmt: skip


def _figure(data: list, layout: dict) -> go.Figure:
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


def _edges(
    edges: tuple[np.ndarray, np.ndarray], *, color: str, width: float, name: str = "",
    opacity: float = 1.0, axes: tuple[str, str] = ("x", "y"), legend: bool = False,
) -> dict:  # fmt: skip
    """A decision boundary (`class_edges`' points) as one line trace."""
    return {
        "type": "scatter", "mode": "lines", "x": edges[0], "y": edges[1], "xaxis": axes[0],
        "yaxis": axes[1], "line": {"color": color, "width": width}, "opacity": opacity,
        "name": name, "showlegend": legend, "hoverinfo": "skip",
    }  # fmt: skip


def _bagging_maps(p: Params, bag: dict, lang: str) -> go.Figure:
    t = Text
    xs, ys = bag["xs"], bag["ys"]
    faint = min(FAINT_TREES, p.trees)
    data = [class_map(xs, ys, bag["bag_classes"])]
    data.append(_edges(bag["tree_edges"], color=MUTED, width=1, opacity=0.8, legend=True,
                       name=t(f"{faint} of the bootstrap trees", f"{faint} 棵自助采样树")(lang)))  # fmt: skip
    data.append(_edges(bag["bag_edges"], color=COLORWAY[4], width=3.5, legend=True,
                       name=t(f"bagged vote of {p.trees} trees", f"{p.trees} 棵树的袋装投票")(lang)))  # fmt: skip
    data += class_points(bag["x"], bag["y"], lang, size=6)
    data.append({
        "type": "heatmap", "x": xs, "y": ys, "z": bag["spread"].reshape(len(ys), len(xs)).astype(np.float32),
        "xaxis": "x2", "yaxis": "y2", "colorscale": "Viridis", "zmin": 0, "zmax": 0.5,
        "colorbar": {"title": {"text": t("std", "标准差")(lang)}, "thickness": 12, "len": 0.8, "x": 1.0},
        "hovertemplate": "(%{x:.2f}, %{y:.2f}): %{z:.3f}<extra></extra>", "name": "std",
    })  # fmt: skip
    data += class_points(bag["x"], bag["y"], lang, size=4, axes=("x2", "y2"), legend=False)
    title = t(f"Bagging: {p.trees} trees on bootstrap samples, and where they disagree",
              f"Bagging：在自助样本上训练的 {p.trees} 棵树，以及它们的分歧")  # fmt: skip
    layout = {
        "title": {"text": title(lang)},
        "annotations": [
            caption(t("faint: trees; bold: soft vote", "细线：单棵树；粗线：软投票")(lang), y=1.0),
            caption(t("std of P(voted class) over trees", "各树 P(投票类别) 的标准差")(lang), x=0.55, y=1.0),
        ],
        "xaxis": {"domain": [0, 0.45], "title": {"text": "x₁"}},
        "yaxis": {"title": {"text": "x₂"}, "scaleanchor": "x"},
        "xaxis2": {"domain": [0.55, 0.95], "anchor": "y2", "title": {"text": "x₁"}},
        "yaxis2": {"anchor": "x2", "scaleanchor": "x2"},
        "height": 520, "legend": {"orientation": "h", "y": -0.18},
    }  # fmt: skip
    return _figure(data, layout)


def _bagging_curves(p: Params, bag: dict, lang: str) -> go.Figure:
    t = Text
    b = np.arange(1, p.trees + 1)
    v = bag["variance"]
    data = [
        {"type": "scatter", "mode": "lines", "x": b, "y": bag["test_error"], "name": t("bagging: test error", "Bagging：测试误差")(lang),
         "line": {"color": COLORWAY[0], "width": 2.5}},
        {"type": "scatter", "mode": "lines", "x": b, "y": bag["oob_error"], "name": t("bagging: out-of-bag error", "Bagging：袋外误差")(lang),
         "line": {"color": COLORWAY[2], "dash": "dash"}},
        {"type": "scatter", "mode": "lines", "x": [1, p.trees], "y": [bag["single_error"]] * 2,
         "name": t("one tree on all rows: test error", "在全部样本上训练的单棵树：测试误差")(lang), "line": {"color": COLORWAY[1], "dash": "dot"}},
        {"type": "scatter", "mode": "markers", "x": b, "y": v["measured"], "xaxis": "x2", "yaxis": "y2",
         "name": t(f"variance of the vote over {VARIANCE_SETS} training sets", f"投票在 {VARIANCE_SETS} 个训练集上的方差")(lang),
         "marker": {"color": COLORWAY[3], "size": 6}},
        {"type": "scatter", "mode": "lines", "x": b, "y": v["predicted"], "xaxis": "x2", "yaxis": "y2",
         "name": "ρσ² + (1 − ρ)σ²/B", "line": {"color": COLORWAY[4], "width": 2.5}},
        {"type": "scatter", "mode": "lines", "x": [1, p.trees], "y": [v["rho"] * v["sigma2"]] * 2, "xaxis": "x2", "yaxis": "y2",
         "name": t("floor ρσ²", "下限 ρσ²")(lang), "line": {"color": MUTED, "dash": "dash"}},
    ]  # fmt: skip
    label_b = t("trees B", "树的数量 B")(lang)
    layout = {
        "title": {"text": t("More trees: the error settles, the variance falls to ρσ²", "树越多：误差趋稳，方差降到 ρσ²")(lang)},
        "annotations": [caption(t(f"σ² = {v['sigma2']:.4f}, ρ = {v['rho']:.2f} (P(class 1) of one tree)",
                                  f"σ² = {v['sigma2']:.4f}，ρ = {v['rho']:.2f}（单棵树的 P(类别 1)）")(lang), x=0.56)],
        "xaxis": {"domain": [0, 0.44], "title": {"text": label_b}},
        "yaxis": {"title": {"text": t("error rate", "错误率")(lang)}, "rangemode": "tozero"},
        "xaxis2": {"domain": [0.56, 1], "anchor": "y2", "title": {"text": label_b}},
        "yaxis2": {"anchor": "x2", "title": {"text": t("variance", "方差")(lang)}, "rangemode": "tozero"},
        "height": 420, "legend": {"orientation": "h", "y": -0.25},
    }  # fmt: skip
    return _figure(data, layout)


def _adaboost_map(p: Params, ada: dict, m: int, lang: str) -> go.Figure:
    t = Text
    model, x, y = ada["model"], ada["x"], ada["y"]
    stump, w = model.stumps[m - 1], model.weights[m - 1]
    size = 4 + 22 * np.sqrt(w / w.max())
    xs, ys = ada["xs"], ada["ys"]
    data = [class_map(xs, ys, ada["grid_classes"][m - 1])]
    data += class_points(x, y, lang, size=size, weight=w)
    wrong = ada["wrong"][m - 1]
    data.append({"type": "scatter", "mode": "markers", "x": x[wrong, 0], "y": x[wrong, 1],
                 "name": t(f"misclassified by stump {m}", f"被第 {m} 个树桩分错")(lang), "hoverinfo": "skip",
                 "marker": {"symbol": "x-thin", "size": 7, "line": {"color": COLORWAY[4], "width": 2}}})  # fmt: skip
    shapes = []
    if stump.feature >= 0:
        low, high = (xs[0], xs[-1]) if stump.feature == 1 else (ys[0], ys[-1])
        line = {"x0": stump.threshold, "x1": stump.threshold, "y0": low, "y1": high} if stump.feature == 0 else \
            {"y0": stump.threshold, "y1": stump.threshold, "x0": low, "x1": high}  # fmt: skip
        shapes.append({"type": "line", "xref": "x", "yref": "y", **line,
                       "line": {"color": COLORWAY[3], "width": 3, "dash": "dash"}})  # fmt: skip
    side = f"x{'₁₂'[stump.feature]} ≤ {stump.threshold:.2f}" if stump.feature >= 0 else "—"
    title = t(
        f"AdaBoost after {m} of {len(model.stumps)} stages",
        f"AdaBoost：{len(model.stumps)} 个阶段中的前 {m} 个",
    )
    sub = t(f"stump {m} (dashed): {side} → class {stump.left_class}, else {stump.right_class}; "
            f"err = {model.errors[m - 1]:.3f}, α = {model.alphas[m - 1]:.3f}; marker size: its weights",
            f"第 {m} 个树桩（虚线）：{side} → 类别 {stump.left_class}，否则 {stump.right_class}；"
            f"err = {model.errors[m - 1]:.3f}，α = {model.alphas[m - 1]:.3f}；点的大小：它看到的权重")  # fmt: skip
    layout = {
        "title": {"text": title(lang)}, "annotations": [caption(sub(lang), size=11)], "shapes": shapes,
        "xaxis": {"title": {"text": "x₁"}, "range": [xs[0], xs[-1]]},
        "yaxis": {"title": {"text": "x₂"}, "range": [ys[0], ys[-1]], "scaleanchor": "x"},
        "height": 500, "legend": {"orientation": "h", "y": -0.15},
    }  # fmt: skip
    return _figure(data, layout)


def _adaboost_curves(p: Params, ada: dict, m: int, lang: str) -> go.Figure:
    t = Text
    model = ada["model"]
    stages = np.arange(1, len(model.stumps) + 1)
    data = [
        {"type": "bar", "x": stages, "y": model.alphas, "name": t("vote α_m", "投票权重 α_m")(lang),
         "marker": {"color": COLORWAY[5]}, "opacity": 0.8},
        {"type": "scatter", "mode": "lines+markers", "x": stages, "y": model.errors, "name": t("weighted error err_m", "加权误差 err_m")(lang),
         "line": {"color": COLORWAY[1]}, "marker": {"size": 4}},
        {"type": "scatter", "mode": "lines", "x": stages, "y": ada["train_error"], "xaxis": "x2", "yaxis": "y2",
         "name": t("ensemble: train error", "集成：训练误差")(lang), "line": {"color": COLORWAY[0], "width": 2.5}},
        {"type": "scatter", "mode": "lines", "x": stages, "y": ada["test_error"], "xaxis": "x2", "yaxis": "y2",
         "name": t("ensemble: test error", "集成：测试误差")(lang), "line": {"color": COLORWAY[2], "width": 2.5, "dash": "dash"}},
    ]  # fmt: skip
    marker = {"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": m, "x1": m,
              "line": {"color": COLORWAY[4], "dash": "dot", "width": 2}}  # fmt: skip
    stage_label = t("stage m", "阶段 m")(lang)
    layout = {
        "title": {"text": t("Each stump's vote and error; the ensemble's error by stage", "每个树桩的投票与误差；集成随阶段的误差")(lang)},
        "shapes": [{**marker, "xref": "x"}, {**marker, "xref": "x2"}],
        "xaxis": {"domain": [0, 0.44], "title": {"text": stage_label}},
        "yaxis": {"title": {"text": "α_m, err_m"}, "rangemode": "tozero"},
        "xaxis2": {"domain": [0.56, 1], "anchor": "y2", "title": {"text": stage_label}},
        "yaxis2": {"anchor": "x2", "title": {"text": t("error rate", "错误率")(lang)}, "rangemode": "tozero"},
        "height": 400, "legend": {"orientation": "h", "y": -0.25},
    }  # fmt: skip
    return _figure(data, layout)


def _stacking_maps(p: Params, st: dict, lang: str) -> go.Figure:
    t = Text
    xs, ys = st["xs"], st["ys"]
    names = [BASE_NAMES[name](lang) for name in st["result"].names]
    names[2] = f"{names[2]} (k = {st['k_eff']})"
    panels = [*zip(names, st["base_grid"], st["base_error"], strict=True),
              (t("stacked (logistic meta-learner)", "堆叠（逻辑回归元学习器）")(lang), st["stack_grid"], st["stack_error"])]  # fmt: skip
    data, notes, layout = [], [], {}
    for i, (name, classes, error) in enumerate(panels):
        suffix = "" if i == 0 else str(i + 1)
        axes = (f"x{suffix}", f"y{suffix}")
        data.append(class_map(xs, ys, classes, axes))
        data.append(
            _edges(st["edges"][i], color=COLORWAY[4] if i == 3 else "#6B7280", width=2, axes=axes)
        )
        data += class_points(st["x"], st["y"], lang, size=4, axes=axes, legend=i == 0)
        col, row = i % 2, i // 2
        x0, y0 = col * 0.53, (1 - row) * 0.54
        layout[f"xaxis{suffix}"] = {
            "domain": [x0, x0 + 0.47],
            "anchor": axes[1],
            "showticklabels": row == 1,
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [y0, y0 + 0.4],
            "anchor": axes[0],
            "scaleanchor": axes[0],
        }
        notes.append(caption(f"{name}: {t('test error', '测试误差')(lang)} {error:.3f}",
                             x=x0, y=y0 + 0.4, size=12))  # fmt: skip
    layout.update({
        "title": {"text": t("Stacking: three base learners and the meta-learner that combines them",
                            "Stacking：三个基学习器，以及组合它们的元学习器")(lang)},
        "annotations": notes, "height": 700, "legend": {"orientation": "h", "y": -0.06},
        "margin": {"t": 90},
    })  # fmt: skip
    return _figure(data, layout)


def _meta_weights(p: Params, st: dict, lang: str) -> go.Figure:
    t = Text
    result = st["result"]
    k = result.n_classes
    names = [BASE_NAMES[name](lang) for name in result.names]
    if k == 2:
        features = [f"{name}: P(1)" for name in names]
        rows = [
            (
                t(
                    "weight on P(class 1) → logit of class 1",
                    "对 P(类别 1) 的权重 → 类别 1 的 logit",
                )(lang),
                result.coef[0],
            )
        ]
    else:
        features = [f"{name}: P({c})" for name in names for c in range(k)]
        rows = [
            (t(f"class {c}'s score", f"类别 {c} 的得分")(lang), result.coef[c]) for c in range(k)
        ]
    data = [
        {"type": "bar", "x": features, "y": weights, "name": label, "marker": {"color": CLASS_COLORS[i + (k == 2)]},
         "hovertemplate": "%{x}: %{y:.3f}<extra></extra>"}
        for i, (label, weights) in enumerate(rows)
    ]  # fmt: skip
    sub = t(f"trained on out-of-fold probabilities ({p.folds} folds); intercept {np.round(result.intercept, 3).tolist()}",
            f"在折外概率上训练（{p.folds} 折）；截距 {np.round(result.intercept, 3).tolist()}")  # fmt: skip
    layout = {
        "title": {"text": t("The meta-learner's weights on its inputs", "元学习器对各输入的权重")(lang)},
        "annotations": [caption(sub(lang))], "barmode": "group",
        "xaxis": {"title": {"text": t("input: a base learner's probability", "输入：某个基学习器的概率")(lang)}},
        "yaxis": {"title": {"text": t("weight", "权重")(lang)}},
        "height": 360, "legend": {"orientation": "h", "y": -0.35},
    }  # fmt: skip
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    bag = _bagging(p.dataset, p.n, p.noise, p.trees, p.tree_depth, p.seed)
    ada = _adaboost(p.dataset, p.n, p.noise, p.stages, p.ada_rate, p.seed)
    st = _stacking(p.dataset, p.n, p.noise, p.k_neighbors, p.folds, p.seed)
    m = min(p.stage, len(ada["model"].stumps))
    figures = [
        _bagging_maps(p, bag, lang),
        _bagging_curves(p, bag, lang),
        _adaboost_map(p, ada, m, lang),
        _adaboost_curves(p, ada, m, lang),
        _stacking_maps(p, st, lang),
        _meta_weights(p, st, lang),
    ]
    t = Text
    rows = [
        (t("one tree, all rows", "单棵树（全部样本）"), bag["single_error"]),
        (t(f"bagging, {p.trees} trees", f"Bagging，{p.trees} 棵树"), bag["test_error"][-1]),
        (t("bagging, out-of-bag estimate", "Bagging，袋外估计"), bag["oob_error"][-1]),
        (t(f"AdaBoost, {len(ada['model'].stumps)} stumps", f"AdaBoost，{len(ada['model'].stumps)} 个树桩"), ada["test_error"][-1]),
        *[(t(f"stacking base: {BASE_NAMES[n].en}", f"堆叠的基学习器：{BASE_NAMES[n].zh}"), e)
          for n, e in zip(st["result"].names, st["base_error"], strict=True)],
        (t("stacking", "堆叠"), st["stack_error"]),
    ]  # fmt: skip
    header = t(
        f"| model | test error ({TEST_ROWS} rows) |", f"| 模型 | 测试误差（{TEST_ROWS} 个样本） |"
    )(lang)
    table = [header, "|---|---:|", *(f"| {name(lang)} | {error:.3f} |" for name, error in rows)]
    if m != p.stage:
        table.append(t(f"\nAdaBoost ran {m} stages: stage {m} is shown.",
                       f"\nAdaBoost 共 {m} 个阶段：显示第 {m} 阶段。")(lang))  # fmt: skip
    return Rendered(figures, "\n".join(table))


presets = {
    "bagging": Params(dataset="moons", n=200, noise=0.35, trees=50, tree_depth=0),
    "adaboost": Params(dataset="circles", n=200, noise=0.1, stages=60, stage=12),
    "stacking": Params(dataset="xor", n=200, noise=0.2, k_neighbors=15, folds=5, seed=1),
}
preset_titles = {
    "bagging": Text("One deep tree vs 50 bagged trees", "一棵深树 vs 50 棵袋装树"),
    "adaboost": Text(
        "AdaBoost's weights pile onto the hard points", "AdaBoost 的权重堆到难分的点上"
    ),
    "stacking": Text("Stacking beats its best base learner", "堆叠胜过它最好的基学习器"),
}

EXPLANATION = Text(
    en="""
**Why combine?** Dietterich (2000) gives three reasons a committee can beat its members:
*statistical* (many hypotheses fit the data equally well; averaging them hedges the bet),
*computational* (greedy learners stop in different local optima) and *representational* (a sum of
axis-aligned stumps can draw a boundary no single stump can).

**Bagging** (Breiman 1996) grows one deep tree on each bootstrap sample (n rows drawn with
replacement; each tree misses about 37 % of the rows) and averages their class probabilities, the
soft vote. A deep tree has low bias and high variance; if each tree's output has variance σ² and two
trees correlate by ρ, the average of B has variance **ρσ² + (1 − ρ)σ²/B**: more trees remove the
second term, never the first. The rows a tree never saw give a free test: the **out-of-bag** error.
Here the trees are scikit-learn's, fitted as `BaggingClassifier` does, with bootstrap counts as
sample weights; σ² and ρ are measured on four independent training sets.

**AdaBoost** (Freund & Schapire 1997) fits a stump to weighted rows, measures its weighted error
err_m, gives it the vote α_m = η(log((1 − err_m)/err_m) + log(K − 1)) and multiplies the weights of
the rows it got wrong by e^α_m, so the next stump must care about them. The log(K − 1) term is
SAMME (Zhu et al. 2009), which lets K > 2 classes work with stumps better than chance (err < 1 − 1/K).
Watch the marker sizes: the hard points near the boundary grow stage after stage.

**Stacking** (Wolpert 1992) trains a meta-learner on its base learners' predictions. To keep it
honest those predictions are *out of fold*: each row is predicted by models that did not train on
it. Here a deep tree, a logistic regression and k-NN feed a logistic regression; its weights show
whom it trusts. The stumps, the boosting loop, bootstrap, out-of-bag error, fold logic and the
meta-learner are ours and tested against scikit-learn's `AdaBoostClassifier`, `BaggingClassifier`
and `StackingClassifier`.
""",
    zh="""
**为什么要组合？** Dietterich（2000）给出集成胜过单个成员的三个理由：*统计上*（许多假设对数据拟合得一样好，
平均它们可以对冲风险）、*计算上*（贪心学习器会停在不同的局部最优）、*表示上*（轴对齐树桩之和能画出任何单个树桩
画不出的边界）。

**Bagging**（Breiman 1996）在每个自助样本（有放回地抽 n 行，每棵树约漏掉 37% 的行）上长一棵深树，再平均它们的
类别概率，即软投票。深树偏差低、方差高；若每棵树输出的方差为 σ²、两棵树的相关系数为 ρ，则 B 棵树平均的方差为
**ρσ² + (1 − ρ)σ²/B**：树越多，第二项越小，但第一项永远去不掉。每棵树没见过的行提供了免费的测试：**袋外误差**。
这里的树来自 scikit-learn，按 `BaggingClassifier` 的方式拟合（把自助计数作为样本权重）；σ² 和 ρ 在四个独立训练集上测得。

**AdaBoost**（Freund & Schapire 1997）在加权样本上拟合一个树桩，计算其加权误差 err_m，赋予投票权重
α_m = η(log((1 − err_m)/err_m) + log(K − 1))，并把分错样本的权重乘以 e^α_m，迫使下一个树桩关注它们。log(K − 1)
一项来自 SAMME（Zhu 等 2009），使 K > 2 类时只要树桩好于随机猜测（err < 1 − 1/K）即可工作。注意点的大小：
边界附近难分的点一轮轮变大。

**Stacking**（Wolpert 1992）在基学习器的预测上训练一个元学习器。为了不作弊，这些预测是*折外*的：每一行由没有
用它训练的模型来预测。这里深决策树、逻辑回归和 k 近邻的输出送入一个逻辑回归；它的权重显示它更信任谁。
树桩、提升循环、自助采样、袋外误差、分折逻辑和元学习器都是我们自己实现的，并在测试中与 scikit-learn 的
`AdaBoostClassifier`、`BaggingClassifier`、`StackingClassifier` 逐项核对。
""",
)

DEMO = Demo(
    slug="ensembles",
    section="classic",
    figures=6,
    title=Text(
        "Ensembles: bagging, AdaBoost and stacking", "集成学习：Bagging、AdaBoost 与 Stacking"
    ),
    summary=Text(
        "Bootstrap trees and their vote, stumps reweighting the hard points, a meta-learner on "
        "out-of-fold probabilities.",
        "自助采样的树及其投票、重新加权难分点的树桩、基于折外概率的元学习器。",
    ),
    sources=(
        Source("Bagging Predictors", "L. Breiman", 1996, "https://doi.org/10.1007/BF00058655"),
        Source(
            "A Decision-Theoretic Generalization of On-Line Learning and an Application to Boosting",
            "Y. Freund, R. E. Schapire",
            1997,
            "https://doi.org/10.1006/jcss.1997.1504",
        ),
        Source(
            "Multi-class AdaBoost",
            "J. Zhu, H. Zou, S. Rosset, T. Hastie",
            2009,
            "https://doi.org/10.4310/SII.2009.v2.n3.a8",
        ),
        Source(
            "Stacked Generalization",
            "D. H. Wolpert",
            1992,
            "https://doi.org/10.1016/S0893-6080(05)80023-1",
        ),
        Source(
            "Ensemble Methods in Machine Learning",
            "T. G. Dietterich",
            2000,
            "https://doi.org/10.1007/3-540-45014-9_1",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
