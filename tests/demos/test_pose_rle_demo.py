"""The pose-rle demo's figures hold their stories on its own numbers, against closed forms
(stride/√12, the Gaussian and Laplace MLEs) and scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from demos import pose_rle as demo

STRIDES = demo.INPUT / np.asarray(demo.RESOLUTIONS)


def fit(p):
    return demo._fit(p.law, p.outliers, p.samples, p.flow_steps, p.couplings, p.seed)


def test_argmax_floor_is_stride_over_root_12_and_the_shift_halves_it():
    sweep = demo._resolution_sweep(2.0, 20.0, 0.0, 0)
    # 96 points × 2 axes: the RMS of a uniform error has a relative spread of ~3 %; 12 % is 4σ.
    np.testing.assert_allclose(sweep["argmax"], STRIDES / np.sqrt(12), rtol=0.12)
    # σ = 2 cells: both neighbours always tell the side, so the error is uniform over ±¼ cell.
    np.testing.assert_allclose(sweep["shift"], STRIDES / np.sqrt(48), rtol=0.12)
    assert (sweep["soft"] < 0.3 * sweep["argmax"]).all()  # no noise: sub-cell everywhere


def test_background_noise_pulls_soft_argmax_to_the_centre_and_beta_trades_it_for_noise():
    p = demo.presets["background"]
    sweep = demo._beta_sweep(p.resolution, p.sigma, p.noise, p.seed)
    rms, pull = sweep["rms"], sweep["pull"]
    assert pull[0] > 20 and rms[0] > 20  # small β: the background wins, pulled by tens of px
    best = int(np.argmin(rms))
    assert 0 < best < len(rms) - 1  # a U: the best β is inside the range
    assert rms[-1] > 1.5 * rms[best]  # large β follows the noise, towards argmax's error
    assert rms[-1] == pytest.approx(sweep["argmax"], rel=0.25)
    text = demo.DEMO.render(p).notes
    soft_error = float(text.split("\n")[5].split("|")[-2])
    assert soft_error > 10  # the single keypoint of figure 1 is dragged too


def test_coarse_heatmap_preset_errors_reach_the_stride():
    notes = demo.DEMO.render(demo.presets["coarse"]).notes.split("\n")
    argmax_error = float(notes[3].split("|")[-2])
    assert 16 / np.sqrt(12) / 3 < argmax_error <= 16 / np.sqrt(2) + 1e-9  # within half a cell


def test_gaussian_and_laplace_fits_are_the_closed_form_mles_and_scipy_agrees():
    p = demo.Params(law="laplace", outliers=0.0, samples=256, flow_steps=0, seed=4)
    result = fit(p)
    train, test = result["train"], result["test"]
    np.testing.assert_allclose(result["sigma"], np.sqrt((train**2).mean(0)), rtol=1e-12)
    np.testing.assert_allclose(result["b"], np.abs(train).mean(0), rtol=1e-12)
    gaussian = -stats.norm(0, result["sigma"]).logpdf(test).sum(-1).mean()
    laplace = -stats.laplace(0, result["b"]).logpdf(test).sum(-1).mean()
    assert result["held_out"]["gaussian"] == pytest.approx(gaussian, rel=1e-10)
    assert result["held_out"]["laplace"] == pytest.approx(laplace, rel=1e-10)
    assert laplace < gaussian  # Laplace data: L1's likelihood fits it better
    # the minimisers of the total losses: the mean and the median
    assert result["minimisers"]["gaussian"] == pytest.approx(test[:, 0].mean())
    assert result["minimisers"]["laplace"] == pytest.approx(np.median(test[:, 0]))


def test_outliers_pull_l2_while_the_flow_stays_at_the_truth():
    result = fit(demo.presets["outliers"])
    low = result["minimisers"]
    assert low["gaussian"] > 1.5  # 30 % of annotations 4–12 px to the right
    assert abs(low["flow"]) < 0.3 < low["laplace"] < low["gaussian"]
    held = result["held_out"]
    assert held["flow"] < held["laplace"] < held["gaussian"]


def test_two_modes_only_the_flow_sees_them():
    result = fit(demo.presets["two_modes"])
    held = result["held_out"]
    assert held["flow"] < min(held["gaussian"], held["laplace"]) - 0.3
    # the flow's x-marginal has a dip between the modes at 0 and SWAP; a Laplace has none
    xs, marginal = result["xs"], result["marginals"]["flow"]
    between = marginal[np.argmin(np.abs(xs - demo.SWAP / 2))]
    assert between < marginal[np.argmin(np.abs(xs - demo.SWAP))] - 0.5
    assert abs(result["minimisers"]["flow"]) < 0.3


def test_flow_marginal_is_a_density_and_training_lowers_its_nll():
    result = fit(demo.Params())
    xs, marginal = result["xs"], np.exp(result["marginals"]["flow"])
    # the x-window holds all but the far tails (outliers end at 12 px < 14)
    assert marginal.sum() * (xs[1] - xs[0]) == pytest.approx(1.0, abs=0.03)
    curve = result["flow_nll"]
    assert len(curve) == demo.Params().flow_steps and curve[-1] < curve[0] - 0.5


def test_untrained_flow_renders():
    rendered = demo.DEMO.render(demo.Params(flow_steps=0, samples=64, couplings=1))
    assert len(rendered.figures) == demo.DEMO.figures
