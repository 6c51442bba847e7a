"""The chameleon demo: its codes are quantize's, its stream is interleave's, its stories hold."""

import numpy as np
import torch

from core.multimodal import vq
from demos import chameleon as demo

DEMO = demo.DEMO


def test_codes_are_the_nearest_codebook_rows_of_the_images_patches():
    book, objective, _trace, codes, reconstruction = demo.codebook(8, 16, 5, 0)
    patches = vq.to_patches(torch.from_numpy(demo.image())[..., None], 8)
    brute = torch.cdist(patches.double(), torch.from_numpy(book).double()).argmin(1)
    assert (brute.numpy() == codes).all()
    assert len(objective) == 6 and (np.diff(objective) <= 1e-6).all()
    assert reconstruction.shape == (128, 128)


def test_psnr_grows_with_the_codebook():
    ks, psnrs = demo.psnr_sweep(8, 5, 0)
    assert ks.tolist() == [2, 4, 8, 16, 32, 64, 128, 256]  # K ≤ (128/8)² patches
    assert psnrs[-1] > psnrs[0] + 5


def test_stream_cells_hold_caption_boi_every_code_eoi_and_more_text():
    p = demo.Params(patch="8", codebook=16, iterations=2)
    stream = DEMO.render(p).figures[2]
    ids = np.asarray(stream.data[0].customdata, dtype=float).ravel()
    ids = ids[~np.isnan(ids)]
    assert len(ids) == 5 + 1 + 16 * 16 + 1 + 3
    assert ids[5] == demo.TEXT_VOCABULARY and ids[5 + 257] == demo.TEXT_VOCABULARY + 1
    assert (ids[6:262] >= demo.TEXT_VOCABULARY + 2).all()


def test_live_run_logits_explode_without_qk_norm_and_stay_small_with_it():
    run = demo.live_run(0.1, True, 0.0, 60, 0)
    assert max(r["max_logit"] for r in run["plain"][-10:]) > 100
    assert max(r["max_logit"] for r in run["fixed"]) < 20


def test_z_loss_pulls_log_z_towards_zero():
    run = demo.live_run(0.1, False, 0.1, 100, 0)
    assert abs(run["fixed"][-1]["log_z"]) < 0.5 * abs(run["plain"][-1]["log_z"])


def test_shift_leaves_cross_entropy_and_grows_log_z_and_bf16_error():
    _, ce, log_z, z, bf16 = demo._shift_curves(0)
    assert np.ptp(ce) < 1e-9
    assert log_z[-1] - log_z[0] > 990
    assert bf16[-1] > 10 * max(bf16[0], 1e-6)
    assert z[-1] > 100 * z[0]
