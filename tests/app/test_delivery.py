"""Delivery in Chromium: links that carry state, the embed and present pages, the offline export,
the plain routes.

Generic over `demos.all_demos`. The slow round trips run on the first and the last demo of the
registry (new demos join the last place in turn); the rest on the first. Every test also checks
that the page asked nothing of any host but 127.0.0.1 (`requests_seen`, from test_browser).
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect

from demos import all_demos
from demos.export import LABELS
from demos.links import from_query, to_query
from tests.app.conftest import read_figure
from tests.app.test_browser import (
    DARK_CLASS,
    another_value,
    expect_control,
    figures,
    requests_seen,  # noqa: F401 (autouse: nothing leaves the machine, in every test here)
    set_slider,
    wait_ink,
)

pytestmark = pytest.mark.browser

DEMOS = list(all_demos)
FIRST = DEMOS[0]
ENDS = list({demo.slug: demo for demo in (DEMOS[0], DEMOS[-1])}.values())
READY = "html[data-app-ready='1']"
TIMEOUT_MS = 30_000


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def page_query(demo: Any, params: Any) -> dict[str, str]:
    """What the address bar of a demo's page holds for `params` (the page names the demo)."""
    return {k: v for k, v in to_query(demo, params).items() if k != "demo"}


def has_class(name: str) -> re.Pattern:
    return re.compile(rf"(^|\s){name}(\s|$)")


def first_slider(demo: Any) -> Any:
    slider = next((c for c in demo.controls if c.kind == "slider"), None)
    assert slider is not None, f"{demo.slug}: no slider to drive"
    return slider


def change_choice(page: Any, demo: Any, control: Any, value: Any) -> None:
    """Set a checkbox, radio or checkbox group to `value` as a user does (one click)."""
    root = f"#{demo.slug}-{control.name}"
    if control.kind == "checkbox":
        page.locator(f"{root} input[data-testid='checkbox']").set_checked(value)
    elif control.kind == "radio":
        page.locator(f"{root} input[value='{value}']").check()
    else:  # Gradio appends a ticked choice to the group's value and removes an unticked one
        (choice,) = set(value) ^ set(control.default)
        page.locator(f"{root} input[name='{choice}']").set_checked(choice in value)


def figures_first(page: Any, slug: str) -> bool:
    """Whether the figures column sits left of, or above, the controls column."""
    figs = page.locator(".figures-col", has=page.locator(f"#{slug}-fig0")).bounding_box()
    ctrl = page.locator(".controls-col", has=page.locator(f"#{slug}-preset")).bounding_box()
    assert figs and ctrl, "columns not laid out"
    left = figs["x"] + figs["width"] <= ctrl["x"] + 1
    above = figs["y"] + figs["height"] <= ctrl["y"] + 1
    return left or above


def _plain(value: Any) -> Any:
    """A trace array as given to Plotly: a pre-encoded `{dtype, bdata[, shape]}` decoded."""
    if isinstance(value, dict) and {"dtype", "bdata"} <= set(value):
        array = np.frombuffer(
            base64.b64decode(value["bdata"]), dtype=np.dtype("<" + value["dtype"])
        )
        return array.astype(float)
    return value


def _flat(value: Any) -> np.ndarray:
    array = np.asarray(_plain(value), dtype=object).ravel()
    try:
        return array.astype(float)
    except (TypeError, ValueError):
        return array.astype(str)


def assert_drawn_as_rendered(drawn: Any, rendered: Any, what: str) -> None:
    """Figure data read in the browser (FIG_JS) is that of `demo.render` (x, y, z as given)."""
    assert len(drawn) == len(rendered), what
    for index, (traces, figure) in enumerate(zip(drawn, rendered, strict=True)):
        where = f"{what}, figure {index}"
        names = [(t.type, t.name or f"trace {i}") for i, t in enumerate(figure.data)]
        assert [(t["type"], t["name"]) for t in traces] == names, where
        for got, trace in zip(traces, figure.data, strict=True):
            for axis in ("x", "y", "z"):
                want = getattr(trace, axis, None)
                if want is None:
                    continue
                want, have = _flat(want), _flat(got[axis])
                equal = (
                    np.array_equal(want, have, equal_nan=True)
                    if want.dtype == float and have.dtype == float
                    else np.array_equal(want.astype(str), have.astype(str))
                )
                assert equal, f"{where}, {trace.name}.{axis}"


