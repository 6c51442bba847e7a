"""The rule-based verb–noun parser against hand-labelled instructions from the bundled sets.

Two label sets, drawn at random (random.Random(2026) over every bundled instruction): DEV, the
first 56, on which the rules were written; HELD_OUT, the next 44, labelled before the parser was
run on them and never tuned on. Labels are a reader's (verb, head noun of its direct object),
nouns singular; None where no imperative verb takes a noun object.
"""

import json
import random
from pathlib import Path

import pytest

from core.alignment.self_instruct import verb_noun

DATA = Path(__file__).resolve().parents[2] / "assets" / "alignment" / "instructions.json"

DEV = [  # (set, index, verb, noun)
    ("code_instruct", 375, "write", "script"),
    ("code_instruct", 334, "write", "script"),
    ("code_instruct", 319, "create", "script"),
    ("user_oriented", 213, "review", "description"),
    ("code_instruct", 200, "design", "class"),
    ("user_oriented", 244, None, None),
    ("self_instruct_seed", 18, None, None),
    ("self_instruct_seed", 7, "explain", "idiom"),
    ("user_oriented", 4, "come", "synonym"),
    ("code_instruct", 48, "implement", "program"),
    ("code_instruct", 177, "write", "program"),
    ("code_instruct", 69, "implement", "structure"),
    ("code_instruct", 339, "create", "function"),
    ("code_instruct", 233, "create", "function"),
    ("user_oriented", 174, "find", "direction"),
    ("self_instruct_seed", 16, "identify", "disease"),
    ("code_instruct", 317, "write", "script"),
    ("user_oriented", 159, "give", "summary"),
    ("user_oriented", 33, "write", "description"),
    ("user_oriented", 219, "write", "ticket"),
    ("user_oriented", 55, "take", "look"),
    ("code_instruct", 182, "design", "method"),
    ("code_instruct", 23, "perform", "request"),
    ("code_instruct", 335, "design", "script"),
    ("self_instruct_seed", 55, "give", "joke"),
    ("code_instruct", 222, "implement", "function"),
    ("code_seed", 15, "write", "structure"),
    ("self_instruct_seed", 73, None, None),
    ("code_instruct", 85, "develop", "function"),
    ("user_oriented", 241, "write", "antonym"),
    ("code_instruct", 16, "develop", "program"),
    ("code_instruct", 133, "develop", "script"),
    ("user_oriented", 209, "describe", "trip"),
    ("code_instruct", 50, "create", "function"),
    ("user_oriented", 56, "write", "description"),
    ("code_instruct", 206, "implement", "script"),
    ("user_oriented", 66, "brainstorm", "idea"),
    ("code_instruct", 26, "create", "function"),
    ("code_instruct", 270, "develop", "function"),
    ("code_instruct", 284, "write", "snippet"),
    ("user_oriented", 199, "summarize", "movie"),
    ("user_oriented", 52, "prepare", "template"),
    ("self_instruct_seed", 69, "generate", "program"),
    ("code_instruct", 108, "implement", "function"),
    ("code_instruct", 162, "create", "function"),
    ("user_oriented", 212, "extract", "information"),
    ("code_instruct", 291, "create", "program"),
    ("user_oriented", 133, "design", "puzzle"),
    ("user_oriented", 208, "make", "list"),
    ("self_instruct_seed", 76, "make", "flavor"),
    ("self_instruct_seed", 99, "give", "description"),
    ("user_oriented", 64, "use", "emoji"),
    ("code_instruct", 297, "develop", "function"),
    ("code_instruct", 5, "implement", "function"),
    ("self_instruct_seed", 150, "compare", "meaning"),
    ("code_instruct", 153, "design", "function"),
]

