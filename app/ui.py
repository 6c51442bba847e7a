"""The page: one tab per demo, grouped by section, every control generated from `Params`.

Per demo there are two events on the same render: the UI's (private; it also takes the page's
language and theme) and the public API endpoint `/<slug>`, whose inputs are exactly the
`Params` fields in declaration order. Both share one concurrency group, so at most
`RENDER_CONCURRENCY` renders run at once whatever the mix of demos and clients.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr
import gradio.utils
from gradio.components.plot import PlotData

from demos import SECTIONS, Demo, ParamsError, all_demos
from demos.base import LANGS, Control, Text
from demos.links import PAGE_KEYS, from_query, notes_markdown
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
    "overview": Text("Overview", "总览"),
    "overview_intro": Text(
        "Every demo runs the real algorithm. Pick one; each link below opens it, and the address "
        "bar always holds a link to what you see.",
        "每个演示运行的都是真实算法。点选任意一个即可打开；地址栏里始终是当前所见内容的链接。",
    ),
    "copy": Text("Copy link", "复制链接"),
    "example": Text("Download an example file.", "下载示例文件。"),
    "copied": Text("Copied ✓", "已复制 ✓"),
    "download": Text("Download as HTML", "下载为 HTML"),
    "tagline": Text(
        "Move a control and the real algorithm runs again.",
        "拖动任意控件，真实的算法会立即重新运行。",
    ),
}
LANG_CHOICES = [("English", "en"), ("中文", "zh")]


def _in_upload_folder(path: str) -> bool:
    folder = Path(gradio.utils.get_upload_folder()).resolve()
    try:
        return "\0" not in path and Path(path).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def _lang(value: Any) -> str:
    return value if value in LANGS else "en"


def _theme(value: Any) -> str:
    """The figures' template: light or dark, "-present" for the presentation look."""
    return value if value in ("dark", "light-present", "dark-present") else "light"


def _page_theme(query: dict) -> str:
    base = "dark" if (query.get("theme") or query.get("__theme")) == "dark" else "light"
    present = str(query.get("present", "")).lower() in ("1", "true", "yes")
    return f"{base}-present" if present else base


class RenderCache:
    """Recent renders, by (demo, params, language, theme): renders are pure, so an answer
    for the same request can be served again. Bounded in entries and in bytes per entry (a
    large figure is not kept), so it holds at most about MAX_ENTRIES × MAX_ENTRY_BYTES."""

    MAX_ENTRIES = 128
    MAX_ENTRY_BYTES = 256_000

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, tuple[list[str], str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[list[str], str] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, figures: list[str], notes: str) -> None:
        if sum(map(len, figures)) + len(notes) > self.MAX_ENTRY_BYTES:
            return
        with self._lock:
            self._entries[key] = (figures, notes)
            self._entries.move_to_end(key)
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)


RENDERS = RenderCache()


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


def overview(lang: str) -> str:
    """The home tab: every live demo by section, with its summary and a link (from the registry)."""
    parts = [UI["overview_intro"](lang)]
    for key, demos in all_demos.sections():
        parts.append(f"### {SECTIONS[key](lang)}")
        suffix = "&lang=zh" if lang == "zh" else ""
        parts.extend(
            f"- [{demo.title(lang)}](?demo={demo.slug}{suffix}) — {demo.summary(lang)}"
            for demo in demos
        )
    return "\n".join(parts)


