"""XGBoost tree by tree: how the gradient and the Hessian of the loss build each regression tree.

The question: what does XGBoost add to gradient boosting? Each round it expands the loss to second
order around the current prediction, so a leaf's best weight is −G/(H + λ) and a split's gain a
closed form in the sums G, H; the figures show the model after round r, round r's tree with those
numbers at every node, the scan that chose a node's split, and one example's loss against its
first- and second-order approximations. The module is not named xgboost.py: that would shadow the
library the tests compare with.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_maps import PROBABILITY_SCALE, class_points, grid
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    from core.classic.boosting import Tree

DATASETS = {
    "sine": Text("1-D: sine", "一维：正弦"),
    "step": Text("1-D: step", "一维：阶跃"),
    "moons": Text("2-D: moons", "二维：双月"),
    "circles": Text("2-D: circles", "二维：同心圆"),
    "xor": Text("2-D: XOR", "二维：异或"),
}
LOSSES = {
    "squared_error": Text("squared error ½(ŷ − y)²", "平方误差 ½(ŷ − y)²"),
    "logistic": Text("logistic (log-loss)", "逻辑损失（对数损失）"),
}
VALIDATION = 300  # rows of the validation set, drawn with seed + 1000
CURVE_POINTS = 300  # 1-D model curve
MAP_STEPS = 60  # 2-D probability map, per side
FULL_LABELS = 8  # trees with at most this many leaves show G, H, gain and w* on the node
MUTED = "#9CA3AF"
COLORS = {"model": COLORWAY[0], "previous": COLORWAY[5], "truth": MUTED, "outlier": COLORWAY[1],
          "split": COLORWAY[0], "leaf": COLORWAY[2], "pruned": MUTED, "focus": COLORWAY[4]}  # fmt: skip


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    dataset: Literal["sine", "step", "moons", "circles", "xor"] = param(
        "sine", en="Data", zh="数据", choices=DATASETS,
        help_en="1-D with logistic loss: the label is y > 0.",
        help_zh="一维数据配逻辑损失时，标签为 y > 0。",
    )  # fmt: skip
    n: int = param(100, en="Training rows n", zh="训练样本数 n", ge=20, le=400, step=10)
    noise: float = param(0.25, en="Noise", zh="噪声", ge=0.0, le=1.0, step=0.05)
    outlier: float = param(
        0.0, en="Outlier height (1-D)", zh="离群点高度（一维）", ge=0.0, le=10.0, step=0.5,
        help_en="Added to y of the row nearest x = 0.3.", help_zh="加到最靠近 x = 0.3 的那一行的 y 上。",
    )  # fmt: skip
    loss: Literal["squared_error", "logistic"] = param(
        "squared_error", en="Loss", zh="损失", choices=LOSSES
    )
    rounds: int = param(10, en="Rounds", zh="轮数", ge=1, le=50)
    max_depth: int = param(3, en="max_depth", zh="最大深度 max_depth", ge=1, le=6)
    learning_rate: float = param(
        0.3, en="Learning rate η (shrinkage)", zh="学习率 η（收缩）", ge=0.05, le=1.0, step=0.05
    )
    reg_lambda: float = param(
        1.0, en="λ (L2 on leaf weights)", zh="λ（叶权重的 L2）", ge=0.0, le=50.0, step=0.5
    )
    gamma: float = param(
        0.0, en="γ (library scale: bracket ≥ γ)", zh="γ（库的尺度：括号项 ≥ γ）", ge=0.0, le=20.0,
        step=0.1, help_en="A split survives when G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ) ≥ γ.",
        help_zh="当 G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ) ≥ γ 时该分裂保留。",
    )  # fmt: skip
    min_child_weight: float = param(
        1.0, en="min_child_weight (least H in a child)", zh="min_child_weight（子节点最小 H）",
        ge=0.0, le=20.0, step=0.5,
    )  # fmt: skip
    round: int = param(
        2, en="Round r shown", zh="展示的轮次 r", ge=1, le=50,
        help_en="Past the last round: the last.", help_zh="超过总轮数时取最后一轮。",
    )  # fmt: skip
    node: int = param(
        0, en="Node of the split scan (number in the tree)", zh="分裂扫描的节点（树中编号）", ge=0,
        le=126, help_en="A node that does not exist: the root.", help_zh="节点不存在时取根节点。",
    )  # fmt: skip
    seed: int = param(0, en="Seed", zh="随机种子", ge=0, le=99)


def _data(dataset: str, n: int, noise: float, outlier: float, loss: str, seed: int):
    from core.classic import datasets

    x, y = datasets.make(dataset, n, noise, seed, outlier)
    if loss == "logistic" and dataset in datasets.REGRESSION:
        y = (y > 0).astype(np.float64)  # 1-D classification: the sign of the curve
    return x, y.astype(np.float64)


@lru_cache(maxsize=16)
def _run(
    dataset: str, n: int, noise: float, outlier: float, loss: str, rounds: int, max_depth: int,
    learning_rate: float, reg_lambda: float, gamma: float, min_child_weight: float, seed: int,
) -> dict:  # fmt: skip
    from core.classic.boosting import boost, loss_values, predict_tree
    from core.trace import Trace

    x, y = _data(dataset, n, noise, outlier, loss, seed)
    x_val, y_val = _data(dataset, VALIDATION, noise, 0.0, loss, seed + 1000)
    trace = Trace()
    model = boost(
        x, y, loss=loss, rounds=rounds, learning_rate=learning_rate, max_depth=max_depth,
        reg_lambda=reg_lambda, gamma=gamma, min_child_weight=min_child_weight, trace=trace,
    )  # fmt: skip
    if x.shape[1] == 1:
        xs = np.linspace(x.min() - 0.02, x.max() + 0.02, CURVE_POINTS)
        ys, query = None, xs[:, None]
    else:
        xs, ys, query = grid(x, MAP_STEPS)
    margins = [np.full(len(query), model.base_margin)]
    val = [np.full(len(y_val), model.base_margin)]
    for tree in model.trees:
        margins.append(margins[-1] + learning_rate * predict_tree(tree, query))
        val.append(val[-1] + learning_rate * predict_tree(tree, x_val))
    train_margins = [*trace.column("round", "margin")]
    train_margins.append(train_margins[-1] + learning_rate * predict_tree(model.trees[-1], x))
    return {
        "x": x, "y": y, "model": model, "xs": xs, "ys": ys, "margins": np.array(margins),
        "g": trace.column("round", "g"), "h": trace.column("round", "h"),
        "train_margins": np.array(train_margins),
        "train_loss": np.array([loss_values(loss, y, m).mean() for m in train_margins]),
        "val_loss": np.array([loss_values(loss, y_val, m).mean() for m in val]),
    }  # fmt: skip


@lru_cache(maxsize=32)
def _scan(key: tuple, r: int) -> dict:
    """Round r's tree refitted with a trace: every candidate of every scanned node."""
    from core.classic.boosting import fit_tree
    from core.trace import Trace

    run = _run(*key)
    max_depth, _, reg_lambda, gamma, min_child_weight, _ = key[6:]
    trace = Trace()
    fit_tree(run["x"], run["g"][r], run["h"][r], max_depth=max_depth, reg_lambda=reg_lambda,
             gamma=gamma, min_child_weight=min_child_weight, trace=trace)  # fmt: skip
    return (
        {event["node"]: event["candidates"] for event in trace["node"]} if "node" in trace else {}
    )


