"""Every demo of the registry keeps the contract: renders, validates, speaks both languages.

Generic over `all_demos`, so a demo added later is covered without new test code.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
from pydantic import ValidationError

from demos import all_demos
from demos.base import CATALOGUE, SECTIONS, ParamsError
from demos.theme import figure_json

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
DEMOS = {demo.slug: demo for demo in all_demos}
SLUGS = list(DEMOS)


TOPICS = ROOT.parent / "shared" / "TOPICS.md"


@pytest.mark.skipif(not TOPICS.exists(), reason="../shared/TOPICS.md is beside CI's clone only")
def test_catalogue_is_the_topics_list():
    text = TOPICS.read_text(encoding="utf-8")
    assert list(CATALOGUE) == re.findall(r"^- \*\*([a-z0-9-]+)\*\*", text, flags=re.MULTILINE)


def check_figures(rendered) -> None:
    assert rendered.figures, "a demo shows at least one figure"
    for figure in rendered.figures:
        assert isinstance(figure, go.Figure)
        assert figure.data, "every figure has data"
        go.Figure(figure.to_plotly_json())  # full Plotly validation: no misspelt property
        json.loads(figure_json(figure, "dark"))


def test_all_demos_is_in_catalogue_order_and_callable():
    assert all_demos() == list(all_demos)
    assert sorted(SLUGS, key=CATALOGUE.index) == SLUGS


@pytest.mark.parametrize("slug", SLUGS)
def test_demo_declares_the_contract(slug):
    demo = DEMOS[slug]
    assert slug in CATALOGUE
    assert demo.section in SECTIONS
    assert demo.sources and demo.presets
    assert demo.Params.model_config["extra"] == "forbid"
    for name, field in demo.Params.model_fields.items():
        assert not field.is_required(), f"{name} needs a default"
    assert all(isinstance(p, demo.Params) for p in demo.presets.values())


@pytest.mark.parametrize("slug", SLUGS)
def test_every_text_exists_in_english_and_chinese(slug):
    demo = DEMOS[slug]
    texts = [demo.title, demo.summary, demo.explanation, *demo.preset_titles.values()]
    texts += [control.label for control in demo.controls]
    for text in texts:
        assert text.en.strip() and not CJK.search(text.en), text
        assert CJK.search(text.zh), f"no Chinese in {text.zh!r}"
    for control in demo.controls:
        assert bool(control.help.en) == bool(control.help.zh), control.name
        for _, label in control.choices:
            assert label.en and label.zh


@pytest.mark.parametrize("slug", SLUGS)
def test_renders_at_defaults_in_both_languages(slug):
    demo = DEMOS[slug]
    english, chinese = demo.render(), demo.render(lang="zh")
    # The app lays out `figures` plots before any render: declared, and always that many.
    assert demo.figures is not None, f"{slug}: declare figures=<count> in its Demo(...)"
    assert len(english.figures) == len(chinese.figures) == demo.figures
    check_figures(english)
    check_figures(chinese)
    titles = [fig.layout.title.text or "" for fig in chinese.figures]
    assert any(CJK.search(title) for title in titles), "figure titles follow the language"


@pytest.mark.parametrize("slug,preset", [(s, p) for s in SLUGS for p in DEMOS[s].presets])
def test_renders_every_preset(slug, preset):
    rendered = DEMOS[slug].render(DEMOS[slug].presets[preset])
    assert len(rendered.figures) == DEMOS[slug].figure_count()
    check_figures(rendered)


@pytest.mark.parametrize("which", ["min", "max"])
@pytest.mark.parametrize("slug", SLUGS)
def test_renders_at_its_bounds(slug, which):
    rendered = DEMOS[slug].render(DEMOS[slug].bounds(which))
    assert len(rendered.figures) == DEMOS[slug].figure_count()
    check_figures(rendered)


@pytest.mark.parametrize("slug", SLUGS)
def test_render_is_pure(slug):
    demo = DEMOS[slug]
    first = [figure_json(f) for f in demo.render().figures]
    second = [figure_json(f) for f in demo.render().figures]
    assert first == second


@pytest.mark.parametrize("slug", SLUGS)
def test_out_of_range_values_name_the_field_and_the_range(slug):
    demo = DEMOS[slug]
    for control in demo.controls:
        if control.kind != "slider":
            continue
        for bad in (control.minimum - 1, control.maximum + 1, float("nan"), float("inf")):
            with pytest.raises(ParamsError) as error:
                demo.parse({control.name: bad})
            message = str(error.value)
            assert message.startswith(f"{control.name}: ")
            assert f"allowed {control.minimum:g}..{control.maximum:g}" in message
            assert "\n" not in message


@pytest.mark.parametrize("slug", SLUGS)
def test_bad_choices_types_and_fields_are_rejected_in_one_line(slug):
    demo = DEMOS[slug]
    for control in demo.controls:
        bad_values = ["no-such-choice"] if control.choices else ["abc", [1, 2], {"x": 1}]
        if control.kind == "checkboxes":
            bad_values = [["no-such-choice"], "x" * 1_000_000, []]
        for bad in bad_values:
            with pytest.raises(ParamsError) as error:
                demo.parse({control.name: bad})
            message = str(error.value)
            assert message.startswith(f"{control.name}: ") and len(message) <= 300
    with pytest.raises(ParamsError, match="unknown parameter"):
        demo.parse({"no_such_field": 1})
    with pytest.raises(ValidationError):
        demo.Params(no_such_field=1)


@pytest.mark.parametrize("slug", SLUGS)
def test_render_refuses_params_of_another_type(slug):
    with pytest.raises(TypeError):
        DEMOS[slug].render({"x": 1})


def test_layers_import_in_one_direction():
    """core imports neither gradio nor plotly; demos does not import gradio."""
    code = (
        "import sys, core.activations, core.trace; "
        "assert not {'gradio', 'plotly'} & set(sys.modules), 'core'; "
        "import demos; assert 'gradio' not in sys.modules, 'demos'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
