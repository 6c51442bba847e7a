"""The centernet demo tells its stories: exact peaks decode the boxes, noise makes max-pool keep
duplicates that NMS removes, and without the offset head centres snap to the grid."""

import numpy as np
import pytest

from core.detection import centernet
from demos import centernet as demo


def counts(figure):
    pool, nms = (a.text for a in figure.layout.annotations)
    return pool, nms


def duplicates(text):
    return int(text.split(" duplicates")[0].rsplit(" ", 1)[1])


def test_the_scene_boxes_are_tight_around_the_drawn_shapes():
    p = demo.Params(objects=1, classes=2, seed=4)
    image, boxes, _ = demo.scene(p)
    drawn = np.argwhere((image != 235).any(-1))
    (x1, y1, x2, y2) = boxes[0]
    assert drawn[:, 1].min() >= np.floor(x1) and drawn[:, 1].max() <= np.ceil(x2)
    assert drawn[:, 0].min() >= np.floor(y1) and drawn[:, 0].max() <= np.ceil(y2)


@pytest.mark.parametrize("stride", ["2", "4", "8"])
def test_a_clean_heatmap_with_the_offset_head_decodes_every_box(stride):
    c = demo.compute(demo.Params(stride=stride, objects=4, seed=1))
    shown = c["scores"] >= demo.SHOW_SCORE
    assert shown.sum() == 4
    np.testing.assert_allclose(np.sort(c["decoded_iou"][shown].max(1)), 1.0, atol=1e-4)


def test_noise_gives_max_pool_duplicates_that_nms_suppresses():
    figure = demo.render(demo.presets["Noisy heatmap: max-pool vs NMS"]).figures[2]
    pool, nms = counts(figure)
    assert duplicates(pool) > duplicates(nms)


def test_without_the_offset_head_centres_snap_to_cell_corners():
    p = demo.presets["No offset head"]
    c = demo.compute(p)
    shown = c["scores"] >= demo.SHOW_SCORE
    centres = (c["decoded"][shown, :2] + c["decoded"][shown, 2:]) / 2
    np.testing.assert_allclose(centres % int(p.stride), 0, atol=1e-4)
    assert c["decoded_iou"][shown].max(1).mean() < 0.9


def test_the_radius_panel_shows_the_exact_and_the_released_rule():
    figure = demo.render(demo.Params(min_overlap=0.7)).figures[1]
    assert "10 × 10: 0.82 exact, 2.73 released" in figure.layout.title.text
    exact = next(t for t in figure.data if t.name == "IoU at the exact radius")
    np.testing.assert_allclose(exact.y, 0.7, atol=1e-5)  # the worst case is the overlap asked


def test_the_tiny_preset_has_radius_zero():
    c = demo.compute(demo.presets["Tiny objects: radius 0"])
    assert (c["radii"] == 0).all()
    assert centernet.gaussian_radius(1.0, 1.0) < 1
