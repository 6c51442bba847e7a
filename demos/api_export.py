"""@tf_export: how does one Python function get many public names in TensorFlow's API?

`tf_export = functools.partial(api_export, api_name="tensorflow")`; `@tf_export("math.add",
"add")` builds an `api_export` object that, called on `add`, writes the names onto it and
registers them, then returns `add` itself. The figure draws the registry as a bipartite graph
(objects → public names in v2 and tf.compat.v1, every edge ending at one object), lights the
path of a lookup, and steps through what the decorator does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.plots_steps import edge_lines, step_controls
from demos.theme import COLORWAY, caption


@dataclass(frozen=True)
class Export:
    """One decorated definition of an example: `@decorator(*names, v1=v1) def obj`."""

    decorator: str  # "tf_export" | "keras_export"
    obj: str  # the definition's name: a function, or a class when it starts with a capital
    names: tuple[str, ...]
    v1: tuple[str, ...] | None = None
    base: str = ""  # a class's base, for the inheritance example
    again: bool = False  # decorate the object defined earlier under this name, once more

    def source(self) -> str:
        args = [repr(name) for name in self.names]
        if self.v1 is not None:
            args.append(f"v1={list(self.v1)!r}")
        return f"@{self.decorator}({', '.join(args)})"


EXAMPLES: dict[str, tuple[Export, ...]] = {
    "one_many": (
        Export("tf_export", "add", ("math.add", "add")),
        Export("tf_export", "multiply", ("math.multiply", "multiply"), ("math.multiply", "mul")),
        Export("tf_export", "relu", ("nn.relu",)),
    ),
    "v1_only": (
        Export("tf_export", "run", (), ("app.run",)),
        Export("tf_export", "add", ("math.add", "add")),
    ),
    "keras": (
        Export("keras_export", "Dense", ("keras.layers.Dense",)),
        Export("keras_export", "relu", ("keras.activations.relu",)),
        Export("tf_export", "relu", ("nn.relu",), again=True),
        Export("tf_export", "add", ("math.add", "add")),
    ),
    "taken": (
        Export("tf_export", "add", ("math.add", "add")),
        Export("tf_export", "add_v2", ("add",)),
        Export("tf_export", "multiply", ("math.multiply",)),
    ),
    "twice": (
        Export("tf_export", "add", ("math.add", "add")),
        Export("tf_export", "add", ("plus",), again=True),
        Export("tf_export", "Layer", ("Module",)),
        Export("tf_export", "Dense", ("layers.Dense",), base="Layer"),
    ),
}
EXAMPLE_NAMES = {
    "one_many": Text("math.add under two names", "math.add 有两个名字"),
    "v1_only": Text("v1 only: app.run", "仅 v1：app.run"),
    "keras": Text("a Keras layer", "Keras 层"),
    "taken": Text("a taken name", "名字已被占用"),
    "twice": Text("exporting twice", "重复导出"),
}


LOOKUP_NAMES = (
    "add",
    "math.add",
    "math.multiply",
    "multiply",
    "mul",
    "nn.relu",
    "app.run",
    "keras.layers.Dense",
    "keras.activations.relu",
    "plus",
    "Module",
    "layers.Dense",
    "math.subtract",
)
LookupName = Literal[LOOKUP_NAMES]  # type: ignore[valid-type]


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    example: Literal["one_many", "v1_only", "keras", "taken", "twice"] = param(
        "one_many", en="Example set", zh="示例", choices=EXAMPLE_NAMES
    )
    lookup_name: LookupName = param(
        "add",
        en="Look up a public name",
        zh="查找一个公开名字",
        help_en="Every name of the examples, and one that no example exports (math.subtract).",
        help_zh="示例中出现的所有名字，外加一个没有任何示例导出的名字（math.subtract）。",
        choices={name: Text(name, name) for name in LOOKUP_NAMES},
    )
    version: Literal["v2", "v1"] = param(
        "v2",
        en="API version",
        zh="API 版本",
        choices={"v2": Text("tf (v2)", "tf（v2）"), "v1": Text("tf.compat.v1", "tf.compat.v1")},
    )
    api: Literal["tensorflow", "keras"] = param(
        "tensorflow",
        en="api_name",
        zh="api_name（API 名称）",
        choices={"tensorflow": Text("tensorflow", "tensorflow"), "keras": Text("keras", "keras")},
    )


# --- running an example ------------------------------------------------------------------------


@dataclass
class Outcome:
    export: Export
    obj: Any
    error: str = ""  # the ValueError's message when the decorator refused


@functools.cache
def _build(example: str) -> tuple[dict, list[Outcome]]:
    """Run the example's decorations in a fresh registry (cached: the objects keep their id)."""
    from core.framework.api_export import keras_export, tf_export

    registry: dict = {}
    defined: dict[str, Any] = {}
    outcomes = []
    for export in EXAMPLES[example]:
        if export.again:
            obj = defined[export.obj]
        elif export.obj[0].isupper():
            bases = (defined[export.base],) if export.base else ()
            obj = type(export.obj, bases, {})
        else:
            obj = _function(export.obj)
        decorator = tf_export if export.decorator == "tf_export" else keras_export
        try:
            decorator(*export.names, v1=export.v1, registry=registry)(obj)
            outcomes.append(Outcome(export, obj))
        except ValueError as error:
            outcomes.append(Outcome(export, obj, str(error)))
        defined.setdefault(export.obj, obj)
    return registry, outcomes


