"""The llama-blocks demo: each figure's claim checked on its data against torch or a closed form."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from demos import llama_blocks as demo
from demos.base import ParamsError

DEMO = demo.DEMO


def test_layernorm_drops_the_shift_rmsnorm_keeps_it_and_both_sit_at_radius_sqrt_d():
    n = demo._norms(2.0, 3.0, 0)
    plain = demo._norms(0.0, 1.0, 0)
    np.testing.assert_allclose(np.linalg.norm(n["ln3"], axis=1), np.sqrt(3), rtol=1e-5)
    np.testing.assert_allclose(n["ln3"].sum(axis=1), 0, atol=1e-9)  # in the plane ⊥ 1
    np.testing.assert_allclose(np.linalg.norm(n["rms64"], axis=1), 8, rtol=1e-5)
    x = torch.from_numpy(n["x64"])
    expected = F.rms_norm(x, (64,), eps=1e-6).numpy()
    np.testing.assert_allclose(n["rms64"], expected, atol=1e-12)
    assert n["rms64"].mean() > 0.4 and abs(plain["rms64"].mean()) < 0.05  # RMSNorm keeps the mean


def test_ffn_parameter_bars_are_8d2_for_4d_gelu_and_8d3_swiglu():
    bars = DEMO.render(demo.presets["swiglu-8d3"]).figures[1].data[3]
    np.testing.assert_allclose(bars.x[:2], [8, 8])
    np.testing.assert_allclose(bars.x[2], 3 * 11008 / 4096)
    np.testing.assert_allclose(bars.x[3], 3 * 28672 / 8192)


def test_rope_map_is_constant_along_diagonals_and_absolute_is_not():
    maps = demo._rope_maps(16, 10000.0, 64, 0)
    assert maps["rope_spread"] < 1e-10
    assert maps["absolute_spread"] > 0.5


def test_decay_bound_matches_its_sum_at_distance_zero_and_falls():
    bound = demo.decay_bound(64, 10000.0, np.array([0, 1, 100, 10000]))
    assert bound[0] == pytest.approx((32 + 1) / 2)  # (2/d)·Σ_j j for j = 1 … d/2
    assert bound[-1] < 0.3 * bound[0]


def test_post_norm_stream_stays_at_sqrt_d_pre_norm_stream_grows():
    stack = demo._stack(64, 16, 12, 0)
    np.testing.assert_allclose(stack["post"]["stream"], 8, rtol=1e-3)  # RMSNorm output, gain 1
    assert np.all(np.diff(stack["pre"]["stream"]) > 0)
    sweep = demo.depth_sweep(0)
    assert sweep["pre"][-1] < 0.5 * sweep["pre"][0]  # Xiong et al.: ~ 1/√L
    assert sweep["post"][-1] > 0.8 * sweep["post"][0]


@pytest.mark.parametrize("values", [{"rope_head_dim": 7}, {"d_model": 12}])
def test_odd_widths_are_refused_in_one_line(values):
    with pytest.raises(ParamsError, match=next(iter(values))):
        DEMO.parse(values)
