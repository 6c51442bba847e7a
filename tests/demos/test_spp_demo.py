"""The spp demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from demos import spp as demo


def render(**values):
    return demo.render(demo.Params(**values))


def total(notes: str) -> int:
    last = notes.splitlines()[-1]
    return int(last.strip("|").split("|")[-1].strip().strip("*"))


@pytest.mark.parametrize("height,width", [(1, 1), (3, 3), (13, 18), (64, 41)])
def test_the_vector_length_is_c_times_the_sum_of_squares_for_every_size(height, width):
    rendered = render(height=height, width=width, channels=7, levels=["1", "2", "4"])
    assert total(rendered.notes) == 7 * 21
    spp_line = rendered.figures[1].data[1]
    assert set(np.asarray(spp_line.y).tolist()) == {7 * 21}


def test_the_flatten_line_grows_with_the_map_while_spp_does_not():
    figure = render(channels=4).figures[1]
    flatten = np.asarray(figure.data[2].y)
    assert flatten[0] == 4 and flatten[-1] == 4 * 64 * 64


def test_one_panel_per_level_and_one_outline_per_bin():
    figure = render(levels=["1", "3", "6"]).figures[0]
    heatmaps = [t for t in figure.data if t.type == "heatmap"]
    assert len(heatmaps) == 3
    assert len(figure.layout.shapes) == 1 + 9 + 36


def test_bin_values_drawn_are_adaptive_max_pool_of_channel_0():
    rendered = render(height=11, width=7, levels=["2", "3"], mode="max")
    figure = rendered.figures[0]
    channel0 = np.asarray(figure.data[0].z, dtype=np.float32)
    labels = [t for t in figure.data if t.type == "scatter" and t.mode.startswith("text")]

    for level, trace in zip((2, 3), labels, strict=True):
        pooled = F.adaptive_max_pool2d(torch.tensor(channel0)[None, None], level)
        assert list(trace.text) == [f"{v:.2f}" for v in pooled.flatten().tolist()]


def test_the_folded_vector_is_the_spp_output():
    params = demo.Params(height=9, width=5, channels=3, levels=["1", "2"], mode="avg")
    figure = demo.render(params).figures[1]
    folded = np.asarray(figure.data[0].z)
    maps = demo.feature_maps(3, 9, 5)
    expected = np.concatenate(
        [F.adaptive_avg_pool2d(maps, level)[0].flatten(1).numpy() for level in (1, 2)], axis=1
    )
    np.testing.assert_allclose(folded, expected, atol=1e-6)


def test_a_map_smaller_than_the_level_repeats_rows():
    notes = demo.render(demo.presets["Smaller than the finest level"]).notes
    row = next(line for line in notes.splitlines() if line.startswith("| 4×4"))
    assert row.split("|")[3].strip() == "1, 2"  # bins [0,1) [0,2) [1,3) [2,3)


def stars(figure) -> list:
    return [t for t in figure.data if t.type == "scatter" and t.marker.symbol == "star"]


def test_average_pooling_draws_no_maxima():
    assert not stars(demo.render(demo.presets["Average pooling"]).figures[0])
    maxima = stars(render(mode="max", height=13, width=18, levels=["2"]).figures[0])
    assert len(maxima) == 1 and len(maxima[0].x) == 4  # one star per bin


def test_feature_maps_are_non_negative_and_seeded():
    maps = demo.feature_maps(5, 8, 9)
    assert maps.shape == (1, 5, 8, 9) and float(maps.min()) == 0.0
    assert (maps == demo.feature_maps(5, 8, 9)).all()