def _function(name: str) -> Any:
    def function(*args: Any) -> Any:
        return args

    function.__name__ = function.__qualname__ = name
    return function


def _steps(example: str) -> list[dict]:
    """The decorator's steps for the example's first export, recorded by core's trace."""
    from core.framework.api_export import api_export
    from core.trace import Trace

    first = EXAMPLES[example][0]
    trace = Trace()
    api_name = "keras" if first.decorator == "keras_export" else "tensorflow"
    obj = type(first.obj, (), {}) if first.obj[0].isupper() else _function(first.obj)
    decorator = api_export(*first.names, v1=first.v1, api_name=api_name, registry={}, trace=trace)
    returned = decorator(obj)
    steps = [
        {
            "code": f"{first.decorator} = functools.partial(api_export, api_name={api_name!r})",
            "what": Text("the partial fixes one keyword", "偏函数固定了一个关键字参数"),
        },
        {
            "code": f"{first.decorator}(" + first.source().split("(", 1)[1],
            "what": Text(
                "__init__ keeps names, v1, api_name",
                "__init__ 保存名字、v1、api_name",
            ),
        },
        {
            "code": f"decorator({first.obj})",
            "what": Text("__call__ runs when @ applies it", "@ 应用时执行 __call__"),
        },
    ]
    for event in trace["set"]:
        steps.append(
            {
                "code": f"{first.obj}.{event['attribute']} = {event['value']!r}",
                "what": Text("an attribute on the object", "写到对象上的属性"),
            }
        )
    for event in trace["register"]:
        steps.append(
            {
                "code": f"registry[{event['api_name']!r}, v{event['version']}, {event['name']!r}]"
                f" = {first.obj}",
                "what": Text("one public name registered", "登记一个公开名字"),
            }
        )
    steps.append(
        {
            "code": f"return {first.obj}   # returned is {first.obj}: {returned is obj}",
            "what": Text("the object itself, unchanged", "返回对象本身，未被包装"),
        }
    )
    return steps


# --- figure 1: the registry as a bipartite graph --------------------------------------------------


def _label(obj: Any, number: int) -> str:
    # The object's number in this figure, not its id(): ids change from process to process,
    # and a render must be the same every time (links, exports, the gallery's preview).
    kind = "class" if isinstance(obj, type) else "def"
    return f"{kind} {obj.__name__}<br>object #{number}"


