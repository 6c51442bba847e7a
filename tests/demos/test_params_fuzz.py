"""Every demo's `Params` against hostile input, in-process (hypothesis and a fixed table).

Generic over `demos.all_demos`: a demo added later is fuzzed by these tests as it is. What a
request can send is JSON (numbers, strings, booleans, null, lists, objects), so that is what
the strategies draw. `demo.parse` either gives Params or raises ParamsError with one short
line that names the field; any valid Params renders. Nothing else may come out.
"""

from __future__ import annotations

import math
from typing import Any

import annotated_types
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from demos import all_demos
from demos.base import ParamsError
from demos.theme import figure_json

DEMOS = {demo.slug: demo for demo in all_demos}
SLUGS = list(DEMOS)
MB_STRING = "x" * 1_000_000
# Hypothesis' own deadline measures wall time, which a shared 2-core machine makes noisy.
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RENDERS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_one_line_about(message: str, names: set[str]) -> None:
    """A refusal the user can read: one line, short, starting with a field it names."""
    assert "\n" not in message and len(message) <= 300, message[:400]
    # A name as the message writes it: whitespace collapsed (demos.base._shorten).
    assert any(message.startswith(" ".join(f"{name}:".split())) for name in names), message[:200]
    for leak in ("Traceback", "/work/", '.py"', "pydantic.dev"):
        assert leak not in message, message[:200]


def parse_or_refuse(demo: Any, values: dict[str, Any]) -> Any:
    """`demo.parse(values)`: Params, or None after checking the refusal."""
    try:
        return demo.parse(values)
    except ParamsError as error:
        assert_one_line_about(str(error), set(demo.fields) | set(values))
        return None


def list_lengths(demo: Any, name: str) -> tuple[int, int]:
    metadata = demo.Params.model_fields[name].metadata
    low = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
    high = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)
    return low, high


def text_examples(demo: Any, name: str) -> list[str]:
    """A text field's accepted values the demo itself names: the default and every preset's."""
    values = [getattr(demo.Params(), name)]
    values += [getattr(preset, name) for preset in demo.presets.values()]
    return list(dict.fromkeys(values))


# --- strategies ----------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", " ", "nan", "inf", "-Infinity", "1e400", "0x10", "true", MB_STRING]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def near_bounds(control: Any) -> st.SearchStrategy:
    """Numbers at, just inside and just outside a slider's range."""
    low, high = control.minimum, control.maximum
    edges = [low, high, math.nextafter(low, -math.inf), math.nextafter(high, math.inf)]
    edges += [low - 1, high + 1, (low + high) / 2, -high, 2 * high + 1]
    if control.integer:
        edges += [int(low) - 1, int(high) + 1, int(low), int(high)]
    return st.sampled_from(edges)


def hostile_value(demo: Any, name: str) -> st.SearchStrategy:
    control = next(c for c in demo.controls if c.name == name)
    options = [JSON_VALUES]
    if control.kind == "slider":
        options.append(near_bounds(control))
    if control.kind == "text":  # typed text: any string, around the cap, and control characters
        cap = control.max_length
        options += [
            st.text(max_size=cap + 5),
            st.text(alphabet="xyz0123456789.+-*/() ,", min_size=cap - 2, max_size=cap + 2),
            st.sampled_from(["\n", "\x00", "x" * cap, "x" * (cap + 1), "é" * cap]),
        ]
    choices = [value for value, _ in control.choices]
    if choices:
        pool = st.sampled_from([*choices, "no-such-choice", "", choices[0].upper()])
        options += [pool, st.lists(pool, max_size=len(choices) + 3)]
    return st.one_of(options)


@st.composite
def hostile_request(draw: st.DrawFn, demo: Any) -> dict[str, Any]:
    """Some of the demo's fields with any JSON value, sometimes an unknown field too."""
    names = draw(st.lists(st.sampled_from(demo.fields), unique=True, max_size=len(demo.fields)))
    values = {name: draw(hostile_value(demo, name)) for name in names}
    if draw(st.booleans()):
        values[draw(st.text(min_size=1, max_size=10))] = draw(JSON_SCALARS)
    return values


@st.composite
def valid_request(draw: st.DrawFn, demo: Any) -> dict[str, Any]:
    """Any request the Params accept, drawn from the controls (lists may repeat a choice)."""
    values: dict[str, Any] = {}
    for control in demo.controls:
        if control.kind == "slider":
            low, high = control.minimum, control.maximum
            if control.integer:
                # On the slider's grid: a demo may accept only its steps (even widths, ...).
                step = int(control.step or 1)
                count = (int(high) - math.ceil(low)) // step
                values[control.name] = math.ceil(low) + step * draw(st.integers(0, count))
            else:
                values[control.name] = draw(st.floats(low, high, allow_nan=False))
        elif control.kind == "checkbox":
            values[control.name] = draw(st.booleans())
        elif control.kind == "checkboxes":
            low, high = list_lengths(demo, control.name)
            choices = [value for value, _ in control.choices]
            values[control.name] = draw(
                st.lists(st.sampled_from(choices), min_size=low, max_size=high or len(choices))
            )
        elif control.kind == "text":  # the texts a demo shows: its default and its presets'
            values[control.name] = draw(st.sampled_from(text_examples(demo, control.name)))
        else:
            values[control.name] = draw(st.sampled_from([value for value, _ in control.choices]))
    return values


