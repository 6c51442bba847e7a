"""Shared pieces of block diagrams drawn in data coordinates (lora's and prompt-tuning's).

A diagram is rectangles (`box`) with centred labels, arrows between them (`arrow`), and hidden
axes; `figure` builds a Figure from plain dicts (the page's template goes in when serialised).
"""

from __future__ import annotations

import plotly.graph_objects as go


def figure(data: list, layout: dict) -> go.Figure:
    """A Figure from plain dicts; the page's template goes in when it is serialised."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


def box(x0, y0, x1, y1, fill, line="#6B7280", dash="solid") -> dict:
    """A filled rectangle behind the traces, from (x0, y0) to (x1, y1) in data coordinates."""
    return {
        "type": "rect",
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "fillcolor": fill,
        "opacity": 0.9,
        "line": {"color": line, "width": 1.5, "dash": dash},
        "layer": "below",
    }


def arrow(x0, y0, x1, y1, color="#9CA3AF") -> dict:
    """An annotation drawing an arrow from (x0, y0) to (x1, y1) in data coordinates."""
    return {
        "x": x1,
        "y": y1,
        "ax": x0,
        "ay": y0,
        "xref": "x",
        "yref": "y",
        "axref": "x",
        "ayref": "y",
        "text": "",
        "showarrow": True,
        "arrowhead": 2,
        "arrowwidth": 1.5,
        "arrowcolor": color,
    }


def hover_points(xs: list, ys: list, texts: list) -> dict:
    """Invisible markers at the boxes' centres that show each box's hover text."""
    return {
        "type": "scatter",
        "x": xs,
        "y": ys,
        "mode": "markers",
        "marker": {"size": 30, "opacity": 0},
        "hovertext": texts,
        "hoverinfo": "text",
        "showlegend": False,
    }
