"""Medusa: extra heads guess several tokens ahead, the base model checks a tree of guesses at once.

Cai et al. 2024 ("Medusa"): K heads on the last hidden state each propose their top tokens for
position +1 … +K past the base model's next token; the candidates form a tree (Medusa's
"choices"), verified in one forward pass with a tree attention mask (Miao et al. 2024,
SpecInfer); the longest accepted path is kept. Acceptance is greedy (the base model's argmax:
the text is exactly greedy decoding, as in Stern et al. 2018's blockwise decoding) or typical
(p > min(ε, δ·e^(−H(p)))). Leviathan et al. 2023 and Chen et al. 2023 give the sampling version.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from core.trace import Trace

NextLogits = Callable[..., Tensor]  # (tokens, mask=None, positions=None) -> (n, V)
HeadLogits = Callable[[Tensor], Tensor]  # accepted tokens (n,) -> (K, V)


@dataclass(frozen=True)
class TreeBuffers:
    """A candidate tree: node 0 is the root (the base model's next token), then the choices."""

    choices: tuple[tuple[int, ...], ...]  # node i ≥ 1 holds choices[i − 1]
    parents: tuple[int, ...]  # parents[0] = −1
    depths: tuple[int, ...]  # 0 for the root
    ranks: tuple[int, ...]  # a_d: the node holds head d's (a_d + 1)-th likeliest token

    @property
    def size(self) -> int:
        return len(self.parents)


def tree_buffers(tree: Sequence[Sequence[int]]) -> TreeBuffers:
    """Nodes of Medusa's `choices` sorted by depth then value, each with its parent.

    tree: tuples (a₁, …, a_d), every prefix listed. Raises ValueError on a missing prefix, a
    negative rank or a repeated choice.
    """
    choices = sorted({tuple(int(a) for a in c) for c in tree}, key=lambda c: (len(c), c))
    if len(choices) != len(tree):
        raise ValueError("tree: a choice is listed twice")
    index = {(): 0}
    parents, depths, ranks = [-1], [0], [0]
    for i, choice in enumerate(choices, start=1):
        if not choice or min(choice) < 0:
            raise ValueError(f"tree: choices are non-empty tuples of ranks ≥ 0, got {choice}")
        if choice[:-1] not in index:
            raise ValueError(f"tree: {choice} is listed without its prefix {choice[:-1]}")
        index[choice] = i
        parents.append(index[choice[:-1]])
        depths.append(len(choice))
        ranks.append(choice[-1])
    return TreeBuffers(tuple(choices), tuple(parents), tuple(depths), tuple(ranks))


def tree_attention_mask(parents: Sequence[int]) -> Tensor:
    """(n, n) bool, True where node j is node i or one of its ancestors.

    parents[i] ∈ [−1, i), −1 for no parent. Ancestor rows are copied down the tree.
    """
    n = len(parents)
    mask = torch.eye(n, dtype=torch.bool)
    for i, parent in enumerate(parents):
        if not -1 <= parent < i:
            raise ValueError(f"parents[{i}] = {parent}: expected −1 ≤ parent < {i}")
        if parent >= 0:
            mask[i] |= mask[parent]
    return mask


def chain(depth: int) -> list[tuple[int, ...]]:
    """A single path of each head's top-1 guess: (0,), (0, 0), …"""
    return [(0,) * d for d in range(1, depth + 1)]


def full_tree(depth: int, width: int) -> list[tuple[int, ...]]:
    """Every combination of each head's top-`width` guesses up to `depth` heads."""
    nodes, level = [], [()]
    for _ in range(depth):
        level = [(*c, a) for c in level for a in range(width)]
        nodes += level
    return nodes


def sparse_tree(
    accuracy: Sequence[Sequence[float]], n_nodes: int, depth: int
) -> list[tuple[int, ...]]:
    """The `n_nodes` − 1 choices (plus the root) with the largest chance of being accepted.

    Cai et al. 2024, §2.3.3: a node (a₁, …, a_d) is accepted with probability ≈ Π_j acc[j][a_j],
    the held-out share of positions where head j's (a_j + 1)-th guess was right; adding nodes
    best-first (a child never beats its parent) maximises the expected accepted length.
    accuracy: (K, R) per head and rank; depth ≤ K.
    """
    if not 1 <= depth <= len(accuracy):
        raise ValueError(f"depth: expected 1..{len(accuracy)} (the heads), got {depth}")
    frontier = [(-float(p), (a,)) for a, p in enumerate(accuracy[0])]
    heapq.heapify(frontier)
    choices: list[tuple[int, ...]] = []
    while frontier and len(choices) < n_nodes - 1:
        value, choice = heapq.heappop(frontier)
        choices.append(choice)
        if len(choice) < depth:
            for a, p in enumerate(accuracy[len(choice)]):
                heapq.heappush(frontier, (value * float(p), (*choice, a)))
    return choices


def _passes(
    logits: Tensor, token: int, acceptance: str, epsilon: float, delta: float, temperature: float
) -> bool:
    if acceptance == "greedy":
        return int(torch.argmax(logits)) == token
    log_p = torch.log_softmax(logits.double() / temperature, dim=-1)
    p = log_p.exp()
    entropy = float(-(p * log_p).sum())  # nats
    return float(p[token]) > min(epsilon, delta * math.exp(-entropy))


def speculative_decode(
    next_logits: NextLogits,
    head_logits: HeadLogits,
    prompt: Tensor,
    max_new_tokens: int,
    tree: Sequence[Sequence[int]],
    acceptance: str = "greedy",
    epsilon: float = 0.09,
    delta: float = 0.3,
    temperature: float = 1.0,
    *,
    trace: Trace | None = None,
) -> tuple[Tensor, list[int]]:
    """Decode with Medusa heads and tree verification; returns the new tokens and tokens per step.

    Each step: the root is the base model's argmax after the accepted text s; the heads' top
    tokens fill the tree; one call to `next_logits` over s + tree (tree mask, positions
    len(s) + depth) scores every node's children; a node passes if its token is the argmax at
    its parent (greedy) or has p > min(ε, δ·e^(−H)) there (typical, p = softmax(logits/T)); the
    root and the longest all-passing path are emitted, and the next root is the argmax after the
    last emitted token. Greedy acceptance reproduces greedy decoding whatever the heads say.
    prompt: (n₀ ≥ 1,) int64 -> tokens (max_new_tokens,) int64, accepted: tokens per step.
    Trace, per step: "step" (prefix_len, tree_tokens, parents, passed, path, emitted, calls).
    """
    if acceptance not in ("greedy", "typical"):
        raise ValueError(f"acceptance: 'greedy' or 'typical', got {acceptance!r}")
    if prompt.dim() != 1 or prompt.numel() < 1:
        raise ValueError("prompt: a non-empty (n₀,) tensor of token ids is needed")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens: expected ≥ 0, got {max_new_tokens}")
    if temperature <= 0:
        raise ValueError(f"temperature: expected > 0, got {temperature}")
    buffers = tree_buffers(tree)
    tree_mask = tree_attention_mask(buffers.parents)
    depths = torch.tensor(buffers.depths)
    sequence = prompt.to(torch.int64).clone()
    new: list[int] = []
    accepted: list[int] = []
    calls = 1
    root = int(torch.argmax(next_logits(sequence)[-1]))
    while len(new) < max_new_tokens:
        n = sequence.numel()
        heads = head_logits(sequence)
        if buffers.size > 1 and max(buffers.depths) > heads.shape[0]:
            raise ValueError(
                f"tree: depth {max(buffers.depths)} needs that many heads, got {heads.shape[0]}"
            )
        widest = max(buffers.ranks) + 1
        top = (
            torch.topk(heads, min(widest, heads.shape[-1]), dim=-1).indices
            if buffers.size > 1
            else None
        )
        tree_tokens = [root] + [
            int(top[d - 1, r]) if r < top.shape[1] else int(top[d - 1, -1])
            for d, r in zip(buffers.depths[1:], buffers.ranks[1:], strict=True)
        ]
        tokens = torch.cat([sequence, torch.tensor(tree_tokens, dtype=torch.int64)])
        size = len(tree_tokens)
        mask = torch.ones(n + size, n + size, dtype=torch.bool).tril()
        mask[n:, n:] = tree_mask
        positions = torch.cat([torch.arange(n), n + depths])
        logits = next_logits(tokens, mask, positions)[n:]  # (size, V): row i scores i's children
        calls += 1
        passed = [True] + [
            _passes(
                logits[buffers.parents[i]], tree_tokens[i], acceptance, epsilon, delta, temperature
            )
            for i in range(1, size)
        ]
        chain_ok = list(passed)
        for i in range(1, size):
            chain_ok[i] = passed[i] and chain_ok[buffers.parents[i]]
        best = max(range(size), key=lambda i: (chain_ok[i] * buffers.depths[i], -i))
        path = []
        node = best
        while node >= 0:
            path.append(node)
            node = buffers.parents[node]
        path.reverse()
        emitted = [tree_tokens[i] for i in path][: max_new_tokens - len(new)]
        new += emitted
        accepted.append(len(emitted))
        sequence = torch.cat([sequence, torch.tensor(emitted, dtype=torch.int64)])
        root = int(torch.argmax(logits[path[len(emitted) - 1]]))
        if trace is not None:
            trace.record(
                "step",
                prefix_len=n,
                tree_tokens=tree_tokens,
                parents=list(buffers.parents),
                passed=passed,
                path=path,
                emitted=emitted,
                calls=calls,
            )
    return torch.tensor(new, dtype=torch.int64), accepted


def greedy_decode(next_logits: NextLogits, prompt: Tensor, max_new_tokens: int) -> Tensor:
    """Plain greedy decoding, one base-model call per token: the reference."""
    sequence = prompt.to(torch.int64).clone()
    for _ in range(max_new_tokens):
        token = torch.argmax(next_logits(sequence)[-1]).reshape(1)
        sequence = torch.cat([sequence, token])
    return sequence[prompt.numel() :]