HELD_OUT = [  # (set, index, verb, noun)
    ("user_oriented", 49, "craft", "story"),
    ("code_seed", 7, "identify", "tag"),
    ("self_instruct_seed", 63, "write", "joke"),
    ("code_instruct", 144, "remove", "number"),
    ("user_oriented", 96, "analyze", "problem"),
    ("user_oriented", 127, "read", "story"),
    ("user_oriented", 115, "answer", "question"),
    ("code_instruct", 98, "create", "function"),
    ("self_instruct_seed", 13, "output", "dependency"),
    ("code_instruct", 208, "create", "script"),
    ("code_instruct", 161, "design", "class"),
    ("code_instruct", 124, "design", "program"),
    ("user_oriented", 247, "extract", "address"),
    ("user_oriented", 144, "provide", "formula"),
    ("user_oriented", 132, "suggest", "recipe"),
    ("user_oriented", 162, "take", "look"),
    ("self_instruct_seed", 109, "solve", "problem"),
    ("code_instruct", 368, "implement", "program"),
    ("user_oriented", 71, "discuss", "origin"),
    ("self_instruct_seed", 66, "replace", "token"),
    ("code_instruct", 392, "write", "snippet"),
    ("user_oriented", 237, "create", "recipe"),
    ("user_oriented", 50, "suggest", "query"),
    ("user_oriented", 215, "suggest", "bundle"),
    ("user_oriented", 51, "suggest", "paper"),
    ("user_oriented", 5, "write", "email"),
    ("code_instruct", 9, "implement", "api"),
    ("code_instruct", 281, "design", "function"),
    ("user_oriented", 228, "make", "list"),
    ("self_instruct_seed", 6, "brainstorm", "list"),
    ("user_oriented", 120, "give", "tip"),
    ("user_oriented", 107, "create", "itinerary"),
    ("self_instruct_seed", 38, "come", "synonym"),
    ("user_oriented", 165, "give", "category"),
    ("code_instruct", 139, "write", "program"),
    ("user_oriented", 86, "make", "questionnaire"),
    ("self_instruct_seed", 47, "write", "conversation"),
    ("code_instruct", 358, "implement", "queue"),
    ("code_instruct", 155, "develop", "program"),
    ("code_instruct", 148, "write", "program"),
    ("code_instruct", 156, "implement", "function"),
    ("self_instruct_seed", 107, "give", "example"),
    ("code_instruct", 169, "write", "program"),
    ("self_instruct_seed", 17, "create", "checklist"),
]


def sets() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))["sets"]


def accuracy(rows: list[tuple]) -> float:
    data = sets()
    right = 0
    for name, index, verb, noun in rows:
        want = None if verb is None else (verb, noun)
        right += verb_noun(data[name][index]["instruction"]) == want
    return right / len(rows)


def test_the_labelled_rows_are_the_seeded_random_draw():
    data = sets()
    drawn = [(k, i) for k, items in data.items() for i in range(len(items))]
    random.Random(2026).shuffle(drawn)
    assert [(k, i) for k, i, *_ in DEV + HELD_OUT] == drawn[:100]


def test_accuracy_on_the_rows_the_rules_were_written_on():
    assert accuracy(DEV) >= 0.95  # measured 56/56


def test_accuracy_on_held_out_rows():
    assert accuracy(HELD_OUT) >= 0.85  # measured 40/44 = 0.91


@pytest.mark.parametrize(
    ("instruction", "want"),
    [
        ("Give me a list of five fruits.", ("give", "list")),  # indirect object skipped
        ("Could you write down three examples?", ("write", "example")),  # opening, particle, plural
        ("Come up with two names for a cat", ("come", "name")),
        ("Given a set of numbers, find all subsets.", ("find", "subset")),  # lead-in clause
        ("Summarize the following text", ("summarize", "text")),  # "following" is no head
        ("Compose them into a story.", None),  # a pronoun object
        ("Is there anything science cannot explain?", None),  # a question
        ("", None),
        ("写一首诗", None),  # no ASCII words
        ("Write.", None),  # a verb without an object
        ("Write an analysis of the poem", ("write", "analysis")),  # -sis is no plural
    ],
)
def test_rules_on_constructed_cases(instruction, want):
    assert verb_noun(instruction) == want
