"""The detr demo tells its stories: a duplicate learns ∅ under the set loss and stays confident
under one-to-many, NMS is needed only there, and the step slider only scrubs the cached run."""

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from core.detection import detr
from demos import detr as demo


def test_two_predictions_one_object_the_duplicate_learns_no_object():
    runs = demo._run(demo.presets["Two predictions, one object"])
    p_empty = runs["one_to_one"]["probs"][-1][:, -1]
    assert sorted(p_empty.round(1).tolist()) == [0.0, 1.0] or (
        p_empty.min() < 0.1 < 0.9 < p_empty.max()
    )
    scores, _ = demo.detections(runs["one_to_many"]["probs"][-1], runs["one_to_many"]["boxes"][-1])
    assert (scores > 0.5).all()  # both stay confident without the one-to-one match


def test_one_to_many_needs_nms_and_the_set_does_not():
    runs = demo._run(demo.presets["One-to-many needs NMS"])
    assert runs["one_to_one"]["ap"][False]["AP"] > 0.99
    assert runs["one_to_many"]["ap"][True]["AP"] > runs["one_to_many"]["ap"][False]["AP"] + 0.05


def test_the_matching_flips_early_and_then_settles():
    runs = demo._run(demo.presets["Matching flips early"])
    flips = demo.flips(runs["one_to_one"]["assigned"])
    assert len(flips) >= 2 and flips.max() < 30


def test_class_only_matching_is_the_assignment_of_the_class_cost():
    p = demo.presets["Class cost only"]
    runs = demo._run(p)
    labels, logits0 = runs["labels"], demo.problem(p)[2]
    probability = torch.as_tensor(logits0).float().softmax(-1).numpy()
    rows, cols = linear_sum_assignment(-probability[:, labels])
    total = -probability[rows, labels[cols]].sum()
    chosen = runs["one_to_one"]["assigned"][0]
    matched = np.flatnonzero(chosen >= 0)
    assert -probability[matched, labels[chosen[matched]]].sum() == pytest.approx(total, abs=1e-5)


def test_the_cost_figure_is_the_matching_cost_at_the_shown_step():
    p = demo.Params(targets=2, queries=3, steps=20, step=7)
    runs = demo._run(p)
    figure = demo.render(p).figures[1]
    total = next(t for t in figure.data if t.xaxis == "x4")
    logits = torch.log(torch.as_tensor(runs["one_to_one"]["probs"][7]))
    boxes = torch.as_tensor(runs["one_to_one"]["boxes"][7])
    expected = detr.matching_cost(
        logits,
        boxes,
        torch.as_tensor(runs["labels"]),
        torch.as_tensor(runs["targets"], dtype=boxes.dtype),
    )
    np.testing.assert_allclose(np.asarray(total.z), expected.numpy(), atol=1e-5)


def test_the_step_slider_does_not_retrain():
    p = demo.Params(targets=1, queries=2, steps=10, step=10)
    demo.render(p)
    misses = demo.train.cache_info().misses
    demo.render(p.model_copy(update={"step": 3}))
    demo.render(p.model_copy(update={"step": 200}))  # past the end: the last step
    assert demo.train.cache_info().misses == misses
