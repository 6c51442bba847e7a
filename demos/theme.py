"""The one Plotly look of the playground, light and dark, and figure serialisation.

Figures are built with the light template (set as Plotly's default once, here); the app swaps
in the dark one when it serialises a figure for a dark page. Backgrounds are transparent so a
figure sits on the page's own colour; fonts are the system's (nothing is fetched).
"""

from __future__ import annotations

import json

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


def figure_json(figure: go.Figure, theme: str = "light") -> str:
    """The figure as Plotly JSON with the template of `theme` (arrays stay base64-encoded).

    `theme` is one of TEMPLATES' names; anything else is "light"."""
    data = figure.to_plotly_json()
    data["layout"]["template"] = _TEMPLATE_JSON.get(theme, _TEMPLATE_JSON["light"])
    return json.dumps(data, cls=PlotlyJSONEncoder, separators=(",", ":"))
