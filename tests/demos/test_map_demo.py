"""The map demo: its numbers are COCOeval's, its stories hold, and its upload refuses bad files."""

import contextlib
import copy
import io
import json
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from core.detection import average_precision as ap
from core.detection.coco import Dataset
from demos import map as demo
from demos.base import ParamsError

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "coco_sample.json"
DEMO = demo.DEMO


def cocoeval_stats(ground_truth, detections):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(ground_truth)
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(copy.deepcopy(detections)), iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation.stats


def notes_stats(notes):
    row = notes.splitlines()[4]
    return [float(cell) if cell.strip() != "—" else -1.0 for cell in row.strip("| ").split("|")]


def test_synthetic_data_is_seeded_and_covers_every_area_range():
    p = demo.Params()
    assert demo.synthesize(p) == demo.synthesize(p)
    assert demo.synthesize(p) != demo.synthesize(p.model_copy(update={"seed": 1}))
    ground_truth, detections = demo.synthesize(p)
    areas = np.array([a["area"] for a in ground_truth["annotations"]])
    assert (
        np.any(areas < 32**2)
        and np.any((areas > 32**2) & (areas < 96**2))
        and np.any(areas > 96**2)
    )
    assert len(detections) > len(ground_truth["annotations"])


def test_the_results_table_is_cocoevals_summary():
    p = demo.Params()
    expected = cocoeval_stats(*demo.synthesize(p))
    np.testing.assert_allclose(notes_stats(demo.render(p).notes), expected, atol=5e-4)  # 3 decimals


def test_the_table_and_the_pr_curve_show_the_voc_ranking_of_the_focus_class():
    p = demo.Params(focus_class=2, iou_threshold=0.6)
    table, pr, *_ = demo.render(p).figures
    ground_truth, detections = demo.synthesize(p)
    ranking = ap.evaluate_voc(ground_truth, detections, 0.6).rankings[2]
    columns = table.data[0].cells.values
    rows = min(demo.TABLE_ROWS, len(ranking.score))
    assert [cell.split(" ")[0] for cell in columns[5]] == ranking.outcome[:rows].tolist()
    reasons = {cell for cell in columns[5] if cell.startswith("FP")}
    assert reasons <= {"FP · duplicate", "FP · IoU ≤ 0.60", "FP · no overlap"}
    assert [float(v) for v in columns[8]] == pytest.approx(ranking.precision[:rows], abs=5e-4)
    diamonds = next(t for t in pr.data if t.name == "VOC2007: 11 points")
    expected = ap.interpolated_precision(ranking.recall, ranking.precision, ap.VOC07_RECALL_LEVELS)
    np.testing.assert_allclose(np.asarray(diamonds.y), expected, atol=1e-6)
    for method in ap.METHODS:
        value = ap.average_precision(ranking.recall, ranking.precision, method)
        assert f"{value:.3f}" in pr.layout.title.text


def test_ap_versus_threshold_averages_to_the_headline_ap():
    evaluation_figure = demo.render(demo.Params()).figures[2]
    mean = next(t for t in evaluation_figure.data if t.name == "mean over classes")
    headline = evaluation_figure.layout.shapes[0].y0
    assert np.mean(np.asarray(mean.y, dtype=float)) == pytest.approx(headline, abs=1e-6)
    assert np.all(np.diff(np.asarray(mean.y, dtype=float)) <= 1e-6)  # stricter IoU, lower AP


def _stats(preset):
    return ap.evaluate_coco(*demo.synthesize(demo.presets[preset]))


def test_presets_tell_their_stories():
    good, duplicates = _stats("A good detector"), _stats("Duplicates are false positives")
    uncalibrated, loose = _stats("Uncalibrated scores"), _stats("Loose boxes: AP50 high, AP75 low")
    assert good["AP50"] > 0.9 and duplicates["AP50"] < good["AP50"] - 0.1
    assert uncalibrated["AP"] < good["AP"] - 0.3
    assert loose["AP50"] > 0.6 and loose["AP75"] < loose["AP50"] - 0.4
    few = demo.presets["Few objects: 11 points vs all points"]
    ranking = ap.evaluate_voc(*demo.synthesize(few), few.iou_threshold).rankings[1]
    assert abs(ranking.ap["voc07"] - ranking.ap["voc10"]) > 0.03


# --- the upload ----------------------------------------------------------------------------


