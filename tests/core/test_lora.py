"""LoRA's update, merge, counts and subspace similarity against torch modules and NumPy."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.finetuning.lora import (
    adapter,
    adapter_parameters,
    fit_toy,
    lora_linear,
    merge,
    subspace_similarity,
    subspace_similarity_grid,
    trainable_parameters,
)
from core.finetuning.shapes import MODEL_SHAPES, TARGET_SETS, matrices, resolve

TOL = {torch.float64: 1e-10, torch.float32: 2e-5}


def factors(dtype, d=24, k=17, r=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(5, 4, k, generator=g, dtype=dtype),
        torch.randn(d, k, generator=g, dtype=dtype),
        torch.randn(d, generator=g, dtype=dtype),
        torch.randn(r, k, generator=g, dtype=dtype),
        torch.randn(d, r, generator=g, dtype=dtype),
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lora_linear_is_the_closed_form_and_equals_the_merged_weight(dtype):
    x, w, b, a, bb = factors(dtype)
    out = lora_linear(x, w, b, a, bb, alpha=6.0)
    expected = x @ w.T + b + (6.0 / 3) * (x @ a.T) @ bb.T
    torch.testing.assert_close(out, expected, atol=TOL[dtype], rtol=0)
    merged = F.linear(x, merge(w, a, bb, 6.0), b)
    torch.testing.assert_close(out, merged, atol=TOL[dtype] * 10, rtol=TOL[dtype])


def test_lora_linear_without_bias_and_gradients_match_autograd_of_the_merged_form():
    x, w, _, a, b = factors(torch.float64)
    a1, b1 = a.clone().requires_grad_(), b.clone().requires_grad_()
    a2, b2 = a.clone().requires_grad_(), b.clone().requires_grad_()
    lora_linear(x, w, None, a1, b1, 2.0).square().sum().backward()
    (x @ merge(w, a2, b2, 2.0).T).square().sum().backward()
    torch.testing.assert_close(a1.grad, a2.grad, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(b1.grad, b2.grad, atol=1e-10, rtol=1e-10)


def test_zero_b_leaves_the_pretrained_layer_unchanged():
    x, w, b, a, bb = factors(torch.float64)
    torch.testing.assert_close(lora_linear(x, w, b, a, torch.zeros_like(bb), 8.0), x @ w.T + b)


def meta_lora_count(config, rank, targets):
    """LoRA's A and B as torch.nn.Linear modules on the meta device, counted by numel()."""
    shapes = matrices(config)
    per_layer = sum(
        sum(
            p.numel()
            for p in torch.nn.Linear(shapes[t][0], rank, bias=False, device="meta").parameters()
        )
        + sum(
            p.numel()
            for p in torch.nn.Linear(rank, shapes[t][1], bias=False, device="meta").parameters()
        )
        for t in targets
    )
    return resolve(config)["n_layers"] * per_layer


@pytest.mark.parametrize("name", list(MODEL_SHAPES))
def test_trainable_parameters_match_meta_modules(name):
    for targets in TARGET_SETS.values():
        if not MODEL_SHAPES[name]["gated_mlp"]:
            targets = tuple(t for t in targets if t != "gate")
        for rank in (1, 8, 64):
            assert trainable_parameters(name, rank, targets) == meta_lora_count(name, rank, targets)


def test_counts_of_the_papers():
    assert trainable_parameters("llama-7b", 8, ["q", "v"]) == 4_194_304
    assert trainable_parameters("gpt3-175b", 1, ["q", "v"]) == 4_718_592  # "4.7M"
    assert trainable_parameters("gpt3-175b", 8, ["q", "v"]) == 37_748_736  # "37.7M"
    assert adapter_parameters("gpt3-175b", 1) == 7_078_080


def test_grouped_query_keys_are_narrow_and_a_plain_mlp_has_no_gate():
    assert matrices("llama2-70b")["k"] == (8192, 1024)
    with pytest.raises(ValueError, match="gate"):
        trainable_parameters("gpt3-175b", 4, ["q", "gate"])
    config = {"d_model": 64, "n_layers": 2, "n_heads": 4, "d_ffn": 256}
    assert trainable_parameters(config, 2, ["gate"]) == 2 * 2 * (64 + 256)


def test_adapter_count_matches_meta_modules_and_starts_as_identity():
    d, m = 96, 7
    down = torch.nn.Linear(d, m, device="meta")
    up = torch.nn.Linear(m, d, device="meta")
    per = sum(p.numel() for p in [*down.parameters(), *up.parameters()])
    config = {"d_model": d, "n_layers": 3, "n_heads": 4, "d_ffn": 4 * d}
    assert adapter_parameters(config, m) == 3 * 2 * per
    x = torch.randn(4, d, dtype=torch.float64)
    out = adapter(x, torch.randn(m, d, dtype=torch.float64), torch.zeros(m, dtype=torch.float64),
                  torch.zeros(d, m, dtype=torch.float64), torch.zeros(d, dtype=torch.float64))  # fmt: skip
    torch.testing.assert_close(out, x)


def phi_numpy(a, b, i, j):
    ui = np.linalg.svd(a, full_matrices=False)[2][:i].T
    uj = np.linalg.svd(b, full_matrices=False)[2][:j].T
    return np.linalg.norm(ui.T @ uj) ** 2 / min(i, j)


def test_subspace_similarity_matches_numpy_svd_and_the_grid():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((8, 40)), rng.standard_normal((16, 40))
    grid = subspace_similarity_grid(torch.tensor(a), torch.tensor(b))
    for i, j in [(1, 1), (3, 16), (8, 5), (8, 16)]:
        assert subspace_similarity(a, b, i, j) == pytest.approx(phi_numpy(a, b, i, j), abs=1e-10)
        assert grid[i - 1, j - 1] == pytest.approx(phi_numpy(a, b, i, j), abs=1e-10)
    assert subspace_similarity(a, a, 8, 8) == pytest.approx(1.0, abs=1e-10)
    with pytest.raises(ValueError):
        subspace_similarity(a, b, 0, 1)


def test_toy_lora_at_the_shift_rank_fits_like_full_fine_tuning_and_rank_one_does_not():
    result = fit_toy(shift_rank=4, n_samples=256, steps=200, lr=0.01, seed=1)
    final = result["losses"][-1]
    start = result["losses"][0, 0]
    # r = 4 (index 2) and full (index 6) both fall by > 100×; r = 1 (index 0) stays far above
    assert final[2] < start / 100 and final[6] < start / 100
    assert final[0] > 10 * final[2]
    assert torch.linalg.matrix_rank(result["delta_lora"][2].double(), atol=1e-6) <= 4
