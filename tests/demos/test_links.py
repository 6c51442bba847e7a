"""Links carry a demo's state: Params -> query -> Params is the identity, bad values never fail.

Generic over `all_demos`: every preset and both bounds of every demo round-trip, and each kind
of bad value (unknown key, number out of range, junk number, unknown choice, bad boolean) falls
back to its default with one note that names the key, in English and in Chinese.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demos import all_demos
from demos.base import ParamsError
from demos.links import PAGE_KEYS, from_query, notes_markdown, to_query

DEMOS = {demo.slug: demo for demo in all_demos}
SLUGS = list(DEMOS)
CJK = re.compile(r"[\u4e00-\u9fff]")
LANGS = ["en", "zh"]


def cases(slug: str) -> list[tuple[str, Any]]:
    demo = DEMOS[slug]
    named = [(f"preset {name!r}", params) for name, params in demo.presets.items()]
    return [*named, ("bounds min", demo.bounds("min")), ("bounds max", demo.bounds("max"))]


@pytest.mark.parametrize("slug", SLUGS)
def test_every_preset_and_both_bounds_round_trip_with_no_note(slug):
    demo = DEMOS[slug]
    for case, params in cases(slug):
        query = to_query(demo, params)
        assert query["demo"] == slug
        assert all(isinstance(value, str) for value in query.values()), case
        back, notes = from_query(demo, query)
        assert notes == [], f"{case}: {notes}"
        assert back == params, f"{case}: {query}"


@pytest.mark.parametrize("slug", SLUGS)
def test_a_link_names_only_the_fields_that_differ_from_the_defaults(slug):
    demo = DEMOS[slug]
    assert to_query(demo, demo.Params()) == {"demo": slug}
    for case, params in cases(slug):
        changed = {
            name for name in demo.fields if getattr(params, name) != getattr(demo.Params(), name)
        }
        assert set(to_query(demo, params)) == {"demo"} | changed, case
    assert from_query(demo, {"demo": slug}) == (demo.Params(), [])


def _value(control: Any) -> st.SearchStrategy:
    """Any value the control accepts (not only on its step)."""
    if control.kind == "slider":
        if control.integer:
            return st.integers(int(control.minimum), int(control.maximum))
        return st.floats(control.minimum, control.maximum, allow_nan=False)
    if control.kind == "checkbox":
        return st.booleans()
    if control.kind == "text":  # the texts the demo names: its default and its presets'
        demo = next(d for d in DEMOS.values() if control in d.controls)
        texts = [getattr(demo.Params(), control.name)]
        texts += [getattr(preset, control.name) for preset in demo.presets.values()]
        return st.sampled_from(texts)
    values = [value for value, _ in control.choices]
    if control.kind == "checkboxes":
        return st.lists(st.sampled_from(values), max_size=len(values))
    return st.sampled_from(values)


@pytest.mark.parametrize("slug", SLUGS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_any_accepted_params_round_trip(slug, data):
    """Arbitrary floats (0.1 + 0.2, 1e-05, ...) and lists in any order survive the text form."""
    demo = DEMOS[slug]
    values = {c.name: data.draw(_value(c), label=c.name) for c in demo.controls}
    try:
        params = demo.parse(values)
    except ParamsError:  # e.g. an empty list where one choice is needed
        return
    assert from_query(demo, to_query(demo, params)) == (params, [])


def bad_values(control: Any) -> dict[str, str]:
    """Link values the control cannot take, by kind of mistake."""
    if control.kind == "slider":
        span = control.maximum - control.minimum
        bad = {
            "above the maximum": f"{control.maximum + span:g}",
            "below the minimum": f"{control.minimum - span:g}",
            "junk number": "12abc",
            "not a number": "nan",
            "infinite": "inf",
            "empty": "",
        }
        if control.integer:
            bad["not whole"] = f"{control.minimum + 0.5:g}"
        return bad
    if control.kind == "checkbox":
        return {"bad boolean": "maybe", "number boolean": "2"}
    if control.kind == "text":
        return {"over the cap": "x" * (control.max_length + 1)}
    if control.kind == "checkboxes":
        first = control.choices[0][0]
        return {"unknown choice": "no-such-choice", "one unknown of two": f"{first},zzz"}
    return {"unknown choice": "no-such-choice", "case differs": control.default.upper() + "X"}


def bad_cases(slug: str) -> list[tuple[str, str, str]]:
    demo = DEMOS[slug]
    return [
        (control.name, kind, raw)
        for control in demo.controls
        for kind, raw in bad_values(control).items()
    ]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_each_bad_value_falls_back_to_its_default_with_one_note_naming_it(slug, lang):
    demo = DEMOS[slug]
    defaults = demo.Params()
    for name, kind, raw in bad_cases(slug):
        params, notes = from_query(demo, {"demo": slug, name: raw}, lang)
        assert params == defaults, f"{name} ({kind}): {raw!r}"
        assert len(notes) == 1, f"{name} ({kind}): {notes}"
        assert f"`{name}=" in notes[0], notes[0]
        assert bool(CJK.search(notes[0])) == (lang == "zh"), notes[0]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_a_bad_value_keeps_the_good_ones_beside_it(slug, lang):
    demo = DEMOS[slug]
    for case, params in cases(slug):
        query = to_query(demo, params)
        for name, kind, raw in bad_cases(slug)[:: max(1, len(bad_cases(slug)) // 6)]:
            if name in query:
                continue
            back, notes = from_query(demo, {**query, name: raw}, lang)
            assert back == params, f"{case} + {name} ({kind})"
            assert len(notes) == 1 and f"`{name}=" in notes[0], notes


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_an_unknown_key_is_ignored_with_one_note_naming_it(slug, lang):
    demo = DEMOS[slug]
    params, notes = from_query(demo, {"demo": slug, "no_such_knob": "3"}, lang)
    assert params == demo.Params()
    assert len(notes) == 1 and "`no_such_knob`" in notes[0], notes
    assert bool(CJK.search(notes[0])) == (lang == "zh"), notes[0]


@pytest.mark.parametrize("slug", SLUGS)
def test_page_keys_are_not_parameters(slug):
    demo = DEMOS[slug]
    page = {"demo": "some-other-demo", "lang": "zh", "theme": "dark", "__theme": "dark"}
    page |= {"present": "1", "embed": "1"}
    assert set(page) == PAGE_KEYS
    assert from_query(demo, page, "zh") == (demo.Params(), [])
    preset = next(iter(demo.presets.values()))
    assert from_query(demo, {**to_query(demo, preset), **page}) == (preset, [])


@pytest.mark.parametrize("slug", SLUGS)
def test_a_one_megabyte_value_gives_a_short_note(slug):
    demo = DEMOS[slug]
    huge = "9" * 1_000_000
    for control in demo.controls:
        raw = ",".join([huge[:7]] * 125_000) if control.kind == "checkboxes" else huge
        params, notes = from_query(demo, {control.name: raw})
        assert params == demo.Params(), control.name
        assert len(notes) == 1 and len(notes[0]) < 400, (control.name, len(notes[0]))
    params, notes = from_query(demo, {huge: "1"})
    assert params == demo.Params()
    assert len(notes) == 1 and len(notes[0]) < 400
    assert len(notes_markdown(notes * 1000)) < 4000  # at most a few lines, however many notes


INJECTIONS = [
    "x`<img src=x onerror=alert(1)>`",
    "</div><script>alert(1)</script>",
    "a\n\n# heading\n- item",
    "``` fence",
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("slug", SLUGS)
def test_a_note_quotes_no_backtick_tag_or_line_break_from_the_link(slug, lang):
    """Notes are shown as markdown: a value must not close the code span or add HTML."""
    demo = DEMOS[slug]
    names = [*demo.fields, *INJECTIONS]  # known keys with bad values, and bad keys
    for name in names:
        for raw in INJECTIONS:
            _, notes = from_query(demo, {name: raw}, lang)
            (note,) = notes
            assert note.count("`") == 2, note  # only the template's own code span
            assert "<" not in note and ">" not in note, note
            assert "\n" not in note, note


TEXT_FIELDS = [
    (slug, control.name, control.max_length)
    for slug, demo in DEMOS.items()
    for control in demo.controls
    if control.kind == "text"
]


@pytest.mark.parametrize(("slug", "name", "cap"), TEXT_FIELDS)
def test_text_survives_url_encoding_as_typed(slug, name, cap):
    """Typed text travels URL-encoded: spaces, + * / ( ) and '&' or '=' come back unchanged."""
    demo = DEMOS[slug]
    texts = {getattr(preset, name) for preset in demo.presets.values()} | {
        getattr(demo.Params(), name)
    }
    for text in texts:
        params = demo.parse({name: text})
        query = to_query(demo, params)
        url_query = urlencode(query)
        assert " " not in url_query
        if name in query and "+" in text:
            assert "%2B" in url_query  # a "+" is not read back as a space
        back, notes = from_query(demo, dict(parse_qsl(url_query, keep_blank_values=True)))
        assert (back, notes) == (params, [])
    _, notes = from_query(demo, {name: "a&b=c" + "x" * cap})
    assert len(notes) == 1 and f"`{name}=" in notes[0]
