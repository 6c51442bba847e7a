"""The one Plotly look of the playground, light and dark, and figure serialisation.

Figures are built with the light template (set as Plotly's default once, here); the app swaps
in the dark one when it serialises a figure for a dark page. Backgrounds are transparent so a
figure sits on the page's own colour; fonts are the system's (nothing is fetched).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import NamedTuple

import plotly.graph_objects as go
import plotly.io as pio
from plotly.utils import PlotlyJSONEncoder

# Okabe & Ito's colour-blind-safe palette first (without its black, so that every colour
# reads on both backgrounds), then distinct colours for demos that draw many series.
COLORWAY = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#8C8C8C",
    "#9467BD",
    "#8C564B",
    "#17BECF",
    "#BCBD22",
    "#E377C2",
    "#2CA02C",
    "#FF7F0E",
    "#1F77B4",
]
FONT = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif"


def _template(
    ink: str, grid: str, muted: str, colorway: list[str], scale: float = 1.0
) -> go.layout.Template:
    axis = {
        "gridcolor": grid,
        "zerolinecolor": muted,
        "linecolor": muted,
        "tickcolor": muted,
        "ticks": "outside",
        "showline": True,
        "automargin": True,
        "title": {"standoff": 8},
    }
    return go.layout.Template(
        layout={
            "colorway": colorway,
            "font": {"family": FONT, "size": round(13 * scale), "color": ink},
            "title": {"x": 0.0, "xanchor": "left", "font": {"size": round(15 * scale)}},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "xaxis": axis,
            "yaxis": axis,
            "legend": {"bgcolor": "rgba(0,0,0,0)", "font": {"size": round(12 * scale)}},
            "hoverlabel": {"font": {"family": FONT}},
            "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
            "barmode": "overlay",
        }
    )


_INKS = {"light": ("#1F2937", "#E5E7EB", "#9CA3AF"), "dark": ("#E5E7EB", "#374151", "#6B7280")}
# "light"/"dark" for the page; "-present" adds the larger type of the presentation look.
TEMPLATES = {
    **{name: _template(*inks, COLORWAY) for name, inks in _INKS.items()},
    **{f"{name}-present": _template(*inks, COLORWAY, 1.4) for name, inks in _INKS.items()},
}
pio.templates["playground_light"] = TEMPLATES["light"]
pio.templates["playground_dark"] = TEMPLATES["dark"]
pio.templates.default = "playground_light"
_TEMPLATE_JSON = {name: template.to_plotly_json() for name, template in TEMPLATES.items()}


def caption(
    text: str,
    *,
    x: float = 0.0,
    y: float = 1.0,
    xref: str = "paper",
    yref: str = "paper",
    xanchor: str = "left",
    size: int = 12,
) -> dict:
    """A line of text just above a plot area (a subtitle, a panel's title), as an annotation."""
    return {
        "text": text,
        "xref": xref,
        "yref": yref,
        "x": x,
        "y": y,
        "xanchor": xanchor,
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": size},
    }


# A present title wraps past this width, in Latin characters (a CJK one counts as two). Measured
# in the app in Chromium: the 21 px present type takes 10–11 px a Latin character, ~20.5 px a
# CJK one, and a 1024 px wide window leaves the figures ~620 px, which 54 characters fit.
PRESENT_TITLE_WIDTH = 54
LINE_SPACING = 1.3  # plotly.js's line height, in font sizes (alignment.LINE_SPACING)
_TOKENS = re.compile(r"<[^>]*>|\s+|.", re.DOTALL)  # a tag, a run of spaces or one character
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_FONT_SIZE = re.compile(r"font-size:\s*([\d.]+)px")
# Chinese line breaking: no line starts with closing punctuation, none ends with opening.
_NO_LINE_START = frozenset("，。、；：？！）》」』】”’,.;:?!)]}%")
_NO_LINE_END = frozenset("（《「『【“‘([{")


class _Token(NamedTuple):
    text: str
    kind: str  # "br", "tag", "space" or "char"
    width: float  # in Latin characters of the title's size


def _wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in "WF"


def _tokens(text: str, size: float) -> list[_Token]:
    sizes = [size]  # the font size inside each open span
    tokens = []
    for text_ in _TOKENS.findall(text):
        if _LINE_BREAK.fullmatch(text_):
            tokens.append(_Token(text_, "br", 0.0))
        elif text_.startswith("<"):
            if text_.lower().startswith("<span"):
                found = _FONT_SIZE.search(text_)
                sizes.append(float(found.group(1)) if found else sizes[-1])
            elif text_.lower().startswith("</span") and len(sizes) > 1:
                sizes.pop()
            tokens.append(_Token(text_, "tag", 0.0))
        else:
            kind = "space" if text_.isspace() else "char"
            units = 1 if kind == "space" else 2 if _wide(text_) else 1
            tokens.append(_Token(text_, kind, units * sizes[-1] / size))
    return tokens


def _may_break(before: _Token, after: _Token) -> bool:
    """Whether a line may end between two visible tokens: after a space, or beside CJK."""
    if after.text in _NO_LINE_START:
        return False
    if before.kind == "space":
        return True
    return before.text not in _NO_LINE_END and (_wide(before.text) or _wide(after.text))


def _lines(tokens: list[_Token], width: float) -> list[list[_Token]]:
    """One line of a title cut greedily: each line takes tokens until the next character would
    pass `width`, then ends at its last break (a word longer than a line stays whole)."""
    lines: list[list[_Token]] = []
    line: list[_Token] = []
    used, cut, before = 0.0, 0, None  # cut: where the line may end (0: nowhere yet)
    for token in tokens:
        if token.kind == "char" and before is not None and _may_break(before, token):
            cut = len(line)
            while line[cut - 1].kind == "tag" and not line[cut - 1].text.startswith("</"):
                cut -= 1  # an opening tag goes down with the text it opens
        line.append(token)
        used += token.width
        if token.kind == "char" or (token.kind == "space" and before is not None):
            before = token  # the last character, or a space after one (leading spaces stay)
        if token.kind == "char" and used > width and cut:
            head, line = line[:cut], line[cut:]
            while head[-1].kind == "space":
                head.pop()
            lines.append(head)
            used, cut = sum(t.width for t in line), 0
    return [*lines, line]


def _even_lines(tokens: list[_Token], width: float) -> list[list[_Token]]:
    """As few lines as `_lines` makes at `width`, about even: cut at the narrowest width that
    needs no more of them (greedy lines only grow in number as the width shrinks)."""
    lines = _lines(tokens, width)
    low, high = 1, math.ceil(width)  # the narrowest width lies in (low, high]
    while len(lines) > 1 and high - low > 1:
        middle = (low + high) // 2
        if len(_lines(tokens, middle)) > len(lines):
            low = middle
        else:
            high = middle
    return lines if high == math.ceil(width) else _lines(tokens, high)


def wrap_title(text: str, width: float = PRESENT_TITLE_WIDTH, size: float = 21) -> str:
    """`text` with `<br>` inserted so that no line is wider than `width` Latin characters of a
    `size` px title: at a space, or beside a CJK character (CJK text has no spaces). A line too
    long is cut into lines of about even length; tags stay whole and a span's own font-size
    counts. The text itself when every line fits."""
    given: list[list[_Token]] = [[]]  # the lines between the `<br>`s already there
    for token in _tokens(text, size):
        if token.kind == "br":
            given.append([])
        else:
            given[-1].append(token)
    lines = [cut for line in given for cut in _even_lines(line, width)]
    if len(lines) == len(given):
        return text
    return "<br>".join("".join(t.text for t in line) for line in lines)


def _wrap_title_for(layout: dict, template: dict) -> None:
    """Wrap a long title for the present type; the lines added push the plot down (a taller
    top margin, and a taller figure so that the plot keeps its size)."""
    title = layout.get("title")
    if not isinstance(title, dict) or not isinstance(title.get("text"), str):
        return
    size = title.get("font", {}).get("size") or template["layout"]["title"]["font"]["size"]
    text = wrap_title(title["text"], PRESENT_TITLE_WIDTH, size)
    added = len(_LINE_BREAK.findall(text)) - len(_LINE_BREAK.findall(title["text"]))
    if not added:
        return
    title["text"] = text
    extra = math.ceil(added * LINE_SPACING * size)
    margin = layout.setdefault("margin", {})
    top = margin.get("t", template["layout"]["margin"]["t"])
    if "y" in title:  # placed by the demo: its lines grow from there
        margin["t"] = top + extra
    elif "height" in layout:
        # Plotly's "auto" puts the first line's baseline in the middle of the top margin, the
        # other lines below it: the first line stays where it was, the margin grows by the rest.
        margin["t"] = top + extra
        title.update(yref="container", y=1 - top / 2 / (layout["height"] + extra))
    else:  # the margin's middle, and so the first line, moves down half as far as it grows
        margin["t"] = top + 2 * extra
    if "height" in layout:
        layout["height"] += extra


def figure_json(figure: go.Figure, theme: str = "light") -> str:
    """The figure as Plotly JSON with the template of `theme` (arrays stay base64-encoded).

    `theme` is one of TEMPLATES' names; anything else is "light". The "-present" themes wrap a
    title too long for their larger type (`wrap_title`)."""
    data = figure.to_plotly_json()
    template = _TEMPLATE_JSON.get(theme, _TEMPLATE_JSON["light"])
    data["layout"]["template"] = template
    if theme.endswith("-present") and theme in _TEMPLATE_JSON:
        _wrap_title_for(data["layout"], template)
    return json.dumps(data, cls=PlotlyJSONEncoder, separators=(",", ":"))