def _registry_figure(p: Params, lang: str) -> go.Figure:
    from core.framework.api_export import lookup

    registry, outcomes = _build(p.example)
    objects = list({id(o.obj): o.obj for o in outcomes}.values())
    columns = [
        (api, version)
        for api in ("tensorflow", "keras")
        for version in (2, 1)
        if any(key[0] == api for key in registry)
    ]
    names = {column: sorted(k[2] for k in registry if k[:2] == column) for column in columns}
    try:
        found = lookup(p.lookup_name, registry, version=int(p.version[1]), api_name=p.api)
    except KeyError:
        found = None
    rows = max([len(objects), *(len(v) for v in names.values())])

    def y(k: int, n: int) -> float:
        return (n - 1) / 2 - k if n else 0.0

    object_y = {id(obj): y(k, len(objects)) for k, obj in enumerate(objects)}
    edges_x: list[Any] = []
    edges_y: list[Any] = []
    lit_x: list[Any] = []
    lit_y: list[Any] = []
    name_x, name_y, name_text, name_color = [], [], [], []
    key_wanted = (p.api, int(p.version[1]), p.lookup_name)
    for c, column in enumerate(columns, start=1):
        for k, name in enumerate(names[column]):
            obj = registry[(*column, name)]
            ny = y(k, len(names[column]))
            hit = (*column, name) == key_wanted
            xs, ys = (lit_x, lit_y) if hit else (edges_x, edges_y)
            xs += [0, c, None]
            ys += [object_y[id(obj)], ny, None]
            name_x.append(c)
            name_y.append(ny)
            name_text.append(name)
            name_color.append(COLORWAY[1] if hit else COLORWAY[0])
    refused_x: list[Any] = []
    refused_y: list[Any] = []
    refusals = [o for o in outcomes if o.error]
    for o in refusals:  # the attempted edge: to the taken name, or a stub when none is drawn
        api = "keras" if o.export.decorator == "keras_export" else "tensorflow"
        target = next(
            (
                (c, y(names[column].index(name), len(names[column])))
                for c, column in enumerate(columns, start=1)
                for name in o.export.names
                if column == (api, 2) and name in names[column]
            ),
            (0.5, object_y[id(o.obj)] - 0.35),
        )
        refused_x += [0, target[0], None]
        refused_y += [object_y[id(o.obj)], target[1], None]
    headers = {
        ("tensorflow", 2): Text("tf (v2)", "tf（v2）"),
        ("tensorflow", 1): Text("tf.compat.v1", "tf.compat.v1"),
        ("keras", 2): Text("keras (v2)", "keras（v2）"),
        ("keras", 1): Text("keras v1", "keras v1"),
    }
    data = [
        edge_lines(
            edges_x,
            edges_y,
            Text("registry entry", "登记项")(lang),
            {"color": "rgba(128,128,128,0.6)", "width": 1.5},
        ),
        edge_lines(
            lit_x,
            lit_y,
            Text("the lookup's path", "查找路径")(lang),
            {"color": COLORWAY[1], "width": 4},
        ),
        edge_lines(
            refused_x,
            refused_y,
            Text("refused: ValueError", "被拒绝：ValueError")(lang),
            {"color": "#D62728", "width": 2, "dash": "dot"},
        ),
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": [0] * len(objects),
            "y": [object_y[id(obj)] for obj in objects],
            "text": [_label(obj, k + 1) for k, obj in enumerate(objects)],
            "textposition": "middle left",
            "marker": {
                "size": 22,
                "symbol": "square",
                "color": [COLORWAY[1] if obj is found else COLORWAY[2] for obj in objects],
            },
            "name": Text("Python object", "Python 对象")(lang),
            "hoverinfo": "text",
        },
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": name_x,
            "y": name_y,
            "text": name_text,
            "textposition": "middle right",
            "marker": {"size": 12, "color": name_color},
            "name": Text("public name", "公开名字")(lang),
            "hoverinfo": "text",
        },
    ]
    annotations = [
        caption(
            headers[column](lang),
            x=c,
            y=(rows - 1) / 2 + 0.5,
            xref="x",
            yref="y",
            xanchor="center",
            size=13,
        )
        for c, column in enumerate(columns, start=1)
    ]
    for k, o in enumerate(refusals):
        annotations.append(
            caption(
                f"✗ {o.export.source()} {o.export.obj}: ValueError: {o.error}",
                y=-0.1 - 0.07 * k,
                size=11,
            )
        )
    where = f"{p.api} {p.version}"
    if found is None:
        result = Text(
            f"lookup({p.lookup_name!r}) in {where}: KeyError",
            f"在 {where} 中 lookup({p.lookup_name!r})：KeyError",
        )
    else:
        result = Text(
            f"lookup({p.lookup_name!r}) in {where} → {found.__name__}",
            f"在 {where} 中 lookup({p.lookup_name!r}) → {found.__name__}",
        )
    title = Text(
        f"The registry: objects → public names · {result.en}",
        f"登记表：对象 → 公开名字 · {result.zh}",
    )
    width = len(columns) + 1
    return go.Figure(
        {
            "data": data,
            "layout": {
                "title": {"text": title(lang)},
                "height": 220 + 50 * rows + 25 * len(refusals),
                "margin": {"t": 90, "b": 60 + 25 * len(refusals), "l": 20, "r": 20},
                "xaxis": {"visible": False, "range": [-1.2, width - 0.2]},
                "yaxis": {"visible": False, "range": [-(rows + 1) / 2, (rows + 1) / 2 + 0.2]},
                "legend": {"orientation": "h", "y": 1.08, "x": 1, "xanchor": "right"},
                "annotations": annotations,
            },
        },
        _validate=False,
    )


