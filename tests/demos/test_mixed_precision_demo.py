"""The mixed-precision demo tells its stories: checked on its numbers, against torch's casts."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from demos import mixed_precision as demo
from demos.base import ParamsError


def test_module_imports_no_heavy_library_at_top_level():
    tree = ast.parse(Path(demo.__file__).read_text())
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [i for i in imports if any(m in i for m in ("torch", "scipy", "core"))]


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.1", 0.1), ("-2.5e-6", -2.5e-6), (".5", 0.5), ("1/3", 1 / 3), (" 7 / 2 ", 3.5)],
)
def test_typed_values_are_decimals_or_fractions(text, value):
    assert demo.parse_value(text) == value


def test_typed_specials_and_negative_zero():
    assert demo.parse_value("-inf") == -math.inf and math.isnan(demo.parse_value("NaN"))
    assert math.copysign(1.0, demo.parse_value("-0")) == -1.0


@pytest.mark.parametrize("text", ["abc", "2**3", "1_000", "0x10", "", "1/0", "__import__('os')"])
def test_anything_else_is_refused_in_one_line(text):
    with pytest.raises(ParamsError, match=r"^value: [^\n]+$"):
        demo.DEMO.parse({"value": text})


def test_point_one_is_exact_nowhere_and_matches_torch_casts():
    x = demo._x(demo.presets["0.1 is exact nowhere"])
    rows = demo._decomposed(x)
    for key, d in rows.items():
        dtype = getattr(torch, demo.DTYPE_NAMES[key])
        assert d["value"] == torch.tensor(0.1).to(dtype).float().item()
        assert d["error"] != 0.0
    assert rows["fp16"]["bits"] == 0x2E66 and rows["bf16"]["bits"] == 0x3DCD


def test_bit_cells_spell_the_pattern_and_negative_zero_keeps_its_sign():
    figure = demo.render(demo.Params(value="-0")).figures[0]
    heatmap = figure.data[0]
    fp16_row = list(demo.FORMATS).index("fp16")
    assert list(heatmap.text[fp16_row][:16]) == ["1"] + ["0"] * 15
    value = demo.render(demo.Params(value="3.14159", shift=-3)).figures[0].data[0]
    bits = "".join(value.text[fp16_row][:16])
    expected = torch.tensor(3.14159 / 8).half().view(torch.int16).item() & 0xFFFF
    assert int(bits, 2) == expected


def test_fp8_number_line_holds_every_finite_value():
    values = demo._fp8_values()
    # E4M3fn: 256 patterns − 2 NaN, ±0 one value; E5M2: − 2 inf − 6 NaN, ±0 one value.
    assert len(values["e4m3"]) == 253 and values["e4m3"].max() == 448
    assert len(values["e5m2"]) == 247 and values["e5m2"].max() == 57344


def lost_fraction(depth: int, k: int, dtype: torch.dtype) -> float:
    g = torch.from_numpy(demo._gradients(depth))
    return float(((g * 2.0**k).to(dtype) == 0).double().mean())


def test_fp16_underflows_bf16_does_not_and_loss_scaling_rescues():
    p = demo.presets["FP16 underflows, BF16 does not"]
    fractions = demo._outcomes(p.depth, p.loss_scale_log2)["fractions"]
    assert fractions["fp16"]["lost"] == pytest.approx(lost_fraction(p.depth, 0, torch.float16))
    assert fractions["fp16"]["lost"] > 0.01 and fractions["fp16"]["subnormal"] > 0.5
    assert fractions["bf16"]["lost"] == 0.0 and fractions["bf16"]["subnormal"] == 0.0
    scaled = demo.presets["Loss scaling rescues small gradients"]
    rescued = demo._outcomes(scaled.depth, scaled.loss_scale_log2)["fractions"]["fp16"]
    assert rescued["lost"] == 0.0 and rescued["overflow"] == 0.0
    assert rescued["subnormal"] < 0.01  # nearly every gradient keeps FP16's 11 digits


def test_histogram_counts_every_nonzero_gradient_once():
    outcomes = demo._outcomes(6, 3)
    total = sum(int(counts.sum()) for counts in outcomes["counts"]["e5m2"])
    assert total == int((demo._gradients(6) != 0).sum())


def test_a_spike_halves_the_scale():
    p = demo.presets["A spike halves the scale"]
    run = demo._scaling(p)
    skipped = int(run["skipped"].sum())
    assert skipped >= 2
    # The interval is the run's length: the scale never grows, each skipped step halves it.
    assert run["scale"][-1] == 2.0**p.init_scale_log2 * 0.5**skipped
    halvings = np.flatnonzero(np.diff(run["scale"]) != 0)
    assert np.array_equal(halvings, np.flatnonzero(run["skipped"]))


def test_default_scale_climbs_to_the_overflow_ceiling_and_saws_below_it():
    run = demo._scaling(demo.Params(spike_probability=0.0))
    ceiling = run["overflow_threshold"] / run["grads"]
    assert run["skipped"].any() and run["scale"].max() > 2.0**16
    # A step overflows exactly when its scaled gradient reaches the ceiling.
    assert np.array_equal(run["skipped"], run["scale"][:-1] >= ceiling)


def test_updates_below_half_an_ulp_vanish_but_the_master_keeps_them():
    p = demo.presets["Updates below half an ulp vanish"]
    runs = demo._trajectories(p.update_log10, p.steps)
    u = 10.0**p.update_log10
    assert u < 2.0**-11  # half an FP16 ulp at 1
    assert (runs["fp16_pure"][:, 0] == 1.0).all() and (runs["bf16_pure"][:, 0] == 1.0).all()
    assert runs["fp32_master"][-1, 0] == pytest.approx(1 + p.steps * u, rel=1e-4)
    assert abs(runs["fp16_master"][-1, 0] - (1 + p.steps * u)) <= 2.0**-10  # one FP16 ulp
    updates = runs["updates"][1:]
    reached = (runs["fp16_pure"][-1, 1:] - 1) / (p.steps * updates)
    assert (reached[updates < 2.0**-11] == 0).all() and (reached[updates > 2.0**-10] > 0.5).all()
