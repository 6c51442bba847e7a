"""Present mode wraps a title too long for its larger type; light and dark leave it as drawn."""

import json
import math
import re

import plotly.graph_objects as go
import pytest

from demos import iou_losses
from demos.theme import LINE_SPACING, PRESENT_TITLE_WIDTH, TEMPLATES, figure_json, wrap_title

LONG = (
    "Gradient descent on each loss from the same start (dotted: boxes along the way, solid: the "
    "last one) and IoU per step"
)
LONG_ZH = "从同一起点沿各损失做梯度下降（虚线：途中的框，实线：最终的框）与每一步的交并比变化"
PRESENT_SIZE = TEMPLATES["light-present"].layout.title.font.size


def layout(figure: go.Figure, theme: str) -> dict:
    return json.loads(figure_json(figure, theme))["layout"]


def titled(text: str, **layout_: object) -> go.Figure:
    return go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), {"title": {"text": text}, **layout_})


def width(line: str) -> int:
    """A line's width in Latin characters: tags take none, a CJK character two."""
    visible = re.sub(r"<[^>]*>", "", line)
    return sum(
        2 if "\u3000" <= ch <= "\uffef" or "\u4e00" <= ch <= "\u9fff" else 1 for ch in visible
    )


@pytest.mark.parametrize("theme", ["light-present", "dark-present"])
def test_a_long_title_is_wrapped_at_spaces_in_present(theme):
    lines = layout(titled(LONG), theme)["title"]["text"].split("<br>")
    assert len(lines) == 3
    assert all(width(line) <= PRESENT_TITLE_WIDTH for line in lines)
    assert " ".join(lines) == LONG  # cut at spaces only, nothing lost


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_light_and_dark_leave_a_long_title_and_margins_as_they_are(theme):
    figure = titled(LONG, height=400, margin={"t": 80})
    drawn = layout(figure, theme)
    assert drawn["title"] == {"text": LONG}
    assert drawn["margin"] == {"t": 80} and drawn["height"] == 400


def test_a_cjk_title_without_spaces_is_cut_by_character_count():
    lines = layout(titled(LONG_ZH), "light-present")["title"]["text"].split("<br>")
    assert len(lines) == 2
    assert "".join(lines) == LONG_ZH
    assert all(width(line) <= PRESENT_TITLE_WIDTH for line in lines)
    assert not any(line[0] in "，。：；）" for line in lines)  # no line opens with closing marks


def test_the_top_margin_and_the_height_grow_by_the_lines_added():
    drawn = layout(titled(LONG, height=400, margin={"t": 80, "b": 50}), "light-present")
    extra = math.ceil(2 * LINE_SPACING * PRESENT_SIZE)  # two lines added
    assert drawn["margin"] == {"t": 80 + extra, "b": 50}
    assert drawn["height"] == 400 + extra
    # the first line stays where Plotly's "auto" put it: the middle of the old top margin
    assert drawn["title"]["yref"] == "container"
    assert (1 - drawn["title"]["y"]) * drawn["height"] == pytest.approx(80 / 2)


def test_without_a_margin_of_its_own_the_templates_grows():
    drawn = layout(titled(LONG), "dark-present")
    template_top = TEMPLATES["dark-present"].layout.margin.t
    assert drawn["margin"]["t"] > template_top + 2 * LINE_SPACING * PRESENT_SIZE


def test_a_title_that_fits_is_left_alone_in_present():
    figure = titled("AP by class, and by object size", height=400)
    drawn = layout(figure, "light-present")
    assert drawn["title"] == {"text": "AP by class, and by object size"}
    assert "margin" not in drawn and drawn["height"] == 400


def test_the_figure_itself_is_not_changed():
    figure = titled(LONG, height=400)
    figure_json(figure, "light-present")
    assert figure.layout.title.text == LONG and figure.layout.margin.t is None


def test_tags_stay_whole_and_a_small_subtitle_counts_at_its_own_size():
    subtitle = "<span style='font-size:12px'>" + "small words " * 7 + "end</span>"  # 87 chars
    text = wrap_title(f"{LONG}<br>{subtitle}", size=PRESENT_SIZE)
    *title_lines, last = text.split("<br>")
    assert last == subtitle  # 87 characters at 12 px are ~50 at 21 px: it fits
    assert len(title_lines) == 3


def test_a_line_break_inside_a_span_keeps_the_span_whole():
    text = wrap_title("<b>" + "word " * 30 + "</b>", width=40)
    assert text.startswith("<b>word") and text.endswith("</b>")
    assert text.count("<b>") == 1 and text.count("</b>") == 1


def test_the_iou_landscape_title_fits_in_present_and_stays_in_light():
    figure = iou_losses.render(iou_losses.Params()).figures[1]
    assert len(figure.layout.title.text) > PRESENT_TITLE_WIDTH
    present = layout(figure, "dark-present")["title"]["text"]
    assert all(width(line) <= PRESENT_TITLE_WIDTH for line in present.split("<br>"))
    assert layout(figure, "light")["title"]["text"] == figure.layout.title.text
