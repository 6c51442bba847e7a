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
