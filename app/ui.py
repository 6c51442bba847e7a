"""The pages: one Gradio Blocks per demo (built on its first request), and one for the API.

A demo's page (`/demo/<slug>`) holds only that demo: its controls generated from `Params`, its
plots, its text, and a navigation bar of plain links to the others. Nothing is drawn before
the page's query is read: the load event sets the controls, the labels and the figures for the
link (demo parameters, `lang`, `theme`, `present`) in one answer, so a link never shows the
defaults first.

The API Blocks (mounted at `/`) holds one public endpoint per demo, `/<slug>`, whose inputs are
exactly the `Params` fields in declaration order. It draws nothing and renders nothing when
built: it needs only each demo's `figures` count.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gradio as gr
import gradio.utils
from gradio.components.plot import PlotData

from app.limits import client_from, uploaded_by
from demos import SECTIONS, Demo, ParamsError, all_demos
from demos.base import LANGS, Control, Text
from demos.links import PAGE_KEYS, from_query, notes_markdown
from demos.theme import figure_json

RENDER_CONCURRENCY = 2  # the target machine has 2 cores; more only adds contention
QUEUE_SIZE = 64  # requests waiting beyond this (per page) are refused with "busy"
# Every page has its own queue; this bounds the renders running at once across all of them.
RENDER_SLOTS = threading.BoundedSemaphore(RENDER_CONCURRENCY)
# API calls at once: most are answered from the render cache, and a call holds its slot while
# Gradio sends its result, not only while it renders; RENDER_SLOTS still bounds the renders.
API_CONCURRENCY = 8

UI = {
    "language": Text("Language", "语言"),
    "preset": Text("Preset", "预设"),
    "preset_info": Text("A parameter set that tells one story", "展示一个现象的参数组合"),
    "explanation": Text("What is going on", "原理解读"),
    "sources": Text("Papers and sources", "论文与来源"),
    "heading": Text("ML explainers playground", "机器学习图解实验场"),
    "all_demos": Text("All demos", "全部演示"),
    "copy": Text("Copy link", "复制链接"),
    "example": Text("Download an example file.", "下载示例文件。"),
    "copied": Text("Copied ✓", "已复制 ✓"),
    "download": Text("Download as HTML", "下载为 HTML"),
    "nav": Text("Demos by section", "按分区浏览演示"),
}
LANG_CHOICES = [("English", "en"), ("中文", "zh")]


def _lang(value: Any) -> str:
    return value if value in LANGS else "en"


def _theme(value: Any) -> str:
    """The figures' template: light or dark, "-present" for the presentation look."""
    return value if value in ("dark", "light-present", "dark-present") else "light"


def _on(value: Any) -> bool:
    return str(value or "").lower() in ("1", "true", "yes")


def page_theme(query: dict) -> str:
    base = "dark" if (query.get("theme") or query.get("__theme")) == "dark" else "light"
    return f"{base}-present" if _on(query.get("present")) else base


def _in_upload_folder(path: str) -> bool:
    folder = Path(gradio.utils.get_upload_folder()).resolve()
    try:
        return "\0" not in path and Path(path).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


class RenderCache:
    """Recent renders, by (demo, params, language, theme): renders are pure, so an answer
    for the same request can be served again. Bounded three ways: entries, bytes per entry
    (a very large figure is not kept) and bytes in all (the least recently used go first), so
    it holds at most MAX_BYTES of figure text.

    Sized for the catalogue: every demo's defaults and presets in both themes and languages
    (about 200 requests × 4) average about 150 KB; the largest defaults (alpaca, sd3) are
    about 0.5 MB, so a cap at 256 KB per entry rendered those again on every call."""

    MAX_ENTRIES = 1024
    MAX_ENTRY_BYTES = 2_000_000
    MAX_BYTES = 48_000_000

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, tuple[list[str], str]] = OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: tuple) -> tuple[list[str], str] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, figures: list[str], notes: str) -> None:
        size = sum(map(len, figures)) + len(notes)
        if size > self.MAX_ENTRY_BYTES:
            return
        with self._lock:
            self._bytes -= self._sizes.pop(key, 0)
            self._entries[key] = (figures, notes)
            self._entries.move_to_end(key)
            self._sizes[key] = size
            self._bytes += size
            while len(self._entries) > self.MAX_ENTRIES or self._bytes > self.MAX_BYTES:
                old, _ = self._entries.popitem(last=False)
                self._bytes -= self._sizes.pop(old)


