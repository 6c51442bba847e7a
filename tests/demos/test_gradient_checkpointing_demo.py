"""The gradient-checkpointing demo tells its stories: checked on its numbers."""

import ast
from pathlib import Path

import numpy as np

from demos import gradient_checkpointing as demo


def test_module_imports_no_heavy_library_at_top_level():
    tree = ast.parse(Path(demo.__file__).read_text())
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [i for i in imports if any(m in i for m in ("torch", "scipy", "core"))]


def test_presets_peaks_and_work():
    n = 16
    store = demo._schedule(n, "store_all", n)
    sqrt = demo._schedule(n, "segments", 4)
    huge = demo._schedule(n, "segments", 1)
    assert store["peak"] == n + 1 and store["recomputations"] == 0
    assert sqrt["peak"] <= 2 * np.sqrt(n) + 1 and sqrt["recomputations"] == n - 4
    assert huge["peak"] == n + 1  # one huge segment saves nothing
    everything = demo._schedule(12, "recompute_all", 1)
    assert everything["peak"] == 3 and everything["recomputations"] == 12 * 11 // 2


def test_measured_gradients_are_identical_and_slopes_near_one_and_half():
    result = demo._measure("tanh_mlp", 16, 32, 4, 4, True)
    assert result["max_grad_difference"] == 0.0
    assert result["peak_bytes_checkpointed"] < result["peak_bytes"]
    plain, checkpointed = demo._sweep("tanh_mlp")["slopes"]
    assert 0.9 < plain < 1.1 and 0.35 < checkpointed < 0.65


def test_animation_steps_cover_every_event_up_to_the_cap():
    figure = demo.render(demo.Params(n_layers=24, strategy="recompute_all")).figures[0]
    events = 24 + 24 * 25 // 2  # n forwards; per i: i − 1 recomputes and one backward
    assert len(figure.layout.sliders[0].steps) == min(events, demo.MAX_FRAMES)
    big = demo.render(demo.Params(n_layers=64, strategy="recompute_all")).figures[0]
    assert len(big.layout.sliders[0].steps) == demo.MAX_FRAMES


def test_notes_show_zero_gradient_difference_and_the_saved_tensor_table():
    notes = demo.render(demo.Params(n_layers=4, width=16, batch=2)).notes
    assert "0.0e+00" in notes and "TanhBackward0" in notes
