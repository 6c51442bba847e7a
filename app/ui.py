"""The page: one tab per demo, grouped by section, every control generated from `Params`.

Per demo there are two events on the same render: the UI's (private; it also takes the page's
language and theme) and the public API endpoint `/<slug>`, whose inputs are exactly the
`Params` fields in declaration order. Both share one concurrency group, so at most
`RENDER_CONCURRENCY` renders run at once whatever the mix of demos and clients.
"""

from __future__ import annotations

import inspect
from typing import Any

import gradio as gr
from gradio.components.plot import PlotData

from demos import SECTIONS, Demo, ParamsError, all_demos
from demos.base import LANGS, Control, Text
from demos.theme import figure_json

RENDER_CONCURRENCY = 2  # the target machine has 2 cores; more only adds contention
QUEUE_SIZE = 64  # requests waiting beyond this are refused with "queue is full"

UI = {
    "language": Text("Language", "语言"),
    "preset": Text("Preset", "预设"),
    "preset_info": Text("A parameter set that tells one story", "展示一个现象的参数组合"),
    "explanation": Text("What is going on", "原理解读"),
    "sources": Text("Papers and sources", "论文与来源"),
    "numbers": Text("Numbers", "数值"),
    "heading": Text("ML explainers playground", "机器学习图解实验场"),
    "tagline": Text(
        "Move a control and the real algorithm runs again.",
        "拖动任意控件，真实的算法会立即重新运行。",
    ),
}
LANG_CHOICES = [("English", "en"), ("中文", "zh")]


def _lang(value: Any) -> str:
    return value if value in LANGS else "en"


def _theme(value: Any) -> str:
    return "dark" if value == "dark" else "light"


def plot_payload(figure: Any, theme: str) -> PlotData:
    """Plotly JSON built once, handed to gr.Plot as is (no second serialisation)."""
    return PlotData(type="plotly", plot=figure_json(figure, theme))


def _control(control: Control, prefix: str) -> gr.components.Component:
    common = {
        "label": control.label.en,
        "info": control.help.en or None,
        "elem_id": f"{prefix}-{control.name}",
    }
    choices = [(text.en, value) for value, text in control.choices]
    if control.kind == "slider":
        return gr.Slider(
            control.minimum,
            control.maximum,
            value=control.default,
            step=control.step,
            precision=0 if control.integer else None,
            **common,
        )
    if control.kind == "checkbox":
        return gr.Checkbox(value=control.default, **common)
    if control.kind == "radio":
        return gr.Radio(choices=choices, value=control.default, **common)
    if control.kind == "dropdown":
        return gr.Dropdown(choices=choices, value=control.default, **common)
    return gr.CheckboxGroup(choices=choices, value=list(control.default), **common)


def _relabel(control: Control, lang: str) -> dict:
    update: dict[str, Any] = {"label": control.label(lang), "info": control.help(lang) or None}
    if control.choices:
        update["choices"] = [(text(lang), value) for value, text in control.choices]
    return gr.update(**update)


def _header(demo: Demo, lang: str) -> str:
    return f"## {demo.title(lang)}\n{demo.summary(lang)}"


def _about(demo: Demo, lang: str) -> str:
    sources = "\n".join(f"- {source.markdown()}" for source in demo.sources)
    return (
        f"### {UI['explanation'](lang)}\n{demo.explanation(lang).strip()}\n\n"
        f"### {UI['sources'](lang)}\n{sources}"
    )


