"""SD3's pieces against SciPy and PyTorch: timestep densities, the shift, SNR, QK-norm, and
joint attention with shared weights as one nn.MultiheadAttention over the concatenation."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, optimize, stats

from core.generative import sd3
from tests.one_thread import one_thread  # noqa: F401

F64 = torch.float64


def density_np(fn):
    return lambda t: float(fn(torch.tensor([t], dtype=F64))[0])


@pytest.mark.parametrize(("m", "s"), [(0.0, 1.0), (-0.7, 0.4), (1.2, 2.0)])
def test_logit_normal_density_is_scipys_normal_through_the_logit(m, s):
    t = torch.linspace(0.001, 0.999, 101, dtype=F64)
    logit = np.log(t.numpy() / (1 - t.numpy()))
    expected = stats.norm(m, s).pdf(logit) / (t.numpy() * (1 - t.numpy()))
    np.testing.assert_allclose(sd3.logit_normal_density(t, m, s).numpy(), expected, rtol=1e-12)
    draws = sd3.logit_normal_sample(5000, m, s, seed=1).numpy()
    cdf = lambda x: stats.norm(m, s).cdf(np.log(x / (1 - x)))  # noqa: E731
    assert stats.kstest(draws, cdf).pvalue > 1e-3


# at s = 2/(π − 2) itself f'(½) = 0 and the density has a pole: stay just inside
@pytest.mark.parametrize("s", [-1.0, 0.0, 1.29, 1.7])
def test_mode_density_is_the_derivative_of_its_cdf(s):
    # P(T ≤ t) = P(u ≥ f⁻¹(t)) = 1 − f⁻¹(t); f⁻¹ by SciPy's root finder, derivative by differences
    def inverse(t):
        return optimize.brentq(
            lambda u: float(sd3.mode_map(torch.tensor(u, dtype=F64), s)) - t, 0, 1, xtol=1e-14
        )

    ts = np.linspace(0.02, 0.98, 25)
    h = 1e-5
    expected = [(inverse(t - h) - inverse(t + h)) / (2 * h) for t in ts]
    got = sd3.mode_density(torch.tensor(ts, dtype=F64), s).numpy()
    np.testing.assert_allclose(
        got, expected, rtol=1e-4
    )  # central differences, h = 1e-5, near a steep peak
    mass, _ = integrate.quad(density_np(lambda t: sd3.mode_density(t, s)), 0, 1, limit=200)
    assert mass == pytest.approx(1.0, abs=1e-6)
    draws = sd3.mode_sample(150, s, seed=2).numpy()  # each CDF value costs a root search
    assert (
        stats.kstest(draws, lambda x: 1 - np.array([inverse(v) for v in np.atleast_1d(x)])).pvalue
        > 1e-3
    )


def test_mode_s_outside_the_monotone_range_is_refused():
    with pytest.raises(ValueError, match="s: mode sampling"):
        sd3.mode_density(torch.tensor([0.5]), 1.8)


@pytest.mark.parametrize("alpha", [1.0, 3.0, 5.5])
def test_cosmap_and_shifted_densities_integrate_to_one_and_match_their_samples(alpha):
    for density, sample in (
        (sd3.cosmap_density, sd3.cosmap_sample),
        (
            lambda t: sd3.logit_normal_density(t, 0.0, 1.0),
            lambda n, seed: sd3.logit_normal_sample(n, 0, 1, seed),
        ),
    ):
        shifted = density_np(lambda t, density=density: sd3.shifted_density(density, t, alpha))
        mass, _ = integrate.quad(shifted, 0, 1, limit=200)
        assert mass == pytest.approx(1.0, abs=1e-7)
        draws = sd3.shift_timestep(sample(150, seed=3), alpha).numpy()  # a quad per CDF value
        cdf = np.vectorize(lambda x, f=shifted: integrate.quad(f, 0, x, limit=200)[0])
        assert stats.kstest(draws, cdf).pvalue > 1e-3


def test_shift_snr_and_weight_closed_forms():
    t = torch.tensor([0.25, 0.5, 0.75], dtype=F64)
    torch.testing.assert_close(
        sd3.shift_timestep(t, 3.0), torch.tensor([0.5, 0.75, 0.9], dtype=F64)
    )
    torch.testing.assert_close(sd3.shift_timestep(t, 1.0), t)
    torch.testing.assert_close(
        sd3.rectified_flow_snr(t), torch.tensor([9.0, 1.0, 1 / 9], dtype=F64)
    )
    torch.testing.assert_close(
        sd3.rectified_flow_eps_weight(t), torch.tensor([1 / 3, 1.0, 3.0], dtype=F64)
    )


def test_qk_norm_logits_is_f_rms_norm_and_bounded():
    g = torch.Generator().manual_seed(0)
    q, k = (1e3 * torch.randn(2, 5, 16, generator=g, dtype=F64) for _ in range(2))
    qg, kg = (
        torch.rand(16, generator=g, dtype=F64) + 0.5,
        torch.rand(16, generator=g, dtype=F64) + 0.5,
    )
    expected = F.rms_norm(q, (16,), qg, 1e-6) @ F.rms_norm(k, (16,), kg, 1e-6).transpose(-1, -2) / 4
    torch.testing.assert_close(sd3.qk_norm_logits(q, k, qg, kg), expected, rtol=1e-12, atol=1e-12)
    ones = torch.ones(16, dtype=F64)
    assert sd3.qk_norm_logits(q, k, ones, ones).abs().max() <= 4.0 + 1e-9  # √d
    max_logit, _ = sd3.logit_growth(q[0], torch.eye(16, dtype=F64), torch.eye(16, dtype=F64),
                                          torch.tensor([1.0, 10.0]), qk_norm=False)  # fmt: skip
    assert max_logit[1] == pytest.approx(100 * max_logit[0])  # logits grow as the scale²


@pytest.mark.parametrize("heads", [1, 4])
def test_joint_attention_with_shared_weights_is_multihead_attention(heads):
    d, g = 16, torch.Generator().manual_seed(1)
    w = {n: torch.randn(d, d, generator=g, dtype=F64) / 4 for n in "qkvo"}
    w["q_norm"] = w["k_norm"] = torch.ones(d // heads, dtype=F64)
    txt, img = (
        torch.randn(2, 3, d, generator=g, dtype=F64),
        torch.randn(2, 7, d, generator=g, dtype=F64),
    )
    mha = torch.nn.MultiheadAttention(d, heads, bias=False, batch_first=True, dtype=F64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([w["q"], w["k"], w["v"]]))
        mha.out_proj.weight.copy_(w["o"])
    both = torch.cat([txt, img], 1)
    expected, _ = mha(both, both, both, need_weights=False)
    txt_out, img_out = sd3.joint_attention(txt, img, w, w, heads, qk_norm=False)
    torch.testing.assert_close(torch.cat([txt_out, img_out], 1), expected, rtol=1e-10, atol=1e-12)


def test_joint_attention_qk_norm_uses_each_modalitys_gains():
    d, heads, g = 8, 2, torch.Generator().manual_seed(2)
    weights = []
    for _ in range(2):
        w = {n: torch.randn(d, d, generator=g, dtype=F64) for n in "qkvo"}
        w["q_norm"], w["k_norm"] = (
            torch.rand(4, generator=g, dtype=F64),
            torch.rand(4, generator=g, dtype=F64),
        )
        weights.append(w)
    txt, img = (
        torch.randn(1, 2, d, generator=g, dtype=F64),
        torch.randn(1, 3, d, generator=g, dtype=F64),
    )
    txt_out, img_out, attention = sd3.joint_attention(
        txt, img, *weights, heads, return_weights=True
    )

    def split(x, w, name):  # (1, N, d) -> (1, H, N, d/H), RMS-normalised with the modality's gain
        h = (x @ w[name].T).reshape(1, -1, heads, 4).transpose(1, 2)
        return F.rms_norm(h, (4,), w[f"{name}_norm"], 1e-6) if name in "qk" else h

    q = torch.cat([split(txt, weights[0], "q"), split(img, weights[1], "q")], 2)
    k = torch.cat([split(txt, weights[0], "k"), split(img, weights[1], "k")], 2)
    v = torch.cat([split(txt, weights[0], "v"), split(img, weights[1], "v")], 2)
    out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(1, 5, d)
    torch.testing.assert_close(txt_out, out[:, :2] @ weights[0]["o"].T)
    torch.testing.assert_close(img_out, out[:, 2:] @ weights[1]["o"].T)
    torch.testing.assert_close(attention.sum(-1), torch.ones(1, heads, 5, dtype=F64))
    assert math.isfinite(float(attention.max()))
