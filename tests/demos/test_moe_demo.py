"""The moe demo: its routing is the dense mixture, its bars are the parameter counts."""

import numpy as np
import pytest

from demos import moe as demo

DEMO = demo.DEMO


def test_routed_equals_dense_on_screen_and_capacity_is_respected():
    p = demo.presets["switch-capacity"]
    run = demo._run(p)
    assert run["routed_vs_dense"] < 1e-5  # fp32 sums of the same terms in another order
    assert run["capacity"] == 32  # ⌈1.0·1·256/8⌉
    assert run["kept"].max() <= 32 and run["dropped"].any()
    assert "max |Δ|" in DEMO.render(p).notes


def test_aux_loss_keeps_more_experts_busy_than_no_aux():
    p = demo.presets["no-aux-collapse"]
    off, on = demo._run(p, 0.0), demo._run(p)
    # share of choices of the busiest expert at the end of training
    assert off["load"][-1].max() > on["load"][-1].max()
    assert on["aux"][-1] < off["aux"][-1]


def test_dropped_share_falls_with_capacity_and_top2_drops_no_more_at_zero():
    run = demo._run(demo.Params())
    for values in run["drops"].values():
        assert values[0] == pytest.approx(1.0)  # capacity 0 drops everything
        assert np.all(np.diff(values) <= 1e-12)


def test_parameter_bars_sum_to_published_totals():
    figure = DEMO.render(demo.presets["deepseek-v3"]).figures[4]
    stacked = sum(np.asarray(trace.y[:3], dtype=float) for trace in figure.data[:6])
    np.testing.assert_allclose(stacked[:2], [46.70, 671.03], atol=0.01)
    parts = demo.model_parts(demo.presets["deepseek-v3"])
    # the custom sliders at DeepSeek-V3's MoE shape (GQA attention instead of MLA)
    assert parts["custom"]["active"] == pytest.approx(
        parts["DeepSeek-V3"]["active"] * 61 / 58, rel=1e-9
    )
