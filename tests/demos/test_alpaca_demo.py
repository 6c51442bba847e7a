"""The alpaca demo's filter is Self-Instruct's filter, and its presets tell their stories."""

from core.alignment.self_instruct import novelty_filter, rouge_l
from demos import alpaca as demo


def test_the_demos_filter_without_rules_is_novelty_filter():
    p = demo.Params(
        candidates="code",
        pool="code",
        count=120,
        keyword_filter=False,
        length_filter=False,
        threshold=0.6,
    )
    run = demo._run(p)
    texts = [x["instruction"] for x in run["items"]]
    texts_ok = [
        t for t in texts if t.strip() and t.strip()[0].isalnum()
    ]  # first-character rule only
    assert texts_ok == texts  # the code set has no odd first characters: the rules do nothing here
    kept, rejected = novelty_filter(texts, run["seeds"], 0.6)
    assert [texts[i] for i in run["kept"]] == kept
    assert run["status"].count("rouge") == len(rejected)


def test_the_matrix_entries_are_rouge_l():
    p = demo.Params(candidates="user", pool="self-instruct")
    run = demo._run(p)
    seeds, items = run["seeds"], run["items"]
    for c in (0, 7, 100):
        for column in (0, 50, 174):
            assert (
                abs(run["scores"][c, column] - rouge_l(items[c]["instruction"], seeds[column]))
                < 1e-12
            )


def test_human_written_248_of_252_pass_and_a_strict_filter_rejects_more():
    human = demo._run(demo.presets["human"])
    assert human["status"].count("kept") == 248
    code = demo._run(demo.presets["code"])
    strict = demo._run(demo.presets["strict"])
    assert strict["status"].count("rouge") > code["status"].count("rouge") > 0


def test_shuffling_keeps_a_different_subset():
    released = demo._run(demo.presets["code"])
    shuffled = demo._run(demo.presets["shuffled"])
    kept = {released["items"][i]["instruction"] for i in released["kept"]}
    kept_shuffled = {shuffled["items"][i]["instruction"] for i in shuffled["kept"]}
    assert kept != kept_shuffled
