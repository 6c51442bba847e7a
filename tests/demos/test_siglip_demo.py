"""The siglip demo: its ring equals the full loss, its sweep tells the batch-size story."""

import math

import numpy as np
import pytest

from demos import siglip as demo

DEMO = demo.DEMO


def test_ring_at_its_last_step_fills_the_matrix_with_the_full_pair_terms():
    p = demo.Params(batch_size=13, devices=4, step=7, embeddings="random")
    ring = DEMO.render(p).figures[3]
    filled = np.asarray(ring.data[0].z, dtype=float)
    assert not np.isnan(filled).any()
    from core.multimodal.contrastive import siglip_loss
    from core.trace import Trace

    x, y = demo.embeddings("random", 13, p.rho, p.seed)
    trace = Trace()
    siglip_loss(x, y, p.log_t, p.b, trace=trace)
    np.testing.assert_allclose(filled, trace["pair_terms"][0].numpy(), rtol=1e-10)


def test_step_zero_holds_only_the_diagonal_blocks():
    p = demo.Params(batch_size=12, devices=3, step=0, embeddings="random")
    filled = np.asarray(DEMO.render(p).figures[3].data[0].z, dtype=float)
    assert (~np.isnan(filled)).sum() == 3 * 4 * 4
    assert not np.isnan(np.diag(filled)).any()


def test_sweep_softmax_grows_like_log_n_sigmoid_b0_linearly_b_minus_10_flat():
    result = demo.sweep(0.0, 4)
    sizes = np.array(demo.SWEEP_SIZES, dtype=float)
    softmax_gap = result["softmax"] - np.log(sizes)
    # log N plus a constant (random cosines × s = 14 spread the logits by about 2.5) once N ≫ 1
    assert np.ptp(softmax_gap[4:]) < 1.0
    assert result["softmax"][-1] - result["softmax"][4] > 4.0  # log(4096 / 32) = 4.85
    per_pair = result["sigmoid_b0"] / sizes
    assert np.ptp(per_pair[4:]) < 0.1 * per_pair[-1]  # linear in N
    assert result["sigmoid_b-10"][-1] < 2 * result["sigmoid_b-10"][0]  # nearly flat
    ratio = result["full_bytes"] / result["block_bytes"]
    assert ratio[-1] == pytest.approx(16.0)  # D = 4: (N/D)² per device


def test_fit_lowers_the_loss_from_the_papers_initialisation():
    path = demo.fit("siglip", 16, 0.5, 0, 100)
    assert path[0, :2] == pytest.approx([math.log(10), -10])
    assert path[-1, 2] < path[0, 2]
