"""MHA, MQA, GQA and MLA against PyTorch's attention and against MLA's equations written out."""

import math

import pytest
import torch
import torch.nn.functional as F

from core.attention import variants
from core.trace import Trace

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}  # fp32: a few ulps of O(1) outputs, summed


def randn(generator, *shape, dtype=torch.float64):
    return torch.randn(*shape, generator=generator, dtype=dtype) / math.sqrt(shape[-1])


def gqa_weights(generator, d_model, n_heads, n_kv_heads, head_dim, d_out, dtype=torch.float64):
    return (
        randn(generator, n_heads * head_dim, d_model, dtype=dtype),
        randn(generator, n_kv_heads * head_dim, d_model, dtype=dtype),
        randn(generator, n_kv_heads * head_dim, d_model, dtype=dtype),
        randn(generator, d_out, n_heads * head_dim, dtype=dtype),
    )


@pytest.mark.parametrize("causal", [False, True])
def test_gqa_with_h_kv_heads_is_nn_multihead_attention(causal):
    g = torch.Generator().manual_seed(0)
    d_model, n_heads, n = 32, 4, 7
    x = torch.randn(2, n, d_model, generator=g, dtype=torch.float64)
    w_q, w_k, w_v, w_o = gqa_weights(g, d_model, n_heads, n_heads, 8, d_model)
    mha = torch.nn.MultiheadAttention(d_model, n_heads, bias=False, batch_first=True)
    mha = mha.double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([w_q, w_k, w_v]))
        mha.out_proj.weight.copy_(w_o)
    mask = ~torch.ones(n, n, dtype=torch.bool).tril() if causal else None
    expected, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    out = variants.grouped_query_attention(x, w_q, w_k, w_v, w_o, n_heads, n_heads, causal=causal)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "dtype,n,n_heads,n_kv_heads,causal",
    [
        (torch.float64, 9, 8, 2, True),
        (torch.float32, 5, 6, 3, False),
        (torch.float64, 1, 4, 1, True),  # one token, MQA
        (torch.float32, 12, 4, 4, True),
    ],
)
def test_gqa_matches_sdpa_enable_gqa(dtype, n, n_heads, n_kv_heads, causal):
    g = torch.Generator().manual_seed(1)
    d_model, head_dim, d_out = 20, 6, 11  # H·d ≠ D ≠ D_out
    x = torch.randn(3, n, d_model, generator=g, dtype=dtype)
    w_q, w_k, w_v, w_o = gqa_weights(g, d_model, n_heads, n_kv_heads, head_dim, d_out, dtype)
    trace = Trace()
    out = variants.grouped_query_attention(
        x, w_q, w_k, w_v, w_o, n_heads, n_kv_heads, causal=causal, trace=trace
    )

    def heads(w, h):
        return (x @ w.T).view(3, n, h, head_dim).transpose(1, 2)

    q, k, v = heads(w_q, n_heads), heads(w_k, n_kv_heads), heads(w_v, n_kv_heads)
    o = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    expected = o.transpose(1, 2).reshape(3, n, -1) @ w_o.T
    assert out.dtype == dtype and out.shape == (3, n, d_out)
    torch.testing.assert_close(out, expected, rtol=TOL[dtype], atol=TOL[dtype])
    (probs,) = trace["probs"]
    assert probs.shape == (3, n_heads, n, n)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, n_heads, n, dtype=dtype))


def test_gqa_with_one_group_is_mqa_and_heads_of_a_group_share_keys():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 6, 16, generator=g, dtype=torch.float64)
    w_q, w_k, w_v, w_o = gqa_weights(g, 16, 4, 1, 4, 16)
    trace = Trace()
    out = variants.grouped_query_attention(x, w_q, w_k, w_v, w_o, 4, 1, trace=trace)
    # MQA written out (Shazeer 2019): one K and one V, every query head against them
    k, v = x @ w_k.T, x @ w_v.T
    heads = []
    for h in range(4):
        q = x @ w_q[h * 4 : (h + 1) * 4].T
        heads.append(torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1) @ v)
    torch.testing.assert_close(out, torch.cat(heads, dim=-1) @ w_o.T, rtol=0, atol=1e-12)
    (kv,) = trace["heads"]
    assert kv["k"].shape == (1, 1, 6, 4)


def test_gqa_rejects_a_kv_count_that_does_not_divide_the_heads():
    x = torch.zeros(1, 2, 8)
    with pytest.raises(ValueError, match="n_kv_heads"):
        variants.grouped_query_attention(
            x, torch.zeros(8, 8), torch.zeros(6, 8), torch.zeros(6, 8), torch.zeros(8, 8), 4, 3
        )


def mla_weights(generator, d_model=24, h=3, d_nope=4, d_rope=4, d_v=5, d_c=6, d_cq=7, d_out=9):
    shapes = {
        "w_dq": (d_cq, d_model),
        "w_uq": (h * d_nope, d_cq),
        "w_qr": (h * d_rope, d_cq),
        "w_dkv": (d_c, d_model),
        "w_uk": (h * d_nope, d_c),
        "w_kr": (d_rope, d_model),
        "w_uv": (h * d_v, d_c),
        "w_o": (d_out, h * d_v),
    }
    return {name: randn(generator, *shape) for name, shape in shapes.items()}


