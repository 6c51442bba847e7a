"""FlashAttention tile by tile: how can attention be exact without ever holding the N×N matrix?

The score matrix is cut into tiles; each query row keeps a running max m and a running sum l
and rescales its output whenever a new tile raises the max (online softmax). The walk shows
the tiles in the kernel's order, which blocks of Q, K, V sit in SRAM, m and l of every row and
the error of each row's partial output; the charts show what the tiling saves in HBM traffic
and memory as N grows.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel, ValidationInfo, field_validator

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY

MAX_TILES = 256  # the walk draws every tile and animates every step: keeps a render ≤ 1 s
TRITON_MAX_TILES = 48  # Triton's interpreter costs ~5–10 ms per tile on a CPU
TRITON_BLOCKS = (16, 32, 64, 128)  # tl.dot needs K ≥ 16 on a GPU; powers of two
TRITON_HEAD_DIMS = (16, 128)
BLOCK_SIZES = Literal["2", "4", "8", "16", "32", "64"]
DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}  # torch.finfo(·).bits / 8
IO_N = np.unique(np.round(2 ** np.arange(4, 17.01, 0.25)).astype(int))  # N = 16 … 131 072
ERROR_FLOOR = 1e-17  # an error of exactly 0 is drawn here on the log axis
COLORS = {
    "m": COLORWAY[0],
    "l": COLORWAY[1],
    "err": COLORWAY[2],
    "flash": COLORWAY[0],
    "standard": COLORWAY[1],
    "focus": COLORWAY[4],
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    n: int = param(32, en="Queries N", zh="查询数 N", ge=1, le=128)
    n_keys: int = param(
        32,
        en="Keys N_k",
        zh="键的数量 N_k",
        help_en="With causal on, query i sees keys j ≤ i, as PyTorch's is_causal (aligned top-left).",
        help_zh="开启因果掩码时，查询 i 只看键 j ≤ i，与 PyTorch 的 is_causal 一致（左上角对齐）。",
        ge=1,
        le=128,
    )
    d: int = param(16, en="Head dimension d", zh="头维度 d", ge=1, le=128)
    block_m: BLOCK_SIZES = param("8", en="Query block B_r", zh="查询分块 B_r")
    block_n: BLOCK_SIZES = param(
        "8",
        en="Key/value block B_c",
        zh="键/值分块 B_c",
        help_en=f"At most {MAX_TILES} tiles: ⌈N/B_r⌉·⌈N_k/B_c⌉ ≤ {MAX_TILES}.",
        help_zh=f"分块总数 ⌈N/B_r⌉·⌈N_k/B_c⌉ 不超过 {MAX_TILES}。",
    )
    causal: bool = param(False, en="Causal mask", zh="因果掩码")
    step: int = param(
        6,
        en="Tile step (kernel order; past the last = done)",
        zh="分块步数（按内核顺序；超过最后一步即完成）",
        help_en="0 = nothing loaded yet. The ▶ button in the figure plays every step.",
        help_zh="0 表示尚未加载任何分块。图中的 ▶ 按钮会依次播放每一步。",
        ge=0,
        le=MAX_TILES,
    )
    loop_order: Literal["fa2", "fa1"] = param(
        "fa2",
        en="Loop order",
        zh="循环顺序",
        choices={
            "fa2": Text("FlashAttention-2: Q blocks outside", "FlashAttention-2：外层循环 Q 分块"),
            "fa1": Text("Algorithm 1: K/V blocks outside", "算法 1：外层循环 K/V 分块"),
        },
    )
    dtype: Literal["float32", "float64", "float16", "bfloat16"] = param(
        "float32",
        en="Input dtype (accumulation in fp32, fp64 for fp64)",
        zh="输入数据类型（以 fp32 累加，fp64 输入用 fp64）",
    )
    kernel: Literal["pytorch", "triton"] = param(
        "pytorch",
        en="Kernel",
        zh="内核",
        help_en=f"Triton: d 16–128, blocks ≥ 16, not fp64; without a GPU it runs in Triton's "
        f"slow interpreter (≤ {TRITON_MAX_TILES} tiles).",
        help_zh=f"Triton：d 为 16–128，分块 ≥ 16，不支持 fp64；没有 GPU 时在 Triton 的解释器中"
        f"运行，速度很慢（最多 {TRITON_MAX_TILES} 个分块）。",
        choices={
            "pytorch": Text("PyTorch tiled", "PyTorch 分块实现"),
            "triton": Text("Triton kernel", "Triton 内核"),
        },
    )
    sram_kb: int = param(
        100,
        en="SRAM size M for the IO model (KB)",
        zh="IO 模型中的 SRAM 大小 M（KB）",
        help_en="1 KB = 1024 bytes. The paper takes M ≈ 100 KB (an A100 has 192 KB of SRAM per SM).",
        help_zh="1 KB = 1024 字节。论文取 M ≈ 100 KB（A100 每个 SM 有 192 KB 的 SRAM）。",
        ge=16,
        le=256,
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=9999)

    @field_validator("block_n")
    @classmethod
    def _few_enough_tiles(cls, block_n: str, info: ValidationInfo) -> str:
        n, n_keys, block_m = (info.data.get(key) for key in ("n", "n_keys", "block_m"))
        if None not in (n, n_keys, block_m):
            tiles = math.ceil(n / int(block_m)) * math.ceil(n_keys / int(block_n))
            if tiles > MAX_TILES:
                raise ValueError(
                    f"⌈N/B_r⌉·⌈N_k/B_c⌉ = {tiles} tiles, more than the {MAX_TILES} this demo "
                    "draws: choose larger blocks or fewer tokens"
                )
        return block_n


# --- the computation, once per render -------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One visited tile, in loop order, and the rows' statistics right after it."""

    q_block: int
    k_block: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    status: str
    m: np.ndarray  # (rows,) running max after this tile
    l: np.ndarray  # noqa: E741  (rows,) running sum after this tile, the paper's ℓ
    err: np.ndarray  # (rows,) max |acc/l − O_exact| over the head dimension
    read: int  # HBM bytes read so far
    written: int  # HBM bytes written so far


@dataclass(frozen=True)
class Walk:
    q: np.ndarray  # (N, d)
    k: np.ndarray  # (N_k, d)
    v: np.ndarray  # (N_k, d)
    s: np.ndarray  # (N, N_k) scores, NaN where masked
    status: np.ndarray  # (n_q_blocks, n_k_blocks): 0 computed, 1 masked, 2 skipped
    steps: list[Step]
    row_blocks: list[range]
    col_blocks: list[range]
    final_m: np.ndarray
    final_l: np.ndarray
    m_grid: np.ndarray  # (N, n_k_blocks): m of each row after each key block, NaN if skipped
    l_grid: np.ndarray
    err_grid: np.ndarray
    errors: dict[str, float]
    naive_bytes: int


