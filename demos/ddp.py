"""Data-parallel training: how do N copies of a model agree on one gradient, and at what cost?

Each rank computes gradients on its shard of the batch; a ring all-reduce sums them chunk by chunk
(reduce-scatter, then all-gather) so that every rank sends 2(N−1)/N of the gradient, whatever N.
DDP cuts the gradients into buckets and starts each bucket's all-reduce while backward is still
running. A real run of K gloo processes checks that the averaged gradient equals one process on
the full batch.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_steps import step_controls
from demos.theme import COLORWAY, caption

SIZES_MB = {"1MB": 1.0, "100MB": 100.0, "1GB": 1e3, "10GB": 1e4, "100GB": 1e5}
MB = 1e6
MIB = 1024 * 1024
RANK_SWEEP = [2**k for k in range(1, 11)]  # 2 … 1024
FIRST_BUCKET_MB = 1.0  # DDP's first bucket: 1 MiB; its cap: 25 MiB (Li et al. 2020)
DDP_CAP_MB = 25.0
MODES = {
    "ddp": Text("DDP (comm hook)", "DDP（通信钩子）"),
    "all_reduce": Text("dist.all_reduce per tensor", "逐张量 dist.all_reduce"),
    "ring": Text("ring by hand (isend/recv)", "手写环（isend/recv）"),
}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    n_ranks: int = param(4, en="Ranks in the ring (N)", zh="环中的进程数 N", ge=2, le=8)
    elements: int = param(
        8, en="Gradient values (the tensor)", zh="梯度元素个数（张量大小）", ge=1, le=24
    )
    gradient_size: Literal["1MB", "100MB", "1GB", "10GB", "100GB"] = param(
        "100MB",
        en="Gradient size S",
        zh="梯度大小 S",
        choices={k: Text(k, k + "（梯度）") for k in SIZES_MB},
    )
    latency_us: float = param(
        10.0, en="Link latency α (µs)", zh="链路延迟 α（微秒）", ge=1.0, le=100.0, step=1.0
    )
    bandwidth_gbs: float = param(
        25.0, en="Link bandwidth β (GB/s)", zh="链路带宽 β（GB/s）", ge=1.0, le=400.0, step=1.0
    )
    layers: int = param(24, en="Layers in the model", zh="模型层数", ge=2, le=64)
    layer_mb: float = param(
        8.0, en="Gradient per layer (MB)", zh="每层梯度大小（MB）", ge=0.5, le=64.0, step=0.5
    )
    layer_backward_ms: float = param(
        2.0, en="Backward per layer (ms)", zh="每层反向传播耗时（毫秒）", ge=0.1, le=20.0, step=0.1
    )
    bucket_cap_mb: float = param(
        25.0,
        en="bucket_cap_mb (DDP default 25)",
        zh="bucket_cap_mb（DDP 默认 25）",
        ge=0.5,
        le=1000.0,
        step=0.5,
    )
    real_run: bool = param(
        False,
        en="Real run: K gloo processes",
        zh="真实运行：K 个 gloo 进程",
        help_en="The first run starts a process server (5–15 s on a busy machine); later runs take about a second.",
        help_zh="第一次运行会启动进程服务器（繁忙机器上 5–15 秒）；之后每次约一秒。",
    )
    world_size: int = param(4, en="K processes", zh="进程数 K", ge=1, le=4)
    width: int = param(64, en="MLP width", zh="MLP 宽度", ge=4, le=256)
    depth: int = param(3, en="MLP hidden layers", zh="MLP 隐藏层数", ge=1, le=6)
    batch_per_rank: int = param(16, en="Batch per rank", zh="每个进程的批大小", ge=1, le=64)
    mode: Literal["ddp", "all_reduce", "ring"] = param(
        "ddp", en="How gradients are averaged", zh="梯度的平均方式", choices=MODES
    )


# --- figure 1: the ring, step by step ------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _ring(n: int, elements: int) -> tuple[list, list]:
    import torch

    from core.trace import Trace
    from core.training.ddp import ring_all_reduce

    tensors = [torch.arange(1, elements + 1, dtype=torch.int64) * 10**r for r in range(n)]
    trace = Trace()
    ring_all_reduce(tensors, trace=trace)
    return trace["state"], trace["transfer"]


def _ring_figure(p: Params, lang: str) -> go.Figure:
    import torch

    states, transfers = _ring(p.n_ranks, p.elements)
    n, e = p.n_ranks, p.elements
    bounds = np.cumsum([0] + [len(c) for c in torch.tensor_split(torch.arange(e), n)])
    chunk_of = np.searchsorted(bounds[1:], np.arange(e), side="right")
    total_bytes = 2 * (n - 1) / n * e * 8  # int64 values: S = 8·e bytes
    frames, sent = [], 0
    for k, state in enumerate(states):
        moved = [t for t in transfers if (t["phase"], t["step"]) == (state["phase"], state["step"])]
        sent += sum(t["numel"] for t in moved) * 8 / n  # per rank
        held = state["held"].numpy()
        text = [[f"c{chunk_of[j]}·{held[r, j]}" for j in range(e)] for r in range(n)]
        arrow_x, arrow_y, arrow_text = [], [], []
        for t in moved:  # r → r+1 as a short line beside the rows, labelled with the chunk
            if t["dst"] == t["src"] + 1:
                arrow_x += [e + 0.3, e + 0.3, None]
                arrow_y += [t["src"] + 0.15, t["dst"] - 0.15, None]
                arrow_text += ["", f"↓ c{t['chunk']}", ""]
        phase = {
            "start": Text(
                "start: each rank holds its own gradient", "开始：每个进程持有自己的梯度"
            ),
            "reduce_scatter": Text(
                f"reduce-scatter step {state['step'] + 1}/{n - 1}",
                f"reduce-scatter 第 {state['step'] + 1}/{n - 1} 步",
            ),
            "all_gather": Text(
                f"all-gather step {state['step'] + 1}/{n - 1}",
                f"all-gather 第 {state['step'] + 1}/{n - 1} 步",
            ),
        }[state["phase"]]
        title = Text(
            f"{phase.en} · sent per rank {sent:.0f} of 2(N−1)/N·S = {total_bytes:.0f} bytes",
            f"{phase.zh} · 每个进程已发送 {sent:.0f} / 2(N−1)/N·S = {total_bytes:.0f} 字节",
        )
        frames.append(
            {
                "name": str(k),
                "data": [
                    {"type": "heatmap", "z": held.tolist(), "text": text},
                    {"x": arrow_x or [None], "y": arrow_y or [None], "text": arrow_text or [""]},
                    {"text": [title(lang)]},
                ],
                "traces": [0, 1, 2],
            }
        )
    last = frames[-1]
    colorbar_title = Text("ranks' contributions held", "已含的进程贡献数")(lang)
    data = [
        {
            "type": "heatmap",
            "z": last["data"][0]["z"],
            "text": last["data"][0]["text"],
            "texttemplate": "%{text}",
            "textfont": {"size": 10},
            "x": list(range(e)),
            "y": list(range(n)),
            "zmin": 1,
            "zmax": n,
            "colorscale": "Blues",
            "reversescale": True,
            "colorbar": {"title": {"text": colorbar_title, "side": "right"}, "thickness": 12},
            "xgap": 2,
            "ygap": 2,
            "hovertemplate": Text(
                "rank %{y}, value %{x}: %{z} contributions<extra></extra>",
                "进程 %{y}，元素 %{x}：含 %{z} 份贡献<extra></extra>",
            )(lang),
        },
        {
            "type": "scatter",
            "mode": "lines+text",
            "x": last["data"][1]["x"],
            "y": last["data"][1]["y"],
            "text": last["data"][1]["text"],
            "textposition": "middle right",
            "line": {"color": COLORWAY[1], "width": 3},
            "textfont": {"color": COLORWAY[1], "size": 11},
            "hoverinfo": "skip",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "text",
            "x": [-0.5],
            "y": [-0.75],
            "text": last["data"][2]["text"],
            "textposition": "middle right",
            "textfont": {"size": 12},
            "hoverinfo": "skip",
            "showlegend": False,
        },
    ]
    return go.Figure(
        {
            "data": data,
            "frames": frames,
            "layout": {
                "title": {
                    "text": Text(
                        f"Ring all-reduce of {e} values over N = {n} ranks: ▶ to step",
                        f"N = {n} 个进程对 {e} 个值做环形 all-reduce：点 ▶ 逐步播放",
                    )(lang)
                },
                "height": 240 + 42 * n,
                "margin": {"t": 70, "b": 110, "r": 40},
                "xaxis": {
                    "title": {
                        "text": Text(
                            "gradient value (cK·h: chunk K, contributions held h)",
                            "梯度元素（cK·h：第 K 块，已含 h 份贡献）",
                        )(lang)
                    },
                    "range": [-0.5, e + 1.2],
                    "dtick": 1,
                },
                "yaxis": {
                    "title": {"text": Text("rank", "进程")(lang)},
                    "range": [n - 0.5, -1.1],
                    "dtick": 1,
                },
                **step_controls(len(frames), lang, Text("step", "步"), y=-0.22),
            },
        },
        _validate=False,
    )


# --- figure 2: bytes and time against N ---------------------------------------------------------------


SCHEMES = {
    "ring": Text("ring all-reduce", "环形 all-reduce"),
    "server": Text("parameter server", "参数服务器"),
    "reduce_broadcast": Text("reduce to rank 0 + broadcast", "归约到 0 号 + 广播"),
}


def _scaling_figure(p: Params, lang: str) -> go.Figure:
    from core.training.ddp import comm_costs

    size = SIZES_MB[p.gradient_size] * MB
    alpha, beta = p.latency_us * 1e-6, p.bandwidth_gbs * 1e9
    costs = {n: {c.scheme: c for c in comm_costs(n, size, alpha, beta)} for n in RANK_SWEEP}
    data = []
    for k, (scheme, name) in enumerate(SCHEMES.items()):
        common = {
            "type": "scatter",
            "mode": "lines+markers",
            "x": RANK_SWEEP,
            "legendgroup": scheme,
        }
        style = {"color": COLORWAY[k]}
        data.append(
            {
                **common,
                "y": [costs[n][scheme].busiest_sent_bytes / size for n in RANK_SWEEP],
                "name": name(lang),
                "line": style,
                "marker": {"size": 5},
            }
        )
        data.append(
            {
                **common,
                "y": [costs[n][scheme].time_s for n in RANK_SWEEP],
                "name": name(lang),
                "showlegend": False,
                "xaxis": "x2",
                "yaxis": "y2",
                "line": style,
                "marker": {"size": 5},
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [2, 1024],
            "y": [2, 2],
            "name": Text("2·S: the ring's limit", "2·S：环形的极限")(lang),
            "line": {"color": "#888", "dash": "dash"},
        }
    )
    title = Text(
        f"Cost of one all-reduce of S = {p.gradient_size}, α = {p.latency_us:g} µs, β = {p.bandwidth_gbs:g} GB/s",
        f"一次 S = {p.gradient_size} 的 all-reduce 的代价，α = {p.latency_us:g} 微秒，β = {p.bandwidth_gbs:g} GB/s",
    )
    axis_n = {"type": "log", "title": {"text": Text("ranks N", "进程数 N")(lang)}, "dtick": 0.30103}
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang)},
                "height": 420,
                "xaxis": {**axis_n, "domain": [0, 0.45]},
                "yaxis": {
                    "type": "log",
                    "title": {
                        "text": Text(
                            "bytes the busiest node sends ÷ S", "最忙节点发送的字节数 ÷ S"
                        )(lang)
                    },
                },
                "xaxis2": {**axis_n, "domain": [0.57, 1]},
                "yaxis2": {
                    "type": "log",
                    "anchor": "x2",
                    "title": {"text": Text("time (s)", "时间（秒）")(lang)},
                },
                "legend": {"orientation": "h", "y": -0.25},
            },
        },
        _validate=False,
    )


# --- figure 3: buckets against backward ---------------------------------------------------------------


def _timeline(p: Params, cap_mb: float):
    from core.training.ddp import overlap_timeline

    return overlap_timeline(
        [p.layer_backward_ms * 1e-3] * p.layers,
        [int(p.layer_mb * MB)] * p.layers,
        n_ranks=p.n_ranks,
        bucket_cap_bytes=int(cap_mb * MIB),
        first_bucket_cap_bytes=int(min(FIRST_BUCKET_MB, cap_mb) * MIB),
        latency_s=p.latency_us * 1e-6,
        bandwidth=p.bandwidth_gbs * 1e9,
    )


def _bucket_figure(p: Params, lang: str) -> go.Figure:
    timeline = _timeline(p, p.bucket_cap_mb)
    ms = 1e3
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": [Text("compute: backward", "计算：反向")(lang)] * len(timeline.backward),
            "x": [(end - start) * ms for _, start, end in timeline.backward],
            "base": [start * ms for _, start, _ in timeline.backward],
            "text": [f"L{layer}" for layer, _, _ in timeline.backward],
            "textposition": "inside",
            "marker": {"color": COLORWAY[0], "line": {"width": 1, "color": "white"}},
            "name": Text("layer's backward", "某层的反向")(lang),
            "hovertemplate": "%{text}: %{base:.2f}–%{x:.2f} ms<extra></extra>",
        },
        {
            "type": "bar",
            "orientation": "h",
            "y": [Text("network: all-reduce", "网络：all-reduce")(lang)] * len(timeline.buckets),
            "x": [(end - start) * ms for *_, start, end in timeline.buckets],
            "base": [start * ms for *_, start, _ in timeline.buckets],
            "text": [
                f"B{k} ({size / MB:.0f} MB)" for k, (_, size, _, _) in enumerate(timeline.buckets)
            ],
            "textposition": "inside",
            "marker": {"color": COLORWAY[1], "line": {"width": 1, "color": "white"}},
            "name": Text("bucket's all-reduce", "某桶的 all-reduce")(lang),
            "hovertemplate": "%{text}<extra></extra>",
        },
    ]
    caps = [0.5 * 1.5**k for k in range(0, 25)]
    totals = [_timeline(p, cap).total_s * ms for cap in caps]
    baseline = timeline.no_overlap_s * ms
    data += [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": caps,
            "y": totals,
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text("iteration time with overlap", "有重叠时的迭代时间")(lang),
            "line": {"color": COLORWAY[2]},
            "marker": {"size": 4},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": [caps[0], caps[-1]],
            "y": [_timeline(p, caps[-1]).no_overlap_s * ms] * 2,
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text("one bucket: backward, then all-reduce", "单个桶：先反向，再 all-reduce")(
                lang
            ),
            "line": {"color": "#888", "dash": "dash"},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": [p.bucket_cap_mb],
            "y": [timeline.total_s * ms],
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text("this cap", "当前上限")(lang),
            "marker": {"size": 12, "color": COLORWAY[1], "symbol": "diamond"},
        },
    ]
    title = Text(
        f"{len(timeline.buckets)} buckets (cap {p.bucket_cap_mb:g} MiB, first {min(FIRST_BUCKET_MB, p.bucket_cap_mb):g} MiB): "
        f"iteration {timeline.total_s * ms:.1f} ms vs {baseline:.1f} ms without overlap",
        f"{len(timeline.buckets)} 个桶（上限 {p.bucket_cap_mb:g} MiB，首桶 {min(FIRST_BUCKET_MB, p.bucket_cap_mb):g} MiB）："
        f"迭代 {timeline.total_s * ms:.1f} 毫秒，不重叠时 {baseline:.1f} 毫秒",
    )
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang), "font": {"size": 13}},
                "barmode": "overlay",
                "height": 460,
                "xaxis": {
                    "domain": [0, 1],
                    "anchor": "y",
                    "title": {"text": Text("time (ms)", "时间（毫秒）")(lang)},
                },
                "yaxis": {"domain": [0.62, 1], "autorange": "reversed"},
                "xaxis2": {
                    "type": "log",
                    "anchor": "y2",
                    "title": {"text": "bucket_cap_mb (MiB)"},
                },
                "yaxis2": {
                    "domain": [0, 0.4],
                    "anchor": "x2",
                    "title": {"text": Text("iteration (ms)", "迭代（毫秒）")(lang)},
                },
                "legend": {"orientation": "h", "y": -0.2},
            },
        },
        _validate=False,
    )


# --- figure 4: the real run ---------------------------------------------------------------------------


def _real_run(p: Params) -> tuple[dict | None, str]:
    from core.training.ddp import cached_mlp_run

    try:
        return (
            cached_mlp_run(
                p.width, p.depth, p.batch_per_rank, p.world_size, p.mode, _scaled_cap_mb(p)
            ),
            "",
        )
    except (RuntimeError, OSError, ValueError) as error:
        return None, str(error).splitlines()[0][:200]


def _scaled_cap_mb(p: Params) -> float:
    """The model's buckets scaled like the slider's: cap ÷ 25 of a small MLP's size."""
    return p.bucket_cap_mb / DDP_CAP_MB * 0.05