def wait_drawn_as_rendered(page: Any, slug: str, rendered: Any) -> Any:
    """Poll until the page's figures are `rendered` (a render may still be on its way)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        drawn = read_figure(page, figures(slug))
        try:
            assert drawn is not None, "not drawn"
            assert_drawn_as_rendered(drawn, rendered, slug)
            return drawn
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        page.wait_for_timeout(200)


def link_case(demo: Any) -> dict[str, Any]:
    """Two changed fields for a link: the first slider and the first tick/choice control (or
    the second slider when there is none)."""
    sliders = [c for c in demo.controls if c.kind == "slider"]
    assert sliders, f"{demo.slug}: no slider to drive"
    choice = next((c for c in demo.controls if c.kind in {"checkbox", "radio", "checkboxes"}), None)
    changed: dict[str, Any] = {c.name: float(another_value(c)) for c in sliders[:2]}
    if choice is not None:
        changed = {sliders[0].name: changed[sliders[0].name]}
        changed[choice.name] = next(value for value in other_values(demo, choice))
    return changed


def other_values(demo: Any, control: Any) -> Any:
    """Valid values of a tick/choice control other than its default, simplest first."""
    if control.kind == "checkbox":
        yield not control.default
        return
    values = [value for value, _ in control.choices]
    if control.kind == "radio":
        yield from (v for v in values if v != control.default)
        return
    candidates = [[*control.default, v] for v in values if v not in control.default]
    candidates += [[d for d in control.default if d != v] for v in control.default]
    for value in candidates:
        try:
            demo.parse({control.name: value})
        except ValueError:
            continue
        yield value


# --- (1, 7) a link round trip, and the export link follows the controls ----------------------


@pytest.mark.parametrize("demo", ENDS, ids=lambda demo: demo.slug)
def test_changed_controls_write_the_link_and_the_export_link(
    page: Any, app_url: str, wait_ready: Any, wait_figure: Any, demo: Any
) -> None:
    slug = demo.slug
    wait_ready(page, f"{app_url}/demo/{slug}")
    assert query_of(page.url) == {}
    assert not figures_first(page, slug), "controls come first on the plain page"
    drawn = wait_figure(page, figures(slug))

    changed = link_case(demo)
    for name, value in changed.items():  # one control after the other, as a user does
        control = next(c for c in demo.controls if c.name == name)
        if control.kind == "slider":
            set_slider(page, slug, name, another_value(control))
        else:
            change_choice(page, demo, control, value)
        drawn = wait_figure(page, figures(slug), changed_from=drawn)
    expected = demo.parse(changed)
    wait_drawn_as_rendered(page, slug, demo.render(expected).figures)

    # The address bar names the demo and exactly the changed fields, as demos/links.py writes them.
    want = page_query(demo, expected)
    assert set(want) == set(changed)
    page.wait_for_function(
        "(want) => location.search.slice(1).split('&').length === want.length"
        " && want.every((k) => new URLSearchParams(location.search).has(k))",
        arg=list(want),
    )
    assert query_of(page.url) == want, page.url

    # (7) "Download as HTML" carries the same query.
    href = page.locator(f"#{slug}-export a.export-link").get_attribute("href")
    assert urlsplit(href).path.endswith(f"export/{slug}.html")
    assert query_of(href) == want, href


class StaleRenderError(AssertionError):
    """The page asked for a render of values that are not the link's."""


