"""Plain HTTP routes beside the Gradio pages: the gallery, previews, examples and exports.

- `/` is the gallery (app/gallery.py); `?lang=zh`, `?theme=dark`. An old link to a demo,
  `/?demo=<slug>&…`, is redirected to `/demo/<slug>?…` (the page itself is app/server.py's).
- `/previews/<slug>.<light|dark>.webp` is a card's picture (assets/previews/).
- `/example/<slug>` is the sample file of a demo that takes an upload.
- `/export/<slug>.html?…` is one self-contained HTML file of the demo at the link's parameters
  (demos/export.py); values a link cannot use fall back to their defaults, as on the page.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from app.gallery import PREVIEWS, gallery_html, preview_name
from demos import Demo
from demos.export import export_html
from demos.links import from_query

ROOT = Path(__file__).resolve().parent.parent

# Exports render like the page does: at most this many at once, the rest wait a little and
# are then told to retry (they do not pile up threads behind a slow render).
EXPORT_SLOTS = threading.BoundedSemaphore(2)
EXPORT_WAIT_S = 10.0


def _origin(request: Request) -> str:
    """scheme://host the browser used. Behind a proxy (Hugging Face Spaces) the scheme comes
    from X-Forwarded-Proto (http or https only); the host from X-Forwarded-Host only when
    PLAYGROUND_TRUST_FORWARDED_HOST=1 says a proxy of ours sets it: anyone can send the header."""
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("host") or ""
    if os.environ.get("PLAYGROUND_TRUST_FORWARDED_HOST") == "1":
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
    if scheme not in ("http", "https") or not host or any(c in host for c in "/\\ @"):
        return str(request.base_url).rstrip("/")
    return f"{scheme}://{host}"


def add_routes(app: FastAPI, demos: list[Demo]) -> None:
    by_slug = {demo.slug: demo for demo in demos}

    def demo_or_404(slug: str):
        demo = by_slug.get(slug)
        if demo is None:
            raise HTTPException(status_code=404, detail=f"no demo {slug[:60]!r}")
        return demo

    @app.get("/", response_model=None)
    def gallery(request: Request) -> HTMLResponse | RedirectResponse:
        query = dict(request.query_params)
        slug = query.pop("demo", "")
        if slug in by_slug:  # an old link: the demo's own page, same parameters
            query.pop("embed", None)
            rest = f"?{urlencode(query)}" if query else ""
            return RedirectResponse(f"/demo/{slug}{rest}", status_code=307)
        theme = query.get("theme") or query.get("__theme") or "light"
        return HTMLResponse(gallery_html(query.get("lang", "en"), theme))

    @app.get("/previews/{name}")
    def preview(name: str) -> FileResponse:
        """A card's picture: only the names the gallery uses, from assets/previews/."""
        slug, _, theme = name.removesuffix(".webp").rpartition(".")
        if slug not in by_slug or name != preview_name(slug, theme):
            raise HTTPException(status_code=404, detail="no such preview")
        path = PREVIEWS / name
        if not path.is_file():
            raise HTTPException(status_code=404, detail="no such preview")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

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
        link_query.pop("demo", None)
        rest = f"?{urlencode(link_query)}" if link_query else ""
        link = f"{_origin(request)}/demo/{slug}{rest}"
        if not EXPORT_SLOTS.acquire(timeout=EXPORT_WAIT_S):
            raise HTTPException(status_code=503, detail="busy: please retry in a moment")
        try:
            page = export_html(demo, params, lang=lang, theme=theme, link=link)
        finally:
            EXPORT_SLOTS.release()
        return HTMLResponse(
            page, headers={"Content-Disposition": f'attachment; filename="{slug}.html"'}
        )
