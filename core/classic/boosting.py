"""XGBoost's second-order boosting, tree by tree: exact greedy splits, w* = −G/(H+λ), pruning.

Chen & Guestrin 2016, "XGBoost: A Scalable Tree Boosting System", eqs. (2)–(7) and Algorithm 1;
Friedman 2001 for gradient boosting. Each round takes the loss's gradient g and Hessian h at the
current margins; a leaf with sums G, H gets w* = −G/(H + λ) (eq. 5) and a split the gain

    G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ)                        (eq. 7, the bracket)

found by scanning every boundary between distinct sorted values with prefix sums (Algorithm 1).
As the library does (`tree_method="exact"`), the bracket is reported and compared with γ
without the paper's ½: a split survives pruning when bracket ≥ γ, so the library's γ is twice
the paper's. Thresholds lie halfway between neighbouring distinct values, rows with x < threshold
go left, and a split is made only when its best gain is positive (> 1e-6). Gains are compared
in float32, as the library stores them; a tie goes to the lower feature, then to the larger
threshold (the library scans a dense column from the top down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from core.trace import Trace

Loss = Literal["squared_error", "logistic"]
MIN_SPLIT_GAIN = 1e-6  # the library's kRtEps: a best gain at or below it makes no split


@dataclass
class Tree:
    """A regression tree as arrays over nodes (node 0 the root; −1 marks "none")."""

    feature: np.ndarray  # (M,) int, −1 at leaves
    threshold: np.ndarray  # (M,) float, NaN at leaves
    left: np.ndarray  # (M,) int child ids
    right: np.ndarray
    gain: np.ndarray  # (M,) the bracket at splits, 0 at leaves
    cover: np.ndarray  # (M,) H of the node's rows
    grad_sum: np.ndarray  # (M,) G of the node's rows
    value: np.ndarray  # (M,) −G/(H + λ), unscaled by the learning rate
    depth: np.ndarray  # (M,) int
    pruned: np.ndarray  # (M,) bool: a split found, then removed by γ (drawn greyed)
    split_feature: np.ndarray  # (M,) int: the feature of every split as grown, pruned ones too

    @property
    def is_leaf(self) -> np.ndarray:
        return self.feature < 0


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def leaf_weight(g_sum: float, h_sum: float, reg_lambda: float, min_child_weight: float) -> float:
    """w* = −G/(H + λ) (eq. 5); 0 where H < min_child_weight, as the library does."""
    if h_sum < min_child_weight or h_sum <= 0:
        return 0.0
    return -g_sum / (h_sum + reg_lambda)


def scan_splits(
    x: np.ndarray,
    grad: np.ndarray,
    hess: np.ndarray,
    sorted_rows: list[np.ndarray],
    reg_lambda: float,
    min_child_weight: float,
) -> list[dict]:
    """Every candidate split of one node, feature by feature (Algorithm 1's inner loops).

    sorted_rows: per feature j, the node's row numbers in x[:, j]'s order (the features were
    sorted once for the whole tree). Per feature a dict with thresholds, G_L, H_L, gain (NaN where
    a child's H < min_child_weight) and `blocked`.
    """
    g_total, h_total = grad[sorted_rows[0]].sum(), hess[sorted_rows[0]].sum()
    parent = g_total**2 / (h_total + reg_lambda)
    out = []
    for j, idx in enumerate(sorted_rows):
        values = x[idx, j]
        boundary = values[1:] > values[:-1]  # only between distinct values
        g_left, h_left = np.cumsum(grad[idx])[:-1][boundary], np.cumsum(hess[idx])[:-1][boundary]
        thresholds = 0.5 * (values[1:] + values[:-1])[boundary]
        g_right, h_right = g_total - g_left, h_total - h_left
        gain = g_left**2 / (h_left + reg_lambda) + g_right**2 / (h_right + reg_lambda) - parent
        blocked = (h_left < min_child_weight) | (h_right < min_child_weight)
        out.append({
            "feature": j, "threshold": thresholds, "G_L": g_left, "H_L": h_left,
            "gain": np.where(blocked, np.nan, gain), "blocked": blocked,
        })  # fmt: skip
    return out


def fit_tree(
    x: Any,
    grad: Any,
    hess: Any,
    *,
    max_depth: int = 6,
    reg_lambda: float = 1.0,
    gamma: float = 0.0,
    min_child_weight: float = 1.0,
    trace: Trace | None = None,
) -> Tree:
    """One tree by exact greedy split finding on gradients g and Hessians h, then γ-pruning.

    x: (N, D); grad, hess: (N,). Nodes grow depth-first up to max_depth; a node splits at its
    best candidate when that gain is > 0 (both children with H ≥ min_child_weight). Bottom-up, a
    split whose children are both leaves is removed when its gain < γ. `trace` gets a "node"
    event per scanned node: node id, depth and `scan_splits`' candidates.
    """
    x, grad, hess = _as_array(x), _as_array(grad).ravel(), _as_array(hess).ravel()
    if x.ndim != 2 or x.shape[0] != grad.shape[0] or grad.shape != hess.shape:
        raise ValueError(
            f"x: need (N, D) with N = len(grad) = len(hess), got {x.shape}, {grad.shape}, {hess.shape}"
        )
    order = np.argsort(x, axis=0, kind="stable").T  # features sorted once (Algorithm 1)
    nodes: list[dict] = []

    def grow(sorted_rows: list[np.ndarray], depth: int) -> int:
        node_id = len(nodes)
        rows = sorted_rows[0]
        g_sum, h_sum = float(grad[rows].sum()), float(hess[rows].sum())
        node = {"G": g_sum, "H": h_sum, "depth": depth, "feature": -1, "threshold": np.nan,
                "left": -1, "right": -1, "gain": 0.0,
                "value": leaf_weight(g_sum, h_sum, reg_lambda, min_child_weight)}  # fmt: skip
        nodes.append(node)
        if depth >= max_depth or len(rows) < 2:
            return node_id
        candidates = scan_splits(x, grad, hess, sorted_rows, reg_lambda, min_child_weight)
        if trace is not None:
            trace.record("node", node=node_id, depth=depth, candidates=candidates)
        # The library compares gains as float32: on a tie the lower feature wins, and within a
        # feature the larger threshold (it scans dense columns from the top down).
        best, key = (0.0, -1, np.nan), np.float32(-np.inf)
        for c in candidates:
            gains32 = np.where(c["blocked"], -np.inf, c["gain"]).astype(np.float32)
            if gains32.size and gains32.max() > key:
                key = gains32.max()
                i = int(np.flatnonzero(gains32 == key)[-1])
                best = (float(c["gain"][i]), c["feature"], float(c["threshold"][i]))
        gain, feature, threshold = best
        if feature < 0 or not key > MIN_SPLIT_GAIN:  # no candidate with a positive gain
            return node_id
        node.update(feature=feature, threshold=threshold, gain=gain)
        go_left = x[:, feature] < threshold
        node["left"] = grow([idx[go_left[idx]] for idx in sorted_rows], depth + 1)
        node["right"] = grow([idx[~go_left[idx]] for idx in sorted_rows], depth + 1)
        return node_id

    grow(list(order), 0)
    pruned = np.zeros(len(nodes), dtype=bool)

    def prune(i: int) -> bool:
        """Prune below i; True when i is (now) a leaf."""
        node = nodes[i]
        if node["feature"] < 0:
            return True
        left_leaf, right_leaf = prune(node["left"]), prune(node["right"])
        if left_leaf and right_leaf and node["gain"] < gamma:
            pruned[i] = True
            return True
        return False

    prune(0)
    return _tree_from(nodes, pruned)


def _tree_from(nodes: list[dict], pruned: np.ndarray) -> Tree:
    """Arrays over the nodes; a pruned split becomes a leaf, its subtree stays for drawing."""
    feature = np.array([-1 if pruned[i] else n["feature"] for i, n in enumerate(nodes)])
    return Tree(
        feature=feature,
        threshold=np.array([n["threshold"] for n in nodes], dtype=np.float64),
        left=np.array([n["left"] for n in nodes]),
        right=np.array([n["right"] for n in nodes]),
        gain=np.array([n["gain"] for n in nodes], dtype=np.float64),
        cover=np.array([n["H"] for n in nodes], dtype=np.float64),
        grad_sum=np.array([n["G"] for n in nodes], dtype=np.float64),
        value=np.array([n["value"] for n in nodes], dtype=np.float64),
        depth=np.array([n["depth"] for n in nodes]),
        pruned=pruned,
        split_feature=np.array([n["feature"] for n in nodes]),
    )


def reachable(tree: Tree) -> np.ndarray:
    """(M,) bool: nodes of the final tree (not below a pruned split)."""
    keep = np.zeros(len(tree.feature), dtype=bool)
    stack = [0]
    while stack:
        i = stack.pop()
        keep[i] = True
        if tree.feature[i] >= 0:
            stack += [int(tree.left[i]), int(tree.right[i])]
    return keep


def predict_tree(tree: Tree, x: Any) -> np.ndarray:
    """(N,) the `value` of each row's leaf (x < threshold goes left)."""
    x = _as_array(x)
    node = np.zeros(x.shape[0], dtype=np.int64)
    for _ in range(int(tree.depth.max()) + 1):
        split = tree.feature[node] >= 0
        if not split.any():
            break
        f = tree.feature[node[split]]
        go_left = x[split, f] < tree.threshold[node[split]]
        node[split] = np.where(go_left, tree.left[node[split]], tree.right[node[split]])
    return tree.value[node]


def gradients(loss: str, y: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g, h of the loss at the margins: squared error ½(ŷ − y)² → ŷ − y, 1; logistic → p − y,
    p(1 − p) with p = σ(ŷ)."""
    if loss == "squared_error":
        return margin - y, np.ones_like(margin)
    if loss == "logistic":
        p = 1 / (1 + np.exp(-margin))
        return p - y, p * (1 - p)
    raise ValueError(f"loss: 'squared_error' or 'logistic', got {loss!r}")


def loss_values(loss: str, y: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Per-row loss: ½(ŷ − y)², or the log-loss −y log p − (1 − y) log(1 − p)."""
    if loss == "squared_error":
        return 0.5 * (margin - y) ** 2
    return np.logaddexp(0, margin) - y * margin


@dataclass
class Booster:
    trees: list[Tree]
    base_margin: float
    learning_rate: float
    loss: str
    history: list[dict] = field(default_factory=list)


def boost(
    x: Any,
    y: Any,
    *,
    loss: str,
    rounds: int,
    learning_rate: float = 0.3,
    max_depth: int = 6,
    reg_lambda: float = 1.0,
    gamma: float = 0.0,
    min_child_weight: float = 1.0,
    base_score: float = 0.5,
    trace: Trace | None = None,
) -> Booster:
    """Gradient boosting with second-order trees (xgboost.train, tree_method "exact").

    loss "squared_error" starts at base_score, "logistic" (y ∈ {0, 1}) at logit(base_score).
    Round r fits `fit_tree` to g, h at the current margins and adds learning_rate·tree
    (shrinkage). `trace` gets a "round" event per round: g, h, margins before it, mean loss.
    """
    x, y = _as_array(x), _as_array(y).ravel()
    if loss == "logistic":
        if not 0 < base_score < 1:
            raise ValueError(f"base_score: a probability in (0, 1) for logistic, got {base_score}")
        base = float(np.log(base_score / (1 - base_score)))
    elif loss == "squared_error":
        base = float(base_score)
    else:
        raise ValueError(f"loss: 'squared_error' or 'logistic', got {loss!r}")
    margin = np.full(x.shape[0], base)
    trees = []
    for r in range(rounds):
        g, h = gradients(loss, y, margin)
        tree = fit_tree(x, g, h, max_depth=max_depth, reg_lambda=reg_lambda, gamma=gamma,
                        min_child_weight=min_child_weight)  # fmt: skip
        if trace is not None:
            trace.record("round", round=r, g=g, h=h, margin=margin.copy(),
                         loss=float(loss_values(loss, y, margin).mean()))  # fmt: skip
        margin = margin + learning_rate * predict_tree(tree, x)
        trees.append(tree)
    return Booster(trees, base, learning_rate, loss)


def predict_margin(model: Booster, x: Any, rounds: int | None = None) -> np.ndarray:
    """(N,) base_margin + learning_rate·Σ predict_tree over the first `rounds` trees (all)."""
    x = _as_array(x)
    margin = np.full(x.shape[0], model.base_margin)
    for tree in model.trees[:rounds]:
        margin = margin + model.learning_rate * predict_tree(tree, x)
    return margin
