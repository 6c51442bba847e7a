"""The offline export: one well-formed HTML file per demo that fetches nothing when opened.

Generic over `all_demos`, at the defaults, in both languages and both themes. The file is read
with `html.parser` (no browser here; tests/app/test_delivery.py opens it in Chromium offline).
"""

from __future__ import annotations

import dataclasses
import json
import re
from functools import cache
from html.parser import HTMLParser
from typing import Any

import pytest

from demos import all_demos
from demos.export import LABELS, export_html
from demos.theme import TEMPLATES, figure_json

DEMOS = {demo.slug: demo for demo in all_demos}
SLUGS = list(DEMOS)
COMBOS = [("en", "light"), ("zh", "dark"), ("zh", "light"), ("en", "dark")]
LINK = "http://127.0.0.1:7860/?demo={slug}&lang={lang}"
VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "source", "wbr"}
# Attributes a browser fetches (or navigates to) on its own when the page opens.
FETCHED = {"src", "srcset", "poster", "data", "action", "formaction", "background", "manifest"}
SPEC = re.compile(r'var spec = (.*);\nPlotly\.newPlot\("(fig\d+)", ', re.DOTALL)


class Page(HTMLParser):
    """Tags, script bodies, visible text and the parameters table of a document; checks nesting."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self.tables: list[dict[str, list]] = []  # each: header cells, body rows of cells
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append({"head": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in {"td", "th"} and self.tables:
            cells = self.tables[-1]["head" if tag == "th" else "rows"]
            (cells if tag == "th" else cells[-1]).append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        where = self.stack[-1] if self.stack else ""
        if where == "script":
            self.scripts.append(data)
        elif where == "style":
            self.styles.append(data)
        else:
            self.text.append(data)
            if "th" in self.stack:
                self.tables[-1]["head"][-1] += data
            elif "td" in self.stack:
                self.tables[-1]["rows"][-1][-1] += data

    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())

    def specs(self) -> dict[str, Any]:
        """Each figure's Plotly JSON, by div id, read back from its script."""
        found = {}
        for script in self.scripts:
            match = SPEC.search(script)
            if match:
                found[match.group(2)] = json.loads(match.group(1))
        return found


@cache
def exported(slug: str, lang: str, theme: str) -> tuple[str, Page]:
    link = LINK.format(slug=slug, lang=lang) if theme == "light" else ""
    demo = DEMOS[slug]
    text = export_html(demo, demo.Params(), lang=lang, theme=theme, link=link)
    return text, Page(text)


@cache
def rendered_figures(slug: str, lang: str) -> list[Any]:
    return DEMOS[slug].render(lang=lang).figures


def expected_specs(slug: str, lang: str, theme: str) -> list[Any]:
    return [json.loads(figure_json(figure, theme)) for figure in rendered_figures(slug, lang)]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


combos = pytest.mark.parametrize("lang,theme", COMBOS)
slugs = pytest.mark.parametrize("slug", SLUGS)


@combos
@slugs
def test_the_file_is_well_formed_and_in_the_page_language_and_theme(slug, lang, theme):
    text, page = exported(slug, lang, theme)
    assert text.startswith("<!doctype html>")
    assert page.errors == []
    html_tag = next(attrs for tag, attrs in page.tags if tag == "html")
    assert html_tag["lang"] == ("zh-CN" if lang == "zh" else "en")
    body = next(attrs for tag, attrs in page.tags if tag == "body")
    assert body["class"] == theme
    assert DEMOS[slug].title(lang) in page.visible()


@combos
@slugs
def test_one_div_and_one_newplot_per_figure_with_the_rendered_data(slug, lang, theme):
    text, page = exported(slug, lang, theme)
    expected = expected_specs(slug, lang, theme)
    divs = [
        attrs["id"] for tag, attrs in page.tags if tag == "div" and attrs.get("class") == "figure"
    ]
    assert divs == [f"fig{index}" for index in range(len(expected))]
    assert text.count("Plotly.newPlot(") == len(expected)
    specs = page.specs()
    assert list(specs) == divs
    for div, spec in zip(divs, specs.values(), strict=True):
        assert spec == expected[divs.index(div)], div
        assert spec["layout"]["template"]["layout"]["font"]["color"] == (
            TEMPLATES[theme].layout.font.color
        )