def complex_rope(x, base=10000.0):
    """RoPE as a complex rotation of pairs (i, i + d/2): z_i · e^(i·m·θ_i) (Su et al. 2021)."""
    n, d = x.shape[-2], x.shape[-1]
    theta = base ** (-torch.arange(d // 2, dtype=torch.float64) * 2 / d)
    angle = torch.arange(n, dtype=torch.float64)[:, None] * theta
    z = torch.complex(x[..., : d // 2], x[..., d // 2 :]) * torch.polar(
        torch.ones_like(angle), angle
    )
    return torch.cat([z.real, z.imag], dim=-1)


def mla_by_the_equations(x, w, h, causal):
    """DeepSeek-V2 eqs. 9–19 head by head, in loops (no shared code with core)."""
    n = x.shape[1]
    d_nope, d_rope, d_v = w["w_uq"].shape[0] // h, w["w_qr"].shape[0] // h, w["w_uv"].shape[0] // h
    c_q, c_kv = x @ w["w_dq"].T, x @ w["w_dkv"].T
    k_r = complex_rope(x @ w["w_kr"].T)
    outs = []
    for i in range(h):
        q_c = c_q @ w["w_uq"][i * d_nope : (i + 1) * d_nope].T
        q_r = complex_rope(c_q @ w["w_qr"][i * d_rope : (i + 1) * d_rope].T)
        k_c = c_kv @ w["w_uk"][i * d_nope : (i + 1) * d_nope].T
        v = c_kv @ w["w_uv"][i * d_v : (i + 1) * d_v].T
        q, k = torch.cat([q_c, q_r], -1), torch.cat([k_c, k_r], -1)
        s = q @ k.transpose(-1, -2) / math.sqrt(d_nope + d_rope)
        if causal:
            s = s.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), -math.inf)
        outs.append(torch.softmax(s, -1) @ v)
    return torch.cat(outs, -1) @ w["w_o"].T


@pytest.mark.parametrize("absorb", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_mla_follows_deepseek_v2_equations(absorb, causal):
    g = torch.Generator().manual_seed(3)
    w = mla_weights(g)
    x = torch.randn(2, 8, 24, generator=g, dtype=torch.float64)
    out = variants.mla_attention(x, w, 3, absorb=absorb, causal=causal)
    torch.testing.assert_close(out, mla_by_the_equations(x, w, 3, causal), rtol=0, atol=1e-12)


def test_mla_absorbed_equals_explicit_in_fp32_and_caches_only_the_latent():
    g = torch.Generator().manual_seed(4)
    w = {k: v.float() for k, v in mla_weights(g, d_c=10, h=4).items()}
    x = torch.randn(1, 16, 24, generator=g)
    t_explicit, t_absorbed = Trace(), Trace()
    explicit = variants.mla_attention(x, w, 4, trace=t_explicit)
    absorbed = variants.mla_attention(x, w, 4, absorb=True, trace=t_absorbed)
    assert explicit.dtype == torch.float32
    torch.testing.assert_close(absorbed, explicit, rtol=1e-5, atol=1e-5)
    (cache,) = t_absorbed["cache"]
    assert cache["c_kv"].shape == (1, 16, 10) and cache["k_r"].shape == (1, 16, 4)
    assert "keys" not in t_absorbed and t_explicit["keys"][0].shape == (1, 4, 16, 4)


def test_decode_flops_favour_absorption_at_deepseek_v2_shape():
    s = variants.MODEL_SHAPES["DeepSeek-V2"]
    sizes = {"d_c": 512, "d_nope": 128, "d_rope": 64, "d_v": 128, "d_out": s["d_model"]}
    flops = variants.mla_flops(sizes, 128, 1, 4096)
    # explicit: every cached latent up-projected for every head, 2·L·d_c·H·(d_nope + d_v) dominates
    assert flops["explicit"] > 2 * 4096 * 512 * 128 * 256
    assert flops["explicit"] > 50 * flops["absorbed"]


def test_rope_on_the_compressed_key_cannot_be_absorbed_off_the_diagonal():
    g = torch.Generator().manual_seed(5)
    w = mla_weights(g)
    x = torch.randn(1, 6, 24, generator=g, dtype=torch.float64)
    true, attempt = variants.compressed_rope_scores(x, w, 3)
    error = (true - attempt).abs()[0]
    assert error.diagonal(dim1=-2, dim2=-1).max() < 1e-12  # R_(m−m) = I
    assert (error + torch.eye(6) > 1e-3).all()  # m ≠ n: the rotation is lost


@pytest.mark.parametrize(
    "name,kind,expected_kib",
    [("LLaMA-2 7B", "mha", 512), ("LLaMA-2 70B", "gqa", 320), ("DeepSeek-V2", "mla", 67.5)],
)
def test_kv_cache_bytes_of_published_models(name, kind, expected_kib):
    s = variants.MODEL_SHAPES[name]
    size = variants.kv_cache_bytes(
        kind,
        s["n_layers"],
        s["n_heads"],
        s["head_dim"],
        n_kv_heads=s.get("n_kv_heads"),
        kv_latent_dim=s.get("kv_latent_dim"),
        rope_dim=s.get("rope_dim"),
    )
    assert size == expected_kib * 1024


def test_kv_cache_bytes_scales_and_refuses_missing_sizes():
    assert variants.kv_cache_bytes("mqa", 2, 8, 64, seq_len=10, batch_size=3) == 2 * 64 * 2 * 2 * 30
    assert variants.kv_cache_bytes("gqa", 1, 8, 64, n_kv_heads=8) == variants.kv_cache_bytes(
        "mha", 1, 8, 64
    )
    with pytest.raises(ValueError, match="n_kv_heads"):
        variants.kv_cache_bytes("gqa", 1, 8, 64)
    with pytest.raises(ValueError, match="kv_latent_dim"):
        variants.kv_cache_bytes("mla", 1, 8, 64, rope_dim=64)
    with pytest.raises(ValueError, match="kind"):
        variants.kv_cache_bytes("mqa2", 1, 8, 64)
