"""Gradient checkpointing: which activations backprop keeps, which it recomputes, what it costs.

A chain of n layers, nodes 0..n (0 the input, i the output of layer i). Plain backprop keeps
every node; checkpointing keeps only segment boundaries and recomputes each segment before its
backward (Chen et al. 2016: √n segments, memory O(√n) for one extra forward); the optimal
multi-level schedule for a memory budget is Griewank & Walther's (2000) revolve, found here by
dynamic programming. `measure` runs the same with `torch.utils.checkpoint` and counts bytes.
"""

from __future__ import annotations

import time
from functools import lru_cache
from itertools import pairwise

import numpy as np
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

STRATEGIES = ("segments", "store_all", "recompute_all")


def _reads(kind: str, layer: int) -> tuple[int, ...]:
    return (layer - 1, layer) if kind == "backward" else (layer - 1,)


def _produces(kind: str, layer: int) -> int | None:
    return None if kind == "backward" else layer


def boundaries(n_layers: int, segments: int) -> list[int]:
    """b_0 = 0 < … < b_k = n for k segments of sizes ⌈n/k⌉ first, then ⌊n/k⌋ (array_split)."""
    sizes = [len(part) for part in np.array_split(np.arange(n_layers), segments)]
    return [0, *np.cumsum(sizes).tolist()]


def schedule(n_layers: int, strategy: str = "segments", segments: int | None = None) -> dict:
    """The forward / recompute / backward events of a checkpointing strategy and the nodes
    held after each event.

    Held after event e: nodes produced so far (node 0 from the start) that a later event reads
    before producing them again. Keys: boundaries, events, held, stored (held after the last
    forward), recomputations, peak.
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be ≥ 1, got {n_layers}")
    n = n_layers
    events: list[tuple[str, int]] = [("forward", i) for i in range(1, n + 1)]
    if strategy == "recompute_all":
        bounds = [0, n]
        for i in range(n, 0, -1):
            events += [("recompute", j) for j in range(1, i)]
            events.append(("backward", i))
    elif strategy in ("segments", "store_all"):
        k = n if strategy == "store_all" else segments
        if k is None or not 1 <= k <= n:
            raise ValueError(f"segments must be in 1..{n}, got {k}")
        bounds = boundaries(n, k)
        for j in range(k - 1, -1, -1):
            events += [("recompute", i) for i in range(bounds[j] + 1, bounds[j + 1])]
            events += [("backward", i) for i in range(bounds[j + 1], bounds[j], -1)]
    else:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    held = _liveness(events)
    return {
        "boundaries": bounds,
        "events": events,
        "held": held,
        "stored": held[n - 1],
        "recomputations": sum(kind == "recompute" for kind, _ in events),
        "peak": max(len(h) for h in held),
    }


def _liveness(events: list[tuple[str, int]]) -> list[list[int]]:
    """Backwards over the events: a node is live after e if its next use reads it."""
    next_use: dict[int, str] = {}  # node -> "read" or "produce", the first after the current
    live_after: list[list[int]] = [[] for _ in events]
    for index in range(len(events) - 1, -1, -1):
        live_after[index] = sorted(node for node, use in next_use.items() if use == "read")
        kind, layer = events[index]
        produced = _produces(kind, layer)
        if produced is not None:
            next_use[produced] = "produce"
        for node in _reads(kind, layer):
            next_use[node] = "read"
    return live_after


@lru_cache(maxsize=1 << 16)  # (n, memory, flag): n ≤ 64 fills ~8,500 entries
def _reverse_cost(n: int, memory: int, output_held: bool) -> float:
    """Fewest layer forwards to run the backward of a chain of n layers whose input is held
    (and its output too when output_held), never holding more than `memory` nodes."""
    if n == 1:
        return (0 if output_held else 1) if memory >= 2 else np.inf
    if memory < 3:
        return np.inf
    best = np.inf
    for p in range(1, n):  # advance to node p, keep it, reverse the rest, then the first p
        right = _reverse_cost(n - p, memory - 1, output_held)
        best = min(best, p + right + _reverse_cost(p, memory, True))
    return best


def optimal_frontier(n_layers: int) -> dict:
    """The fewest recomputations for each peak of held nodes, 3..n+1 (revolve by DP).

    Griewank & Walther 2000. Recomputations = forwards beyond the first pass's n. Keys:
    `peak` (list), `recomputations` (list, same length).
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be ≥ 1, got {n_layers}")
    peaks = list(range(2 if n_layers == 1 else 3, n_layers + 2))
    extra = [int(_reverse_cost(n_layers, m, False) - n_layers) for m in peaks]
    return {"peak": peaks, "recomputations": extra}


# --- measured with torch.utils.checkpoint -------------------------------------------------------


class _SavedBytes:
    """A pack hook that sums the storages it sees once each, leaving some out."""

    def __init__(self, excluded: set[int]) -> None:
        self.excluded = excluded
        self.storages: dict[int, int] = {}
        self.tensors: list[tuple[str, tuple[int, ...], int]] = []

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in self.excluded and pointer not in self.storages:
            self.storages[pointer] = storage.nbytes()
            self.tensors.append((str(tensor.dtype), tuple(tensor.shape), storage.nbytes()))
        return tensor

    @property
    def total(self) -> int:
        return sum(self.storages.values())