def _real_figure(p: Params, run: dict, lang: str) -> go.Figure:
    import torch

    from core.training.ddp import bucket_assignment, fp_epsilon

    names = run["param_names"]
    errors = [
        max(float((run["gradients"][n] - run["reference"][n]).abs().max()), 1e-20) for n in names
    ]
    data = [
        {
            "type": "bar",
            "x": names,
            "y": errors,
            "name": Text("max |averaged − one process|", "最大 |平均 − 单进程|")(lang),
            "marker": {"color": COLORWAY[0]},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": [names[0], names[-1]],
            "y": [fp_epsilon()] * 2,
            "name": Text("fp32 ε (the run is fp64)", "fp32 的 ε（本次运行为 fp64）")(lang),
            "line": {"color": "#888", "dash": "dash"},
        },
    ]
    norms = [
        float(torch.sqrt(sum((g**2).sum() for g in local.values())))
        for local in run["local_gradients"]
    ]
    average = float(torch.sqrt(sum((g**2).sum() for g in run["gradients"].values())))
    labels = [f"rank {r}" for r in range(len(norms))] + [Text("average", "平均")(lang)]
    data.append(
        {
            "type": "bar",
            "x": labels,
            "y": [*norms, average],
            "xaxis": "x2",
            "yaxis": "y2",
            "name": Text(
                "‖gradient‖ of a shard alone, and of the average",
                "各分片梯度的范数与平均梯度的范数",
            )(lang),
            "marker": {"color": [COLORWAY[2]] * len(norms) + [COLORWAY[1]]},
        }
    )
    ready = list(reversed(run["param_bytes"]))
    cap = int(_scaled_cap_mb(p) * MIB)
    predicted = bucket_assignment(ready, cap, min(cap, int(FIRST_BUCKET_MB * MIB)))
    logged = [b for b in run["buckets"] if b["iteration"] == 1]
    title = Text(
        f"{p.world_size} gloo processes, mode {p.mode}: averaged gradients vs one process on the full batch",
        f"{p.world_size} 个 gloo 进程，方式 {p.mode}：平均梯度与单进程全批次梯度之比较",
    )
    bucket_text = ""
    if p.mode == "ddp":
        bucket_text = Text(
            f"DDP's buckets at iteration 1: {[len(b['parameters']) for b in logged]} parameters each; "
            f"bucket_assignment predicts {[len(b) for b in predicted]}",
            f"DDP 第 1 次迭代的桶：各含 {[len(b['parameters']) for b in logged]} 个参数；"
            f"bucket_assignment 预测 {[len(b) for b in predicted]}",
        )(lang)
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang), "font": {"size": 13}},
                "height": 440,
                "annotations": [caption(bucket_text, y=1.0, size=11)] if bucket_text else [],
                "xaxis": {"domain": [0, 0.6], "tickangle": -40},
                "yaxis": {
                    "type": "log",
                    "exponentformat": "power",
                    "title": {"text": Text("max |Δ| (log)", "最大 |Δ|（对数）")(lang)},
                },
                "xaxis2": {"domain": [0.7, 1], "anchor": "y2"},
                "yaxis2": {"anchor": "x2", "title": {"text": "‖g‖"}},
                "legend": {"orientation": "h", "y": -0.35},
            },
        },
        _validate=False,
    )


