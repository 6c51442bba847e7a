"""The flash-attention demo tells its stories: each claim of its text is checked on its output.

References are recomputed here from torch (masked scores, row max and sum, SDPA), not read back
from core's trace.
"""

import ast
import base64
import inspect
import math
import re
import typing

import numpy as np
import pytest
import torch

from core.attention import flash_triton
from core.attention.flash import blocks
from demos import flash_attention as demo
from demos.base import ParamsError

DEMO = demo.DEMO


def decoded(array) -> np.ndarray:
    """A figure array: Plotly's typed-array spec (as the demo packs it) or a plain list."""
    if isinstance(array, dict):
        values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
        if "shape" in array:
            values = values.reshape([int(n) for n in array["shape"].split(",")])
        return values.astype(float)
    return np.asarray(array, dtype=float)


def row_trace(figure, key: str, block: int) -> dict:
    return figure.data[demo.FIRST_ROW_TRACE + 3 * block + ("m", "l", "err").index(key)]


def inputs(p):
    """The demo's q, k, v, drawn again from its seed."""
    generator = torch.Generator().manual_seed(p.seed)
    shape = [(1, 1, n, p.d) for n in (p.n, p.n_keys, p.n_keys)]
    tensors = (torch.randn(s, generator=generator, dtype=torch.float64) for s in shape)
    return [x.to(getattr(torch, p.dtype)) for x in tensors]


def masked_scores(p) -> torch.Tensor:
    q, k, _ = (x.double() for x in inputs(p))
    s = (q @ k.transpose(-1, -2))[0, 0] / math.sqrt(p.d)
    if p.causal:
        s = s.masked_fill(~torch.ones(p.n, p.n_keys, dtype=torch.bool).tril(), float("-inf"))
    return s


def notes_number(notes: str, label: str) -> float:
    return float(re.search(re.escape(label) + r"\s*([0-9.]+e[-+][0-9]+)", notes).group(1))


