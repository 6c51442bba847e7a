"""Autograd: what does `backward()` walk through, and where do the numbers in `.grad` come from?

A small expression over x, y, z (picked from a menu or typed) is evaluated by torch in float64.
The figure draws the graph torch recorded (leaves with AccumulateGrad, operations with their
grad_fn names, detach cutting an edge) and steps through the backward pass in reverse
topological order: each edge carries local derivative × upstream gradient. Below, `.grad` after
one to three backward calls, and torch's own error when the graph was built under no_grad.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel, field_validator

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_steps import edge_lines, step_controls
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch

MAX_EXPRESSION = 200
VECTOR_STEP = 0.5  # x as a vector: x, x + 0.5, x + 1, ...
EXAMPLES: dict[str, str] = {
    "product": "sin(x) * exp(y)",
    "twice": "x * x + 3 * x",
    "detach": "x * detach(y) + y * z",
    "vector": "sum(x * x) + mean(x) * y",
    "double": "x * y",
}
EXAMPLE_NAMES: dict[str, Text] = {
    **{key: Text(text, text) for key, text in EXAMPLES.items()},
    "typed": Text("the typed expression", "输入框中的表达式"),
}
DONE, CURRENT, WAITING, FADED = COLORWAY[0], COLORWAY[1], "rgba(150,150,150,0.55)", "#8C8C8C"


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    example: Literal["product", "twice", "detach", "vector", "double", "typed"] = param(
        "product",
        en="Expression",
        zh="表达式",
        help_en="Pick one, or choose 'the typed expression' and write your own below.",
        help_zh="从菜单中选一个，或选择“输入框中的表达式”后在下面自己输入。",
        choices=EXAMPLE_NAMES,
    )
    expression: str = param(
        "log(x) + x*y - sin(y)",
        en="Typed expression",
        zh="自定义表达式",
        help_en="x y z, numbers, + - * / ** ( ), sin cos exp log sqrt tanh sigmoid relu sum mean detach.",
        help_zh="可用 x y z、数字、+ - * / ** ( ) 以及 sin cos exp log sqrt tanh sigmoid relu sum mean detach。",
        max_length=MAX_EXPRESSION,
    )
    x: float = param(2.0, en="x", zh="x（变量）", ge=-5.0, le=5.0, step=0.1)
    y: float = param(0.5, en="y", zh="y（变量）", ge=-5.0, le=5.0, step=0.1)
    z: float = param(-0.5, en="z", zh="z（变量）", ge=-5.0, le=5.0, step=0.1)
    x_length: int = param(
        1,
        en="Values in x (1 = a number)",
        zh="x 的元素个数（1 = 标量）",
        help_en="x becomes the vector x, x+0.5, x+1, …; a vector result is summed before backward().",
        help_zh="x 变为向量 x, x+0.5, x+1, …；结果若是向量，backward() 之前先求和。",
        ge=1,
        le=8,
    )
    backward_calls: int = param(
        1,
        en="backward() calls (retain_graph=True)",
        zh="backward() 调用次数（retain_graph=True）",
        ge=1,
        le=3,
    )
    zero_grad: bool = param(
        False, en="zero_grad() before each call", zh="每次调用前执行 zero_grad()"
    )
    no_grad: bool = param(
        False, en="Evaluate under torch.no_grad()", zh="在 torch.no_grad() 下计算"
    )

    @field_validator("expression")
    @classmethod
    def _parses(cls, expression: str) -> str:
        from core.framework.autograd import parse

        parse(expression)  # ValueError "column N: ..." names the place
        return expression


# --- the computation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    expression: str  # what was differentiated (wrapped in sum(...) for a vector result)
    shift: int  # columns the wrapping added
    values: dict
    value: float
    grads: dict  # name -> tensor, torch.autograd.grad
    trace: list[dict]
    chain: list[str]
    accumulated: list[dict]
    gradcheck: bool
    sweep_error: float  # max |Σ edge contributions at a leaf − torch.autograd.grad|
    no_grad: tuple[float, bool, str] | None


def _values(p: Params) -> dict:
    x = p.x if p.x_length == 1 else [p.x + VECTOR_STEP * k for k in range(p.x_length)]
    return {"x": x, "y": p.y, "z": p.z}


def _expression(p: Params) -> str:
    return p.expression if p.example == "typed" else EXAMPLES[p.example]


@functools.lru_cache(maxsize=64)
def _run(p: Params) -> Run:
    from core.framework import autograd as ag

    expression, values = _expression(p), _values(p)
    used = {node.name for node in ag.nodes(ag.parse(expression)) if node.op == "variable"}
    values = {name: value for name, value in values.items() if name in used}
    shift = 0
    try:
        value, grads, trace = ag.gradients(expression, values)
    except ValueError as error:
        if "reduce it" not in str(error) or len(expression) > MAX_EXPRESSION - 5:
            raise
        expression, shift = f"sum({expression})", 4  # what `loss = out.sum()` does
        value, grads, trace = ag.gradients(expression, values)
    sums: dict[str, Any] = {}
    for node in trace:
        for child, flow in zip(node["children"], node["flowing"], strict=True):
            if trace[child]["op"] == "variable":
                name = _variable(trace, child)
                sums[name] = sums.get(name, 0) + flow
    sweep_error = max(
        (float((sums.get(name, grads[name] * 0) - grads[name]).abs().max()) for name in grads),
        default=0.0,
    )
    return Run(
        expression=expression,
        shift=shift,
        values=values,
        value=value,
        grads=grads,
        trace=trace,
        chain=ag.backward_chain(expression, values),
        accumulated=ag.accumulated_grads(
            expression, values, p.backward_calls, zero_grad=p.zero_grad
        ),
        gradcheck=ag.gradcheck(expression, values) if values else True,
        sweep_error=sweep_error,
        no_grad=ag.no_grad_backward(expression, values) if p.no_grad else None,
    )


def _variable(trace: list[dict], index: int) -> str:
    return trace[index]["label"]


def _short(tensor: torch.Tensor) -> str:
    """A tensor in a few characters: 1.23, or [1.2, 3.4, …]."""
    values = tensor.reshape(-1).tolist()
    if tensor.dim() == 0:
        return f"{values[0]:.3g}"
    shown = ", ".join(f"{v:.2g}" for v in values[:3])
    return f"[{shown}{', …' if len(values) > 3 else ''}]"


# --- figure 1: the graph and the backward pass ------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where each drawn node sits: variables merged into one leaf each, as torch holds them."""

    drawn: list[int]  # trace indices drawn (one per variable name)
    position: dict[int, tuple[float, float]]  # drawn trace index -> (x, y)
    alias: dict[int, int]  # trace index -> the drawn index it is shown as