# --- figure 2: the decorator, step by step ----------------------------------------------------------


def _steps_figure(p: Params, lang: str) -> go.Figure:
    steps = _steps(p.example)
    n = len(steps)
    ys = [-k for k in range(n)]

    def colors(current: int) -> list[str]:
        return [
            COLORWAY[1]
            if k == current
            else (COLORWAY[0] if k < current else "rgba(150,150,150,0.5)")
            for k in range(n)
        ]

    data = [
        {
            "type": "scatter",
            "mode": "markers+text",
            "x": [0] * n,
            "y": ys,
            "marker": {"size": 14, "color": colors(n - 1)},
            "text": [f"<b>{s['code']}</b>" for s in steps],
            "textposition": "middle right",
            "textfont": {"family": "monospace", "size": 12},
            "hoverinfo": "skip",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "text",
            "x": [0.62] * n,
            "y": ys,
            "text": [s["what"](lang) for s in steps],
            "textposition": "middle right",
            "hoverinfo": "skip",
            "showlegend": False,
        },
    ]
    frames = [
        {"name": str(k), "data": [{"marker": {"color": colors(k)}}], "traces": [0]}
        for k in range(n)
    ]
    first = EXAMPLES[p.example][0]
    title = Text(
        f"What {first.source()} does to {first.obj}, step by step",
        f"{first.source()} 对 {first.obj} 做了什么，逐步展示",
    )
    return go.Figure(
        {
            "data": data,
            "frames": frames,
            "layout": {
                "title": {"text": title(lang)},
                "height": 150 + 34 * n,
                "margin": {"t": 60, "b": 70, "l": 20, "r": 20},
                "xaxis": {"visible": False, "range": [-0.03, 1.0]},
                "yaxis": {"visible": False, "range": [-n + 0.4, 0.6]},
                **step_controls(n, lang, Text("step", "步骤")),
            },
        },
        _validate=False,
    )


def render(p: Params, lang: str = "en") -> Rendered:
    from core.framework.api_export import keras_export, tf_export

    registry, outcomes = _build(p.example)
    figures = [_registry_figure(p, lang), _steps_figure(p, lang)]
    rows = [
        f"| `{name}` | `{partial.func.__name__}` | `{partial.args!r}` | `{partial.keywords!r}` |"
        for name, partial in (("tf_export", tf_export), ("keras_export", keras_export))
    ]
    header = Text(
        "| partial | .func | .args | .keywords |\n|---|---|---|---|",
        "| 偏函数 | .func | .args | .keywords |\n|---|---|---|---|",
    )
    objects = {id(o.obj): o.obj for o in outcomes}
    attributes = []
    for obj in objects.values():
        own = {k: v for k, v in vars(obj).items() if k.endswith(("_api_names", "_api_names_v1"))}
        shown = ", ".join(f"`{k} = {v!r}`" for k, v in own.items())
        refused = Text("no attributes (refused, left unchanged)", "没有属性（被拒绝，未被改动）")
        attributes.append(f"- `{obj.__name__}`: " + (shown or refused(lang)))
    entries = Text(
        f"{len(registry)} registry entries point at {len({id(v) for v in registry.values()})} objects.",
        f"登记表中 {len(registry)} 个条目指向 {len({id(v) for v in registry.values()})} 个对象。",
    )
    notes = "\n".join([header(lang), *rows, "", entries(lang), "", *attributes])
    return Rendered(figures, notes)


# --- presets and text -----------------------------------------------------------------------------