def _key(p: Params) -> tuple:
    return (p.dataset, p.n, p.noise, p.outlier, p.loss, p.rounds, p.max_depth, p.learning_rate,
            p.reg_lambda, p.gamma, p.min_child_weight, p.seed)  # fmt: skip


def _figure(data: list, layout: dict) -> go.Figure:
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


def _output(loss: str, margin: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-margin)) if loss == "logistic" else margin


def _model_figure(p: Params, run: dict, r: int, lang: str) -> go.Figure:
    t = Text
    x, y, loss = run["x"], run["y"], p.loss
    what = t("P(y = 1)", "P(y = 1)")(lang) if loss == "logistic" else "ŷ"
    title = t(f"The model after round {r} of {p.rounds}", f"第 {r} 轮（共 {p.rounds} 轮）后的模型")
    if x.shape[1] == 1:
        outlier = np.argmin(np.abs(x[:, 0] - 0.3))
        data = [
            {"type": "scatter", "mode": "markers", "x": x[:, 0], "y": y, "name": t("training rows", "训练样本")(lang),
             "marker": {"color": MUTED, "size": 6}},
            {"type": "scatter", "mode": "lines", "x": run["xs"], "y": _output(loss, run["margins"][r - 1]),
             "name": t(f"after round {r - 1}", f"第 {r - 1} 轮后")(lang),
             "line": {"color": COLORS["previous"], "dash": "dash", "width": 1.5, "shape": "hv"}},
            {"type": "scatter", "mode": "lines", "x": run["xs"], "y": _output(loss, run["margins"][r]),
             "name": t(f"after round {r}", f"第 {r} 轮后")(lang),
             "line": {"color": COLORS["model"], "width": 2.5, "shape": "hv"}},
        ]  # fmt: skip
        if p.outlier > 0:
            data.append({"type": "scatter", "mode": "markers", "x": x[outlier], "y": y[[outlier]],
                         "name": t("the outlier", "离群点")(lang),
                         "marker": {"color": COLORS["outlier"], "size": 12, "symbol": "star"}})  # fmt: skip
        axes = {"xaxis": {"title": {"text": "x"}},
                "yaxis": {"title": {"text": t(f"y and {what}", f"y 与 {what}")(lang)}}}  # fmt: skip
    else:
        z = _output(loss, run["margins"][r]).reshape(MAP_STEPS, MAP_STEPS)
        heat = {"type": "heatmap", "x": run["xs"], "y": run["ys"], "z": z.astype(np.float32),
                "colorscale": PROBABILITY_SCALE, "name": what, "zmid": 0.5,
                "colorbar": {"title": {"text": what}, "thickness": 14, "len": 0.8},
                "hovertemplate": "(%{x:.2f}, %{y:.2f}): %{z:.3f}<extra></extra>"}  # fmt: skip
        data = [heat, *class_points(x, y.astype(int), lang)]
        axes = {
            "xaxis": {"title": {"text": "x₁"}},
            "yaxis": {"title": {"text": "x₂"}, "scaleanchor": "x"},
        }
    note = t(
        f"train loss {run['train_loss'][r]:.4f}, validation {run['val_loss'][r]:.4f}",
        f"训练损失 {run['train_loss'][r]:.4f}，验证损失 {run['val_loss'][r]:.4f}",
    )(lang)
    layout = {"title": {"text": title(lang)}, "annotations": [caption(note)], "height": 430,
              "legend": {"orientation": "h", "y": -0.2}, **axes}  # fmt: skip
    return _figure(data, layout)


