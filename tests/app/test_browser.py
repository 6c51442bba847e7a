"""The page in Chromium: drawing, live re-render, language, theme, presets, offline.

Generic over `demos.all_demos`. Waits are on the ready marker, on figure data (`gd._fullData`)
and on `expect(...)`; never on time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from demos import all_demos
from demos.theme import TEMPLATES

pytestmark = pytest.mark.browser

DEMOS = list(all_demos)
SLUGS = [demo.slug for demo in DEMOS]
BY_SLUG = {demo.slug: demo for demo in DEMOS}
N_FIGURES = {demo.slug: demo.figure_count() for demo in DEMOS}
# The deep paths (slider, preset, language switch) run on the first demo of each section; every
# demo gets the generic check (its page draws every figure). At 38 demos a deep path on each
# would cost minutes for little: the mechanism is the same code for all of them.
DEEP = [demos[0].slug for _, demos in all_demos.sections()]


def figures(slug: str) -> str:
    """Selector of every figure of a demo."""
    return ", ".join(f"#{slug}-fig{index}" for index in range(N_FIGURES[slug]))


def label(slug: str, control: Any) -> str:
    """Selector of a control's label (a checkbox shows its label beside the box)."""
    if control.kind == "checkbox":
        return f"#{slug}-{control.name} [data-testid='checkbox'] ~ .label-text"
    return f"#{slug}-{control.name} [data-testid='block-info']"


def _number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else f"{value:g}"


def another_value(control: Any) -> str:
    """A valid value of a slider other than its default, as typed in its number box."""
    value = control.default + control.step
    if value > control.maximum:
        value = control.default - control.step
    return _number(value, control.integer)


def set_slider(page: Any, slug: str, field: str, text: str) -> None:
    box = page.locator(f"#{slug}-{field} input[data-testid='number-input']")
    box.fill(text)
    box.press("Tab")  # fires change, input and release


def wait_number(page: Any, slug: str, field: str, value: float) -> None:
    page.wait_for_function(
        """([sel, want]) => {
             const box = document.querySelector(sel);
             return box !== null && box.value !== '' && Math.abs(Number(box.value) - want) < 1e-9;
           }""",
        arg=[f"#{slug}-{field} input[data-testid='number-input']", float(value)],
    )


def open_demo(page: Any, wait_ready: Any, app_url: str, slug: str, query: str = "") -> None:
    """Open one demo's page (`/demo/<slug>?<query>`)."""
    wait_ready(page, f"{app_url}/demo/{slug}{'?' + query if query else ''}")
    expect(page.locator(f"#{slug}-fig0")).to_be_visible()


def expect_control(page: Any, slug: str, control: Any, value: Any) -> None:
    """The control on the page shows `value`."""
    root = f"#{slug}-{control.name}"
    if control.kind == "slider":
        wait_number(page, slug, control.name, value)
    elif control.kind == "radio":
        expect(page.locator(f"{root} input[value='{value}']")).to_be_checked()
    elif control.kind == "dropdown":
        shown = dict(control.choices)[value].en
        expect(page.locator(f"{root} input[role='combobox']")).to_have_value(shown)
    elif control.kind == "checkbox":
        box = page.locator(f"{root} input[data-testid='checkbox']")
        expect(box).to_be_checked(checked=bool(value))
    elif control.kind == "checkboxes":
        for choice, _ in control.choices:
            box = page.locator(f"{root} input[name='{choice}']")
            expect(box).to_be_checked(checked=choice in value)


DARK_CLASS = re.compile(r"(^|\s)dark(\s|$)")
FONT_COLOR_JS = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  return gd?.layout?.template?.layout?.font?.color ?? null;
}"""


def wait_ink(page: Any, slug: str, theme: str) -> None:
    """Every figure of the demo drawn with the font colour of the theme's template."""
    ink = TEMPLATES[theme].layout.font.color
    for index in range(N_FIGURES[slug]):
        page.wait_for_function(
            f"([s, c]) => ({FONT_COLOR_JS})(s) === c", arg=[f"#{slug}-fig{index}", ink]
        )


# --- (g) nothing leaves the machine, in every test ----------------------------------------------


@pytest.fixture(autouse=True)
def requests_seen(page: Any) -> Iterator[list[str]]:
    """Every URL the page asks for during a test; all of them must be on 127.0.0.1."""
    seen: list[str] = []
    page.context.on("request", lambda request: seen.append(request.url))
    yield seen
    outside = {
        url
        for url in seen
        if not url.startswith(("data:", "blob:")) and urlsplit(url).hostname != "127.0.0.1"
    }
    assert not outside, sorted(outside)


def assert_local(seen: list[str]) -> None:
    urls = [url for url in seen if not url.startswith(("data:", "blob:"))]
    assert urls, "no request recorded"
    assert {urlsplit(url).hostname for url in urls} == {"127.0.0.1"}, sorted(set(urls))


