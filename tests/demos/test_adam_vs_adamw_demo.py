"""The adam-vs-adamw demo: its surfaces are what they claim, its fast path is the contract's
autograd path, and each preset shows what its title says."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from core.optim.adam import adam_trajectory
from core.trace import Trace
from demos import adam_vs_adamw as demo

KAPPA = 50.0
TORCH_LOSSES = {  # the surfaces written again in torch, for autograd
    "ill_conditioned": lambda t: 0.5 * ((t[0] - 1) ** 2 + KAPPA * (t[1] - 1) ** 2),
    "rosenbrock": lambda t: (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2,
    "far_minimum": lambda t: 0.5 * (0.25 * (t[0] - 4) ** 2 + (t[1] - 3) ** 2),
}


@pytest.mark.parametrize("name", list(TORCH_LOSSES))
def test_surface_gradient_and_hessian_match_autograd(name):
    surface = demo.surface(name, KAPPA)
    reference = TORCH_LOSSES[name]
    points = np.random.default_rng(0).uniform(-2.5, 2.5, size=(20, 2))
    for point in points:
        theta = torch.tensor(point, dtype=torch.float64)
        assert surface.loss(point) == pytest.approx(reference(theta).item(), rel=1e-14)
        np.testing.assert_allclose(
            surface.gradient(point),
            torch.func.grad(reference)(theta).numpy(),
            rtol=1e-13,
            atol=1e-12,
        )
        np.testing.assert_allclose(
            surface.hessian(point),
            torch.autograd.functional.hessian(reference, theta).numpy(),
            rtol=1e-13,
            atol=1e-12,
        )
    batched = surface.gradient(points.reshape(4, 5, 2))  # any leading shape
    np.testing.assert_array_equal(
        batched.reshape(20, 2), np.stack([surface.gradient(p) for p in points])
    )
    assert surface.loss(np.array(surface.minimum)) == 0.0


@pytest.mark.parametrize("name", list(TORCH_LOSSES))
@pytest.mark.parametrize("weight_decay", [0.0, 0.1, 0.5, 2.0])
def test_l2_minimum_is_the_minimiser_of_the_regularised_loss(name, weight_decay):
    surface = demo.surface(name, KAPPA)

    def objective(theta):
        value = surface.loss(theta) + 0.5 * weight_decay * theta @ theta
        return value, surface.gradient(theta) + weight_decay * theta

    expected = minimize(objective, np.array(surface.minimum), jac=True, method="BFGS", tol=1e-12)
    np.testing.assert_allclose(demo.l2_minimum(surface, weight_decay), expected.x, atol=1e-6)


@pytest.mark.parametrize("name", list(TORCH_LOSSES))
def test_the_demo_path_is_the_contract_path_with_autograd(name):
    p = demo.Params(surface=name, steps=200, weight_decay=0.3, condition=KAPPA, beta1=0.8)
    path = demo._run(p, demo.surface(name, KAPPA), Trace())
    for run, decoupled in enumerate([False, True]):
        expected = adam_trajectory(
            TORCH_LOSSES[name],
            torch.tensor(demo.surface(name, KAPPA).start, dtype=torch.float64),
            steps=200,
            lr=p.lr,
            betas=(p.beta1, p.beta2),
            eps=demo.EPS,
            weight_decay=0.3,
            decoupled=decoupled,
        )
        np.testing.assert_allclose(path[:, run], expected.numpy(), rtol=0, atol=1e-12)


def end_points(rendered):
    return {
        trace.name: np.array([trace.x[0], trace.y[0]])
        for trace in rendered.figures[0].data
        if trace.type == "scatter" and trace.marker.size == 13
    }


def decay_curves(rendered):
    return {trace.name: np.asarray(trace.y, dtype=float) for trace in rendered.figures[1].data}


def test_l2_preset_spares_the_steep_coordinate_and_lands_on_the_l2_minimum():
    p = demo.presets["L2 spares the steep coordinate"]
    rendered = demo.render(p)
    curves = decay_curves(rendered)
    steep, flat = curves["Adam + L2, θ₂"], curves["Adam + L2, θ₁"]
    uniform = curves["AdamW, θ₁ and θ₂: ηλ"]
    assert np.all(uniform == np.float32(p.lr * p.weight_decay))
    assert np.all(steep < uniform / 10)  # √v̂ of the steep coordinate is large all along
    assert np.all(steep < flat)
    ends = end_points(rendered)
    target = demo.l2_minimum(demo.surface(p.surface, p.condition), p.weight_decay)
    assert np.abs(ends["Adam + L2"] - target).max() < 1e-4
    adamw = ends["AdamW"]
    assert abs(adamw[1] - 1.0) > 10 * abs(target[1] - 1.0)  # AdamW shrinks θ₂ as well


def test_no_weight_decay_preset_gives_identical_trajectories():
    rendered = demo.render(demo.presets["No weight decay: the same algorithm"])
    paths = [
        t for t in rendered.figures[0].data if t.type == "scatter" and t.mode == "lines+markers"
    ]
    adam, adamw = paths
    assert np.array_equal(adam.x, adamw.x) and np.array_equal(adam.y, adamw.y)
    assert "Largest gap between the two trajectories: 0 " in rendered.notes
    assert all(np.all(y == 0) for y in decay_curves(rendered).values())
    assert rendered.figures[1].layout.yaxis.type == "linear"


def test_far_minimum_preset_ends_apart_and_adamw_creeps_on_without_noise():
    p = demo.presets["Minimum far from the origin"]
    ends = end_points(demo.render(p))
    assert np.linalg.norm(ends["Adam + L2"] - ends["AdamW"]) > 0.3
    longer = end_points(demo.render(p.model_copy(update={"steps": 3000})))
    minimum = np.array(demo.surface(p.surface, p.condition).minimum)
    assert np.linalg.norm(longer["AdamW"] - minimum) < np.linalg.norm(ends["AdamW"] - minimum)
    np.testing.assert_allclose(longer["Adam + L2"], ends["Adam + L2"], atol=1e-6)  # settled


def test_noisy_preset_pulls_adamw_harder_and_shrinks_l2_decay():
    p = demo.presets["Noisy gradients: where AdamW settles"]
    rendered = demo.render(p)
    ends = end_points(rendered)
    assert np.linalg.norm(ends["AdamW"]) < np.linalg.norm(ends["Adam + L2"]) - 0.3
    curves = decay_curves(rendered)
    late = slice(-40, None)
    assert curves["Adam + L2, θ₁"][late].max() < curves["AdamW, θ₁ and θ₂: ηλ"][0]


def test_noise_is_seeded_and_shared_by_both_optimisers():
    p = demo.Params(gradient_noise=1.0, weight_decay=0.0, steps=50)
    first, again = demo.render(p), demo.render(p)
    assert first.notes == again.notes
    assert "0 (λ = 0" in first.notes  # the same draws for both: still one algorithm
    other = demo.render(p.model_copy(update={"seed": 1}))
    assert other.notes != first.notes


def test_chinese_render_labels_figures_and_table_in_chinese():
    rendered = demo.DEMO.render(lang="zh")
    assert "优化器" in rendered.notes
    assert "有效权重衰减" in rendered.figures[1].layout.title.text