RENDERS = RenderCache()


def render_payloads(demo: Demo, params: Any, lang: str, theme: str, data: Any = None) -> list:
    """The figures (as gr.Plot payloads) and notes of one render, from the cache when possible.

    At most RENDER_CONCURRENCY renders run at once in the whole process."""
    if data is not None:  # an upload's evaluation is not cached
        with RENDER_SLOTS:
            rendered = demo.render(params, lang=lang, data=data)
        figures = [figure_json(figure, theme) for figure in rendered.figures]
        return [*(PlotData(type="plotly", plot=f) for f in figures), rendered.notes]
    key = (demo.slug, params.model_dump_json(), lang, theme)
    cached = RENDERS.get(key)
    if cached is None:
        with RENDER_SLOTS:
            rendered = demo.render(params, lang=lang)
            cached = ([figure_json(f, theme) for f in rendered.figures], rendered.notes)
        RENDERS.put(key, *cached)
    figures, notes = cached
    return [*(PlotData(type="plotly", plot=figure) for figure in figures), notes]


def parse_or_error(demo: Demo, values: Any) -> Any:
    try:
        return demo.parse(dict(zip(demo.fields, values, strict=True)))
    except ParamsError as error:
        raise gr.Error(str(error), print_exception=False) from None


def _control(control: Control, prefix: str, visible: bool = True) -> gr.components.Component:
    common = {
        "label": control.label.en,
        "info": control.help.en or None,
        "elem_id": f"{prefix}-{control.name}",
        "visible": visible,
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
    if control.kind == "text":
        return gr.Textbox(
            value=control.default,
            lines=1,
            max_lines=1,
            max_length=getattr(control, "max_length", None),
            **common,
        )
    return gr.CheckboxGroup(choices=choices, value=list(control.default), **common)


def _relabel(control: Control, lang: str, **values: Any) -> dict:
    update: dict[str, Any] = {"label": control.label(lang), "info": control.help(lang) or None}
    if control.choices:
        update["choices"] = [(text(lang), value) for value, text in control.choices]
    return gr.update(**update, **values)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _query_key(query: dict) -> str:
    """A query as one string, the same for the same keys and values in any order."""
    return urlencode(sorted((str(k), str(v)) for k, v in query.items()))


def page_query(lang: str, theme: str) -> str:
    """The page keys a link to another page keeps: language and theme."""
    query = {}
    if lang == "zh":
        query["lang"] = "zh"
    if theme.startswith("dark"):
        query["theme"] = "dark"
    return ("?" + urlencode(query)) if query else ""


def nav_html(current: str, lang: str, theme: str) -> str:
    """Every live demo by section, as plain links; the current one marked."""
    suffix = page_query(lang, theme)
    parts = [
        f'<nav class="demo-nav" aria-label="{html.escape(UI["nav"](lang))}">',
        f'<a class="nav-home" href="/{suffix}">← {html.escape(UI["all_demos"](lang))}</a>',
    ]
    for key, demos in all_demos.sections():
        parts.append(f'<div class="nav-section">{html.escape(SECTIONS[key](lang))}</div><ul>')
        for demo in demos:
            title = html.escape(demo.title(lang))
            if demo.slug == current:
                parts.append(f'<li><a class="current" aria-current="page">{title}</a></li>')
            else:
                parts.append(f'<li><a href="/demo/{demo.slug}{suffix}">{title}</a></li>')
        parts.append("</ul>")
    parts.append("</nav>")
    return "".join(parts)


def _header(demo: Demo, lang: str) -> str:
    section = SECTIONS[demo.section](lang)
    return f"<span class='section-label'>{section}</span>\n\n## {demo.title(lang)}\n{demo.summary(lang)}"


def _about(demo: Demo, lang: str) -> str:
    sources = "\n".join(f"- {source.markdown()}" for source in demo.sources)
    return (
        f"### {UI['explanation'](lang)}\n{demo.explanation(lang).strip()}\n\n"
        f"### {UI['sources'](lang)}\n{sources}"
    )


def _actions(slug: str, lang: str) -> str:
    """The export link; the page's script keeps its query equal to the address bar's."""
    return (
        f'<a class="export-link" href="/export/{slug}.html" download="{slug}.html" '
        f'data-slug="{slug}">{UI["download"](lang)}</a>'
    )


def _sync_js(demo: Demo) -> str:
    """Browser side of demos/links.py: this demo's controls -> the address bar (no reload)."""
    defaults = [getattr(demo.Params(), name) for name in demo.fields]
    return (
        f"(...values) => {{ window.playgroundSync && window.playgroundSync("
        f"{_json(demo.fields)}, {_json(defaults)}, values); return []; }}"
    )


# Runs once the load answer is applied: installs the address-bar sync (demos/links.py's
# format), turns it on, and marks the page as ready for tests and scripts.
READY_JS = """
() => {
  const PAGE_KEYS = __PAGE_KEYS__;
  const encode = (v) => Array.isArray(v) ? v.join(',') : String(v);
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  // Commas stay readable in lists (functions=gelu,silu); everything else is percent-encoded.
  const text_of = (query) => [...query].map(([k, v]) =>
    encodeURIComponent(k) + '=' + encodeURIComponent(v).replace(/%2C/gi, ',')).join('&');
  const write = (query) => {
    query.delete('demo');
    const text = text_of(query);
    history.replaceState(null, '', window.location.pathname + (text ? '?' + text : ''));
    document.querySelectorAll('a.export-link').forEach((a) => {
      const q = new URLSearchParams(query);
      q.delete('embed'); q.delete('present');
      const t = text_of(q);
      a.href = '/export/' + a.dataset.slug + '.html' + (t ? '?' + t : '');
    });
  };
  window.playgroundSync = (fields, defaults, values) => {
    if (!window.__urlsync) return;
    const query = new URLSearchParams(window.location.search);
    for (const k of [...query.keys()]) if (!PAGE_KEYS.includes(k)) query.delete(k);
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


class DemoPage:
    """One demo's page: its components, and the handlers that fill them."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.upload = demo.upload
        slug = demo.slug
        with gr.Row(elem_id="topbar", equal_height=False):
            self.header = gr.Markdown(_header(demo, "en"), elem_id=f"{slug}-header")
            self.lang_radio = gr.Radio(
                LANG_CHOICES,
                value="en",
                label=UI["language"].en,
                elem_id="lang",
                scale=0,
                min_width=180,
            )
        with gr.Row(equal_height=False, elem_id="page-row"):
            with gr.Column(scale=0, min_width=210, elem_id="nav-col"):
                self.nav = gr.HTML(nav_html(slug, "en", "light"), elem_id="nav")
            with gr.Column(scale=5, elem_id="demo-col"):
                self.link_note = gr.Markdown(
                    "", visible=False, elem_id=f"{slug}-linknote", elem_classes=["link-note"]
                )
                with gr.Row(equal_height=False, elem_classes=["demo-row"]):
                    with gr.Column(scale=1, min_width=300, elem_classes=["controls-col"]):
                        self.preset = gr.Dropdown(
                            choices=self._preset_choices("en"),
                            value=None,
                            label=UI["preset"].en,
                            info=UI["preset_info"].en,
                            elem_id=f"{slug}-preset",
                        )
                        self.controls = [_control(c, slug) for c in demo.controls]
                        self.data = gr.State(None)  # what the demo's `load` made of the upload
                        if self.upload is not None:
                            self.file = gr.File(
                                label=self.upload.label.en,
                                file_types=list(self.upload.suffixes),
                                file_count="single",
                                type="filepath",
                                elem_id=f"{slug}-upload",
                            )
                            self.upload_help = gr.Markdown(
                                self._upload_help("en"), elem_id=f"{slug}-upload-help"
                            )
                        with gr.Row(elem_classes=["demo-actions"]):
                            self.copy = gr.Button(
                                UI["copy"].en, size="sm", elem_id=f"{slug}-copy", scale=0
                            )
                            self.export = gr.HTML(_actions(slug, "en"), elem_id=f"{slug}-export")
                    with gr.Column(scale=3, min_width=480, elem_classes=["figures-col"]):
                        # Empty until the load answer brings the link's figures.
                        self.plots = [
                            gr.Plot(
                                label=f"figure {index + 1}",
                                show_label=False,
                                elem_id=f"{slug}-fig{index}",
                            )
                            for index in range(demo.figure_count())
                        ]
                        self.notes = gr.Markdown("", label="notes", elem_id=f"{slug}-notes")
                self.about = gr.Markdown(_about(demo, "en"), elem_id=f"{slug}-about")
        # The query the page's HTML was filled in for (prefilled_html), read by the load event.
        self.prefilled = gr.Textbox("", visible=False, elem_id=f"{slug}-prefilled")

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [*self.plots, self.notes]

    @property
    def inputs(self) -> list[gr.components.Component]:
        """What a render reads: the controls, then the uploaded data if the demo takes a file."""
        return [*self.controls, self.data] if self.upload is not None else list(self.controls)

    def _upload_help(self, lang: str) -> str:
        text = self.upload.help(lang)
        if self.upload.example:
            text += f" [{UI['example'](lang)}](/example/{self.demo.slug})"
        return text

    def _preset_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.demo.preset_titles[name](lang), name) for name in self.demo.presets]

    def load_file(self, value: Any, request: gr.Request) -> Any:
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
        client = client_from(
            request.client.host if request.client else None, request.headers.get("x-forwarded-for")
        )
        if not uploaded_by(path, client):  # another client's upload, its path seen somewhere
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

    def render(self, lang: Any, theme: Any, *values: Any) -> list:
        """UI renders: `values` are `self.inputs`' (controls, then the upload's data if any)."""
        data = None
        if self.upload is not None:
            *values, data = values
        params = parse_or_error(self.demo, values)
        return render_payloads(self.demo, params, _lang(lang), _theme(theme), data)

    def apply_preset(self, name: Any) -> list:
        preset = self.demo.presets.get(name) if isinstance(name, str) else None
        if preset is None:
            return [gr.skip() for _ in self.controls]
        return [gr.update(value=getattr(preset, field)) for field in self.demo.fields]

    def texts(self, lang: str, theme: str, params: Any = None) -> list:
        """Every text of the page in `lang` (controls set to `params` when given)."""
        demo = self.demo
        return [
            _header(demo, lang),
            nav_html(demo.slug, lang, theme),
            gr.update(
                label=UI["preset"](lang),
                info=UI["preset_info"](lang),
                choices=self._preset_choices(lang),
            ),
            *(
                _relabel(
                    control, lang, **({"value": getattr(params, control.name)} if params else {})
                )
                for control in demo.controls
            ),
            gr.update(value=UI["copy"](lang)),
            _actions(demo.slug, lang),
            _about(demo, lang),
            *(
                [gr.update(label=self.upload.label(lang)), self._upload_help(lang)]
                if self.upload is not None
                else []
            ),
        ]

    @property
    def text_outputs(self) -> list:
        return [
            self.header,
            self.nav,
            self.preset,
            *self.controls,
            self.copy,
            self.export,
            self.about,
            *([self.file, self.upload_help] if self.upload is not None else []),
        ]

    @property
    def load_outputs(self) -> list:
        return [self.lang_radio, *self.text_outputs, self.link_note, *self.outputs]

    def for_query(self, query: dict) -> tuple[str, str, list]:
        """Language, theme, and a value for each of `load_outputs`, as the link asks."""
        lang = _lang(query.get("lang"))
        theme = page_theme(query)
        params, problems = from_query(self.demo, query, lang)
        note = notes_markdown(problems, lang)
        return (
            lang,
            theme,
            [
                gr.update(value=lang, label=UI["language"](lang)),
                *self.texts(lang, theme, params),
                gr.update(value=note, visible=bool(note)),
                *render_payloads(self.demo, params, lang, _theme(theme)),
            ],
        )

    def prefilled_html(self, page: str, query: dict) -> str:
        """The page's HTML with its config set for `query`: controls, texts in the link's
        language and the link's figures are in the page itself, drawn with no round trip.

        Gradio inlines the config as `window.gradio_config = {...};`; each value goes where
        an update of the load event would put it (its component's props)."""
        head, marker, rest = page.partition("window.gradio_config = ")
        config_text, end, tail = rest.partition(";</script>")
        if not marker or not end:
            return page
        config = json.loads(config_text)
        _, _, values = self.for_query(query)
        props = {
            component["id"]: component.setdefault("props", {}) for component in config["components"]
        }
        for component, value in zip(
            [*self.load_outputs, self.prefilled], [*values, _query_key(query)], strict=True
        ):
            target = props[component._id]
            if isinstance(value, PlotData):
                target["value"] = value.model_dump()
            elif isinstance(value, dict):
                for key in ("value", "label", "info", "visible"):
                    if key in value:
                        target[key] = value[key]
                if "choices" in value:
                    target["choices"] = [list(choice) for choice in value["choices"]]
            else:
                target["value"] = value
        text = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
        return f"{head}{marker}{text}{end}{tail}"

    def on_load(self, prefilled: Any, request: gr.Request) -> list:
        """The page as its link asks: language, theme, controls, the note, the figures (only
        the language and theme when the page's HTML already holds the rest)."""
        query = dict(request.query_params) if request is not None else {}
        if prefilled == _query_key(query):
            return [
                _lang(query.get("lang")),
                page_theme(query),
                *(gr.skip() for _ in self.load_outputs),
            ]
        lang, theme, values = self.for_query(query)
        return [lang, theme, *values]

    def switch_lang(self, lang: Any, theme: Any, *values: Any) -> list:
        lang, theme = _lang(lang), _theme(theme)
        return [lang, *self.texts(lang, theme), *self.render(lang, theme, *values)]


