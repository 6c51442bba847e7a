"""The ssm demo tells its stories: each preset's claim is checked on its numbers."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from demos import ssm as demo


def number(text: str, pattern: str) -> float:
    return float(re.search(pattern, text).group(1))


def test_module_imports_no_heavy_library_at_top_level():
    tree = ast.parse(Path(demo.__file__).read_text())
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [i for i in imports if any(m in i for m in ("torch", "scipy", "core"))]


def hippo_error(params) -> float:
    return number(demo.render(params).figures[0].layout.title.text, r"RMS error ([0-9.]+)")


def test_hippo_remembers_a_whole_sine_but_few_coefficients_blur_a_step():
    assert hippo_error(demo.presets["HiPPO remembers a whole sine"]) < 0.05
    assert hippo_error(demo.presets["too few coefficients blur a step"]) > 0.1
    step_many = demo.Params(signal="step", state_size=64)
    assert hippo_error(step_many) < hippo_error(demo.presets["too few coefficients blur a step"])


def test_white_noise_cannot_be_compressed():
    assert hippo_error(demo.Params(signal="noise")) > 0.5


def test_small_delta_remembers_longer():
    run = demo._s4(32, -1.0, "zoh", "sines", 400, 0)
    horizons = np.asarray(run["horizons"]["zoh"])
    assert (np.diff(horizons) <= 0).all() and horizons[0] > 100 * horizons[-1]


def test_zoh_and_bilinear_differ_at_large_delta():
    zoh = demo._s4(32, 0.0, "zoh", "sines", 400, 0)
    bilinear = demo._s4(32, 0.0, "bilinear", "sines", 400, 0)
    assert bilinear["horizon"] > 5 * zoh["horizon"]  # eigenvalues near −1 ring on
    assert np.abs(bilinear["eigenvalues"]).max() < 1 and np.abs(zoh["eigenvalues"]).max() < 1
    assert bilinear["eigenvalues"].real.min() < -0.5 < zoh["eigenvalues"].real.min()


def mamba_title(params) -> str:
    return demo.render(params).figures[3].layout.title.text


def test_selection_on_decodes_the_content_and_selection_off_does_not():
    on = number(
        mamba_title(demo.presets["selection on: fillers skipped"]), r"max error ([0-9.e+-]+)"
    )
    off = number(mamba_title(demo.presets["selection off: LTI smears"]), r"max error ([0-9.e+-]+)")
    assert on < 1e-3 and off > 0.5


def test_fillers_leave_the_selective_state_untouched():
    p = demo.presets["selection on: fillers skipped"]
    run = demo._mamba(p.task, p.tokens, p.content, p.mamba_state, p.selectivity, p.seed)
    fillers = np.flatnonzero(run["u"] == 0)[1:]
    change = np.abs(run["states"][fillers] - run["states"][fillers - 1]).max()
    assert change < 1e-4 * np.abs(run["states"]).max()


@pytest.mark.parametrize("w,works", [(6.0, True), (0.0, False)])
def test_induction_toy_recalls_the_token_after_the_trigger_only_with_selection(w, works):
    run = demo._mamba("induction", 48, 4, 8, w, 0)
    assert (abs(run["recalled"] - run["target"]) < 0.05) == works


def test_notes_show_the_equalities_to_rounding():
    notes = demo.render(demo.Params(length=2000, state_size=64, tokens=512)).notes
    values = [float(v) for v in re.findall(r"\| ([0-9.]+e[-+][0-9]+) \|", notes)[1:]]
    assert len(values) == 2 and max(values) < 1e-10


def test_scan_figure_draws_ceil_log2_levels_of_the_first_16_positions():
    figure = demo.render(demo.Params(tokens=40)).figures[4]
    assert np.asarray(figure.data[0].z).shape == (5, 16)  # level 0 and offsets 1, 2, 4, 8