def test_the_sample_file_renders_and_its_table_is_cocoevals():
    raw = SAMPLE.read_bytes()
    data = DEMO.load_upload(raw)
    document = json.loads(raw)
    ground_truth = {key: document[key] for key in ("images", "annotations", "categories")}
    expected = cocoeval_stats(ground_truth, document["detections"])
    for lang in ("en", "zh"):
        rendered = DEMO.render(demo.Params(focus_class=9), lang=lang, data=data)
        assert len(rendered.figures) == len(DEMO.render().figures)
        np.testing.assert_allclose(notes_stats(rendered.notes), expected, atol=5e-4)
    table = DEMO.render(demo.Params(focus_class=9), data=data).figures[0]
    assert "car" in table.layout.title.text  # past the last class: the last one (id 3)


def test_the_ground_truth_key_form_is_accepted_too():
    document = json.loads(SAMPLE.read_bytes())
    wrapped = {
        "ground_truth": {key: document[key] for key in ("images", "annotations", "categories")},
        "detections": document["detections"],
    }
    assert_same_data(
        DEMO.load_upload(json.dumps(wrapped).encode()), DEMO.load_upload(SAMPLE.read_bytes())
    )


def assert_same_data(a, b):
    assert vars(a).keys() == vars(b).keys()
    for name, value in vars(a).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)
        else:
            assert value == getattr(b, name), name


def _file(**changes):
    document = json.loads(SAMPLE.read_bytes())
    document.update(changes)
    return json.dumps(document).encode()