def _actions(slug: str, lang: str) -> str:
    """The export link; the page's script keeps its query equal to the address bar's."""
    return (
        f'<a class="export-link" href="export/{slug}.html" download="{slug}.html" '
        f'data-slug="{slug}">{UI["download"](lang)}</a>'
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sync_js(demo: Demo) -> str:
    """Browser side of demos/links.py: this demo's controls -> the address bar (no reload)."""
    defaults = [getattr(demo.Params(), name) for name in demo.fields]
    return (
        f"(...values) => {{ window.playgroundSync && window.playgroundSync("
        f"{_json(demo.slug)}, {_json(demo.fields)}, {_json(defaults)}, values); return []; }}"
    )


class DemoView:
    """The components of one demo's tab and the handlers that fill them."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.initial = demo.render(lang="en")
        with gr.Tab(demo.title.en, id=demo.slug, elem_id=f"tab-{demo.slug}") as self.tab:
            self.header = gr.Markdown(_header(demo, "en"), elem_id=f"{demo.slug}-header")
            self.link_note = gr.Markdown(
                "", visible=False, elem_id=f"{demo.slug}-linknote", elem_classes=["link-note"]
            )
            with gr.Row(equal_height=False, elem_classes=["demo-row"]):
                with gr.Column(scale=1, min_width=300, elem_classes=["controls-col"]):
                    self.preset = gr.Dropdown(
                        choices=self._preset_choices("en"),
                        value=None,
                        label=UI["preset"].en,
                        info=UI["preset_info"].en,
                        elem_id=f"{demo.slug}-preset",
                    )
                    self.controls = [_control(c, demo.slug) for c in demo.controls]
                    self.upload = demo.upload
                    self.data = gr.State(None)  # what the demo's `load` made of the upload
                    if self.upload is not None:
                        self.file = gr.File(
                            label=self.upload.label.en,
                            file_types=list(self.upload.suffixes),
                            file_count="single",
                            type="filepath",
                            elem_id=f"{demo.slug}-upload",
                        )
                        self.upload_help = gr.Markdown(
                            self._upload_help("en"), elem_id=f"{demo.slug}-upload-help"
                        )
                    with gr.Row(elem_classes=["demo-actions"]):
                        self.copy = gr.Button(
                            UI["copy"].en, size="sm", elem_id=f"{demo.slug}-copy", scale=0
                        )
                        self.export = gr.HTML(
                            _actions(demo.slug, "en"), elem_id=f"{demo.slug}-export"
                        )
                with gr.Column(scale=3, min_width=480, elem_classes=["figures-col"]):
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

    @property
    def inputs(self) -> list[gr.components.Component]:
        """What a render of this demo reads: its controls, then the uploaded data if any."""
        return [*self.controls, self.data] if self.upload is not None else list(self.controls)

    def _upload_help(self, lang: str) -> str:
        text = self.upload.help(lang)
        if self.upload.example:
            text += f" [{UI['example'](lang)}](example/{self.demo.slug})"
        return text

    def load_file(self, value: Any) -> Any:
        """The upload's data for the demo; the file is read once, size-checked, then deleted.

        `value` is the File component's raw payload (preprocess is off, so junk sent to this
        event reaches here instead of failing inside Gradio): None, or `{"path": ..., ...}`.
        """
        if not value:
            return None
        path = value.get("path") if isinstance(value, dict) else None
        # Only a file uploaded into Gradio's upload folder is read (and then deleted): never
        # a path a request names.
        if not isinstance(path, str) or not _in_upload_folder(path):
            raise gr.Error("file: please upload a file", print_exception=False)
        try:
            size = os.path.getsize(path)
            if size > self.upload.max_bytes:
                raise ParamsError(
                    f"file: larger than {self.upload.max_bytes // 1000} KB ({size // 1000} KB)"
                )
            with open(path, "rb") as handle:
                raw = handle.read(self.upload.max_bytes + 1)
            return self.demo.load_upload(raw)
        except ParamsError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except OSError:
            raise gr.Error("file: could not be read, please upload it again") from None
        finally:
            with contextlib.suppress(OSError):
                os.remove(path)

    def _preset_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.demo.preset_titles[name](lang), name) for name in self.demo.presets]

    def _render(self, values: tuple, lang: str, theme: str, data: Any = None) -> list:
        try:
            params = self.demo.parse(dict(zip(self.demo.fields, values, strict=True)))
        except ParamsError as error:
            raise gr.Error(str(error), print_exception=False) from None
        if data is not None:  # an upload's evaluation is not cached
            rendered = self.demo.render(params, lang=lang, data=data)
            return [*(plot_payload(f, theme) for f in rendered.figures), rendered.notes]
        key = (self.demo.slug, params.model_dump_json(), lang, theme)
        cached = RENDERS.get(key)
        if cached is None:
            rendered = self.demo.render(params, lang=lang)
            cached = ([figure_json(f, theme) for f in rendered.figures], rendered.notes)
            RENDERS.put(key, *cached)
        figures, notes = cached
        return [*(PlotData(type="plotly", plot=figure) for figure in figures), notes]

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
        """UI renders: `values` are `self.inputs`' (controls, then the upload's data if any)."""
        if self.upload is not None:
            *values, data = values
            return self._render(tuple(values), _lang(lang), _theme(theme), data)
        return self._render(values, _lang(lang), _theme(theme))

    def apply_preset(self, name: Any) -> list:
        preset = self.demo.presets.get(name) if isinstance(name, str) else None
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
            gr.update(value=UI["copy"](lang)),
            _actions(self.demo.slug, lang),
            _about(self.demo, lang),
            *(
                [gr.update(label=self.upload.label(lang)), self._upload_help(lang)]
                if self.upload is not None
                else []
            ),
        ]

    @property
    def relabel_outputs(self) -> list:
        return [
            self.tab,
            self.header,
            self.preset,
            *self.controls,
            self.copy,
            self.export,
            self.about,
            *([self.file, self.upload_help] if self.upload is not None else []),
        ]

    def from_link(self, query: dict, lang: str) -> tuple[list, Any, bool]:
        """Control updates and the note for a link's query; and whether any control moves."""
        params, notes = from_query(self.demo, query, lang)
        defaults = self.demo.Params()
        moved = params != defaults
        updates = [
            gr.update(value=getattr(params, name)) if moved else gr.skip()
            for name in self.demo.fields
        ]
        note = notes_markdown(notes, lang)
        return updates, gr.update(value=note, visible=bool(note)), moved


