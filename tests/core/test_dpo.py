"""DPO's loss, the optimal policy and the two routes against closed forms and autograd (float64)."""

import numpy as np
import pytest
import torch

from core.alignment.dpo import (
    dpo_bandit,
    dpo_loss,
    ipo_loss,
    optimal_policy,
    preference_pairs,
    rlhf_policy,
)
from core.trace import Trace

REF = np.array([0.4, 0.3, 0.2, 0.1])
REWARDS = np.array([0.0, 1.0, 2.0, -1.0])


def logps(seed, n=6):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g, dtype=torch.float64) * 3 for _ in range(4)]


def test_dpo_loss_is_the_closed_form_with_detached_rewards():
    pc, pr, rc, rr = logps(0)
    beta = 0.3
    losses, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta)
    z = beta * ((pc - rc) - (pr - rr))
    np.testing.assert_allclose(losses, -np.log(1 / (1 + np.exp(-z.numpy()))), atol=1e-10)
    np.testing.assert_allclose(chosen, beta * (pc - rc), atol=1e-10)
    np.testing.assert_allclose(rejected, beta * (pr - rr), atol=1e-10)
    assert not chosen.requires_grad


def test_dpo_gradient_is_beta_times_sigma_of_the_reward_gap():
    """Rafailov et al. eq. (8): ∂L/∂π_c = −β·σ(r̂_r − r̂_c)."""
    pc, pr, rc, rr = logps(1)
    pc.requires_grad_()
    beta = 0.7
    losses, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta)
    losses.sum().backward()
    np.testing.assert_allclose(pc.grad, -beta * torch.sigmoid(rejected - chosen), atol=1e-10)


def test_dpo_loss_stays_finite_for_huge_finite_inputs():
    big = torch.tensor([1e308, -1e308, 1e300], dtype=torch.float64)
    losses, _, _ = dpo_loss(big, -big, -big, big, 50.0)
    assert torch.isfinite(losses).all()
    losses, _, _ = dpo_loss(-big, big, big, -big, 50.0)
    assert torch.isfinite(losses).all()


def test_ipo_loss_is_the_squared_gap_to_half_over_beta():
    pc, pr, rc, rr = logps(2)
    h = (pc - rc) - (pr - rr)
    np.testing.assert_allclose(ipo_loss(pc, pr, rc, rr, 0.25), (h - 2.0) ** 2, atol=1e-10)


def test_optimal_policy_closed_form_large_ratios_and_zero_reference():
    beta = 0.5
    expected = REF * np.exp(REWARDS / beta)
    np.testing.assert_allclose(
        optimal_policy(REF, REWARDS, beta), expected / expected.sum(), atol=1e-12
    )
    huge = optimal_policy(REF, REWARDS * 1e4, 1e-3)
    assert np.isfinite(huge).all() and huge[2] == pytest.approx(1.0)
    zero = optimal_policy(np.array([0.0, 0.5, 0.5]), np.array([100.0, 0.0, 1.0]), 0.1)
    assert zero[0] == 0.0 and zero.sum() == pytest.approx(1.0)
    batched = optimal_policy(torch.tensor(np.array([REF, REF[::-1]])), torch.tensor(REWARDS), beta)
    assert batched.shape == (2, 4)


@pytest.mark.parametrize("beta", [0.2, 1.0])
def test_dpo_on_exact_preferences_lands_on_pi_star_and_so_does_rlhf(beta):
    policies = dpo_bandit(REF, REWARDS, beta, steps=1500, lr=0.05)
    assert policies.shape == (1501, 4)
    np.testing.assert_allclose(policies[0], REF, atol=1e-12)
    target = optimal_policy(REF, REWARDS, beta)
    np.testing.assert_allclose(policies[-1], target, atol=1e-6)
    rlhf, r_hat = rlhf_policy(REF, REWARDS, beta)
    np.testing.assert_allclose(rlhf, target, atol=1e-6)
    np.testing.assert_allclose(r_hat, REWARDS - REWARDS.mean(), atol=1e-6)


def test_sampled_pairs_are_distinct_seeded_and_weighted_equally():
    ref, r = torch.tensor(REF), torch.tensor(REWARDS)
    w1, l1, weights = preference_pairs(ref, r, 300, seed=3)
    w2, l2, _ = preference_pairs(ref, r, 300, seed=3)
    assert (w1 != l1).all() and torch.equal(w1, w2) and torch.equal(l1, l2)
    assert weights.sum() == pytest.approx(1.0)
    better_w, better_l, _ = preference_pairs(ref, r, 300, seed=3, labels="better")
    assert (r[better_w] > r[better_l]).all()


def test_trace_records_gradient_weights_and_kl():
    trace = Trace()
    dpo_bandit(REF, REWARDS, 0.5, steps=5, n_pairs=50, trace=trace)
    steps = trace["step"]
    assert len(steps) == 6 and steps[0]["kl"] == pytest.approx(0.0, abs=1e-12)
    assert steps[0]["gradient_weight"].shape == (50,)
    np.testing.assert_allclose(steps[0]["gradient_weight"], 0.5)  # π = π_ref: every r̂ = 0


def _autograd_bandit(ref, rewards, beta, steps, lr, n_pairs, seed, labels, loss):
    """The textbook loop: autograd through log-softmax and the loss, torch.optim.Adam."""
    ref = torch.as_tensor(ref, dtype=torch.float64)
    ref = ref / ref.sum()
    r = torch.as_tensor(rewards, dtype=torch.float64)
    winners, losers, weights = preference_pairs(ref, r, n_pairs, seed, labels)
    theta = ref.log().clone().requires_grad_()
    optimizer = torch.optim.Adam([theta], lr=lr)
    policies = [ref]
    for _ in range(steps):
        log_pi = torch.log_softmax(theta, dim=-1)
        args = (log_pi[winners], log_pi[losers], ref.log()[winners], ref.log()[losers], beta)
        losses = dpo_loss(*args)[0] if loss == "dpo" else ipo_loss(*args)
        optimizer.zero_grad()
        (weights * losses).sum().backward()
        optimizer.step()
        policies.append(torch.softmax(theta.detach(), dim=-1))
    return torch.stack(policies)


@pytest.mark.parametrize(
    ("n_pairs", "labels", "loss"),
    [(None, "bradley-terry", "dpo"), (300, "bradley-terry", "ipo"), (200, "better", "dpo")],
)
def test_closed_form_gradient_steps_equal_autograd_with_adam(n_pairs, labels, loss):
    rng = np.random.default_rng(7)
    ref, rewards = rng.dirichlet(np.ones(6)), rng.normal(size=6) * 2
    got = dpo_bandit(
        ref, rewards, 0.3, steps=60, lr=0.05, n_pairs=n_pairs, seed=3, labels=labels, loss=loss
    )
    want = _autograd_bandit(ref, rewards, 0.3, 60, 0.05, n_pairs, 3, labels, loss)
    np.testing.assert_allclose(got, want, atol=1e-10)  # the same sums, in another order