STATUS_CODE = {"computed": 0, "masked": 1, "skipped": 2}


def _walk(p: Params) -> Walk:
    import torch
    import torch.nn.functional as F

    from core.attention.flash import blocks, flash_attention, flash_attention_v1
    from core.attention.naive import naive_attention
    from core.trace import Trace

    generator = torch.Generator().manual_seed(p.seed)
    shape = [(1, 1, n, p.d) for n in (p.n, p.n_keys, p.n_keys)]
    q, k, v = (torch.randn(s, generator=generator, dtype=torch.float64) for s in shape)
    q, k, v = (x.to(getattr(torch, p.dtype)) for x in (q, k, v))
    bm, bn = int(p.block_m), int(p.block_n)
    forward = flash_attention if p.loop_order == "fa2" else flash_attention_v1
    trace = Trace()
    out, lse = forward(
        q, k, v, causal=p.causal, block_m=bm, block_n=bn, trace=trace, trace_accumulator=True
    )
    naive, exact_naive = Trace(), Trace()
    naive_attention(q, k, v, causal=p.causal, trace=naive)  # what Algorithm 0 moves in this dtype
    _, exact_lse = naive_attention(
        q.double(), k.double(), v.double(), causal=p.causal, trace=exact_naive
    )
    (scores,) = exact_naive["scores"]
    (naive_hbm,) = naive["hbm"]
    exact = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=p.causal)
    same_dtype = F.scaled_dot_product_attention(q, k, v, is_causal=p.causal)

    row_blocks, col_blocks = blocks(p.n, bm), blocks(p.n_keys, bn)
    status = np.zeros((len(row_blocks), len(col_blocks)), dtype=np.int8)
    grids = np.full((3, p.n, len(col_blocks)), np.nan)
    steps, read, written = [], 0, 0
    for tile in trace["tile"]:
        i, j = tile["q_block"], tile["k_block"]
        status[i, j] = STATUS_CODE[tile["status"]]
        read += tile["hbm_read_bytes"]
        written += tile["hbm_write_bytes"]
        if tile["status"] == "skipped":
            continue
        r0, r1 = tile["rows"]
        m_rows, l_rows = tile["m"][0, 0], tile["l"][0, 0]
        partial = tile["acc"][0, 0] / l_rows[:, None]
        err = (partial.double() - exact[0, 0, r0:r1]).abs().amax(dim=-1)
        grids[:, r0:r1, j] = np.stack([m_rows.numpy(), l_rows.numpy(), err.numpy()])
        steps.append(
            Step(
                i,
                j,
                (r0, r1),
                tuple(tile["cols"]),
                tile["status"],
                m_rows.numpy(),
                l_rows.numpy(),
                err.numpy(),
                read,
                written,
            )
        )
    visited = ~np.isnan(grids[0])  # key block 0 is visited by every row
    last = visited.shape[1] - 1 - np.argmax(visited[:, ::-1], axis=1)
    rows = np.arange(p.n)
    errors = {
        "out_exact": float((out.double() - exact).abs().max()),
        "out_same": float((out.double() - same_dtype.double()).abs().max()),
        "sdpa_exact": float((same_dtype.double() - exact).abs().max()),
        "lse": float((lse.double() - exact_lse).abs().max()),
    }
    return Walk(
        q=q[0, 0].double().numpy(),
        k=k[0, 0].double().numpy(),
        v=v[0, 0].double().numpy(),
        s=np.where(np.isinf(scores[0, 0].numpy()), np.nan, scores[0, 0].double().numpy()),
        status=status,
        steps=steps,
        row_blocks=row_blocks,
        col_blocks=col_blocks,
        final_m=grids[0][rows, last],
        final_l=grids[1][rows, last],
        m_grid=grids[0],
        l_grid=grids[1],
        err_grid=grids[2],
        errors=errors,
        naive_bytes=naive_hbm["hbm_read_bytes"] + naive_hbm["hbm_write_bytes"],
    )


@dataclass(frozen=True)
class KernelRun:
    """What the Triton path did: whether it ran, why, and its own m/l trace if it did."""

    ran: bool
    reason: str  # in the page's language
    m_grid: np.ndarray | None = None  # (N, n_k_blocks) like Walk.m_grid
    l_grid: np.ndarray | None = None
    out_error: float = math.nan  # max |out − SDPA fp64|
    m_diff: float = math.nan  # max |m_triton − m_pytorch| over visited tiles
    l_diff: float = math.nan


# triton_backend()'s reasons (core/attention/flash_triton.py, English only) for the Chinese page.
TRITON_REASONS = (
    (
        r"Triton interpreter on CPU \(no CUDA GPU; slow, small shapes only\)",
        "在 CPU 上用 Triton 的解释器运行（没有 CUDA GPU；很慢，只适合小尺寸）",
    ),
    (r"Triton on (?P<target>.+?) \((?P<device>.*)\)", "Triton 运行于 {target}（{device}）"),
    (r"Triton not installed: (?P<error>.*)", "未安装 Triton：{error}"),
    (
        r"Triton's interpreter needs NumPy, which is not installed",
        "Triton 的解释器需要 NumPy，但 NumPy 未安装",
    ),
    (
        r"no GPU backend \((?P<error>.*)\) and no interpreter: triton was imported before this "
        r"module; set TRITON_INTERPRET=1 before that",
        "没有 GPU 后端（{error}），也没有解释器：triton 在 core.attention.flash_triton 之前已被导入，"
        "须在导入 triton 之前设置 TRITON_INTERPRET=1",
    ),
    (
        r"no GPU backend \((?P<error>.*)\) and no interpreter: (?P<why>.*)",
        "没有 GPU 后端（{error}），也没有解释器：{why}",
    ),
)


def triton_reason(reason: str) -> Text:
    """A reason of `triton_backend()` in both languages; one not listed stays English in both."""
    for pattern, zh in TRITON_REASONS:
        found = re.fullmatch(pattern, reason, re.DOTALL)
        if found:
            return Text(reason, zh.format(**found.groupdict()))
    return Text(reason, reason)


def _triton_refusal(p: Params, tiles: int, backend: str | None) -> Text | None:
    """Why the Triton kernel cannot take these parameters (None when it can)."""
    bm, bn = int(p.block_m), int(p.block_n)
    if p.dtype == "float64":
        return Text(
            "it takes fp32, fp16 or bf16, not fp64", "它只支持 fp32、fp16、bf16，不支持 fp64"
        )
    if not TRITON_HEAD_DIMS[0] <= p.d <= TRITON_HEAD_DIMS[1]:
        return Text(f"it needs 16 ≤ d ≤ 128 (d = {p.d})", f"它要求 16 ≤ d ≤ 128（当前 d = {p.d}）")
    if bm not in TRITON_BLOCKS or bn not in TRITON_BLOCKS:
        return Text(
            f"its blocks are powers of two ≥ 16 (B_r = {bm}, B_c = {bn})",
            f"它的分块须为 ≥ 16 的 2 的幂（B_r = {bm}，B_c = {bn}）",
        )
    if backend == "interpreter" and tiles > TRITON_MAX_TILES:
        return Text(
            f"{tiles} tiles would take seconds in the interpreter (limit {TRITON_MAX_TILES})",
            f"{tiles} 个分块在解释器中要运行数秒（上限 {TRITON_MAX_TILES}）",
        )
    return None