@combos
@slugs
def test_the_parameters_table_lists_every_field_with_its_value(slug, lang, theme):
    demo = DEMOS[slug]
    _, page = exported(slug, lang, theme)
    defaults = demo.Params()
    header = [LABELS["parameter"](lang), LABELS["value"](lang)]
    (table,) = [table for table in page.tables if table["head"] == header]
    rows = [row for row in table["rows"] if row]  # the header's own row has no <td>
    assert len(rows) == len(demo.fields)
    for control, (label, value) in zip(demo.controls, rows, strict=True):
        assert label.split() == [*control.label(lang).split(), control.name]
        shown = getattr(defaults, control.name)
        if isinstance(shown, list):
            shown = ", ".join(shown)
        assert value == str(shown), control.name
    assert LABELS["params"](lang) in page.visible()


@combos
@slugs
def test_the_explanation_and_sources_are_in_the_file(slug, lang, theme):
    demo = DEMOS[slug]
    _, page = exported(slug, lang, theme)
    text = page.visible()
    assert LABELS["explanation"](lang) in text
    explanation = Page(_render_markdown(demo.explanation(lang))).visible()
    assert len(explanation) > 200 and explanation in text
    for source in demo.sources:
        assert source.title in text
        if source.url:
            assert ("a", {"href": source.url}) in page.tags


def _render_markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(text)


@combos
@slugs
def test_the_link_back_is_there_when_given(slug, lang, theme):
    _, page = exported(slug, lang, theme)
    hrefs = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    link = LINK.format(slug=slug, lang=lang)
    if theme == "light":  # exported() passes the link for light pages only
        assert link in hrefs
        assert LABELS["open"](lang) in page.visible()
    else:
        assert link not in hrefs
        assert LABELS["open"](lang) not in page.visible()


@combos
@slugs
def test_nothing_in_the_file_is_fetched_from_elsewhere(slug, lang, theme):
    _, page = exported(slug, lang, theme)
    for tag, attrs in page.tags:
        fetched = {
            k: v for k, v in attrs.items() if k in FETCHED and not (v or "").startswith("data:")
        }
        assert not fetched, (tag, attrs)
        assert tag not in {"link", "iframe", "embed", "object", "base", "img"}, (tag, attrs)
        if tag == "meta":
            assert "http-equiv" not in attrs, attrs
        assert "url(" not in (attrs.get("style") or ""), attrs
    for style in page.styles:
        assert "url(" not in style and "@import" not in style
    assert len(page.scripts) == 1 + len(expected_specs(slug, lang, theme))  # plotly.js + figures
    assert "plotly.js" in page.scripts[0][:2000].lower()  # the bundle itself, inline
    for div, spec in page.specs().items():
        urls = [s for s in _strings(spec) if re.match(r"\s*(https?:)?//", s)]
        assert not urls, (div, urls[:3])  # e.g. layout.images sources would be fetched
        geo = {t.get("type") for t in spec["data"]} & {"scattergeo", "choropleth"}
        assert not geo, f"{div}: geo traces fetch topojson from a CDN"


EVIL = "</script><script>window.pwned = 1</script><!-- & </SCRIPT >"


def test_a_string_in_a_figure_cannot_close_its_script():
    """Titles and trace names are data: `</script>` in one stays inside the JSON."""
    demo = all_demos[0]

    def render_with_evil_strings(params, lang):
        rendered = demo.render_fn(params, lang)
        for figure in rendered.figures:
            figure.layout.title.text = EVIL
            figure.data[0].name = EVIL
        return rendered

    evil = dataclasses.replace(demo, render_fn=render_with_evil_strings, _controls=[])
    text = export_html(evil, evil.Params())
    page = Page(text)
    n_figures = len(rendered_figures(demo.slug, "en"))
    assert page.errors == []
    assert len(page.scripts) == 1 + n_figures
    specs = page.specs()
    assert len(specs) == n_figures
    for spec in specs.values():
        assert spec["layout"]["title"]["text"] == EVIL
        assert spec["data"][0]["name"] == EVIL
    assert "window.pwned" not in page.visible()
