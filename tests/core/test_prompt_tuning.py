"""Prefix attention against SDPA on the concatenation; parameter counts against torch.nn modules."""

import pytest
import torch
import torch.nn.functional as F

from core.finetuning.prompt_tuning import METHODS, parameter_counts, prefix_attention
from core.finetuning.shapes import MODEL_SHAPES, d_kv, resolve

TOL = {torch.float64: 1e-10, torch.float32: 2e-5}


def inputs(dtype, batch=2, heads=3, n=5, m=5, p=4, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    return (
        r(batch, heads, n, d),
        r(batch, heads, m, d),
        r(batch, heads, m, d),
        r(heads, p, d),
        r(heads, p, d),
    )


def concatenated_sdpa(q, k, v, pk, pv, causal):
    batch, n, p = q.shape[0], q.shape[2], pk.shape[1]
    keys = torch.cat([pk.expand(batch, *pk.shape), k], dim=2)
    values = torch.cat([pv.expand(batch, *pv.shape), v], dim=2)
    mask = None
    if causal:  # its own boolean mask: every prefix column open, tokens j <= i
        mask = torch.cat(
            [torch.ones(n, p, dtype=torch.bool), torch.ones(n, n, dtype=torch.bool).tril()], 1
        )
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_prefix_attention_is_sdpa_on_the_concatenation(dtype, causal):
    q, k, v, pk, pv = inputs(dtype)
    out = prefix_attention(q, k, v, pk, pv, causal=causal)
    torch.testing.assert_close(
        out, concatenated_sdpa(q, k, v, pk, pv, causal), atol=TOL[dtype], rtol=0
    )


def test_non_causal_with_more_keys_than_queries():
    q, k, v, pk, pv = inputs(torch.float64, n=3, m=7, p=2)
    torch.testing.assert_close(
        prefix_attention(q, k, v, pk, pv),
        concatenated_sdpa(q, k, v, pk, pv, False),
        atol=1e-10,
        rtol=0,
    )


@pytest.mark.parametrize("causal", [False, True])
def test_zero_prefix_is_plain_attention(causal):
    q, k, v, pk, pv = inputs(torch.float64, p=0)
    out = prefix_attention(q, k, v, pk, pv, causal=causal)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-10, rtol=0
    )


def test_gradients_reach_the_prefixes_as_through_sdpa():
    q, k, v, pk, pv = inputs(torch.float64)
    leaves = [t.clone().requires_grad_() for t in (q, k, v, pk, pv)]
    twins = [t.clone().requires_grad_() for t in (q, k, v, pk, pv)]
    weights = torch.randn(q.shape, dtype=torch.float64)
    (prefix_attention(*leaves, causal=True) * weights).sum().backward()
    (concatenated_sdpa(*twins, causal=True) * weights).sum().backward()
    for a, b in zip(leaves, twins, strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-10, rtol=0)


def modules(method, config, n, h):
    c = resolve(config)
    d, width = c["d_model"], 2 * c["n_layers"] * d_kv(c)
    nn = torch.nn
    if method == "prompt":
        return [nn.Embedding(n, d, device="meta")]
    if method == "p-tuning-mlp":
        return [
            nn.Embedding(n, d, device="meta"),
            nn.Sequential(
                nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d)
            ).to("meta"),
        ]
    if method == "p-tuning-lstm":
        return [
            nn.Embedding(n, d, device="meta"),
            nn.LSTM(d, h, num_layers=2, bidirectional=True, device="meta"),
            nn.Sequential(nn.Linear(2 * h, 2 * h), nn.ReLU(), nn.Linear(2 * h, d)).to("meta"),
        ]
    if method == "prefix":
        return [
            nn.Embedding(n, d, device="meta"),
            nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, width)).to("meta"),
        ]
    return [nn.Embedding(n, width, device="meta")]


@pytest.mark.parametrize("method", METHODS)
def test_trainable_counts_are_the_numel_of_the_torch_modules(method):
    small = {"d_model": 32, "n_layers": 3, "n_heads": 4, "n_kv_heads": 2, "d_ffn": 64}
    for config, n, h in [(small, 5, None), (small, 1, 7), ("llama2-70b", 20, 512)]:
        expected = sum(
            p.numel()
            for m in modules(method, config, n, h or resolve(config)["d_model"])
            for p in m.parameters()
        )
        assert parameter_counts(method, config, n, h)["trainable"] == expected


def test_stored_counts_and_the_llama_7b_numbers():
    assert parameter_counts("prompt", "llama-7b", 20) == {"trainable": 81_920, "stored": 81_920}
    assert parameter_counts("deep-prompt", "llama-7b", 20)["stored"] == 5_242_880
    assert parameter_counts("prefix", "llama-7b", 20)["stored"] == 5_242_880
    assert parameter_counts("p-tuning-lstm", "llama-7b", 20)["stored"] == 81_920
    assert set(MODEL_SHAPES) >= {"llama-7b"}
    with pytest.raises(ValueError, match="method"):
        parameter_counts("lora", "llama-7b", 20)
