"""LLaMA's pieces against PyTorch (F.rms_norm, SDPA, F.silu) and RoPE's closed form."""

import math

import pytest
import torch
import torch.nn.functional as F

from core.llm import blocks
from core.trace import Trace


@pytest.mark.parametrize(
    "dtype,tol",
    [(torch.float64, 1e-12), (torch.float32, 1e-6), (torch.bfloat16, 8e-3), (torch.float16, 1e-3)],
)
def test_rms_norm_matches_torch(dtype, tol):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(3, 5, 16, generator=g, dtype=torch.float64) * 3 + 1).to(dtype)
    weight = torch.randn(16, generator=g, dtype=torch.float64).to(dtype)
    out = blocks.rms_norm(x, weight, eps=1e-6)
    expected = F.rms_norm(x.double(), (16,), weight.double(), eps=1e-6)
    assert out.dtype == dtype
    # bf16/fp16: the result rounded once to the dtype (8 and 11 significant bits), |y| up to ~6
    torch.testing.assert_close(out.double(), expected, rtol=tol, atol=tol)


def test_rms_norm_of_zeros_is_zero_and_eps_dominates_tiny_inputs():
    assert torch.equal(blocks.rms_norm(torch.zeros(2, 4)), torch.zeros(2, 4))
    x = torch.full((1, 4), 1e-6, dtype=torch.float64)
    out = blocks.rms_norm(x, eps=1.0)
    torch.testing.assert_close(out, x / math.sqrt(1.0 + 1e-12), rtol=1e-14, atol=0)
    # ignores scale, not shift (Zhang & Sennrich 2019)
    y = torch.randn(3, 8, dtype=torch.float64)
    torch.testing.assert_close(blocks.rms_norm(5 * y, eps=0), blocks.rms_norm(y, eps=0))
    assert (blocks.rms_norm(y + 3, eps=0) - blocks.rms_norm(y, eps=0)).abs().max() > 0.1


def complex_rope(x, positions, base):
    d = x.shape[-1]
    theta = base ** (-torch.arange(d // 2, dtype=torch.float64) * 2 / d)
    angle = positions.double()[:, None] * theta
    z = torch.complex(x[..., : d // 2], x[..., d // 2 :]) * torch.exp(1j * angle)
    return torch.cat([z.real, z.imag], dim=-1)


@pytest.mark.parametrize("base", [10000.0, 500000.0])
def test_rope_is_a_complex_rotation_of_half_split_pairs(base):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64)
    positions = torch.tensor([0, 1, 2, 5, 9, 100, 4095])
    torch.testing.assert_close(
        blocks.rope(x, positions, base), complex_rope(x, positions, base), rtol=0, atol=1e-12
    )
    x32 = x.float()
    out32 = blocks.rope(x32, positions, base)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), complex_rope(x, positions, base), rtol=0, atol=2e-4)


def test_rope_scores_depend_only_on_the_distance():
    g = torch.Generator().manual_seed(2)
    q, k = (
        torch.randn(1, 16, generator=g, dtype=torch.float64),
        torch.randn(1, 16, generator=g, dtype=torch.float64),
    )
    for m, n, shift in [(3, 1, 7), (0, 9, 50), (12, 12, 1000)]:

        def score(a, b):
            return float(blocks.rope(q, torch.tensor([a])) @ blocks.rope(k, torch.tensor([b])).T)

        assert score(m, n) == pytest.approx(score(m + shift, n + shift), abs=1e-10)
    with pytest.raises(ValueError, match="even"):
        blocks.rope(torch.zeros(2, 3), torch.arange(2))
    with pytest.raises(ValueError, match="integers"):
        blocks.rope(torch.zeros(2, 4), torch.arange(2.0))


def test_swiglu_and_llama_ffn_widths():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, generator=g, dtype=torch.float64)
    w_gate, w_up, w_down = (
        torch.randn(s, generator=g, dtype=torch.float64) for s in ((10, 6), (10, 6), (6, 10))
    )
    a = x @ w_gate.T
    expected = (a * torch.sigmoid(a) * (x @ w_up.T)) @ w_down.T
    torch.testing.assert_close(blocks.swiglu(x, w_gate, w_up, w_down), expected, rtol=0, atol=1e-12)
    assert blocks.llama_ffn_hidden_dim(4096) == 11008
    assert blocks.llama_ffn_hidden_dim(8192, 4096, 1.3) == 28672
    assert blocks.llama_ffn_hidden_dim(96, 1) == 256  # int(2·4·96/3) = 256 = 8d/3: 3·d·h = 8d²


