"""VQ against brute force, k-means' objective, z-loss against SciPy, interleave round trips."""

import itertools

import pytest
import torch
from scipy.special import logsumexp

from core.multimodal.early_fusion import deinterleave, interleave, z_loss
from core.multimodal.vq import from_patches, kmeans, psnr, quantize, to_patches
from core.trace import Trace


def test_quantize_matches_brute_force_with_ties_to_the_lowest_index():
    generator = torch.Generator().manual_seed(0)
    patches = torch.randint(0, 4, (200, 3), generator=generator).double()  # many exact ties
    codebook = torch.randint(0, 4, (12, 3), generator=generator).double()
    codes, quantized = quantize(patches, codebook)
    for i, x in enumerate(patches.numpy()):
        distances = [float(((x - c) ** 2).sum()) for c in codebook.numpy()]
        assert int(codes[i]) == distances.index(min(distances))
    assert codes.dtype == torch.int64
    torch.testing.assert_close(quantized, codebook[codes])


def test_kmeans_objective_is_non_increasing_and_deterministic():
    generator = torch.Generator().manual_seed(1)
    patches = torch.randn(300, 4, generator=generator)
    trace = Trace()
    codebook, objective = kmeans(patches, 8, 10, seed=3, trace=trace)
    assert codebook.shape == (8, 4) and objective.shape == (11,)
    assert (objective[1:] <= objective[:-1] * (1 + 1e-6)).all()
    again, _ = kmeans(patches, 8, 10, seed=3)
    torch.testing.assert_close(again, codebook)
    _, codes = torch.cdist(patches, codebook).min(1)
    assert float(objective[-1]) == pytest.approx(
        float(((patches - codebook[codes]) ** 2).sum(1).mean()), rel=1e-5
    )
    assert [int(e["sizes"].sum()) for e in trace["iteration"]] == [300] * 11


def test_kmeans_with_k_equal_n_on_duplicates_keeps_empty_clusters_finite():
    patches = torch.tensor([[0.0, 0.0]] * 3 + [[1.0, 1.0]] * 2)
    codebook, objective = kmeans(patches, 5, 3, seed=0)
    assert torch.isfinite(codebook).all() and float(objective[-1]) == 0.0


def test_patches_round_trip_and_psnr():
    image = torch.rand(8, 12, 3)
    for p in (1, 2, 4):
        patches = to_patches(image, p)
        assert patches.shape == ((8 // p) * (12 // p), p * p * 3)
        torch.testing.assert_close(from_patches(patches, 8, 12, p), image)
    assert psnr(image, image) == float("inf")
    assert psnr(image, image + 0.1) == pytest.approx(20.0, abs=1e-4)


@pytest.mark.parametrize(
    "dtype, scale, rel", [(torch.float64, 3.0, 1e-12), (torch.float32, 1e4, 1e-5)]
)
def test_z_loss_matches_scipy_logsumexp(dtype, scale, rel):
    generator = torch.Generator().manual_seed(2)
    logits = (torch.randn(3, 4, 50, generator=generator, dtype=torch.float64) * scale).to(dtype)
    ours = z_loss(logits, weight=1e-5)
    assert ours.dtype == dtype and torch.isfinite(ours)
    expected = 1e-5 * (logsumexp(logits.double().numpy(), axis=-1) ** 2).mean()
    assert float(ours) == pytest.approx(expected, rel=rel)


def test_interleave_writes_boi_codes_plus_offset_eoi_and_round_trips():
    text = torch.tensor([5, 6, 7])
    image = torch.tensor([[0, 1], [2, 3]])
    stream = interleave([text, image, torch.tensor([8])], image_offset=100, boi=1, eoi=2)
    assert stream.dtype == torch.int64
    assert stream.tolist() == [5, 6, 7, 1, 100, 101, 102, 103, 2, 8]
    back = deinterleave(stream, 100, 1, 2, [(2, 2)])
    for a, b in itertools.zip_longest(back, [text, image, torch.tensor([8])]):
        assert torch.equal(a, b)
    assert interleave([], 10, 1, 2).numel() == 0


def test_toy_sequences_are_interleaved_documents():
    from core.multimodal import early_fusion as ef

    sequences = ef.toy_sequences(5, torch.Generator().manual_seed(0))
    for row in sequences:
        words, codes = row[:3], row[4:8] - ef.IMAGE_OFFSET
        expected = interleave(
            [words, codes.reshape(2, 2), words[:2]], ef.IMAGE_OFFSET, ef.BOI, ef.EOI
        )
        assert torch.equal(row, expected)