def _placeholder(message: str, lang: str) -> go.Figure:
    """The real-run slot when no run is shown (the figure count stays 4 for the app)."""
    return go.Figure(
        {
            "data": [{"type": "scatter", "x": [0], "y": [0], "mode": "text", "text": [""]}],
            "layout": {
                "title": {"text": Text("Real run", "真实运行")(lang)},
                "height": 200,
                "xaxis": {"visible": False},
                "yaxis": {"visible": False},
                "annotations": [caption(message, y=0.5, size=13)],
            },
        },
        _validate=False,
    )


def render(p: Params, lang: str = "en") -> Rendered:
    figures = [_ring_figure(p, lang), _scaling_figure(p, lang), _bucket_figure(p, lang)]
    timeline = _timeline(p, p.bucket_cap_mb)
    ms, share = 1000.0, 2 * (p.n_ranks - 1) / p.n_ranks
    notes = Text(
        f"**Ring all-reduce:** each of the N = {p.n_ranks} ranks sends and receives "
        f"2(N−1)/N = {share:.2f} × the gradient, never more than 2× however many join. **Buckets of {p.bucket_cap_mb:g} MB:** "
        f"an iteration takes {timeline.total_s * ms:.1f} ms with communication overlapping "
        f"backward, {timeline.no_overlap_s * ms:.1f} ms without.",
        f"**环形 all-reduce：** N = {p.n_ranks} 个进程中，每个进程收发的数据量都是梯度的 "
        f"2(N−1)/N = {share:.2f} 倍，无论多少进程加入都不超过 2 倍。**{p.bucket_cap_mb:g} MB 的桶：** 通信与反向传播重叠时"
        f"一次迭代 {timeline.total_s * ms:.1f} 毫秒，不重叠时 {timeline.no_overlap_s * ms:.1f} 毫秒。",
    )(lang)
    if not p.real_run:
        off = Text(
            "Tick “Real run” to start K gloo processes and compare with one process.",
            "勾选“真实运行”即可启动 K 个 gloo 进程，并与单进程比较。",
        )
        figures.append(_placeholder(off(lang), lang))
    else:
        run, error = _real_run(p)
        if run is None:
            notes += "\n\n" + Text(
                f"The real run could not finish: {error}", f"真实运行未能完成：{error}"
            )(lang)
            figures.append(_placeholder(notes, lang))
        else:
            figures.append(_real_figure(p, run, lang))
            worst = max(
                float((run["gradients"][n] - run["reference"][n]).abs().max())
                for n in run["param_names"]
            )
            # No pids, ports or wall-clock times here: a render must read the same in every
            # process (the times are measured by benchmarks/ddp.py).
            distinct = len(set(run["pids"]))
            notes += "\n\n" + Text(
                f"**Real run:** {p.world_size} worker processes ({distinct} distinct pids), TCP sockets on "
                f"{', '.join(run['sockets']) or '—'}; max |Δ| against one process = {worst:.1e}.",
                f"**真实运行：** {p.world_size} 个工作进程（{distinct} 个不同的 pid），TCP 套接字地址 "
                f"{', '.join(run['sockets']) or '—'}；与单进程相比最大 |Δ| = {worst:.1e}。",
            )(lang)
    return Rendered(figures, notes)