@pytest.mark.parametrize(
    "params",
    [
        demo.Params(),
        demo.Params(n=30, n_keys=45, d=8, block_m="16", block_n="4", causal=True, step=256),
        demo.presets["Algorithm 1 on 8 tokens"].model_copy(update={"step": 256}),
    ],
)
def test_the_row_columns_show_each_rows_max_and_sum_once_its_last_tile_is_done(params):
    figure = DEMO.render(params).figures[0]
    s = masked_scores(params)
    row_max = s.amax(dim=-1)
    row_sum = torch.exp(s - row_max[:, None]).sum(dim=-1)
    step = min(params.step, len(demo._walk(params).steps))
    done = step == len(demo._walk(params).steps)
    for b, rows in enumerate(blocks(params.n, int(params.block_m))):
        m = decoded(row_trace(figure, "m", b)["x"])
        l_sum = decoded(row_trace(figure, "l", b)["x"])
        if done:  # float32 on screen
            np.testing.assert_allclose(m, row_max[rows.start : rows.stop], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(l_sum, row_sum[rows.start : rows.stop], rtol=1e-5)
            err = decoded(row_trace(figure, "err", b)["x"])
            assert (err < 1e-5).all(), "each finished row equals the exact output"


def test_step_zero_shows_nothing_loaded_and_each_step_uncovers_one_tile():
    p = demo.Params(step=0)
    figure = DEMO.render(p).figures[0]
    assert not figure.layout.shapes
    cover = decoded(figure.data[demo.COVER]["z"])
    assert cover.sum() == 16
    for b in range(4):
        assert np.isnan(decoded(row_trace(figure, "m", b)["x"])).all()
    frames = figure.layout.updatemenus[0].buttons[0].args[0]
    assert len(frames) == 17  # the reset frame, then one per tile
    uncovered = [decoded(frame["data"][0]["z"]).sum() for frame in frames]
    assert uncovered == list(range(16, -1, -1))


def test_steps_follow_the_kernels_loop_order():
    """FlashAttention-2: query blocks outside; Algorithm 1: key/value blocks outside."""
    for order, key in (("fa2", lambda t: (t[0], t[1])), ("fa1", lambda t: (t[1], t[0]))):
        p = demo.Params(n=24, n_keys=24, block_m="8", block_n="8", loop_order=order)
        tiles = [(s.q_block, s.k_block) for s in demo._walk(p).steps]
        assert tiles == sorted(tiles, key=key) and len(tiles) == 9


def test_the_last_frame_holds_the_final_statistics_and_the_title_counts_steps():
    p = demo.Params(n=20, n_keys=20, block_m="8", block_n="8", step=3)
    figure = DEMO.render(p).figures[0]
    assert figure.layout.title.text.startswith("Step 3 of 9:")
    frames = figure.layout.updatemenus[0].buttons[0].args[0]
    last = frames[-1]
    assert last["layout"]["title"]["text"].startswith("Step 9 of 9:")
    assert last["traces"][0] == demo.COVER and len(last["traces"]) == 4  # cover + one block
    s = masked_scores(p)
    final_m = decoded(last["data"][1]["x"])  # the m trace of the last query block
    np.testing.assert_allclose(final_m, s.amax(dim=-1)[16:20], rtol=1e-6)


def test_causal_skips_half_the_tiles_as_the_notes_and_strokes_say():
    p = demo.presets["causal skips half the tiles"]
    rendered = DEMO.render(p)
    t = math.ceil(p.n / int(p.block_m))
    skipped = t * (t - 1) // 2
    assert f"{skipped} skipped = T(T−1)/2 with T = {t}" in rendered.notes
    strokes = rendered.figures[0].data[demo.SKIPPED]
    assert np.isnan(decoded(strokes.x)).sum() == skipped  # one NaN-separated stroke per tile
    assert len(demo._walk(p).steps) == t * t - skipped


def test_notes_give_the_error_against_sdpa_at_the_dtypes_precision():
    for dtype, bound in (("float64", 1e-13), ("float32", 1e-5), ("bfloat16", 1e-2)):
        notes = DEMO.render(demo.Params(dtype=dtype, causal=True)).notes
        assert notes_number(notes, "vs SDPA in fp64:") < bound
        assert notes_number(notes, "log-sum-exp vs torch.logsumexp:") < max(bound, 1e-5)


def test_algorithm_1_preset_walks_eight_tokens_in_key_block_order_in_fp64():
    p = demo.presets["Algorithm 1 on 8 tokens"]
    walk = demo._walk(p)
    assert (p.n, p.loop_order, len(walk.steps)) == (8, "fa1", 16)
    assert [s.k_block for s in walk.steps[:4]] == [0, 0, 0, 0]
    assert walk.errors["out_exact"] < 1e-15


def test_why_tiling_wins_the_io_charts_grow_apart_with_n():
    p = demo.presets["why tiling wins as N grows"]
    figure = DEMO.render(p).figures[2]
    curves = {(trace.name, trace.xaxis or "x"): decoded(trace.y) for trace in figure.data}
    standard = curves[("standard attention (Algorithm 0)", "x")]
    flash = curves[("FlashAttention (Algorithm 1)", "x")]
    ratio = standard / flash
    assert ratio[0] < 1 < ratio[-1], "tiny N: re-reading Q and O costs more than S and P"
    assert ratio[-1] > 4 * ratio[0]  # with dents where T_c = ⌈N/B_c⌉ steps up
    limit = (p.sram_kb * 1024 // 2) / (3 * p.d**2 + 4 * p.d)  # M/(3d² + 4d) of the notes
    assert ratio[-1] == pytest.approx(limit, rel=0.01)
    peak_standard = curves[("standard attention (Algorithm 0)", "x2")]
    peak_flash = curves[("FlashAttention (Algorithm 1)", "x2")]
    n = decoded(figure.data[0].x)
    # N² against N: (4Nd + 2N²) / (4Nd + 2N) = (4d + 2N) / (4d + 2) keeps growing with N.
    np.testing.assert_allclose(peak_standard / peak_flash, (4 * p.d + 2 * n) / (4 * p.d + 2))


def test_the_io_models_bytes_per_element_are_torchs_for_every_dtype_offered():
    offered = typing.get_args(demo.Params.model_fields["dtype"].annotation)
    assert set(demo.DTYPE_BYTES) == set(offered)
    for name, size in demo.DTYPE_BYTES.items():
        assert torch.finfo(getattr(torch, name)).bits == 8 * size, name


def test_too_many_tiles_are_refused_with_a_message_naming_the_block_field():
    with pytest.raises(ParamsError, match=r"^block_n: .*4096 tiles.*256"):
        DEMO.parse({"n": 128, "n_keys": 128, "block_m": "2", "block_n": "2"})


def test_the_triton_kernel_trace_is_drawn_and_checked_against_the_pytorch_trace():
    p = demo.Params(kernel="triton", n=40, n_keys=40, d=16, block_m="16", block_n="16",
                    causal=True)  # fmt: skip
    rendered = DEMO.render(p)
    assert "Triton kernel's own debug buffers" in rendered.figures[1].layout.title.text
    assert "**Path:** Triton kernel" in rendered.notes
    assert notes_number(rendered.notes, "max |Δm| =") < 1e-5
    assert notes_number(rendered.notes, "max |Δl| =") < 1e-4
    m_drawn = decoded(rendered.figures[1].data[0].z)
    assert np.isnan(m_drawn[:16, 1:]).all()  # causal: rows 0–15 never load keys 16+
    last = [row[~np.isnan(row)][-1] for row in m_drawn]  # m after each row's last tile
    np.testing.assert_allclose(last, masked_scores(p).amax(dim=-1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "change,reason",
    [({"d": 8}, "16 ≤ d ≤ 128"), ({"dtype": "float64"}, "not fp64"), ({"block_m": "8"}, "≥ 16")],
)
def test_the_triton_path_says_why_it_did_not_run(change, reason):
    rendered = DEMO.render(
        demo.Params(**{"kernel": "triton", "block_m": "16", "block_n": "16", **change})
    )
    assert "the Triton kernel did not run" in rendered.notes and reason in rendered.notes
    assert "PyTorch tiled loop's trace" in rendered.figures[1].layout.title.text


def test_chinese_notes_and_titles():
    rendered = DEMO.render(demo.Params(causal=True), lang="zh")
    assert "最大误差" in rendered.notes and "跳过" in rendered.notes
    assert rendered.figures[0].layout.title.text.startswith("第 6 步")


# What core.attention.flash_triton.triton_backend() can say, with sample values in its fields.
TRITON_REASONS = {
    "Triton interpreter on CPU (no CUDA GPU; slow, small shapes only)": "在 CPU 上用 Triton 的解释器",
    "Triton on cuda sm_90 (NVIDIA H200)": "Triton 运行于 cuda sm_90（NVIDIA H200）",
    "Triton not installed: No module named 'triton'": "未安装 Triton：No module named 'triton'",
    "Triton's interpreter needs NumPy, which is not installed": "NumPy 未安装",
    "no GPU backend (0 active drivers ([]). There should only be one.) and no interpreter: "
    "triton was imported before this module; set TRITON_INTERPRET=1 before that": "没有 GPU 后端",
    "no GPU backend (0 active drivers) and no interpreter: TRITON_INTERPRET='0'": (
        "没有 GPU 后端（0 active drivers），也没有解释器：TRITON_INTERPRET='0'"
    ),
}


@pytest.mark.parametrize("reason,chinese", TRITON_REASONS.items())
def test_every_reason_of_the_triton_backend_has_its_chinese(reason, chinese):
    text = demo.triton_reason(reason)
    assert text.en == reason
    assert chinese in text.zh
    assert not re.search(r"interpreter|installed|backend|GPU;|slow|Triton on", text.zh)


def _core_reasons() -> list[str]:
    """The reasons written in core's source (triton_backend's returns and _UNAVAILABLE), each
    field of an f-string filled with "X": a new or reworded one must be added to the demo."""

    def text(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
        return None

    found = []
    for node in ast.walk(ast.parse(inspect.getsource(flash_triton))):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_UNAVAILABLE" for t in node.targets
        ):
            found.append(text(node.value))
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            found.append(text(node.value.elts[-1]))
    return [reason for reason in found if reason]


def test_the_demo_knows_every_reason_core_can_give():
    reasons = _core_reasons()
    assert len(reasons) >= 5  # installed, NumPy, interpreter, no backend, GPU
    for reason in reasons:
        assert demo.triton_reason(reason).zh != reason, f"no Chinese for {reason!r}"


def test_the_chinese_page_gives_the_triton_reason_in_chinese():
    reason = demo.triton_reason(
        flash_triton.triton_backend()[1]
    )  # this machine's: interpreter or GPU
    params = demo.Params(kernel="triton", d=8)  # refused: d < 16, whatever the backend
    assert reason.zh in DEMO.render(params, lang="zh").notes
    assert reason.en not in DEMO.render(params, lang="zh").notes
    assert reason.en in DEMO.render(params, lang="en").notes


def test_without_triton_the_chinese_page_says_it_is_not_installed(monkeypatch):
    missing = (None, "Triton not installed: No module named 'triton'")
    monkeypatch.setattr(flash_triton, "triton_backend", lambda: missing)
    notes = DEMO.render(demo.Params(kernel="triton"), lang="zh").notes
    assert "Triton 内核未运行：未安装 Triton：No module named 'triton'。" in notes
