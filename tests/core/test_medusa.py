"""Medusa decoding: the tree mask by ancestor walk, greedy acceptance = greedy decoding."""

import pytest
import torch

from core.llm import medusa
from core.trace import Trace

V = 11


def toy_model(seed: int):
    """A float64 model that honours mask and positions: h_i = Σ_(j seen) E[t_j]·0.7^(p_i − p_j)."""
    g = torch.Generator().manual_seed(seed)
    embed = torch.randn(V, 6, generator=g, dtype=torch.float64)
    out = torch.randn(6, V, generator=g, dtype=torch.float64)

    def next_logits(tokens, mask=None, positions=None):
        n = tokens.numel()
        mask = torch.ones(n, n, dtype=torch.bool).tril() if mask is None else mask
        positions = torch.arange(n) if positions is None else positions
        gap = (positions[:, None] - positions[None, :]).double()
        weights = torch.where(mask, 0.7**gap, 0.0)
        return torch.tanh(weights @ embed[tokens]) @ out

    return next_logits


def heads_for(next_logits, kind: str, k: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)

    def head_logits(s):
        if kind == "useless":
            return torch.randn(k, V, generator=g, dtype=torch.float64)
        root = torch.argmax(next_logits(s)[-1]).reshape(1)
        ahead = medusa.greedy_decode(next_logits, torch.cat([s, root]), k)
        logits = torch.nn.functional.one_hot(ahead, V).double() * 5
        if kind == "noisy":
            logits = logits + 3 * torch.randn(k, V, generator=g, dtype=torch.float64)
        return logits

    return head_logits


def test_tree_mask_is_the_ancestor_walk():
    buffers = medusa.tree_buffers([*medusa.full_tree(3, 2), (2,), (2, 0)])
    mask = medusa.tree_attention_mask(buffers.parents)
    for i in range(buffers.size):
        ancestors, node = set(), i
        while node >= 0:
            ancestors.add(node)
            node = buffers.parents[node]
        assert {j for j in range(buffers.size) if mask[i, j]} == ancestors
    with pytest.raises(ValueError, match="prefix"):
        medusa.tree_buffers([(0, 1)])
    with pytest.raises(ValueError, match="parent"):
        medusa.tree_attention_mask([-1, 1])


@pytest.mark.parametrize("kind", ["perfect", "noisy", "useless"])
@pytest.mark.parametrize(
    "tree", [medusa.chain(4), medusa.full_tree(2, 2), [(0,), (1,), (0, 0), (0, 1), (0, 0, 0)]]
)
def test_greedy_acceptance_reproduces_greedy_decoding(kind, tree):
    model = toy_model(1)
    prompt = torch.tensor([3, 1, 4])
    expected = medusa.greedy_decode(model, prompt, 25)
    trace = Trace()
    tokens, accepted = medusa.speculative_decode(
        model, heads_for(model, kind), prompt, 25, tree, trace=trace
    )
    assert torch.equal(tokens, expected)
    assert sum(accepted) == 25 and all(a >= 1 for a in accepted)
    assert trace["step"][-1]["calls"] == len(accepted) + 1
    if kind == "perfect":  # every guess passes: root + the deepest path
        depth = max(len(c) for c in tree)
        assert accepted[:-1] == [depth + 1] * (len(accepted) - 1)


def test_typical_with_zero_epsilon_accepts_everything_and_threshold_one_nothing():
    model = toy_model(2)
    prompt = torch.tensor([0])
    heads = heads_for(model, "useless")
    _, accepted = medusa.speculative_decode(
        model, heads, prompt, 20, medusa.chain(3), "typical", epsilon=0.0
    )
    assert accepted == [4] * 5
    tokens, accepted = medusa.speculative_decode(
        model, heads, prompt, 20, medusa.chain(3), "typical", epsilon=1.0, delta=1e9
    )
    assert accepted == [1] * 20
    assert torch.equal(tokens, medusa.greedy_decode(model, prompt, 20))


def test_zero_tokens_and_bad_arguments():
    model = toy_model(3)
    tokens, accepted = medusa.speculative_decode(
        model, heads_for(model, "perfect"), torch.tensor([1]), 0, medusa.chain(2)
    )
    assert tokens.numel() == 0 and accepted == []
    with pytest.raises(ValueError, match="acceptance"):
        medusa.speculative_decode(model, None, torch.tensor([1]), 3, [], "sample")


def test_sparse_tree_keeps_the_likeliest_nodes_and_their_prefixes():
    g = torch.Generator().manual_seed(5)
    accuracy = torch.rand(3, 4, generator=g).tolist()
    every = medusa.full_tree(3, 4)

    def value(choice):
        out = 1.0
        for depth, rank in enumerate(choice):
            out *= accuracy[depth][rank]
        return out

    for n_nodes in (1, 2, 9, 30):
        tree = medusa.sparse_tree(accuracy, n_nodes, 3)
        assert len(tree) == n_nodes - 1
        medusa.tree_buffers(tree)  # every prefix is there
        # a child is never likelier than its parent, so the best prefix-closed tree is the top N
        assert set(tree) == set(sorted(every, key=value, reverse=True)[: n_nodes - 1])
    one_level = medusa.sparse_tree(accuracy, 50, 1)  # only 4 guesses of one head exist
    assert sorted(one_level) == [(0,), (1,), (2,), (3,)]
    assert max(len(c) for c in medusa.sparse_tree(accuracy, 30, 2)) <= 2
    with pytest.raises(ValueError, match="depth"):
        medusa.sparse_tree(accuracy, 8, 4)