# Runs once the load handler is done: installs the address-bar sync (demos/links.py's format),
# turns it on, and marks the page as ready for tests and scripts.
READY_JS = """
() => {
  const PAGE_KEYS = __PAGE_KEYS__;
  const encode = (v) => Array.isArray(v) ? v.join(',') : (typeof v === 'boolean' ? String(v) : String(v));
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  // Commas stay readable in lists (functions=gelu,silu); everything else is percent-encoded.
  const text_of = (query) => [...query].map(([k, v]) =>
    encodeURIComponent(k) + '=' + encodeURIComponent(v).replace(/%2C/gi, ',')).join('&');
  const write = (query) => {
    const text = text_of(query);
    history.replaceState(null, '', window.location.pathname + (text ? '?' + text : ''));
    document.querySelectorAll('a.export-link').forEach((a) => {
      const q = new URLSearchParams(query);
      if (q.get('demo') !== a.dataset.slug) {
        for (const k of [...q.keys()]) if (!PAGE_KEYS.includes(k)) q.delete(k);
        q.set('demo', a.dataset.slug);
      }
      q.delete('embed'); q.delete('present');
      a.href = 'export/' + a.dataset.slug + '.html?' + text_of(q);
    });
  };
  window.playgroundSync = (slug, fields, defaults, values) => {
    if (!window.__urlsync) return;
    const query = new URLSearchParams(window.location.search);
    for (const k of [...query.keys()]) if (!PAGE_KEYS.includes(k)) query.delete(k);
    query.set('demo', slug);
    values.forEach((v, i) => { if (!same(v, defaults[i])) query.set(fields[i], encode(v)); });
    write(query);
  };
  window.playgroundSetLang = (lang) => {
    if (!window.__urlsync) return;
    const query = new URLSearchParams(window.location.search);
    if (lang === 'zh') query.set('lang', 'zh'); else query.delete('lang');
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    write(query);
  };
  window.playgroundOverview = () => {
    if (!window.__urlsync) return;
    const query = new URLSearchParams(window.location.search);
    for (const k of [...query.keys()]) if (!PAGE_KEYS.includes(k) || k === 'demo') query.delete(k);
    write(query);
  };
  write(new URLSearchParams(window.location.search));
  window.__urlsync = true;
  document.documentElement.dataset.appReady = '1';
}
""".replace("__PAGE_KEYS__", json.dumps(sorted(PAGE_KEYS - {"demo"})))