# --- (a) every demo draws ----------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_every_demo_draws(
    page: Any,
    app_url: str,
    wait_ready: Any,
    wait_figure: Any,
    requests_seen: list[str],
    slug: str,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_demo(page, wait_ready, app_url, slug)
    expect(page.locator("body")).not_to_have_class(DARK_CLASS)  # light unless asked
    data = wait_figure(page, figures(slug))
    assert len(data) == N_FIGURES[slug]
    assert all(traces for traces in data), f"{slug}: a figure without traces"
    expect(page.locator(f"#{slug}-notes")).to_be_visible()
    expect(page.locator("#nav a.current")).to_have_text(BY_SLUG[slug].title.en)
    wait_ink(page, slug, "light")
    assert errors == []
    assert_local(requests_seen)


# --- (b, c, f) a slider, a preset, the language switch (DEEP demos) ----------------------------
# A page load costs ~3 s on the 2-core machine and the interactions ~1 s each, so each demo gets
# one page and three checks in sequence (each its own function, named in the failure).


def check_slider_rerenders(page: Any, demo: Any, wait_figure: Any) -> None:
    """Typing in the first slider's number box re-renders the figures."""
    slider = next((c for c in demo.controls if c.kind == "slider"), None)
    if slider is None:
        return
    before = wait_figure(page, figures(demo.slug))
    text = another_value(slider)
    set_slider(page, demo.slug, slider.name, text)
    after = wait_figure(page, figures(demo.slug), changed_from=before)
    assert after != before, f"{demo.slug}: moving {slider.name} changed no figure"
    wait_number(page, demo.slug, slider.name, float(text))


def _preset_case(demo: Any) -> tuple[str, str, Any] | None:
    """A preset and a slider it moves away from the default."""
    for name, preset in demo.presets.items():
        for control in demo.controls:
            if control.kind == "slider" and getattr(preset, control.name) != control.default:
                return name, control.name, getattr(preset, control.name)
    return None


def check_preset_sets_controls(page: Any, demo: Any, wait_figure: Any) -> None:
    """Choosing a preset sets every control to the preset's value and re-renders."""
    case = _preset_case(demo)
    assert case is not None, f"{demo.slug}: no preset moves a slider, so none can be checked"
    name, field, value = case
    before = wait_figure(page, figures(demo.slug))
    page.locator(f"#{demo.slug}-preset input").click()
    page.get_by_role("option", name=demo.preset_titles[name].en, exact=True).click()
    wait_number(page, demo.slug, field, value)
    preset = demo.presets[name]
    for control in demo.controls:
        expect_control(page, demo.slug, control, getattr(preset, control.name))
    wait_figure(page, figures(demo.slug), changed_from=before)


def check_language_switch(page: Any, demo: Any) -> None:
    """The language radio relabels every control, the tab and the heading in Chinese, and back."""
    page.locator("#lang input[value='zh']").check()
    for control in demo.controls:
        expect(page.locator(label(demo.slug, control))).to_have_text(control.label.zh)
    expect(page.locator("#nav a.current")).to_have_text(demo.title.zh)
    expect(page.locator(f"#{demo.slug}-header h2")).to_have_text(demo.title.zh)
    page.locator("#lang input[value='en']").check()
    for control in demo.controls:
        expect(page.locator(label(demo.slug, control))).to_have_text(control.label.en)


@pytest.mark.parametrize("slug", DEEP)
def test_controls_drive_the_demo(
    page: Any,
    app_url: str,
    wait_ready: Any,
    wait_figure: Any,
    requests_seen: list[str],
    slug: str,
) -> None:
    demo = BY_SLUG[slug]
    open_demo(page, wait_ready, app_url, slug)
    check_slider_rerenders(page, demo, wait_figure)
    check_preset_sets_controls(page, demo, wait_figure)
    check_language_switch(page, demo)
    assert_local(requests_seen)


# --- (d, e) language and theme from the URL: the app's mechanism, checked on the first demo -----


def test_zh_and_dark_from_url(page: Any, app_url: str, wait_ready: Any) -> None:
    """`?lang=zh` labels every control in Chinese; `?theme=dark` darkens page and figures."""
    demo = DEMOS[0]
    open_demo(page, wait_ready, app_url, demo.slug, "lang=zh&theme=dark")
    expect(page.locator("#lang input[value='zh']")).to_be_checked()
    for control in demo.controls:
        expect(page.locator(label(demo.slug, control))).to_have_text(control.label.zh)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("body")).to_have_class(DARK_CLASS)
    wait_ink(page, demo.slug, "dark")


# --- (h) fonts ----------------------------------------------------------------------------------


def test_cjk_font_installed() -> None:
    fc_list = shutil.which("fc-list")
    assert fc_list, "fc-list missing: apt-get install fontconfig"
    families = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert families.strip(), "no CJK font: apt-get install fonts-wqy-microhei"
