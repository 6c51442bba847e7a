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


# --- the verb–noun structure of an instruction (Self-Instruct's Figure 2) ---------------------
# Self-Instruct parsed each instruction with the Berkeley Neural Parser and kept the verb closest
# to the root with its first direct noun object. No parser model is bundled here: instructions
# are imperatives, so a rule does most of it. The verb is the first word (after a polite or
# question opening) when it is in VERBS; the noun is the head, i.e. the last word, of the first
# noun chunk after it: the words up to a preposition, conjunction, relative word, participle or
# punctuation, object pronouns ("give me a list") skipped. Its accuracy is measured in the tests
# against hand-labelled instructions.


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


VERBS = _words(
    """
add adapt analyze analyse answer apply arrange assess build calculate categorize check choose
classify clean come compare compile complete compose compute concatenate construct convert
correct count craft create debug decide decode define delete demonstrate derive describe design
detect determine develop devise discuss draft edit elaborate encode estimate evaluate explain
express extract fill filter find fix flag format formulate generate give group guess help
highlight identify illustrate implement improve infer insert interpret invent label link list
make match merge modify name offer optimize optimise order organize outline paraphrase parse
pick plan predict prepare present print produce propose provide rank rate read recommend
rewrite refactor remove rename reorder rephrase replace reply respond restate return reverse
review revise say score select sort specify split state suggest summarize summarise
take tell test transform translate turn update use validate verify write perform brainstorm
act imagine share solve simplify expand shorten spell capitalize punctuate proofread critique
conclude ask follow pretend consider think try play draw
"""
)

OPENINGS = (
    ("please",), ("can", "you"), ("could", "you"), ("would", "you"), ("will", "you"),
    ("how", "would", "you"), ("how", "can", "you"), ("how", "do", "you"), ("how", "do", "i"),
    ("how", "can", "i"), ("how", "to"), ("show", "me", "how", "to"), ("help", "me"),
    ("i", "want", "you", "to"), ("i", "need", "you", "to"), ("now",), ("also",), ("then",),
    ("you", "need", "to"), ("you", "should"), ("you", "must"), ("you", "have", "to"),
    ("you", "are", "asked", "to"), ("your", "task", "is", "to"), ("i", "would", "like", "you", "to"),
)  # fmt: skip
PRONOUNS = _words("me us you him her them it this these those")
NOT_HEADS = _words(
    """
a an the this that these those some any all each every few many several more most other another
such my your our their his her its given following above below next same new one two three four
five six seven eight nine ten first second last both either neither no own whole
"""
)
BOUNDARIES = _words(
    """
of about for in on at with to from into by as that which who whom whose what when where why how
whether if and or but so than then while because using given based containing including
representing describing explaining showing listing taking like without between among per via
until unless
"""
)
LEAD_INS = _words("given using based in for with as after before from")
PARTICLES = _words("up down out off")
WORD = re.compile(r"[a-z0-9][a-z0-9+#'’\-]*")
SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")


def _lemma(noun: str) -> str:
    """A plural noun to its singular by the regular English rules (enough for a chart's labels)."""
    if len(noun) <= 3 or not noun.endswith("s") or noun.endswith(("ss", "us", "sis", "xis")):
        return noun
    if noun.endswith("ies") and len(noun) > 4:
        return noun[:-3] + "y"
    if noun.endswith(("ches", "shes", "xes", "sses", "zes")):
        return noun[:-2]
    return noun[:-1]


def verb_noun(instruction: str) -> tuple[str, str] | None:
    """(verb, noun) of an imperative instruction, e.g. "Write a short poem about cats." ->
    ("write", "poem"); None when no sentence opens with a known verb followed by a noun chunk.

    Sentences are tried in order; a leading clause "Given …," is skipped.
    """
    for sentence in SENTENCE_END.split(instruction.strip()):
        sentence = sentence.lower()
        if sentence.split(" ", 1)[0] in LEAD_INS and "," in sentence:
            sentence = sentence.split(",", 1)[1]  # "Given a list, sort it": the clause goes
        words = [re.sub(r"['’]s$", "", w).strip("'’-") for w in WORD.findall(sentence)]
        words = [w for w in words if w]
        for opening in sorted(OPENINGS, key=len, reverse=True):
            if tuple(words[: len(opening)]) == opening:
                words = words[len(opening) :]
                break
        if not words or words[0] not in VERBS:
            continue
        verb, rest = words[0], words[1:]
        chunk_end = _chunk_end(sentence, verb)
        rest = rest[:chunk_end] if chunk_end is not None else rest
        if rest[:2] == ["up", "with"]:
            rest = rest[2:]  # "come up with several names"
        elif rest[:1] and rest[0] in PARTICLES:
            rest = rest[1:]  # "write down", "make up", "find out"
        while len(rest) > 1 and rest[0] in PRONOUNS and rest[1] not in BOUNDARIES:
            rest = rest[1:]  # "give me a list": the indirect object
        chunk = []
        for word in rest:
            content = [w for w in chunk if w not in NOT_HEADS]
            if word in BOUNDARIES and (content or word not in NOT_HEADS | {"given", "following"}):
                break
            if word in PRONOUNS and not chunk:
                break  # "compose them into …": the object is a pronoun, no noun
            chunk.append(word)
        heads = [w for w in chunk if w not in NOT_HEADS and any(c.isalpha() for c in w)]
        if heads:
            return verb, _lemma(heads[-1])
        return None
    return None


def _chunk_end(sentence: str, verb: str) -> int | None:
    """Words after the verb before the first comma or parenthesis (a chunk never crosses one)."""
    start = sentence.find(verb)
    stop = min(
        (i for i in (sentence.find(",", start), sentence.find("(", start)) if i >= 0), default=-1
    )
    if stop < 0:
        return None
    return len(WORD.findall(sentence[start:stop])) - 1
