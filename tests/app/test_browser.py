"""The page in Chromium: drawing, live re-render, language, theme, presets, offline.

Generic over `demos.all_demos`. Waits are on the ready marker, on figure data (`gd._fullData`)
and on `expect(...)`; never on time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
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
N_FIGURES = {demo.slug: len(demo.render().figures) for demo in DEMOS}


def figures(slug: str) -> str:
    """Selector of every figure of a demo."""
    return ", ".join(f"#{slug}-fig{index}" for index in range(N_FIGURES[slug]))


def label(slug: str, field: str) -> Any:
    return f"#{slug}-{field} [data-testid='block-info']"


def first_slider(demo: Any) -> Any:
    slider = next((c for c in demo.controls if c.kind == "slider"), None)
    if slider is None:
        pytest.skip(f"{demo.slug} has no slider")
    return slider


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


def show_demo(page: Any, demo: Any) -> None:
    """Select a demo's section and tab when its figures are not on screen."""
    if page.locator(f"#{demo.slug}-fig0").is_visible():
        return
    section = page.locator(f"#section-{demo.section}-button")
    if section.count() and not page.locator(f"#tab-{demo.slug}-button").is_visible():
        section.click()
    page.locator(f"#tab-{demo.slug}-button").click()
    expect(page.locator(f"#{demo.slug}-fig0")).to_be_visible()


# --- (a) every demo draws ----------------------------------------------------------------------


def test_every_demo_draws(page: Any, app_url: str, wait_ready: Any, wait_figure: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    wait_ready(page, app_url + "/")
    expect(page.locator("#heading")).to_be_visible()
    for demo in DEMOS:
        show_demo(page, demo)
        data = wait_figure(page, figures(demo.slug))
        assert len(data) == N_FIGURES[demo.slug]
        assert all(traces for traces in data), f"{demo.slug}: a figure without traces"
        expect(page.locator(f"#{demo.slug}-notes")).to_be_visible()
    assert errors == []


# --- (b) a slider re-renders --------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_slider_rerenders(
    page: Any, app_url: str, wait_ready: Any, wait_figure: Any, slug: str
) -> None:
    demo = BY_SLUG[slug]
    slider = first_slider(demo)
    wait_ready(page, f"{app_url}/?demo={slug}")
    before = wait_figure(page, figures(slug))
    text = another_value(slider)
    set_slider(page, slug, slider.name, text)
    after = wait_figure(page, figures(slug), changed_from=before)
    assert after != before
    wait_number(page, slug, slider.name, float(text))


# --- (c, d) language ----------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_language_switch(page: Any, app_url: str, wait_ready: Any, slug: str) -> None:
    demo = BY_SLUG[slug]
    control = demo.controls[0]
    wait_ready(page, f"{app_url}/?demo={slug}")
    title = page.locator(label(slug, control.name))
    expect(title).to_have_text(control.label.en)
    page.locator("#lang input[value='zh']").check()
    expect(title).to_have_text(control.label.zh)
    page.locator("#lang input[value='en']").check()
    expect(title).to_have_text(control.label.en)


@pytest.mark.parametrize("slug", SLUGS)
def test_lang_zh_in_url(page: Any, app_url: str, wait_ready: Any, slug: str) -> None:
    demo = BY_SLUG[slug]
    wait_ready(page, f"{app_url}/?demo={slug}&lang=zh")
    expect(page.locator("#lang input[value='zh']")).to_be_checked()
    for control in demo.controls:
        expect(page.locator(label(slug, control.name))).to_have_text(control.label.zh)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


# --- (e) dark theme -----------------------------------------------------------------------------

FONT_COLOR_JS = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  return gd?.layout?.template?.layout?.font?.color ?? null;
}"""


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_theme_in_url(page: Any, app_url: str, wait_ready: Any, slug: str, theme: str) -> None:
    wait_ready(page, f"{app_url}/?demo={slug}&theme={theme}")
    body = page.locator("body")
    if theme == "dark":
        expect(body).to_have_class(re.compile(r"(^|\s)dark(\s|$)"))
    else:
        expect(body).not_to_have_class(re.compile(r"(^|\s)dark(\s|$)"))
    ink = TEMPLATES[theme].layout.font.color
    for index in range(N_FIGURES[slug]):
        page.wait_for_function(
            f"([s, c]) => ({FONT_COLOR_JS})(s) === c", arg=[f"#{slug}-fig{index}", ink]
        )


# --- (f) presets --------------------------------------------------------------------------------


def _preset_case(demo: Any) -> tuple[str, str, Any] | None:
    """A preset and a slider it moves away from the default."""
    for name, preset in demo.presets.items():
        for control in demo.controls:
            if control.kind == "slider" and getattr(preset, control.name) != control.default:
                return name, control.name, getattr(preset, control.name)
    return None


@pytest.mark.parametrize("slug", SLUGS)
def test_preset_sets_controls(
    page: Any, app_url: str, wait_ready: Any, wait_figure: Any, slug: str
) -> None:
    demo = BY_SLUG[slug]
    case = _preset_case(demo)
    if case is None:
        pytest.skip(f"{slug}: no preset moves a slider")
    name, field, value = case
    wait_ready(page, f"{app_url}/?demo={slug}")
    before = wait_figure(page, figures(slug))
    page.locator(f"#{slug}-preset input").click()
    page.get_by_role("option", name=demo.preset_titles[name].en, exact=True).click()
    wait_number(page, slug, field, value)
    preset = demo.presets[name]
    for control in demo.controls:
        if control.kind == "slider":
            wait_number(page, slug, control.name, getattr(preset, control.name))
    wait_figure(page, figures(slug), changed_from=before)


# --- (g) nothing leaves the machine -------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_requests_stay_local(
    page: Any, app_url: str, wait_ready: Any, wait_figure: Any, slug: str
) -> None:
    demo = BY_SLUG[slug]
    seen: list[str] = []
    page.context.on("request", lambda request: seen.append(request.url))
    wait_ready(page, f"{app_url}/?demo={slug}")
    before = wait_figure(page, figures(slug))
    slider = next((c for c in demo.controls if c.kind == "slider"), None)
    if slider is not None:
        set_slider(page, slug, slider.name, another_value(slider))
        wait_figure(page, figures(slug), changed_from=before)
    page.locator("#lang input[value='zh']").check()
    expect(page.locator(label(slug, demo.controls[0].name))).to_have_text(
        demo.controls[0].label.zh
    )
    urls = [url for url in seen if not url.startswith(("data:", "blob:"))]
    assert urls, "no request recorded"
    assert {urlsplit(url).hostname for url in urls} == {"127.0.0.1"}, sorted(set(urls))


# --- (h) fonts ----------------------------------------------------------------------------------


def test_cjk_font_installed() -> None:
    fc_list = shutil.which("fc-list")
    assert fc_list, "fc-list missing: apt-get install fontconfig"
    families = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert families.strip(), "no CJK font: apt-get install fonts-wqy-microhei"
