"""The dpo demo's stories hold on its own numbers."""

import numpy as np

from demos import dpo as demo


def run(p):
    return demo._run(
        p.k, p.rewards, p.reference, p.log_beta, p.pairs, p.labels, p.loss, p.steps, p.lr, p.seed
    )


def test_exact_preferences_land_on_pi_star_on_both_routes():
    result = run(demo.presets["exact"])
    assert np.abs(result["policies"][-1] - result["star"]).max() < 1e-3
    assert np.abs(result["rlhf"] - result["star"]).max() < 1e-6


def test_always_the_better_label_dpo_runs_past_pi_star_and_ipo_stops_nearer():
    always = demo.presets["always"]
    dpo = run(always)
    ipo = run(always.model_copy(update={"loss": "ipo"}))
    best_dpo, best_ipo, best_star = dpo["policies"][-1][0], ipo["policies"][-1][0], dpo["star"][0]
    assert best_dpo > best_star + 0.05  # mass piles onto the best response beyond π*
    assert best_ipo < best_dpo


def test_few_pairs_give_a_noisier_implicit_reward_than_the_exact_expectation():
    def error(result):
        implicit = result["beta"] * np.log(result["policies"][-1] / result["ref"])
        true = result["rewards"]
        return np.abs((implicit - implicit.mean()) - (true - true.mean())).max()

    assert error(run(demo.presets["few"])) > 5 * error(
        run(demo.presets["few"].model_copy(update={"pairs": 0}))
    )


def test_the_bar_slider_starts_at_the_reference_policy():
    figure = demo.DEMO.render(demo.presets["few"]).figures[1]
    first = figure.layout.sliders[0].steps[0].args[0]["y"][0]
    np.testing.assert_allclose(first, figure.data[0].y)
