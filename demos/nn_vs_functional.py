"""nn.Conv2d or F.conv2d? What a module holds, and what the functional call needs on every call.

`nn.Conv2d`, `nn.Dropout`, `nn.BatchNorm2d` and `nn.Linear` are state (parameters, buffers,
hyper-parameters, the `training` flag) around one stateless function of `torch.nn.functional`.
The table shows where each piece lives and which argument of the F call it becomes; the figure
runs both spellings on the bundled photo (max |Δ| = 0), Dropout's masks and the classic bug of
`F.dropout` at eval, and BatchNorm's running statistics, which are state too.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch
    from torch import nn

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "images" / "camera.png"
SIDE = 64  # the photo, average-pooled from 128 × 128
CHANNELS = 2  # the photo and its negative, so that groups = 2 is possible
OUT_CHANNELS = 4
LINEAR_OUT = 32
BN_BATCH = 8  # BatchNorm's training batches: 8 random 16 × 16 crops
BN_CROP = 16
CLASSES = 10

LAYERS: dict[str, Text] = {
    "conv": Text("nn.Conv2d ↔ F.conv2d", "nn.Conv2d ↔ F.conv2d"),
    "dropout": Text("nn.Dropout ↔ F.dropout", "nn.Dropout ↔ F.dropout"),
    "batchnorm": Text("nn.BatchNorm2d ↔ F.batch_norm", "nn.BatchNorm2d ↔ F.batch_norm"),
    "linear": Text("nn.Linear ↔ F.linear", "nn.Linear ↔ F.linear"),
    "cnn": Text("a small CNN of all four", "由这四种层组成的小 CNN"),
}
PADDINGS = {"same": "same", "valid": "valid", "2": 2}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    layer: Literal["conv", "dropout", "batchnorm", "linear", "cnn"] = param(
        "conv", en="Module", zh="模块", choices=LAYERS
    )
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = param(
        "zeros",
        en="Conv2d padding_mode",
        zh="Conv2d 的 padding_mode",
        help_en="Not zeros: the module calls F.pad first, then F.conv2d with padding 0.",
        help_zh="不是 zeros 时：模块先调用 F.pad，再以 padding 0 调用 F.conv2d。",
    )
    padding: Literal["same", "valid", "2"] = param(
        "same", en="Conv2d padding", zh="Conv2d 的 padding"
    )
    kernel_size: int = param(3, en="Conv2d kernel size", zh="Conv2d 卷积核大小", ge=1, le=7)
    groups: int = param(1, en="Conv2d groups", zh="Conv2d 分组数 groups", ge=1, le=2)
    dropout_p: float = param(0.5, en="Dropout p", zh="Dropout 概率 p", ge=0.0, le=0.9, step=0.05)
    eval_mode: bool = param(False, en="module.eval()", zh="module.eval()（评估模式）")
    pass_training: bool = param(
        True,
        en="F.dropout(..., training=self.training)",
        zh="F.dropout(..., training=self.training)（传入 training）",
        help_en="Untick: the classic bug, F.dropout(x, p) keeps dropping at eval (its default is training=True).",
        help_zh="取消勾选：经典错误，F.dropout(x, p) 在评估时仍在丢弃（其默认 training=True）。",
    )
    momentum: Literal["0.1", "none"] = param(
        "0.1",
        en="BatchNorm momentum",
        zh="BatchNorm 的 momentum",
        choices={
            "0.1": Text("0.1 (default)", "0.1（默认）"),
            "none": Text("None (cumulative average)", "None（累积平均）"),
        },
    )
    train_steps: int = param(
        20, en="BatchNorm training steps", zh="BatchNorm 训练步数", ge=1, le=60
    )
    extra_buffer: bool = param(
        False,
        en="register_buffer(..., persistent=False)",
        zh="register_buffer(..., persistent=False)（非持久缓冲区）",
        help_en="A buffer that moves with .to() but is not saved in state_dict.",
        help_zh="一个会随 .to() 移动、但不会保存进 state_dict 的缓冲区。",
    )
    seed: int = param(0, en="Random seed", zh="随机种子", ge=0, le=999)


# --- the modules and their functional twins -----------------------------------------------------------


@functools.cache
def _photo() -> torch.Tensor:
    """(1, 2, 64, 64) float32: the bundled photo and its negative."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    with Image.open(PHOTO) as image:
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    small = F.avg_pool2d(torch.from_numpy(grey)[None, None], 2)
    return torch.cat([small, 1 - small], dim=1)