# --- presets and text -----------------------------------------------------------------------------

# 64 layers of 1 MB on 8 ranks with a slow network: 0.5 MiB buckets pay α 64 times
BUCKET_STORY = {
    "n_ranks": 8,
    "layers": 64,
    "layer_mb": 1.0,
    "layer_backward_ms": 0.5,
    "latency_us": 100.0,
}
presets = {
    "ring of 4: reduce-scatter, then all-gather": Params(n_ranks=4, elements=8),
    "1024 ranks send under 2× the gradient": Params(gradient_size="10GB", n_ranks=8, elements=16),
    "buckets too small": Params(bucket_cap_mb=0.5, **BUCKET_STORY),
    "buckets just right": Params(bucket_cap_mb=25.0, **BUCKET_STORY),
    "real processes: DDP = one process on the full batch": Params(
        real_run=True, world_size=4, mode="ddp"
    ),
}
preset_titles = {
    "ring of 4: reduce-scatter, then all-gather": Text(
        "ring of 4: reduce-scatter, then all-gather",
        "4 个进程的环：先 reduce-scatter，再 all-gather",
    ),
    "1024 ranks send under 2× the gradient": Text(
        "1024 ranks send under 2× the gradient", "1024 个进程各自发送不到 2 倍梯度"
    ),
    "buckets too small": Text("buckets too small", "桶太小"),
    "buckets just right": Text("buckets just right", "桶大小合适"),
    "real processes: DDP = one process on the full batch": Text(
        "real processes: DDP = one process on the full batch", "真实进程：DDP = 单进程全批次"
    ),
}

