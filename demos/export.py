"""One self-contained HTML file of a demo as rendered: figures, parameters, explanation.

The file bundles plotly.js inline (about 4.8 MB), so it opens with no network at all: in a
lecture hall, attached to an e-mail, years later. The figures stay interactive (hover, zoom,
Plotly's own PNG download, animation frames). Nothing here imports gradio.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from functools import lru_cache

from pydantic import BaseModel

from demos.base import Demo, Text
from demos.theme import figure_json

LABELS = {
    "open": Text("Open the live demo", "打开在线演示"),
    "params": Text("Parameters", "参数"),
    "parameter": Text("parameter", "参数"),
    "value": Text("value", "取值"),
    "explanation": Text("What is going on", "原理解读"),
    "sources": Text("Papers and sources", "论文与来源"),
    "exported": Text("Exported from the ML explainers playground", "导出自机器学习图解实验场"),
}

STYLE = """
:root { color-scheme: light; --ink: #1F2937; --muted: #6B7280; --line: #E5E7EB; --bg: #FFFFFF; }
body.dark { color-scheme: dark; --ink: #E5E7EB; --muted: #9CA3AF; --line: #374151; --bg: #0B0F19; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; background: var(--bg); color: var(--ink);
  font: 16px/1.55 system-ui, -apple-system, 'Segoe UI', 'Noto Sans CJK SC', sans-serif; }
a { color: #0072B2; } body.dark a { color: #56B4E9; }
.figure { width: 100%; min-height: 420px; margin: 12px 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; }
.muted, footer { color: var(--muted); font-size: 14px; }
code { font-family: ui-monospace, SFMono-Regular, monospace; }
"""


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    import plotly.offline

    return plotly.offline.get_plotlyjs()


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _md(text: str) -> str:
    return _markdown().render(text)


def _script_json(text: str) -> str:
    """JSON safe inside <script>: no '</script>' or '<!--' can close or comment it out."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _value(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def export_html(
    demo: Demo,
    params: BaseModel,
    *,
    lang: str = "en",
    theme: str = "light",
    link: str = "",
) -> str:
    """The demo rendered at `params` as one HTML document; `link` leads back to the live page."""
    rendered = demo.render(params, lang=lang)  # a link's parameters only: uploads stay out
    labels = {control.name: control.label(lang) for control in demo.controls}
    rows = "".join(
        f"<tr><td>{html.escape(labels[name])} <code>{html.escape(name)}</code></td>"
        f"<td>{html.escape(_value(getattr(params, name)))}</td></tr>"
        for name in demo.fields
    )
    figures = []
    for index, figure in enumerate(rendered.figures):
        spec = _script_json(figure_json(figure, theme))
        figures.append(
            f'<div class="figure" id="fig{index}"></div>\n<script>(function () {{\n'
            f"var spec = {spec};\n"
            f'Plotly.newPlot("fig{index}", {{data: spec.data, layout: spec.layout, '
            f"frames: spec.frames || [], config: {{responsive: true, displaylogo: false}}}});\n"
            "})();</script>"
        )
    sources = "\n".join(f"- {source.markdown()}" for source in demo.sources)
    open_link = (
        f'<p><a href="{html.escape(link, quote=True)}">{LABELS["open"](lang)}</a></p>'
        if link
        else ""
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(demo.title(lang))}</title>
<style>{STYLE}</style>
<script>{_plotly_js()}</script>
</head>
<body class="{"dark" if theme == "dark" else "light"}">
<h1>{html.escape(demo.title(lang))}</h1>
<p>{html.escape(demo.summary(lang))}</p>
{open_link}
{"".join(figures)}
{_md(rendered.notes) if rendered.notes else ""}
<h2>{LABELS["params"](lang)}</h2>
<table><thead><tr><th>{LABELS["parameter"](lang)}</th><th>{LABELS["value"](lang)}</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>{LABELS["explanation"](lang)}</h2>
{_md(demo.explanation(lang))}
<h2>{LABELS["sources"](lang)}</h2>
{_md(sources)}
<footer>{LABELS["exported"](lang)} · {stamp}</footer>
</body>
</html>
"""
