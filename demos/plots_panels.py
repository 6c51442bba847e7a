"""Side-by-side panels in one Plotly figure without make_subplots: axes, domains, panel titles.

Shared by the generative demos (normalizing-flows, flow-matching, sd3), whose figures put two to
four views next to each other. `panel_layout(n)` gives the axes; `axis_names(i)` the trace's
`xaxis`/`yaxis` keys of panel i (0-based).
"""

from __future__ import annotations

from demos.theme import caption

GAP = 0.07  # horizontal space between panels, a fraction of the figure's width


def axis_names(i: int) -> dict[str, str]:
    """The trace keys that put a trace in panel i: {"xaxis": "x2", "yaxis": "y2"} for i = 1."""
    suffix = "" if i == 0 else str(i + 1)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def panel_layout(
    titles: list[str],
    x_titles: list[str],
    y_titles: list[str],
    *,
    equal_aspect: bool = False,
    gap: float = GAP,
) -> dict:
    """Layout of len(titles) panels in a row, each with its title above it (an annotation).

    equal_aspect: one unit is as long on x as on y in every panel (point clouds, grids).
    """
    n = len(titles)
    width = (1 - gap * (n - 1)) / n
    layout: dict = {"annotations": []}
    for i, (title, x_title, y_title) in enumerate(zip(titles, x_titles, y_titles, strict=True)):
        suffix = "" if i == 0 else str(i + 1)
        left = i * (width + gap)
        layout[f"xaxis{suffix}"] = {
            "domain": [round(left, 6), min(round(left + width, 6), 1.0)],
            "anchor": f"y{suffix}",
            "title": {"text": x_title},
        }
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "title": {"text": y_title}}
        if equal_aspect:
            layout[f"yaxis{suffix}"]["scaleanchor"] = f"x{suffix}"
        layout["annotations"].append(caption(title, x=left, size=13))
    return layout