def _layout(trace: list[dict]) -> Layout:
    alias: dict[int, int] = {}
    first_use: dict[str, int] = {}
    height: dict[int, int] = {}
    for i, node in enumerate(trace):
        if node["op"] == "variable":
            alias[i] = first_use.setdefault(node["label"], i)
        else:
            alias[i] = i
        height[i] = 1 + max((height[c] for c in node["children"]), default=-1)
    for i, node in enumerate(trace):  # a merged leaf sits in column 0
        if node["op"] == "variable":
            height[alias[i]] = 0
    drawn = sorted(set(alias.values()))
    columns: dict[int, list[int]] = {}
    for i in drawn:
        columns.setdefault(height[i], []).append(i)
    position = {}
    for column, members in columns.items():
        for k, i in enumerate(members):
            position[i] = (float(column), (len(members) - 1) / 2 - k)
    return Layout(drawn, position, alias)


def _node_title(node: dict, lang: str) -> str:
    if node["op"] == "variable":
        return f"<b>{node['label']}</b><br>AccumulateGrad"
    if node["op"] == "number":
        return f"{node['label']}<br>{Text('constant', '常数')(lang)}"
    name = node["grad_fn"] or Text("no grad_fn", "无 grad_fn")(lang)
    return f"<b>{node['label']}</b><br>{name}"


def _steps(trace: list[dict]) -> list[int]:
    """The operations in the order backward() visits them: reverse evaluation order."""
    return [i for i in range(len(trace) - 1, -1, -1) if trace[i]["children"]]


