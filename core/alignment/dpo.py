"""Direct preference optimisation: the reward is implicit in the policy, so no reward model is fit.

Rafailov et al. 2023, eq. (7): L = −log σ(β[(log π/π_ref)(y_w) − (log π/π_ref)(y_l)]), whose
optimum over all policies is π* ∝ π_ref·exp(r/β) (eq. 4) when preferences follow Bradley–Terry.
Azar et al. 2024 (IPO): (h − 1/(2β))² with h the same log-ratio difference.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from core.trace import Trace


def _finite(x: torch.Tensor) -> torch.Tensor:
    """±inf from an overflow to the largest float, so the loss stays finite for finite inputs."""
    return torch.nan_to_num(x, nan=0.0)


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(losses, chosen_rewards, rejected_rewards), each (B,): −log σ(β[(π_c − ref_c) − (π_r − ref_r)])
    and the implicit rewards β(π − ref), detached (Rafailov et al.'s reference code).

    Inputs are sequence log-probabilities, (B,).
    """
    pi_logratios = policy_chosen_logps - policy_rejected_logps
    ref_logratios = ref_chosen_logps - ref_rejected_logps
    logits = _finite(beta * _finite(pi_logratios - ref_logratios))
    losses = F.softplus(-logits)  # = −log σ(logits), without overflow
    chosen_rewards = beta * (policy_chosen_logps - ref_chosen_logps).detach()
    rejected_rewards = beta * (policy_rejected_logps - ref_rejected_logps).detach()
    return losses, chosen_rewards, rejected_rewards


def ipo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """(h − 1/(2β))², h = (π_c − ref_c) − (π_r − ref_r): Azar et al. 2024, eq. (17). (B,)"""
    h = (policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps)
    return (h - 1 / (2 * beta)).square()


def optimal_policy(ref_probs: Any, rewards: Any, beta: float) -> Any:
    """π*(y) = π_ref(y)·exp(r(y)/β)/Z on the last axis, in log space: (..., K) -> (..., K).

    Rafailov et al. 2023, eq. (4). A zero reference probability stays zero; NumPy in, NumPy out.
    """
    as_numpy = not isinstance(ref_probs, torch.Tensor)
    ref = torch.as_tensor(np.array(ref_probs) if as_numpy else ref_probs, dtype=torch.float64)
    r = torch.as_tensor(
        np.array(rewards) if not isinstance(rewards, torch.Tensor) else rewards, dtype=torch.float64
    )
    with np.errstate(divide="ignore"):
        log_unnormalised = torch.log(ref) + r / torch.as_tensor(beta, dtype=torch.float64)
    policy = torch.softmax(log_unnormalised, dim=-1)
    policy = torch.where(ref > 0, policy, torch.zeros_like(policy))
    return policy.numpy() if as_numpy else policy


def kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p‖q) on the last axis, 0·log 0 = 0."""
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))
    return terms.sum(-1)


def preference_pairs(
    ref_probs: torch.Tensor,
    rewards: torch.Tensor,
    n_pairs: int | None,
    seed: int,
    labels: Literal["bradley-terry", "better"] = "bradley-terry",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(winners, losers, weights): the pairs the loss averages over.

    n_pairs=None: every pair i < j, both orders, weighted p = σ(r_i − r_j) and 1 − p (the exact
    expectation under Bradley–Terry; "better": p = 1 for the higher reward, ½ on a tie).
    An integer: that many pairs drawn once, two distinct responses from π_ref, the winner drawn by
    Bradley–Terry (or always the better one), each weight 1/n.
    """
    k = ref_probs.shape[-1]
    if n_pairs is None:
        pairs = torch.tensor(list(itertools.combinations(range(k), 2)), dtype=torch.long)
        i, j = pairs[:, 0], pairs[:, 1]
        diff = rewards[i] - rewards[j]
        p = torch.sigmoid(diff) if labels == "bradley-terry" else (diff > 0) + 0.5 * (diff == 0)
        p = p.double()
        winners, losers = torch.cat([i, j]), torch.cat([j, i])
        weights = torch.cat([p, 1 - p]) / len(pairs)
        return winners, losers, weights
    generator = torch.Generator().manual_seed(seed)
    first = torch.multinomial(ref_probs, n_pairs, replacement=True, generator=generator)
    others = ref_probs.expand(n_pairs, k).clone()
    others[torch.arange(n_pairs), first] = 0  # the second response differs from the first
    second = torch.multinomial(others, 1, generator=generator)[:, 0]
    diff = rewards[first] - rewards[second]
    if labels == "bradley-terry":
        first_wins = torch.rand(n_pairs, generator=generator, dtype=torch.float64) < torch.sigmoid(
            diff
        )
    else:
        first_wins = (diff > 0) | ((diff == 0) & (torch.rand(n_pairs, generator=generator) < 0.5))
    winners = torch.where(first_wins, first, second)
    losers = torch.where(first_wins, second, first)
    return winners, losers, torch.full((n_pairs,), 1 / n_pairs, dtype=torch.float64)


