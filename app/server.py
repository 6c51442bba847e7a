"""The ASGI app: FastAPI routes around the mounted Gradio page.

Routes: `/` the playground (`?demo=<slug>&lang=zh&theme=dark`, plus the demo's parameters),
`/demo/<slug>` one demo alone for an iframe, `/export/<slug>.html` a demo as one offline HTML
file (app/routes.py), and Gradio's own `/gradio_api/...` (each demo's endpoint is `/<slug>`).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home at start

import gradio as gr
import torch
from fastapi import FastAPI

from app.routes import add_routes
from app.ui import QUEUE_SIZE, RENDER_CONCURRENCY, build

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# System fonts only: the built-in theme would otherwise reference web fonts.
THEME = gr.themes.Default(
    font=["system-ui", "-apple-system", "Segoe UI", "Noto Sans CJK SC", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "monospace"],
)

# `?theme=dark|light` (or Gradio's own `?__theme=`) decides the page's colours; without it the
# page is light, whatever the system prefers, so that the figures (themed on the server) match.
PAGE_JS = """
() => {
  const query = new URLSearchParams(window.location.search);
  const theme = query.get('theme') || query.get('__theme') || 'light';
  document.body.classList.toggle('dark', theme === 'dark');
  document.documentElement.lang = query.get('lang') === 'zh' ? 'zh-CN' : 'en';
  const on = (key) => ['1', 'true', 'yes'].includes((query.get(key) || '').toLowerCase());
  document.body.classList.toggle('present', on('present'));
  document.body.classList.toggle('embed', on('embed') || on('present'));
}
"""


def create_app() -> FastAPI:
    # Demo renders are many small tensor ops: one thread each, two renders at a time, beats
    # two threads fighting over each op on a 2-core machine.
    torch.set_num_threads(int(os.environ.get("PLAYGROUND_TORCH_THREADS", "1")))
    app = FastAPI(title="ML explainers playground", docs_url=None, redoc_url=None)

    add_routes(app)

    blocks = build()
    blocks.queue(default_concurrency_limit=RENDER_CONCURRENCY, max_size=QUEUE_SIZE)
    app.state.blocks = blocks  # for tests and tools that inspect the page
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        theme=THEME,
        css_paths=[ASSETS / "app.css"],
        js=PAGE_JS,
        show_error=False,
        ssr_mode=False,
        footer_links=["api"],
        max_file_size="1mb",
    )