def _graph_figure(p: Params, run: Run, lang: str) -> go.Figure:
    trace, layout = run.trace, _layout(run.trace)
    alias, position = layout.alias, layout.position
    solid_x: list[float | None] = []
    solid_y: list[float | None] = []
    cut_x: list[float | None] = []
    cut_y: list[float | None] = []
    edges = []  # (parent, child, k-th child)
    for parent, node in enumerate(trace):
        for k, child in enumerate(node["children"]):
            (x0, y0), (x1, y1) = position[alias[child]], position[parent]
            detached = node["op"] == "detach"
            xs, ys = (cut_x, cut_y) if detached else (solid_x, solid_y)
            xs += [x0, x1, None]
            ys += [y0, y1, None]
            edges.append((parent, child, k))
    steps = _steps(trace)
    frames = [_frame_state(run, layout, edges, steps[:n], lang) for n in range(len(steps) + 1)]
    marker_colors, node_text, edge_text = frames[-1]
    mid_x = [(position[alias[c]][0] + position[p_][0]) / 2 for p_, c, _ in edges]
    mid_y = [(position[alias[c]][1] + position[p_][1]) / 2 for p_, c, _ in edges]
    node_x = [position[i][0] for i in layout.drawn]
    node_y = [position[i][1] for i in layout.drawn]
    hover = [
        f"{trace[i]['label']} · {Text('value', '值')(lang)} {_short(trace[i]['value'])}"
        f" · ∂out/∂node {_short(trace[i]['grad'])}"
        for i in layout.drawn
    ]
    data = [
        edge_lines(
            solid_x,
            solid_y,
            Text("edge (gradient flows right → left)", "边（梯度从右向左流）")(lang),
            {"color": "rgba(128,128,128,0.7)", "width": 1.5},
        ),
        edge_lines(
            cut_x,
            cut_y,
            Text("cut by detach (no gradient)", "被 detach 切断（无梯度）")(lang),
            {"color": COLORWAY[1], "width": 1.5, "dash": "dash"},
        ),
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": node_x,
            "y": node_y,
            "marker": {"size": 30, "color": marker_colors, "symbol": "circle"},
            "text": node_text,
            "textposition": "bottom center",
            "textfont": {"size": 11},
            "hovertext": hover,
            "hoverinfo": "text",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "text",
            "x": mid_x or [None],
            "y": mid_y or [None],
            "text": edge_text or [""],
            "textfont": {"size": 10, "color": COLORWAY[2]},
            "hoverinfo": "skip",
            "showlegend": False,
        },
    ]
    animation = [
        {"name": str(n), "data": [{"marker": {"color": c}, "text": t}, {"text": e or [""]}]}
        for n, (c, t, e) in enumerate(frames)
    ]
    for frame in animation:
        frame["traces"] = [2, 3]
    columns = max(x for x, _ in position.values())
    rows = max(
        len([i for i in layout.drawn if position[i][0] == c]) for c in range(int(columns) + 1)
    )
    title = Text(
        f"The graph torch recorded for {run.expression} and the backward pass, step by step",
        f"torch 为 {run.expression} 记录的计算图，以及逐步的反向传播",
    )
    return go.Figure(
        {
            "data": data,
            "frames": animation,
            "layout": {
                "title": {"text": title(lang)},
                "height": max(380, 110 * rows + 200),
                "margin": {"t": 80, "b": 110, "l": 30, "r": 30},
                "xaxis": {
                    "range": [-0.6, columns + 0.6],
                    "showgrid": False,
                    "zeroline": False,
                    "tickvals": [0, columns],
                    "ticktext": [
                        Text("leaves (.grad)", "叶子（.grad）")(lang),
                        Text("result", "结果")(lang),
                    ],
                },
                "yaxis": {
                    "visible": False,
                    "range": [-(rows + 1) / 2 - 0.1, (rows - 1) / 2 + 0.5],
                },
                "legend": {"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right"},
                "annotations": [
                    caption(
                        Text(
                            "edge label: local derivative × upstream = gradient passed on",
                            "边上的标注：局部导数 × 上游梯度 = 传下去的梯度",
                        )(lang),
                        y=1.0,
                        size=11,
                    )
                ],
                **step_controls(len(frames), lang, Text("backward step", "反向传播步")),
            },
        },
        _validate=False,
    )