def reference_block(x, w, n_heads, n_kv_heads, norm, eps):
    """F.rms_norm + SDPA(enable_gqa) + F.silu, RoPE by complex rotation."""
    b, n, d_model = x.shape
    head_dim = w["w_q"].shape[0] // n_heads
    positions = torch.arange(n)

    def attn(inp):
        def heads(weight, h):
            return (inp @ weight.T).view(b, n, h, head_dim).transpose(1, 2)

        q = complex_rope(heads(w["w_q"], n_heads).double(), positions, 10000.0).to(x.dtype)
        k = complex_rope(heads(w["w_k"], n_kv_heads).double(), positions, 10000.0).to(x.dtype)
        o = F.scaled_dot_product_attention(
            q, k, heads(w["w_v"], n_kv_heads), is_causal=True, enable_gqa=True
        )
        return o.transpose(1, 2).reshape(b, n, -1) @ w["w_o"].T

    def ffn(inp):
        return (F.silu(inp @ w["w_gate"].T) * (inp @ w["w_up"].T)) @ w["w_down"].T

    def rms(inp, gain):
        return F.rms_norm(inp, (d_model,), gain, eps)

    if norm == "pre":
        h = x + attn(rms(x, w["attn_norm"]))
        return h + ffn(rms(h, w["ffn_norm"]))
    h = rms(x + attn(x), w["attn_norm"])
    return rms(h + ffn(h), w["ffn_norm"])


@pytest.mark.parametrize(
    "dtype,tol,n,norm,eps",
    [
        (torch.float64, 1e-10, 9, "pre", 1e-5),
        (torch.float64, 1e-10, 1, "post", 1e-5),  # one token
        (torch.float32, 1e-5, 6, "post", 1e-5),
        (torch.float32, 1e-5, 5, "pre", 1e3),  # eps dominant: the norms shrink their input
    ],
)
def test_decoder_block_matches_rms_norm_sdpa_silu(dtype, tol, n, norm, eps):
    g = torch.Generator().manual_seed(4)
    d_model, n_heads, n_kv_heads, head_dim = 12, 4, 2, 4  # H·d = 16 ≠ D = 12
    shapes = {
        "w_q": (n_heads * head_dim, d_model),
        "w_k": (n_kv_heads * head_dim, d_model),
        "w_v": (n_kv_heads * head_dim, d_model),
        "w_o": (d_model, n_heads * head_dim),
        "w_gate": (20, d_model),
        "w_up": (20, d_model),
        "w_down": (d_model, 20),
    }
    w = {k: torch.randn(s, generator=g, dtype=dtype) / math.sqrt(s[1]) for k, s in shapes.items()}
    w["attn_norm"] = 1 + 0.1 * torch.randn(d_model, generator=g, dtype=dtype)
    w["ffn_norm"] = 1 + 0.1 * torch.randn(d_model, generator=g, dtype=dtype)
    x = torch.randn(2, n, d_model, generator=g, dtype=dtype)
    trace = Trace()
    out = blocks.decoder_block(x, w, n_heads, n_kv_heads, norm=norm, eps=eps, trace=trace)
    assert out.dtype == dtype
    torch.testing.assert_close(
        out, reference_block(x, w, n_heads, n_kv_heads, norm, eps), rtol=tol, atol=tol
    )
    assert [e["name"] for e in trace["sublayer"]] == ["attention", "ffn"]
    assert len(trace["residual"]) == 2


def test_decoder_block_of_zeros_stays_zero_pre_norm():
    w = blocks.init_block_weights(8, 2, 1, 16, generator=torch.Generator().manual_seed(0))
    out = blocks.decoder_block(torch.zeros(1, 3, 8), w, 2, 1)
    assert torch.equal(out, torch.zeros(1, 3, 8))


def test_bf16_decoder_block_is_fp32_block_at_bf16_rounding():
    g = torch.Generator().manual_seed(5)
    w = blocks.init_block_weights(16, 4, 4, 32, generator=g)
    x = torch.randn(1, 6, 16, generator=g)
    exact = blocks.decoder_block(x, w, 4, 4)
    low = blocks.decoder_block(x.bfloat16(), {k: v.bfloat16() for k, v in w.items()}, 4, 4)
    # every matmul rounds its inputs to 8 significant bits: relative error ~ a few 2^-8
    assert (low.float() - exact).abs().max() < 0.1 * exact.abs().max()


def test_pre_norm_shrinks_the_last_layers_gradient_with_depth_post_norm_does_not():
    """Xiong et al. 2020, Theorem 1: pre-LN's last-layer gradient ~ 1/√L, post-LN's stays."""

    def last_layer_gradient(norm, depth):
        g = torch.Generator().manual_seed(0)
        layers = [blocks.init_block_weights(32, 4, 4, 64, generator=g) for _ in range(depth)]
        x = torch.randn(1, 8, 32, generator=g)
        targets = torch.randint(0, 16, (1, 8), generator=g)
        readout = torch.randn(16, 32, generator=g) / math.sqrt(32)
        trace = Trace()
        blocks.stack_gradients(x, layers, 4, 4, targets, readout, norm=norm, trace=trace)
        return trace.column("layer", "grad_norm")[-1]

    assert last_layer_gradient("pre", 16) < 0.6 * last_layer_gradient("pre", 1)
    assert last_layer_gradient("post", 16) > 0.8 * last_layer_gradient("post", 1)
