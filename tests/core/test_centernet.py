"""CenterNet's radius against bisection on the three IoU conditions, encode's targets against
their definition, and decode(encode(boxes)) = boxes."""

import numpy as np
import pytest
import torch

from core.detection import centernet
from core.detection.boxes import box_iou
from core.trace import Trace


def worst_iou(h, w, r):
    """The smallest IoU of a box with its three displacements, from box_iou on real boxes."""
    box = torch.tensor([[0.0, 0.0, w, h]], dtype=torch.float64)
    moved = torch.tensor([[r, r, w + r, h + r]], dtype=torch.float64)
    shrunk = torch.tensor([[r, r, w - r, h - r]], dtype=torch.float64)
    grown = torch.tensor([[-r, -r, w + r, h + r]], dtype=torch.float64)
    values = [box_iou(box, other).item() for other in (moved, grown)]
    if 2 * r < min(h, w):
        values.append(box_iou(box, shrunk).item())
    else:
        values.append(0.0)
    return min(values)


def bisect(h, w, o):
    low, high = 0.0, min(h, w) / 2  # worst_iou decreases in r; at min/2 the shrunk box is empty
    for _ in range(80):
        mid = (low + high) / 2
        low, high = (mid, high) if worst_iou(h, w, mid) >= o else (low, mid)
    return low


@pytest.mark.parametrize(
    "h, w, o", [(10, 10, 0.7), (3, 40, 0.7), (25, 7, 0.3), (1, 1, 0.9), (60, 33, 0.5)]
)
def test_radius_is_the_bisection_root_of_the_three_iou_conditions(h, w, o):
    assert centernet.gaussian_radius(h, w, o) == pytest.approx(bisect(h, w, o), abs=1e-9)


def test_the_paper_example_and_the_released_codes_value():
    assert centernet.gaussian_radius(10, 10, 0.7) == pytest.approx(0.8167, abs=1e-4)
    assert centernet.released_radius(10, 10, 0.7) == pytest.approx(2.7332, abs=1e-4)
    assert worst_iou(10, 10, 2.7332) < 0.5  # the released radius breaks the overlap it promises


def test_radius_is_elementwise_on_tensors_and_traces_the_three_cases():
    h = torch.tensor([10.0, 3.0, 60.0])
    w = torch.tensor([10.0, 40.0, 33.0])
    trace = Trace()
    radius = centernet.gaussian_radius(h, w, 0.7, trace=trace)
    assert isinstance(radius, torch.Tensor) and radius.shape == (3,)
    for i in range(3):
        assert radius[i].item() == pytest.approx(
            centernet.gaussian_radius(h[i].item(), w[i].item()), rel=1e-6
        )
    event = trace["radius"][0]
    torch.testing.assert_close(
        radius, torch.minimum(torch.minimum(event["moved"], event["shrunk"]), event["grown"])
    )
    assert centernet.gaussian_radius(0, 5) == 0.0


def test_encode_writes_the_defined_gaussian_size_and_offset():
    boxes = torch.tensor([[13.0, 10.0, 61.0, 38.0]])
    heatmap, size, offset, indices = centernet.encode(boxes, torch.tensor([1]), 2, (32, 32), 4)
    cx, cy = 37.0 / 4, 24.0 / 4
    ix, iy = 9, 6
    assert indices.tolist() == [iy * 32 + ix]
    torch.testing.assert_close(size[:, iy, ix], torch.tensor([12.0, 7.0]))
    torch.testing.assert_close(offset[:, iy, ix], torch.tensor([cx - ix, cy - iy]))
    assert size.count_nonzero() == 2 and heatmap[0].count_nonzero() == 0
    r = max(0, int(np.floor(centernet.gaussian_radius(7.0, 12.0, 0.7))))
    sigma = (2 * r + 1) / 6
    for dy in range(-r - 1, r + 2):
        for dx in range(-r - 1, r + 2):
            inside = abs(dx) <= r and abs(dy) <= r
            expected = np.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) if inside else 0.0
            assert heatmap[1, iy + dy, ix + dx].item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("stride", [2, 4, 8])
def test_decode_of_encode_recovers_the_boxes(stride):
    rng = np.random.default_rng(stride)
    image = 256
    cells = rng.choice((image // stride) ** 2, 12, replace=False)  # distinct centre cells
    cx = (cells % (image // stride) + rng.uniform(0, 1, 12)) * stride
    cy = (cells // (image // stride) + rng.uniform(0, 1, 12)) * stride
    wh = rng.uniform(4, 80, (12, 2))
    boxes = torch.tensor(
        np.stack([cx - wh[:, 0] / 2, cy - wh[:, 1] / 2, cx + wh[:, 0] / 2, cy + wh[:, 1] / 2], 1),
        dtype=torch.float32,
    )
    labels = torch.as_tensor(rng.integers(0, 3, 12))
    out = image // stride
    targets = centernet.encode(boxes, labels, 3, (out, out), stride)
    decoded, scores, decoded_labels = centernet.decode(*targets[:3], stride=stride, k=12)
    # match by position: sort both lists by the top-left corner
    order = torch.argsort(decoded[:, 0] + 1000 * decoded[:, 1])
    expected = torch.argsort(boxes[:, 0] + 1000 * boxes[:, 1])
    torch.testing.assert_close(
        decoded[order], boxes[expected], atol=1e-3, rtol=0
    )  # 1e-3 px, float32
    assert decoded_labels[order].tolist() == labels[expected].tolist()
    assert torch.all(scores == 1)


def test_decode_keeps_only_3x3_peaks_in_score_order():
    heat = torch.zeros(2, 6, 6)
    heat[0, 2, 2], heat[0, 2, 3] = 0.9, 0.8  # the second is next to a higher cell: no peak
    heat[1, 5, 0] = 0.5
    heat[0, 0, 5] = 0.5  # a tie with the class-1 peak: row-major order puts class 0 first
    size = torch.ones(2, 6, 6)
    trace = Trace()
    boxes, scores, labels = centernet.decode(
        heat, size, torch.zeros(2, 6, 6), stride=4, k=4, trace=trace
    )
    assert scores.tolist() == pytest.approx([0.9, 0.5, 0.5, 0.0])
    assert labels[:3].tolist() == [0, 0, 1]
    torch.testing.assert_close(boxes[0], torch.tensor([6.0, 6.0, 10.0, 10.0]))
    assert trace["decode"][0]["peaks"][0, 2, 3] == 0