def _frame_state(
    run: Run, layout: Layout, edges: list, done: list[int], lang: str
) -> tuple[list[str], list[str], list[str]]:
    """Node colours, node texts and edge labels after the operations in `done` ran."""
    trace, alias = run.trace, layout.alias
    received: dict[int, Any] = {}  # drawn index -> gradient arrived so far
    received[alias[len(trace) - 1]] = trace[-1]["grad"]  # the seed: ∂out/∂out = 1
    passed = set(done)
    labels = []
    for parent, child, k in edges:
        if parent not in passed:
            labels.append("")
            continue
        flow = trace[parent]["flowing"][k]
        local = trace[parent]["local"][k]
        target = alias[child]
        received[target] = received.get(target, 0) + flow
        if trace[parent]["op"] == "detach":
            labels.append("✂ 0")
        else:
            labels.append(f"{_short(local)}×{_short(trace[parent]['grad'])}={_short(flow)}")
    finished = len(done) == len(_steps(trace))
    current = done[-1] if done and not finished else None
    colors, texts = [], []
    for i in layout.drawn:
        node = trace[i]
        if node["op"] == "number":
            colors.append(FADED)
        elif i == current:
            colors.append(CURRENT)
        elif i in received:
            colors.append(DONE)
        else:
            colors.append(WAITING)
        grad = f"<br>g={_short(received[i])}" if i in received else ""
        texts.append(_node_title(node, lang) + grad)
    return colors, texts, labels


# --- figure 2: .grad over backward calls ------------------------------------------------------------


def _grad_figure(p: Params, run: Run, lang: str) -> go.Figure:
    data = []
    names = list(run.values)
    categories = []
    for name in names:
        size = run.grads[name].numel()
        categories += (
            [name] if run.grads[name].dim() == 0 else [f"{name}[{k}]" for k in range(size)]
        )
    for call, grads in enumerate(run.accumulated, start=1):
        heights = []
        for name in names:
            grad = grads[name]
            size = run.grads[name].numel()
            heights += [np.nan] * size if grad is None else grad.reshape(-1).tolist()
        data.append(
            {
                "type": "bar",
                "x": categories,
                "y": heights,
                "name": Text(f"after call {call}", f"第 {call} 次调用后")(lang),
                "marker": {"color": COLORWAY[call - 1]},
            }
        )
    reference = [v for name in names for v in run.grads[name].reshape(-1).tolist()]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": categories,
            "y": reference,
            "name": "torch.autograd.grad",
            "marker": {"symbol": "line-ew-open", "size": 26, "line": {"width": 3}, "color": "#888"},
        }
    )
    zero = Text(" · zero_grad() before each call", " · 每次调用前 zero_grad()")(lang)
    title = Text(
        f".grad after each backward(retain_graph=True){zero if p.zero_grad else ''}",
        f"每次 backward(retain_graph=True) 之后的 .grad{zero if p.zero_grad else ''}",
    )
    annotations = []
    if run.no_grad is not None:
        _, requires_grad, message = run.no_grad
        annotations.append(
            caption(
                Text(
                    f"under no_grad: requires_grad={requires_grad}, backward() → RuntimeError: ",
                    f"在 no_grad 下：requires_grad={requires_grad}，backward() → RuntimeError：",
                )(lang)
                + message,
                y=1.0,
                size=11,
            )
        )
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang)},
                "barmode": "group",
                "height": 360,
                "margin": {"t": 80},
                "annotations": annotations,
                "xaxis": {"title": {"text": Text("leaf", "叶子张量")(lang)}},
                "yaxis": {"title": {"text": ".grad"}},
                "legend": {"orientation": "h", "y": -0.25},
            },
        },
        _validate=False,
    )


def _no_grad_figure(p: Params, run: Run, lang: str) -> go.Figure:
    """Under no_grad nothing is recorded: the leaves alone, and torch's error."""
    value, _, message = run.no_grad
    names = list(run.values) or ["—"]
    return go.Figure(
        {
            "data": [
                {
                    "type": "scatter",
                    "mode": "markers+text",
                    "x": list(range(len(names))),
                    "y": [0] * len(names),
                    "marker": {"size": 30, "color": WAITING},
                    "text": [f"<b>{n}</b><br>requires_grad=True" for n in names],
                    "textposition": "bottom center",
                    "name": Text("leaves", "叶子")(lang),
                },
                {
                    "type": "scatter",
                    "mode": "markers+text",
                    "x": [len(names)],
                    "y": [0],
                    "marker": {"size": 30, "color": FADED, "symbol": "square"},
                    "text": [f"{value:.4g}<br>grad_fn=None"],
                    "textposition": "bottom center",
                    "name": Text("result (no graph)", "结果（无计算图）")(lang),
                },
            ],
            "layout": {
                "title": {
                    "text": Text(
                        f"Under torch.no_grad() no graph is recorded for {run.expression}",
                        f"在 torch.no_grad() 下，{run.expression} 没有记录计算图",
                    )(lang)
                },
                "height": 320,
                "xaxis": {"visible": False, "range": [-0.7, len(names) + 0.7]},
                "yaxis": {"visible": False, "range": [-1.2, 0.8]},
                "annotations": [caption(f"backward() → RuntimeError: {message}", y=1.0, size=11)],
            },
        },
        _validate=False,
    )


