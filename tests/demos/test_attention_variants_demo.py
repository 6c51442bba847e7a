"""The attention-variants demo: its numbers are the cache formulas and the modules' references."""

import re

import numpy as np
import pytest

from demos import attention_variants as demo
from demos.base import ParamsError

DEMO = demo.DEMO


def test_deepseek_v2_preset_caches_576_numbers_per_token_per_layer():
    p = demo.presets["deepseek-v2"]
    latent, rope_key = demo.cache_per_token(p)["mla"]
    assert latent + rope_key == (512 + 64) * 60 * 2 == 67.5 * 1024
    rendered = DEMO.render(p)
    assert "| MLA | 67.5 KiB |" in rendered.notes


def test_llama2_70b_preset_shows_eight_times_less_cache_than_mha():
    p = demo.presets["llama2-70b-gqa"]
    cache = demo.cache_per_token(p)
    assert sum(cache["mha"]) == 8 * sum(cache["gqa"]) == 8 * 320 * 1024
    bars = DEMO.render(p).figures[1].data
    kib = np.asarray(bars[0].y) + np.asarray(bars[1].y)
    np.testing.assert_allclose(kib[:2], [2560, 320])


@pytest.mark.parametrize("preset", list(demo.presets))
def test_every_reference_error_on_screen_is_at_rounding_level(preset):
    notes = DEMO.render(demo.presets[preset]).notes
    errors = [float(x) for x in re.findall(r"(\d\.\de-\d\d)", notes.split("**Cache")[0])]
    assert len(errors) == 4 and max(errors) < 1e-12  # fp64 modules


def test_sharing_diagram_wires_each_query_head_to_its_group():
    p = demo.Params(head_dim=4, n_heads=12, n_kv_heads=3)
    figure = DEMO.render(p).figures[0]
    gqa_lines = figure.data[3]  # lines, query heads, KV heads of the second panel
    xs = [x for x in gqa_lines.x if x is not None]
    kv_targets = xs[1::2]
    assert sorted(set(kv_targets)) == [0.0, 0.5, 1.0]
    assert [kv_targets.count(v) for v in (0.0, 0.5, 1.0)] == [4, 4, 4]


def test_singular_values_fall_off_a_cliff_after_the_latent_width():
    p = demo.Params(n_tokens=40, latent=6)
    singular = demo._live(8, 40, 8, 2, 6, 4, True, 0)["singular"]
    assert singular[5] > 1e6 * singular[6]
    assert DEMO.render(p).figures[3].data[0].y[6] < 1e-10


def test_rope_on_the_compressed_key_shows_errors_only_off_the_diagonal():
    on = DEMO.render(demo.presets["rope-breaks-absorption"]).figures[4].data[0].z
    off = DEMO.render(demo.Params(causal=False)).figures[4].data[0].z
    assert np.abs(np.diag(on)).max() < 1e-6 and np.median(on) > 1e-2
    assert np.abs(off).max() < 1e-12


def test_explicit_decoding_cost_grows_faster_than_absorbed():
    flops = demo.decode_flops(demo.presets["deepseek-v2"], np.array([1024, 131072]))
    assert (flops["explicit"] > 20 * flops["absorbed"]).all()


def test_odd_rope_dims_are_refused_and_kv_heads_fall_to_a_divisor():
    with pytest.raises(ParamsError, match=r"rope_dim: .*even"):
        DEMO.parse({"rope_dim": 3})
    assert demo.live_kv_heads(demo.Params(n_heads=8, n_kv_heads=3)) == 2
    assert demo.live_kv_heads(demo.Params(n_heads=12, n_kv_heads=16)) == 12
    assert (
        demo._shape(demo.Params(model="custom", custom_heads=10, custom_kv_heads=4))["n_kv_heads"]
        == 2
    )


def test_demo_module_does_not_import_torch_at_top():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(demo))
    tops = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [t for t in tops if any(m in t for m in ("torch", "core"))]