def _parameter_storages(layers) -> set[int]:
    return {p.untyped_storage().data_ptr() for layer in layers for p in layer.parameters()}


def _run(layers, x: torch.Tensor, bounds: list[int] | None) -> tuple[int, list, list, float]:
    """One forward + backward; bounds None: plain, else each segment under checkpoint."""
    params = [p for layer in layers for p in layer.parameters()]
    for p in params:
        p.grad = None
    counter = _SavedBytes(_parameter_storages(layers) | {x.untyped_storage().data_ptr()})
    outputs = []
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
        h = x
        if bounds is None:
            for layer in layers:
                h = layer(h)
                outputs.append(h)
        else:
            for a, b in pairwise(bounds):
                h = checkpoint(nn.Sequential(*layers[a:b]), h, use_reentrant=False)
    h.square().sum().backward()
    seconds = time.perf_counter() - start
    grads = [p.grad.detach().clone() for p in params]
    return counter.total, grads, outputs, seconds


def measure(layers, x: torch.Tensor, segments: int) -> dict:
    """Saved-tensor bytes of a plain and a checkpointed run of `layers` on x, and their grads.

    Chen et al. 2016 with `torch.utils.checkpoint.checkpoint(..., use_reentrant=False)` around
    every segment (the last too). Bytes: distinct storages the saved-tensor pack hook sees
    while the layers run, parameters and the run's input left out. The RNG state is the same
    for both runs, so dropout masks match (checkpoint restores it for the recomputation).
    """
    layers = list(layers)
    n = len(layers)
    if not 1 <= segments <= n:
        raise ValueError(f"segments must be in 1..{n}, got {segments}")
    bounds = boundaries(n, segments)
    rng = torch.get_rng_state()
    stored, grads, outputs, plain_seconds = _run(layers, x, None)
    torch.set_rng_state(rng)
    stored_ckpt, grads_ckpt, _, ckpt_seconds = _run(layers, x, bounds)
    segment_bytes, saved_table = [], []
    inputs = [x, *outputs]
    for a, b in pairwise(bounds):
        start = inputs[a].detach().requires_grad_(x.requires_grad)
        counter = _SavedBytes(
            _parameter_storages(layers[a:b]) | {start.untyped_storage().data_ptr()}
        )
        with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
            h = start
            for layer in layers[a:b]:
                h = layer(h)
        segment_bytes.append(counter.total)
        saved_table.append(counter.tensors)
    for p in (p for layer in layers for p in layer.parameters()):
        p.grad = None
    return {
        "stored_bytes": stored,
        "stored_bytes_checkpointed": stored_ckpt,
        "segment_bytes": segment_bytes,
        "peak_bytes": stored,
        "peak_bytes_checkpointed": stored_ckpt + max(segment_bytes),
        "grads": grads,
        "grads_checkpointed": grads_ckpt,
        "seconds": plain_seconds,
        "seconds_checkpointed": ckpt_seconds,
        "saved_tensors": saved_table,
    }


def saved_tensors(layer: nn.Module, x: torch.Tensor) -> list[dict]:
    """Per graph node of one layer's forward: its name and the shapes of its `_saved_*` tensors."""
    out = layer(x.detach().requires_grad_(True))
    rows, seen, stack = [], set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        saved = {
            name: tuple(getattr(node, name).shape)
            for name in dir(node)
            if name.startswith("_saved_") and isinstance(getattr(node, name, None), torch.Tensor)
        }
        rows.append({"node": type(node).__name__, "saved": saved})
        stack.extend(next_node for next_node, _ in node.next_functions)
    return rows


def chain(model: str, n_layers: int, width: int, dropout: float = 0.0, seed: int = 0) -> list:
    """n layers of one kind: "tanh_mlp" (Linear + Tanh), "residual_mlp" (x + MLP(LayerNorm x))
    or "transformer" (`nn.TransformerEncoderLayer`, 4 heads when they divide the width,
    batch first)."""
    torch.manual_seed(seed)
    if model == "tanh_mlp":
        return [
            nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Dropout(dropout))
            for _ in range(n_layers)
        ]
    if model == "residual_mlp":
        return [_Residual(width, dropout) for _ in range(n_layers)]
    if model == "transformer":
        return [
            nn.TransformerEncoderLayer(
                width,
                next(h for h in (4, 2, 1) if width % h == 0),  # heads must divide the width
                dim_feedforward=2 * width,
                dropout=dropout,
                batch_first=True,
            )
            for _ in range(n_layers)
        ]
    raise ValueError(f"model must be tanh_mlp, residual_mlp or transformer, got {model!r}")


class _Residual(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.LayerNorm(width),
            nn.Linear(width, 2 * width),
            nn.GELU(),
            nn.Linear(2 * width, width),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
