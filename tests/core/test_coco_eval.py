"""evaluate_coco against pycocotools' COCOeval(iouType="bbox") on random synthetic datasets.

The datasets mix what COCOeval treats specially: several categories (one sometimes without any
box), crowd boxes, images without ground truth or without detections, more than 100
detections on one image, objects of every area range (and areas on the 32² / 96² boundaries),
tied scores, an annotation with id 0, detections of a category not in the list.
pycocotools is a test-only reference here; its prints are silenced.
"""

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from core.detection import average_precision as ap
from core.detection.coco import DatasetError, match_detections, overlapping_pairs, read_dataset
from core.trace import Trace

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "coco_sample.json"
TOLERANCE = 1e-12  # both sides compute in float64 in the same order; the issue asks for 1e-6


def cocoeval(ground_truth, detections, iou_thresholds=None) -> COCOeval:
    """COCOeval after evaluate/accumulate/summarize, on copies (loadRes edits its input)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(ground_truth)
        coco.createIndex()
        results = coco.loadRes(copy.deepcopy(detections))
        evaluation = COCOeval(coco, results, iouType="bbox")
        if iou_thresholds is not None:
            evaluation.params.iouThrs = np.asarray(iou_thresholds, dtype=float)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def synthetic(seed, *, images=12, categories=4, objects=7, detections=25, dense_image=False):
    rng = np.random.default_rng(seed)
    image_ids = [int(i) for i in rng.choice(10_000, images, replace=False)]
    category_ids = [int(c) for c in rng.choice(90, categories, replace=False) + 1]
    annotations, dets = [], []
    for index, image in enumerate(image_ids):
        if index % 5 == 1:
            pass  # an image without ground truth (its detections are all false positives)
        else:
            for _ in range(rng.integers(0, objects + 1)):
                side = float(np.exp(rng.uniform(np.log(3), np.log(250))))
                aspect = float(np.exp(rng.uniform(-0.6, 0.6)))
                box = [*rng.uniform(0, 400, 2).round(1).tolist(), side * aspect, side / aspect]
                area = box[2] * box[3] * float(rng.uniform(0.6, 1.0))  # a mask's area < box
                if rng.random() < 0.08:
                    area = float(rng.choice([32.0**2, 96.0**2]))  # on a range boundary
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image,
                        "category_id": int(
                            rng.choice(category_ids[:-1] if seed % 3 == 0 else category_ids)
                        ),
                        "bbox": box,
                        "area": area,
                        "iscrowd": int(rng.random() < 0.1),
                    }
                )
        if index % 5 == 3:
            continue  # an image without detections
        n = detections * (8 if dense_image and index == 0 else 1)
        own = [a for a in annotations if a["image_id"] == image]
        for _ in range(rng.integers(0, n + 1)):
            if own and rng.random() < 0.7:
                a = own[rng.integers(len(own))]
                x, y, w, h = a["bbox"]
                noise = float(rng.uniform(0.0, 0.3))
                box = [x + rng.normal(0, noise * w), y + rng.normal(0, noise * h),
                       w * np.exp(rng.normal(0, noise)), h * np.exp(rng.normal(0, noise))]  # fmt: skip
                category = a["category_id"] if rng.random() < 0.9 else int(rng.choice(category_ids))
            else:
                side = float(np.exp(rng.uniform(np.log(3), np.log(250))))
                box = [*rng.uniform(0, 400, 2).tolist(), side, side]
                category = int(rng.choice(category_ids))
            dets.append(
                {
                    "image_id": image,
                    "category_id": category,
                    "bbox": [float(v) for v in box],
                    "score": round(float(rng.random()), 2),  # two decimals: many ties
                }
            )
    ground_truth = {
        "images": [{"id": i} for i in image_ids],
        "annotations": annotations,
        "categories": [{"id": c, "name": f"c{c}"} for c in category_ids],
    }
    return ground_truth, dets


def stats_difference(ground_truth, detections) -> float:
    ours = ap.evaluate_coco(ground_truth, detections)
    reference = cocoeval(ground_truth, detections).stats
    assert list(ours) == list(ap.STAT_NAMES)
    return float(np.max(np.abs(np.array([ours[name] for name in ap.STAT_NAMES]) - reference)))


@pytest.mark.parametrize("seed", range(16))
def test_summary_matches_cocoeval_on_random_datasets(seed):
    ground_truth, detections = synthetic(seed, dense_image=seed % 4 == 0)
    assert stats_difference(ground_truth, detections) <= TOLERANCE


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_precision_and_recall_arrays_match_cocoeval_entry_by_entry(seed):
    ground_truth, detections = synthetic(seed, categories=3, dense_image=True)
    reference = cocoeval(ground_truth, detections).eval
    trace = Trace()
    ap.evaluate_coco(ground_truth, detections, trace=trace)
    (event,) = trace["coco"]
    assert event["precision"].shape == reference["precision"].shape == (10, 101, 3, 4, 3)
    np.testing.assert_allclose(event["precision"], reference["precision"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(event["recall"], reference["recall"], rtol=0, atol=TOLERANCE)


def test_only_pairs_that_reach_the_lowest_threshold_are_matched_and_zero_keeps_them_all():
    """The matching looks only at pairs whose IoU reaches the lowest threshold; at threshold 0
    every pair qualifies, IoU 0 included (COCOeval's iou ≥ t). Both agree with COCOeval run at
    the same thresholds, entry by entry; precomputed pairs change nothing."""
    ground_truth, detections = synthetic(103, categories=2, dense_image=True)
    dataset = read_dataset(ground_truth, detections)
    for thresholds in ([0.0, 0.3, 0.5], [0.1, 0.9]):
        reference = cocoeval(ground_truth, detections, thresholds).eval
        precision, recall = ap.accumulate(match_detections(dataset, np.array(thresholds)))
        assert precision.shape == reference["precision"].shape
        np.testing.assert_allclose(precision, reference["precision"], rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(recall, reference["recall"], rtol=0, atol=TOLERANCE)
    given = ap.coco_evaluation_of(dataset, pairs=overlapping_pairs(dataset))
    assert given.stats == ap.coco_evaluation(ground_truth, detections).stats


def test_more_than_a_hundred_detections_on_one_image_are_cut_to_the_best_hundred():
    ground_truth, detections = synthetic(7, images=2, categories=1, objects=40, detections=300)
    assert max(np.bincount([d["image_id"] for d in detections])) > 100
    assert stats_difference(ground_truth, detections) <= TOLERANCE


def test_every_area_range_has_objects_in_the_test_data():
    ground_truth, _ = synthetic(0)
    areas = np.array([a["area"] for a in ground_truth["annotations"]])
    assert np.any(areas < 32**2) and np.any((areas > 32**2) & (areas < 96**2))
    assert np.any(areas > 96**2) and any(a["iscrowd"] for a in ground_truth["annotations"])


def test_quirks_an_annotation_with_id_zero_and_entries_cocoeval_leaves_out():
    ground_truth, detections = synthetic(11)
    ground_truth["annotations"][0]["id"] = 0  # COCOeval reads a match to id 0 as no match
    ground_truth["annotations"].append(  # an unknown image and an unknown category: left out
        {"id": 10_001, "image_id": -5, "category_id": ground_truth["categories"][0]["id"],
         "bbox": [0, 0, 10, 10], "area": 100.0, "iscrowd": 0}
    )  # fmt: skip
    ground_truth["annotations"].append(
        {"id": 10_002, "image_id": ground_truth["images"][0]["id"], "category_id": 999,
         "bbox": [0, 0, 10, 10], "area": 100.0, "iscrowd": 0}
    )  # fmt: skip
    detections.append(
        {"image_id": ground_truth["images"][0]["id"], "category_id": 999,
         "bbox": [0, 0, 10, 10], "score": 0.99}
    )  # fmt: skip
    assert stats_difference(ground_truth, detections) <= TOLERANCE


def test_a_category_without_any_box_and_an_image_without_anything():
    ground_truth, detections = synthetic(12)
    ground_truth["categories"].append({"id": 500, "name": "never seen"})
    ground_truth["images"].append({"id": 123_456})
    assert stats_difference(ground_truth, detections) <= TOLERANCE


def test_no_detections_gives_zero_ap_and_no_ground_truth_gives_minus_one():
    ground_truth, _ = synthetic(1)
    stats = ap.evaluate_coco(ground_truth, [])  # pycocotools' loadRes cannot take []
    assert stats["AP"] == 0.0 and stats["AR100"] == 0.0
    empty = {"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1}]}
    detections = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]
    assert set(ap.evaluate_coco(empty, detections).values()) == {-1.0}


def test_the_sample_file_evaluates_like_cocoeval():
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    ground_truth = {key: document[key] for key in ("images", "annotations", "categories")}
    assert stats_difference(ground_truth, document["detections"]) <= TOLERANCE


def test_a_five_thousand_detection_evaluation_agrees_with_cocoeval():
    ground_truth, detections = synthetic(5, images=200, categories=20, objects=12, detections=80)
    detections = detections[:5000]
    assert len(detections) == 5000
    assert stats_difference(ground_truth, detections) <= TOLERANCE


@pytest.mark.parametrize(
    "ground_truth, detections, message",
    [
        ({"images": [], "categories": []}, [], "annotations"),
        ({"images": [], "annotations": [], "categories": {}}, [], "must be a list"),
        ({"images": [{"id": 1}], "annotations": [], "categories": []},
         [{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}], "not among the images"),
        ({"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1}]},
         [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 1}], "4 numbers"),
        ({"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1}]},
         [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": float("nan")}], "finite"),
        ({"images": [{"id": "a"}], "annotations": [], "categories": []}, [], "integer"),
        ({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]}, [], "used twice"),
    ],
)  # fmt: skip
def test_malformed_input_raises_one_clear_line(ground_truth, detections, message):
    with pytest.raises(DatasetError, match=message):
        ap.evaluate_coco(ground_truth, detections)


def test_strict_reading_refuses_what_cocoeval_would_drop():
    ground_truth = {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []}
    detection = {"image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1], "score": 0.5}
    assert len(read_dataset(ground_truth, [detection]).det_score) == 0
    with pytest.raises(DatasetError, match="category_id: 7"):
        read_dataset(ground_truth, [detection], strict=True)
    with pytest.raises(DatasetError, match="width and height"):
        read_dataset(
            ground_truth, [detection | {"category_id": 1, "bbox": [0, 0, -1, 1]}], strict=True
        )
