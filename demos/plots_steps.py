"""Shared pieces of step-through graph figures (autograd's backward pass, api-export's steps).

A graph's edges are one line trace each kind (segments separated by None); a stepped figure has
animation frames named "0", "1", … with a ▶ button and a step slider under the plot.
"""

from __future__ import annotations

from typing import Any

from demos.base import Text


def edge_lines(xs: list[Any], ys: list[Any], name: str, line: dict) -> dict:
    """A line trace drawing edges: (x0, x1, None) segments, or one invisible point when none."""
    return {
        "type": "scatter",
        "mode": "lines",
        "x": xs or [None],
        "y": ys or [None],
        "line": line,
        "name": name,
        "hoverinfo": "skip",
    }


def step_controls(n_frames: int, lang: str, prefix: Text, *, y: float = -0.02) -> dict:
    """Layout entries `updatemenus` (▶) and `sliders` for frames named "0".."n_frames-1";
    the slider starts at the last frame, which is what the figure's data shows."""
    play = {"frame": {"duration": 900, "redraw": True}, "transition": {"duration": 0}}
    jump = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}
    return {
        "updatemenus": [
            {
                "type": "buttons",
                "x": 0.0,
                "y": y,
                "xanchor": "left",
                "yanchor": "top",
                "showactive": False,
                "buttons": [
                    {
                        "label": Text("▶ Play", "▶ 播放")(lang),
                        "method": "animate",
                        "args": [None, {**play, "fromcurrent": False, "mode": "immediate"}],
                    }
                ],
            }
        ],
        "sliders": [
            {
                "active": n_frames - 1,
                "x": 0.14,
                "len": 0.86,
                "y": y,
                "currentvalue": {"prefix": f"{prefix(lang)}: "},
                "steps": [
                    {"label": str(k), "method": "animate", "args": [[str(k)], jump]}
                    for k in range(n_frames)
                ],
            }
        ],
    }
