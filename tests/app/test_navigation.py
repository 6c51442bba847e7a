"""A link is drawn right the first time, and the navigation moves between demos in one click."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from demos import all_demos
from demos.theme import TEMPLATES

pytestmark = pytest.mark.browser

# Installed before any page script: records the first data and font colour drawn in fig0.
FIRST_DRAWN_JS = """
(() => {
  const poll = () => {
    const gd = document.querySelector('[id$="-fig0"] .js-plotly-plot');
    if (gd && gd._fullData && gd._fullData.length && window.__firstDrawn === undefined) {
      window.__firstDrawn = JSON.stringify({
        x: gd._fullData.map((t) => Array.from(t.x ?? [])),
        ink: gd.layout?.template?.layout?.font?.color ?? null,
        title: gd.layout?.title?.text ?? null,
      });
      return;
    }
    setTimeout(poll, 5);
  };
  poll();
})();
"""
NOW_DRAWN_JS = """() => {
  const gd = document.querySelector('[id$="-fig0"] .js-plotly-plot');
  return JSON.stringify({x: gd._fullData.map((t) => Array.from(t.x ?? [])),
    ink: gd.layout?.template?.layout?.font?.color ?? null, title: gd.layout?.title?.text ?? null});
}"""


def first_and_settled(page, url: str) -> tuple[dict, dict]:
    page.add_init_script(FIRST_DRAWN_JS)
    page.goto(url)
    page.wait_for_selector("html[data-app-ready='1']", state="attached")
    page.wait_for_function("() => window.__firstDrawn !== undefined")
    first = json.loads(page.evaluate("() => window.__firstDrawn"))
    return first, json.loads(page.evaluate(NOW_DRAWN_JS))


def test_link_with_parameters_is_drawn_right_first(page, app_url: str) -> None:
    """activations' x_range=3 changes the curves' x: the first drawing already has it."""
    first, settled = first_and_settled(page, f"{app_url}/demo/activations?x_range=3")
    assert first == settled
    assert max(max(x) for x in first["x"] if x) <= 3.0 + 1e-9


@pytest.mark.parametrize("query", ["lang=zh&theme=dark", "theme=dark&present=1"])
def test_link_language_and_theme_are_drawn_right_first(page, app_url: str, query: str) -> None:
    first, settled = first_and_settled(page, f"{app_url}/demo/spp?{query}")
    assert first == settled
    theme = "dark-present" if "present" in query else "dark"
    assert first["ink"] == TEMPLATES[theme].layout.font.color


def test_navigation_moves_between_two_demos(page, app_url: str, wait_figure) -> None:
    demos = list(all_demos)
    here, there = demos[0], demos[-1]
    page.goto(f"{app_url}/demo/{here.slug}?lang=zh")
    page.wait_for_selector("html[data-app-ready='1']", state="attached")
    current = page.locator("#nav a.current")
    expect(current).to_have_text(here.title.zh)
    page.locator(f"#nav a[href='/demo/{there.slug}?lang=zh']").click()
    page.wait_for_url(f"**/demo/{there.slug}?lang=zh")
    page.wait_for_selector("html[data-app-ready='1']", state="attached")
    expect(page.locator("#nav a.current")).to_have_text(there.title.zh)
    assert wait_figure(page, f"#{there.slug}-fig0")
    page.locator("#nav a.nav-home").click()
    page.wait_for_url(f"{app_url}/?lang=zh")
    expect(page.locator(f"#card-{here.slug}")).to_be_visible()


def test_page_in_an_iframe_shows_the_demo_alone(page, app_url: str) -> None:
    page.set_content(f'<iframe src="{app_url}/demo/spp" width="1200" height="800"></iframe>')
    frame = page.frame_locator("iframe")
    expect(frame.locator("#spp-fig0 .js-plotly-plot")).to_be_visible(timeout=30_000)
    expect(frame.locator("#nav-col")).to_be_hidden()
