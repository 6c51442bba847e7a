"""COCO-format detection data, and COCOeval's matching of detections to ground truth.

`read_dataset` turns a COCO ground-truth dict and a list of detections into arrays;
`match_detections` decides, for every detection, IoU threshold and area range, which ground
truth it matches: pycocotools' `COCOeval(iouType="bbox").evaluate()` (Lin et al. 2014),
vectorised. `core.detection.average_precision` turns the result into precision/recall
curves and AP (`accumulate` and `summarize`).

COCOeval's rules, reproduced exactly:
- per image and category, detections ranked by score with a stable sort (ties keep file
  order) and cut to the 100 best; each detection takes, among the ground truths it overlaps
  by IoU ≥ t that are still free, the one of highest IoU (the later one on a tie);
- crowd boxes (`iscrowd`) and boxes outside the area range (the annotation's `area` field)
  are "ignored": a detection matches them only when no regular box qualifies; such a
  detection counts neither as a true nor as a false positive; a crowd box can absorb any
  number of detections, and its IoU is intersection / detection area;
- an unmatched detection whose own area (w·h) is outside the range is ignored too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# COCOeval's Params.setDetParams, built the same way so that the floats are identical.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_LEVELS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETECTIONS = (1, 10, 100)
AREA_NAMES = ("all", "small", "medium", "large")
AREA_RANGES = np.array([[0, 1e5**2], [0, 32**2], [32**2, 96**2], [96**2, 1e5**2]], dtype=float)
_MATCH_CAP = 1 - 1e-10  # COCOeval: iou = min([t, 1 - 1e-10])


@dataclass
class Dataset:
    """Ground truth and detections as arrays. Image and category ids are sorted (COCOeval's
    order); gt_* are (G,) or (G, 4), det_* (D,) or (D, 4), boxes in x, y, w, h."""

    image_ids: np.ndarray
    category_ids: np.ndarray
    category_names: dict[int, str]
    gt_id: np.ndarray
    gt_image: np.ndarray  # index into image_ids
    gt_category: np.ndarray  # index into category_ids
    gt_box: np.ndarray
    gt_area: np.ndarray  # the annotation's `area` (w·h when absent)
    gt_crowd: np.ndarray
    det_image: np.ndarray
    det_category: np.ndarray
    det_box: np.ndarray
    det_score: np.ndarray
    det_source: np.ndarray  # position in the detections list given

    @property
    def det_area(self) -> np.ndarray:
        return self.det_box[:, 2] * self.det_box[:, 3]  # as COCO.loadRes sets it


class DatasetError(ValueError):
    """A ground-truth or detections entry is malformed; the message names it in one line."""


def _integer(value: Any, where: str) -> int:
    if type(value) is int:  # the common case, without the slower ABC check
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DatasetError(f"{where}: must be an integer, got {type(value).__name__}")
    return int(value)


def _number(value: Any, where: str) -> float:
    if type(value) is float and math.isfinite(value):  # the common case, fast
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DatasetError(f"{where}: must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise DatasetError(f"{where}: must be a finite number, got {value}")
    return float(value)


def _bbox(value: Any, where: str, *, strict: bool) -> list[float]:
    is_list = type(value) is list or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    )
    if not is_list or len(value) != 4:
        raise DatasetError(f"{where}: must be a list of 4 numbers [x, y, width, height]")
    box = [_number(item, where) for item in value]
    if strict and (box[2] < 0 or box[3] < 0):
        raise DatasetError(f"{where}: width and height must be ≥ 0, got {box[2]:g}, {box[3]:g}")
    return box


def _entries(container: Mapping, key: str) -> list:
    if key not in container:
        raise DatasetError(f'ground truth: missing the key "{key}"')
    entries = container[key]
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Sequence):
        raise DatasetError(f'"{key}": must be a list')
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise DatasetError(f"{key}[{index}]: must be an object, got {type(entry).__name__}")
    return list(entries)


def _field(entry: Mapping, key: str, where: str) -> Any:
    if key not in entry:
        raise DatasetError(f'{where}: missing "{key}"')
    return entry[key]


def read_dataset(ground_truth: Mapping, detections: Sequence, *, strict: bool = False) -> Dataset:
    """Arrays from a COCO ground-truth dict and a list of detections.

    ground_truth: {"images": [{"id"}], "categories": [{"id", "name"?}], "annotations":
    [{"id", "image_id", "category_id", "bbox": [x, y, w, h], "area"?, "iscrowd"?}]};
    detections: [{"image_id", "category_id", "bbox", "score"}].
    `area` defaults to w·h and `iscrowd` to 0. As COCOeval does, annotations of unknown images
    or categories and detections of unknown categories are left out; a detection on an image
    not in "images" is an error (COCO.loadRes asserts). With strict=True every unknown id and
    every negative width or height is an error.
    """
    if not isinstance(ground_truth, Mapping):
        raise DatasetError("ground truth: must be a COCO dict with images, annotations, categories")
    if isinstance(detections, (str, bytes, Mapping)) or not isinstance(detections, Sequence):
        raise DatasetError("detections: must be a list")
    images = _entries(ground_truth, "images")
    categories = _entries(ground_truth, "categories")
    annotations = _entries(ground_truth, "annotations")
    for index, entry in enumerate(detections):
        if not isinstance(entry, Mapping):
            raise DatasetError(f"detections[{index}]: must be an object")

    listed = [_integer(_field(e, "id", f"images[{i}]"), f"images[{i}].id")
              for i, e in enumerate(images)]  # fmt: skip
    image_ids = np.unique(np.array(listed, dtype=np.int64))
    if strict and len(image_ids) != len(listed):
        raise DatasetError("images: an image id is used twice")
    names: dict[int, str] = {}
    for i, entry in enumerate(categories):
        category = _integer(_field(entry, "id", f"categories[{i}]"), f"categories[{i}].id")
        if strict and category in names:
            raise DatasetError(f"categories[{i}].id: {category} is used twice")
        names.setdefault(category, str(entry.get("name", category)))
    category_ids = np.array(sorted(names), dtype=np.int64)
    image_index = {int(image): i for i, image in enumerate(image_ids)}
    category_index = {int(category): k for k, category in enumerate(category_ids)}

    gt_rows, seen_ids = [], set()
    for i, entry in enumerate(annotations):
        where = f"annotations[{i}]"
        annotation_id = _integer(_field(entry, "id", where), f"{where}.id")
        if annotation_id in seen_ids:
            raise DatasetError(f"{where}.id: {annotation_id} is used twice")
        seen_ids.add(annotation_id)
        image = _integer(_field(entry, "image_id", where), f"{where}.image_id")
        category = _integer(_field(entry, "category_id", where), f"{where}.category_id")
        box = _bbox(_field(entry, "bbox", where), f"{where}.bbox", strict=strict)
        area = _number(entry["area"], f"{where}.area") if "area" in entry else box[2] * box[3]
        crowd = entry.get("iscrowd", 0)
        if isinstance(crowd, bool):
            crowd = int(crowd)
        if _integer(crowd, f"{where}.iscrowd") not in (0, 1):
            raise DatasetError(f"{where}.iscrowd: must be 0 or 1, got {crowd}")
        if strict and area < 0:
            raise DatasetError(f"{where}.area: must be ≥ 0, got {area:g}")
        known = image in image_index and category in category_index
        if strict and not known:
            raise _unknown(where, image, category, image_index)
        if known:
            gt_rows.append(
                (annotation_id, image_index[image], category_index[category], *box, area, crowd)
            )

    det_rows = []
    for i, entry in enumerate(detections):
        where = f"detections[{i}]"
        image = _integer(_field(entry, "image_id", where), f"{where}.image_id")
        category = _integer(_field(entry, "category_id", where), f"{where}.category_id")
        box = _bbox(_field(entry, "bbox", where), f"{where}.bbox", strict=strict)
        score = _number(_field(entry, "score", where), f"{where}.score")
        if image not in image_index or (strict and category not in category_index):
            raise _unknown(where, image, category, image_index)
        if category in category_index:
            det_rows.append((image_index[image], category_index[category], *box, score, i))

    gt = np.array(gt_rows, dtype=np.float64).reshape(-1, 9)
    det = np.array(det_rows, dtype=np.float64).reshape(-1, 8)
    return Dataset(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names={int(c): names[int(c)] for c in category_ids},
        gt_id=np.array([row[0] for row in gt_rows], dtype=np.int64),
        gt_image=gt[:, 1].astype(np.int64),
        gt_category=gt[:, 2].astype(np.int64),
        gt_box=gt[:, 3:7].copy(),  # copies: a view would keep the whole table alive
        gt_area=gt[:, 7].copy(),
        gt_crowd=gt[:, 8].astype(bool),
        det_image=det[:, 0].astype(np.int64),
        det_category=det[:, 1].astype(np.int64),
        det_box=det[:, 2:6].copy(),
        det_score=det[:, 6].copy(),
        det_source=det[:, 7].astype(np.int64),
    )


def _unknown(where: str, image: int, category: int, image_index: dict) -> DatasetError:
    if image not in image_index:
        return DatasetError(f"{where}.image_id: {image} is not among the images")
    return DatasetError(f"{where}.category_id: {category} is not among the categories")


def coco_iou(det_box: np.ndarray, gt_box: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
    """IoU of x, y, w, h boxes as pycocotools' maskApi bbIou computes it, elementwise.

    For a crowd ground truth the union is the detection's own area: a detection inside a
    crowd region overlaps it fully. Boxes that do not overlap (or touch) have IoU 0.
    det_box, gt_box: (..., 4), gt_crowd: (...) -> (...).
    """
    dx, dy, dw, dh = np.moveaxis(det_box, -1, 0)
    gx, gy, gw, gh = np.moveaxis(gt_box, -1, 0)
    inter_w = np.minimum(dx + dw, gx + gw) - np.maximum(dx, gx)
    inter_h = np.minimum(dy + dh, gy + gh) - np.maximum(dy, gy)
    overlap = (inter_w > 0) & (inter_h > 0)
    intersection = np.where(overlap, inter_w * inter_h, 0.0)
    det_area = dw * dh
    union = np.where(gt_crowd, det_area, det_area + gw * gh - intersection)
    return np.divide(intersection, union, out=np.zeros(intersection.shape), where=overlap)


@dataclass
class Matching:
    """COCOeval.evaluate's per-detection outcome, for every IoU threshold t and area range a.

    Detections are those kept (the 100 best per image and category), ordered by category,
    then image, then rank; shapes (T, A, D) for the outcomes, (D,) for the rest, and (A, G)
    for which ground truths each area range ignores.
    """

    dataset: Dataset
    det: np.ndarray  # index into the dataset's detections
    rank: np.ndarray  # rank within its image and category, 0 = highest score
    matched_gt: np.ndarray  # (T, A, D) index of the ground truth matched, −1 for none
    true_positive: np.ndarray  # (T, A, D)
    ignored: np.ndarray  # (T, A, D) counted neither as TP nor as FP
    gt_ignored: np.ndarray  # (A, G)

    def positives(self, category: int, area: int) -> int:
        """Ground truths of a category that count (not crowd, inside the area range)."""
        of_category = self.dataset.gt_category == category
        return int(np.count_nonzero(of_category & ~self.gt_ignored[area]))

    def evaluated(self, category: int) -> bool:
        """COCOeval evaluates a category only where it has a ground truth or a detection."""
        d = self.dataset
        return bool(np.any(d.gt_category == category) or np.any(d.det_category == category))


def ragged_arange(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])."""
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + np.arange(total) - offsets


