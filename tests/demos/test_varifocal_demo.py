"""The varifocal demo tells its stories: VFL's scores rank boxes by IoU and NMS keeps tighter ones."""

import numpy as np
import pytest

from demos import varifocal as demo


def stats(run, head):
    return run["heads"][head]["stats"]


def run_of(p):
    return demo.train(
        p.alpha, p.gamma, p.vfl_alpha, p.objects, p.anchors, p.background, p.cue, p.steps,
        p.nms_iou, p.seed,
    )  # fmt: skip


def test_the_synthetic_boxes_have_the_iou_they_were_given():
    from core.detection.boxes import box_iou

    d = demo.synthesize(20, 6, 10, 0.8, 3)
    n = d["n_object_anchors"]
    gt = d["gt"][d["object"][:n]]
    iou = np.diag(box_iou(d["boxes"][:n], gt).numpy())
    np.testing.assert_allclose(iou, d["iou"][:n], atol=1e-9)
    assert d["positive"][:n].reshape(20, 6)[:, 0].all()  # every object has a central anchor


def test_vfl_ranks_by_iou_and_wins_ap75_when_a_localisation_cue_exists():
    run = run_of(demo.presets["Central anchor, loose box"])
    heads = run["heads"]
    assert heads["vfl"]["rho"] > 0.25 > abs(heads["bce"]["rho"])
    assert stats(run, "vfl")["AP75"] > stats(run, "bce")["AP75"] + 0.1


def test_without_the_cue_the_heads_agree():
    run = run_of(demo.presets["No localisation cue: heads agree"])
    values = [stats(run, h)["AP"] for h in demo.HEADS]
    assert max(values) - min(values) < 0.02


def test_gamma_zero_makes_focal_a_weighted_bce():
    run = run_of(demo.presets["γ = 0: focal is weighted BCE"])
    assert stats(run, "focal")["AP"] == pytest.approx(stats(run, "bce")["AP"], abs=0.01)


def test_easy_negatives_carry_a_share_of_bces_loss_and_almost_none_of_focals():
    figure = demo.render(demo.presets["Easy negatives' loss share"]).figures[1]
    easy = next(t for t in figure.data if t.type == "bar" and t.name.startswith("easy"))
    shares = dict(zip(easy.x, easy.y, strict=True))
    assert shares["BCE"] > 0.1 > 10 * shares["Focal"] and shares["VFL"] < 0.01


def test_the_step_free_controls_do_not_retrain():
    p = demo.Params(objects=10, anchors=2, background=0, steps=10)
    demo.render(p)
    misses = demo.train.cache_info().misses
    demo.render(p.model_copy(update={"q": 0.3, "zoom": 2}))
    assert demo.train.cache_info().misses == misses
