"""core.optim.adam against torch.optim.Adam(weight_decay=…) and torch.optim.AdamW, step for step.

Everything runs in float64. The loop follows torch's order of floating-point operations, so
the two agree to rounding (observed: ≤ 2e-15); the tolerance 1e-12 leaves room for a
different BLAS or vector width, not for a different algorithm (one step with L2 and
decoupled decay swapped already differs by ~1e-3).
"""

import math

import numpy as np
import pytest
import torch

from core.optim.adam import adam_steps, adam_trajectory
from core.trace import Trace

TOL = 1e-12
DTYPE = torch.float64


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def ill_conditioned(x):
    return 0.5 * (x[0] - 1) ** 2 + 25.0 * (x[1] - 2) ** 2


_DATA = torch.Generator().manual_seed(0)
FEATURES = torch.randn(32, 5, generator=_DATA, dtype=DTYPE)
LABELS = (torch.rand(32, generator=_DATA, dtype=DTYPE) > 0.5).to(DTYPE)


def logistic(x):
    # A 5-parameter logistic regression on fixed data: smooth, convex, not quadratic.
    return torch.nn.functional.binary_cross_entropy_with_logits(FEATURES @ x, LABELS)


def quartic(x):
    return (x**4).sum() - (x**2).sum() + 0.3 * x.sum()


LOSSES = {
    "rosenbrock": (rosenbrock, [-1.5, 2.0]),
    "ill_conditioned": (ill_conditioned, [-2.0, -1.0]),
    "logistic": (logistic, [0.5, -0.3, 0.0, 1.0, -1.0]),
    "quartic": (quartic, [1.5, -0.2, 0.7]),
}
SETTINGS = [
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.1, "weight_decay": 0.0, "betas": (0.3, 0.99)},  # β1 < 0.5: lerp's other form
    {"lr": 0.05, "weight_decay": 1.0, "eps": 1e-3},
    {"lr": 0.003, "weight_decay": 0.02, "betas": (0.0, 0.9)},  # no momentum
    {"lr": 0.2, "weight_decay": 5.0, "betas": (0.95, 0.9999)},
]


def torch_reference(loss_fn, x0, steps, decoupled, **settings):
    """Iterates of torch.optim.Adam / AdamW, one row per step."""
    theta = torch.nn.Parameter(torch.tensor(x0, dtype=DTYPE))
    optimiser = (torch.optim.AdamW if decoupled else torch.optim.Adam)([theta], **settings)
    rows = [theta.detach().clone()]
    states = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss_fn(theta).backward()
        optimiser.step()
        rows.append(theta.detach().clone())
        state = optimiser.state[theta]
        states.append((state["exp_avg"].clone(), state["exp_avg_sq"].clone()))
    return torch.stack(rows), states


# Every loss with two settings, every setting with one or two losses: 16 runs in all.
CASES = [(loss, (i + shift) % len(SETTINGS)) for i, loss in enumerate(LOSSES) for shift in (0, 2)]
STEPS = 100


@pytest.mark.parametrize("decoupled", [False, True], ids=["adam_l2", "adamw"])
@pytest.mark.parametrize("loss,setting", CASES)
def test_trajectory_equals_torch_optim_step_for_step(loss, setting, decoupled):
    loss_fn, x0 = LOSSES[loss]
    settings = SETTINGS[setting]
    expected, _ = torch_reference(loss_fn, x0, STEPS, decoupled, **settings)
    path = adam_trajectory(
        loss_fn, torch.tensor(x0, dtype=DTYPE), steps=STEPS, decoupled=decoupled, **settings
    )
    assert path.shape == (STEPS + 1, len(x0)) and path.dtype == DTYPE
    torch.testing.assert_close(path, expected, rtol=0, atol=TOL)


def test_l2_and_decoupled_decay_are_different_algorithms():
    x0 = torch.tensor([-1.5, 2.0], dtype=DTYPE)
    adam = adam_trajectory(rosenbrock, x0, steps=5, lr=0.01, weight_decay=0.5)
    adamw = adam_trajectory(rosenbrock, x0, steps=5, lr=0.01, weight_decay=0.5, decoupled=True)
    assert (adam - adamw).abs().max() > 1e-4
    same = adam_trajectory(rosenbrock, x0, steps=5, lr=0.01, decoupled=True)  # λ = 0
    assert torch.equal(same, adam_trajectory(rosenbrock, x0, steps=5, lr=0.01))