def _run_triton(p: Params, walk: Walk, lang: str) -> KernelRun:
    import torch
    import torch.nn.functional as F

    from core.attention import flash_triton  # imported on demand: Triton is optional

    backend, reason_en = flash_triton.triton_backend()
    reason = triton_reason(reason_en)
    if backend is None:
        return KernelRun(False, reason(lang))
    refusal = _triton_refusal(p, walk.status.size, backend)
    if refusal is not None:
        return KernelRun(
            False,
            Text(f"{reason.en}; not run: {refusal.en}", f"{reason.zh}；未运行：{refusal.zh}")(lang),
        )
    device = "cuda" if backend == "gpu" else "cpu"
    q, k, v = (
        torch.from_numpy(x)[None, None].to(device, getattr(torch, p.dtype))
        for x in (walk.q, walk.k, walk.v)
    )
    bm, bn = int(p.block_m), int(p.block_n)
    out, _, m_dbg, l_dbg = flash_triton.flash_attention_triton_trace(
        q, k, v, causal=p.causal, block_m=bm, block_n=bn
    )
    # (1, 1, n_q_blocks, n_k_blocks, B_r) -> (N, n_k_blocks): row r of block i is row i·B_r + r
    m_grid, l_grid = (
        x[0, 0].permute(0, 2, 1).reshape(-1, x.shape[3])[: p.n].double().numpy()
        for x in (m_dbg, l_dbg)
    )
    exact = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=p.causal)
    visited = ~np.isnan(walk.m_grid)
    return KernelRun(
        True,
        reason(lang),
        m_grid,
        l_grid,
        out_error=float((out.double() - exact).abs().max()),
        m_diff=float(np.abs(m_grid - walk.m_grid)[visited].max()),
        l_diff=float(np.abs(l_grid - walk.l_grid)[visited].max()),
    )


# --- figure 1: the walk ---------------------------------------------------------------------

# Trace indices of the walk figure (frames address traces by index).
S_MAP, Q_STRIP, K_STRIP, V_STRIP, GRID, SKIPPED, COVER, FINAL_M, FINAL_L = range(9)
FIRST_ROW_TRACE = 9  # then (m, l, err) for each query block


@dataclass(frozen=True)
class State:
    """What the walk figure shows after `t` steps."""

    t: int
    m: np.ndarray  # (N,) NaN for rows not reached yet
    l: np.ndarray  # noqa: E741
    err: np.ndarray
    cover: np.ndarray  # (n_q_blocks, n_k_blocks) uint8: 1 where the tile is still to come


def _states(walk: Walk) -> list[State]:
    """The state before any tile (t = 0) and after each step."""
    n = len(walk.final_m)
    stats = np.full((3, n), np.nan)  # m, l, err of every row
    cover = (walk.status != 2).astype(np.uint8)
    states = [State(0, *stats.copy(), cover.copy())]
    for t, step in enumerate(walk.steps, start=1):
        r0, r1 = step.rows
        stats[:, r0:r1] = step.m, step.l, step.err
        cover[step.q_block, step.k_block] = 0
        states.append(State(t, *stats.copy(), cover.copy()))
    return states


def _edges(ranges: list[range]) -> list[float]:
    return [r.start - 0.5 for r in ranges] + [ranges[-1].stop - 0.5]


def _packed(values: np.ndarray, dtype: str = "f4", floor: float | None = None) -> dict:
    """An array for the browser as Plotly's typed-array spec (NaN: nothing drawn).

    This is what figure_json makes of a numpy array, at a hundredth of the cost: the walk
    has an array per query block and per animation frame. `floor` raises errors to the log
    axis' floor; uint8 arrays stay "u1".
    """
    values = np.asarray(values if floor is None else np.maximum(values, floor))
    if values.dtype == np.uint8:
        dtype = "u1"
    raw = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    packed = {"dtype": dtype, "bdata": base64.b64encode(raw).decode()}
    if values.ndim == 2:
        packed["shape"] = f"{values.shape[0]},{values.shape[1]}"
    return packed


def _highlights(walk: Walk, t: int) -> list[dict]:
    """The current tile, its query rows (Q_i in SRAM) and its key columns (K_j, V_j in SRAM)."""
    if t == 0:
        return []
    step = walk.steps[t - 1]
    (r0, r1), (c0, c1) = step.rows, step.cols
    band = {"type": "rect", "line": {"width": 0}, "fillcolor": "rgba(230,159,0,0.16)"}
    return [
        {**band, "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": r0 - 0.5, "y1": r1 - 0.5},
        {**band, "xref": "x", "yref": "paper", "x0": c0 - 0.5, "x1": c1 - 0.5, "y0": 0, "y1": 1},
        {
            "type": "rect",
            "xref": "x",
            "yref": "y",
            "x0": c0 - 0.5,
            "x1": c1 - 0.5,
            "y0": r0 - 0.5,
            "y1": r1 - 0.5,
            "line": {"color": COLORS["focus"], "width": 3},
        },
    ]


STATUS_NAMES = {
    "computed": Text("computed", "完整计算"),
    "masked": Text("masked (diagonal)", "掩码（对角线）"),
    "skipped": Text("skipped", "跳过"),
}


def _step_title(walk: Walk, t: int, lang: str) -> str:
    total = len(walk.steps)
    if t == 0:
        head = Text(
            f"Step 0 of {total}: nothing loaded yet · grey tiles are still to come",
            f"第 0 步（共 {total} 步）：尚未加载任何分块 · 灰色分块尚未计算",
        )(lang)
        return head
    step = walk.steps[t - 1]
    (r0, r1), (c0, c1) = step.rows, step.cols
    status = STATUS_NAMES[step.status](lang)
    head = Text(
        f"Step {t} of {total}: Q block {step.q_block} (rows {r0}–{r1 - 1}) × K/V block "
        f"{step.k_block} (keys {c0}–{c1 - 1}), {status}",
        f"第 {t} 步（共 {total} 步）：Q 分块 {step.q_block}（行 {r0}–{r1 - 1}）× K/V 分块 "
        f"{step.k_block}（键 {c0}–{c1 - 1}），{status}",
    )(lang)
    io_line = Text(
        f"HBM so far: {_bytes(step.read)} read, {_bytes(step.written)} written "
        f"(counted by the loop) · orange: the blocks in SRAM",
        f"目前的 HBM 流量：读 {_bytes(step.read)}，写 {_bytes(step.written)}（由循环计数）"
        f" · 橙色：SRAM 中的分块",
    )(lang)
    return f"{head}<br><span style='font-size:12px'>{io_line}</span>"


