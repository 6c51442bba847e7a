"""The toy shapes world, and the committed toy models: re-training reproduces them."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.multimodal import shapes
from core.multimodal.toy_clip import ASSETS, load
from core.pinned import pinned_env


def test_world_has_250_compositions_and_50_held_out_one_pair_per_colour_and_shape():
    assert len(shapes.COMPOSITIONS) == 250
    held = [c for c in shapes.COMPOSITIONS if c.held_out]
    assert len(held) == 50
    pairs = {(c.colour, c.shape) for c in held}
    assert len(pairs) == 5
    assert {c for c, _ in pairs} == set(shapes.COLOURS)
    assert {s for _, s in pairs} == set(shapes.SHAPES)
    images, captions, index = shapes.training_set(variants=1, seed=0)
    assert not any(shapes.COMPOSITIONS[i].held_out for i in index)
    assert images.shape == (200, 3, 24, 24) and captions.shape == (200, shapes.MAX_WORDS)


def test_every_shape_draws_distinct_pixels_and_captions_follow_the_grammar():
    masks = {
        c.shape: (shapes.render_image(c) != shapes.render_image(c)[0, 0]).any(-1)
        for c in shapes.COMPOSITIONS
        if c.colour == "red" and c.position == "center" and c.size == "big"
    }
    sizes = {name: int(m.sum()) for name, m in masks.items()}
    assert len(set(map(bytes, (np.packbits(m) for m in masks.values())))) == 5, sizes
    assert shapes.COMPOSITIONS[0].caption() == "a small red circle at the top left"
    assert shapes.tokens("a big red circle")[:4].tolist() == [
        shapes.WORD_ID[w] for w in ("a", "big", "red", "circle")
    ]
    with pytest.raises(ValueError, match="unknown words"):
        shapes.tokens("a dog")


def test_committed_files_are_small_and_load_without_pickle():
    sizes = [Path(ASSETS / f"toy_{k}.npz").stat().st_size for k in ("clip", "siglip")]
    assert sum(sizes) < 2_000_000
    _, extra = load(ASSETS / "toy_siglip.npz")
    assert extra["log/step"][-1] > 0 and float(extra["b"]) < 0


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_retraining_reproduces_the_committed_weights(kind, tmp_path):
    # The reproducibility check: the training script again (~30 s each), in a process
    # of its own with the kernels pinned (core/pinned.py), as the committed files were made.
    command = [sys.executable, "-m", "core.multimodal.train_toy_clip", "--out", str(tmp_path)]
    done = subprocess.run(
        [*command, "--kind", kind], env=pinned_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    model, extra = load(tmp_path / f"toy_{kind}.npz")
    committed, committed_extra = load(ASSETS / f"toy_{kind}.npz")
    ours, theirs = model.state_dict(), committed.state_dict()
    delta = max(float((ours[k] - theirs[k]).abs().max()) for k in theirs)
    assert delta <= 1e-5
    np.testing.assert_allclose(extra["log/accuracy"], committed_extra["log/accuracy"], atol=1e-6)