presets = {
    "One function, many names": Params(example="one_many", lookup_name="add"),
    "v1 only: app.run": Params(example="v1_only", lookup_name="app.run"),
    "keras_export is the same decorator": Params(
        example="keras", lookup_name="keras.layers.Dense", api="keras"
    ),
    "A taken name is refused": Params(example="taken", lookup_name="add"),
}
preset_titles = {
    "One function, many names": Text("One function, many names", "一个函数，多个名字"),
    "v1 only: app.run": Text("v1 only: app.run", "仅 v1：app.run"),
    "keras_export is the same decorator": Text(
        "keras_export is the same decorator", "keras_export 是同一个装饰器"
    ),
    "A taken name is refused": Text("A taken name is refused", "已被占用的名字会被拒绝"),
}

EXPLANATION = Text(
    en="""
**A decorator is a function call.** `@d` above `def add` means `add = d(add)` (PEP 318, 2003).
In TensorFlow `@tf_export("math.add", "add")` first calls `tf_export("math.add", "add")`, and
`tf_export` is `functools.partial(api_export, api_name="tensorflow")` (PEP 309, 2003): a callable
that remembers a function and some arguments, here one keyword. So the call builds an
`api_export` object whose `__init__` keeps the names; Python then calls that object on `add`,
and `__call__` writes `_tf_api_names` onto the function, records every name in the API registry
and returns `add` itself. Nothing wraps it: `tf.add`, `tf.math.add` and `tf.compat.v1.add` are
one object (see the ids in the graph). TensorFlow's API generator later turns the registry into
the `tf.*` modules (Abadi et al. 2016).

**What to look at.** Each square is one Python object, each dot a public name; a name has
exactly one edge. `v1=[...]` gives tf.compat.v1 its own names: `app.run` exists only there,
so a v2 lookup raises KeyError. `keras_export` is the same class with `api_name="keras"`, so it
writes `_keras_api_names` instead. A name already bound to another object, or an object exported
twice under one API, is refused before anything changes (a subclass may be exported although it
inherits its base's attribute). Press ▶ to step through the decorator.
""",
    zh="""
**装饰器就是一次函数调用。** 写在 `def add` 上方的 `@d` 等价于 `add = d(add)`（PEP 318，2003）。在 TensorFlow 中，
`@tf_export("math.add", "add")` 先调用 `tf_export("math.add", "add")`，而 `tf_export` 是
`functools.partial(api_export, api_name="tensorflow")`（PEP 309，2003）：一个记住了函数和部分参数（这里是一个关键字参数）
的可调用对象。于是这次调用构造出一个 `api_export` 对象，其 `__init__` 保存这些名字；随后 Python 用 `add` 调用这个对象，
`__call__` 把 `_tf_api_names` 写到函数上，把每个名字登记进 API 登记表，然后返回 `add` 本身。它没有被包装：
`tf.add`、`tf.math.add` 与 `tf.compat.v1.add` 是同一个对象（看图中的 id）。TensorFlow 的 API 生成器之后根据登记表生成
`tf.*` 模块（Abadi 等，2016）。

**观察要点。** 每个方块是一个 Python 对象，每个圆点是一个公开名字；每个名字恰有一条边。`v1=[...]` 为 tf.compat.v1
指定自己的名字：`app.run` 只存在于 v1 中，所以在 v2 中查找会得到 KeyError。`keras_export` 是同一个类，只是
`api_name="keras"`，因此写入的是 `_keras_api_names`。名字已绑定到另一个对象，或同一对象在同一 API 下被导出两次，
都会在任何改动发生之前被拒绝（子类即使继承了基类的属性，仍可以导出）。点击 ▶ 逐步查看装饰器的执行过程。
""",
)

DEMO = Demo(
    slug="api-export",
    section="training",
    figures=2,
    title=Text("@tf_export: one function, many names", "@tf_export：一个函数，多个名字"),
    summary=Text(
        "A decorator built from functools.partial registers public API names and returns the function itself.",
        "由 functools.partial 构造的装饰器登记公开 API 名字，并返回函数本身。",
    ),
    sources=(
        Source(
            "PEP 318: Decorators for functions and methods",
            "K. D. Smith et al.",
            2003,
            "https://peps.python.org/pep-0318/",
        ),
        Source(
            "PEP 309: Partial function application",
            "P. Harris",
            2003,
            "https://peps.python.org/pep-0309/",
        ),
        Source(
            "TensorFlow: large-scale machine learning on heterogeneous distributed systems",
            "M. Abadi et al.",
            2016,
            "https://arxiv.org/abs/1603.04467",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
