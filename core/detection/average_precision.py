"""From a ranked list of detections to average precision: VOC2007, VOC2010+ and COCO.

Detections sorted by score are matched to ground truth at an IoU threshold; each is a true
positive (TP) or a false positive (FP); cumulative counts give precision TP/(TP + FP) and
recall TP/#positives at every rank. AP summarises that curve, and the definitions differ in
how (Everingham et al. 2010, "The PASCAL VOC challenge"; Lin et al. 2014, "Microsoft COCO"):

- voc07: the mean of the interpolated precision p_interp(r) = max_{r' ≥ r} p(r') at the 11
  recalls 0, 0.1, …, 1;
- voc10: the exact area under the monotone envelope p_interp (every recall, "all points");
- coco101: the mean of p_interp at the 101 recalls 0, 0.01, …, 1, and COCO's headline AP
  averages that over ten IoU thresholds .50:.05:.95 and over categories.

`evaluate_coco` reproduces pycocotools' COCOeval(iouType="bbox") summary numbers;
`evaluate_voc` is the PASCAL VOC devkit's per-class evaluation at one threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.detection.coco import (
    AREA_NAMES,
    IOU_THRESHOLDS,
    MAX_DETECTIONS,
    RECALL_LEVELS,
    Dataset,
    match_detections,
    overlapping_pairs,
    read_dataset,
)
from core.trace import Trace

Method = Literal["voc07", "voc10", "coco101"]
METHODS: tuple[Method, ...] = ("voc07", "voc10", "coco101")
VOC07_RECALL_LEVELS = np.arange(11) / 10  # i/10: the double nearest each decimal
# The VOC devkit loops over np.arange(0, 1.1, 0.1), whose 0.30000000000000004 puts a recall of
# exactly 3/10 below "0.3"; the levels here are the decimals themselves.
STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)


def _curves(recall: np.ndarray, precision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.ndim != 1 or recall.shape != precision.shape:
        raise ValueError(
            f"recall, precision: 1-D arrays of the same length expected, got shapes "
            f"{recall.shape} and {precision.shape}"
        )
    for name, values in (("recall", recall), ("precision", precision)):
        if not np.all(np.isfinite(values) & (values >= 0) & (values <= 1)):
            raise ValueError(f"{name}: values must lie in [0, 1]")
    if np.any(np.diff(recall) < 0):
        raise ValueError("recall: must be non-decreasing (the cumulative curve in ranked order)")
    return recall, precision


def precision_envelope(precision: np.ndarray) -> np.ndarray:
    """p_interp at each rank: the best precision at this rank or any later one (…, N)."""
    precision = np.asarray(precision, dtype=np.float64)
    return np.flip(np.maximum.accumulate(np.flip(precision, -1), axis=-1), -1)


def interpolated_precision(
    recall: np.ndarray, precision: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """p_interp(r) = max{p(r') : r' ≥ r} at each recall level r, 0 past the last recall.

    As COCOeval computes it: the envelope, then for each level the first rank whose recall
    reaches it (np.searchsorted, side="left"). recall, precision: (N,) or (T, N), recall
    non-decreasing along the last axis -> (len(levels),) or (T, len(levels)).
    """
    recall = np.atleast_2d(np.asarray(recall, dtype=np.float64))
    envelope = np.atleast_2d(precision_envelope(precision))
    padded = np.concatenate([envelope, np.zeros((len(envelope), 1))], axis=1)  # past the end
    result = np.stack(
        [
            row[np.searchsorted(r, levels, side="left")]
            for r, row in zip(recall, padded, strict=True)
        ]
    )
    return result if np.ndim(precision) > 1 else result[0]


def average_precision(recall: np.ndarray, precision: np.ndarray, method: Method) -> float:
    """AP of one precision/recall curve (1-D, same length, in ranked order).

    voc07: mean p_interp at recall 0, 0.1, …, 1 (VOC2007 devkit);
    voc10: Σ (r_i − r_{i−1}) p_interp(r_i), the area under the envelope (VOC2010+ devkit);
    coco101: mean p_interp at recall 0, 0.01, …, 1 (COCOeval.accumulate).
    An empty curve has AP 0.
    """
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; allowed: {', '.join(METHODS)}")
    recall, precision = _curves(recall, precision)
    if method == "voc10":
        # The devkit's sentinels: recall 0 and 1 at the ends, precision 0 there.
        r = np.concatenate([[0.0], recall, [1.0]])
        p = precision_envelope(np.concatenate([[0.0], precision, [0.0]]))
        steps = np.flatnonzero(r[1:] != r[:-1])
        return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))
    levels = VOC07_RECALL_LEVELS if method == "voc07" else RECALL_LEVELS
    return float(np.mean(interpolated_precision(recall, precision, levels)))


def precision_recall(
    true_positive: np.ndarray, false_positive: np.ndarray, n_positives: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative recall TP/#positives and precision TP/(TP + FP) at every rank.

    A rank that is neither (an ignored detection) repeats the previous point. (N,) -> (N,), (N,)
    """
    tp = np.cumsum(np.asarray(true_positive, dtype=np.float64))
    fp = np.cumsum(np.asarray(false_positive, dtype=np.float64))
    recall = tp / n_positives if n_positives > 0 else np.zeros_like(tp)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return recall, precision


# --- COCO ---------------------------------------------------------------------------------


@dataclass
class CocoEvaluation:
    """COCOeval.accumulate's arrays: precision (T, R, K, A, M) at the recall levels and
    recall (T, K, A, M); −1 where a category has no ground truth that counts."""

    category_ids: np.ndarray
    category_names: dict[int, str]
    iou_thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    stats: dict[str, float]

    def category_ap(self, area: int = 0, max_detections: int = 2) -> np.ndarray:
        """AP@[.50:.95] of each category (K,), −1 where it has no ground truth that counts."""
        return mean_valid(self.precision[:, :, :, area, max_detections], axis=(0, 1))

    def ap_by_threshold(self, area: int = 0, max_detections: int = 2) -> np.ndarray:
        """AP over categories at each IoU threshold (T,), −1 where none counts."""
        return mean_valid(self.precision[:, :, :, area, max_detections], axis=(1, 2))

    def ap_by_threshold_and_category(self, area: int = 0, max_detections: int = 2) -> np.ndarray:
        """101-point AP of each category at each IoU threshold (T, K), −1 where undefined."""
        return mean_valid(self.precision[:, :, :, area, max_detections], axis=1)


def mean_valid(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean of the entries > −1 (COCOeval's `np.mean(s[s > -1])`), −1 where there are none."""
    valid = values > -1
    count = np.sum(valid, axis=axis)
    total = np.sum(np.where(valid, values, 0.0), axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), -1.0)


def accumulate(matching, max_detections: Sequence[int] = MAX_DETECTIONS) -> tuple:
    """COCOeval.accumulate: per category, area range and detection cap, the detections of
    all images ranked by score (stable), cumulative TP/FP, and p_interp at 101 recalls.

    -> precision (T, R, K, A, M), recall (T, K, A, M).
    """
    d: Dataset = matching.dataset
    n_t, n_a = matching.true_positive.shape[:2]
    n_k, n_m = len(d.category_ids), len(max_detections)
    precision = -np.ones((n_t, len(RECALL_LEVELS), n_k, n_a, n_m))
    recall = -np.ones((n_t, n_k, n_a, n_m))
    det_category = d.det_category[matching.det]
    scores = d.det_score[matching.det]
    for k in range(n_k):
        if not matching.evaluated(k):
            continue
        of_category = det_category == k
        for m, cap in enumerate(max_detections):
            chosen = np.flatnonzero(of_category & (matching.rank < cap))
            ranked = chosen[np.argsort(-scores[chosen], kind="mergesort")]
            for a in range(n_a):
                n_positives = matching.positives(k, a)
                if n_positives == 0:
                    continue
                tp = matching.true_positive[:, a, ranked]
                fp = ~tp & ~matching.ignored[:, a, ranked]
                tp_sum = np.cumsum(tp, axis=1, dtype=np.float64)
                fp_sum = np.cumsum(fp, axis=1, dtype=np.float64)
                rc = tp_sum / n_positives
                pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
                recall[:, k, a, m] = rc[:, -1] if len(ranked) else 0.0
                if len(ranked):
                    precision[:, :, k, a, m] = interpolated_precision(rc, pr, RECALL_LEVELS)
                else:
                    precision[:, :, k, a, m] = 0.0
    return precision, recall


def summarize(
    precision: np.ndarray, recall: np.ndarray, iou_thresholds: np.ndarray = IOU_THRESHOLDS
) -> dict[str, float]:
    """COCOeval.summarize's twelve numbers (its `stats`, in order), −1 where undefined."""

    def mean(values: np.ndarray) -> float:
        return float(mean_valid(values))

    def at(threshold: float) -> np.ndarray:
        return np.flatnonzero(iou_thresholds == threshold)

    last = len(MAX_DETECTIONS) - 1
    return {
        "AP": mean(precision[:, :, :, 0, last]),
        "AP50": mean(precision[at(0.5)][:, :, :, 0, last]),
        "AP75": mean(precision[at(0.75)][:, :, :, 0, last]),
        "APs": mean(precision[:, :, :, 1, last]),
        "APm": mean(precision[:, :, :, 2, last]),
        "APl": mean(precision[:, :, :, 3, last]),
        "AR1": mean(recall[:, :, 0, 0]),
        "AR10": mean(recall[:, :, 0, 1]),
        "AR100": mean(recall[:, :, 0, last]),
        "ARs": mean(recall[:, :, 1, last]),
        "ARm": mean(recall[:, :, 2, last]),
        "ARl": mean(recall[:, :, 3, last]),
    }


def coco_evaluation(
    ground_truth: Mapping, detections: Sequence, *, trace: Trace | None = None
) -> CocoEvaluation:
    """The full COCO evaluation: matching, accumulation and the twelve summary numbers."""
    return coco_evaluation_of(read_dataset(ground_truth, detections), trace=trace)


def coco_evaluation_of(
    dataset: Dataset, *, pairs: tuple | None = None, trace: Trace | None = None
) -> CocoEvaluation:
    """`coco_evaluation` of data already read (`read_dataset`); `pairs`: its
    `overlapping_pairs` when already computed."""
    matching = match_detections(dataset, pairs=pairs)
    precision, recall = accumulate(matching)
    stats = summarize(precision, recall)
    if trace is not None:
        trace.record(
            "coco",
            category_ids=dataset.category_ids,
            iou_thresholds=IOU_THRESHOLDS,
            area_names=AREA_NAMES,
            precision=precision,
            recall=recall,
            stats=stats,
        )
    return CocoEvaluation(
        dataset.category_ids, dataset.category_names, IOU_THRESHOLDS, precision, recall, stats
    )


def evaluate_coco(
    ground_truth: Mapping, detections: Sequence, *, trace: Trace | None = None
) -> dict[str, float]:
    """COCOeval(iouType="bbox") summary: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100,
    ARs, ARm, ARl, equal to its `stats` in that order, −1 where COCOeval gives −1.

    ground_truth: a COCO dict (images, annotations with bbox [x, y, w, h], area, iscrowd,
    categories); detections: [{"image_id", "category_id", "bbox", "score"}], may be empty.
    """
    return coco_evaluation(ground_truth, detections, trace=trace).stats


# --- PASCAL VOC ---------------------------------------------------------------------------


@dataclass
class Ranking:
    """One class's detections in score order, matched at one IoU threshold: the TP/FP table.

    Every field is (N,); `outcome` is "TP", "FP" or "ignored" (matched a difficult box).
    """

    category_id: int
    n_positives: int
    det: np.ndarray  # index into the detections given
    image_id: np.ndarray
    score: np.ndarray
    iou: np.ndarray  # best IoU with a ground truth of its image and class
    matched_gt: np.ndarray  # annotation id of that ground truth, −1 for none
    outcome: np.ndarray
    cum_tp: np.ndarray
    cum_fp: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    ap: dict[str, float]


@dataclass
class VocEvaluation:
    """Per-class AP at one IoU threshold and their mean over the classes with positives."""

    iou_threshold: float
    method: str
    per_class: dict[int, float]  # −1 for a class without ground truth that counts
    mean_ap: float
    rankings: dict[int, Ranking]

    def mean(self, method: Method) -> float:
        """mAP by another AP definition, over the same classes (−1 if none has positives)."""
        valid = [r.ap[method] for r in self.rankings.values() if r.n_positives > 0]
        return float(np.mean(valid)) if valid else -1.0


def best_overlaps(dataset: Dataset, pairs: tuple | None = None) -> tuple:
    """For each detection, its highest IoU with a ground truth of the same image and category
    and which one (the first on a tie, as the devkit's argmax); (0, −1) where it overlaps none.

    pairs: `overlapping_pairs(dataset)`, computed here when not given. -> (D,), (D,)
    """
    pair_det, pair_gt, pair_iou = overlapping_pairs(dataset) if pairs is None else pairs
    best_iou = np.zeros(len(dataset.det_score))
    best_gt = np.full(len(dataset.det_score), -1)
    if len(pair_det):
        segment_start = np.flatnonzero(np.concatenate([[True], pair_det[1:] != pair_det[:-1]]))
        lengths = np.diff(np.append(segment_start, len(pair_det)))
        best = np.maximum.reduceat(pair_iou, segment_start)
        at_best = pair_iou == np.repeat(best, lengths)
        position = np.where(at_best, np.arange(len(pair_iou)), len(pair_iou))
        first = np.minimum.reduceat(position, segment_start)  # pairs run in ground-truth order
        dets = pair_det[segment_start]
        best_iou[dets] = best
        best_gt[dets] = pair_gt[first]
    return best_iou, best_gt


def _rank_class(dataset: Dataset, k: int, iou_threshold: float, overlaps: tuple) -> Ranking:
    """The VOC devkit's matching for one class: each detection, best score first, takes the
    ground truth of its image it overlaps most (matched or not). Above the threshold it is a
    TP if that box is free, an FP if it was taken (a duplicate); a difficult box (here: a
    crowd box) makes it neither. Below the threshold it is an FP."""
    d = dataset
    gts = np.flatnonzero(d.gt_category == k)
    dets = np.flatnonzero(d.det_category == k)
    dets = dets[np.argsort(-d.det_score[dets], kind="stable")]
    n_positives = int(np.count_nonzero(~d.gt_crowd[gts]))
    best_iou, best_gt = overlaps[0][dets], overlaps[1][dets]

    above = (best_iou > iou_threshold) & (best_gt >= 0)  # the devkit's ovmax > ovthresh
    difficult = above & d.gt_crowd[np.maximum(best_gt, 0)] if len(gts) else above
    candidates = np.flatnonzero(above & ~difficult)
    _, first = np.unique(best_gt[candidates], return_index=True)
    true_positive = np.zeros(len(dets), dtype=bool)
    true_positive[candidates[first]] = True
    false_positive = ~true_positive & ~difficult
    recall, precision = precision_recall(true_positive, false_positive, n_positives)
    ap = {
        method: average_precision(recall, precision, method) if n_positives else -1.0
        for method in METHODS
    }
    matched_id = d.gt_id[np.maximum(best_gt, 0)] if len(gts) else np.zeros(len(dets), np.int64)
    return Ranking(
        category_id=int(d.category_ids[k]),
        n_positives=n_positives,
        det=d.det_source[dets],
        image_id=d.image_ids[d.det_image[dets]],
        score=d.det_score[dets],
        iou=best_iou,
        matched_gt=np.where(best_gt >= 0, matched_id, -1),
        outcome=np.where(true_positive, "TP", np.where(difficult, "ignored", "FP")),
        cum_tp=np.cumsum(true_positive),
        cum_fp=np.cumsum(false_positive),
        precision=precision,
        recall=recall,
        ap=ap,
    )


def evaluate_voc(
    ground_truth: Mapping,
    detections: Sequence,
    iou_threshold: float = 0.5,
    method: Method = "voc10",
    *,
    trace: Trace | None = None,
) -> VocEvaluation:
    """PASCAL VOC evaluation: per-class AP at one IoU threshold (a match needs IoU > it) and
    mAP, the mean over classes with ground truth. Crowd boxes play VOC's "difficult", their
    overlap measured as COCO does (intersection / detection area), so that a detection inside
    a crowd region is ignored.

    Same inputs as `evaluate_coco`. IoU is continuous (no "+1 pixel" as in the devkit).
    The trace records each class's ranked TP/FP table ("ranking").
    """
    return voc_evaluation_of(
        read_dataset(ground_truth, detections), iou_threshold, method, trace=trace
    )


def voc_evaluation_of(
    dataset: Dataset,
    iou_threshold: float = 0.5,
    method: Method = "voc10",
    *,
    pairs: tuple | None = None,
    trace: Trace | None = None,
) -> VocEvaluation:
    """`evaluate_voc` of data already read (`read_dataset`); `pairs`: its
    `overlapping_pairs` when already computed."""
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; allowed: {', '.join(METHODS)}")
    if not (isinstance(iou_threshold, (int, float)) and 0 <= iou_threshold < 1):
        raise ValueError(f"iou_threshold: must be in [0, 1), got {iou_threshold!r}")
    overlaps = best_overlaps(dataset, pairs)
    rankings = {}
    for k, category in enumerate(dataset.category_ids):
        ranking = _rank_class(dataset, k, float(iou_threshold), overlaps)
        rankings[int(category)] = ranking
        if trace is not None:
            trace.record("ranking", **vars(ranking))
    per_class = {category: ranking.ap[method] for category, ranking in rankings.items()}
    valid = [ap for ap in per_class.values() if ap >= 0]
    mean_ap = float(np.mean(valid)) if valid else -1.0
    return VocEvaluation(float(iou_threshold), method, per_class, mean_ap, rankings)