EXPLANATION = Text(
    en="""
**Data parallelism.** Each of N processes holds a copy of the model and computes gradients on its
own shard of the batch; averaging the N gradients gives exactly the gradient of the full batch
(for a mean-reduced loss), so every copy takes the same step (Goyal et al. 2017 scale this to
thousands of images per batch). The real run checks it: K gloo processes, averaged gradients
against one process on the whole batch, max |Δ| at fp64 rounding.

**Ring all-reduce** (Patarasuk & Yuan 2009; Baidu, then Horovod, Sergeev & Del Balso 2018): cut
the gradient into N chunks. In N−1 reduce-scatter steps each rank passes one chunk to its right
neighbour, which adds it in; afterwards each rank owns one complete chunk. N−1 all-gather steps
pass the complete chunks round. Each rank sends 2(N−1)/N·S bytes: under 2S for any N, while a
parameter server's link (Li et al. 2014) carries N·S each way. Latency still grows with the
2(N−1) steps.

**Buckets** (Li et al. 2020): PyTorch's DDP does not wait for backward to finish. Gradients
become ready from the last layer to the first; DDP groups them into buckets (25 MiB, the first
1 MiB) and launches each bucket's all-reduce as soon as it is full, overlapping communication with
the rest of backward. Buckets too small pay α per bucket; too large and communication starts
late. The Gantt chart and the sweep show both ends.
""",
    zh="""
**数据并行。** N 个进程各持有一份模型副本，在各自的那一份数据上计算梯度；对均值形式的损失，N 个梯度的平均恰好等于
整个批次的梯度，因此每个副本走出同样的一步（Goyal 等，2017 把它扩展到每批数千张图像）。真实运行会验证这一点：
K 个 gloo 进程的平均梯度与单进程在全批次上的梯度相比，最大 |Δ| 只有 fp64 的舍入误差。

**环形 all-reduce**（Patarasuk 与 Yuan，2009；之后百度与 Horovod，Sergeev 与 Del Balso，2018）：把梯度切成 N 块。
在 N−1 步 reduce-scatter 中，每个进程把一块传给右边的邻居，邻居把它加到自己的那一块上；之后每个进程拥有一块完整的和。
再用 N−1 步 all-gather 把完整的块传一圈。每个进程发送 2(N−1)/N·S 字节：无论 N 多大都不到 2S；而参数服务器
（Li 等，2014）的链路每个方向要承载 N·S。不过延迟仍随 2(N−1) 步增长。

**分桶**（Li 等，2020）：PyTorch 的 DDP 不等反向传播结束。梯度从最后一层到第一层依次就绪；DDP 把它们分组成桶
（25 MiB，第一个桶 1 MiB），桶一满就启动它的 all-reduce，让通信与剩下的反向传播重叠。桶太小，每个桶都要付一次 α；
桶太大，通信开始得太晚。甘特图和扫描曲线展示了这两端。
""",
)

