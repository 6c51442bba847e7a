"""The character LM verifies a Medusa tree in one call exactly as it scores each path alone."""

import torch

from core.llm import char_lm, medusa


def test_tree_call_equals_each_path_scored_alone():
    g = torch.Generator().manual_seed(0)
    params = {k: v.double() for k, v in char_lm.init_lm(20, g).items()}
    prefix = torch.randint(0, 20, (7,), generator=g)
    buffers = medusa.tree_buffers(medusa.full_tree(2, 2))
    tree_tokens = torch.randint(0, 20, (buffers.size,), generator=g)
    n = prefix.numel()
    mask = torch.ones(n + buffers.size, n + buffers.size, dtype=torch.bool).tril()
    mask[n:, n:] = medusa.tree_attention_mask(buffers.parents)
    positions = torch.cat([torch.arange(n), n + torch.tensor(buffers.depths)])
    tree_logits = char_lm.lm_logits(params, torch.cat([prefix, tree_tokens]), mask, positions)
    for i in range(buffers.size):
        path, node = [], i
        while node >= 0:
            path.append(node)
            node = buffers.parents[node]
        alone = char_lm.lm_logits(params, torch.cat([prefix, tree_tokens[path[::-1]]]))
        torch.testing.assert_close(tree_logits[n + i], alone[-1], rtol=0, atol=1e-12)


def test_medusa_heads_start_as_the_lm_head_and_loss_weights_decay():
    g = torch.Generator().manual_seed(1)
    params = char_lm.init_lm(15, g)
    heads = char_lm.init_medusa(params, 4)
    hidden = torch.randn(2, 9, char_lm.D_MODEL, generator=g)
    logits = char_lm.medusa_logits(heads, hidden)
    assert logits.shape == (4, 2, 9, 15)
    torch.testing.assert_close(logits[2], hidden @ params["lm_head"].T)
    tokens = torch.randint(0, 15, (2, 9), generator=g)
    loss = char_lm.medusa_loss(heads, hidden, tokens)
    expected = sum(
        0.8**k
        * torch.nn.functional.cross_entropy(
            logits[k][:, : 9 - k - 2].flatten(0, 1), tokens[:, k + 2 :].flatten()
        )
        for k in range(4)
    )
    torch.testing.assert_close(loss, expected)


def test_cached_model_gives_the_uncached_logits_call_after_call():
    g = torch.Generator().manual_seed(2)
    params = {k: v.double() for k, v in char_lm.init_lm(12, g).items()}
    heads = {k: v.double() for k, v in char_lm.init_medusa(params, 3).items()}
    window = 9  # short, so that the sliding window is exercised
    next_logits, head_logits = char_lm.cached_model(params, heads, window)
    buffers = medusa.tree_buffers([(0,), (1,), (0, 0), (0, 0, 0)])
    text = torch.randint(0, 12, (30,), generator=g)

    def reference(tokens, mask, positions):
        band = positions[:, None] - positions[None, :] < window
        return char_lm.lm_logits(params, tokens, mask & band, positions)

    for n in (5, 6, 7, 12, 11, 20, 16):  # grows, repeats, shrinks: the cache follows
        tokens = text[:n]
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        torch.testing.assert_close(
            next_logits(tokens), reference(tokens, causal, torch.arange(n)), rtol=0, atol=1e-12
        )
        tree = torch.randint(0, 12, (buffers.size,), generator=g)
        size = n + buffers.size
        mask = torch.ones(size, size, dtype=torch.bool).tril()
        mask[n:, n:] = medusa.tree_attention_mask(buffers.parents)
        positions = torch.cat([torch.arange(n), n + torch.tensor(buffers.depths)])
        tokens = torch.cat([tokens, tree])
        torch.testing.assert_close(
            next_logits(tokens, mask, positions),
            reference(tokens, mask, positions),
            rtol=0,
            atol=1e-12,
        )
        hidden = char_lm.lm_hidden(
            params, text[:n], causal & (torch.arange(n)[:, None] - torch.arange(n) < window)
        )
        torch.testing.assert_close(
            head_logits(text[:n]), char_lm.medusa_logits(heads, hidden[-1]), rtol=0, atol=1e-12
        )


def test_head_rank_accuracy_counts_where_the_right_character_ranks():
    g = torch.Generator().manual_seed(3)
    params = char_lm.init_lm(9, g)
    heads = char_lm.init_medusa(params, 2)
    heads["u"] = torch.randn(2, char_lm.D_MODEL, char_lm.D_MODEL, generator=g) * 0.3
    ids = torch.randint(0, 9, (char_lm.CONTEXT + 40,), generator=g)
    shares = char_lm.head_rank_accuracy(params, heads, ids, 9)
    hits = torch.zeros(2, 9)
    counted = torch.zeros(2)
    for start in (0, char_lm.CONTEXT):  # non-overlapping windows, targets may lie past them
        window = ids[start : start + char_lm.CONTEXT]
        logits = char_lm.medusa_logits(heads, char_lm.lm_hidden(params, window))
        for k in range(2):
            for t in range(window.numel()):
                target = start + t + k + 2
                if target < ids.numel():
                    rank = int((logits[k, t] > logits[k, t, ids[target]]).sum())
                    hits[k, rank] += 1
                    counted[k] += 1
    torch.testing.assert_close(shares.float(), hits / counted[:, None])
    torch.testing.assert_close(shares.sum(dim=1), torch.ones(2, dtype=torch.float64))
