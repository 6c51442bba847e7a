"""Self-Instruct's data pipeline pieces: ROUGE-L, the novelty filter, and Alpaca's template.

Wang et al. 2023 (Self-Instruct): a generated instruction joins the pool only when its ROUGE-L
with every instruction already there is at most 0.7. Lin 2004 (ROUGE-L): the F-measure of the
longest common subsequence of two token lists. Taori et al. 2023 (Alpaca): the prompt template.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

TOKEN = re.compile(r"[a-z0-9]+")

PROMPT_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:"
)


def tokens(text: str) -> list[str]:
    """rouge-score 0.1.2's default tokens (no stemmer): runs of ASCII a–z, 0–9 after lower()."""
    return TOKEN.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, by the textbook dynamic programme."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure: P = LCS/|candidate|, R = LCS/|reference|, F = 2PR/(P + R).

    Lin 2004, §3.1 (β = 1). 0.0 when a side has no tokens or the LCS is empty.
    """
    a, b = tokens(candidate), tokens(reference)
    if not a or not b:
        return 0.0
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def _bit_masks(sequences: list[list[int]], vocabulary: int, words: int) -> np.ndarray:
    """(n, vocabulary, words) uint64: bit i of token t's mask is set where sequence[i] == t."""
    masks = np.zeros((len(sequences), vocabulary, words), dtype=np.uint64)
    for n, sequence in enumerate(sequences):
        for i, t in enumerate(sequence):
            masks[n, t, i // 64] |= np.uint64(1) << np.uint64(i % 64)
    return masks


def _add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x + y on multi-word unsigned integers (..., words), little-endian words, carry across."""
    out = np.empty_like(x)
    carry = np.zeros(x.shape[:-1], dtype=np.uint64)
    for w in range(x.shape[-1]):
        partial = x[..., w] + y[..., w]
        total = partial + carry
        carry = ((partial < x[..., w]) | (total < partial)).astype(np.uint64)
        out[..., w] = total
    return out


def rouge_l_matrix(candidates: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """ROUGE-L of every candidate against every reference at once: (len(candidates), len(references)).

    The LCS lengths come from the bit-parallel algorithm of Allison & Dix (1986) / Hyyrö (2004):
    with M_t the bit mask of token t's positions in a reference, each candidate token updates a
    row V ← (V + (V & M_t)) | (V & ~M_t), and LCS = the number of zero bits of V. All pairs are
    updated together in NumPy, one candidate position at a time.
    """
    cand = [tokens(text) for text in candidates]
    refs = [tokens(text) for text in references]
    n_c, n_r = len(cand), len(refs)
    if n_c == 0 or n_r == 0:
        return np.zeros((n_c, n_r))
    vocabulary = {t: i for i, t in enumerate(sorted({t for s in cand + refs for t in s}))}
    cand_ids = [[vocabulary[t] for t in s] for s in cand]
    ref_ids = [[vocabulary[t] for t in s] for s in refs]
    ref_len = np.array([len(s) for s in ref_ids])
    cand_len = np.array([len(s) for s in cand_ids])
    words = max(1, int(-(-ref_len.max() // 64)))
    masks = _bit_masks(ref_ids, max(1, len(vocabulary)), words)  # (n_r, V, words)
    # V starts all ones over each reference's length (ones beyond it are cleared at the end)
    v = np.full((n_c, n_r, words), np.iinfo(np.uint64).max, dtype=np.uint64)
    longest = int(cand_len.max()) if n_c else 0
    padded = np.full((n_c, longest), -1)
    for n, s in enumerate(cand_ids):
        padded[n, : len(s)] = s
    for position in range(longest):
        token = padded[:, position]
        active = token >= 0
        if not active.any():
            break
        m = masks[:, np.maximum(token, 0), :].transpose(1, 0, 2)  # (n_c, n_r, words)
        u = v & m
        updated = _add(v, u) | (v & ~m)
        v = np.where(active[:, None, None], updated, v)
    # LCS = zeros of V within each reference's length
    bits = np.unpackbits(v.view(np.uint8), axis=-1, bitorder="little")  # (n_c, n_r, 64·words)
    inside = np.arange(64 * words)[None, :] < ref_len[:, None]  # (n_r, 64·words)
    lcs = ((bits == 0) & inside[None]).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = lcs / cand_len[:, None]
        recall = lcs / ref_len[None, :]
        f = np.where(lcs > 0, 2 * precision * recall / (precision + recall), 0.0)
    return np.nan_to_num(f)


def novelty_filter(
    candidates: Sequence[str], pool: Sequence[str], threshold: float = 0.7
) -> tuple[list[str], list[tuple[str, str, float]]]:
    """Self-Instruct's filter: each candidate in order is scored against the pool, then against the
    candidates kept so far, and rejected when its best ROUGE-L is > threshold (strictly).

    Returns (kept, rejected), rejected as (candidate, blocking instruction, score); the blocking
    one is the best-scoring (the first in pool-then-kept order on ties).
    """
    scores = rouge_l_matrix(candidates, [*pool, *candidates])  # every score the run may need
    n_pool = len(pool)
    kept, kept_index, rejected = [], [], []
    for c, candidate in enumerate(candidates):
        columns = list(range(n_pool)) + [n_pool + i for i in kept_index]
        if columns:
            row = scores[c, columns]
            best = int(np.argmax(row))  # argmax: the first of equal scores
            score = float(row[best])
            if score > threshold:
                blocking = pool[best] if best < n_pool else candidates[kept_index[best - n_pool]]
                rejected.append((candidate, blocking, score))
                continue
        kept.append(candidate)
        kept_index.append(c)
    return kept, rejected


def alpaca_prompt(instruction: str, input: str = "") -> str:
    """Alpaca's `train.py` prompt, byte for byte: with the input section only when input != ""."""
    if input == "":
        return PROMPT_NO_INPUT.format(instruction=instruction)
    return PROMPT_INPUT.format(instruction=instruction, input=input)


# The releases' other filters (Alpaca's generate_instruction.py, after Self-Instruct's): tasks a
# text-only model cannot do, too short or too long, and odd first characters.
BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map",
             "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram")  # fmt: skip


def rule_filter(instruction: str, keywords: bool = True, length: bool = True) -> str | None:
    """Why a rule rejects the instruction ("keyword: image", "length", "first character",
    "program"), or None when it passes."""
    text = instruction.strip()
    if length and not 3 < len(text.split()) <= 150:
        return "length"
    if keywords:
        for word in BLACKLIST:
            if re.search(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE):
                return f"keyword: {word}"
        if text.startswith("Write a program"):
            return "program"
    if not text or text[0] in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" or not text[0].isascii():
        return "first character"
    return None
