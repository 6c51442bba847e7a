"""Plain HTTP routes beside the Gradio page: the embed page of a demo and its HTML export.

- `/demo/<slug>?…` shows only that demo, sized for an iframe (the page itself with `embed=1`);
  `present=1` adds the presentation look, `theme=` and `lang=` work as on the main page.
- `/example/<slug>` is the sample file of a demo that takes an upload.
- `/export/<slug>.html?…` is one self-contained HTML file of the demo at the link's parameters
  (demos/export.py); values a link cannot use fall back to their defaults, as on the page.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from demos import all_demos
from demos.export import export_html
from demos.links import from_query

ROOT = Path(__file__).resolve().parent.parent

# Exports render like the page does: at most this many at once, the rest wait a little and
# are then told to retry (they do not pile up threads behind a slow render).
EXPORT_SLOTS = threading.BoundedSemaphore(2)
EXPORT_WAIT_S = 10.0


def _origin(request: Request) -> str:
    """scheme://host the browser used, also behind a proxy (Hugging Face Spaces: https)."""
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
    if scheme not in ("http", "https") or not host or any(c in host for c in "/\\ @"):
        return str(request.base_url).rstrip("/")
    return f"{scheme}://{host}"


def add_routes(app: FastAPI) -> None:
    by_slug = {demo.slug: demo for demo in all_demos}

    def demo_or_404(slug: str):
        demo = by_slug.get(slug)
        if demo is None:
            raise HTTPException(status_code=404, detail=f"no demo {slug[:60]!r}")
        return demo

    @app.get("/demo/{slug}")
    def demo_page(slug: str, request: Request) -> RedirectResponse:
        demo_or_404(slug)
        query = {**request.query_params, "demo": slug, "embed": "1"}
        return RedirectResponse("/?" + urlencode(query))

    @app.get("/example/{slug}")
    def example(slug: str) -> FileResponse:
        """The sample upload a demo declares (a fixed file of the repository, never a user path)."""
        demo = demo_or_404(slug)
        if demo.upload is None or not demo.upload.example:
            raise HTTPException(status_code=404, detail=f"{slug}: no example file")
        path = ROOT / demo.upload.example
        return FileResponse(path, filename=path.name)

    @app.get("/export/{name}")
    def export(name: str, request: Request) -> HTMLResponse:
        slug = name.removesuffix(".html")
        demo = demo_or_404(slug)
        query = dict(request.query_params)
        lang = "zh" if query.get("lang") == "zh" else "en"
        theme = "dark" if query.get("theme") == "dark" else "light"
        params, _ = from_query(demo, query, lang)
        link_query = {key: value for key, value in query.items() if key not in {"embed", "present"}}
        link = f"{_origin(request)}/?{urlencode({**link_query, 'demo': slug})}"
        if not EXPORT_SLOTS.acquire(timeout=EXPORT_WAIT_S):
            raise HTTPException(status_code=503, detail="busy: please retry in a moment")
        try:
            page = export_html(demo, params, lang=lang, theme=theme, link=link)
        finally:
            EXPORT_SLOTS.release()
        return HTMLResponse(
            page, headers={"Content-Disposition": f'attachment; filename="{slug}.html"'}
        )
