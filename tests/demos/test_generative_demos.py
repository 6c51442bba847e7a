"""The generative demos (normalizing-flows, flow-matching, sd3) show what their presets claim."""

import math

import numpy as np
import pytest

from demos import flow_matching, normalizing_flows, sd3
from tests.one_thread import one_thread  # noqa: F401


def test_nice_preset_changes_volume_only_in_the_scaling_layer():
    p = normalizing_flows.presets["nice-volume"]
    r = normalizing_flows._train(p)
    assert np.all(r["log_det"][:, :-1] == 0)  # every additive coupling: log|det J| = 0
    assert abs(r["log_det"][0, -1]) > 0.1  # the scaling layer carries the volume change
    assert r["test_nll"][-1] < r["test_nll"][0] - 0.5
    assert r["mass"] == pytest.approx(1.0, abs=0.05)  # most of p's mass lies in the window


def test_layer_slider_beyond_the_flow_shows_the_last_layer():
    p = normalizing_flows.Params(layers=1, steps=10, layer=9, model="realnvp")
    rendered = normalizing_flows.DEMO.render(p)
    assert "coupling 1" in rendered.figures[0].layout.annotations[0].text


def test_reflow_preset_straightens_the_flow_and_one_step_gets_close():
    p = flow_matching.presets["one-step-reflow"]
    r = flow_matching._train(p)
    assert r["S"]["after"] < 0.2 * r["S"]["before"]
    assert r["errors"]["after"][1] < 0.3 * r["errors"]["before"][1]
    for key in ("before", "after"):  # Euler converges to each model's own ODE endpoint
        assert r["errors"][key][32] < r["errors"][key][4] < r["errors"][key][1]


def test_sd3_qk_preset_logits_explode_only_without_qk_norm():
    sweep = sd3.qk_sweep(0)
    assert sweep[False][0][-1] > 1e6 and sweep[True][0].max() <= math.sqrt(sd3.WIDTH)
    assert sweep[False][1][-1] < 0.1 < sweep[True][1][-1]  # entropy collapses without it
    r = sd3.densities(0.0, 1.0, 1.29, 3.0, 0)
    for name in sd3.DENSITIES:  # histograms of 10,000 draws follow the closed forms
        centres = 0.5 * (r["edges"][1:] + r["edges"][:-1])
        curve = np.interp(centres, r["t"], r[name]["curve"])
        inner = slice(3, -3)  # away from the ends, where shifted densities are steep
        assert np.abs(r[name]["hist"][inner] - curve[inner]).max() < 0.25 * curve[inner].max()