class DemoView:
    """The components of one demo's tab and the handlers that fill them."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.initial = demo.render(lang="en")
        with gr.Tab(demo.title.en, id=demo.slug, elem_id=f"tab-{demo.slug}") as self.tab:
            self.header = gr.Markdown(_header(demo, "en"), elem_id=f"{demo.slug}-header")
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=300):
                    self.preset = gr.Dropdown(
                        choices=self._preset_choices("en"),
                        value=None,
                        label=UI["preset"].en,
                        info=UI["preset_info"].en,
                        elem_id=f"{demo.slug}-preset",
                    )
                    self.controls = [_control(c, demo.slug) for c in demo.controls]
                with gr.Column(scale=3, min_width=480):
                    self.plots = [
                        gr.Plot(
                            plot_payload(figure, "light"),
                            label=f"figure {index + 1}",  # names the API's outputs
                            show_label=False,
                            elem_id=f"{demo.slug}-fig{index}",
                        )
                        for index, figure in enumerate(self.initial.figures)
                    ]
                    self.notes = gr.Markdown(
                        self.initial.notes, label="notes", elem_id=f"{demo.slug}-notes"
                    )
            self.about = gr.Markdown(_about(demo, "en"), elem_id=f"{demo.slug}-about")
            self.api_trigger = gr.Button(visible=False)

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [*self.plots, self.notes]

    def _preset_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.demo.preset_titles[name](lang), name) for name in self.demo.presets]

    def _render(self, values: tuple, lang: str, theme: str) -> list:
        try:
            params = self.demo.parse(dict(zip(self.demo.fields, values, strict=True)))
        except ParamsError as error:
            raise gr.Error(str(error), print_exception=False) from None
        rendered = self.demo.render(params, lang=lang)
        return [*(plot_payload(f, theme) for f in rendered.figures), rendered.notes]

    def api_handler(self):
        """The public endpoint: inputs are the Params fields, named and in order."""

        def endpoint(*values: Any) -> list:
            # A wrong number of values never gets here: app.server.checked_inputs refuses it
            # by name (Gradio would refuse too few without a word and drop extra ones).
            return self._render(values, "en", "light")

        endpoint.__name__ = self.demo.slug.replace("-", "_")
        endpoint.__signature__ = inspect.Signature(
            [
                inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                for name in self.demo.fields
            ]
        )
        return endpoint

    def ui_handler(self, lang: Any, theme: Any, *values: Any) -> list:
        return self._render(values, _lang(lang), _theme(theme))

    def apply_preset(self, name: Any) -> list:
        preset = self.demo.presets.get(name)
        if preset is None:
            return [gr.skip() for _ in self.controls]
        return [gr.update(value=getattr(preset, field)) for field in self.demo.fields]

    def relabel(self, lang: str) -> list:
        return [
            gr.update(label=self.demo.title(lang)),
            _header(self.demo, lang),
            gr.update(
                label=UI["preset"](lang),
                info=UI["preset_info"](lang),
                choices=self._preset_choices(lang),
            ),
            *(_relabel(control, lang) for control in self.demo.controls),
            _about(self.demo, lang),
        ]

    @property
    def relabel_outputs(self) -> list:
        return [self.tab, self.header, self.preset, *self.controls, self.about]


# Marks the page as ready for tests and scripts once the load handler has run.
READY_JS = "() => { document.documentElement.dataset.appReady = '1'; }"


def build() -> gr.Blocks:
    """The whole playground as one Blocks (mounted by app.server)."""
    views: list[DemoView] = []
    section_tabs: dict[str, gr.Tab] = {}
    inner_tabs: dict[str, gr.Tabs] = {}
    with gr.Blocks(title=UI["heading"].en, delete_cache=(600, 600)) as blocks:
        lang = gr.State("en")
        theme = gr.State("light")
        current = gr.State(all_demos[0].slug)
        shown = gr.State({demo.slug: ["en", "light"] for demo in all_demos})
        with gr.Row(elem_id="topbar"):
            heading = gr.Markdown(f"# {UI['heading'].en}\n{UI['tagline'].en}", elem_id="heading")
            lang_radio = gr.Radio(
                LANG_CHOICES,
                value="en",
                label=UI["language"].en,
                elem_id="lang",
                scale=0,
                min_width=180,
            )
        with gr.Tabs(elem_id="sections") as sections:
            for key, demos in all_demos.sections():
                with gr.Tab(SECTIONS[key].en, id=key, elem_id=f"section-{key}") as section_tab:
                    section_tabs[key] = section_tab
                    with gr.Tabs(elem_id=f"tabs-{key}") as inner_tabs[key]:
                        views.extend(DemoView(demo) for demo in demos)

        by_slug = {view.demo.slug: view for view in views}
        render_options = {
            "preprocess": False,
            "concurrency_id": "render",
            "concurrency_limit": RENDER_CONCURRENCY,
            "trigger_mode": "always_last",
        }

        def render_current(
            slug: str, shown: dict, lang_value: str, theme_value: str, *values: Any
        ) -> list:
            """Re-render the visible demo if its figures are in another language or theme.

            `shown` maps each slug to the [lang, theme] its figures were last drawn in; the
            figures built with the page are English and light, so a plain page load renders
            nothing twice. Control changes always render (their own event).
            """
            results: list = []
            for view in views:
                if view.demo.slug == slug and shown.get(slug) != [lang_value, theme_value]:
                    start = sum(len(v.controls) for v in views[: views.index(view)])
                    own = values[start : start + len(view.controls)]
                    results.extend(view.ui_handler(lang_value, theme_value, *own))
                else:
                    results.extend(gr.skip() for _ in view.outputs)
            return [{**shown, slug: [lang_value, theme_value]}, *results]

        all_controls = [control for view in views for control in view.controls]
        all_outputs = [output for view in views for output in view.outputs]

        single_render = {k: v for k, v in render_options.items() if k != "trigger_mode"}

        for view in views:
            gr.on(
                [control.change for control in view.controls],
                view.ui_handler,
                [lang, theme, *view.controls],
                view.outputs,
                api_visibility="private",
                **render_options,
            )
            view.api_trigger.click(
                view.api_handler(),
                view.controls,
                view.outputs,
                api_name=view.demo.slug,
                **render_options,
            )
            view.preset.change(
                view.apply_preset,
                view.preset,
                view.controls,
                api_visibility="private",
                preprocess=False,
            )
            view.tab.select(
                lambda slug=view.demo.slug: slug, None, current, api_visibility="private"
            ).then(
                render_current,
                [current, shown, lang, theme, *all_controls],
                [shown, *all_outputs],
                api_visibility="private",
                **single_render,
            )

        def relabel_all(lang_value: Any) -> list:
            lang_value = _lang(lang_value)
            updates = [
                lang_value,
                f"# {UI['heading'](lang_value)}\n{UI['tagline'](lang_value)}",
                gr.update(label=UI["language"](lang_value)),
                *(gr.update(label=SECTIONS[key](lang_value)) for key in section_tabs),
            ]
            for view in views:
                updates.extend(view.relabel(lang_value))
            return updates

        relabel_outputs = [
            lang,
            heading,
            lang_radio,
            *section_tabs.values(),
            *(output for view in views for output in view.relabel_outputs),
        ]
        lang_radio.change(
            relabel_all, lang_radio, relabel_outputs, api_visibility="private", preprocess=False
        ).then(
            render_current,
            [current, shown, lang, theme, *all_controls],
            [shown, *all_outputs],
            api_visibility="private",
            **single_render,
        )

        def on_load(request: gr.Request) -> list:
            query = request.query_params if request is not None else {}
            lang_value = _lang(query.get("lang"))
            theme_value = _theme(query.get("theme") or query.get("__theme"))
            slug = query.get("demo")
            view = by_slug.get(slug) or views[0]
            return [
                lang_value,
                theme_value,
                view.demo.slug,
                gr.update(value=lang_value),
                gr.Tabs(selected=view.demo.section),
                *(
                    gr.Tabs(selected=view.demo.slug) if key == view.demo.section else gr.skip()
                    for key in inner_tabs
                ),
            ]

        blocks.load(
            on_load,
            None,
            [lang, theme, current, lang_radio, sections, *inner_tabs.values()],
            api_visibility="private",
        ).then(
            render_current,
            [current, shown, lang, theme, *all_controls],
            [shown, *all_outputs],
            api_visibility="private",
            **single_render,
        ).then(None, None, None, js=READY_JS)
    return blocks