def build_page(demo: Demo) -> gr.Blocks:
    """One demo's page (mounted at /demo/<slug> by app.server)."""
    render_options = {
        "preprocess": False,
        "concurrency_id": "render",
        "concurrency_limit": RENDER_CONCURRENCY,
    }
    title = f"{demo.title.en} · {UI['heading'].en}"
    with gr.Blocks(title=title, delete_cache=(600, 600)) as blocks:
        lang = gr.State("en")
        theme = gr.State("light")
        page = DemoPage(demo)
        render_view = {
            "fn": page.render,
            "inputs": [lang, theme, *page.inputs],
            "outputs": page.outputs,
            "api_visibility": "private",
            "trigger_mode": "always_last",
            **render_options,
        }
        # Renders follow the learner's input; a preset sets several controls at once and
        # renders once, after all of them are set.
        gr.on([control.input for control in page.controls], **render_view)
        if page.upload is not None:
            gr.on(
                [page.file.upload, page.file.clear],
                page.load_file,
                page.file,
                page.data,
                api_visibility="private",
                **render_options,
            ).success(**render_view)
        gr.on(
            [control.change for control in page.controls],
            None,
            page.controls,
            None,
            js=_sync_js(demo),
            api_visibility="private",
        )
        page.copy.click(
            None,
            None,
            None,
            js=COPY_JS.replace("__ID__", f"{demo.slug}-copy")
            .replace("__ZH__", _json(UI["copied"].zh))
            .replace("__EN__", _json(UI["copied"].en)),
            api_visibility="private",
        )
        for plot in page.plots:
            plot.change(
                None,
                plot,
                None,
                js=FRAMES_JS.replace("__ID__", plot.elem_id),
                api_visibility="private",
            )
        page.preset.change(
            page.apply_preset,
            page.preset,
            page.controls,
            api_visibility="private",
            preprocess=False,
        ).then(**render_view)
        page.lang_radio.input(
            None,
            page.lang_radio,
            None,
            js="(l) => { window.playgroundSetLang && window.playgroundSetLang(l); return []; }",
        )
        page.lang_radio.input(
            page.switch_lang,
            [page.lang_radio, theme, *page.inputs],
            [lang, *page.text_outputs, *page.outputs],
            api_visibility="private",
            **render_options,
        )
        blocks.load(
            page.on_load,
            page.prefilled,
            [lang, theme, *page.load_outputs],
            api_visibility="private",
            **render_options,
        ).then(None, None, None, js=READY_JS)
    blocks.playground_page = page  # for app.server, which fills the page's HTML per link
    return blocks


