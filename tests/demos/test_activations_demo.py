"""The activations demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np
import pytest

from demos import activations as demo


def zones(focus: str) -> list[tuple[float, float]]:
    figure = demo._curves(demo.Params(focus=focus), ["relu"], "en")
    return [(round(s.x0, 2), round(s.x1, 2)) for s in figure.layout.shapes if s.xref == "x"]


@pytest.mark.parametrize(
    "focus,expected",
    [
        ("sigmoid", [(-6.0, -2.9), (2.9, 6.0)]),  # both tails
        ("relu", [(-6.0, 0.0)]),  # the whole flat side
        ("step", [(-6.0, 6.0)]),  # everywhere
        ("leaky_relu", []),  # α = 0.1 > 0.05: never saturated
        ("gelu", [(-6.0, -2.35)]),  # left tail only, not the zero slope at its minimum
    ],
)
def test_shaded_saturation_zones_are_the_tails_of_the_focus_function(focus, expected):
    assert zones(focus) == expected


def test_why_relu_units_die_preset_shows_dead_relu_and_living_leaky_units():
    rendered = demo.render(demo.presets["Why ReLU units die"])
    rows = {line.split("|")[1].strip(): line for line in rendered.notes.splitlines()[2:]}
    dead = {name: int(row.split("|")[2].strip().rstrip("%")) for name, row in rows.items()}
    assert dead["ReLU"] > 20
    assert dead["Leaky ReLU"] == dead["ELU"] == 0


def test_why_sigmoid_vanishes_preset_shows_a_falling_line_for_sigmoid_only():
    figure = demo.render(demo.presets["Why sigmoid vanishes"]).figures[2]
    lines = {trace.name: np.asarray(trace.y) for trace in figure.data}
    assert lines["Sigmoid"][0] < 1e-6 * lines["Sigmoid"][-1]
    assert lines["ReLU"][0] > 0.01 * lines["ReLU"][-1]


def test_a_gated_unit_in_a_plain_stack_is_named_as_not_drawn():
    figure = demo.render(demo.Params(functions=["relu", "swiglu"])).figures[2]
    note = figure.layout.annotations[0].text
    assert "SwiGLU" in note and "ReLU" not in note


def test_residual_blocks_draw_every_line():
    figure = demo.render(demo.presets["What GELU and SwiGLU changed"]).figures[2]
    assert not figure.layout.annotations
    assert all(np.isfinite(np.asarray(trace.y, dtype=float)).all() for trace in figure.data)
