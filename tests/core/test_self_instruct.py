"""ROUGE-L against rouge-score 0.1.2, the all-pairs matrix, the novelty filter, Alpaca's template."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
from rouge_score import rouge_scorer

from core.alignment.self_instruct import (
    alpaca_prompt,
    novelty_filter,
    rouge_l,
    rouge_l_matrix,
)

ROOT = Path(__file__).resolve().parents[2]
SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
WORDS = ["the", "A", "cat", "Dog!", "run,", "é", "naïve", "café", "中文", "x1", "42", "3.14",
         "write", "code", "İstanbul", "'s", "-", "…", "ß"]  # fmt: skip


def reference(candidate, ref):
    return SCORER.score(ref, candidate)["rougeL"].fmeasure


def random_texts(n, seed, longest=80):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, longest))) for _ in range(n)]


def test_rouge_l_matches_rouge_score_on_random_strings_with_punctuation_accents_and_cjk():
    texts = [*random_texts(40, 0), "", "中文 只有", "!!!", "Same same", "same SAME"]
    for a in texts:
        for b in texts[:15]:
            assert rouge_l(a, b) == pytest.approx(reference(a, b), abs=1e-12)


def test_the_matrix_equals_rouge_l_pair_by_pair_also_past_64_tokens():
    candidates = random_texts(25, 1, longest=150)
    references = random_texts(20, 2, longest=150)
    matrix = rouge_l_matrix(candidates, references)
    for i, a in enumerate(candidates):
        for j, b in enumerate(references):
            assert matrix[i, j] == pytest.approx(rouge_l(a, b), abs=1e-12)


def test_rouge_l_matches_rouge_score_on_the_bundled_instructions():
    path = ROOT / "assets" / "alignment" / "instructions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    texts = [item["instruction"] for group in data["sets"].values() for item in group][::7]
    matrix = rouge_l_matrix(texts, texts)
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            assert matrix[i, j] == pytest.approx(reference(a, b), abs=1e-12)


def brute_force_filter(candidates, pool, threshold):
    kept, rejected = [], []
    for c in candidates:
        best, blocking = -1.0, None
        for other in [*pool, *kept]:
            score = rouge_l(c, other)
            if score > best:
                best, blocking = score, other
        if blocking is not None and best > threshold:
            rejected.append((c, blocking, best))
        else:
            kept.append(c)
    return kept, rejected


@pytest.mark.parametrize("threshold", [0.3, 0.7, 1.0])
def test_novelty_filter_matches_a_brute_force_loop(threshold):
    rng = random.Random(4)
    base = random_texts(12, 5, longest=12)
    candidates = [
        t if rng.random() < 0.5 else rng.choice(base) + " extra" for t in random_texts(30, 6, 12)
    ]
    kept, rejected = novelty_filter(candidates, base[:5], threshold)
    expected_kept, expected_rejected = brute_force_filter(candidates, base[:5], threshold)
    assert kept == expected_kept
    assert [(c, b) for c, b, _ in rejected] == [(c, b) for c, b, _ in expected_rejected]
    np.testing.assert_allclose(
        [s for *_, s in rejected], [s for *_, s in expected_rejected], atol=1e-12
    )


def test_novelty_filter_rejects_strictly_above_and_blocks_by_the_first_on_ties():
    kept, rejected = novelty_filter(["write a poem"], ["write a poem", "write a poem"], 1.0)
    assert kept == ["write a poem"] and rejected == []
    kept, rejected = novelty_filter(["write a poem", "write a poem"], ["x y", "write a song"], 0.7)
    assert kept == ["write a poem"]
    assert rejected == [("write a poem", "write a poem", 1.0)]


def test_alpaca_prompt_is_the_template_byte_for_byte():
    assert alpaca_prompt("Add.", "2, 3") == (
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nAdd.\n\n### Input:\n2, 3\n\n### Response:"
    )
    assert alpaca_prompt("Say hi.") == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:"
    )
    assert "### Input:\n \n" in alpaca_prompt("x", " ")
