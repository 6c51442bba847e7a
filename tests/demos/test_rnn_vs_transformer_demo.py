"""The rnn-vs-transformer demo tells its stories: each preset's claim is checked on its numbers."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from demos import rnn_vs_transformer as demo


def norms(params):
    t0 = min(params.t0, params.length - 1)
    run = demo._run(
        params.signal, t0, params.length, params.hidden, params.weight_scale,
        params.forget_bias, params.seed,
    )  # fmt: skip
    return run["norms"]


def test_module_imports_no_heavy_library_at_top_level():
    tree = ast.parse(Path(demo.__file__).read_text())
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [i for i in imports if any(m in i for m in ("torch", "scipy", "core"))]


def test_rnn_gradient_vanishes_geometrically_below_radius_one():
    n = norms(demo.presets["an impulse fades: RNN vs LSTM"])["rnn"]
    assert n[-1] < 1e-3 * n[0]
    # geometric: log-norm falls roughly linearly (no plateau in the second half)
    half = len(n) // 2
    assert n[-1] < 1e-1 * n[half]


def test_forget_bias_one_keeps_lstm_gradients_alive():
    p = demo.presets["forget bias 1 keeps gradients alive"]
    alive, dead = norms(p), norms(p.model_copy(update={"forget_bias": 0.0}))
    assert alive["lstm"][-1] > 1e6 * alive["rnn"][-1]
    assert alive["lstm"][-1] > 1e3 * dead["lstm"][-1]


def test_weight_scale_above_one_explodes_the_rnn_gradient():
    n = norms(demo.presets["exploding at weight scale 1.5"])["rnn"]
    assert n[-1] > 1e6 * n[0]


def test_attention_gradient_does_not_decay_with_distance():
    n = norms(demo.presets["attention: every token one step away"])
    assert n["attention"].max() / n["attention"].min() < 10
    assert n["lstm"][-1] < 1e-6 * n["lstm"][0]


def test_the_cells_agree_with_torch_nn_on_screen():
    notes = demo.render(demo.Params(length=8, hidden=4)).notes
    values = [float(v) for v in re.findall(r"torch\.nn\.(?:LSTM|GRU)\| = ([-+.e0-9]+[0-9])", notes)]
    assert len(values) == 2 and max(values) < 1e-12


def test_dependency_graph_highlights_one_step_for_attention_and_a_chain_for_the_rnn():
    figure = demo.render(demo.Params(length=32)).figures[4]
    hot = [t for t in figure.data if t.mode == "lines" and t.line.width == 4]
    chain, _input_edge, attention = hot
    assert len([x for x in chain.x if x is not None]) == 2 * (demo.GRAPH_NODES - 1)
    assert len([x for x in attention.x if x is not None]) == 2  # token 1 -> last output
    assert "32 steps" in figure.layout.annotations[0].text


def test_heatmaps_are_time_by_unit_and_step_is_clipped():
    rendered = demo.render(demo.Params(length=10, hidden=6, step=200))
    lstm = rendered.figures[0]
    assert [np.asarray(t.z).shape for t in lstm.data] == [(6, 10)] * 6
    assert lstm.layout.shapes[0].x0 == 9
    assert "t = 9" in rendered.figures[2].layout.title.text


@pytest.mark.parametrize("signal", ["impulse", "step", "sine", "noise"])
def test_every_signal_renders_in_chinese(signal):
    rendered = demo.render(demo.Params(signal=signal, length=8, hidden=4), lang="zh")
    assert "自己" in rendered.notes