# --- properties ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_any_json_request_gives_params_or_one_line_naming_the_field(slug: str) -> None:
    demo = DEMOS[slug]

    @FAST
    @given(hostile_request(demo))
    def check(values: dict[str, Any]) -> None:
        params = parse_or_refuse(demo, values)
        if params is not None:
            assert isinstance(params, demo.Params)
            assert set(values) <= set(demo.fields)

    check()


@pytest.mark.parametrize("slug", SLUGS)
def test_any_accepted_request_renders(slug: str) -> None:
    """Random points of the accepted space (not only presets and bounds) render and serialise."""
    demo = DEMOS[slug]

    @RENDERS
    @given(valid_request(demo))
    def check(values: dict[str, Any]) -> None:
        try:
            params = demo.parse(values)
        except ParamsError as error:  # a rule across fields (e.g. a cap on tiles): one line
            assert "\n" not in str(error) and len(str(error)) <= 300
            reject()
        rendered = demo.render(params)
        assert rendered.figures
        for figure in rendered.figures:
            assert figure_json(figure)

    check()


# --- a fixed table of the classic bad values, for every field --------------------------------------


def bad_values(demo: Any, control: Any) -> list[tuple[str, Any]]:
    deep_list: list = []
    deep = deep_list
    for _ in range(500):  # nested 500 deep: a parser's or a validator's recursion
        deep.append([])
        deep = deep[0]
    cases: list[tuple[str, Any]] = [
        ("null", None),
        ("1mb-string", MB_STRING),
        ("object", {"value": 1}),
        ("deep-list", deep_list),
    ]
    if control.kind != "text":  # an empty text may be a valid value (a demo's own rule)
        cases.append(("empty-string", ""))
    if control.kind == "slider":
        span = control.maximum - control.minimum
        cases += [
            ("below-min", control.minimum - span / 2 - 1),
            ("above-max", control.maximum + span / 2 + 1),
            ("nan", math.nan),
            ("inf", math.inf),
            ("-inf", -math.inf),
            ("huge-int", 10**400),
            ("string", "abc"),
            ("list", [control.minimum]),
        ]
        if control.integer:
            cases.append(("fraction", control.minimum + 0.5))
    elif control.kind == "checkbox":
        cases += [("string", "maybe"), ("number", 2), ("list", [True])]
    elif control.kind == "checkboxes":
        choices = [value for value, _ in control.choices]
        _, high = list_lengths(demo, control.name)
        cases += [
            ("unknown-choice", ["no-such-choice"]),
            ("scalar", choices[0]),
            ("100k-items", choices * (100_000 // len(choices) + 1)),
            ("too-many", choices * 2 if high is not None else ["no-such-choice"]),
            ("list-of-1mb", [MB_STRING]),
        ]
    elif control.kind == "text":
        cap = control.max_length
        cases += [
            ("number", 1),
            ("list", [control.default]),
            ("one-over-the-cap", "x" * (cap + 1)),
            ("bytes-like", {"0": "x"}),
        ]
    else:
        cases += [("unknown-choice", "no-such-choice"), ("number", 1), ("list", [control.default])]
    return cases


BAD = [
    pytest.param(slug, control.name, label, id=f"{slug}-{control.name}-{label}")
    for slug, demo in DEMOS.items()
    for control in demo.controls
    for label, _ in bad_values(demo, control)
]


@pytest.mark.parametrize(("slug", "field", "label"), BAD)
def test_classic_bad_value_is_refused_naming_the_field(slug: str, field: str, label: str) -> None:
    demo = DEMOS[slug]
    control = next(c for c in demo.controls if c.name == field)
    value = dict(bad_values(demo, control))[label]
    with pytest.raises(ParamsError) as raised:
        demo.parse({field: value})
    message = str(raised.value)
    assert_one_line_about(message, {field})
    if control.kind == "slider":
        assert control.allowed() in message  # what is allowed, e.g. "1..20"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_list_and_number_is_capped(slug: str) -> None:
    """No field lets a request grow the work without bound: lists have a max length, numbers
    both bounds (Demo checks ge/le on numbers; here the lists)."""
    demo = DEMOS[slug]
    for control in demo.controls:
        if control.kind == "checkboxes":
            _, high = list_lengths(demo, control.name)
            assert high is not None, f"{control.name}: a list needs max_length"
        elif control.kind == "slider":
            assert math.isfinite(control.minimum) and math.isfinite(control.maximum)
        elif control.kind == "text":
            assert control.max_length is not None and control.max_length <= 10_000
