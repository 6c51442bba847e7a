"""The tiny LM of the prompt-tuning demo: committed weights, the prompt modules against the
counts, and the prompt methods against the frozen model run on the concatenation."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.finetuning import tiny_lm
from core.finetuning.prompt_tuning import DirectPrompt, make_prompt, parameter_counts
from core.pinned import pinned_env

ASSET = Path(__file__).resolve().parents[2] / "assets" / "models" / "tiny_lm.npz"
TINY = {"d_model": 48, "n_layers": 2, "n_heads": 4, "d_ffn": 96}


@pytest.fixture(scope="module")
def weights():
    return tiny_lm.load_weights(ASSET)


def test_committed_weights_are_small_float32_and_load_without_pickle():
    assert ASSET.stat().st_size < 500_000
    with np.load(ASSET, allow_pickle=False) as data:
        shapes = {name: data[name].shape for name in data.files}
        assert all(data[name].dtype == np.float32 for name in data.files)
    assert shapes == {name: tuple(t.shape) for name, t in tiny_lm.init_weights(0).items()}


def test_retraining_reproduces_the_committed_weights(weights, tmp_path):
    # The reproducibility check: the whole pretraining again (about 70 s of one thread,
    # the slowest test of the topic), in a process of its own with the kernels pinned
    # (core/pinned.py), as the committed file was made.
    out = tmp_path / "tiny_lm.npz"
    command = [sys.executable, "-m", "core.finetuning.train_tiny_lm", "--out", str(out)]
    done = subprocess.run(command, env=pinned_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = tiny_lm.load_weights(out)
    delta = max(float((result[k] - weights[k]).abs().max()) for k in weights)
    assert delta <= 1e-5
    accuracy = {task: tiny_lm.exact_match_with_task_token(result, task) for task in tiny_lm.TASKS}
    assert min(accuracy.values()) >= 0.8


def test_the_pretrained_model_does_each_task_when_told_by_its_token(weights):
    for task in tiny_lm.TASKS:
        assert tiny_lm.exact_match_with_task_token(weights, task) >= 0.8, task


def test_forward_of_the_last_positions_is_the_tail_of_the_full_forward(weights):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 11, 48, generator=g)
    prefixes = [(torch.randn(4, 2, 12, generator=g), torch.randn(4, 2, 12, generator=g))] * 2
    full = tiny_lm.forward(weights, x, prefixes)
    tail = tiny_lm.forward(weights, x, prefixes, last=4)
    torch.testing.assert_close(tail, full[:, -4:], atol=2e-5, rtol=0)


@pytest.mark.parametrize(
    "method", ["prompt", "p-tuning-mlp", "p-tuning-lstm", "prefix", "deep-prompt"]
)
def test_prompt_modules_train_what_parameter_counts_says(method):
    for n, h in [(1, 16), (5, 40)]:
        module = make_prompt(method, n, 48, 2, 4, h)
        counts = parameter_counts(method, TINY, n, h)
        assert sum(p.numel() for p in module.parameters()) == counts["trainable"]
        direct = DirectPrompt(module)  # what is stored after training, trained directly
        assert sum(p.numel() for p in direct.parameters()) == counts["stored"]
        with torch.no_grad():
            before, after = module(), direct()
        if isinstance(before, list):
            for (k1, v1), (k2, v2) in zip(before, after, strict=True):
                assert k1.shape == (4, n, 12) and torch.equal(k1, k2) and torch.equal(v1, v2)
        else:
            assert before.shape == (n, 48) and torch.equal(before, after)


def test_a_prompt_equal_to_the_task_embedding_is_the_frozen_model_on_the_task_sequence(weights):
    # prompt tuning = the frozen model run on [prompt; token embeddings]: with the prompt set to
    # the embedding of the task token, the logits are the pretrained model's on [<task>, tokens]
    body = tiny_lm.task_examples("reverse", 64, torch.Generator().manual_seed(3))
    task = tiny_lm.TOKEN["<reverse>"]
    prompt = weights["embed"][task][None]
    ours = tiny_lm._group_logits(weights, "input", [prompt], body, 1)[0]
    tokens = torch.cat([torch.full((64, 1), task), body[:, :-1]], dim=1)
    reference = tiny_lm.forward(weights, weights["embed"][tokens])[:, -4:]
    torch.testing.assert_close(ours, reference, atol=2e-5, rtol=0)
    exact = (ours.argmax(-1) == body[:, -4:]).all(1).float().mean()
    assert exact >= 0.8


def test_fine_tuning_is_deterministic_and_leaves_the_frozen_weights_alone(weights):
    before = {k: v.clone() for k, v in weights.items()}
    runs = [
        tiny_lm.fine_tune(weights, ("prompt", "deep-prompt", "full"), "copy", steps=20, seed=4)
        for _ in range(2)
    ]
    for method in ("prompt", "deep-prompt", "full"):
        a, b = (r["runs"][method] for r in runs)
        np.testing.assert_array_equal(a["losses"], b["losses"])
        assert a["losses"][-3:].mean() < a["losses"][:3].mean(), method
    assert all(torch.equal(before[k], weights[k]) for k in weights)
    assert runs[0]["runs"]["prompt"]["stored"] == 4 * 48
    assert runs[0]["runs"]["deep-prompt"]["stored"] == 4 * 2 * 2 * 48


def test_input_prompts_run_once_as_a_prefix_equal_the_concatenated_sequence(weights):
    # causal attention: the virtual tokens see only themselves, so running them once and handing
    # their keys and values on as a per-layer prefix gives the concatenated run's logits
    g = torch.Generator().manual_seed(5)
    body = tiny_lm.task_examples("sort", 8, g)
    prompts = [torch.randn(6, 48, generator=g) * 0.3 for _ in range(2)]
    fast = tiny_lm._group_logits(weights, "input", prompts, body, 6)
    from core.trace import Trace

    slow = tiny_lm._group_logits(weights, "input", prompts, body, 6, trace=Trace())
    torch.testing.assert_close(fast, slow, atol=2e-5, rtol=0)


def test_deep_prompts_holding_the_fillers_keys_and_values_equal_the_fillers_as_input(weights):
    # both methods' starting point: the same n virtual positions, as tokens or as keys/values
    body = tiny_lm.task_examples("copy", 8, torch.Generator().manual_seed(6))
    start = tiny_lm._filler_start(weights, 5)
    kv = start["kv"].view(5, 2, 2, 4, 12).permute(1, 2, 3, 0, 4)  # (L, 2, H, n, d_head)
    as_input = tiny_lm._group_logits(weights, "input", [start["input"]], body, 5)
    as_kv = tiny_lm._group_logits(
        weights, "kv", [[(kv[0, 0], kv[0, 1]), (kv[1, 0], kv[1, 1])]], body, 5
    )
    full = tiny_lm._group_logits(weights, "full", [], body, 5)
    torch.testing.assert_close(as_kv, as_input, atol=2e-5, rtol=0)
    torch.testing.assert_close(full, as_input, atol=2e-5, rtol=0)