DEMO = Demo(
    slug="ddp",
    section="training",
    figures=4,
    title=Text("Distributed data parallel", "分布式数据并行（DDP）"),
    summary=Text(
        "Ring all-reduce chunk by chunk, gradient buckets racing backward, and K real gloo processes.",
        "逐块演示环形 all-reduce、与反向传播赛跑的梯度桶，以及 K 个真实的 gloo 进程。",
    ),
    sources=(
        Source(
            "PyTorch Distributed: experiences on accelerating data parallel training",
            "S. Li et al.",
            2020,
            "https://arxiv.org/abs/2006.15704",
        ),
        Source(
            "Bandwidth optimal all-reduce algorithms for clusters of workstations",
            "P. Patarasuk, X. Yuan",
            2009,
            "https://doi.org/10.1016/j.jpdc.2008.09.002",
        ),
        Source(
            "Horovod: fast and easy distributed deep learning in TensorFlow",
            "A. Sergeev, M. Del Balso",
            2018,
            "https://arxiv.org/abs/1802.05799",
        ),
        Source(
            "Scaling distributed machine learning with the parameter server",
            "M. Li et al.",
            2014,
        ),
        Source(
            "Accurate, large minibatch SGD: training ImageNet in 1 hour",
            "P. Goyal et al.",
            2017,
            "https://arxiv.org/abs/1706.02677",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