def _detection(**changes):
    return [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5} | changes]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"images": [', "not valid JSON"),
        (b"[1, 2]", "top level is a list"),
        (b"3", "must be a JSON object"),
        (b"[" * 100_000, "nested too deeply"),
        (_file(info=json.loads('{"a": ' * 9 + "1" + "}" * 9)), "nested too deeply"),
        (_file(detections=None), '"detections" must be a list'),
        (json.dumps({"images": [], "annotations": [], "categories": []}).encode(), "detections"),
        (_file(images=[]), "must not be empty"),
        (_file(images=[{"id": i} for i in range(2001)]), "too many images: 2001"),
        (_file(detections=[{}] * 20_001), "too many detections"),
        (_file(detections=_detection(bbox=[0, 0, 5])), r"detections\[0\].bbox"),
        (_file(detections=_detection(bbox=[0, 0, -5, 5])), "width and height must be ≥ 0"),
        (_file(detections=_detection(bbox="0 0 5 5")), "4 numbers"),
        (_file(detections=_detection(image_id=99)), "99 is not among the images"),
        (_file(detections=_detection(category_id=2)), "2 is not among the categories"),
        (_file(detections=_detection(score="high")), "score: must be a number"),
        (_file(detections=_detection(score=1e999)), "finite"),
        (SAMPLE.read_bytes().replace(b'"score": 0.97', b'"score": NaN'), "NaN is not a finite"),
        (_file(detections=_detection(image_id=True)), "image_id: must be an integer"),
        (_file(detections=[{"image_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]), '"category_id"'),
        (_file(images=[{"id": 1}, {"id": 1}]), "used twice"),
        (_file(annotations=[{"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1]}]),
         "7 is not among the images"),
        (_file(annotations=[{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                             "iscrowd": 2}]), "iscrowd: must be 0 or 1"),
        (_file(detections=_detection() * 1001), "more than 1000 detections on one image"),
        (b"{" + b" " * 1_000_000 + b"}", "larger than 1000 KB"),
    ],
)  # fmt: skip
def test_malformed_and_oversized_files_are_refused_with_one_line(raw, message):
    with pytest.raises(ParamsError) as error:
        DEMO.load_upload(raw)
    text = str(error.value)
    assert text.startswith("file: ") and "\n" not in text and len(text) <= 300
    assert re.search(message, text), text


def test_the_upload_keeps_only_the_fields_it_evaluates():
    document = json.loads(SAMPLE.read_bytes())
    document["categories"][0]["name"] = "x" * 500
    data = DEMO.load_upload(json.dumps(document).encode())
    assert isinstance(data, Dataset)  # arrays, not the file's dicts and lists
    for name, value in vars(data).items():
        assert isinstance(value, np.ndarray) or name == "category_names", name
        assert not isinstance(value, np.ndarray) or value.flags.owndata, name  # no views
    assert data.category_names[document["categories"][0]["id"]] == "x" * 40
    assert len(data.gt_id) == len(document["annotations"])
    assert len(data.det_score) == len(document["detections"])


def cap_file() -> bytes:
    """A COCO file just under the upload cap: 8 images × 1,000 boxes and 1,000 detections
    (issue 29's 985 KB file had the same counts), one class: every pair of a detection and a
    box of its image is a candidate match."""
    rng = np.random.default_rng(0)
    size = rng.uniform(8, 120, (8000, 2))
    corner = rng.uniform(0, 1, (8000, 2)) * ([640, 480] - size)
    boxes = np.concatenate([corner, size], axis=1).round(1)
    areas = (size[:, 0] * size[:, 1]).round(1)
    annotations = [
        {"id": i + 1, "image_id": i // 1000 + 1, "category_id": 1, "bbox": box, "area": area,
         "iscrowd": 0}
        for i, (box, area) in enumerate(zip(boxes.tolist(), areas.tolist(), strict=True))
    ]  # fmt: skip
    source = rng.integers(0, 8000, 1000)
    shifted = boxes[source] + np.pad(rng.normal(0, 3, (1000, 2)), ((0, 0), (0, 2)))
    scores = rng.random(1000).round(3)
    detections = [
        {"image_id": int(i) // 1000 + 1, "category_id": 1, "bbox": box, "score": score}
        for i, box, score in zip(source, shifted.round(1).tolist(), scores.tolist(), strict=True)
    ]
    document = {
        "images": [{"id": i, "width": 640, "height": 480} for i in range(1, 9)],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "c1"}],
        "detections": detections,
    }
    return json.dumps(document).encode()


def held_bytes(value, seen=None) -> int:
    """The memory an object keeps alive: containers, their contents, arrays' buffers (a
    view's base too), counted once each. Deterministic, unlike a process's RSS."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, np.ndarray):
        base = value.base if isinstance(value.base, np.ndarray) else None
        return size + (held_bytes(base, seen) if base is not None else 0)
    if isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set)):
        children = list(value)
    elif hasattr(value, "__dict__"):
        children = [vars(value)]
    else:
        children = []
    return size + sum(held_bytes(child, seen) for child in children)


def test_an_upload_at_the_cap_renders_and_a_session_holds_at_most_two_megabytes():
    """Issue 29: a file at the cap was held as about 8 MB of dicts and lists per session."""
    raw = cap_file()
    assert 950_000 < len(raw) <= DEMO.upload.max_bytes
    data = DEMO.load_upload(raw)
    held = held_bytes(data)
    assert 8000 * 4 * 8 < held <= 2_000_000, held  # at least the boxes; was ≈ 8 MB of dicts
    assert len(pickle.dumps(data)) <= 2_000_000
    rendered = DEMO.render(demo.Params(), data=data)
    assert "8 images · 8000 ground-truth boxes · 1000 detections" in rendered.notes
    assert all(0 <= value <= 1 for value in notes_stats(rendered.notes))


def test_the_nesting_check_skips_brackets_and_escaped_quotes_inside_strings():
    """The depth limit reads the bytes: brackets inside strings, escaped quotes and
    backslashes must not count (compared with a walk over the parsed document)."""

    def depth(value):
        children = value.values() if isinstance(value, dict) else value
        if not isinstance(value, (dict, list)):
            return 0
        return 1 + max((depth(child) for child in children), default=0)

    rng = np.random.default_rng(1)
    pieces = ["[", "]", "{", "}", '"', "\\", '\\"', "a", "中", " "]

    def text():
        return "".join(rng.choice(pieces, rng.integers(0, 5)))

    def document(level):
        roll = rng.random()
        if level > 9 or roll < 0.3:
            return text() if roll < 0.15 else 1
        if roll < 0.65:
            return [document(level + 1) for _ in range(rng.integers(0, 3))]
        return {text(): document(level + 1) for _ in range(rng.integers(0, 3))}

    for _ in range(300):
        value = document(0)
        for raw in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
            assert demo._nesting(raw.encode()) == depth(value), raw


def test_the_duplicates_preset_table_names_duplicates():
    table = demo.render(demo.presets["Duplicates are false positives"]).figures[0]
    assert "FP · duplicate" in table.data[0].cells.values[5]


def test_a_class_with_no_ground_truth_shows_a_dash_not_an_ap_of_minus_one():
    """COCO's −1 ("no ground truth") reads as "—" in the PR figure's title, as in the notes."""
    from demos import all_demos

    demo = next(d for d in all_demos if d.slug == "map")
    params = demo.Params(
        images=1,
        objects_per_image=0.5,
        missed=0.9,
        classes=10,
        focus_class=10,
        false_positives=10,
        seed=0,
    )
    title = demo.render(params).figures[1].layout.title.text
    assert "−1" not in title and "-1.000" not in title
    assert title.count("—") == 3