@pytest.mark.parametrize(
    "demo",
    ENDS,
    ids=lambda demo: demo.slug,
)
def test_a_link_restores_the_controls_and_draws_its_figures(
    page: Any, app_url: str, wait_ready: Any, wait_figure: Any, demo: Any
) -> None:
    """Opening the link of the test above (the address bar equals `to_query`) in a new page."""
    slug = demo.slug
    params = demo.parse(link_case(demo))
    values = [getattr(params, name) for name in demo.fields]
    sent: list[list] = []

    def record(request: Any) -> None:
        if "/queue/join" in request.url:
            sent.append(json.loads(request.post_data or "{}").get("data", []))

    page.on("request", record)
    want = page_query(demo, params)
    wait_ready(page, f"{app_url}/demo/{slug}?{urlencode(want)}")
    for control in demo.controls:
        expect_control(page, slug, control, getattr(params, control.name))
    expect(page.locator(f"#{slug}-linknote")).to_be_hidden()
    assert query_of(page.url) == want
    wait_figure(page, figures(slug))
    # Every render of this demo the page asked for is of the link's values (the UI handler's
    # inputs are the language, the theme, then the controls in field order): a render of other
    # values may land last and leave its figures under the link's controls.
    renders = [
        data[2:] for data in sent if len(data) == 2 + len(values) and data[:2] == [None, None]
    ]
    stale = [data for data in renders if data != values]
    if stale:
        raise StaleRenderError(f"renders asked with other values than the link's: {stale}")
    wait_drawn_as_rendered(page, slug, demo.render(params).figures)


# --- (2) a link with a bad value and an unknown key ----------------------------------------------


def test_a_bad_link_shows_a_note_and_uses_the_defaults(
    page: Any, app_url: str, wait_ready: Any, wait_figure: Any
) -> None:
    demo = FIRST
    slider = first_slider(demo)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    query = {slider.name: "12abc", "no_such_knob": "1"}
    response = page.goto(f"{app_url}/demo/{demo.slug}?{urlencode(query)}")
    assert response is not None and response.status == 200
    page.wait_for_selector(READY, state="attached")
    note = page.locator(f"#{demo.slug}-linknote")
    expect(note).to_be_visible()
    expect(note).to_contain_text(f"{slider.name}=12abc")
    expect(note).to_contain_text("no_such_knob")
    defaults = demo.Params()
    for control in demo.controls:
        expect_control(page, demo.slug, control, getattr(defaults, control.name))
    assert wait_figure(page, figures(demo.slug))
    assert errors == []


# --- (3) /demo/<slug> inside an iframe of another page -------------------------------------------


def test_the_demo_page_works_inside_an_iframe(page: Any, app_url: str, wait_figure: Any) -> None:
    demo = FIRST
    slider = first_slider(demo)
    value = another_value(slider)
    src = f"{app_url}/demo/{demo.slug}?{slider.name}={value}"
    page.set_content(
        f'<!doctype html><h1>A course page</h1>\n<iframe id="demo" src="{src}" '
        'style="width: 1100px; height: 900px; border: 0"></iframe>'
    )
    inner = page.frame_locator("#demo")
    inner.locator(READY).wait_for(state="attached")
    frame = page.frame(url=lambda url: url.startswith(app_url))
    assert frame is not None
    assert query_of(frame.url) == {slider.name: value}
    expect(inner.locator("body")).to_have_class(has_class("embed"))
    expect(inner.locator("body")).not_to_have_class(has_class("present"))
    expect(inner.locator("#nav-col")).to_be_hidden()  # an iframe shows the demo alone
    expect(inner.locator("#lang")).to_be_hidden()
    expect(inner.locator(f"#{demo.slug}-fig0")).to_be_visible()
    expect(inner.locator(f"#{demo.slug}-about")).to_be_visible()
    expect_control(frame, demo.slug, slider, float(value))
    drawn = wait_figure(frame, figures(demo.slug))
    assert all(traces for traces in drawn)


# --- (4) present=1 and theme=dark ---------------------------------------------------------------