def _error_figure(message: str, lang: str) -> go.Figure:
    return go.Figure(
        {
            "data": [{"type": "scatter", "x": [0], "y": [0], "mode": "text", "text": [""]}],
            "layout": {
                "title": {
                    "text": Text("Cannot evaluate this expression", "无法计算该表达式")(lang)
                },
                "height": 240,
                "xaxis": {"visible": False},
                "yaxis": {"visible": False},
                "annotations": [caption(message, y=0.5, size=14)],
            },
        },
        _validate=False,
    )


def render(p: Params, lang: str = "en") -> Rendered:
    try:
        run = _run(p)
    except ValueError as error:
        message = Text(
            f"{error} — torch would produce inf or nan here; change x, y, z or the expression.",
            f"{error} —— torch 在这里会得到 inf 或 nan；请调整 x、y、z 或表达式。",
        )(lang)
        return Rendered([_error_figure(message, lang)], message)
    graph = _no_grad_figure(p, run, lang) if p.no_grad else _graph_figure(p, run, lang)
    figures = [graph, _grad_figure(p, run, lang)]
    rows = "\n".join(
        f"| {name} | {_short(run.grads[name])} | "
        f"{_short(run.accumulated[-1][name]) if run.accumulated[-1][name] is not None else 'None'} |"
        for name in run.values
    )
    wrapped = Text(
        f"x is a vector, so the result was summed first: `{run.expression}` (like `loss = out.sum()`).\n\n",
        f"x 是向量，结果先求和：`{run.expression}`（就像 `loss = out.sum()`）。\n\n",
    )
    header = Text(
        f"value = {run.value:.6g}\n\n| leaf | torch.autograd.grad | .grad after {p.backward_calls} call(s) |\n|---|---|---|",
        f"值 = {run.value:.6g}\n\n| 叶子 | torch.autograd.grad | {p.backward_calls} 次调用后的 .grad |\n|---|---|---|",
    )
    checks = Text(
        f"Step-by-step sweep (Σ edge contributions at each leaf) vs torch.autograd.grad: "
        f"max |Δ| = {run.sweep_error:.1e}. gradcheck (finite differences): "
        f"{'passed' if run.gradcheck else 'failed — detach hides a dependence the numbers have'}.",
        f"逐步反向扫描（每个叶子处各边贡献之和）与 torch.autograd.grad 的最大 |Δ| = {run.sweep_error:.1e}。"
        f"gradcheck（有限差分）：{'通过' if run.gradcheck else '未通过——detach 隐藏了数值上真实存在的依赖'}。",
    )
    chain = "\n".join(run.chain)
    notes = (
        (wrapped(lang) if run.shift else "")
        + header(lang)
        + "\n"
        + rows
        + "\n\n"
        + checks(lang)
        + f"\n\n```\nresult.grad_fn\n{chain}\n```"
    )
    return Rendered(figures, notes)


# --- presets and text -----------------------------------------------------------------------------

presets = {
    "Product rule": Params(example="product", x=1.0, y=0.5),
    "A variable used twice: gradients add": Params(example="twice", x=1.5),
    "detach cuts a path": Params(example="detach", x=2.0, y=1.0, z=3.0),
    "Vectors through sum and mean": Params(example="vector", x_length=4, x=-1.0, y=2.0),
    "Two backward calls double .grad": Params(example="double", backward_calls=2, x=2.0, y=3.0),
    "Baydin et al.'s example": Params(example="typed", x=2.0, y=5.0),
    "relu passes a gradient only where it is active": Params(
        example="typed", expression="relu(x - 1) * y + relu(1 - x) * z", x=2.0, y=3.0, z=-1.0
    ),
}
preset_titles = {
    "Product rule": Text("Product rule", "乘法法则"),
    "A variable used twice: gradients add": Text(
        "A variable used twice: gradients add", "变量用了两次：梯度相加"
    ),
    "detach cuts a path": Text("detach cuts a path", "detach 切断一条路径"),
    "Vectors through sum and mean": Text("Vectors through sum and mean", "向量经过 sum 与 mean"),
    "Two backward calls double .grad": Text(
        "Two backward calls double .grad", "两次 backward 使 .grad 翻倍"
    ),
    "Baydin et al.'s example": Text(
        "Baydin et al.'s example: ln x + x·y − sin y", "Baydin 等人的例子：ln x + x·y − sin y"
    ),
    "relu passes a gradient only where it is active": Text(
        "relu passes a gradient only where it is active", "relu 只在激活处传递梯度"
    ),
}

