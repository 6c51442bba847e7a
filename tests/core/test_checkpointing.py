"""core.training.checkpointing: schedules against brute-force liveness, the DP against an
exhaustive search, `measure` against plain autograd on three architectures."""

from collections import deque

import pytest
import torch

from core.training import checkpointing as ck


def brute_force_held(events):
    """Held after event e, straight from the definition: produced, and read later before
    being produced again."""
    produced = {0}
    rows = []
    for index, (kind, layer) in enumerate(events):
        if kind != "backward":
            produced.add(layer)
        held = []
        for node in sorted(produced):
            for later_kind, later_layer in events[index + 1 :]:
                reads = (
                    (later_layer - 1, later_layer)
                    if later_kind == "backward"
                    else (later_layer - 1,)
                )
                if node in reads:
                    held.append(node)
                    break
                if later_kind != "backward" and later_layer == node:
                    break
        rows.append(held)
    return rows


@pytest.mark.parametrize(
    "n,strategy,k",
    [
        (1, "segments", 1),
        (7, "segments", 3),
        (9, "store_all", None),
        (6, "recompute_all", None),
        (10, "segments", 1),
    ],
)
def test_schedule_held_matches_brute_force_liveness(n, strategy, k):
    result = ck.schedule(n, strategy, k)
    assert result["held"] == brute_force_held(result["events"])
    assert result["peak"] == max(len(h) for h in result["held"])


def test_segment_events_follow_the_contract():
    result = ck.schedule(5, "segments", 2)  # sizes 3, 2: boundaries 0, 3, 5
    assert result["boundaries"] == [0, 3, 5]
    assert result["events"] == [
        ("forward", 1), ("forward", 2), ("forward", 3), ("forward", 4), ("forward", 5),
        ("recompute", 4), ("backward", 5), ("backward", 4),
        ("recompute", 1), ("recompute", 2), ("backward", 3), ("backward", 2), ("backward", 1),
    ]  # fmt: skip
    assert result["stored"] == [0, 3, 5] and result["recomputations"] == 3


def test_store_all_and_recompute_all_corners():
    n = 8
    store = ck.schedule(n, "store_all")
    recompute = ck.schedule(n, "recompute_all")
    assert store["peak"] == n + 1 and store["recomputations"] == 0
    assert recompute["peak"] == 3 and recompute["recomputations"] == n * (n - 1) // 2
    assert recompute["boundaries"] == [0, n]


@pytest.mark.parametrize(
    "bad", [(0, "segments", 1), (4, "segments", 5), (4, "segments", 0), (4, "zigzag", 1)]
)
def test_schedule_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        ck.schedule(*bad)


def exhaustive_min_forwards(n, memory):
    """0–1 BFS over (held set, next backward layer): compute j+1 from j (cost 1, j kept or
    dropped), drop a node (free), backward i when i−1 and i are held (free)."""
    start = (frozenset({0}), n)
    best = {start: 0}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        held, pointer = state
        cost = best[state]
        if pointer == 0:
            return cost
        moves = []
        if pointer - 1 in held and pointer in held:
            moves.append(((held - {pointer}, pointer - 1), 0))
        for node in held:
            if node != 0 or pointer == 0:
                moves.append(((held - {node}, pointer), 0))
            if node < pointer and node + 1 not in held:
                for kept in (held | {node + 1}, (held - {node}) | {node + 1}):
                    if len(kept) <= memory and 0 in kept:
                        moves.append(((frozenset(kept), pointer), 1))
        for new, step in moves:
            new = (frozenset(new[0]), new[1])
            if cost + step < best.get(new, float("inf")):
                best[new] = cost + step
                (queue.appendleft if step == 0 else queue.append)(new)
    return float("inf")


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_dp_frontier_matches_exhaustive_search(n):
    frontier = ck.optimal_frontier(n)
    for peak, extra in zip(frontier["peak"], frontier["recomputations"], strict=True):
        assert exhaustive_min_forwards(n, peak) - n == extra


def test_dp_frontier_is_no_worse_than_any_segment_schedule():
    n = 16
    frontier = dict(zip(*ck.optimal_frontier(n).values(), strict=True))
    for k in range(1, n + 1):
        s = ck.schedule(n, "segments", k)
        assert frontier[s["peak"]] <= s["recomputations"]


@pytest.mark.parametrize(
    "model,shape", [("tanh_mlp", (4, 16)), ("residual_mlp", (4, 16)), ("transformer", (2, 3, 16))]
)
def test_measure_gives_identical_gradients_and_fewer_stored_bytes(model, shape):
    layers = ck.chain(model, 6, 16, seed=1)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    result = ck.measure(layers, x, 2)
    for a, b in zip(result["grads"], result["grads_checkpointed"], strict=True):
        assert torch.equal(a, b)
    assert len(result["grads"]) == sum(1 for layer in layers for _ in layer.parameters())
    # plain = the segments run plainly, plus the boundary when no layer of segment 1 saved it
    segments = sum(result["segment_bytes"])
    assert segments <= result["stored_bytes"] <= segments + result["stored_bytes_checkpointed"]
    activation = x.numel() * 4
    assert result["stored_bytes_checkpointed"] == activation
    assert result["peak_bytes_checkpointed"] == activation + max(result["segment_bytes"])


def test_measure_with_dropout_restores_the_rng_state():
    layers = ck.chain("tanh_mlp", 4, 8, dropout=0.5, seed=3)
    result = ck.measure(layers, torch.randn(3, 8), 2)
    assert all(
        torch.equal(a, b)
        for a, b in zip(result["grads"], result["grads_checkpointed"], strict=True)
    )


def test_tanh_mlp_stores_its_input_and_output_per_layer():
    result = ck.measure(ck.chain("tanh_mlp", 5, 8), torch.randn(2, 8), 5)
    # Linear saves its input (the previous tanh output, shared storage) and Tanh its result:
    # one (2, 8) FP32 storage per node after the input.
    assert result["stored_bytes"] == 5 * 2 * 8 * 4


def test_saved_tensors_lists_the_graph_nodes():
    rows = ck.saved_tensors(ck.chain("tanh_mlp", 1, 4)[0], torch.randn(2, 4))
    names = {row["node"]: row["saved"] for row in rows}
    assert names["TanhBackward0"] == {"_saved_result": (2, 4)}