def test_present_and_dark_give_large_type_figures_first_and_no_chrome(
    page: Any, app_url: str, wait_ready: Any, wait_figure: Any
) -> None:
    demo = FIRST
    wait_ready(page, f"{app_url}/demo/{demo.slug}?present=1&theme=dark")
    body = page.locator("body")
    for name in ("present", "embed"):
        expect(body).to_have_class(has_class(name))
    expect(body).to_have_class(DARK_CLASS)
    expect(page.locator("#nav-col")).to_be_hidden()
    expect(page.locator("#lang")).to_be_hidden()
    expect(page.locator(f"#{demo.slug}-copy")).to_be_hidden()
    wait_figure(page, figures(demo.slug))
    wait_ink(page, demo.slug, "dark")
    assert figures_first(page, demo.slug)
    size = page.evaluate(
        "(sel) => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize)",
        f"#{demo.slug}-about p",
    )
    assert size >= 20, f"presentation text is {size}px"


# --- (5) the exported file draws with every request blocked -------------------------------------


@pytest.mark.parametrize("demo", ENDS, ids=lambda demo: demo.slug)
def test_the_export_draws_with_all_network_blocked(
    browser: Any, app_url: str, wait_figure: Any, tmp_path: Path, demo: Any
) -> None:
    name, preset = next(iter(demo.presets.items()))
    query = {**to_query(demo, preset), "theme": "dark"}
    response = httpx.get(f"{app_url}/export/{demo.slug}.html", params=query, timeout=60)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / f"{demo.slug}.html"
    path.write_bytes(response.content)
    print(f"\n{demo.slug} at preset {name!r}: {path.stat().st_size:,} bytes")

    blocked: list[str] = []

    def only_the_file(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context = browser.new_context(offline=True)
    context.route("**/*", only_the_file)
    offline = context.new_page()
    offline.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    offline.on("pageerror", lambda error: errors.append(str(error)))
    offline.goto(path.as_uri())
    drawn = wait_figure(offline, ".figure")
    assert_drawn_as_rendered(drawn, demo.render(preset).figures, f"{path.name} offline")
    expect(offline.locator("body")).to_have_class(DARK_CLASS)
    expect(offline.locator(".modebar-btn[data-title*='png' i]").first).to_be_attached()

    # The parameters shown, and those of the link back, are the link's.
    table = f"xpath=//h2[normalize-space()='{LABELS['params']('en')}']/following-sibling::table[1]"
    rows = offline.locator(f"{table}//tbody/tr").evaluate_all(
        "(rows) => rows.map((r) => [r.querySelector('code').textContent, r.cells[1].textContent])"
    )
    shown = {field: text for field, text in rows}
    assert list(shown) == demo.fields
    for field in demo.fields:
        value = getattr(preset, field)
        assert shown[field] == (", ".join(value) if isinstance(value, list) else str(value))
    back = offline.get_by_role("link", name=LABELS["open"]("en")).get_attribute("href")
    assert back.startswith(f"{app_url}/demo/{demo.slug}?")
    assert from_query(demo, query_of(back)) == (preset, [])
    assert blocked == [] and errors == []
    context.close()


# --- the plain routes: redirects, unknown demos, a bad export link -------------------------------


def test_the_routes_redirect_refuse_and_fall_back(app_url: str) -> None:
    slug = FIRST.slug
    with httpx.Client(base_url=app_url, timeout=60) as client:
        response = client.get(f"/demo/{slug}", params={"x": "1", "present": "1"})
        assert response.status_code == 200 and "<!doctype html>" in response.text.lower()
        # An old link: the demo's page, with the same parameters.
        response = client.get("/", params={"demo": slug, "x": "1", "lang": "zh"})
        assert response.status_code == 307
        target = urlsplit(response.headers["location"])
        assert target.path == f"/demo/{slug}"
        assert query_of(response.headers["location"]) == {"x": "1", "lang": "zh"}
        for path in ("/demo/no-such-demo", "/export/no-such-demo.html"):
            assert client.get(path).status_code == 404, path
        bad = client.get(f"/export/{slug}.html", params={first_slider(FIRST).name: "junk"})
        assert bad.status_code == 200 and bad.text.startswith("<!doctype html>")
