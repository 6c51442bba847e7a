"""Margin logits against their closed forms and hand-derived derivatives; Umeyama's similarity
transform against a linear least-squares solve, exact recovery and mirrored points."""

import math

import numpy as np
import pytest
import torch

from core.vision import face


def cosines(n=64, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    cos = torch.rand(n, c, generator=g, dtype=torch.float64) * 2 - 1
    labels = torch.randint(0, c, (n,), generator=g)
    return cos, labels


def closed_form(kind, theta, s, m):
    if kind == "softmax":
        return s * math.cos(theta)
    if kind == "cosface":
        return s * (math.cos(theta) - m)
    if kind == "arcface":
        return s * (
            math.cos(theta + m) if theta + m < math.pi else math.cos(theta) - m * math.sin(m)
        )
    k = min(math.floor(m * theta / math.pi), m - 1)
    return s * ((-1) ** k * math.cos(m * theta) - 2 * k)


@pytest.mark.parametrize(
    "kind, m",
    [
        ("softmax", None),
        ("sphereface", 4),
        ("sphereface", 2),
        ("cosface", 0.35),
        ("arcface", 0.5),
        ("arcface", 1.2),
    ],
)
def test_margin_logits_are_the_closed_forms(kind, m):
    cos, labels = cosines()
    logits = face.margin_logits(cos, labels, kind, s=30.0, m=m)
    assert logits.dtype == cos.dtype and logits.shape == cos.shape
    margin = face.DEFAULT_MARGIN[kind] if m is None else m
    for n in range(len(cos)):
        for j in range(cos.shape[1]):
            c = cos[n, j].item()
            expected = closed_form(kind, math.acos(c), 30.0, margin) if j == labels[n] else 30.0 * c
            assert logits[n, j].item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_default_margins_are_the_papers():
    cos = torch.tensor([[0.5, 0.1]], dtype=torch.float64)
    labels = torch.tensor([0])
    theta = math.acos(0.5)
    assert face.margin_logits(cos, labels, "cosface")[0, 0].item() == pytest.approx(
        64 * (0.5 - 0.35)
    )
    assert face.margin_logits(cos, labels, "arcface")[0, 0].item() == pytest.approx(
        64 * math.cos(theta + 0.5)
    )
    assert face.margin_logits(cos, labels, "sphereface")[0, 0].item() == pytest.approx(
        closed_form("sphereface", theta, 64, 4)
    )


def test_hand_derived_derivatives_at_the_label():
    c = torch.tensor([[0.3, -0.2]], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0])
    theta = math.acos(0.3)
    expected = {
        "softmax": 10.0,
        "cosface": 10.0,
        # d/dc s·cos(θ + m) = s·sin(θ + m)/sin θ
        "arcface": 10.0 * math.sin(theta + 0.5) / math.sin(theta),
        # d/dc s·(−1)^k cos(mθ) = s·(−1)^k m sin(mθ)/sin θ
        "sphereface": 10.0
        * (-1) ** math.floor(4 * theta / math.pi)
        * 4
        * math.sin(4 * theta)
        / math.sin(theta),
    }
    for kind, value in expected.items():
        (grad,) = torch.autograd.grad(face.margin_logits(c, labels, kind, s=10.0)[0, 0], c)
        assert grad[0, 0].item() == pytest.approx(value, rel=1e-9)
        assert grad[0, 1].item() == 0.0


@pytest.mark.parametrize("kind", face.KINDS)
def test_finite_values_and_gradients_at_plus_and_minus_one(kind):
    c = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], requires_grad=True)
    logits = face.margin_logits(c, torch.tensor([0, 0]), kind)
    (grad,) = torch.autograd.grad(logits.sum(), c)
    assert torch.isfinite(logits).all() and torch.isfinite(grad).all()


def test_sphereface_psi_is_continuous_and_decreasing():
    theta = torch.linspace(0, math.pi, 2001, dtype=torch.float64)
    psi = face.target_logit(torch.cos(theta), "sphereface", 1.0, 4)
    assert (psi.diff() <= 1e-12).all() and psi.diff().abs().max() < 0.02


def random_similarity(rng):
    angle, scale = rng.uniform(-math.pi, math.pi), rng.uniform(0.3, 3)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.concatenate([scale * rotation, rng.normal(0, 20, (2, 1))], 1)


def test_umeyama_recovers_an_exact_similarity():
    rng = np.random.default_rng(0)
    for _ in range(5):
        matrix = random_similarity(rng)
        src = rng.normal(50, 20, (5, 2))
        dst = src @ matrix[:, :2].T + matrix[:, 2]
        np.testing.assert_allclose(face.similarity_transform(src, dst), matrix, atol=1e-9)


def test_umeyama_is_the_least_squares_similarity_with_noise_and_for_two_points():
    rng = np.random.default_rng(1)
    for n in (2, 5, 20):
        src = rng.normal(0, 30, (n, 2))
        dst = src @ random_similarity(rng)[:, :2].T + rng.normal(0, 3, (n, 2))
        np.testing.assert_allclose(
            face.similarity_transform(src, dst), face.least_squares_similarity(src, dst), atol=1e-8
        )


def test_mirrored_points_give_a_rotation_never_a_reflection():
    rng = np.random.default_rng(2)
    src = rng.normal(0, 10, (5, 2))
    dst = src * np.array([-1.0, 1.0])  # a mirror image: the best similarity cannot reach it
    matrix = face.similarity_transform(torch.as_tensor(src), torch.as_tensor(dst))
    assert isinstance(matrix, torch.Tensor) and matrix.dtype == torch.float64
    linear = matrix[:, :2].numpy()
    assert np.linalg.det(linear) >= 0
    np.testing.assert_allclose(matrix.numpy(), face.least_squares_similarity(src, dst), atol=1e-8)
    residual = face.transform_residuals(matrix.numpy(), src, dst)
    assert residual.max() > 1  # no rotation maps a shape onto its mirror image