_PAIRS_PER_CHUNK = 1 << 20


def _pairs_at_least(
    det_box: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    gt_box: np.ndarray,
    gt_crowd: np.ndarray,
    minimum: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (detection, ground truth) pairs with IoU ≥ minimum, detection i paired with the
    ground truths starts[i] .. starts[i] + lengths[i] − 1; ordered by detection, then ground
    truth. Pairs are formed in chunks of about a million, so memory stays bounded.

    -> (P,) detection index, (P,) ground-truth index, (P,) IoU.
    """
    kept_det, kept_gt, kept_iou = [], [], []
    # IoU > 0 needs overlapping x ranges: coco_iou's min(x + w) > max(x), with its own sums.
    det_left, det_right = det_box[:, 0], det_box[:, 0] + det_box[:, 2]
    gt_left, gt_right = gt_box[:, 0], gt_box[:, 0] + gt_box[:, 2]
    chunk_of = np.cumsum(lengths) // _PAIRS_PER_CHUNK
    for chunk in np.unique(chunk_of):
        rows = np.flatnonzero((chunk_of == chunk) & (lengths > 0))
        if len(rows) == 0:
            continue
        pair_det = np.repeat(rows, lengths[rows])
        pair_gt = ragged_arange(starts[rows], lengths[rows])
        if minimum > 0:  # a cheap first cut: pairs whose x ranges do not overlap have IoU 0
            near = (gt_left[pair_gt] < det_right[pair_det]) & (
                gt_right[pair_gt] > det_left[pair_det]
            )
            pair_det, pair_gt = pair_det[near], pair_gt[near]
        iou = coco_iou(det_box[pair_det], gt_box[pair_gt], gt_crowd[pair_gt])
        keep = iou >= minimum
        kept_det.append(pair_det[keep])
        kept_gt.append(pair_gt[keep])
        kept_iou.append(iou[keep])
    if not kept_det:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(kept_det), np.concatenate(kept_gt), np.concatenate(kept_iou)


SMALLEST_IOU = float(np.nextafter(0.0, 1.0))  # IoU ≥ this ⟺ IoU > 0 (IoU is a double)


def overlapping_pairs(
    dataset: Dataset, minimum: float = SMALLEST_IOU
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every detection paired with the ground truths of its image and category whose IoU
    (`coco_iou`) is ≥ minimum, by default those it overlaps at all; ordered by detection,
    then ground truth (indices into the dataset's detections and ground truths).

    -> (P,) detection index, (P,) ground-truth index, (P,) IoU.
    """
    d = dataset
    n_images = len(d.image_ids)
    gt_group = d.gt_category * n_images + d.gt_image
    gt_order = np.argsort(gt_group, kind="stable")
    gt_count = np.bincount(gt_group, minlength=len(d.category_ids) * n_images)
    gt_start = np.cumsum(gt_count) - gt_count
    det_group = d.det_category * n_images + d.det_image
    det, position, iou = _pairs_at_least(
        d.det_box,
        gt_start[det_group],
        gt_count[det_group],
        d.gt_box[gt_order],
        d.gt_crowd[gt_order],
        minimum,
    )
    return det, gt_order[position], iou


def match_detections(
    dataset: Dataset,
    iou_thresholds: np.ndarray = IOU_THRESHOLDS,
    area_ranges: np.ndarray = AREA_RANGES,
    max_detections: int = MAX_DETECTIONS[-1],
    *,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Matching:
    """COCOeval.evaluate(): greedy matching per image and category, for all thresholds and
    area ranges at once.

    The detections of every image and category are taken rank by rank (the best of each
    first), so one step handles one detection of every image-category group; within a step
    the IoU threshold × area range "lanes" are independent, and each group picks its match
    with a segmented max over the ground truths it overlaps by at least the lowest
    threshold (no other pair can match). `pairs`: `overlapping_pairs(dataset)` when
    already computed (the VOC evaluation reads them too).
    """
    d = dataset
    n_images = len(d.image_ids)
    thresholds = np.minimum(np.asarray(iou_thresholds, dtype=float), _MATCH_CAP)
    n_t, n_a = len(thresholds), len(area_ranges)
    lanes = n_t * n_a

    gt_area = d.gt_area
    out_of_range = (gt_area[None] < area_ranges[:, :1]) | (gt_area[None] > area_ranges[:, 1:])
    gt_ignored = d.gt_crowd[None] | out_of_range  # (A, G)

    # Ground truths grouped by (category, image), file order within a group.
    gt_group = d.gt_category * n_images + d.gt_image
    gt_order = np.argsort(gt_group, kind="stable")
    n_groups = len(d.category_ids) * n_images

    # Detections by (category, image), then score (stable: file order on ties); keep 100.
    det_group = d.det_category * n_images + d.det_image
    by_score = np.argsort(-d.det_score, kind="stable")
    order = by_score[np.argsort(det_group[by_score], kind="stable")]
    group_of = det_group[order]
    det_count = np.bincount(group_of, minlength=n_groups)
    first = np.cumsum(det_count) - det_count
    rank = np.arange(len(order)) - first[group_of]
    keep = rank < max_detections
    order, rank, group_of = order[keep], rank[keep], group_of[keep]
    kept_count = np.minimum(det_count, max_detections)

    n_det = len(order)
    matched_gt = np.full((lanes, n_det), -1, dtype=np.int64)
    taken = np.zeros((lanes, len(gt_order)), dtype=bool)  # by position in gt_order
    lane_threshold = np.repeat(thresholds, n_a)[:, None]
    lane_area = np.tile(np.arange(n_a), n_t)
    ignored_sorted = gt_ignored[:, gt_order][lane_area]  # (lanes, G) in gt_order
    crowd_sorted = d.gt_crowd[gt_order]

    # Only pairs whose IoU reaches the lowest threshold can ever match: the step loop below
    # sees those alone (a few per detection) instead of every ground truth of the group.
    minimum = thresholds.min(initial=np.inf)
    if pairs is None or minimum < SMALLEST_IOU:  # given pairs leave out those of IoU 0
        pairs = overlapping_pairs(d, minimum)
    pair_det, pair_gt, pair_iou = pairs
    det_position = np.full(len(d.det_score), -1)
    det_position[order] = np.arange(n_det)
    gt_position = np.empty(len(gt_order), dtype=np.int64)
    gt_position[gt_order] = np.arange(len(gt_order))
    keep = (pair_iou >= minimum) & (det_position[pair_det] >= 0)
    pair_det, pair_iou = det_position[pair_det[keep]], pair_iou[keep]
    pair_gt = gt_position[pair_gt[keep]]
    # Step by rank: one detection of every image-category group at a time (groups share no
    # ground truth, so their matches within a step are independent); the sort is stable, so
    # each detection's pairs stay in ground-truth order.
    by_step = np.argsort(rank[pair_det] * max(n_det, 1) + pair_det, kind="stable")
    pair_det, pair_gt, pair_iou = pair_det[by_step], pair_gt[by_step], pair_iou[by_step]
    bounds = np.searchsorted(rank[pair_det], np.arange(int(kept_count.max(initial=0)) + 1))

    for step in range(len(bounds) - 1):
        lo, hi = bounds[step], bounds[step + 1]
        if lo == hi:
            continue
        dets, flat, iou = pair_det[lo:hi], pair_gt[lo:hi], pair_iou[lo:hi]
        new = np.concatenate([[True], dets[1:] != dets[:-1]])
        segment_start, segment = np.flatnonzero(new), np.cumsum(new) - 1

        free = ~taken[:, flat] | crowd_sorted[flat]
        qualifies = free & (iou >= lane_threshold)
        regular = qualifies & ~ignored_sorted[:, flat]
        fallback = qualifies & ignored_sorted[:, flat]
        best_regular = np.maximum.reduceat(np.where(regular, iou, -1.0), segment_start, axis=1)
        best_fallback = np.maximum.reduceat(np.where(fallback, iou, -1.0), segment_start, axis=1)
        use_regular = best_regular >= 0  # a regular match stops the search (COCOeval's break)
        best = np.where(use_regular, best_regular, best_fallback)
        candidates = np.where(use_regular[:, segment], regular, fallback)
        winners = candidates & (iou == best[:, segment])
        position = np.where(winners, np.arange(len(flat)), -1)
        last = np.maximum.reduceat(position, segment_start, axis=1)  # the later one on a tie
        lane, group = np.nonzero(last >= 0)
        gt_position = flat[last[lane, group]]
        matched_gt[lane, dets[segment_start[group]]] = gt_order[gt_position]
        taken[lane, gt_position] = True

    matched_gt = matched_gt.reshape(n_t, n_a, n_det)
    has_match = matched_gt >= 0
    ignored = np.zeros_like(has_match)
    counted = has_match
    if len(d.gt_id):
        safe = np.where(has_match, matched_gt, 0)
        ignored = has_match & gt_ignored[np.arange(n_a)[None, :, None], safe]
        # COCOeval stores the matched gt's id and tests it for 0: a match to an annotation
        # whose id is 0 is read as "unmatched". Kept for exactness.
        counted = has_match & (d.gt_id[safe] != 0)
    det_area = d.det_area[order]
    outside = (det_area[None] < area_ranges[:, :1]) | (det_area[None] > area_ranges[:, 1:])
    ignored |= ~counted & outside[None]
    return Matching(
        dataset=d,
        det=order,
        rank=rank,
        matched_gt=matched_gt,
        true_positive=counted & ~ignored,
        ignored=ignored,
        gt_ignored=gt_ignored,
    )
