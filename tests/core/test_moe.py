"""MoE routing against a dense computation of the same mixture; aux loss; parameter counts."""

import math

import numpy as np
import pytest
import torch

from core.llm import moe
from core.trace import Trace


def swiglu_experts(generator, n_experts, d, ffn, dtype=torch.float64):
    def w(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype) / math.sqrt(shape[-1])

    return (w(n_experts, ffn, d), w(n_experts, ffn, d), w(n_experts, d, ffn))


@pytest.mark.parametrize(
    "k,capacity_factor,renormalize",
    [(2, None, True), (1, 1.0, False), (2, 0.5, True), (3, 1.25, True), (1, 0.0, False)],
)
def test_routed_layer_equals_dense_masked_mixture(k, capacity_factor, renormalize):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(37, 12, generator=g, dtype=torch.float64)
    router = torch.randn(6, 12, generator=g, dtype=torch.float64)
    experts = swiglu_experts(g, 6, 12, 20)
    trace = Trace()
    y = moe.moe_forward(x, router, experts, k, capacity_factor, renormalize, trace=trace)
    expected = moe.dense_mixture(x, router, experts, k, capacity_factor, renormalize)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)
    (load,) = trace["load"]
    assert int(load["chosen"].sum()) == 37 * k
    if capacity_factor is not None:
        assert int(load["kept"].max()) <= math.ceil(capacity_factor * k * 37 / 6)


def test_callable_experts_and_a_dense_loop_written_out():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 4, generator=g, dtype=torch.float64)
    router = torch.randn(3, 4, generator=g, dtype=torch.float64)
    mats = [torch.randn(4, 4, generator=g, dtype=torch.float64) for _ in range(3)]
    experts = [lambda z, m=m: torch.tanh(z @ m) for m in mats]
    y = moe.moe_forward(x, router, experts, 2)
    probs = torch.softmax(x @ router.T, -1)
    for t in range(9):
        top = torch.argsort(probs[t], descending=True)[:2]
        gates = probs[t, top] / probs[t, top].sum()
        expected = sum(gates[r] * experts[int(e)](x[t : t + 1])[0] for r, e in enumerate(top))
        torch.testing.assert_close(y[t], expected, rtol=0, atol=1e-12)


def test_capacity_serves_first_choices_before_second_in_token_order():
    # every token prefers expert 0, then expert 1
    logits = torch.tensor([[3.0, 2.0, 0.0]] * 4)
    _, index, dropped = moe.route(logits, 2, capacity=3)
    assert index.tolist() == [[0, 1]] * 4
    # expert 0: tokens 0, 1, 2 kept, 3 dropped; expert 1: tokens 0, 1, 2 kept, 3 dropped
    assert dropped.tolist() == [[False, False]] * 3 + [[True, True]]
    logits = torch.tensor([[3.0, 2.0], [2.0, 3.0], [3.0, 2.0]])
    _, index, dropped = moe.route(logits, 2, capacity=2)
    # first choices: 0→e0, 1→e1, 2→e0 (all fit); second: 0→e1 (fits), 1→e0 (full), 2→e1 (full)
    assert dropped.tolist() == [[False, False], [False, True], [False, True]]
    _, _, none_kept = moe.route(logits, 1, capacity=0)
    assert none_kept.all()
    _, _, exact = moe.route(torch.eye(4) * 5, 1, capacity=1)  # one token per expert: exact fit
    assert not exact.any()