def _positions(tree: Tree) -> np.ndarray:
    """x of every node: leaves of the grown tree (pruned subtrees included) evenly, parents
    centred over their children."""
    x = np.zeros(len(tree.feature))
    counter = [0]

    def place(i: int) -> float:
        if tree.left[i] < 0:
            x[i] = counter[0]
            counter[0] += 1
        else:
            x[i] = 0.5 * (place(int(tree.left[i])) + place(int(tree.right[i])))
        return x[i]

    place(0)
    return x


def _feature_name(j: int, d: int) -> str:
    return "x" if d == 1 else f"x{'₁₂'[j]}"


def _tree_figure(p: Params, run: dict, r: int, node: int, lang: str) -> go.Figure:
    from core.classic.boosting import reachable

    t = Text
    tree = run["model"].trees[r - 1]
    d = run["x"].shape[1]
    pos, depth = _positions(tree), tree.depth
    live = reachable(tree)
    grown = tree.left >= 0  # split when grown, before pruning
    leaves = int((live & (tree.feature < 0)).sum())
    full = leaves <= FULL_LABELS and (~live).sum() <= 2 * FULL_LABELS
    below = 0.55 if full else 0.25  # an edge leaves its parent under the parent's label
    edges = {"live": ([], []), "pruned": ([], [])}
    for i in np.flatnonzero(grown):
        kind = "live" if live[i] and not tree.pruned[i] else "pruned"
        for child in (tree.left[i], tree.right[i]):
            edges[kind][0].extend([pos[i], pos[child], None])
            edges[kind][1].extend([-depth[i] - below, -depth[child] + 0.06, None])
    labels, hovers, colors, symbols = [], [], [], []
    for i in range(len(pos)):
        stats = f"G = {tree.grad_sum[i]:.3g}<br>H = {tree.cover[i]:.3g}"
        weight = f"w* = {tree.value[i]:.3g}"
        if grown[i]:
            cond = f"{_feature_name(tree.split_feature[i], d)} < {tree.threshold[i]:.3g}"
            head = f"#{i} {cond}"
            body = f"gain {tree.gain[i]:.3g}<br>{stats}"
        else:
            head, body = f"#{i}", f"{weight}<br>{stats}"
        prune_note = t(" (pruned: gain < γ)", "（剪枝：gain < γ）")(lang) if tree.pruned[i] else ""
        hovers.append(
            f"{head}{prune_note}<br>{body}<br>{weight}<br>η·w* = {p.learning_rate * tree.value[i]:.3g}"
        )
        if full:
            labels.append(f"{head}<br>{body}")
        elif tree.pruned[i]:  # the split γ removed: its gain, below γ
            labels.append(f"#{i} gain {tree.gain[i]:.3g} < γ")
        elif live[i]:
            labels.append(head if grown[i] else f"{tree.value[i]:.2g}")
        else:
            labels.append("")
        colors.append(
            COLORS["pruned"]
            if not live[i] or tree.pruned[i]
            else COLORS["split"]
            if grown[i]
            else COLORS["leaf"]
        )
        symbols.append("square" if grown[i] and not tree.pruned[i] and live[i] else "circle")
    node_text = t("node", "节点")(lang)
    data = [
        {"type": "scatter", "mode": "lines", "x": edges["live"][0] or [None], "y": edges["live"][1] or [None],
         "line": {"color": COLORS["split"], "width": 1.5}, "hoverinfo": "skip",
         "name": t("kept", "保留")(lang)},
        {"type": "scatter", "mode": "lines", "x": edges["pruned"][0] or [None], "y": edges["pruned"][1] or [None],
         "line": {"color": COLORS["pruned"], "width": 1.5, "dash": "dot"}, "hoverinfo": "skip",
         "name": t("pruned by γ or below a pruned split", "被 γ 剪掉（或位于被剪分裂之下）")(lang)},
        {"type": "scatter", "mode": "markers+text", "x": pos, "y": -depth, "text": labels,
         "textposition": "bottom center", "textfont": {"size": 11 if full else 10},
         "hovertext": hovers, "hoverinfo": "text", "showlegend": False, "name": node_text,
         "marker": {"color": colors, "size": 13, "symbol": symbols, "line": {"width": 0}}},
    ]  # fmt: skip
    if node < len(pos):
        data.append({"type": "scatter", "mode": "markers", "x": [pos[node]], "y": [-depth[node]],
                     "name": t(f"node #{node} (split scan below)", f"节点 #{node}（下方为其分裂扫描）")(lang),
                     "hoverinfo": "skip",
                     "marker": {"size": 24, "color": "rgba(0,0,0,0)", "line": {"color": COLORS["focus"], "width": 3}}})  # fmt: skip
    levels = int(depth.max()) + 1
    title = t(
        f"Round {r}'s tree: {leaves} leaves; a leaf adds η·w* = {p.learning_rate:g}·(−G/(H + λ))",
        f"第 {r} 轮的树：{leaves} 个叶子；叶子贡献 η·w* = {p.learning_rate:g}·(−G/(H + λ))",
    )
    hint = t("squares: splits (x < threshold goes left), circles: leaves; hover a node for its numbers",
             "方块：分裂（x < 阈值走左边），圆点：叶子；悬停查看节点的各项数值")(lang)  # fmt: skip
    width = max(pos.max(), 1)
    layout = {
        "title": {"text": title(lang)}, "annotations": [caption(hint)],
        "xaxis": {"visible": False, "range": [-0.6, width + 0.6]},
        "yaxis": {"visible": False, "range": [-(levels - 1) - 0.9, 0.35]},
        "height": 260 + 80 * levels if full else 220 + 55 * levels,
        "legend": {"orientation": "h", "y": -0.02, "yanchor": "top"},
        "margin": {"l": 20, "r": 20, "t": 80, "b": 40},
    }  # fmt: skip
    return _figure(data, layout)


