"""The landing gallery: a card per live demo with a fresh preview, search, section chips, and a
card that opens its demo."""

from __future__ import annotations

import html

import httpx
import pytest
from playwright.sync_api import expect

from app.gallery import PREVIEWS, preview_index, preview_name, render_hash
from demos import SECTIONS, all_demos

DEMOS = list(all_demos)


@pytest.mark.parametrize("demo", DEMOS, ids=lambda demo: demo.slug)
def test_every_live_demo_has_a_fresh_preview(demo) -> None:
    """A picture per theme, made from the render the demo gives today."""
    fix = "make them with: .venv/bin/python -m scripts.previews"
    for theme in ("light", "dark"):
        assert (PREVIEWS / preview_name(demo.slug, theme)).is_file(), f"no preview; {fix}"
    assert preview_index().get(demo.slug) == render_hash(demo), f"stale preview; {fix}"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_gallery_lists_every_demo(app_url: str, lang: str) -> None:
    text = httpx.get(f"{app_url}/?lang={lang}").text
    for demo in DEMOS:
        assert html.escape(demo.title(lang)) in text
        assert f'href="/demo/{demo.slug}' in text
    for key, _ in all_demos.sections():
        assert html.escape(SECTIONS[key](lang)) in text


def test_previews_are_served_and_nothing_else(app_url: str) -> None:
    demo = DEMOS[0]
    response = httpx.get(f"{app_url}/previews/{preview_name(demo.slug, 'dark')}")
    assert response.status_code == 200 and response.content[:4] == b"RIFF"
    for name in ("index.json", "../app.css", f"{demo.slug}.webp", "x.light.webp"):
        assert httpx.get(f"{app_url}/previews/{name}").status_code == 404


def open_gallery(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("html[data-gallery-ready='1']", state="attached")


def visible_cards(page) -> set[str]:
    return {
        card.get_attribute("id").removeprefix("card-")
        for card in page.locator(".card:visible").all()
    }


@pytest.mark.browser
def test_search_filters_cards_in_both_languages(page, app_url: str) -> None:
    open_gallery(page, f"{app_url}/")
    assert visible_cards(page) == {demo.slug for demo in DEMOS}
    for demo in DEMOS[:3]:
        # An English page finds a demo by its Chinese title, and the other way round.
        for query in (demo.title.zh, demo.title.en):
            page.locator("#search").fill(query)
            expect(page.locator(f"#card-{demo.slug}")).to_be_visible()
            assert demo.slug in visible_cards(page)
    page.locator("#search").fill("zzzz no such demo")
    expect(page.locator(".card:visible")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()


@pytest.mark.browser
def test_section_chips_filter_cards(page, app_url: str) -> None:
    open_gallery(page, f"{app_url}/?lang=zh&theme=dark")
    assert "dark" in page.locator("body").get_attribute("class")
    for key, demos in all_demos.sections():
        page.locator(f".chip[data-section='{key}']").click()
        expect(page.locator(".card:visible")).to_have_count(len(demos))
        assert visible_cards(page) == {demo.slug for demo in demos}
    page.locator(".chip[data-section='']").click()
    expect(page.locator(".card:visible")).to_have_count(len(DEMOS))


@pytest.mark.browser
def test_a_card_opens_its_demo_in_the_same_tab(page, app_url: str, wait_figure) -> None:
    demo = DEMOS[-1]
    open_gallery(page, f"{app_url}/?lang=zh")
    page.locator(f"#card-{demo.slug}").click()
    page.wait_for_url(f"**/demo/{demo.slug}?lang=zh")
    page.wait_for_selector("html[data-app-ready='1']", state="attached")
    assert wait_figure(page, f"#{demo.slug}-fig0")
    expect(page.locator(f"#{demo.slug}-header h2")).to_have_text(demo.title.zh)