def _bytes(count: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.0f} B"


def _row_traces(walk: Walk, state: State, lang: str) -> list[dict]:
    """m, l and the partial output's error of every row, one trace of each per query block."""
    labels = {
        "m": Text("m: running max after this step", "m：本步之后的运行最大值"),
        "l": Text("l: running sum after this step", "l：本步之后的运行和"),
        "err": Text("error of the partial output", "部分输出的误差"),
    }
    hover = {
        "m": Text("row %{y}<br>m = %{x:.4f}", "第 %{y} 行<br>m = %{x:.4f}"),
        "l": Text("row %{y}<br>l = %{x:.4f}", "第 %{y} 行<br>l = %{x:.4f}"),
        "err": Text(
            "row %{y}<br>max |O_partial − O| = %{x:.2e}",
            "第 %{y} 行<br>max |O_partial − O| = %{x:.2e}",
        ),
    }
    data = []
    for b, rows in enumerate(walk.row_blocks):
        y = np.arange(rows.start, rows.stop)
        for key, axis in (("m", "x4"), ("l", "x5"), ("err", "x6")):
            values = getattr(state, key)[rows.start : rows.stop]
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": _packed(values, floor=ERROR_FLOOR if key == "err" else None),
                    "y": _packed(y),
                    "xaxis": axis,
                    "yaxis": "y",
                    "marker": {"color": COLORS[key], "size": 6},
                    "name": labels[key](lang),
                    "legendgroup": key,
                    "showlegend": b == 0,
                    "hovertemplate": hover[key](lang) + "<extra></extra>",
                }
            )
    return data


def _grid_lines(walk: Walk) -> tuple[np.ndarray, np.ndarray]:
    """Tile boundaries as one NaN-separated polyline."""
    rows, cols = _edges(walk.row_blocks), _edges(walk.col_blocks)
    xs, ys = [], []
    for y in rows:
        xs += [cols[0], cols[-1], np.nan]
        ys += [y, y, np.nan]
    for x in cols:
        xs += [x, x, np.nan]
        ys += [rows[0], rows[-1], np.nan]
    return np.array(xs), np.array(ys)


def _skip_marks(walk: Walk) -> tuple[np.ndarray, np.ndarray]:
    """A diagonal stroke through every skipped tile."""
    xs, ys = [], []
    for i, j in zip(*np.nonzero(walk.status == 2), strict=True):
        rows, cols = walk.row_blocks[i], walk.col_blocks[j]
        xs += [cols.start - 0.5, cols.stop - 0.5, np.nan]
        ys += [rows.stop - 0.5, rows.start - 0.5, np.nan]
    return np.array(xs or [np.nan]), np.array(ys or [np.nan])


def _strip(z: np.ndarray, xaxis: str, yaxis: str, x, y, hover: str) -> dict:
    return {
        "type": "heatmap",
        "z": _packed(z),
        "x": _packed(x),
        "y": _packed(y),
        "xaxis": xaxis,
        "yaxis": yaxis,
        "colorscale": "RdBu",
        "zmid": 0,
        "showscale": False,
        "hovertemplate": hover + "<extra></extra>",
    }


def _walk_figure(p: Params, walk: Walk, lang: str) -> go.Figure:
    n, n_k, d = p.n, p.n_keys, p.d
    rows_idx, cols_idx, dims = np.arange(n), np.arange(n_k), np.arange(d)
    states = _states(walk)
    shown = states[min(p.step, len(walk.steps))]
    grid_x, grid_y = _grid_lines(walk)
    skip_x, skip_y = _skip_marks(walk)
    span = float(np.nanmax(np.abs(walk.s))) if np.isfinite(walk.s).any() else 1.0
    data = [
        {
            "type": "heatmap",
            "z": _packed(walk.s),
            "x": _packed(cols_idx),
            "y": _packed(rows_idx),
            "colorscale": "RdBu",
            "zmid": 0,
            "zmin": -span,
            "zmax": span,
            "colorbar": {
                "orientation": "h",
                "x": 0.37,
                "xanchor": "center",
                "y": -0.1,
                "yanchor": "top",
                "len": 0.4,
                "thickness": 10,
                "title": {
                    "text": Text("score s = q·k/√d", "分数 s = q·k/√d")(lang),
                    "side": "right",
                },
            },
            "hovertemplate": Text(
                "query %{y}, key %{x}<br>s = %{z:.3f}<extra></extra>",
                "查询 %{y}，键 %{x}<br>s = %{z:.3f}<extra></extra>",
            )(lang),
        },
        _strip(walk.q, "x2", "y", dims, rows_idx, "Q[%{y}, %{x}] = %{z:.3f}"),
        _strip(walk.k.T, "x", "y2", cols_idx, dims, "K[%{x}, %{y}] = %{z:.3f}"),
        _strip(walk.v.T, "x", "y3", cols_idx, dims, "V[%{x}, %{y}] = %{z:.3f}"),
        {
            "type": "scatter",
            "mode": "lines",
            "x": _packed(grid_x),
            "y": _packed(grid_y),
            "line": {"color": "rgba(128,128,128,0.9)", "width": 1},
            "hoverinfo": "skip",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": _packed(skip_x),
            "y": _packed(skip_y),
            "line": {"color": "rgba(128,128,128,0.9)", "width": 1.5, "dash": "dot"},
            "hoverinfo": "skip",
            "name": Text("skipped tile (causal)", "跳过的分块（因果）")(lang),
            "showlegend": bool((walk.status == 2).any()),
        },
        {
            "type": "heatmap",
            "z": _packed(shown.cover),
            "x": _packed(np.array(_edges(walk.col_blocks))),
            "y": _packed(np.array(_edges(walk.row_blocks))),
            "colorscale": [[0, "rgba(128,128,128,0)"], [1, "rgba(128,128,128,0.62)"]],
            "zmin": 0,
            "zmax": 1,
            "showscale": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": _packed(walk.final_m),
            "y": _packed(rows_idx),
            "xaxis": "x4",
            "marker": {"symbol": "line-ns-open", "size": 9, "color": "rgba(128,128,128,0.8)"},
            "name": Text(
                "final value (after the row's last tile)", "最终值（该行最后一个分块之后）"
            )(lang),
            "legendgroup": "final",
            "hovertemplate": Text(
                "row %{y}<br>final m = %{x:.4f}<extra></extra>",
                "第 %{y} 行<br>最终 m = %{x:.4f}<extra></extra>",
            )(lang),
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": _packed(walk.final_l),
            "y": _packed(rows_idx),
            "xaxis": "x5",
            "marker": {"symbol": "line-ns-open", "size": 9, "color": "rgba(128,128,128,0.8)"},
            "legendgroup": "final",
            "showlegend": False,
            "hovertemplate": Text(
                "row %{y}<br>final l = %{x:.4f}<extra></extra>",
                "第 %{y} 行<br>最终 l = %{x:.4f}<extra></extra>",
            )(lang),
        },
        *_row_traces(walk, shown, lang),
    ]

    frames = _frames(walk, states, lang)
    layout = _walk_layout(p, walk, lang, shown.t, frames)
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _frames(walk: Walk, states: list[State], lang: str) -> list[dict]:
    """One animation frame per step; a frame after the first updates only what that step changed."""
    frames = []
    every_row = list(range(FIRST_ROW_TRACE, FIRST_ROW_TRACE + 3 * len(walk.row_blocks)))
    for state in states:
        if state.t == 0:  # reset every row
            blocks_changed = range(len(walk.row_blocks))
            indices = every_row
        else:
            b = walk.steps[state.t - 1].q_block
            blocks_changed = [b]
            indices = [FIRST_ROW_TRACE + 3 * b + offset for offset in range(3)]
        data = []
        for b in blocks_changed:
            rows = walk.row_blocks[b]
            for key in ("m", "l", "err"):
                values = getattr(state, key)[rows.start : rows.stop]
                data.append({"x": _packed(values, floor=ERROR_FLOOR if key == "err" else None)})
        frames.append(
            {
                "data": [{"z": _packed(state.cover)}, *data],
                "traces": [COVER, *indices],
                "layout": {
                    "shapes": _highlights(walk, state.t),
                    "title": {"text": _step_title(walk, state.t, lang)},
                },
            }
        )
    return frames


