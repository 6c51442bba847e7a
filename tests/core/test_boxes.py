"""core.detection.boxes against torchvision's formulas, re-derived here, and closed forms.

torchvision is not installed; the reference functions below are written from its source
(`ops/boxes.py`, `giou_loss.py`, `diou_loss.py`, `ciou_loss.py`, `_utils._loss_inter_union`),
keeping its choices: eps added to the union in IoU, to the enclosing area in GIoU and to the
squared diagonal in DIoU; CIoU's α computed under no_grad with eps in its denominator, and its
DIoU part always with the default eps 1e-7. Everything runs in float64.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.detection import boxes
from core.trace import Trace

TV_EPS = 1e-7


# --- torchvision's formulas, re-derived ---------------------------------------------------


def tv_box_iou(a, b):
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, None, :2], b[:, :2])
    rb = torch.min(a[:, None, 2:], b[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area_a[:, None] + area_b - inter
    return inter / union, union


def tv_generalized_box_iou(a, b):
    iou, union = tv_box_iou(a, b)
    lti = torch.min(a[:, None, :2], b[:, :2])
    rbi = torch.max(a[:, None, 2:], b[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return iou - (areai - union) / areai


def tv_inter_union(b1, b2):
    x1, y1, x2, y2 = b1.unbind(-1)
    x1g, y1g, x2g, y2g = b2.unbind(-1)
    xkis1, ykis1 = torch.max(x1, x1g), torch.max(y1, y1g)
    xkis2, ykis2 = torch.min(x2, x2g), torch.min(y2, y2g)
    intsctk = torch.zeros_like(x1)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsctk[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
    unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
    return intsctk, unionk


def tv_giou_loss(b1, b2, eps=TV_EPS):
    intsctk, unionk = tv_inter_union(b1, b2)
    iouk = intsctk / (unionk + eps)
    x1, y1, x2, y2 = b1.unbind(-1)
    x1g, y1g, x2g, y2g = b2.unbind(-1)
    area_c = (torch.max(x2, x2g) - torch.min(x1, x1g)) * (torch.max(y2, y2g) - torch.min(y1, y1g))
    return 1 - (iouk - (area_c - unionk) / (area_c + eps))


def tv_diou_iou_loss(b1, b2, eps=TV_EPS):
    intsct, union = tv_inter_union(b1, b2)
    iou = intsct / (union + eps)
    x1, y1, x2, y2 = b1.unbind(-1)
    x1g, y1g, x2g, y2g = b2.unbind(-1)
    diag2 = (
        (torch.max(x2, x2g) - torch.min(x1, x1g)) ** 2
        + (torch.max(y2, y2g) - torch.min(y1, y1g)) ** 2
        + eps
    )
    centres2 = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + centres2 / diag2, iou


def tv_diou_loss(b1, b2, eps=TV_EPS):
    return tv_diou_iou_loss(b1, b2, eps)[0]


def tv_ciou_loss(b1, b2, eps=TV_EPS, diou_eps=TV_EPS):
    diou_loss, iou = tv_diou_iou_loss(b1, b2, diou_eps)  # torchvision passes no eps here
    x1, y1, x2, y2 = b1.unbind(-1)
    x1g, y1g, x2g, y2g = b2.unbind(-1)
    v = (4 / math.pi**2) * (
        torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1))
    ) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou_loss + alpha * v


REFERENCE = {
    "iou": lambda b1, b2, eps=TV_EPS: (
        1 - tv_inter_union(b1, b2)[0] / (tv_inter_union(b1, b2)[1] + eps)
    ),
    "giou": tv_giou_loss,
    "diou": tv_diou_loss,
    "ciou": tv_ciou_loss,
}


def random_boxes(n, seed, *, scale=10.0, min_size=0.05):
    generator = torch.Generator().manual_seed(seed)
    corner = torch.rand(n, 2, generator=generator, dtype=torch.float64) * scale
    size = torch.rand(n, 2, generator=generator, dtype=torch.float64) * scale / 2 + min_size
    return torch.cat([corner, corner + size], 1)


# --- values against the reference ---------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_pairwise_iou_and_giou_match_torchvision(seed):
    a, b = random_boxes(40, seed), random_boxes(30, seed + 100)
    iou, _ = tv_box_iou(a, b)
    torch.testing.assert_close(boxes.box_iou(a, b), iou, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        boxes.generalized_box_iou(a, b), tv_generalized_box_iou(a, b), rtol=0, atol=1e-12
    )
    assert boxes.box_iou(a, b).shape == (40, 30)


@pytest.mark.parametrize("kind", boxes.KINDS)
@pytest.mark.parametrize("eps", [1e-7, 1e-3])
def test_losses_and_their_gradients_match_torchvision(kind, eps):
    pred, target = random_boxes(400, 1), random_boxes(400, 2)
    # half of the pairs overlap: move the targets onto the predictions
    target[:200] = pred[:200] + (target[:200] - target[:200].mean(0)) * 0.2
    target[:200] = torch.cat([target[:200, :2].minimum(target[:200, 2:]),
                              target[:200, :2].maximum(target[:200, 2:])], 1)  # fmt: skip
    ours_pred = pred.clone().requires_grad_(True)
    ref_pred = pred.clone().requires_grad_(True)
    ours = boxes.iou_loss(ours_pred, target, kind, eps=eps)
    # torchvision's CIoU computes its DIoU part with the default eps whatever eps it is given;
    # core uses the eps given throughout (the same at the default eps, which is what is compared)
    extra = {"diou_eps": eps} if kind == "ciou" else {}
    ref = REFERENCE[kind](ref_pred, target, eps, **extra)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    ours.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(ours_pred.grad, ref_pred.grad, rtol=1e-9, atol=1e-10)


def test_loss_is_one_minus_the_metric_and_bounded():
    pred, target = random_boxes(500, 3), random_boxes(500, 4)
    g = boxes.pair_geometry(pred, target)
    for kind in boxes.KINDS:
        torch.testing.assert_close(boxes.iou_loss(pred, target, kind), 1 - g.metric(kind))
    assert torch.all((g.iou >= 0) & (g.iou <= 1))
    assert torch.all((g.giou >= -1) & (g.giou <= g.iou + 1e-15))
    assert torch.all(g.diou <= g.iou) and torch.all(g.ciou <= g.diou)
    assert torch.all(g.diou > -1) and torch.all((g.v >= 0) & (g.v < 1))


def test_accepts_single_boxes_and_integer_boxes():
    value = boxes.iou_loss(torch.tensor([0, 0, 2, 2]), torch.tensor([1, 1, 3, 3]), "iou", eps=0)
    assert value.ndim == 0
    assert value.item() == pytest.approx(1 - 1 / 7)
    assert boxes.box_iou(
        torch.tensor([[0, 0, 2, 2]]), torch.tensor([[1, 1, 3, 3]])
    ).dtype.is_floating_point


# --- closed forms on degenerate boxes -------------------------------------------------------

SQUARE = [0.0, 0.0, 2.0, 2.0]
DEGENERATE = {
    # name: (pred, target, IoU, GIoU, DIoU), computed by hand with eps = 0
    "identical": (SQUARE, SQUARE, 1.0, 1.0, 1.0),
    "nested": ([0.5, 0.5, 1.5, 1.5], SQUARE, 0.25, 0.25, 0.25),
    "touching side by side": ([2.0, 0.0, 4.0, 2.0], SQUARE, 0.0, 0.0, -0.2),  # ρ² = 4, c² = 20
    "touching at a corner": ([2.0, 2.0, 4.0, 4.0], SQUARE, 0.0, -0.5, -0.25),  # C = 16, U = 8
    "zero width": ([1.0, 0.0, 1.0, 2.0], SQUARE, 0.0, 0.0, 0.0),  # centres coincide, C = U
    "zero width apart": ([3.0, 0.0, 3.0, 2.0], SQUARE, 0.0, -1 / 3, -4 / 13),  # C = 6, U = 4
    "two points": ([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], 0.0, 0.0, 0.0),
    "point and box": ([3.0, 3.0, 3.0, 3.0], SQUARE, 0.0, -5 / 9, -8 / 18),  # C = 9, ρ² = 8
}


@pytest.mark.parametrize("case", DEGENERATE)
def test_degenerate_boxes_give_the_closed_form_values_and_finite_gradients(case):
    pred, target, iou, giou, diou = DEGENERATE[case]
    expected = {"iou": iou, "giou": giou, "diou": diou}
    for eps in (0.0, 1e-7):
        for kind in boxes.KINDS:
            p = torch.tensor([pred], dtype=torch.float64, requires_grad=True)
            t = torch.tensor([target], dtype=torch.float64, requires_grad=True)
            loss = boxes.iou_loss(p, t, kind, eps=eps)
            loss.sum().backward()
            assert torch.isfinite(loss).all() and torch.isfinite(p.grad).all(), (kind, eps)
            assert torch.isfinite(t.grad).all()
            if kind in expected:
                assert loss.item() == pytest.approx(1 - expected[kind], abs=1e-6), (kind, eps)
    pairwise = boxes.box_iou(torch.tensor([pred]), torch.tensor([target]))
    assert pairwise.item() == pytest.approx(iou, abs=1e-6)
    pairwise_giou = boxes.generalized_box_iou(torch.tensor([pred]), torch.tensor([target]))
    assert pairwise_giou.item() == pytest.approx(giou, abs=1e-6)


def test_ciou_aspect_term_closed_form():
    # same centre, 4×1 against 1×4: IoU = 1/7, ρ = 0, v = 4/π²·(atan 4 − atan ¼)²
    pred, target = torch.tensor([[0.0, 1.5, 4.0, 2.5]]), torch.tensor([[1.5, 0.0, 2.5, 4.0]])
    g = boxes.pair_geometry(pred, target, eps=0.0)
    v = 4 / math.pi**2 * (math.atan(0.25) - math.atan(4.0)) ** 2
    iou = 1 / 7
    assert g.iou.item() == pytest.approx(iou)
    assert g.diou.item() == pytest.approx(iou)  # aligned centres: DIoU is IoU
    assert g.v.item() == pytest.approx(v)
    assert g.alpha.item() == pytest.approx(v / (1 - iou + v))
    assert g.ciou.item() == pytest.approx(iou - v * v / (1 - iou + v))


def test_zero_width_box_has_the_aspect_angle_of_atan_infinity():
    # torchvision's atan(w/h) with h = 0 is atan(inf) = π/2; ours is the same value
    g = boxes.pair_geometry(
        torch.tensor([[0.0, 1.0, 2.0, 1.0]]), torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    )
    assert g.v.item() == pytest.approx(4 / math.pi**2 * (math.pi / 4 - math.pi / 2) ** 2)


# --- gradients: IoU has none without overlap, GIoU does -------------------------------------


def _gradient(kind, pred, target):
    p = torch.tensor([pred], dtype=torch.float64, requires_grad=True)
    boxes.iou_loss(p, torch.tensor([target], dtype=torch.float64), kind).sum().backward()
    return p.grad[0]


@pytest.mark.parametrize("pred", [[5.0, 5.0, 6.0, 7.0], [3.0, 0.0, 4.0, 2.0], [0.0, 4.0, 1.0, 6.0]])
def test_iou_loss_has_zero_gradient_without_overlap_while_the_others_pull(pred):
    target = [0.0, 0.0, 2.0, 2.0]
    assert torch.count_nonzero(_gradient("iou", pred, target)) == 0
    for kind in ("giou", "diou", "ciou"):
        assert _gradient(kind, pred, target).abs().sum() > 1e-3, kind


def test_descending_the_diou_gradient_moves_the_centre_towards_the_target():
    grad = _gradient("diou", [5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 1.0, 1.0])
    centre_step = -(grad[:2] + grad[2:])  # −∂L/∂(cx, cy)
    assert centre_step[0] < 0 and centre_step[1] < 0


def test_ciou_alpha_carries_no_gradient():
    p = torch.tensor([[0.0, 0.0, 3.0, 1.0]], dtype=torch.float64, requires_grad=True)
    g = boxes.pair_geometry(p, torch.tensor([[0.0, 0.0, 1.0, 3.0]], dtype=torch.float64))
    assert not g.alpha.requires_grad and g.v.requires_grad


# --- the hand-written gradient of the simulation --------------------------------------------


@pytest.mark.parametrize("kind", boxes.KINDS)
def test_loss_and_gradient_equals_autograd_of_iou_loss(kind):
    pred, target = random_boxes(300, 5), random_boxes(300, 6)
    pred[:150] = target[:150] + 0.3 * (pred[:150] - pred[:150].mean(0)).clamp(-1, 1)
    pred[:150] = torch.cat([pred[:150, :2].minimum(pred[:150, 2:]),
                            pred[:150, :2].maximum(pred[:150, 2:])], 1)  # fmt: skip
    p = pred.clone().requires_grad_(True)
    loss = boxes.iou_loss(p, target, kind)
    loss.sum().backward()
    for i in range(len(pred)):
        value, _, gradient = boxes.loss_and_gradient(
            tuple(pred[i].tolist()), tuple(target[i].tolist()), kind
        )
        assert value == pytest.approx(loss[i].item(), abs=1e-12)
        np.testing.assert_allclose(gradient, p.grad[i].numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", DEGENERATE)
def test_loss_and_gradient_on_degenerate_boxes_equals_autograd(case):
    pred, target, *_ = DEGENERATE[case]
    for kind in boxes.KINDS:
        value, _, gradient = boxes.loss_and_gradient(tuple(pred), tuple(target), kind)
        np.testing.assert_allclose(gradient, _gradient(kind, pred, target).numpy(), atol=1e-9)
        loss = boxes.iou_loss(torch.tensor(pred), torch.tensor(target), kind)
        assert value == pytest.approx(loss.item(), abs=1e-6)


def test_regression_step_is_the_papers_update_with_the_autograd_gradient():
    start, target = [6.0, 5.5, 7.5, 6.5], [3.0, 3.0, 5.0, 5.0]
    run = boxes.regress_box(start, target, steps=3, lr=0.1)
    for k, kind in enumerate(run.kinds):
        cx, cy, w, h = 6.75, 6.0, 1.5, 1.0
        for step in range(3):
            params = torch.tensor([cx, cy, w, h], dtype=torch.float64, requires_grad=True)
            corners = torch.stack([params[0] - params[2] / 2, params[1] - params[3] / 2,
                                   params[0] + params[2] / 2, params[1] + params[3] / 2])  # fmt: skip
            geometry = boxes.pair_geometry(corners, torch.tensor(target, dtype=torch.float64))
            (1 - geometry.metric(kind)).backward()
            np.testing.assert_allclose(run.boxes[step, k], corners.detach().numpy(), atol=1e-12)
            assert run.iou[step, k] == pytest.approx(geometry.iou.item(), abs=1e-12)
            update = 0.1 * (2 - geometry.iou.item()) * params.grad
            cx, cy, w, h = (params.detach() - update).tolist()


def test_iou_loss_cannot_move_a_box_that_does_not_overlap():
    run = boxes.regress_box([7.0, 7.0, 8.0, 8.0], [0.0, 0.0, 2.0, 2.0], steps=50)
    iou_row = run.kinds.index("iou")
    assert np.all(run.boxes[:, iou_row] == run.boxes[0, iou_row])
    assert np.all(run.iou[:, iou_row] == 0)
    target_centre = np.array([1.0, 1.0])
    start_distance = np.linalg.norm(run.boxes[0, iou_row].reshape(2, 2).mean(0) - target_centre)
    for kind in ("giou", "diou", "ciou"):
        end = run.boxes[-1, run.kinds.index(kind)].reshape(2, 2).mean(0)  # the centre
        assert np.linalg.norm(end - target_centre) < start_distance - 0.05, kind


def test_regression_converges_from_an_overlapping_start_and_follows_the_schedule():
    run = boxes.regress_box([2.5, 2.0, 5.0, 4.5], [2.0, 2.0, 4.0, 4.0], steps=200, lr=0.1)
    assert run.boxes.shape == (201, 4, 4) and run.iou.shape == (201, 4)
    assert np.all(run.iou[-1] > 0.9)
    np.testing.assert_allclose(
        run.lr[[0, 159, 160, 179, 180, 199]], [0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3]
    )
    assert np.all(run.boxes[..., 2:] - run.boxes[..., :2] >= 1e-3 - 1e-12)


# --- laws -----------------------------------------------------------------------------------

box_strategy = st.tuples(
    st.floats(-50, 50), st.floats(-50, 50), st.floats(0, 30), st.floats(0, 30)
).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=60, deadline=None)
@given(box_strategy, box_strategy, st.floats(0.1, 100))
def test_metrics_are_symmetric_scale_invariant_and_finite(a, b, scale):
    pa, pb = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    forward, backward = boxes.pair_geometry(pa, pb, eps=0), boxes.pair_geometry(pb, pa, eps=0)
    scaled = boxes.pair_geometry(pa * scale, pb * scale, eps=0)
    for kind in ("iou", "giou", "diou"):
        assert torch.isfinite(forward.metric(kind)).all()
        torch.testing.assert_close(forward.metric(kind), backward.metric(kind), rtol=0, atol=1e-9)
        torch.testing.assert_close(forward.metric(kind), scaled.metric(kind), rtol=0, atol=1e-9)
    assert torch.isfinite(forward.ciou).all()


# --- interface ------------------------------------------------------------------------------


def test_trace_records_the_quantities_the_demo_draws():
    trace = Trace()
    boxes.iou_loss(random_boxes(5, 1), random_boxes(5, 2), "ciou", trace=trace)
    (event,) = trace["geometry"]
    for name in ("intersection", "union", "enclosing", "rho2", "c2", "v", "alpha"):
        assert name in event
    assert event["enclosing"].shape == (5, 4)
    assert trace["loss"][0]["kind"] == "ciou"
    assert boxes.iou_loss(random_boxes(5, 1), random_boxes(5, 2)).shape == (5,)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: boxes.iou_loss(torch.zeros(3, 4), torch.zeros(3, 4), "l1"), "kind"),
        (lambda: boxes.iou_loss(torch.zeros(3, 4), torch.zeros(3, 4), eps=-1.0), "eps"),
        (lambda: boxes.iou_loss(torch.zeros(3, 4), torch.zeros(2, 4)), "do not match"),
        (lambda: boxes.iou_loss(torch.tensor([[1.0, 0, 0, 1]]), torch.zeros(1, 4)), "x2 ≥ x1"),
        (lambda: boxes.iou_loss(torch.tensor([[0, 0, math.nan, 1]]), torch.zeros(1, 4)), "finite"),
        (lambda: boxes.box_iou(torch.zeros(4), torch.zeros(2, 4)), "(N, 4)"),
        (lambda: boxes.box_iou(torch.zeros(2, 5), torch.zeros(2, 4)), "shape"),
        (lambda: boxes.regress_box([0, 0, 1, 1], [0, 0, 1, 1], ("iou", "l2")), "kinds"),
        (lambda: boxes.regress_box([0, 0, 1, 1], [0, 0, 1, 1], lr=0.0), "lr"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


# --- descent at a kink: a box at the optimum stays there (issue 29, finding 8) ---------------

KINKED = {
    "equal": ([0.4, 0.4, 0.6, 0.6], [0.4, 0.4, 0.6, 0.6]),
    "left edges equal": ([4.5, 4.5, 5.6, 5.2], [4.5, 4.0, 5.5, 5.5]),
    "inside, top edge shared": ([1.0, 0.0, 2.0, 1.5], [0.0, 0.0, 3.0, 3.0]),
}


@pytest.mark.parametrize("case", KINKED)
@pytest.mark.parametrize(
    "kind", ["iou", "giou", "diou"]
)  # CIoU's α is held constant: no derivative
def test_one_sided_gradients_are_the_finite_difference_derivatives(case, kind):
    pred, target = KINKED[case]
    delta = 1e-7  # one-sided differences: error O(δ), far above float64 rounding
    for side in (1, -1):
        _, _, gradient = boxes.loss_and_gradient(tuple(pred), tuple(target), kind, side=side)
        for i in range(4):
            moved = list(pred)
            moved[i] += side * delta
            shifted = boxes.loss_and_gradient(tuple(moved), tuple(target), kind)[0]
            base = boxes.loss_and_gradient(tuple(pred), tuple(target), kind)[0]
            assert (shifted - base) / (side * delta) == pytest.approx(gradient[i], abs=1e-5)


@pytest.mark.parametrize("case", KINKED)
@pytest.mark.parametrize("kind", boxes.KINDS)
def test_descent_gradient_is_the_one_sided_derivative_nearest_zero(case, kind):
    pred, target = tuple(KINKED[case][0]), tuple(KINKED[case][1])
    _, _, chosen = boxes.descent_gradient(pred, target, kind)
    _, _, average = boxes.loss_and_gradient(pred, target, kind)
    _, _, right = boxes.loss_and_gradient(pred, target, kind, side=1)
    _, _, left = boxes.loss_and_gradient(pred, target, kind, side=-1)
    for i in range(4):
        if pred[i] != target[i]:
            assert chosen[i] == average[i]  # no kink: autograd's gradient
        elif left[i] <= 0 <= right[i]:
            assert chosen[i] == 0  # a minimum along this corner's axis
        elif right[i] < 0:
            assert chosen[i] == right[i]  # the descent moves the corner right
        elif left[i] > 0:
            assert chosen[i] == left[i]


def test_autograds_average_at_the_optimum_is_not_zero_with_eps():
    # why the descent needs the kink rule: 1 − I/(U + eps) at pred = target
    box = (0.4, 0.4, 0.6, 0.6)
    assert max(abs(g) for g in boxes.loss_and_gradient(box, box, "iou")[2]) > 1e-6
    assert boxes.descent_gradient(box, box, "iou")[2] == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("box", "steps", "lr"),
    [((0.4, 0.4, 0.6, 0.6), 10, 0.01), ((4.5, 4.5, 5.5, 5.5), 200, 1.0)],
)
def test_regression_leaves_a_box_at_the_optimum_in_place(box, steps, lr):
    run = boxes.regress_box(box, box, steps=steps, lr=lr)
    np.testing.assert_allclose(run.boxes, np.broadcast_to(box, run.boxes.shape), atol=1e-12)
    assert (run.iou[-1] > 0.9999).all()