def _scan_figure(p: Params, run: dict, r: int, node: int, lang: str) -> go.Figure:
    t = Text
    tree = run["model"].trees[r - 1]
    candidates = _scan(_key(p), r - 1).get(node)
    d = run["x"].shape[1]
    title = t(f"Split scan at node #{node} of round {r}", f"第 {r} 轮节点 #{node} 的分裂扫描")
    if not candidates:
        data = [{"type": "scatter", "x": [0], "y": [0], "mode": "markers", "marker": {"opacity": 0},
                 "hoverinfo": "skip", "showlegend": False}]  # fmt: skip
        why = t("no scan here: the node is at max_depth or holds one row",
                "此处没有扫描：节点已到 max_depth 或只含一个样本")(lang)  # fmt: skip
        layout = {"title": {"text": title(lang)}, "height": 300,
                  "annotations": [{**caption(why), "x": 0.5, "y": 0.5, "xanchor": "center"}],
                  "xaxis": {"visible": False}, "yaxis": {"visible": False}}  # fmt: skip
        return _figure(data, layout)
    lam, g_sum, h_sum = p.reg_lambda, tree.grad_sum[node], tree.cover[node]
    data, shapes = [], []
    chosen = int(tree.split_feature[node])  # −1: the node stayed a leaf (no positive gain)
    for c in candidates:
        j = c["feature"]
        axis = "" if j == 0 else "2"
        g_left, h_left = c["G_L"], c["H_L"]
        raw = (
            g_left**2 / (h_left + lam)
            + (g_sum - g_left) ** 2 / (h_sum - h_left + lam)
            - g_sum**2 / (h_sum + lam)
        )
        blocked = c["blocked"]
        data.append({"type": "scatter", "mode": "lines+markers", "x": c["threshold"], "y": c["gain"],
                     "xaxis": f"x{axis}", "yaxis": f"y{axis}", "name": t("gain, allowed", "增益（允许）")(lang),
                     "legendgroup": "allowed", "showlegend": j == 0,
                     "line": {"color": COLORS["split"], "width": 1.5}, "marker": {"size": 4},
                     "customdata": np.stack([g_left, h_left], 1),
                     "hovertemplate": "t = %{x:.3f}<br>gain %{y:.4g}<br>G_L %{customdata[0]:.3g}, H_L %{customdata[1]:.3g}<extra></extra>"})  # fmt: skip
        if blocked.any():
            data.append({"type": "scatter", "mode": "markers", "x": c["threshold"][blocked], "y": raw[blocked],
                         "xaxis": f"x{axis}", "yaxis": f"y{axis}", "legendgroup": "blocked", "showlegend": j == 0,
                         "name": t("blocked: a child's H < min_child_weight", "被阻止：子节点 H < min_child_weight")(lang),
                         "marker": {"color": MUTED, "size": 4, "symbol": "x"},
                         "hovertemplate": "t = %{x:.3f}<br>gain %{y:.4g} (blocked)<extra></extra>"})  # fmt: skip
            for start, stop in _runs(blocked):
                low, high = _zone(c["threshold"], start, stop)
                shapes.append({"type": "rect", "xref": f"x{axis}", "yref": f"y{axis} domain", "x0": low, "x1": high,
                               "y0": 0, "y1": 1, "fillcolor": "rgba(156,163,175,0.22)", "line": {"width": 0},
                               "layer": "below"})  # fmt: skip
        if np.isfinite(c["gain"]).any():
            winner = j == chosen
            i = (
                int(np.argmin(np.abs(c["threshold"] - tree.threshold[node])))
                if winner
                else int(np.nanargmax(c["gain"]))
            )
            data.append({"type": "scatter", "mode": "markers", "x": [c["threshold"][i]], "y": [c["gain"][i]],
                         "xaxis": f"x{axis}", "yaxis": f"y{axis}", "showlegend": winner, "legendgroup": "best",
                         "name": t("the best of this feature (★ chosen)", "该特征的最佳（★ 被选中）")(lang),
                         "marker": {"color": COLORS["focus"], "size": 16 if winner else 10,
                                    "symbol": "star" if winner else "diamond",
                                    "line": {"color": "white", "width": 1}},
                         "hovertemplate": "t = %{x:.3f}<br>gain %{y:.4g}<extra></extra>"})  # fmt: skip
        if p.gamma > 0:
            shapes.append({"type": "line", "xref": f"x{axis} domain", "yref": f"y{axis}", "x0": 0, "x1": 1,
                           "y0": p.gamma, "y1": p.gamma, "line": {"color": COLORWAY[3], "dash": "dash", "width": 1.5}})  # fmt: skip
    gain_label = t("gain (the bracket)", "增益（括号项）")(lang)
    formula = "G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ); "
    split = 0.5 if d == 2 else 1.0
    layout = {
        "title": {"text": title(lang)},
        "annotations": [caption(formula + t(f"G = {g_sum:.3g}, H = {h_sum:.3g}, λ = {lam:g}" + (f", dashed: γ = {p.gamma:g}" if p.gamma > 0 else ""),
                                  f"G = {g_sum:.3g}，H = {h_sum:.3g}，λ = {lam:g}" + (f"，虚线：γ = {p.gamma:g}" if p.gamma > 0 else ""))(lang))],
        "shapes": shapes,
        "xaxis": {"domain": [0, split - 0.06 if d == 2 else 1], "title": {"text": t(f"threshold on {_feature_name(0, d)}", f"{_feature_name(0, d)} 上的阈值")(lang)}},
        "yaxis": {"title": {"text": gain_label}},
        "height": 420, "legend": {"orientation": "h", "y": -0.22},
    }  # fmt: skip
    if d == 2:
        layout["xaxis2"] = {"domain": [split + 0.04, 1], "anchor": "y2",
                            "title": {"text": t("threshold on x₂", "x₂ 上的阈值")(lang)}}  # fmt: skip
        layout["yaxis2"] = {"anchor": "x2", "matches": "y"}
    return _figure(data, layout)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _zone(thresholds: np.ndarray, start: int, stop: int) -> tuple[float, float]:
    """A run of blocked candidates as an x interval reaching halfway to the neighbours."""
    low = thresholds[start] if start == 0 else 0.5 * (thresholds[start - 1] + thresholds[start])
    high = (
        thresholds[stop - 1]
        if stop == len(thresholds)
        else 0.5 * (thresholds[stop - 1] + thresholds[stop])
    )
    pad = 0.01 * (thresholds[-1] - thresholds[0] + 1e-9)
    return float(low - pad * (start == 0)), float(high + pad * (stop == len(thresholds)))