@pytest.mark.parametrize("decoupled", [False, True])
def test_traced_moments_are_torch_states_bias_corrected(decoupled):
    settings = {"lr": 0.02, "weight_decay": 0.3, "betas": (0.8, 0.95)}
    loss_fn, x0 = LOSSES["quartic"]
    expected, states = torch_reference(loss_fn, x0, 60, decoupled, **settings)
    trace = Trace()
    path = adam_trajectory(
        loss_fn,
        torch.tensor(x0, dtype=DTYPE),
        steps=60,
        decoupled=decoupled,
        trace=trace,
        **settings,
    )
    history = trace["adam"][0]
    t = torch.arange(1, 61, dtype=DTYPE)[:, None]
    m = torch.stack([s[0] for s in states])
    v = torch.stack([s[1] for s in states])
    torch.testing.assert_close(history["m_hat"], m / (1 - 0.8**t), rtol=1e-13, atol=TOL)
    torch.testing.assert_close(history["v_hat"], v / (1 - 0.95**t), rtol=1e-13, atol=TOL)
    # the recorded step is the Adam update; AdamW's decay comes on top of it
    before_step = path[:-1] * (1 - 0.02 * 0.3) if decoupled else path[:-1]
    torch.testing.assert_close(path[1:] - before_step, history["step"], rtol=0, atol=TOL)
    torch.testing.assert_close(path, expected, rtol=0, atol=TOL)


def test_effective_decay_of_adamw_is_lr_times_weight_decay_for_every_coordinate():
    trace = Trace()
    adam_trajectory(quartic, torch.tensor([1.5, -0.2, 0.7], dtype=DTYPE), steps=40, lr=0.05,
                    weight_decay=0.4, decoupled=True, trace=trace)  # fmt: skip
    assert torch.all(trace["adam"][0]["effective_decay"] == 0.05 * 0.4)


def test_effective_decay_of_adam_l2_is_the_decay_part_of_the_step_without_momentum():
    # β1 = 0: m̂ = g + λθ, so the step splits exactly into −η·g/(√v̂+ε) − c·θ with
    # c = ηλ/(√v̂+ε).
    lr, lam, eps = 0.01, 0.7, 1e-8
    x0 = torch.tensor([-1.5, 2.0], dtype=DTYPE)
    trace = Trace()
    path = adam_trajectory(rosenbrock, x0, steps=50, lr=lr, betas=(0.0, 0.99), eps=eps,
                           weight_decay=lam, trace=trace)  # fmt: skip
    history = trace["adam"][0]
    denom = history["v_hat"].sqrt() + eps
    loss_gradient = torch.stack([torch.func.grad(rosenbrock)(theta) for theta in path[:-1]])
    c = history["effective_decay"]
    torch.testing.assert_close(c, lr * lam / denom, rtol=1e-14, atol=0)
    split = -lr * loss_gradient / denom - c * path[:-1]
    torch.testing.assert_close(history["step"], split, rtol=1e-10, atol=1e-13)


def test_effective_decay_of_adam_l2_acts_on_the_momentum_average_of_the_weights():
    # With momentum m̂ = m̂(loss gradients) + λ·θ̄, θ̄ the bias-corrected β1-average of
    # θ_0..θ_{t−1}: the decay part of the step is −c·θ̄ exactly (m is linear in g).
    lr, lam, beta1, eps = 0.02, 0.5, 0.9, 1e-8
    x0 = torch.tensor([-2.0, -1.0], dtype=DTYPE)
    trace = Trace()
    path = adam_trajectory(ill_conditioned, x0, steps=80, lr=lr, betas=(beta1, 0.999),
                           eps=eps, weight_decay=lam, trace=trace)  # fmt: skip
    history = trace["adam"][0]
    m_loss, m_theta, decay_parts, loss_parts = 0.0, 0.0, [], []
    for t, theta in enumerate(path[:-1], start=1):
        m_loss = beta1 * m_loss + (1 - beta1) * torch.func.grad(ill_conditioned)(theta)
        m_theta = beta1 * m_theta + (1 - beta1) * theta
        denom = history["v_hat"][t - 1].sqrt() + eps
        loss_parts.append(-lr * m_loss / (1 - beta1**t) / denom)
        decay_parts.append(-history["effective_decay"][t - 1] * m_theta / (1 - beta1**t))
    split = torch.stack(loss_parts) + torch.stack(decay_parts)
    torch.testing.assert_close(history["step"], split, rtol=1e-10, atol=1e-13)