def _range(values: np.ndarray, pad: float = 0.08, log: bool = False) -> list[float]:
    finite = values[np.isfinite(values)]
    if log:
        finite = np.log10(np.maximum(finite, ERROR_FLOOR))
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    margin = max((high - low) * pad, 0.5 if log else 0.05)
    return [low - margin, high + margin]


def _walk_layout(p: Params, walk: Walk, lang: str, t: int, frames: list[dict]) -> dict:
    rows_range = [p.n - 0.5, -0.5]
    plain = {"showgrid": False, "zeroline": False}
    strip = {**plain, "showticklabels": False, "ticks": ""}
    duration = int(np.clip(12000 / max(len(frames), 1), 60, 700))
    play = {
        "frame": {"duration": duration, "redraw": True},
        "transition": {"duration": 0},
        "mode": "immediate",
        "fromcurrent": False,
    }
    pause = {
        "frame": {"duration": 0, "redraw": False},
        "transition": {"duration": 0},
        "mode": "immediate",
    }
    order = Text("FlashAttention-2 order", "FlashAttention-2 顺序")
    if p.loop_order == "fa1":
        order = Text("Algorithm 1 order", "算法 1 顺序")
    label = {"xref": "paper", "yref": "paper", "showarrow": False, "font": {"size": 13}}
    err_range = _range(walk.err_grid, log=True)
    stat = {"anchor": "y", "nticks": 4, "title": {"font": {"size": 12}}}
    return {
        "title": {
            "text": _step_title(walk, t, lang),
            "y": 0.975,
            "yref": "container",
            "yanchor": "top",
        },
        "height": 720,
        "margin": {"t": 100, "b": 80, "l": 60, "r": 20},
        "showlegend": True,
        "legend": {
            "x": 0.64,
            "xanchor": "left",
            "y": 1.0,
            "yanchor": "top",
            "font": {"size": 11},
            "tracegroupgap": 0,
        },
        "xaxis": {
            **plain,
            "domain": [0.11, 0.6],
            "range": [-0.5, p.n_keys - 0.5],
            "title": {"text": Text(f"key j ({order.en})", f"键 j（{order.zh}）")(lang)},
        },
        "yaxis": {
            **plain,
            "domain": [0, 0.76],
            "range": rows_range,
            "anchor": "x2",
            "title": {"text": Text("query i", "查询 i")(lang)},
        },
        "xaxis2": {**strip, "domain": [0, 0.09], "anchor": "y", "range": [-0.5, p.d - 0.5]},
        "yaxis2": {**strip, "domain": [0.8, 0.88], "anchor": "x", "range": [p.d - 0.5, -0.5]},
        "yaxis3": {**strip, "domain": [0.9, 0.98], "anchor": "x", "range": [p.d - 0.5, -0.5]},
        "xaxis4": {
            **stat,
            "domain": [0.64, 0.75],
            "range": _range(np.append(walk.m_grid.ravel(), 0.0)),
            "title": {**stat["title"], "text": Text("m<br>running max", "m<br>运行最大值")(lang)},
        },
        "xaxis5": {
            **stat,
            "domain": [0.77, 0.88],
            "range": [0, float(np.nanmax(walk.l_grid)) * 1.08],
            "title": {**stat["title"], "text": Text("l<br>running sum", "l<br>运行和")(lang)},
        },
        "xaxis6": {
            **stat,
            "domain": [0.9, 1.0],
            "type": "log",
            "tickangle": 0,
            "tickfont": {"size": 10},
            "range": err_range,
            "dtick": max(1, math.ceil((err_range[1] - err_range[0]) / 2.5)),  # 2–3 decades shown
            "tick0": 0,
            "exponentformat": "power",
            "title": {
                **stat["title"],
                "text": Text("error of<br>acc/l vs O", "acc/l 与 O<br>的误差")(lang),
            },
        },
        "annotations": [
            {
                **label,
                "text": "Q",
                "x": 0.045,
                "y": 0.765,
                "xanchor": "center",
                "yanchor": "bottom",
            },
            {**label, "text": "Kᵀ", "x": 0.605, "y": 0.84, "xanchor": "left", "yanchor": "middle"},
            {**label, "text": "Vᵀ", "x": 0.605, "y": 0.94, "xanchor": "left", "yanchor": "middle"},
        ],
        "shapes": _highlights(walk, t),
        "updatemenus": [
            {
                "type": "buttons",
                "direction": "down",
                "x": 0,
                "xanchor": "left",
                "y": 0.98,
                "yanchor": "top",
                "pad": {"t": 0, "l": 0},
                "showactive": False,
                "font": {"size": 12},
                "buttons": [
                    {
                        "label": Text("▶ Play", "▶ 播放")(lang),
                        "method": "animate",
                        "args": [frames, play],
                    },
                    {
                        "label": Text("❚❚ Pause", "❚❚ 暂停")(lang),
                        "method": "animate",
                        "args": [[None], pause],
                    },
                ],
            }
        ],
    }


# --- figure 2: every row's m and l after every key block ---------------------------------------