def _example_figure(p: Params, run: dict, r: int, lang: str) -> go.Figure:
    from core.classic.boosting import loss_values, predict_tree

    t = Text
    g, h = run["g"][r - 1], run["h"][r - 1]
    i = int(np.argmax(np.abs(g)))  # the row the round cares most about
    y_i, m_i = run["y"][i], run["train_margins"][r - 1][i]
    step = p.learning_rate * float(predict_tree(run["model"].trees[r - 1], run["x"][i : i + 1])[0])
    newton = -g[i] / h[i] if h[i] > 1e-12 else np.nan
    span = max(1.0, 2 * abs(step), min(1.5 * abs(newton), 8.0) if np.isfinite(newton) else 1.0)
    f = np.linspace(-span, span, 201)
    exact = loss_values(p.loss, np.full_like(f, y_i), m_i + f)
    base = float(loss_values(p.loss, np.array([y_i]), np.array([m_i]))[0])
    first, second = base + g[i] * f, base + g[i] * f + 0.5 * h[i] * f**2
    data = [
        {"type": "scatter", "mode": "lines", "x": f, "y": exact, "name": t("loss ℓ(y, ŷ + f)", "损失 ℓ(y, ŷ + f)")(lang),
         "line": {"color": COLORS["model"], "width": 3}},
        {"type": "scatter", "mode": "lines", "x": f, "y": first, "name": t("GBDT: first order ℓ + g·f", "GBDT：一阶 ℓ + g·f")(lang),
         "line": {"color": COLORWAY[3], "dash": "dash", "width": 2}},
        {"type": "scatter", "mode": "lines", "x": f, "y": second, "name": t("XGBoost: second order ℓ + g·f + ½h·f²", "XGBoost：二阶 ℓ + g·f + ½h·f²")(lang),
         "line": {"color": COLORWAY[2], "dash": "dot", "width": 2.5}},
    ]  # fmt: skip
    marks = [
        (step, t("this round's η·w* for the row", "本轮该样本得到的 η·w*")(lang), COLORS["focus"])
    ]
    if np.isfinite(newton) and abs(newton) <= span:
        marks.append(
            (newton, t("−g/h: the row's own Newton step", "−g/h：该样本自身的牛顿步")(lang), MUTED)
        )
    for value, name, color in marks:
        data.append({"type": "scatter", "mode": "lines", "x": [value, value], "y": [float(exact.min()), float(exact.max())],
                     "name": name, "line": {"color": color, "width": 1.5, "dash": "dashdot"}, "hoverinfo": "skip"})  # fmt: skip
    low = min(float(exact.min()), 0.0)
    high = float(exact.max()) * 1.1 + 0.05
    where = (
        f"x = {run['x'][i, 0]:.2f}"
        if run["x"].shape[1] == 1
        else f"x = ({run['x'][i, 0]:.2f}, {run['x'][i, 1]:.2f})"
    )
    title = t(f"Row {i} ({where}, y = {y_i:.3g}) before round {r}: the loss along f",
              f"第 {r} 轮前的第 {i} 行（{where}，y = {y_i:.3g}）：损失随 f 的变化")  # fmt: skip
    sub = t(f"ŷ = {m_i:.3g}, g = {g[i]:.3g}, h = {h[i]:.3g}: the row with the largest |g| this round",
            f"ŷ = {m_i:.3g}，g = {g[i]:.3g}，h = {h[i]:.3g}：本轮 |g| 最大的样本")  # fmt: skip
    layout = {
        "title": {"text": title(lang)}, "annotations": [caption(sub(lang))],
        "xaxis": {"title": {"text": t("f, the next tree's output for this row", "f：下一棵树对该样本的输出")(lang)}},
        "yaxis": {"title": {"text": t("loss", "损失")(lang)}, "range": [low - 0.05 * (high - low), high]},
        "height": 420, "legend": {"orientation": "h", "y": -0.22},
    }  # fmt: skip
    return _figure(data, layout)


