"""The landing page: every live demo as a card, with a search box and section chips.

Plain HTML from the registry (no Gradio, no render): it is the first thing a visitor sees, so
it costs one small response. Each card shows a preview of the demo's default figure, made by
`python -m benchmarks.previews` and committed under assets/previews/ (light and dark). The
search filters by title and summary in both languages, whatever the page's language.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from demos import SECTIONS, Demo, all_demos
from demos.base import Text
from demos.theme import figure_json

PREVIEWS = Path(__file__).resolve().parent.parent / "assets" / "previews"
PREVIEW_SIZE = (480, 300)  # pixels of a preview picture (benchmarks/previews.py makes them)

TEXT = {
    "heading": Text("ML explainers playground", "机器学习图解实验场"),
    "tagline": Text(
        "Every demo runs the real algorithm: move a control and watch it react.",
        "每个演示运行的都是真实算法：拖动控件，看它即时响应。",
    ),
    "search": Text("Search the demos", "搜索演示"),
    "placeholder": Text("attention, IoU, 优化器 …", "注意力、IoU、optimizer …"),
    "all": Text("All", "全部"),
    "sections": Text("Sections", "分区"),
    "none": Text("No demo matches this search.", "没有与搜索匹配的演示。"),
    "count": Text("{n} live demos", "共 {n} 个演示"),
    "dark": Text("Dark", "深色"),
    "light": Text("Light", "浅色"),
    "footer": Text(
        "Each demo's page has a link you can share, an offline HTML download, and an API "
        "endpoint named after it.",
        "每个演示页都可分享链接、下载离线 HTML，并有以其命名的 API 接口。",
    ),
}


def _query(lang: str, theme: str) -> str:
    parts = [f"lang={lang}"] if lang == "zh" else []
    if theme == "dark":
        parts.append("theme=dark")
    return ("?" + "&".join(parts)) if parts else ""


def preview_name(slug: str, theme: str) -> str:
    return f"{slug}.{'dark' if theme == 'dark' else 'light'}.webp"


def _card(demo: Demo, lang: str, theme: str) -> str:
    e = html.escape
    # What the search matches: title and summary in both languages, and the slug.
    haystack = " ".join(
        [demo.slug, demo.title.en, demo.title.zh, demo.summary.en, demo.summary.zh]
    ).lower()
    picture = preview_name(demo.slug, theme)
    width, height = PREVIEW_SIZE
    image = (
        f'<img src="/previews/{picture}" alt="" width="{width}" height="{height}" loading="lazy">'
        if (PREVIEWS / picture).is_file()
        else '<div class="no-preview"></div>'
    )
    return (
        f'<a class="card" href="/demo/{demo.slug}{_query(lang, theme)}" '
        f'data-section="{demo.section}" data-text="{e(haystack)}" id="card-{demo.slug}">'
        f"{image}"
        f'<span class="section">{e(SECTIONS[demo.section](lang))}</span>'
        f"<h2>{e(demo.title(lang))}</h2>"
        f"<p>{e(demo.summary(lang))}</p></a>"
    )


STYLE = """
:root { color-scheme: light; --bg: #f8fafc; --card: #ffffff; --ink: #1f2937; --muted: #6b7280;
  --line: #e5e7eb; --accent: #0072b2; --chip: #eef2f7; }
body.dark { color-scheme: dark; --bg: #0b0f19; --card: #151b28; --ink: #e5e7eb; --muted: #9ca3af;
  --line: #2b3445; --accent: #56b4e9; --chip: #1f2937; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; }
header, .filters, main, footer { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { display: flex; flex-wrap: wrap; align-items: flex-end; justify-content: space-between;
  gap: 12px; padding-top: 28px; }
h1 { margin: 0 0 4px; font-size: 30px; }
.tagline { margin: 0; color: var(--muted); font-size: 16px; }
.switches { display: flex; gap: 8px; font-size: 14px; }
.switches a { color: var(--ink); text-decoration: none; border: 1px solid var(--line);
  border-radius: 999px; padding: 4px 12px; background: var(--card); }
.switches a[aria-current] { border-color: var(--accent); color: var(--accent); font-weight: 600; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin-top: 20px; }
.filters input { flex: 1 1 260px; font: inherit; font-size: 16px; padding: 9px 12px;
  border: 1px solid var(--line); border-radius: 8px; background: var(--card); color: var(--ink); }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { font: inherit; font-size: 14px; border: 1px solid var(--line); background: var(--chip);
  color: var(--ink); border-radius: 999px; padding: 5px 12px; cursor: pointer; }
.chip[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: #fff; }
.count { color: var(--muted); font-size: 14px; margin: 14px auto 0; max-width: 1280px;
  padding: 0 20px; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 16px;
  margin-top: 10px; padding-bottom: 24px; }
.card { display: flex; flex-direction: column; background: var(--card); color: var(--ink);
  border: 1px solid var(--line); border-radius: 12px; overflow: hidden; text-decoration: none;
  transition: border-color .15s, transform .15s; }
.card:hover, .card:focus-visible { border-color: var(--accent); transform: translateY(-2px); }
.card img, .no-preview { width: 100%; height: auto; aspect-ratio: 480 / 300; display: block;
  border-bottom: 1px solid var(--line); background: var(--bg); }
.card .section { color: var(--accent); font-size: 12px; font-weight: 600; margin: 10px 14px 0;
  text-transform: uppercase; letter-spacing: .03em; }
.card h2 { font-size: 18px; margin: 4px 14px 4px; }
.card p { font-size: 14px; color: var(--muted); margin: 0 14px 14px; line-height: 1.45; }
.card[hidden] { display: none; }
.empty { color: var(--muted); }
footer { color: var(--muted); font-size: 13px; padding-bottom: 32px; }
"""

SCRIPT = """
(() => {
  const input = document.getElementById('search');
  const chips = [...document.querySelectorAll('.chip')];
  const cards = [...document.querySelectorAll('.card')];
  const empty = document.getElementById('empty');
  let section = '';
  const apply = () => {
    const terms = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const card of cards) {
      const ok = (!section || card.dataset.section === section) &&
        terms.every((t) => card.dataset.text.includes(t));
      card.hidden = !ok;
      if (ok) shown += 1;
    }
    empty.hidden = shown > 0;
  };
  input.addEventListener('input', apply);
  for (const chip of chips) {
    chip.addEventListener('click', () => {
      section = chip.dataset.section;
      chips.forEach((c) => c.setAttribute('aria-pressed', String(c === chip)));
      apply();
    });
  }
  apply();
  document.documentElement.dataset.galleryReady = '1';
})();
"""


def gallery_html(lang: str = "en", theme: str = "light") -> str:
    """The landing page in `lang` ("en" or "zh") and `theme` ("light" or "dark")."""
    lang = "zh" if lang == "zh" else "en"
    theme = "dark" if theme == "dark" else "light"
    e = html.escape
    chips = [
        f'<button class="chip" data-section="" aria-pressed="true">{TEXT["all"](lang)}</button>'
    ]
    chips += [
        f'<button class="chip" data-section="{key}" aria-pressed="false">'
        f"{e(SECTIONS[key](lang))}</button>"
        for key, _ in all_demos.sections()
    ]
    cards = "".join(_card(demo, lang, theme) for demo in all_demos)

    def switch(label: str, to_lang: str, to_theme: str, current: bool) -> str:
        mark = ' aria-current="true"' if current else ""
        return f'<a href="/{_query(to_lang, to_theme)}"{mark}>{label}</a>'

    switches = "".join(
        [
            switch("English", "en", theme, lang == "en"),
            switch("中文", "zh", theme, lang == "zh"),
            switch(TEXT["light"](lang), lang, "light", theme == "light"),
            switch(TEXT["dark"](lang), lang, "dark", theme == "dark"),
        ]
    )
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TEXT["heading"](lang)}</title>
<style>{STYLE}</style>
</head>
<body class="{theme}">
<header>
  <div><h1>{TEXT["heading"](lang)}</h1><p class="tagline">{TEXT["tagline"](lang)}</p></div>
  <div class="switches">{switches}</div>
</header>
<div class="filters" role="search">
  <input id="search" type="search" aria-label="{TEXT["search"](lang)}"
         placeholder="{e(TEXT["placeholder"](lang))}" autocomplete="off">
  <div class="chips" role="group" aria-label="{TEXT["sections"](lang)}">{"".join(chips)}</div>
</div>
<p class="count">{TEXT["count"](lang).format(n=len(all_demos))}</p>
<main id="cards">{cards}</main>
<p id="empty" class="empty" hidden style="max-width:1280px;margin:0 auto;padding:0 20px">{TEXT["none"](lang)}</p>
<footer><p>{TEXT["footer"](lang)}</p></footer>
<script>{SCRIPT}</script>
</body>
</html>"""


def preview_index() -> dict:
    """assets/previews/index.json: per slug, the hash of the default render each picture shows."""
    try:
        return json.loads((PREVIEWS / "index.json").read_text())
    except (OSError, ValueError):
        return {}


_NUMBER = re.compile(r"[-+−]?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?")


def _canonical(value: Any) -> Any:
    """A figure's JSON reduced to what a change of the code alters and a change of CPU does not:
    the structure, trace kinds, names, titles, labels and text, array lengths, and integers.

    Measured values are left out: floats (scalars and decoded arrays), the numbers inside
    strings, and embedded raster images. A render's float32 kernels differ in their last bits
    between CPUs (AVX2 against AVX-512), and a demo that trains at its defaults (normalizing
    flows) amplifies those bits into visibly different numbers; rounding alone cannot hide that,
    since any rounding has boundaries that a last-bit change can cross."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            size = np.dtype(value["dtype"]).itemsize
            return ["array", len(base64.b64decode(value["bdata"])) // size, value.get("shape")]
        return {key: _canonical(item) for key, item in sorted(value.items()) if key != "uid"}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, float):
        return "#"
    if isinstance(value, str):
        return "image" if value.startswith("data:image/") else _NUMBER.sub("#", value)
    return value


def render_hash(demo: Demo) -> str:
    """The hash of what a demo's preview shows, its first figure at the defaults (light, en),
    as `_canonical` reduces it."""
    figure = json.loads(figure_json(demo.render(lang="en").figures[0], "light"))
    figure["layout"].pop("template", None)
    text = json.dumps(_canonical(figure), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
