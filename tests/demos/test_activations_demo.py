"""The activations demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np
import pytest
import torch

from core import activations as act
from demos import activations as demo


def zones(focus: str) -> list[tuple[float, float]]:
    figure = demo.render(demo.Params(focus=focus)).figures[0]
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


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "swiglu"])
def test_units_the_text_calls_alive_never_die_in_the_demo_layer(name):
    alpha = demo.Params.model_fields["leaky_alpha"].metadata[0].ge  # the smallest α accepted
    fractions = act.dead_unit_fractions(name, demo.BIAS_SWEEP, alpha=alpha, **demo.LAYER)
    assert torch.count_nonzero(fractions) == 0


def test_reglu_dies_like_relu_in_the_demo_layer():
    reglu = act.dead_unit_fractions("reglu", demo.BIAS_SWEEP, **demo.LAYER)
    assert reglu[0] == 1.0 and reglu[-1] == 0.0


def test_every_single_function_renders_with_every_focus():
    for function in demo.NAMES:
        for focus in demo.NAMES:
            figures = demo.render(demo.Params(functions=[function], focus=focus)).figures
            curve_names = {trace.name for trace in figures[0].data}
            gate = act.GATE_OF.get(focus, (focus,))[0]
            assert demo.NAMES[gate].en in curve_names, "the shaded function is drawn"
