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


def test_the_sweep_matches_the_filter_and_the_sunburst_counts_parsed_pairs():
    from collections import Counter

    from core.alignment.self_instruct import verb_noun

    p = demo.presets["code"]
    sweep = demo._sweep(p)
    for threshold in (0.5, 0.7, 1.0):
        run = demo._run(p.model_copy(update={"threshold": threshold}))
        at = sweep["thresholds"].index(threshold)
        assert sweep["kept"][at] == len(run["kept"])
        texts = [run["items"][i]["instruction"] for i in run["kept"]]
        pairs = {verb_noun(t) for t in texts} - {None}
        assert abs(sweep["diversity"][at] - 100 * len(pairs) / len(texts)) < 1e-12
    assert sweep["kept"] == sorted(sweep["kept"])  # a looser threshold never keeps fewer
    run = demo._run(p)
    sunburst = demo._diversity(p, run, "en").data[0]
    kept = Counter(verb_noun(run["items"][i]["instruction"]) for i in run["kept"])
    kept.pop(None, None)
    verbs = Counter()
    for (verb, _), count in kept.items():
        verbs[verb] += count
    top = dict(sorted(verbs.items(), key=lambda x: (-x[1], x[0]))[: demo.TOP_VERBS])
    roots = {
        i: v
        for i, parent, v in zip(sunburst.ids, sunburst.parents, sunburst.values, strict=True)
        if not parent
    }
    assert roots == top
