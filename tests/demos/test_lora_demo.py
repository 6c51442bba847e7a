"""The lora demo's figures carry the numbers its text claims."""

from demos import lora as demo


def test_the_gpt3_preset_counts_4_7m_and_r8_37_7m():
    rendered = demo.DEMO.render(demo.presets["gpt3"])
    assert "4,718,592" in rendered.notes
    counts = rendered.figures[1]
    qv = counts.data[0]
    assert dict(zip(qv.x, qv.y, strict=True))[8] == 37_748_736


def test_the_merge_check_is_rounding_only_and_shows_r_nonzero_singular_values():
    merge = demo._merge_check(5, 8.0, 0)
    assert merge["errors"]["float64"] < 1e-10 and merge["errors"]["float32"] < 2e-5
    values = merge["values"]
    assert (values[:5] > 1e-3).all() and (values[5:] < 1e-10 * values[0]).all()


def test_lora_module_imports_no_torch_at_top():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(demo.__file__).read_text(encoding="utf-8"))
    heavy = ("torch", "scipy", "sklearn", "xgboost", "core")
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            assert not any(word in ast.unparse(node) for word in heavy), ast.unparse(node)