def _trace_figure(p: Params, walk: Walk, run: KernelRun | None, lang: str) -> go.Figure:
    from_kernel = run is not None and run.ran
    m_grid = run.m_grid if from_kernel else walk.m_grid
    l_grid = run.l_grid if from_kernel else walk.l_grid
    kb = np.arange(len(walk.col_blocks))
    rows = np.arange(p.n)
    colorbar = {"thickness": 10, "len": 0.9, "y": 0.45}
    panels = [
        ("m", m_grid, "x", [0, 0.27], "Viridis", 0.285, "m = %{z:.4f}"),
        ("l", l_grid, "x2", [0.37, 0.64], "Viridis", 0.655, "l = %{z:.4f}"),
        (
            "log₁₀ err",
            np.log10(np.maximum(walk.err_grid, ERROR_FLOOR)),
            "x3",
            [0.74, 1.0],
            "Cividis",
            1.015,
            "log₁₀ |O_partial − O| = %{z:.2f}",
        ),
    ]
    data = []
    for key, z, axis, _, scale, bar_x, hover in panels:
        data.append(
            {
                "type": "heatmap",
                "z": z.astype(np.float32),
                "x": kb,
                "y": rows,
                "xaxis": axis,
                "yaxis": "y",
                "colorscale": scale,
                "colorbar": {**colorbar, "x": bar_x, "title": {"text": key}},
                "hovertemplate": Text(
                    f"row %{{y}}, after K/V block %{{x}}<br>{hover}<extra></extra>",
                    f"第 %{{y}} 行，K/V 分块 %{{x}} 之后<br>{hover}<extra></extra>",
                )(lang),
            }
        )
    source = (
        Text("the Triton kernel's own debug buffers", "Triton 内核自己的调试缓冲区")
        if from_kernel
        else Text("the PyTorch tiled loop's trace", "PyTorch 分块循环的记录")
    )
    block_axis = Text("after K/V block j", "K/V 分块 j 之后")(lang)
    axis = {"title": {"text": block_axis}, "dtick": 1 if len(kb) <= 16 else None}
    title = Text(
        f"m and l of every row after each K/V block ({source.en})<br><span style='font-size:12px'>"
        "right: log₁₀ error of the partial output acc/l (PyTorch loop) · blank: skipped tile"
        "</span>",
        f"每一行在每个 K/V 分块之后的 m 与 l（{source.zh}）<br><span style='font-size:12px'>"
        "右：部分输出 acc/l 误差的 log₁₀（PyTorch 循环）· 空白：跳过的分块</span>",
    )
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang)},
                "height": 400,
                "margin": {"t": 75},
                "xaxis": {**axis, "domain": panels[0][3]},
                "xaxis2": {**axis, "domain": panels[1][3], "anchor": "y"},
                "xaxis3": {**axis, "domain": panels[2][3], "anchor": "y"},
                "yaxis": {
                    "title": {"text": Text("query i", "查询 i")(lang)},
                    "range": [p.n - 0.5, -0.5],
                },
            },
        },
        _validate=False,
    )


# --- figure 3: the IO model -------------------------------------------------------------------


def _io_figure(p: Params, lang: str) -> go.Figure:
    from core.attention import io

    size = DTYPE_BYTES[p.dtype]
    sram = p.sram_kb * 1024
    ns = IO_N.tolist()
    methods = ("standard", "flash")
    traffic = {
        m: np.array([io.hbm_bytes(n, p.d, sram, m, size) for n in ns], float) for m in methods
    }
    peak = {m: np.array([io.peak_bytes(n, p.d, m, size) for n in ns], float) for m in methods}
    leading = np.array([io.flash_leading_bytes(n, p.d, sram, size) for n in ns])
    names = {
        "standard": Text("standard attention (Algorithm 0)", "标准注意力（算法 0）"),
        "flash": Text("FlashAttention (Algorithm 1)", "FlashAttention（算法 1）"),
    }
    hover = "N = %{x}<br>%{y:.3s}B<extra>%{fullData.name}</extra>"
    data = []
    for method in ("standard", "flash"):
        line = {"color": COLORS[method], "width": 2.2}
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": _packed(IO_N, "f8"),
                "y": _packed(traffic[method], "f8"),
                "name": names[method](lang),
                "legendgroup": method,
                "line": line,
                "hovertemplate": hover,
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": _packed(IO_N, "f8"),
                "y": _packed(peak[method], "f8"),
                "name": names[method](lang),
                "legendgroup": method,
                "showlegend": False,
                "line": line,
                "xaxis": "x2",
                "yaxis": "y2",
                "hovertemplate": hover,
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": _packed(IO_N, "f8"),
            "y": _packed(leading, "f8"),
            "name": Text(
                "paper's Θ(N²d²/M): (12d² + 16d)N²/M", "论文的 Θ(N²d²/M)：(12d² + 16d)N²/M"
            )(lang),
            "line": {"color": COLORS["flash"], "dash": "dash", "width": 1.3},
            "hovertemplate": hover,
        }
    )
    block_r, block_c = io.paper_block_sizes(p.d, sram, size)
    axis = {
        "type": "log",
        "tickformat": "~s",
        "title": {"text": Text("sequence length N (log)", "序列长度 N（对数）")(lang)},
    }
    y_axis = {"type": "log", "tickformat": "~s", "ticksuffix": "B"}
    title = Text(
        f"IO model for one head, d = {p.d}, {p.dtype} ({size} B), M = {p.sram_kb} KB "
        f"→ B_c = {block_c}, B_r = {block_r}",
        f"单个头的 IO 模型，d = {p.d}，{p.dtype}（{size} 字节），M = {p.sram_kb} KB "
        f"→ B_c = {block_c}，B_r = {block_r}",
    )
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang)},
                "height": 420,
                "legend": {"orientation": "h", "y": -0.22},
                "xaxis": {**axis, "domain": [0, 0.46]},
                "xaxis2": {**axis, "domain": [0.56, 1], "anchor": "y2"},
                "yaxis": {
                    **y_axis,
                    "title": {
                        "text": Text("HBM bytes read + written (log)", "HBM 读写字节数（对数）")(
                            lang
                        )
                    },
                },
                "yaxis2": {
                    **y_axis,
                    "anchor": "x2",
                    "title": {"text": Text("peak HBM memory (log)", "HBM 内存峰值（对数）")(lang)},
                },
                "annotations": [
                    {
                        "text": Text("HBM traffic", "HBM 流量")(lang),
                        "xref": "x domain",
                        "yref": "y domain",
                        "x": 0.02,
                        "y": 1,
                        "showarrow": False,
                        "xanchor": "left",
                        "yanchor": "bottom",
                    },
                    {
                        "text": Text("peak memory: S and P need N²", "内存峰值：S 与 P 需要 N²")(
                            lang
                        ),
                        "xref": "x2 domain",
                        "yref": "y2 domain",
                        "x": 0.02,
                        "y": 1,
                        "showarrow": False,
                        "xanchor": "left",
                        "yanchor": "bottom",
                    },
                ],
            },
        },
        _validate=False,
    )


# --- notes ------------------------------------------------------------------------------------


