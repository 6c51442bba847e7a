"""The api-export demo tells its stories: each claim of its text is checked on its figures."""

import pytest

from demos import api_export as demo


def names_drawn(figure) -> list[str]:
    return list(figure.data[4].text)


def test_one_function_many_names_all_edges_reach_one_object():
    registry, _ = demo._build("one_many")
    adds = [registry[k] for k in registry if k[2] in ("math.add", "add")]
    assert len(adds) == 4 and all(obj is adds[0] for obj in adds)
    figure = demo.render(demo.presets["One function, many names"]).figures[0]
    assert "→ add" in figure.layout.title.text
    lit = [v for v in figure.data[1].x if v is not None]
    assert lit == [0, 1]  # the lookup lights one edge, object → v2 name


def test_v1_only_name_is_absent_from_v2():
    figure = demo.render(demo.presets["v1 only: app.run"]).figures[0]
    assert "KeyError" in figure.layout.title.text
    found = demo.render(demo.Params(example="v1_only", lookup_name="app.run", version="v1"))
    assert "→ run" in found.figures[0].layout.title.text


def test_keras_export_writes_keras_attributes():
    rendered = demo.render(demo.presets["keras_export is the same decorator"])
    assert "→ Dense" in rendered.figures[0].layout.title.text
    assert "`_keras_api_names = ('keras.layers.Dense',)`" in rendered.notes
    assert "`{'api_name': 'keras'}`" in rendered.notes


@pytest.mark.parametrize(
    "example,message",
    [("taken", "add: already bound to add"), ("twice", "add: already exported")],
)
def test_refusals_are_drawn_and_change_nothing(example, message):
    rendered = demo.render(demo.Params(example=example))
    texts = [a.text for a in rendered.figures[0].layout.annotations]
    assert any(message in text for text in texts), texts
    assert [v for v in rendered.figures[0].data[2].x if v is not None]  # the refused edge
    if example == "taken":
        assert "add_v2`: no attributes (refused, left unchanged)" in rendered.notes
    else:  # a subclass of an exported class is exported although it inherits the attribute
        assert "layers.Dense" in names_drawn(rendered.figures[0])


def test_the_steps_end_with_the_object_itself():
    figure = demo.render(demo.Params()).figures[1]
    steps = list(figure.data[0].text)
    assert "functools.partial" in steps[0] and "returned is add: True" in steps[-1]
    assert (
        len(figure.frames) == len(steps) == 10
    )  # partial, init, call, 2 attributes, 4 names, return


def test_a_name_no_example_exports_raises_key_error():
    figure = demo.render(demo.Params(lookup_name="math.subtract")).figures[0]
    assert "lookup('math.subtract') in tensorflow v2: KeyError" in figure.layout.title.text