def test_runs_side_by_side_equal_their_single_runs_exactly():
    def gradient(theta):  # closed-form gradient of ill_conditioned, for any leading shape
        return theta * torch.tensor([1.0, 50.0], dtype=DTYPE) - torch.tensor(
            [1.0, 100.0], dtype=DTYPE
        )

    x0 = torch.tensor([[-2.0, -1.0], [-2.0, -1.0], [0.5, 0.5]], dtype=DTYPE)
    settings = {"steps": 100, "lr": 0.05, "betas": (0.9, 0.999)}
    trace = Trace()
    together = adam_steps(gradient, x0, weight_decay=[0.5, 0.5, 0.2],
                          decoupled=[False, True, True], trace=trace, **settings)  # fmt: skip
    assert together.shape == (101, 3, 2)
    for run, (lam, decoupled) in enumerate([(0.5, False), (0.5, True), (0.2, True)]):
        single_trace = Trace()
        alone = adam_steps(gradient, x0[run], weight_decay=lam, decoupled=decoupled,
                           trace=single_trace, **settings)  # fmt: skip
        assert torch.equal(together[:, run], alone)
        for key, values in single_trace["adam"][0].items():
            # ηλ/denom: torch computes a number over a tensor as a reciprocal times the
            # number, so the traced values may differ in the last bit; the loop itself not.
            torch.testing.assert_close(trace["adam"][0][key][:, run], values, rtol=1e-15, atol=0)
    autograd = adam_trajectory(ill_conditioned, x0[0], weight_decay=0.5, **settings)
    torch.testing.assert_close(together[:, 0], autograd, rtol=0, atol=TOL)


def test_numpy_arrays_run_the_same_loop():
    def gradient(theta):
        return theta**3 - theta + 0.1

    x0 = np.array([[1.2, -0.4], [1.2, -0.4]])
    settings = {"steps": 80, "lr": 0.03, "weight_decay": 0.3, "decoupled": [False, True]}
    trace = Trace()
    result = adam_steps(gradient, x0, trace=trace, **settings)
    assert isinstance(result, np.ndarray) and result.shape == (81, 2, 2)
    expected = adam_steps(gradient, torch.from_numpy(x0), **settings)
    np.testing.assert_allclose(result, expected.numpy(), rtol=0, atol=1e-15)
    assert isinstance(trace["adam"][0]["v_hat"], np.ndarray)


def test_float32_follows_torch_in_float32():
    x0 = torch.tensor([-1.5, 2.0])
    path = adam_trajectory(rosenbrock, x0, steps=100, lr=0.01, weight_decay=0.1, decoupled=True)
    theta = torch.nn.Parameter(x0.clone())
    optimiser = torch.optim.AdamW([theta], lr=0.01, weight_decay=0.1)
    for _ in range(100):
        optimiser.zero_grad()
        rosenbrock(theta).backward()
        optimiser.step()
    assert path.dtype == torch.float32
    torch.testing.assert_close(path[-1], theta.detach(), rtol=1e-5, atol=1e-6)


def test_zero_steps_returns_the_start_and_a_constant_loss_decays_only():
    x0 = torch.tensor([1.0, -2.0], dtype=DTYPE)
    assert torch.equal(adam_trajectory(rosenbrock, x0, steps=0, lr=0.1), x0[None])
    path = adam_trajectory(lambda x: torch.tensor(3.0, dtype=DTYPE), x0, steps=3, lr=0.1,
                           weight_decay=0.5, decoupled=True)  # fmt: skip
    torch.testing.assert_close(path[-1], x0 * (1 - 0.05) ** 3, rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"lr": -0.1}, "lr"),
        ({"lr": math.inf}, "lr"),
        ({"betas": (1.0, 0.999)}, "betas\\[0\\]"),
        ({"betas": (0.9, -0.1)}, "betas\\[1\\]"),
        ({"eps": -1.0}, "eps"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"steps": -1}, "steps"),
        ({"steps": 1.5}, "steps"),
    ],
)
def test_bad_hyper_parameters_are_named(kwargs, name):
    arguments = {"steps": 3, "lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        adam_trajectory(rosenbrock, torch.zeros(2, dtype=DTYPE), **arguments)


def test_bad_parameters_and_losses_are_rejected():
    with pytest.raises(ValueError, match="x0"):
        adam_trajectory(rosenbrock, torch.zeros(2, 2), steps=3, lr=0.1)
    with pytest.raises(ValueError, match="loss_fn"):
        adam_trajectory(lambda x: x * 2, torch.zeros(2), steps=3, lr=0.1)