def _notes(p: Params, walk: Walk, run: KernelRun | None, lang: str) -> str:
    from core.attention import io

    counts = {name: int((walk.status == code).sum()) for name, code in STATUS_CODE.items()}
    total = walk.status.size
    flash_bytes = walk.steps[-1].read + walk.steps[-1].written
    t_r, t_c = walk.status.shape
    e = walk.errors
    lines = []
    if p.kernel == "triton" and run is not None:
        if run.ran:
            lines.append(
                Text(
                    f"**Path:** Triton kernel, {run.reason}. Its own m/l trace against the PyTorch "
                    f"loop's: max |Δm| = {run.m_diff:.1e}, max |Δl| = {run.l_diff:.1e}; its output "
                    f"against SDPA in fp64: {run.out_error:.1e}.",
                    f"**运行路径**：Triton 内核，{run.reason}。它自己的 m/l 记录与 PyTorch 循环的对比："
                    f"max |Δm| = {run.m_diff:.1e}，max |Δl| = {run.l_diff:.1e}；其输出与 fp64 SDPA 之差："
                    f"{run.out_error:.1e}。",
                )(lang)
            )
        else:
            lines.append(
                Text(
                    f"**Path:** PyTorch tiled loop; the Triton kernel did not run: {run.reason}.",
                    f"**运行路径**：PyTorch 分块循环；Triton 内核未运行：{run.reason}。",
                )(lang)
            )
    else:
        lines.append(
            Text(
                "**Path:** PyTorch tiled loop (core.attention.flash).",
                "**运行路径**：PyTorch 分块循环（core.attention.flash）。",
            )(lang)
        )
    lines.append(
        Text(
            f"**Max error against `scaled_dot_product_attention`:** output vs SDPA in {p.dtype}: "
            f"{e['out_same']:.1e}; vs SDPA in fp64: {e['out_exact']:.1e} (SDPA's own {p.dtype} "
            f"error: {e['sdpa_exact']:.1e}); log-sum-exp vs torch.logsumexp: {e['lse']:.1e}.",
            f"**与 `scaled_dot_product_attention` 的最大误差**：输出对 {p.dtype} 的 SDPA：{e['out_same']:.1e}；"
            f"对 fp64 的 SDPA：{e['out_exact']:.1e}（SDPA 自身在 {p.dtype} 下的误差：{e['sdpa_exact']:.1e}）；"
            f"log-sum-exp 对 torch.logsumexp：{e['lse']:.1e}。",
        )(lang)
    )
    skip_note = Text("", "")
    if p.causal and p.n == p.n_keys and p.block_m == p.block_n:
        skip_note = Text(f" = T(T−1)/2 with T = {t_r}", f"，即 T(T−1)/2，T = {t_r}")
    lines.append(
        Text(
            f"**Tiles:** {t_r} × {t_c} = {total}: {counts['computed']} computed, {counts['masked']} "
            f"masked, {counts['skipped']} skipped{skip_note.en}.",
            f"**分块**：{t_r} × {t_c} = {total} 个：完整计算 {counts['computed']} 个，带掩码 "
            f"{counts['masked']} 个，跳过 {counts['skipped']} 个{skip_note.zh}。",
        )(lang)
    )
    verdict = (
        Text(
            f"The tiles save {walk.naive_bytes / flash_bytes:.1f}× here; the IO chart shows the "
            "saving at larger N.",
            f"这里分块省下 {walk.naive_bytes / flash_bytes:.1f} 倍；IO 图展示更大 N 时的节省。",
        )
        if flash_bytes < walk.naive_bytes
        else Text(
            "At this tiny N the tiles move more: S and P are small, while Q, K, V (and, in "
            "Algorithm 1, O, ℓ, m) are read again for every block. The IO chart shows where "
            "tiling starts to win.",
            "N 这么小时分块反而搬得更多：S 与 P 很小，而 Q、K、V（算法 1 中还有 O、ℓ、m）"
            "每个分块都要重读。IO 图展示分块从哪里开始占优。",
        )
    )
    lines.append(
        Text(
            f"**HBM traffic of this walk** (counted by the loops): tiled {_bytes(flash_bytes)}, "
            f"standard attention (S and P through HBM) {_bytes(walk.naive_bytes)}. {verdict.en}",
            f"**本次遍历的 HBM 流量**（由循环计数）：分块实现 {_bytes(flash_bytes)}，标准注意力"
            f"（S 与 P 经过 HBM）{_bytes(walk.naive_bytes)}。{verdict.zh}",
        )(lang)
    )
    size = DTYPE_BYTES[p.dtype]
    sram = p.sram_kb * 1024
    header = Text(
        "| N | standard | FlashAttention | ratio | peak memory ratio |\n|---:|---:|---:|---:|---:|",
        "| N | 标准注意力 | FlashAttention | 倍数 | 内存峰值倍数 |\n|---:|---:|---:|---:|---:|",
    )
    rows = []
    for n in (1024, 4096, 16384, 65536):
        standard, flash = (io.hbm_bytes(n, p.d, sram, m, size) for m in ("standard", "flash"))
        peak = io.peak_bytes(n, p.d, "standard", size) / io.peak_bytes(n, p.d, "flash", size)
        rows.append(
            f"| {n} | {_bytes(standard)} | {_bytes(flash)} | {standard / flash:.1f}× | "
            f"{peak:.0f}× |"
        )
    limit = (sram // size) / (3 * p.d * p.d + 4 * p.d)
    lines.append(
        Text(
            f"As N → ∞ the traffic ratio tends to M/(3d² + 4d) = {limit:.1f} (both counts grow as "
            "N²), while the memory ratio keeps growing as N.",
            f"当 N → ∞ 时流量倍数趋于 M/(3d² + 4d) = {limit:.1f}（两者都按 N² 增长），"
            "而内存倍数随 N 线性增长。",
        )(lang)
    )
    return "\n\n".join(lines[:-1]) + "\n\n" + "\n".join([header(lang), *rows]) + "\n\n" + lines[-1]


def render(p: Params, lang: str = "en") -> Rendered:
    walk = _walk(p)
    run = _run_triton(p, walk, lang) if p.kernel == "triton" else None
    figures = [_walk_figure(p, walk, lang), _trace_figure(p, walk, run, lang), _io_figure(p, lang)]
    return Rendered(figures, _notes(p, walk, run, lang))


presets = {
    "Algorithm 1 on 8 tokens": Params(
        n=8, n_keys=8, d=4, block_m="2", block_n="2", loop_order="fa1", dtype="float64", step=5
    ),
    "causal skips half the tiles": Params(
        n=128, n_keys=128, d=16, block_m="16", block_n="16", causal=True, step=36
    ),
    "why tiling wins as N grows": Params(
        n=128, n_keys=128, d=64, block_m="32", block_n="32", dtype="float16", step=16, sram_kb=100
    ),
}
preset_titles = {
    "Algorithm 1 on 8 tokens": Text("Algorithm 1 on 8 tokens", "在 8 个 token 上走一遍算法 1"),
    "causal skips half the tiles": Text("causal skips half the tiles", "因果掩码跳过近一半的分块"),
    "why tiling wins as N grows": Text("why tiling wins as N grows", "为什么 N 越大，分块越划算"),
}

EXPLANATION = Text(
    en="""
**The problem.** Attention O = softmax(QKᵀ/√d)V needs the N×N score matrix S. Standard
attention writes S to the GPU's large, slow memory (HBM), reads it back for the softmax, writes
P, and reads P again for PV (Algorithm 0 of Dao et al. 2022): memory and traffic grow as N².

**The trick: an online softmax** (Milakov & Gimelshein 2018). A softmax row needs the row's max
and sum, which seem to require the whole row. But they can be built block by block: keep, for
every query row, a running max m, a running sum l = Σ exp(s − m) and an unnormalised output
acc. When a new tile of scores S_ij arrives,
m_new = max(m, rowmax S_ij), l ← e^(m − m_new)·l + rowsum e^(S_ij − m_new),
acc ← e^(m − m_new)·acc + e^(S_ij − m_new)·V_j. After the last tile, O = acc / l and
log-sum-exp = m + log l, exactly — not an approximation.

**What to look at.** The walk (figure 1) shows S with its tile grid. Press ▶ or move the step
slider: the orange bands are the blocks in on-chip SRAM (Q_i rows, K_j and V_j columns); the
columns on the right show m, l and the error of each row's partial output acc/l against the exact
result. m only grows, jumping when a tile holds a larger score; the error falls to the dtype's
rounding level at the row's last tile. Figure 2 is the same trace as a map: every row after
every K/V block. Turn on *causal*: tiles above the diagonal are never loaded (dotted), the
diagonal tiles are masked inside. With T×T equal tiles, T(T−1)/2 are skipped: almost half.

**Two loop orders, same numbers.** FlashAttention's Algorithm 1 loops over K/V blocks outside
and Q blocks inside, so O, ℓ, m go back to HBM after every tile. FlashAttention-2 (Dao 2023)
swaps the loops: each Q block keeps its accumulator on chip and writes O once — fewer HBM
writes and independent work per query block. Switch *loop order*: the order of the steps
changes, figure 2 does not.

**Why it wins** (figure 3, Dao et al. 2022, Theorem 2). With SRAM of M elements, Algorithm 1
takes B_c = ⌈M/4d⌉, B_r = min(B_c, d) and moves 3Nd + 2N + T_c(3Nd + 4N) elements,
T_c = ⌈N/B_c⌉: Θ(N²d²/M), against 4Nd + 4N² for standard attention. Both are quadratic in N,
so the traffic saving levels off near M/(3d² + 4d), a few times for d = 64 and M = 100 KB;
the memory saving, N² against N, keeps growing — that is what lets long contexts fit.
Line by line, the counts are in `core/attention/io.py`.
""",
    zh="""
**问题。** 注意力 O = softmax(QKᵀ/√d)V 需要 N×N 的分数矩阵 S。标准实现把 S 写入 GPU 上容量大但速度慢的显存（HBM），
再读回来做 softmax，写出 P，最后再读一遍 P 来计算 PV（Dao 等 2022 的算法 0）：内存占用和读写量都按 N² 增长。

**诀窍：在线 softmax**（Milakov 与 Gimelshein，2018）。softmax 的一行需要这一行的最大值与指数和，看起来必须先拿到整行。
其实可以逐块累积：对每个查询行维护运行最大值 m、运行和 l = Σ exp(s − m) 以及未归一化的输出 acc。新的分数分块 S_ij
到来时：m_new = max(m, rowmax S_ij)，l ← e^(m − m_new)·l + rowsum e^(S_ij − m_new)，
acc ← e^(m − m_new)·acc + e^(S_ij − m_new)·V_j。处理完最后一个分块后，O = acc / l，log-sum-exp = m + log l——
结果是精确的，不是近似。

**看什么。** 图 1 展示带分块网格的 S。点 ▶ 或拖动步数滑块：橙色条带是片上 SRAM 中的分块（Q_i 的行、K_j 与 V_j 的列）；
右侧各列是每一行的 m、l，以及部分输出 acc/l 与精确结果的误差。m 只增不减，遇到更大的分数就跳升；到该行最后一个分块时，
误差降到数据类型的舍入误差水平。图 2 用热力图展示同一份记录：每一行在每个 K/V 分块之后的值。打开“因果掩码”：
对角线以上的分块根本不会加载（虚线标出），对角线上的分块在内部做掩码。T×T 个等大分块中有 T(T−1)/2 个被跳过，接近一半。

**两种循环顺序，结果相同。** FlashAttention 的算法 1 外层循环 K/V 分块、内层循环 Q 分块，所以每处理一个分块，O、ℓ、m
都要写回 HBM。FlashAttention-2（Dao，2023）交换了两层循环：每个 Q 分块把累加器留在片上，最后只写一次 O——
HBM 写入更少，不同查询分块之间的工作也相互独立。切换“循环顺序”：步骤的先后变了，图 2 不变。

**为什么更快**（图 3，Dao 等 2022 的定理 2）。设 SRAM 能放 M 个元素，算法 1 取 B_c = ⌈M/4d⌉、B_r = min(B_c, d)，
共搬运 3Nd + 2N + T_c(3Nd + 4N) 个元素，其中 T_c = ⌈N/B_c⌉，即 Θ(N²d²/M)；标准注意力则是 4Nd + 4N²。
两者都是 N 的二次函数，所以流量上的节省最终稳定在 M/(3d² + 4d) 附近（d = 64、M = 100 KB 时为几倍）；
而内存上的节省是 N² 对 N，会一直增长——这正是长上下文能放得下的原因。逐行的计数见 `core/attention/io.py`。
""",
)

DEMO = Demo(
    slug="flash-attention",
    section="attention",
    figures=3,
    title=Text("FlashAttention, tile by tile", "逐块看懂 FlashAttention"),
    summary=Text(
        "Exact attention without the N×N matrix: online softmax over tiles, causal skipping, "
        "the Triton kernel's own trace, and the HBM traffic it saves.",
        "不存 N×N 矩阵也能精确计算注意力：分块上的在线 softmax、因果跳块、Triton 内核自己的记录，以及省下的 HBM 流量。",
    ),
    sources=(
        Source(
            "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
            "T. Dao, D. Y. Fu, S. Ermon, A. Rudra, C. Ré",
            2022,
            "https://arxiv.org/abs/2205.14135",
        ),
        Source(
            "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning",
            "T. Dao",
            2023,
            "https://arxiv.org/abs/2307.08691",
        ),
        Source(
            "Online normalizer calculation for softmax",
            "M. Milakov, N. Gimelshein",
            2018,
            "https://arxiv.org/abs/1805.02867",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