def _loss_figure(p: Params, run: dict, r: int, lang: str) -> go.Figure:
    t = Text
    rounds = np.arange(len(run["train_loss"]))
    data = [
        {"type": "scatter", "mode": "lines+markers", "x": rounds, "y": run["train_loss"], "name": t("train", "训练")(lang),
         "line": {"color": COLORWAY[0]}, "marker": {"size": 5}},
        {"type": "scatter", "mode": "lines+markers", "x": rounds, "y": run["val_loss"],
         "name": t(f"validation ({VALIDATION} new rows)", f"验证（{VALIDATION} 个新样本）")(lang),
         "line": {"color": COLORWAY[1]}, "marker": {"size": 5}},
    ]  # fmt: skip
    layout = {
        "title": {"text": t("Mean loss per round (round 0: the base score)", "每轮的平均损失（第 0 轮：base score）")(lang)},
        "xaxis": {"title": {"text": t("round", "轮次")(lang)}},
        "yaxis": {"title": {"text": LOSSES[p.loss](lang)}, "rangemode": "tozero"},
        "shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": r, "x1": r, "y0": 0, "y1": 1,
                    "line": {"color": COLORS["focus"], "dash": "dot", "width": 2}}],
        "height": 380, "legend": {"orientation": "h", "y": -0.25},
    }  # fmt: skip
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    run = _run(*_key(p))
    r = min(p.round, p.rounds)
    tree = run["model"].trees[r - 1]
    node = p.node if p.node < len(tree.feature) else 0
    figures = [
        _model_figure(p, run, r, lang),
        _tree_figure(p, run, r, node, lang),
        _scan_figure(p, run, r, node, lang),
        _example_figure(p, run, r, lang),
        _loss_figure(p, run, r, lang),
    ]
    from core.classic.boosting import reachable

    live = reachable(tree)
    leaves = tree.value[live & (tree.feature < 0)]
    t = Text
    notes = t(
        f"**Round {r}:** {len(leaves)} leaves, {int(tree.pruned.sum())} splits pruned by γ, "
        f"leaf weights w* from {leaves.min():.4g} to {leaves.max():.4g} (scaled by η = {p.learning_rate:g}). "
        f"**After {p.rounds} rounds:** train loss {run['train_loss'][-1]:.4f}, validation {run['val_loss'][-1]:.4f}."
        + (f" Node {p.node} does not exist in this tree: the root is shown." if p.node != node else ""),
        f"**第 {r} 轮：** {len(leaves)} 个叶子，γ 剪掉 {int(tree.pruned.sum())} 个分裂，叶权重 w* 从 "
        f"{leaves.min():.4g} 到 {leaves.max():.4g}（再乘 η = {p.learning_rate:g}）。"
        f"**{p.rounds} 轮之后：** 训练损失 {run['train_loss'][-1]:.4f}，验证损失 {run['val_loss'][-1]:.4f}。"
        + (f"这棵树没有节点 {p.node}：显示根节点。" if p.node != node else ""),
    )(lang)  # fmt: skip
    return Rendered(figures, notes)