def api_endpoint(demo: Demo):
    """The public endpoint of a demo: inputs are its Params fields, named and in order."""

    def endpoint(*values: Any) -> list:
        # A wrong number of values never gets here: app.server.checked_inputs refuses it by
        # name (Gradio would refuse too few without a word and drop extra ones).
        return render_payloads(demo, parse_or_error(demo, values), "en", "light")

    endpoint.__name__ = demo.slug.replace("-", "_")
    endpoint.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in demo.fields]
    )
    return endpoint


def build_api() -> gr.Blocks:
    """Every demo's endpoint `/<slug>`, for gradio_client (mounted at `/`; no page of its own)."""
    with gr.Blocks(title=UI["heading"].en, delete_cache=(600, 600)) as blocks:
        for demo in all_demos:
            controls = [_control(c, f"api-{demo.slug}", visible=False) for c in demo.controls]
            plots = [
                gr.Plot(label=f"figure {index + 1}", visible=False)
                for index in range(demo.figure_count())
            ]
            notes = gr.Markdown(label="notes", visible=False)
            trigger = gr.Button(visible=False)
            trigger.click(
                api_endpoint(demo),
                controls,
                [*plots, notes],
                api_name=demo.slug,
                preprocess=False,
                concurrency_id="render",
                concurrency_limit=API_CONCURRENCY,
            )
    return blocks
