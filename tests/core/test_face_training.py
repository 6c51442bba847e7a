"""The rest of core.vision.face: SphereFace's annealing and edge cases of the margins, the affine
warp against SciPy, the embedding trainer (independent models, even gaps), verification rates
against scikit-learn's ROC."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from sklearn.metrics import roc_curve

from core.trace import Trace
from core.vision import face


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: threads only contend on a shared 2-core machine (as the demo runs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_arcface_falls_back_everywhere_when_the_margin_passes_pi():
    cos = torch.linspace(-1, 1, 41, dtype=torch.float64)[:, None].repeat(1, 2)
    labels = torch.zeros(41, dtype=torch.int64)
    m = 3.5  # θ + m ≥ π for every θ ≥ 0
    logits = face.margin_logits(cos, labels, "arcface", s=2.0, m=m)
    torch.testing.assert_close(logits[:, 0], 2.0 * (cos[:, 0] - m * math.sin(m)))


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_sphereface_is_exact_at_plus_and_minus_one(m):
    # θ = 0: ψ = 1; θ = π: k = m − 1, ψ = (−1)^(m−1)·cos(mπ) − 2(m − 1) = 1 − 2m
    cos = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    logits = face.margin_logits(cos, torch.tensor([0, 0]), "sphereface", s=1.0, m=m)
    assert logits[:, 0].tolist() == [1.0, 1.0 - 2 * m]


def test_float32_keeps_its_dtype_and_matches_float64():
    cos, labels = torch.rand(50, 4, dtype=torch.float64) * 2 - 1, torch.randint(0, 4, (50,))
    for kind in face.KINDS:
        single = face.margin_logits(cos.float(), labels, kind, s=30.0)
        assert single.dtype == torch.float32
        # float32 rounding of c and of the results: a few ulps of s·|ψ| ≲ 30·7
        torch.testing.assert_close(
            single.double(), face.margin_logits(cos, labels, kind, s=30.0), atol=2e-4, rtol=0
        )


def test_sphereface_annealing_blends_plain_and_margin_at_the_label_only():
    cos = torch.tensor([[0.2, 0.6, -0.4]], dtype=torch.float64)
    labels = torch.tensor([1])
    s, m, lam = 10.0, 3, 4.0
    theta = math.acos(0.6)
    k = math.floor(m * theta / math.pi)
    psi = (-1) ** k * math.cos(m * theta) - 2 * k
    logits = face.sphereface_annealed(cos, labels, s, m, lam)
    expected = [s * 0.2, (lam * s * 0.6 + s * psi) / (1 + lam), s * -0.4]
    torch.testing.assert_close(logits[0], torch.tensor(expected, dtype=torch.float64))


def random_similarity(rng, scale=(0.6, 1.4)):
    a, c = rng.uniform(-1, 1), rng.uniform(*scale)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return np.concatenate([c * rotation, rng.uniform(-5, 5, (2, 1))], 1)


def test_warp_affine_is_scipys_bilinear_affine_transform():
    rng = np.random.default_rng(0)
    image = rng.random((2, 40, 50))
    matrix = random_similarity(rng)
    out = face.warp_affine(torch.as_tensor(image), matrix, (30, 36)).numpy()
    # SciPy maps output (row, col) to input (row, col): the inverse of M with x and y swapped
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    swap = np.array([[0, 1], [1, 0]])
    linear, offset = swap @ inverse[:, :2] @ swap, swap @ inverse[:, 2]
    for channel in range(2):
        expected = ndimage.affine_transform(
            image[channel], linear, offset, output_shape=(30, 36), order=1, mode="grid-constant"
        )
        np.testing.assert_allclose(out[channel], expected, atol=1e-9)


def test_warp_affine_identity_and_a_dot_lands_where_m_sends_it():
    image = torch.zeros(1, 64, 64, dtype=torch.float64)
    image[0, 20, 30] = 1.0  # x = 30, y = 20
    torch.testing.assert_close(face.warp_affine(image, np.eye(2, 3), (64, 64)), image)
    a = math.pi / 2  # a quarter turn, then a shift: (x, y) -> (−y + 50, x + 4)
    matrix = np.array([[math.cos(a), -math.sin(a), 50.0], [math.sin(a), math.cos(a), 4.0]])
    out = face.warp_affine(image, matrix, (64, 64))[0]
    assert out.argmax().item() == 34 * 64 + 30  # row y' = 34, column x' = 30
    assert out.max().item() == pytest.approx(1.0, abs=1e-9)


def identities(classes=4, per_class=30, spread=0.3, seed=0):
    return face.synthetic_identities(classes, per_class, spread, held_out=10, seed=seed)


def test_models_trained_side_by_side_equal_models_trained_alone():
    x, labels, _, _ = identities()
    together = face.train_embeddings(x, labels, ["arcface", "plain"], steps=30, seed=3)
    for k, kind in enumerate(["arcface", "plain"]):
        alone = face.train_embeddings(x, labels, [kind], steps=30, seed=3)
        torch.testing.assert_close(together.features(x)[k], alone.features(x)[0])


def test_arcface_spreads_eight_classes_evenly_on_the_circle():
    x, labels, x_test, labels_test = identities(classes=8)
    trace = Trace()
    models = face.train_embeddings(x, labels, ["arcface"], dim=2, steps=200, trace=trace)
    last = trace["step"][-1]
    assert last["accuracy"].item() == 1.0
    # 8 directions on a circle are at best 45° apart; with C·m = 4 of 2π the margin leaves
    # little slack, so the weights end close to even gaps
    assert math.degrees(last["weight_angle"].item()) > 40
    weights = models.class_weights()[0]
    torch.testing.assert_close(weights.norm(dim=-1), torch.ones(8))
    test = torch.nn.functional.normalize(models.features(x_test)[0], dim=-1)
    assert ((test @ weights.T).argmax(1) == labels_test).float().mean() > 0.95


def test_trace_records_each_step_and_the_sphereface_schedule():
    x, labels, _, _ = identities(classes=3, per_class=10)
    trace = Trace()
    kinds = ["plain", "sphereface", "cosface"]
    face.train_embeddings(x, labels, kinds, dim=3, steps=12, anneal=True, trace=trace)
    assert len(trace["step"]) == 12
    assert trace["step"][0]["lam"] == pytest.approx(1000.0)
    assert trace["step"][-1]["lam"] == pytest.approx(5.0)
    assert trace["step"][0]["loss"].shape == (3,)
    assert trace["embeddings"][0].shape == (3, 30, 3)
    plain_norms = trace["weights"][0][0].norm(dim=-1)
    assert not torch.allclose(plain_norms, torch.ones(3))  # plain softmax: W not normalised


def test_unknown_kind_is_refused_with_the_allowed_ones():
    x, labels, _, _ = identities(classes=2, per_class=3)
    with pytest.raises(ValueError, match="allowed: plain, softmax"):
        face.train_embeddings(x, labels, ["triplet"], steps=1)


def test_pair_scores_are_every_pair_once():
    rng = np.random.default_rng(4)
    embeddings, labels = rng.normal(size=(9, 3)), np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    genuine, impostor = face.pair_scores(torch.as_tensor(embeddings), torch.as_tensor(labels))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    same, other = [], []
    for i in range(9):
        for j in range(i + 1, 9):
            (same if labels[i] == labels[j] else other).append(unit[i] @ unit[j])
    np.testing.assert_allclose(genuine.numpy(), same)
    np.testing.assert_allclose(impostor.numpy(), other)


def test_error_rates_are_one_minus_tpr_and_fpr_of_the_roc():
    rng = np.random.default_rng(5)
    genuine, impostor = rng.normal(0.6, 0.2, 300), rng.normal(0.1, 0.3, 700)
    scores = np.concatenate([genuine, impostor])
    fpr, tpr, thresholds = roc_curve(np.r_[np.ones(300), np.zeros(700)], scores)
    far, frr = face.error_rates(torch.as_tensor(genuine), torch.as_tensor(impostor), thresholds[1:])
    np.testing.assert_allclose(far.numpy(), fpr[1:])
    np.testing.assert_allclose(frr.numpy(), 1 - tpr[1:])