EXPLANATION = Text(
    en="""
**Define by run.** PyTorch builds the graph while your code runs (Paszke et al. 2017, 2019):
each operation on a tensor that requires a gradient returns a result whose `grad_fn` remembers
the backward function (`MulBackward0`, `SinBackward0`, …) and, in `next_functions`, where to send
the gradient next. Leaves you created have no `grad_fn`; the graph reaches them through
`AccumulateGrad`, which adds into `.grad`. This list of elementary steps is Wengert's (1964)
evaluation trace; walking it backwards is reverse-mode automatic differentiation (Baydin et al.
2018, who work the example ln x + x·y − sin y at x = 2, y = 5: the last preset).

**What to look at.** Press ▶ or drag the step slider: backward starts at the result with
gradient 1 and visits the operations in reverse topological order. Every edge multiplies the
gradient arriving from above by the local derivative of that one operation (for × it is the
other factor: the product rule). A leaf used twice receives two contributions and
AccumulateGrad adds them. `detach` returns a tensor with no history: its edge is cut (dashed),
nothing flows through it, and `gradcheck`, which compares with finite differences, then fails,
because the value still depends on that input. Calling `backward(retain_graph=True)` twice adds
the same gradient again, so `.grad` doubles unless you `zero_grad()` in between; this is why
training loops clear gradients every step. Under `torch.no_grad()` nothing is recorded, and
backward raises torch's own error.
""",
    zh="""
**边运行边建图。** PyTorch 在代码执行时构建计算图（Paszke 等，2017、2019）：对需要梯度的张量做的每个运算，
都会返回一个结果，其 `grad_fn` 记住对应的反向函数（`MulBackward0`、`SinBackward0` 等），并在 `next_functions`
中记下梯度接着传往何处。你自己创建的叶子张量没有 `grad_fn`，计算图通过 `AccumulateGrad` 到达它们，并把梯度累加进
`.grad`。这串基本运算就是 Wengert（1964）的求值轨迹；沿它反向走一遍就是反向模式自动微分（Baydin 等，2018，
他们以 x = 2、y = 5 时的 ln x + x·y − sin y 为例：即最后一个预设）。

**观察要点。** 点击 ▶ 或拖动步数滑块：反向传播从结果出发，初始梯度为 1，按逆拓扑序访问各个运算。每条边把上游传来的梯度
乘以该运算的局部导数（乘法的局部导数就是另一个因子：乘法法则）。被用了两次的叶子会收到两份贡献，由 AccumulateGrad
相加。`detach` 返回一个没有历史的张量：它的边被切断（虚线），梯度无法通过；而用有限差分做比较的 `gradcheck`
此时会失败，因为数值上结果仍依赖该输入。连续两次调用 `backward(retain_graph=True)` 会把同样的梯度再加一遍，
所以除非中间 `zero_grad()`，`.grad` 会翻倍——这就是训练循环每一步都要清空梯度的原因。在 `torch.no_grad()`
下什么都不会被记录，backward 会抛出 torch 自己的错误。
""",
)

DEMO = Demo(
    slug="autograd",
    section="training",
    figures=2,
    title=Text("Autograd: the graph behind backward()", "自动求导：backward() 背后的计算图"),
    summary=Text(
        "Type an expression and watch torch's recorded graph pass gradients back, edge by edge.",
        "输入一个表达式，看 torch 记录的计算图如何逐条边地把梯度传回去。",
    ),
    sources=(
        Source(
            "A simple automatic derivative evaluation program",
            "R. E. Wengert",
            1964,
            "https://doi.org/10.1145/355586.364791",
        ),
        Source(
            "Automatic differentiation in machine learning: a survey",
            "A. G. Baydin, B. A. Pearlmutter, A. A. Radul, J. M. Siskind",
            2018,
            "https://arxiv.org/abs/1502.05767",
        ),
        Source(
            "Automatic differentiation in PyTorch",
            "A. Paszke et al.",
            2017,
            "https://openreview.net/forum?id=BJJsrmfCZ",
        ),
        Source(
            "PyTorch: an imperative style, high-performance deep learning library",
            "A. Paszke et al.",
            2019,
            "https://arxiv.org/abs/1912.01703",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