# gr.Plot draws with Plotly.react, which drops animation frames: add them back (GRADIO6.md 12).
FRAMES_JS = """
(value) => {
  try {
    const spec = value && value.plot ? JSON.parse(value.plot) : null;
    if (!spec || !spec.frames || !spec.frames.length) return [];
    setTimeout(() => {
      const gd = document.querySelector('#__ID__ .js-plotly-plot');
      if (gd && window.Plotly) { window.Plotly.addFrames(gd, spec.frames); }
    }, 200);
  } catch (error) { console.warn(error); }
  return [];
}
"""

COPY_JS = """
() => {
  const url = window.location.href;
  const button = document.getElementById('__ID__');
  const done = () => {
    if (!button) return;
    const label = button.textContent;
    button.textContent = document.documentElement.lang === 'zh-CN' ? __ZH__ : __EN__;
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(url).then(done, () => window.prompt('Copy:', url));
  } else {
    window.prompt('Copy:', url);
  }
  return [];
}
"""


def build() -> gr.Blocks:
    """The whole playground as one Blocks (mounted by app.server)."""
    views: list[DemoView] = []
    section_tabs: dict[str, gr.Tab] = {}
    inner_tabs: dict[str, gr.Tabs] = {}
    with gr.Blocks(title=UI["heading"].en, delete_cache=(600, 600)) as blocks:
        lang = gr.State("en")
        theme = gr.State("light")
        current = gr.State("")  # "" is the overview
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
            with gr.Tab(UI["overview"].en, id="overview", elem_id="section-overview") as home_tab:
                home = gr.Markdown(overview("en"), elem_id="overview")
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
                    start = sum(len(v.inputs) for v in views[: views.index(view)])
                    own = values[start : start + len(view.inputs)]
                    results.extend(view.ui_handler(lang_value, theme_value, *own))
                else:
                    results.extend(gr.skip() for _ in view.outputs)
            return [{**shown, slug: [lang_value, theme_value]}, *results]

        all_inputs = [item for view in views for item in view.inputs]
        all_outputs = [output for view in views for output in view.outputs]

        single_render = {k: v for k, v in render_options.items() if k != "trigger_mode"}
        # After a tab switch, a language switch or the page load: the visible demo, if needed.
        render_shown = {
            "fn": render_current,
            "inputs": [current, shown, lang, theme, *all_inputs],
            "outputs": [shown, *all_outputs],
            "api_visibility": "private",
            **single_render,
        }

        for view in views:
            # Renders follow the learner's input; a preset or a link sets several controls at
            # once and renders once, after all of them are set (a render per control could
            # finish out of order and leave stale figures under the new controls).
            # The UI's render of this demo, the same whatever starts it.
            render_view = {
                "fn": view.ui_handler,
                "inputs": [lang, theme, *view.inputs],
                "outputs": view.outputs,
                "api_visibility": "private",
                **render_options,
            }
            gr.on([control.input for control in view.controls], **render_view)
            if view.upload is not None:
                gr.on(
                    [view.file.upload, view.file.clear],
                    view.load_file,
                    view.file,
                    view.data,
                    api_visibility="private",
                    preprocess=False,
                    concurrency_id="render",
                    concurrency_limit=RENDER_CONCURRENCY,
                ).success(**render_view)
            view.api_trigger.click(
                view.api_handler(),
                view.controls,
                view.outputs,
                api_name=view.demo.slug,
                **render_options,
            )
            gr.on(
                [control.change for control in view.controls],
                None,
                view.controls,
                None,
                js=_sync_js(view.demo),
                api_visibility="private",
            )
            view.copy.click(
                None,
                None,
                None,
                js=COPY_JS.replace("__ID__", f"{view.demo.slug}-copy")
                .replace("__ZH__", _json(UI["copied"].zh))
                .replace("__EN__", _json(UI["copied"].en)),
                api_visibility="private",
            )
            for plot in view.plots:
                plot.change(
                    None,
                    plot,
                    None,
                    js=FRAMES_JS.replace("__ID__", plot.elem_id),
                    api_visibility="private",
                )
            view.preset.change(
                view.apply_preset,
                view.preset,
                view.controls,
                api_visibility="private",
                preprocess=False,
            ).then(**render_view)
            view.tab.select(None, view.controls, None, js=_sync_js(view.demo))
            view.tab.select(
                lambda slug=view.demo.slug: slug, None, current, api_visibility="private"
            ).then(**render_shown)

        def relabel_all(lang_value: Any) -> list:
            lang_value = _lang(lang_value)
            updates = [
                lang_value,
                f"# {UI['heading'](lang_value)}\n{UI['tagline'](lang_value)}",
                gr.update(label=UI["language"](lang_value)),
                gr.update(label=UI["overview"](lang_value)),
                overview(lang_value),
                *(gr.update(label=SECTIONS[key](lang_value)) for key in section_tabs),
            ]
            for view in views:
                updates.extend(view.relabel(lang_value))
            return updates

        relabel_outputs = [
            lang,
            heading,
            lang_radio,
            home_tab,
            home,
            *section_tabs.values(),
            *(output for view in views for output in view.relabel_outputs),
        ]
        lang_radio.change(
            None,
            lang_radio,
            None,
            js="(l) => { window.playgroundSetLang && window.playgroundSetLang(l); return []; }",
        )
        home_tab.select(
            lambda: "",
            None,
            current,
            api_visibility="private",
            js="() => { window.playgroundOverview && window.playgroundOverview(); return []; }",
        )
        lang_radio.change(
            relabel_all, lang_radio, relabel_outputs, api_visibility="private", preprocess=False
        ).then(**render_shown)

        def on_load(request: gr.Request, shown_value: dict) -> list:
            query = dict(request.query_params) if request is not None else {}
            lang_value = _lang(query.get("lang"))
            theme_value = _page_theme(query)
            view = by_slug.get(query.get("demo", ""))
            link_updates: list = []
            for other in views:
                if other is view:
                    updates, note, moved = view.from_link(query, lang_value)
                    link_updates.extend([*updates, note])
                    if moved:  # drawn by render_current below, once every control is set
                        shown_value = {**shown_value, view.demo.slug: []}
                else:
                    link_updates.extend(gr.skip() for _ in [*other.controls, other.link_note])
            return [
                lang_value,
                theme_value,
                view.demo.slug if view else "",
                shown_value,
                gr.update(value=lang_value),
                gr.Tabs(selected=view.demo.section if view else "overview"),
                *(
                    gr.Tabs(selected=view.demo.slug)
                    if view and key == view.demo.section
                    else gr.skip()
                    for key in inner_tabs
                ),
                *link_updates,
            ]

        blocks.load(
            on_load,
            shown,
            [
                lang,
                theme,
                current,
                shown,
                lang_radio,
                sections,
                *inner_tabs.values(),
                *(c for view in views for c in [*view.controls, view.link_note]),
            ],
            api_visibility="private",
        ).then(**render_shown).then(None, None, None, js=READY_JS)
    return blocks