def dpo_bandit(
    ref_probs: Any,
    rewards: Any,
    beta: float,
    *,
    steps: int = 2000,
    lr: float = 0.05,
    n_pairs: int | None = None,
    seed: int = 0,
    labels: Literal["bradley-terry", "better"] = "bradley-terry",
    loss: Literal["dpo", "ipo"] = "dpo",
    trace: Trace | None = None,
) -> torch.Tensor:
    """DPO on one prompt with K responses: (steps + 1, K) policies, row 0 = ref_probs (all > 0).

    The policy is softmax(θ), θ starting at log π_ref; full-batch torch.optim.Adam(lr) on the mean
    loss over `preference_pairs` (n_pairs=None: the exact Bradley–Terry expectation). With `trace`,
    per step: loss, chosen/rejected rewards and reward accuracy (weighted over the pairs), each
    pair's gradient weight σ(r̂_l − r̂_w), KL(π‖π_ref), the policy.
    """
    ref = torch.as_tensor(np.asarray(ref_probs), dtype=torch.float64)
    r = torch.as_tensor(np.asarray(rewards), dtype=torch.float64)
    if (ref <= 0).any():
        raise ValueError("ref_probs: every reference probability must be > 0")
    ref = ref / ref.sum()
    log_ref = ref.log()
    k = ref.shape[-1]
    winners, losers, weights = preference_pairs(ref, r, n_pairs, seed, labels)
    # The loss is a weighted sum over at most K(K − 1) distinct (winner, loser) pairs: n sampled
    # pairs are folded onto them (the same sum, added in another order).
    unique, inverse = torch.unique(winners * k + losers, return_inverse=True)
    pair_weights = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, weights)
    win, lose = unique // k, unique % k
    ref_gap = log_ref[win] - log_ref[lose]
    # The gradient in closed form: with h = log-ratio gap of a pair and log π = θ − logsumexp θ,
    # ∂h/∂θ = e_w − e_l (the π terms cancel); DPO: ∂ℓ/∂h = −β·σ(−βh); IPO: 2(h − 1/(2β)).
    # torch.optim.Adam takes it as θ.grad: autograd's graph would cost ten times the arithmetic.
    theta = log_ref.clone()
    optimizer = torch.optim.Adam([theta], lr=lr)
    thetas = torch.empty(steps + 1, k, dtype=torch.float64)
    for step in range(steps + 1):
        thetas[step] = theta
        if step == steps:
            break
        log_pi = torch.log_softmax(theta, dim=-1)
        h = (log_pi[win] - log_pi[lose]) - ref_gap
        if loss == "dpo":
            slope = -beta * torch.sigmoid(-_finite(beta * _finite(h)))
        else:
            slope = 2 * (h - 1 / (2 * beta))
        contribution = pair_weights * slope
        grad = torch.zeros(k, dtype=torch.float64)
        theta.grad = grad.index_add_(0, win, contribution).index_add_(0, lose, -contribution)
        optimizer.step()
    log_pis = torch.log_softmax(thetas, dim=-1)
    policies = log_pis.exp()
    if trace is not None:
        # every step's loss, rewards and gradient weights at once, from the stored parameters
        args = (log_pis[:, win], log_pis[:, lose], log_ref[win], log_ref[lose], beta)
        if loss == "dpo":
            losses, chosen, rejected = dpo_loss(*args)
        else:
            losses = ipo_loss(*args)
            chosen = beta * (args[0] - args[2])
            rejected = beta * (args[1] - args[3])
        total = losses @ pair_weights
        chosen_reward = chosen @ pair_weights
        rejected_reward = rejected @ pair_weights
        accuracy = (chosen > rejected).double() @ pair_weights
        gradient_weight = torch.sigmoid(rejected - chosen)[:, inverse]  # (steps + 1, pairs)
        kls = kl(policies, ref)
        for step in range(steps + 1):
            trace.record(
                "step",
                step=step,
                loss=float(total[step]),
                chosen_reward=float(chosen_reward[step]),
                rejected_reward=float(rejected_reward[step]),
                accuracy=float(accuracy[step]),
                gradient_weight=gradient_weight[step],
                kl=float(kls[step]),
                policy=policies[step],
            )
        trace.record("pairs", winners=winners, losers=losers, weights=weights)
    return policies


def fit_bradley_terry(
    k: int, winners: torch.Tensor, losers: torch.Tensor, weights: torch.Tensor, l2: float = 1e-9
) -> torch.Tensor:
    """RLHF's reward model on a table: r̂ maximising Σ w·log σ(r̂_w − r̂_l) − l2·‖r̂‖², by Newton's
    method (the objective is concave). The small l2 keeps r̂ finite when the data separate (labels
    always the better one); r̂ is then centred (a constant is unidentifiable). (K,)"""
    r_hat = torch.zeros(k, dtype=torch.float64)
    for _ in range(200):
        p = torch.sigmoid(r_hat[winners] - r_hat[losers])
        g = (weights * (1 - p)) @ (F.one_hot(winners, k) - F.one_hot(losers, k)).double()
        g = g - 2 * l2 * r_hat
        diff = (F.one_hot(winners, k) - F.one_hot(losers, k)).double()
        hessian = -(diff.T * (weights * p * (1 - p))) @ diff - 2 * l2 * torch.eye(
            k, dtype=torch.float64
        )
        step = torch.linalg.solve(hessian, g)
        r_hat = r_hat - step
        if step.abs().max() < 1e-12:
            break
    return r_hat - r_hat.mean()


def rlhf_policy(
    ref_probs: Any,
    rewards: Any,
    beta: float,
    *,
    n_pairs: int | None = None,
    seed: int = 0,
    labels: Literal["bradley-terry", "better"] = "bradley-terry",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The RLHF route on DPO's pairs: a Bradley–Terry reward model r̂ fitted by maximum likelihood,
    then the exact maximiser of E_π[r̂] − β·KL(π‖π_ref), π ∝ π_ref·exp(r̂/β): PPO's objective,
    solved in closed form because the policy is a table. Returns (policy (K,), r̂ (K,))."""
    ref = torch.as_tensor(np.asarray(ref_probs), dtype=torch.float64)
    ref = ref / ref.sum()
    r = torch.as_tensor(np.asarray(rewards), dtype=torch.float64)
    winners, losers, weights = preference_pairs(ref, r, n_pairs, seed, labels)
    r_hat = fit_bradley_terry(ref.shape[-1], winners, losers, weights)
    return optimal_policy(ref, r_hat, beta), r_hat