def test_gates_are_topk_probabilities_renormalized_or_not():
    logits = torch.randn(10, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    probs = torch.softmax(logits, -1)
    top, idx = torch.topk(probs, 2)
    gates, index, _ = moe.route(logits, 2, renormalize=False)
    assert torch.equal(index, idx) and torch.allclose(gates, top)
    gates, _, _ = moe.route(logits, 2)
    torch.testing.assert_close(gates.sum(-1), torch.ones(10, dtype=torch.float64))
    with pytest.raises(ValueError, match="k"):
        moe.route(logits, 6)


def test_load_balancing_loss_values_and_gradient():
    n = 4
    uniform = torch.full((8, n), 1 / n, requires_grad=True)
    index = torch.arange(8).remainder(n)[:, None]
    loss = moe.load_balancing_loss(uniform, index, n)
    assert float(loss.detach()) == pytest.approx(1.0)
    collapsed = torch.zeros(8, 1, dtype=torch.long)
    probs = torch.tensor([[1.0, 0, 0, 0]] * 8)
    assert float(moe.load_balancing_loss(probs, collapsed, n)) == pytest.approx(n)
    # ∂L/∂P_i = N·f_i / T: only the chosen experts' probabilities are pushed down
    loss.backward()
    torch.testing.assert_close(uniform.grad, torch.full((8, n), n * 0.25 / 8))


def test_router_gets_gradient_through_the_gates():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(16, 6, generator=g)
    router = torch.randn(4, 6, generator=g, requires_grad=True)
    y = moe.moe_forward(x, router, swiglu_experts(g, 4, 6, 8, torch.float32), 2)
    y.pow(2).sum().backward()
    assert router.grad is not None and router.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "config,total,active",
    [(moe.MIXTRAL_8X7B, 46.70e9, 12.88e9), (moe.DEEPSEEK_V3, 671.0e9, 37.6e9)],
)
def test_parameter_counts_of_published_models(config, total, active):
    counts = moe.parameter_counts(config)
    assert counts["total"] == pytest.approx(total, abs=0.005e9 if total < 100e9 else 0.05e9)
    assert counts["active"] == pytest.approx(active, abs=0.005e9 if total < 100e9 else 0.05e9)


@pytest.mark.parametrize(
    "k,capacity,renormalize", [(2, None, True), (1, 5, False), (3, 7, True), (2, 0, True)]
)
def test_numpy_training_step_gradients_match_torch_autograd_on_the_dense_mixture(
    k, capacity, renormalize
):
    g = torch.Generator().manual_seed(4)
    n_tokens, n_experts, d, ffn, alpha = 29, 5, 6, 7, 0.3
    x = torch.randn(n_tokens, d, generator=g, dtype=torch.float64)
    targets = torch.randn(n_tokens, d, generator=g, dtype=torch.float64)
    router = torch.randn(n_experts, d, generator=g, dtype=torch.float64, requires_grad=True)
    experts = [w.requires_grad_(True) for w in swiglu_experts(g, n_experts, d, ffn)]
    # capacity = ⌈factor·k·T/E⌉ inside dense_mixture: pick the factor that gives `capacity`
    factor = None if capacity is None else capacity * n_experts / (k * n_tokens)
    y = moe.dense_mixture(x, router, tuple(experts), k, factor, renormalize)
    probs = torch.softmax(x @ router.T, -1)
    aux = moe.load_balancing_loss(probs, torch.topk(probs, k).indices, n_experts)
    task = torch.nn.functional.mse_loss(y, targets)
    (task + alpha * aux).backward()
    weights = {
        "router": router.detach().numpy(),
        "w_gate_up": torch.cat(experts[:2], 1).detach().numpy(),
        "w_down": experts[2].detach().numpy(),
    }
    task_np, aux_np, grads, load, dropped = moe.moe_step(
        weights, x.numpy(), targets.numpy(), k, capacity, alpha, renormalize
    )
    _, _, expected_dropped = moe.route(x @ router.detach().T, k, capacity, renormalize)
    assert np.array_equal(dropped, expected_dropped.numpy())
    assert task_np == pytest.approx(float(task.detach()), rel=1e-12)
    assert aux_np == pytest.approx(float(aux.detach()), rel=1e-12)
    assert load.sum() == pytest.approx(1.0)
    # float64 throughout: only summation order differs
    np.testing.assert_allclose(grads["router"], router.grad.numpy(), rtol=0, atol=1e-12)
    expected_gate_up = torch.cat([experts[0].grad, experts[1].grad], 1)
    np.testing.assert_allclose(grads["w_gate_up"], expected_gate_up.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["w_down"], experts[2].grad.numpy(), rtol=0, atol=1e-12)


def test_training_balances_load_with_the_aux_loss_and_fits_the_task():
    runs = {}
    for alpha in (0.0, 0.3):
        trace = Trace()
        moe.train_moe(256, 8, 1, alpha, 120, None, seed=0, trace=trace)
        runs[alpha] = trace
    task = runs[0.3].column("step", "task_loss")
    assert task[-1] < 0.5 * task[0]
    busiest = {a: float(t.column("step", "load")[-1].max()) for a, t in runs.items()}
    assert busiest[0.3] < busiest[0.0]
