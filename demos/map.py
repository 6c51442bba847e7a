"""mAP: how a ranked list of detections becomes one number, and why VOC and COCO disagree.

The question: what do "AP", "AP50" and "mAP@[.5:.95]" measure? A synthetic detector (or your own
COCO file) produces scored boxes; ranked by score and matched to ground truth they give the
TP/FP table, the precision/recall curve, and three different areas under it (VOC2007's
11 points, VOC2010's all points, COCO's 101 points), then COCO's average over IoU thresholds.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, ParamsError, Rendered, Source, Text, Upload, param
from demos.theme import COLORWAY

if TYPE_CHECKING:
    from core.detection import average_precision as ap
    from core.detection.coco import Dataset

IMAGE_SIZE = (640.0, 480.0)  # width, height of the synthetic images, in pixels
CLASS_NAMES = (
    Text("person", "人"),
    Text("car", "汽车"),
    Text("dog", "狗"),
    Text("cat", "猫"),
    Text("bicycle", "自行车"),
    Text("bird", "鸟"),
    Text("bus", "公交车"),
    Text("chair", "椅子"),
    Text("bottle", "瓶子"),
    Text("horse", "马"),
)
TABLE_ROWS = 20
TP_COLOR, FP_COLOR, IGNORED_COLOR = COLORWAY[2], COLORWAY[1], "rgba(128,128,128,0.9)"
MUTED = "rgba(128,128,128,0.9)"
LIMITS = {"images": 2000, "annotations": 20_000, "categories": 100, "detections": 20_000}
PER_IMAGE_LIMIT = 1000  # annotations, and detections, on one image
MAX_DEPTH = 8  # a COCO file nests 5 deep (annotations → entry → segmentation → polygon)


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    images: int = param(20, en="Images", zh="图像数", ge=1, le=100)
    classes: int = param(3, en="Classes", zh="类别数", ge=1, le=len(CLASS_NAMES))
    objects_per_image: float = param(
        4.0,
        en="Objects per image (mean)",
        zh="每张图像的目标数（均值）",
        ge=0.5,
        le=20.0,
        step=0.5,
    )
    localisation_noise: float = param(
        0.1,
        en="Localisation noise (× box size)",
        zh="定位噪声（× 框的尺寸）",
        help_en="Standard deviation of the detected box's centre shift and log-size error.",
        help_zh="检测框中心偏移与对数尺寸误差的标准差。",
        ge=0.0,
        le=0.4,
        step=0.01,
    )
    score_calibration: float = param(
        0.5,
        en="Score calibration",
        zh="置信度校准程度",
        help_en="1: scores rank detections by how well they fit an object; 0: scores are random.",
        help_zh="1：置信度按检测框与目标的吻合程度排序；0：置信度完全随机。",
        ge=0.0,
        le=1.0,
        step=0.05,
    )
    false_positives: float = param(
        2.0,
        en="False positives per image (mean)",
        zh="每张图像的误检数（均值）",
        ge=0.0,
        le=10.0,
        step=0.5,
    )
    duplicates: float = param(
        0.15,
        en="Duplicate detections (share of objects)",
        zh="重复检测（占目标的比例）",
        help_en="A second box on an already detected object: always a false positive.",
        help_zh="对已检测到的目标再给一个框：它总是误检。",
        ge=0.0,
        le=1.0,
        step=0.05,
    )
    missed: float = param(
        0.15,
        en="Missed objects (share)",
        zh="漏检目标（比例）",
        ge=0.0,
        le=0.9,
        step=0.05,
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)
    focus_class: int = param(
        1,
        en="Class of the table and the PR curve (number)",
        zh="表格与 PR 曲线所示的类别（序号）",
        help_en="Numbered in category-id order; past the last class, the last one.",
        help_zh="按类别 id 排序编号；超过类别数时取最后一个类别。",
        ge=1,
        le=len(CLASS_NAMES),
    )
    iou_threshold: float = param(
        0.5,
        en="IoU threshold of the table and the PR curve",
        zh="表格与 PR 曲线使用的 IoU 阈值",
        help_en="A detection is a true positive when its IoU with a free ground truth exceeds it.",
        help_zh="检测框与尚未匹配的真实框的 IoU 超过该阈值时记为真阳性（TP）。",
        ge=0.5,
        le=0.95,
        step=0.05,
    )


# --- the synthetic detector ----------------------------------------------------------------


def synthesize(p: Params) -> tuple[dict, list[dict]]:
    """A COCO ground truth and a detector's output on it, seeded by p.seed.

    Objects have log-uniform sizes (COCO's small, medium and large all occur). The detector
    misses some, jitters the rest (noise × size), adds duplicates and background boxes, and
    scores each: calibration c mixes a "quality" (IoU with its object; low for duplicates and
    background) with pure noise, score = c·quality + (1 − c)·uniform.
    """
    from core.detection.coco import coco_iou

    rng = np.random.default_rng(p.seed)
    width, height = IMAGE_SIZE
    counts = rng.poisson(p.objects_per_image, p.images)
    n = int(counts.sum())
    image = np.repeat(np.arange(1, p.images + 1), counts)
    side = np.exp(rng.uniform(np.log(12), np.log(300), n))
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0), n))
    w = np.minimum(side * np.sqrt(aspect), width - 1)
    h = np.minimum(side / np.sqrt(aspect), height - 1)
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    category = rng.integers(1, p.classes + 1, n)
    gt_box = np.stack([x, y, w, h], 1)

    found = np.flatnonzero(rng.random(n) >= p.missed)
    duplicated = found[rng.random(len(found)) < p.duplicates]
    source = np.concatenate([found, duplicated])
    noise = p.localisation_noise * np.concatenate(
        [np.ones(len(found)), np.full(len(duplicated), 2.0)]
    )
    box = gt_box[source]
    cx = box[:, 0] + box[:, 2] / 2 + rng.normal(0, 1, len(source)) * noise * box[:, 2]
    cy = box[:, 1] + box[:, 3] / 2 + rng.normal(0, 1, len(source)) * noise * box[:, 3]
    dw = box[:, 2] * np.exp(rng.normal(0, 1, len(source)) * noise)
    dh = box[:, 3] * np.exp(rng.normal(0, 1, len(source)) * noise)
    det_box = np.stack([cx - dw / 2, cy - dh / 2, dw, dh], 1)
    quality = coco_iou(det_box, box, np.zeros(len(source), dtype=bool))
    quality[len(found) :] *= 0.6  # a duplicate is usually the less confident of the two

    n_background = rng.poisson(p.false_positives, p.images)
    m = int(n_background.sum())
    bg_side = np.exp(rng.uniform(np.log(12), np.log(300), m))
    bg_box = np.stack(
        [rng.uniform(0, width - bg_side), rng.uniform(0, height - bg_side), bg_side, bg_side], 1
    )
    det_box = np.concatenate([det_box, bg_box])
    det_image = np.concatenate([image[source], np.repeat(np.arange(1, p.images + 1), n_background)])
    det_category = np.concatenate([category[source], rng.integers(1, p.classes + 1, m)])
    quality = np.concatenate([quality, rng.uniform(0, 0.5, m)])
    c = p.score_calibration
    score = c * quality + (1 - c) * rng.random(len(quality))

    ground_truth = {
        "images": [
            {"id": i, "width": int(width), "height": int(height)} for i in range(1, p.images + 1)
        ],
        "categories": [{"id": k, "name": CLASS_NAMES[k - 1].en} for k in range(1, p.classes + 1)],
        "annotations": [
            {
                "id": i + 1,
                "image_id": int(image[i]),
                "category_id": int(category[i]),
                "bbox": [round(float(v), 2) for v in gt_box[i]],
                "area": round(float(w[i] * h[i]), 2),
                "iscrowd": 0,
            }
            for i in range(n)
        ],
    }
    detections = [
        {
            "image_id": int(det_image[j]),
            "category_id": int(det_category[j]),
            "bbox": [round(float(v), 2) for v in det_box[j]],
            "score": round(float(score[j]), 4),
        }
        for j in range(len(det_box))
    ]
    return ground_truth, detections


# --- the upload ----------------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise ParamsError(f"file: {name} is not a finite number (JSON has no NaN or Infinity)")


def _nesting(raw: bytes) -> int:
    """How many containers deep a valid JSON text nests: the depth of its brackets outside
    strings. A linear scan of the bytes (no walk over the parsed objects); UTF-8 never uses
    an ASCII byte inside a multi-byte character."""
    text = np.frombuffer(raw, dtype=np.uint8)
    quotes = np.flatnonzero(text == ord('"'))
    index = np.arange(len(text))
    not_backslash = np.maximum.accumulate(np.where(text == ord("\\"), -1, index))
    before = np.maximum(quotes - 1, 0)
    backslashes = np.where(quotes > 0, before - not_backslash[before], 0)
    marks = np.zeros(len(text), dtype=np.int8)
    marks[quotes[backslashes % 2 == 0]] = 1  # a quote after an odd run of \ is escaped
    outside = np.cumsum(marks, dtype=np.int32) % 2 == 0
    opens = (text == ord("[")) | (text == ord("{"))
    closes = (text == ord("]")) | (text == ord("}"))
    step = (opens & outside).astype(np.int32) - (closes & outside)
    return int(np.cumsum(step).max(initial=0))


def load_coco_file(raw: bytes) -> Dataset:
    """A COCO ground truth plus detections from an uploaded JSON file, checked field by field.

    Accepted: {"images", "annotations", "categories", "detections"} (a COCO ground-truth file
    with the detections added under "detections"), or {"ground_truth": {...}, "detections":
    [...]}. Returns the evaluation's arrays (`core.detection.coco.Dataset`): only the fields
    used, compact (about 70 bytes a box; a session holds it while it stays on the page).
    """
    from core.detection.coco import DatasetError, read_dataset

    try:
        text = bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParamsError("file: not UTF-8 text (save the JSON file as UTF-8)") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ParamsError("file: nested too deeply to be a COCO file") from None
    except json.JSONDecodeError as error:
        raise ParamsError(
            f"file: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:  # e.g. an integer with thousands of digits
        raise ParamsError(f"file: not valid JSON ({error})") from None
    if _nesting(raw) > MAX_DEPTH:
        raise ParamsError("file: nested too deeply to be a COCO file")
    if isinstance(document, list):
        raise ParamsError(
            "file: the top level is a list (a results file?); expected an object with "
            '"images", "annotations", "categories" and "detections"'
        )
    if not isinstance(document, dict):
        raise ParamsError("file: the top level must be a JSON object {...}")
    ground_truth = document.get("ground_truth", document)
    if not isinstance(ground_truth, dict):
        raise ParamsError('file: "ground_truth" must be an object with images, annotations, ...')
    if "detections" not in document:
        raise ParamsError('file: missing the key "detections" (the list of scored boxes)')
    detections = document["detections"]
    for key in ("images", "annotations", "categories"):
        if key not in ground_truth:
            raise ParamsError(f'file: missing the key "{key}"')
    sizes = {key: ground_truth[key] for key in ("images", "annotations", "categories")}
    sizes["detections"] = detections
    for key, value in sizes.items():
        if not isinstance(value, list):
            raise ParamsError(f'file: "{key}" must be a list')
        if len(value) > LIMITS[key]:
            raise ParamsError(f"file: too many {key}: {len(value)} (at most {LIMITS[key]:,})")
    if not sizes["images"] or not sizes["categories"]:
        raise ParamsError('file: "images" and "categories" must not be empty')
    try:
        dataset = read_dataset(ground_truth, detections, strict=True)
    except DatasetError as error:
        raise ParamsError(f"file: {error}") from None
    for name, per_image in (("annotations", dataset.gt_image), ("detections", dataset.det_image)):
        if len(per_image) and np.bincount(per_image).max() > PER_IMAGE_LIMIT:
            raise ParamsError(f"file: more than {PER_IMAGE_LIMIT} {name} on one image")
    return _compact(dataset)


def _compact(dataset: Dataset) -> Dataset:
    """The dataset with category names cut to 40 characters (what the figures show)."""
    names = {category: name[:40] for category, name in dataset.category_names.items()}
    return replace(dataset, category_names=names)


UPLOAD = Upload(
    label=Text("COCO ground truth + detections (JSON)", "COCO 真实标注 + 检测结果（JSON）"),
    help=Text(
        'One JSON file: a COCO ground truth ("images", "annotations" with bbox [x, y, w, h], '
        'area and iscrowd, "categories") plus "detections": a list of {"image_id", '
        '"category_id", "bbox", "score"}; or {"ground_truth": {...}, "detections": [...]}. '
        "At most 1 MB, 2,000 images, 20,000 annotations, 20,000 detections.",
        "一个 JSON 文件：COCO 真实标注（“images”、带 bbox [x, y, w, h]、area 与 iscrowd 的“annotations”、"
        "“categories”），再加上“detections”：由 {“image_id”, “category_id”, “bbox”, “score”} 组成的列表；"
        "或写成 {“ground_truth”: {...}, “detections”: [...]}。最大 1 MB，至多 2000 张图像、"
        "20000 个标注、20000 个检测框。",
    ),
    max_bytes=1_000_000,
    suffixes=(".json",),
    load=load_coco_file,
    example="assets/coco_sample.json",
)


# --- figures -------------------------------------------------------------------------------


def _class_name(evaluation_names: dict[int, str], category: int, lang: str, synthetic: bool) -> str:
    if synthetic:
        return CLASS_NAMES[category - 1](lang)
    return evaluation_names[category]


def _why(outcome: str, iou: float, threshold: float) -> Text:
    """The outcome of one ranked detection, with the reason for a false positive."""
    if outcome == "TP":
        return Text("TP", "TP")
    if outcome == "ignored":
        return Text("ignored (crowd)", "忽略（crowd）")
    if iou > threshold:
        return Text("FP · duplicate", "FP · 重复检测")
    if iou > 0:
        return Text(f"FP · IoU ≤ {threshold:.2f}", f"FP · IoU ≤ {threshold:.2f}")
    return Text("FP · no overlap", "FP · 无重叠")


def _table_figure(ranking: ap.Ranking, class_name: str, threshold: float, lang: str) -> go.Figure:
    rows = min(TABLE_ROWS, len(ranking.score))
    fills = {
        "TP": "rgba(0,158,115,0.30)",
        "FP": "rgba(213,94,0,0.30)",
        "ignored": "rgba(128,128,128,0.2)",
    }
    outcomes = ranking.outcome[:rows].tolist()
    header = [
        Text("rank", "排名")(lang),
        Text("score", "置信度")(lang),
        Text("image", "图像")(lang),
        Text("best IoU", "最大 IoU")(lang),
        Text("with box", "对应的真实框")(lang),
        Text("outcome", "结果")(lang),
        Text("cum. TP", "累计 TP")(lang),
        Text("cum. FP", "累计 FP")(lang),
        Text("precision", "精确率")(lang),
        Text("recall", "召回率")(lang),
    ]
    cells = [
        list(range(1, rows + 1)),
        [f"{s:.3f}" for s in ranking.score[:rows]],
        ranking.image_id[:rows].tolist(),
        [f"{v:.2f}" for v in ranking.iou[:rows]],
        ["—" if g < 0 else str(g) for g in ranking.matched_gt[:rows]],
        [_why(o, v, threshold)(lang) for o, v in zip(outcomes, ranking.iou[:rows], strict=True)],
        ranking.cum_tp[:rows].tolist(),
        ranking.cum_fp[:rows].tolist(),
        [f"{v:.3f}" for v in ranking.precision[:rows]],
        [f"{v:.3f}" for v in ranking.recall[:rows]],
    ]
    row_fill = [fills[o] for o in outcomes]
    data = [
        {
            "type": "table",
            "columnwidth": [0.55, 0.75, 0.65, 0.75, 0.9, 1.3, 0.7, 0.7, 0.8, 0.8],
            "header": {
                "values": [f"<b>{h}</b>" for h in header],
                "fill": {"color": "rgba(128,128,128,0.18)"},
                "align": "center",
                "height": 26,
            },
            "cells": {
                "values": cells,
                "fill": {"color": [row_fill] * len(header)},
                "align": "center",
                "height": 22,
            },
        }
    ]
    title = Text(
        f"Ranked detections of “{class_name}” at IoU > {threshold:.2f}: the first {rows} of "
        f"{len(ranking.score)} · {ranking.n_positives} objects to find",
        f"“{class_name}”按置信度排序的检测框（IoU > {threshold:.2f}）：{len(ranking.score)} 个中的前 {rows} 个"
        f" · 共 {ranking.n_positives} 个目标",
    )
    layout = {
        "title": {"text": title(lang)},
        "height": 130 + 22 * max(rows, 3),
        "margin": {"t": 60, "b": 10, "l": 10, "r": 10},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _pr_figure(ranking: ap.Ranking, class_name: str, threshold: float, lang: str) -> go.Figure:
    from core.detection import average_precision as ap

    recall, precision = ranking.recall, ranking.precision
    data: list[dict] = []
    if len(recall):
        envelope = ap.precision_envelope(precision)
        # The envelope as a step function of recall: the area under it is VOC2010's AP.
        steps_r = np.concatenate([[0.0], np.repeat(recall, 2)])
        steps_p = np.concatenate([np.repeat(envelope, 2), [0.0]])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": steps_r.astype(np.float32),
                "y": steps_p.astype(np.float32),
                "fill": "tozeroy",
                "fillcolor": "rgba(86,180,233,0.22)",
                "line": {"color": COLORWAY[5], "width": 2, "shape": "linear"},
                "name": Text("envelope (area = VOC2010 AP)", "包络（面积 = VOC2010 AP）")(lang),
                "hovertemplate": "recall %{x:.3f}<br>p_interp %{y:.3f}<extra></extra>",
            }
        )
        colors = [
            TP_COLOR if o == "TP" else FP_COLOR if o == "FP" else IGNORED_COLOR
            for o in ranking.outcome
        ]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": recall.astype(np.float32),
                "y": precision.astype(np.float32),
                "line": {"color": MUTED, "width": 1},
                "marker": {"color": colors, "size": 6},
                "name": Text(
                    "precision at each rank (green TP, red FP)", "每个排名的精确率（绿 TP，红 FP）"
                )(lang),
                "customdata": np.arange(1, len(recall) + 1),
                "hovertemplate": Text(
                    "rank %{customdata}<br>recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>",
                    "排名 %{customdata}<br>召回率 %{x:.3f}<br>精确率 %{y:.3f}<extra></extra>",
                )(lang),
            }
        )
    levels11 = ap.VOC07_RECALL_LEVELS
    levels101 = ap.RECALL_LEVELS
    p11 = ap.interpolated_precision(recall, precision, levels11) if len(recall) else np.zeros(11)
    p101 = ap.interpolated_precision(recall, precision, levels101) if len(recall) else np.zeros(101)
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": levels101.astype(np.float32),
            "y": p101.astype(np.float32),
            "marker": {"color": COLORWAY[3], "size": 5},
            "name": Text("COCO: 101 points", "COCO：101 个点")(lang),
            "hovertemplate": "r=%{x:.2f}<br>p_interp=%{y:.3f}<extra>COCO</extra>",
        }
    )
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": levels11.astype(np.float32),
            "y": p11.astype(np.float32),
            "marker": {
                "color": COLORWAY[4],
                "size": 11,
                "symbol": "diamond-open",
                "line": {"width": 2},
            },
            "name": Text("VOC2007: 11 points", "VOC2007：11 个点")(lang),
            "hovertemplate": "r=%{x:.1f}<br>p_interp=%{y:.3f}<extra>VOC2007</extra>",
        }
    )
    # −1 is COCO's "no ground truth of this class": shown as "—", never as an AP of −1.
    values = {key: _stat(value) for key, value in ranking.ap.items()}
    title = Text(
        f"“{class_name}”, IoU > {threshold:.2f}: VOC2007 11-point AP {values['voc07']} · "
        f"VOC2010 all-point {values['voc10']} · COCO 101-point {values['coco101']}",
        f"“{class_name}”，IoU > {threshold:.2f}：VOC2007 11 点 AP {values['voc07']} · "
        f"VOC2010 全点 {values['voc10']} · COCO 101 点 {values['coco101']}",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {"title": {"text": Text("recall", "召回率")(lang)}, "range": [-0.02, 1.02]},
        "yaxis": {"title": {"text": Text("precision", "精确率")(lang)}, "range": [-0.02, 1.05]},
        "height": 440,
        "legend": {"orientation": "h", "y": -0.2},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _threshold_figure(
    evaluation: ap.CocoEvaluation, names: list[str], threshold: float, lang: str
) -> go.Figure:
    thresholds = evaluation.iou_thresholds
    per_class = evaluation.ap_by_threshold_and_category()  # (T, K)
    data = []
    many = len(names) > 10  # then one grey line per class and a single legend entry
    for k, name in enumerate(names):
        values = per_class[:, k]
        if np.all(values < 0):
            continue
        color = MUTED if many else COLORWAY[(k + 5) % len(COLORWAY)]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": thresholds,
                "y": np.where(values >= 0, values, np.nan).astype(np.float32),
                "name": Text("classes, one line each", "各类别（每类一条线）")(lang)
                if many
                else name,
                "legendgroup": "classes" if many else name,
                "showlegend": not many or k == 0,
                "line": {"width": 1, "color": color},
                "opacity": 0.7,
                "hovertemplate": f"{name}<br>IoU %{{x:.2f}}: AP %{{y:.3f}}<extra></extra>",
            }
        )
    mean = evaluation.ap_by_threshold()
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": thresholds,
            "y": np.where(mean >= 0, mean, np.nan).astype(np.float32),
            "name": Text("mean over classes", "各类平均")(lang),
            "line": {"width": 3, "color": COLORWAY[0]},
            "marker": {"size": 8},
            "hovertemplate": Text(
                "IoU %{x:.2f}<br>mAP %{y:.3f}<extra></extra>",
                "IoU %{x:.2f}<br>mAP %{y:.3f}<extra></extra>",
            )(lang),
        }
    )
    headline = evaluation.stats["AP"]
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": headline,
            "y1": headline,
            "line": {"color": COLORWAY[0], "dash": "dash", "width": 1.5},
        },
        {
            "type": "line",
            "xref": "x",
            "x0": threshold,
            "x1": threshold,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": MUTED, "dash": "dot", "width": 1.5},
        },
    ]
    title = Text(
        f"COCO AP at each IoU threshold; their mean (dashed) is AP@[.50:.95] = {headline:.3f}",
        f"每个 IoU 阈值下的 COCO AP；它们的平均（虚线）即 AP@[.50:.95] = {headline:.3f}",
    )
    layout = {
        "title": {"text": title(lang)},
        "xaxis": {
            "title": {
                "text": Text("IoU threshold (dotted: the table's)", "IoU 阈值（点线：表格所用）")(
                    lang
                )
            },
            "dtick": 0.05,
            "range": [0.48, 0.97],
        },
        "yaxis": {"title": {"text": "AP"}, "range": [-0.02, 1.02]},
        "shapes": shapes,
        "height": 400,
        "legend": {"orientation": "h", "y": -0.22},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _breakdown_figure(
    evaluation: ap.CocoEvaluation, names: list[str], counts: dict, lang: str
) -> go.Figure:
    from core.detection.coco import AREA_NAMES

    per_class = evaluation.category_ap()
    ap50 = evaluation.ap_by_threshold_and_category()[0]
    data = [
        {
            "type": "bar",
            "x": names,
            "y": np.where(ap50 >= 0, ap50, np.nan),
            "name": "AP50",
            "marker": {"color": COLORWAY[5]},
            "hovertemplate": "%{x}<br>AP50 %{y:.3f}<extra></extra>",
        },
        {
            "type": "bar",
            "x": names,
            "y": np.where(per_class >= 0, per_class, np.nan),
            "name": "AP@[.50:.95]",
            "marker": {"color": COLORWAY[0]},
            "hovertemplate": "%{x}<br>AP@[.50:.95] %{y:.3f}<extra></extra>",
        },
    ]
    area_labels = [
        Text("small < 32²", "小 < 32²")(lang),
        Text("medium", "中")(lang),
        Text("large > 96²", "大 > 96²")(lang),
    ]
    stats = evaluation.stats
    area_ap = [stats["APs"], stats["APm"], stats["APl"]]
    area_ar = [stats["ARs"], stats["ARm"], stats["ARl"]]
    objects = [counts.get(name, 0) for name in AREA_NAMES[1:]]
    data += [
        {
            "type": "bar",
            "x": area_labels,
            "y": [v if v >= 0 else None for v in area_ap],
            "name": "AP@[.50:.95] ",
            "showlegend": False,
            "marker": {"color": COLORWAY[0]},
            "customdata": objects,
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": Text(
                "%{x}<br>AP %{y:.3f}<br>%{customdata} objects<extra></extra>",
                "%{x}<br>AP %{y:.3f}<br>%{customdata} 个目标<extra></extra>",
            )(lang),
        },
        {
            "type": "bar",
            "x": area_labels,
            "y": [v if v >= 0 else None for v in area_ar],
            "name": "AR@100",
            "marker": {"color": COLORWAY[4]},
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": "%{x}<br>AR@100 %{y:.3f}<extra></extra>",
        },
    ]
    title = Text(
        "AP by class, and by object size (COCO areas, in pixels²)",
        "按类别、按目标大小（COCO 面积划分，单位：像素²）的 AP",
    )
    layout = {
        "title": {"text": title(lang)},
        "barmode": "group",
        "xaxis": {"domain": [0, 0.58], "title": {"text": Text("class", "类别")(lang)}},
        "yaxis": {"title": {"text": "AP"}, "range": [0, 1.02]},
        "xaxis2": {
            "domain": [0.68, 1],
            "anchor": "y2",
            "title": {"text": Text("object size", "目标大小")(lang)},
        },
        "yaxis2": {"anchor": "x2", "range": [0, 1.02], "title": {"text": "AP / AR"}},
        "height": 400,
        "legend": {"orientation": "h", "y": -0.25},
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _area_counts(dataset: Dataset) -> dict[str, int]:
    """Objects that count (not crowd) in each COCO area range, by the annotation's area."""
    from core.detection.coco import AREA_NAMES, AREA_RANGES

    areas = dataset.gt_area[~dataset.gt_crowd]
    return {
        name: int(np.count_nonzero((areas >= low) & (areas <= high)))
        for name, (low, high) in zip(AREA_NAMES, AREA_RANGES, strict=True)
    }


def _stat(value: float) -> str:
    return "—" if value < 0 else f"{value:.3f}"


def render(p: Params, lang: str = "en", data: Dataset | None = None) -> Rendered:
    from core.detection import average_precision as ap
    from core.detection.coco import overlapping_pairs, read_dataset

    synthetic = data is None
    dataset = read_dataset(*synthesize(p)) if synthetic else data
    pairs = overlapping_pairs(dataset)  # the IoUs both evaluations read, computed once
    evaluation = ap.coco_evaluation_of(dataset, pairs=pairs)
    voc = ap.voc_evaluation_of(dataset, p.iou_threshold, pairs=pairs)
    category_ids = [int(c) for c in evaluation.category_ids]
    names = [_class_name(evaluation.category_names, c, lang, synthetic) for c in category_ids]
    focus = category_ids[min(p.focus_class, len(category_ids)) - 1]
    focus_name = names[category_ids.index(focus)]
    ranking = voc.rankings[focus]
    figures = [
        _table_figure(ranking, focus_name, p.iou_threshold, lang),
        _pr_figure(ranking, focus_name, p.iou_threshold, lang),
        _threshold_figure(evaluation, names, p.iou_threshold, lang),
        _breakdown_figure(evaluation, names, _area_counts(dataset), lang),
    ]
    stats = evaluation.stats
    source = (
        Text("synthetic detector", "合成检测器")(lang)
        if synthetic
        else Text(
            "your file (the synthetic controls are not used)",
            "你上传的文件（合成检测器的控件不起作用）",
        )(lang)
    )
    images, boxes, detections = len(dataset.image_ids), len(dataset.gt_id), len(dataset.det_score)
    summary = Text(
        f"**Evaluated:** {source} · {images} images · {boxes} ground-truth boxes · "
        f"{detections} detections",
        f"**评估对象**：{source} · {images} 张图像 · {boxes} 个真实框 · {detections} 个检测框",
    )
    coco_header = Text(
        "| AP | AP50 | AP75 | APs | APm | APl | AR1 | AR10 | AR100 | ARs | ARm | ARl |",
        "| AP | AP50 | AP75 | APs | APm | APl | AR1 | AR10 | AR100 | ARs | ARm | ARl |",
    )
    coco_row = "| " + " | ".join(_stat(stats[name]) for name in ap.STAT_NAMES) + " |"
    voc_methods = {method: voc.mean(method) for method in ("voc07", "voc10")}
    voc_line = Text(
        f"VOC mAP at IoU > {p.iou_threshold:.2f}: 11-point {_stat(voc_methods['voc07'])}, "
        f"all-point {_stat(voc_methods['voc10'])} · COCO numbers: AP is AP@[.50:.95], "
        "— where no object counts.",
        f"IoU > {p.iou_threshold:.2f} 时的 VOC mAP：11 点 {_stat(voc_methods['voc07'])}，"
        f"全点 {_stat(voc_methods['voc10'])} · COCO 指标中 AP 即 AP@[.50:.95]，“—”表示没有可计的目标。",
    )
    notes = "\n".join(
        [
            summary(lang),
            "",
            coco_header(lang),
            "|" + "---:|" * len(ap.STAT_NAMES),
            coco_row,
            "",
            voc_line(lang),
        ]
    )
    return Rendered(figures, notes)


presets = {
    "A good detector": Params(
        localisation_noise=0.04,
        score_calibration=0.95,
        false_positives=0.3,
        duplicates=0.02,
        missed=0.05,
    ),
    "Duplicates are false positives": Params(duplicates=0.8),
    "Uncalibrated scores": Params(score_calibration=0.0),
    "Loose boxes: AP50 high, AP75 low": Params(
        localisation_noise=0.15, score_calibration=0.9, false_positives=0.5
    ),
    "Few objects: 11 points vs all points": Params(
        images=3,
        classes=1,
        objects_per_image=2.0,
        false_positives=1.0,
        missed=0.2,
        score_calibration=0.3,
        localisation_noise=0.1,
        duplicates=0.15,
        seed=9,
    ),
}
preset_titles = {
    "A good detector": Text("A good detector", "一个好的检测器"),
    "Duplicates are false positives": Text("Duplicates are false positives", "重复检测就是误检"),
    "Uncalibrated scores": Text("Uncalibrated scores", "置信度没有校准"),
    "Loose boxes: AP50 high, AP75 low": Text(
        "Loose boxes: AP50 high, AP75 low", "框不够紧：AP50 高、AP75 低"
    ),
    "Few objects: 11 points vs all points": Text(
        "Few objects: 11 points vs all points", "目标很少：11 点与全点之差"
    ),
}

EXPLANATION = Text(
    en="""
**From boxes to a curve.** Rank one class's detections by score. Going down the list, a detection
is a *true positive* (TP) when its IoU with a ground-truth box exceeds the threshold and that box
is still free; otherwise it is a *false positive* (FP): a box in the background, or a duplicate on
an object already found. After each rank, precision = TP / (TP + FP) and recall = TP / #objects:
the table and the zigzag precision/recall curve. Crowd boxes are "ignored": matching one counts
neither way.

**Three areas under it.** Average precision summarises the curve, and the definitions differ in how
they read it. All three first replace precision by its *envelope* p_interp(r) = the best precision
at recall ≥ r, which removes the zigzag. PASCAL VOC 2007 (Everingham et al.) then averages
p_interp at 11 recalls 0, 0.1, …, 1 (diamonds); VOC 2010 onwards takes the exact area under the
envelope ("all points", shaded); COCO (Lin et al., 2014) averages p_interp at 101 recalls (dots).
With many detections they nearly agree; with few objects the 11 coarse samples can miss or
over-count a step of the envelope (preset *Few objects*). Past the last recall reached, p_interp is
0: missed objects cost AP under every definition.

**COCO's AP is a mean over IoU thresholds.** "AP" in COCO papers is AP@[.50:.95]: the 101-point AP
averaged over the thresholds .50, .55, …, .95 and over classes, so it rewards tight boxes (preset
*Loose boxes*: AP50 stays high while AP75 collapses). COCO also reports AP by object size (small <
32², medium, large > 96² pixels, by the annotation's area) and AR, the recall reached with 1, 10 or
100 detections per image. The numbers here are computed like pycocotools' COCOeval, and the tests
hold them to it.

Note that VOC and COCO also match slightly differently: VOC gives each detection the box it
overlaps most and calls it a duplicate if that box is taken (IoU > t), COCO lets it take the best
*free* box (IoU ≥ t). The table and the PR curve use VOC's rule at the chosen threshold; the IoU
threshold and class-by-class figures use COCO's.

Upload your own COCO ground truth with a "detections" list to evaluate it the same way. Related:
IoU losses (Rezatofighi et al., 2019, GIoU; Zheng et al., 2020, DIoU/CIoU) train the boxes that
these thresholds judge.
""",
    zh="""
**从检测框到曲线。** 把某一类的检测框按置信度从高到低排序。沿着列表往下看：若检测框与某个真实框的 IoU 超过阈值，
且这个真实框尚未被匹配，它就是*真阳性*（TP）；否则是*假阳性*（FP）——要么落在背景上，要么是对已找到目标的重复检测。
每个排名处计算精确率 = TP / (TP + FP)、召回率 = TP / 目标总数，得到表格和锯齿状的精确率–召回率（PR）曲线。
crowd 框是“忽略”的：匹配到它既不算 TP 也不算 FP。

**曲线下的三种面积。** 平均精度（AP）是对这条曲线的概括，三种定义的差别在于怎么“读”曲线。三者都先把精确率换成它的
*包络*：p_interp(r) = 召回率 ≥ r 时的最大精确率，从而去掉锯齿。PASCAL VOC 2007（Everingham 等）取 0, 0.1, …, 1 共 11 个
召回率上的 p_interp 求平均（菱形）；VOC 2010 起改为包络下的精确面积（“全点”，阴影部分）；COCO（Lin 等，2014）取
101 个召回率上的 p_interp 求平均（圆点）。检测框很多时三者几乎一致；目标很少时，11 个粗糙的采样点可能漏掉或多算包络
的一个台阶（预设“目标很少”）。超过最终召回率后 p_interp 为 0：漏检在每种定义下都会拉低 AP。

**COCO 的 AP 是多个 IoU 阈值的平均。** COCO 论文里的“AP”指 AP@[.50:.95]：在 .50, .55, …, .95 这些阈值上分别计算 101 点
AP，再对阈值和类别求平均，因此它奖励定位精确的框（预设“框不够紧”：AP50 仍然很高，AP75 却大幅下降）。COCO 还按目标
大小（小 < 32²、中、大 > 96² 像素，按标注的 area 字段划分）报告 AP，以及 AR：每张图最多取 1、10 或 100 个检测框时达到的
召回率。这里的数值与 pycocotools 的 COCOeval 算法一致，测试中逐项核对。

注意 VOC 和 COCO 的匹配规则也略有不同：VOC 让每个检测框取与它重叠最大的真实框，若该框已被占用则算重复检测（IoU > t）；
COCO 则让它取*尚未被占用*的最佳真实框（IoU ≥ t）。表格和 PR 曲线在所选阈值下使用 VOC 的规则；IoU 阈值图与分类别图使用
COCO 的规则。

你可以上传自己的 COCO 标注（加上“detections”列表），用同样的方法评估。相关内容：IoU 系列损失（Rezatofighi 等，2019，GIoU；
Zheng 等，2020，DIoU/CIoU）训练的正是这些阈值所评判的框。
""",
)

DEMO = Demo(
    slug="map",
    section="vision",
    figures=4,
    title=Text("Mean average precision (mAP)", "平均精度均值（mAP）"),
    summary=Text(
        "Ranked detections → TP/FP table → PR curve → VOC 11-point, all-point and COCO 101-point AP.",
        "排序的检测框 → TP/FP 表 → PR 曲线 → VOC 11 点、全点与 COCO 101 点 AP。",
    ),
    sources=(
        Source(
            "The PASCAL Visual Object Classes (VOC) Challenge",
            "M. Everingham, L. Van Gool, C. K. I. Williams, J. Winn, A. Zisserman",
            2010,
            "https://doi.org/10.1007/s11263-009-0275-4",
        ),
        Source(
            "Microsoft COCO: Common Objects in Context",
            "T.-Y. Lin et al.",
            2014,
            "https://arxiv.org/abs/1405.0312",
        ),
        Source(
            "Generalized Intersection over Union",
            "H. Rezatofighi et al.",
            2019,
            "https://arxiv.org/abs/1902.09630",
        ),
        Source(
            "Distance-IoU Loss: Faster and Better Learning for Bounding Box Regression",
            "Z. Zheng et al.",
            2020,
            "https://arxiv.org/abs/1911.08287",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
    upload=UPLOAD,
)