def _module(p: Params) -> nn.Module:
    import torch
    from torch import nn

    torch.manual_seed(p.seed)
    padding = PADDINGS[p.padding]
    conv = nn.Conv2d(
        CHANNELS,
        OUT_CHANNELS,
        p.kernel_size,
        padding=padding,
        padding_mode=p.padding_mode,
        groups=p.groups,
    )
    momentum = None if p.momentum == "none" else 0.1
    if p.layer == "conv":
        module = conv
    elif p.layer == "dropout":
        module = nn.Dropout(p.dropout_p)
    elif p.layer == "batchnorm":
        module = nn.BatchNorm2d(CHANNELS, momentum=momentum)
    elif p.layer == "linear":
        module = nn.Linear(SIDE, LINEAR_OUT)
    else:
        module = nn.Sequential(
            conv,
            nn.BatchNorm2d(OUT_CHANNELS, momentum=momentum),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Dropout(p.dropout_p),
            nn.Linear(OUT_CHANNELS * 16, CLASSES),
        )
    if p.extra_buffer:
        module.register_buffer("pixel_mean", torch.full((CHANNELS,), 0.5), persistent=False)
    return module.train(not p.eval_mode)


def _functional_cnn(module: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The CNN's forward as F calls on its children's tensors (never calling a child)."""
    import torch.nn.functional as F

    from core.framework.modules import functional_forward

    conv, norm, _, _, _, dropout, linear = module
    h = functional_forward(norm, functional_forward(conv, x))
    h = F.adaptive_avg_pool2d(F.relu(h), 4).flatten(1)
    return functional_forward(linear, functional_forward(dropout, h))


@functools.lru_cache(maxsize=32)
def _outputs(p: Params) -> dict:
    """Both spellings on the photo (same seed before each), and the state they leave."""
    import copy

    import torch

    from core.framework.modules import describe, functional_forward

    module = _module(p)
    twin = copy.deepcopy(module)
    x = _photo()
    if p.layer == "linear":
        x = x[0, :1]  # (1, 64, 64): each row of the photo is one input of 64 features
    with torch.no_grad():
        if p.layer == "batchnorm":
            return _batch_norm_run(p, module, twin)
        torch.manual_seed(p.seed)
        by_module = module(x)
        torch.manual_seed(p.seed)
        by_function = _functional_cnn(twin, x) if p.layer == "cnn" else functional_forward(twin, x)
        result = {"x": x, "module": by_module, "function": by_function}
        if p.layer == "dropout":
            result["second"] = module(x)  # the next call draws a new mask
            torch.manual_seed(p.seed)
            training = module.training if p.pass_training else True  # F.dropout's default
            result["custom"] = torch.nn.functional.dropout(x, p.dropout_p, training=training)
    result["describe"] = describe(module)
    return result


def _batch_norm_run(p: Params, module: nn.Module, twin: nn.Module) -> dict:
    """Running statistics over training steps for momentum 0.1 and None, module and F alike."""
    import torch
    from torch import nn

    from core.framework.modules import describe, functional_forward

    generator = torch.Generator().manual_seed(p.seed)
    photo = _photo()
    batches = []
    for _ in range(p.train_steps):
        corners = torch.randint(0, SIDE - BN_CROP, (BN_BATCH, 2), generator=generator)
        crops = [photo[0, :, r : r + BN_CROP, c : c + BN_CROP] for r, c in corners.tolist()]
        batches.append(torch.stack(crops))
    runs = {}
    for label, momentum in (("0.1", 0.1), ("none", None)):
        norm = nn.BatchNorm2d(CHANNELS, momentum=momentum)
        norm_twin = nn.BatchNorm2d(CHANNELS, momentum=momentum)
        means, variances, gap = [], [], 0.0
        for batch in batches:
            out = norm(batch)
            out_twin = functional_forward(norm_twin, batch)
            gap = max(gap, float((out - out_twin).abs().max()))
            means.append(norm.running_mean[0].item())
            variances.append(norm.running_var[0].item())
        gap = max(gap, float((norm.running_mean - norm_twin.running_mean).abs().max()))
        runs[label] = {"mean": means, "var": variances, "gap": gap, "module": norm}
    chosen = runs[p.momentum]["module"]
    every = torch.cat(batches)
    pair = batches[-1][:2]
    chosen.eval()
    at_eval = chosen(pair)
    chosen.train()
    with_batch_stats = chosen(pair)  # batch of 2: its own mean and variance
    chosen.eval()
    return {
        "runs": runs,
        "true_mean": float(every[:, 0].mean()),
        "true_var": float(every[:, 0].var(unbiased=True)),
        "eval_vs_batch2": float((at_eval - with_batch_stats).abs().max()),
        "describe": describe(module),
        "gap": max(run["gap"] for run in runs.values()),
    }


# --- figure 1: what lives where ------------------------------------------------------------------------

WIRES = {  # (module attribute, the F call's argument)
    "weight": "weight=",
    "bias": "bias=",
    "running_mean": "running_mean=",
    "running_var": "running_var=",
    "num_batches_tracked": "momentum=1/t when momentum is None",
}


def _holdings(p: Params, module: nn.Module, lang: str) -> list[list[str]]:
    """Rows of the table: name, kind, shape, requires_grad, state_dict, optimizer, .to(), F arg."""
    import copy

    import torch

    from core.framework.modules import describe

    info = describe(module)
    parameters = list(module.parameters())  # what an optimizer is given, and all it updates
    optimizer = torch.optim.SGD(parameters, lr=0.1) if parameters else None
    optimised = {id(t) for t in optimizer.param_groups[0]["params"]} if optimizer else set()
    moved = copy.deepcopy(module).to(torch.float64)
    moved_dtypes = {n: t.dtype for n, t in [*moved.named_parameters(), *moved.named_buffers()]}
    yes, no = "✓", "✗"
    rows = []
    parameters = dict(module.named_parameters())
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        is_parameter = name in parameters
        persistent = name in info["state_dict"]
        kind = Text("parameter", "参数") if is_parameter else Text("buffer", "缓冲区")
        if not is_parameter and not persistent:
            kind = Text("buffer (not persistent)", "缓冲区（非持久）")
        dtype = str(moved_dtypes[name]).removeprefix("torch.")
        rows.append(
            [
                name,
                kind(lang),
                str(tuple(tensor.shape)),
                yes if tensor.requires_grad else no,
                yes if persistent else no,
                yes if id(tensor) in optimised else no,
                f"{yes} {dtype}",
                WIRES.get(name.rsplit(".", 1)[-1], "—"),
            ]
        )
    hyper = Text("hyper-parameter", "超参数")(lang)
    for prefix, child in module.named_modules():
        dotted = f"{prefix}." if prefix else ""
        for attribute, argument in _hyper_parameters(child):
            rows.append(
                [
                    f"{dotted}{attribute}",
                    hyper,
                    repr(getattr(child, attribute)),
                    "",
                    no,
                    no,
                    "",
                    argument,
                ]
            )
    flag = Text("flag (train()/eval())", "标志（train()/eval()）")(lang)
    rows.append(["training", flag, str(module.training), "", no, no, "", _training_wire(module)])
    return rows


def _hyper_parameters(child: nn.Module) -> list[tuple[str, str]]:
    from torch import nn

    if isinstance(child, nn.Conv2d):
        pad = "F.pad(pad, mode), then padding=0" if child.padding_mode != "zeros" else "padding="
        return [
            ("stride", "stride="),
            ("padding", pad),
            ("padding_mode", "F.pad(mode=)" if child.padding_mode != "zeros" else "—"),
            ("dilation", "dilation="),
            ("groups", "groups="),
        ]
    if isinstance(child, nn.Dropout):
        return [("p", "p=")]
    if isinstance(child, nn.BatchNorm2d):
        return [("momentum", "momentum="), ("eps", "eps="), ("track_running_stats", "—")]
    return []


def _training_wire(module: nn.Module) -> str:
    from torch import nn

    kinds = {type(child) for child in module.modules()}
    if nn.Dropout in kinds or nn.BatchNorm2d in kinds:
        return "training="
    return "— (unused)"


def _table_figure(p: Params, module: nn.Module, lang: str) -> go.Figure:
    header = [
        Text("name", "名称"),
        Text("kind", "类别"),
        Text("shape / value", "形状 / 值"),
        Text("requires_grad", "requires_grad"),
        Text("state_dict", "state_dict"),
        Text("optimizer", "优化器"),
        Text(".to(float64)", ".to(float64)"),
        Text("→ F argument", "→ F 的参数"),
    ]
    rows = _holdings(p, module, lang)
    columns = [list(column) for column in zip(*rows, strict=True)]
    title = Text(
        f"What {type(module).__name__} holds, and where the F call gets it on every call",
        f"{type(module).__name__} 持有什么，以及 F 调用每次从哪里取得它",
    )
    return go.Figure(
        {
            "data": [
                {
                    "type": "table",
                    "columnwidth": [1.6, 1.4, 1.2, 0.9, 0.8, 0.8, 0.9, 2.0],
                    "header": {
                        "values": [f"<b>{h(lang)}</b>" for h in header],
                        "fill": {"color": "rgba(0,114,178,0.25)"},
                        "align": "left",
                    },
                    "cells": {
                        "values": columns,
                        "fill": {"color": "rgba(128,128,128,0.08)"},
                        "align": "left",
                        "height": 24,
                    },
                }
            ],
            "layout": {
                "title": {"text": title(lang)},
                "height": 140 + 26 * len(rows),
                "margin": {"t": 60, "b": 10, "l": 10, "r": 10},
            },
        },
        _validate=False,
    )


# --- figure 2: both spellings on the photo ----------------------------------------------------------


def _heatmaps(panels: list[tuple[str, np.ndarray]], title: str, note: str = "") -> go.Figure:
    n = len(panels)
    gap = 0.03
    width = (1 - gap * (n - 1)) / n
    data, layout = [], {}
    for k, (label, image) in enumerate(panels):
        axis = "" if k == 0 else str(k + 1)
        start = k * (width + gap)
        data.append(
            {
                "type": "heatmap",
                "z": image.astype(np.float32),
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
                "colorscale": "Greys",
                "reversescale": True,
                "showscale": False,
                "hovertemplate": "%{z:.3f}<extra></extra>",
            }
        )
        layout[f"xaxis{axis}"] = {
            "domain": [start, start + width],
            "visible": False,
            "anchor": f"y{axis}",
        }
        layout[f"yaxis{axis}"] = {
            "visible": False,
            "autorange": "reversed",
            "scaleanchor": f"x{axis}",
            "anchor": f"x{axis}",
        }
        layout.setdefault("annotations", []).append(
            caption(label, x=start + width / 2, y=1.0, xanchor="center", size=12)
        )
    if note:
        layout["annotations"].append(caption(note, y=-0.12, size=12))
    layout.update({"title": {"text": title}, "height": 360, "margin": {"t": 90, "b": 50}})
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _channel(tensor: torch.Tensor) -> np.ndarray:
    return tensor.reshape(-1, *tensor.shape[-2:])[0].numpy()


def _outputs_figure(p: Params, out: dict, lang: str) -> go.Figure:
    module, function = out["module"], out["function"]
    gap = float((module - function).abs().max())
    if p.layer == "dropout":
        kept = Text("kept", "保留")(lang)
        mode = "eval()" if p.eval_mode else "train()"
        spelled = (
            "training=self.training"
            if p.pass_training
            else Text("no training=", "未传 training=")(lang)
        )
        panels = [
            (
                Text(f"module, call 1 ({mode})", f"模块，第 1 次调用（{mode}）")(lang),
                _channel(module),
            ),
            (
                Text("module, call 2: a new mask", "模块，第 2 次调用：新的掩码")(lang),
                _channel(out["second"]),
            ),
            (Text("F.dropout, same seed", "F.dropout，相同种子")(lang), _channel(function)),
            (f"F.dropout(x, p, {spelled})", _channel(out["custom"])),
        ]
        dropped = float((out["custom"] == 0).float().mean())
        bug = p.eval_mode and not p.pass_training
        title = Text(
            f"Dropout p = {p.dropout_p:g}: module vs F.dropout, max |Δ| = {gap:.1e}"
            + (f" · the bug: {100 * dropped:.0f}% dropped at eval" if bug else ""),
            f"Dropout p = {p.dropout_p:g}：模块与 F.dropout 的最大 |Δ| = {gap:.1e}"
            + (f" · 错误：评估时仍丢弃了 {100 * dropped:.0f}%" if bug else ""),
        )
        note = Text(
            f"{kept} × 1/(1−p): the expected value is unchanged",
            f"{kept}的值 × 1/(1−p)：期望不变",
        )(lang)
        return _heatmaps(panels, title(lang), note)
    if p.layer == "cnn":
        classes = list(range(CLASSES))
        data = [
            {
                "type": "bar",
                "x": classes,
                "y": module[0].numpy(),
                "name": Text("model(x): the nn.Sequential", "model(x)：nn.Sequential")(lang),
                "marker": {"color": COLORWAY[0]},
            },
            {
                "type": "scatter",
                "mode": "markers",
                "x": classes,
                "y": function[0].numpy(),
                "name": Text("F calls on its tensors", "用它的张量调用 F")(lang),
                "marker": {"color": COLORWAY[1], "size": 12, "symbol": "diamond"},
            },
        ]
        title = Text(
            f"The CNN's 10 outputs on the photo, two spellings: max |Δ| = {gap:.1e}",
            f"CNN 在照片上的 10 个输出，两种写法：最大 |Δ| = {gap:.1e}",
        )
        return go.Figure(
            {
                "data": data,
                "layout": {
                    "title": {"text": title(lang)},
                    "height": 360,
                    "xaxis": {"title": {"text": Text("output", "输出")(lang)}, "dtick": 1},
                    "yaxis": {"title": {"text": Text("value", "数值")(lang)}},
                    "legend": {"orientation": "h", "y": -0.25},
                },
            },
            _validate=False,
        )
    name = {"conv": "F.conv2d", "linear": "F.linear"}[p.layer]
    panels = [
        (Text("input (the photo)", "输入（照片）")(lang), _channel(out["x"])),
        (Text("module(x)", "module(x)")(lang), _channel(module)),
        (f"{name}(x, weight, bias, …)", _channel(function)),
        ("|Δ|", np.abs(_channel(module) - _channel(function))),
    ]
    shape = "×".join(str(s) for s in module.shape)
    title = Text(
        f"Same numbers, two spellings: output {shape}, max |Δ| = {gap:.1e}",
        f"两种写法，同样的数：输出 {shape}，最大 |Δ| = {gap:.1e}",
    )
    return _heatmaps(panels, title(lang))


def _batch_norm_figure(p: Params, out: dict, lang: str) -> go.Figure:
    steps = list(range(1, p.train_steps + 1))
    data = []
    names = {
        "0.1": Text("momentum 0.1", "momentum 0.1"),
        "none": Text("momentum None (cumulative)", "momentum None（累积平均）"),
    }
    for k, (label, run) in enumerate(out["runs"].items()):
        for key, axis in (("mean", ""), ("var", "2")):
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": steps,
                    "y": run[key],
                    "xaxis": f"x{axis}",
                    "yaxis": f"y{axis}",
                    "name": names[label](lang),
                    "legendgroup": label,
                    "showlegend": key == "mean",
                    "line": {"color": COLORWAY[k], "width": 2.5 if label == p.momentum else 1.5},
                    "marker": {"size": 4},
                }
            )
    truth = Text("all batches' statistic", "全部批次的统计量")(lang)
    for key, axis, value in (("mean", "", out["true_mean"]), ("var", "2", out["true_var"])):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [1, p.train_steps],
                "y": [value, value],
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
                "name": truth,
                "legendgroup": "truth",
                "showlegend": key == "mean",
                "line": {"color": "#888", "dash": "dash"},
            }
        )
    title = Text(
        f"BatchNorm's running statistics are state (channel 0), module = F.batch_norm to {out['gap']:.0e}",
        f"BatchNorm 的滑动统计量是状态（通道 0），模块与 F.batch_norm 相差 {out['gap']:.0e}",
    )
    step = Text("training step (one batch of 8 crops)", "训练步（每批 8 个裁剪块）")(lang)
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang)},
                "height": 380,
                "xaxis": {"domain": [0, 0.46], "title": {"text": step}},
                "yaxis": {"title": {"text": "running_mean[0]"}},
                "xaxis2": {"domain": [0.54, 1], "title": {"text": step}},
                "yaxis2": {"anchor": "x2", "title": {"text": "running_var[0]"}},
                "legend": {"orientation": "h", "y": -0.25},
            },
        },
        _validate=False,
    )


def render(p: Params, lang: str = "en") -> Rendered:
    out = _outputs(p)
    module = _module(p)
    table = _table_figure(p, module, lang)
    info = out["describe"]
    if p.layer == "batchnorm":
        second = _batch_norm_figure(p, out, lang)
        extra = Text(
            f"At eval a batch of 2 is normalised with the running statistics; in train mode with its "
            f"own two samples' statistics: max |Δ| between the two = {out['eval_vs_batch2']:.3g}.",
            f"评估时，2 个样本的批次用滑动统计量归一化；训练模式下用这两个样本自己的统计量：两者最大 |Δ| = "
            f"{out['eval_vs_batch2']:.3g}。",
        )(lang)
    else:
        second = _outputs_figure(p, out, lang)
        extra = ""
    keys = ", ".join(f"`{key}`" for key in info["state_dict"]) or "—"
    summary = Text(
        f"describe(module): training = {info['training']}, {info['n_trainable']} trainable numbers; "
        f"state_dict keys: {keys}. `load_state_dict` restores exactly these keys; a non-persistent "
        f"buffer keeps its value, and the optimizer sees only the parameters.",
        f"describe(module)：training = {info['training']}，可训练数共 {info['n_trainable']} 个；"
        f"state_dict 的键：{keys}。`load_state_dict` 只恢复这些键；非持久缓冲区保留原值，优化器只看到参数。",
    )(lang)
    return Rendered([table, second], summary + ("\n\n" + extra if extra else ""))


# --- presets and text -----------------------------------------------------------------------------

presets = {
    "Same convolution, two spellings": Params(layer="conv", padding_mode="reflect", kernel_size=5),
    "Dropout at eval: the module knows, F.dropout does not": Params(
        layer="dropout", eval_mode=True, pass_training=False
    ),
    "BatchNorm's running stats are state": Params(layer="batchnorm", train_steps=40),
    "A non-persistent buffer": Params(layer="cnn", extra_buffer=True, eval_mode=True),
}
preset_titles = {
    "Same convolution, two spellings": Text(
        "Same convolution, two spellings", "同一个卷积，两种写法"
    ),
    "Dropout at eval: the module knows, F.dropout does not": Text(
        "Dropout at eval: the module knows, F.dropout does not",
        "评估时的 Dropout：模块知道，F.dropout 不知道",
    ),
    "BatchNorm's running stats are state": Text(
        "BatchNorm's running stats are state", "BatchNorm 的滑动统计量是状态"
    ),
    "A non-persistent buffer": Text("A non-persistent buffer", "非持久缓冲区"),
}

EXPLANATION = Text(
    en="""
**Two spellings of one computation.** `nn.Conv2d(2, 4, 3)` and `F.conv2d(x, weight, bias)` compute
the same numbers (max |Δ| = 0 on the photo): the module's forward *is* the functional call. What
the module adds is state. Its **parameters** (weight, bias) require gradients, are handed to the
optimizer by `model.parameters()` and saved in `state_dict`. Its **buffers** (BatchNorm's
running mean and variance, `num_batches_tracked`) are tensors that move with `.to()` and are
saved, but the optimizer never sees them; a buffer registered with `persistent=False` moves but is
not saved. Its **hyper-parameters** (stride, padding, p, momentum) are plain attributes, and its
**`training` flag**, set by `train()`/`eval()`, is passed on every call.

**Where the flag matters.** Dropout (Srivastava et al. 2014) zeroes each value with probability p
and scales the rest by 1/(1−p) in training; at eval it is the identity. `nn.Dropout` passes
`training=self.training` for you; `F.dropout`'s default is `training=True`, so a custom module
that calls `F.dropout(x, p)` keeps dropping at eval (the classic bug: untick the box).
BatchNorm (Ioffe & Szegedy 2015) normalises with the batch's statistics in training and updates
its running averages (momentum 0.1, or the cumulative average when momentum is None); at eval it
uses those running statistics, so a batch of two at eval gives what training would have expected,
not what those two samples say. Rule of thumb: anything with parameters or state is a module;
stateless functions (relu, pooling) are fine in F.
""",
    zh="""
**同一计算的两种写法。** `nn.Conv2d(2, 4, 3)` 与 `F.conv2d(x, weight, bias)` 算出完全相同的数（照片上最大 |Δ| = 0）：
模块的 forward 本身就是这个函数调用。模块多出来的是状态。它的**参数**（weight、bias）需要梯度，通过
`model.parameters()` 交给优化器，并保存在 `state_dict` 中。它的**缓冲区**（BatchNorm 的滑动均值与方差、
`num_batches_tracked`）是会随 `.to()` 移动、也会被保存的张量，但优化器看不到它们；用 `persistent=False`
注册的缓冲区会移动但不会被保存。它的**超参数**（stride、padding、p、momentum）是普通属性，而由
`train()`/`eval()` 设置的 **`training` 标志**在每次调用时传入。

**标志在哪里起作用。** Dropout（Srivastava 等，2014）在训练时以概率 p 把每个值置零，其余值乘以 1/(1−p)；评估时
什么也不做。`nn.Dropout` 会替你传入 `training=self.training`；而 `F.dropout` 的默认值是 `training=True`，
所以在自定义模块里调用 `F.dropout(x, p)` 会在评估时继续丢弃（经典错误：取消勾选试试）。BatchNorm（Ioffe 与
Szegedy，2015）训练时用当前批次的统计量归一化，并更新滑动平均（momentum 0.1；momentum 为 None 时是累积平均）；
评估时改用这些滑动统计量，所以评估时 2 个样本的批次得到的是训练期望的结果，而不是这两个样本自己的统计。
经验法则：凡是有参数或状态的都用模块；无状态的函数（relu、池化）用 F 即可。
""",
)

DEMO = Demo(
    slug="nn-vs-functional",
    section="training",
    figures=2,
    title=Text("nn.Module vs nn.functional", "nn.Module 与 nn.functional"),
    summary=Text(
        "What a module holds (parameters, buffers, the training flag) and the F call it makes.",
        "模块持有什么（参数、缓冲区、training 标志），以及它调用的 F 函数。",
    ),
    sources=(
        Source(
            "Dropout: a simple way to prevent neural networks from overfitting",
            "N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov",
            2014,
            "https://jmlr.org/papers/v15/srivastava14a.html",
        ),
        Source(
            "Batch normalization: accelerating deep network training by reducing internal "
            "covariate shift",
            "S. Ioffe, C. Szegedy",
            2015,
            "https://arxiv.org/abs/1502.03167",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
