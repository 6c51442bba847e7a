"""The stochastic-approximation demo tells its stories: each preset's claim, checked on its data."""

import re

import numpy as np
import pytest
import torch

from demos import stochastic_approximation as demo


def rows(rendered):
    """The notes table: schedule label -> its cells."""
    lines = [line for line in rendered.notes.splitlines() if line.startswith("| ")][1:]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.split("|")[1:-1]] for line in lines)}  # fmt: skip


def error_curves(rendered):
    """Schedule legend label -> (k, RMS error) from the log-log figure."""
    return {
        trace.name: (np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float))
        for trace in rendered.figures[1].data
    }


def slope(k, error, first):
    keep = (k >= first) & np.isfinite(error)
    return np.polyfit(np.log(k[keep]), np.log(error[keep]), 1)[0]


def test_incremental_mean_preset_shows_the_a_over_k_run_is_the_sample_mean():
    rendered = demo.render(demo.presets["Incremental mean is the sample mean"])
    gap = float(re.search(r"/k\| = ([0-9.e+-]+)", rendered.notes).group(1))
    rule = float(re.search(r"cumsum/k: ([0-9.e+-]+)\.", rendered.notes).group(1))
    assert gap < 1e-12 and rule < 1e-12
    curves = error_curves(rendered)
    k, error = curves["a/k: a_k = 1/k"]
    # 200 runs of the sample mean of k N(1, 1) samples: RMS error σ/√k, within sampling error
    np.testing.assert_allclose(error[k >= 10], 1 / np.sqrt(k[k >= 10]), rtol=0.25)


def test_incremental_mean_note_says_when_a_is_not_1():
    rendered = demo.render(demo.Params(problem="mean", a=0.5, schedules=["harmonic"]))
    assert "only a = 1 gives the sample mean" in rendered.notes


def test_constant_step_preset_flattens_while_a_over_k_keeps_falling():
    rendered = demo.render(demo.presets["Constant step never settles"])
    curves = error_curves(rendered)
    (harmonic,) = [v for name, v in curves.items() if name.startswith("a/k:")]
    (constant,) = [v for name, v in curves.items() if name.startswith("constant")]
    assert slope(*harmonic, first=100) == pytest.approx(-0.5, abs=0.1)
    assert abs(slope(*constant, first=100)) < 0.1
    table = rows(rendered)
    assert table["constant step"][2] == "**no**"  # Σa_k² < ∞ fails
    assert float(table["constant step"][-1]) == pytest.approx(0.0, abs=0.1)


def test_step_too_small_preset_stops_short_of_the_root():
    p = demo.presets["Step too small stops short"]
    rendered = demo.render(p)
    panels = [t for t in rendered.figures[0].data if t.name == "median"]
    harmonic_end, fast_end = (float(np.asarray(t.y)[-1]) for t in panels)
    assert abs(harmonic_end - demo.ROOT) < 0.1
    # Σ_k 1/k² = π²/6 and |g| ≤ 2: without noise the iterate moves at most 2·π²/6 ≈ 3.3 < 7
    assert fast_end < demo.ROOT - 3.0
    assert rows(rendered)["a/k^q, q > 1 (too fast)"][1] == "**no**"  # Σa_k = ∞ fails


def test_sgd_preset_converges_at_the_robbins_monro_rate():
    rendered = demo.render(demo.presets["SGD is stochastic approximation"])
    curves = error_curves(rendered)
    (harmonic,) = [v for name, v in curves.items() if name.startswith("a/k:")]
    assert slope(*harmonic, first=100) == pytest.approx(-0.5, abs=0.12)


@pytest.mark.parametrize("problem", ["mean", "nonlinear", "least_squares"])
def test_root_view_observations_scatter_around_g(problem):
    p = demo.Params(problem=problem, schedules=["harmonic"], noise_std=1.0, steps=400)
    observations, _curve = demo.render(p).figures[2].data
    w, y = np.asarray(observations.x), np.asarray(observations.y)
    noise = y - demo._g(problem)(torch.from_numpy(w)).numpy()
    assert abs(noise.mean()) < 4 * noise.std() / np.sqrt(noise.size)
    assert noise.std() == pytest.approx(1.0, rel=0.2)  # least squares: x·ε with E[x²] = 1


def test_one_panel_per_chosen_schedule_in_catalogue_order():
    rendered = demo.render(demo.Params(schedules=["fast", "harmonic", "fast"]))
    titles = [a.text for a in rendered.figures[0].layout.annotations]
    assert len(titles) == 2 and titles[0].startswith("<b>a/k</b>")
    assert len(rows(rendered)) == 2


def test_no_noise_draws_no_reference_line_and_reaches_the_root_exactly_enough():
    rendered = demo.render(demo.Params(noise_std=0.0, schedules=["harmonic", "fast"]))
    names = [trace.name for trace in rendered.figures[1].data]
    assert not any("σ/√k" in name for name in names)
    assert float(rows(rendered)["a/k"][4]) < 1e-3


def test_chinese_render_labels_figures_and_table_in_chinese():
    rendered = demo.render(demo.Params(problem="mean"), lang="zh")
    assert "步长序列" in rendered.notes and "样本均值" in rendered.notes
    assert "运行" in rendered.figures[0].layout.title.text


@pytest.mark.parametrize("a,says", [(1.0, "> ½, so the error falls like 1/√k"), (0.2, "≤ ½")])
def test_note_tells_whether_the_gain_reaches_the_one_over_sqrt_k_rate(a, says):
    assert says in demo.render(demo.Params(a=a, steps=50)).notes
