"""The autograd demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np
import pytest

from demos import autograd as demo


def bars(rendered) -> dict[str, np.ndarray]:
    figure = rendered.figures[1]
    return {t.name: np.asarray(t.y, dtype=float) for t in figure.data if t.type == "bar"}


def test_two_backward_calls_double_grad_and_zero_grad_keeps_it():
    doubled = bars(demo.render(demo.presets["Two backward calls double .grad"]))
    np.testing.assert_allclose(doubled["after call 2"], 2 * doubled["after call 1"])
    np.testing.assert_allclose(doubled["after call 1"], [3.0, 2.0])  # ∂(xy) = (y, x)
    zeroed = demo.presets["Two backward calls double .grad"].model_copy(update={"zero_grad": True})
    kept = bars(demo.render(zeroed))
    np.testing.assert_allclose(kept["after call 2"], kept["after call 1"])


def test_a_variable_used_twice_gets_the_sum_of_its_edges():
    params = demo.presets["A variable used twice: gradients add"]
    run = demo._run(params)
    x_edges = [
        flow
        for node in run.trace
        for child, flow in zip(node["children"], node["flowing"], strict=True)
        if run.trace[child]["label"] == "x"
    ]
    assert len(x_edges) == 3  # x * x + 3 * x: three uses
    assert sum(float(f) for f in x_edges) == pytest.approx(2 * params.x + 3, rel=1e-12)
    assert "max |Δ| = 0.0e+00" in demo.render(params).notes


def test_detach_draws_a_cut_edge_and_gradcheck_notices():
    rendered = demo.render(demo.presets["detach cuts a path"])
    cut = rendered.figures[0].data[1]
    assert [v for v in cut.x if v is not None]  # a dashed edge exists
    assert "gradcheck (finite differences): failed" in rendered.notes
    assert "| y | 3 |" in rendered.notes  # only y·z reaches y: ∂/∂y = z = 3


def test_the_last_frame_shows_every_leafs_gradient():
    rendered = demo.render(demo.presets["Product rule"])
    figure = rendered.figures[0]
    assert len(figure.frames) == 1 + 3  # the seed, then mul, sin, exp
    last = figure.frames[-1].data[0].text
    assert all("g=" in text for text in last)
    first = figure.frames[0].data[0].text
    assert sum("g=" in text for text in first) == 1  # only the result holds its seed 1


def test_no_grad_shows_torchs_error():
    rendered = demo.render(demo.Params(no_grad=True))
    title = rendered.figures[0].layout.title.text
    assert "no_grad" in title
    assert "does not require grad" in rendered.figures[0].layout.annotations[0].text


def test_a_vector_result_is_summed_before_backward():
    rendered = demo.render(demo.Params(example="twice", x_length=3))
    assert "sum(x * x + 3 * x)" in rendered.notes
    assert len(bars(rendered)["after call 1"]) == 3


def test_a_non_finite_value_renders_one_clear_message():
    rendered = demo.render(demo.Params(example="typed", expression="log(x)", x=-1.0))
    assert "column 1: log gives a non-finite value" in rendered.notes
    assert rendered.figures[0].data


def test_a_bad_expression_is_refused_naming_the_field_and_column():
    with pytest.raises(ValueError) as raised:
        demo.DEMO.parse({"expression": "x + y $"})
    assert str(raised.value).startswith("expression: column 7: character '$'")
