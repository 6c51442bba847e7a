"""The iou-losses demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np
import pytest
import torch

from core.detection import boxes
from demos import iou_losses as demo


def corners(p, who):
    return demo._corners(*(getattr(p, f"{who}_{k}") for k in ("cx", "cy", "w", "h")))


def metrics(p):
    g = boxes.pair_geometry(
        torch.tensor(corners(p, "pred"), dtype=torch.float64),
        torch.tensor(corners(p, "target"), dtype=torch.float64),
    )
    return {kind: g.metric(kind).item() for kind in boxes.KINDS}


def bars(figure, name):
    (bar,) = [t for t in figure.data if t.type == "bar" and t.name == name]
    return dict(zip(bar.x, bar.y, strict=True))


def test_the_preset_names_are_the_issues():
    assert list(demo.presets) == [
        "no overlap: IoU has no gradient",
        "same IoU, different GIoU",
        "aligned centres: DIoU vs CIoU",
    ]
    assert demo.DEMO.upload is None


def test_the_demo_names_the_kinds_of_core_in_its_order():
    assert tuple(demo.KIND_NAMES) == boxes.KINDS  # KIND_COLORS follows this order


def test_the_bars_show_the_four_metrics_of_core():
    p = demo.Params()
    figure = demo.render(p).figures[0]
    shown = bars(figure, "prediction")
    expected = metrics(p)
    for kind, name in demo.KIND_NAMES.items():
        assert shown[name] == pytest.approx(expected[kind], abs=1e-12)


def test_iou_loss_landscape_is_flat_at_one_exactly_outside_the_overlap_zone():
    p = demo.presets["no overlap: IoU has no gradient"]
    figure = demo.render(p).figures[1]
    heatmaps = [t for t in figure.data if t.type == "heatmap"]
    assert [t.name for t in heatmaps] == ["1 − IoU", "1 − GIoU", "1 − DIoU", "1 − CIoU"]
    x, y = np.meshgrid(np.asarray(heatmaps[0].x), np.asarray(heatmaps[0].y))
    outside = (np.abs(x - p.target_cx) > (p.pred_w + p.target_w) / 2 + 1e-3) | (
        np.abs(y - p.target_cy) > (p.pred_h + p.target_h) / 2 + 1e-3
    )
    iou_z, giou_z = np.asarray(heatmaps[0].z), np.asarray(heatmaps[1].z)
    assert outside.sum() > 1000
    assert np.all(iou_z[outside] == 1.0)
    assert np.ptp(giou_z[outside]) > 0.3  # GIoU keeps a slope out there


def test_no_overlap_preset_iou_never_moves_and_the_others_reach_the_target():
    p = demo.presets["no overlap: IoU has no gradient"]
    run = boxes.regress_box(
        corners(p, "pred"), corners(p, "target"), steps=p.steps, lr=p.learning_rate
    )
    iou_curve = demo.render(p).figures[2]
    curves = {t.name: np.asarray(t.y) for t in iou_curve.data if t.xaxis == "x5"}
    assert np.all(curves["IoU"] == 0)
    for name in ("GIoU", "DIoU", "CIoU"):
        assert curves[name][-1] > 0.9, name
    np.testing.assert_allclose(curves["DIoU"], run.iou[:, 2], atol=1e-6)  # float32 on the wire


def test_same_iou_preset_draws_a_box_of_equal_iou_and_higher_giou():
    p = demo.presets["same IoU, different GIoU"]
    figure = demo.render(p).figures[0]
    prediction, alternative = bars(figure, "prediction"), bars(figure, "same IoU, level")
    assert alternative["IoU"] == pytest.approx(prediction["IoU"], abs=2e-3)
    assert alternative["GIoU"] > prediction["GIoU"] + 0.05
    assert alternative["GIoU"] == pytest.approx(alternative["IoU"], abs=2e-3)  # C = A ∪ B


def test_aligned_centres_preset_diou_is_iou_and_only_ciou_sees_the_shape():
    p = demo.presets["aligned centres: DIoU vs CIoU"]
    values = metrics(p)
    assert values["diou"] == pytest.approx(values["iou"], abs=1e-12)
    assert values["ciou"] < values["diou"] - 0.05
    run = boxes.regress_box(
        corners(p, "pred"), corners(p, "target"), steps=p.steps, lr=p.learning_rate
    )
    np.testing.assert_array_equal(run.iou[:, 0], run.iou[:, 2])  # DIoU moves like IoU
    first = {kind: int(np.argmax(run.iou[:, i] >= 0.5)) for i, kind in enumerate(run.kinds)}
    assert first["ciou"] < first["diou"]


def test_same_iou_box_is_none_without_overlap_and_the_notes_say_so():
    p = demo.presets["no overlap: IoU has no gradient"].model_copy(update={"show_same_iou": True})
    assert demo.same_iou_box(corners(p, "pred"), corners(p, "target")) is None
    assert "do not overlap" in demo.render(p).notes
    assert "没有交集" in demo.render(p, lang="zh").notes


def test_the_notes_give_the_traced_quantities():
    p = demo.Params()
    notes = demo.render(p).notes
    g = boxes.pair_geometry(
        torch.tensor(corners(p, "pred"), dtype=torch.float64),
        torch.tensor(corners(p, "target"), dtype=torch.float64),
    )
    for value in (g.intersection, g.union, g.enclosing_area, g.rho2, g.c2):
        assert f"{value.item():.3f}" in notes


@pytest.mark.parametrize(
    "placed",
    [
        dict(pred_cx=0.5, pred_cy=0.5, pred_w=0.2, pred_h=0.2, steps=10, learning_rate=0.01),
        dict(pred_cx=5.0, pred_cy=5.0, pred_w=1.0, pred_h=1.0, steps=200, learning_rate=1.0),
    ],
)
def test_a_prediction_placed_on_the_target_stays_at_iou_one(placed):
    target = {k.replace("pred", "target"): v for k, v in placed.items() if k.startswith("pred")}
    p = demo.Params(**placed, **target)
    curves = demo.render(p).figures[2]
    for t in curves.data:
        if t.xaxis == "x5":
            assert np.all(np.asarray(t.y) > 0.9999), t.name


def test_the_text_explains_the_kink_at_the_target_in_both_languages():
    assert "kink" in demo.EXPLANATION("en") and "stays" in demo.EXPLANATION("en")
    assert "折点" in demo.EXPLANATION("zh") and "保持不动" in demo.EXPLANATION("zh")