presets = {
    "lambda": Params(reg_lambda=30.0, rounds=10, round=1, noise=0.2),
    "gamma": Params(gamma=3.0, max_depth=4, noise=0.4, round=1),
    "outlier": Params(dataset="sine", outlier=8.0, max_depth=4, rounds=20, round=1, min_child_weight=0.0),
    "min_child_weight": Params(
        dataset="moons", n=200, loss="logistic", rounds=30, max_depth=6, min_child_weight=3.0,
        round=12, learning_rate=0.5, noise=0.2,
    ),
}  # fmt: skip
preset_titles = {
    "lambda": Text("λ pulls leaf weights toward 0", "λ 把叶权重拉向 0"),
    "gamma": Text("γ prunes the weak splits", "γ 剪掉弱的分裂"),
    "outlier": Text("Squared error chases an outlier", "平方误差追着离群点跑"),
    "min_child_weight": Text(
        "min_child_weight stops tiny logistic leaves", "min_child_weight 阻止逻辑损失的小叶子"
    ),
}

EXPLANATION = Text(
    en="""
**Gradient boosting** (Friedman 2001) builds an additive model ŷ = base + η·Σ f_t(x): each new
regression tree f_t is fitted to what the current model still gets wrong. GBDT fits it to the
negative gradient −g of the loss, a first-order view. **XGBoost** (Chen & Guestrin 2016) expands
the loss to second order around the current prediction, Σ [g_i f(x_i) + ½ h_i f(x_i)²] plus a
penalty γT + ½λ‖w‖² on the number of leaves T and their weights. For a leaf holding rows with sums
G = Σg, H = Σh this is minimised by **w\\* = −G/(H + λ)** (eq. 5), and a split into left and right
children improves the objective by ½[G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)] − γ (eq. 7).

**Reading the figures.** (1) The model after round r, and after round r − 1 (dashed). (2) Round
r's tree: every node's G, H (the library calls H the *cover*), the gain of each split and the leaf
weight w\\*; splits removed by γ are greyed. (3) How the chosen node found its split: the features
are sorted once, and prefix sums of g and h give G_L, H_L at every boundary between distinct values;
the gain of every candidate is drawn, the best marked. Candidates leaving a child with H <
min_child_weight are blocked (shaded). (4) One row's loss along the next tree's output f, with
GBDT's line and XGBoost's parabola: for squared error the parabola *is* the loss (h = 1), for
logistic loss it is only a local fit, and −g/h its own best step. (5) Train and validation loss.

**Where the library departs from the paper** (checked against xgboost 3.2 tree by tree, `exact`
method): it reports the bracket without the ½ as "gain" and keeps a split when bracket ≥ γ, so its γ
is twice the paper's; a node splits only when the best gain is positive; pruning then runs bottom
up. Thresholds lie halfway between neighbouring values and x < threshold goes left. A stored leaf is
η·w\\* (shrinkage). With logistic loss base_score 0.5 is a probability: the first margin is its
logit, 0. λ pulls every leaf toward 0 and shrinks gains; γ removes splits whose gain is small;
min_child_weight refuses leaves with too little curvature, which for logistic loss (h = p(1 − p))
means leaves of confidently classified rows.
""",
    zh="""
**梯度提升**（Friedman 2001）构造加法模型 ŷ = base + η·Σ f_t(x)：每棵新回归树 f_t 拟合当前模型仍然犯的错。
GBDT 用损失的负梯度 −g 来拟合，是一阶视角。**XGBoost**（Chen & Guestrin 2016）在当前预测处把损失做二阶展开：
Σ [g_i f(x_i) + ½ h_i f(x_i)²]，再加上对叶子数 T 和叶权重的惩罚 γT + ½λ‖w‖²。对一个叶子，记其中样本的
G = Σg、H = Σh，最优权重为 **w\\* = −G/(H + λ)**（式 5）；把节点分成左右两支，目标下降
½[G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)] − γ（式 7）。

**怎么看这些图。**（1）第 r 轮后的模型，以及第 r − 1 轮后（虚线）。（2）第 r 轮的树：每个节点的 G、H（库里称 H 为
*cover*）、分裂的增益、叶权重 w\\*；被 γ 剪掉的分裂显示为灰色。（3）所选节点如何找到它的分裂：特征只排序一次，
g、h 的前缀和给出每个相邻不同取值之间的 G_L、H_L；图中画出每个候选的增益并标出最佳。使某个子节点 H <
min_child_weight 的候选被阻止（阴影）。（4）某一行的损失随下一棵树输出 f 的变化，以及 GBDT 的直线和 XGBoost
的抛物线：平方误差下抛物线*就是*损失（h = 1），逻辑损失下它只是局部近似，−g/h 是该样本自己的最佳步长。
（5）训练与验证损失。

**库与论文的差别**（与 xgboost 3.2 的 `exact` 方法逐棵树核对）：库报告的“gain”是不带 ½ 的括号项，括号项 ≥ γ
时保留分裂，所以库的 γ 是论文中 γ 的两倍；只有最佳增益为正时节点才分裂；之后自底向上剪枝。阈值取相邻取值的中点，
x < 阈值走左边。存储的叶值是 η·w\\*（收缩）。逻辑损失时 base_score 0.5 是概率：初始 margin 是它的 logit，即 0。
λ 把每个叶子拉向 0 并缩小增益；γ 去掉增益小的分裂；min_child_weight 拒绝曲率太小的叶子，对逻辑损失
（h = p(1 − p)）来说，就是已被自信分类的样本组成的叶子。
""",
)

DEMO = Demo(
    slug="xgboost",
    section="classic",
    figures=5,
    title=Text("XGBoost: second-order boosting, tree by tree", "XGBoost：逐棵树看二阶提升"),
    summary=Text(
        "g and h of the loss → w* = −G/(H + λ), exact greedy split gains, γ-pruning, shrinkage.",
        "损失的 g 与 h → w* = −G/(H + λ)、精确贪心分裂增益、γ 剪枝、收缩。",
    ),
    sources=(
        Source(
            "Greedy Function Approximation: A Gradient Boosting Machine",
            "J. H. Friedman",
            2001,
            "https://doi.org/10.1214/aos/1013203451",
        ),
        Source(
            "XGBoost: A Scalable Tree Boosting System",
            "T. Chen, C. Guestrin",
            2016,
            "https://arxiv.org/abs/1603.02754",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
