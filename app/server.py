"""The ASGI app: FastAPI routes around the mounted Gradio page.

Routes: `/` the playground (`?demo=<slug>&lang=zh&theme=dark`, plus the demo's parameters),
`/demo/<slug>` one demo alone for an iframe, `/export/<slug>.html` a demo as one offline HTML
file (app/routes.py), and Gradio's own `/gradio_api/...` (each demo's endpoint is `/<slug>`).

Anyone can send anything to a public Space, so the app bounds what one request can cost and
keeps each refusal to one short line, for the client and in the log (see tests/app/test_fuzz_api.py
and test_security.py):
- request bodies are capped (`MAX_BODY_BYTES`; uploads at 1 MB by Gradio), the queue too;
- a demo endpoint refuses a wrong number of inputs by name (`checked_inputs`);
- a request may name only files it uploaded, never a server path or a URL (`checked_inputs`
  and Gradio's own check, which mounting leaves off: `has_launched`);
- only the public endpoints are callable by name, `/gradio_api/file=` serves no URL, a full
  queue answers "busy, retry", a malformed body gets one line (`Guard`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home at start

import gradio as gr
import gradio.utils as gr_utils
import torch
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import body_limit

from app.routes import add_routes
from app.ui import QUEUE_SIZE, RENDER_CONCURRENCY, build
from demos import all_demos

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# One upload (Gradio refuses files over 1 MB, `max_file_size` below) with its multipart framing,
# or one call whose values hold a 1 MB string: more is refused with 413 before it is read.
MAX_BODY_BYTES = 2_000_000
MAX_MESSAGE = 300  # characters of any refusal we write
# Gradio keeps each session's last inputs and outputs in memory (up to a request body, 2 MB,
# plus the figures) and drops sessions only past a capacity of 10_000: several GB. A browser
# tab is one session; 256 of them is a large class, and about 0.5 GB at the very worst.
SESSION_CAPACITY = 256
RETRY_AFTER_S = 2

# What Starlette's body limit raises once its 413 is sent (FastAPI lets them pass the same way).
BODY_LIMIT_SIGNALS: tuple[type[BaseException], ...] = tuple(
    getattr(body_limit, name)
    for name in ("_RequestBodyTooLarge", "_RequestBodyLimitResponseSent")
    if hasattr(body_limit, name)
)

log = logging.getLogger("uvicorn.error")  # printed by uvicorn at its log level

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
    app = FastAPI(
        title="ML explainers playground",
        docs_url=None,
        redoc_url=None,
        max_body_size=MAX_BODY_BYTES,  # shared with the mounted Gradio app
    )

    add_routes(app)

    blocks = build()
    # PLAYGROUND_QUEUE_SIZE: a smaller queue for tests that fill it.
    queue_size = int(os.environ.get("PLAYGROUND_QUEUE_SIZE", QUEUE_SIZE))
    # api_open=False: the direct routes (/gradio_api/run|api/<name>) would run any event,
    # picked by fn_index, beside the queue and its bounds. (Gradio closes them on Spaces only.)
    blocks.queue(default_concurrency_limit=RENDER_CONCURRENCY, max_size=queue_size, api_open=False)
    fields = {demo.slug: demo.fields for demo in all_demos}
    blocks.validate_inputs = checked_inputs(blocks.validate_inputs, fields)
    blocks.state_session_capacity = SESSION_CAPACITY  # read when the app is mounted
    blocks.process_api = forgetting_single_use_sessions(blocks.process_api, blocks)
    app.state.blocks = blocks  # for tests and tools that inspect the page
    app.add_middleware(Guard, public=set(fields))
    app = gr.mount_gradio_app(
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
    # Mounted (not launched), Gradio skips its own check that a file named in a request was
    # uploaded by a user, and copies any server file into its cache, where /file= serves it.
    # `launch()` sets this flag; the check then refuses files from outside the upload folder.
    blocks.has_launched = True
    return app


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count_message(name: str, fields: list[str], got: int) -> str:
    """'/activations takes 3 inputs (a, b, c); got 2' (one line)."""
    return shorten(f"/{name} takes {len(fields)} inputs ({', '.join(fields)}); got {got}")


def checked_inputs(
    gradio_check: Callable[[Any, list], None], fields: dict[str, list[str]]
) -> Callable[[Any, list], None]:
    """Blocks.validate_inputs, stricter; every refusal is one line for the client, none in
    the log.

    - Count: a demo endpoint (api_name in `fields`) takes exactly its fields, any other event
      at least its inputs. Gradio checks the count before the handler runs (too few: a
      ValueError echoing every value, with a traceback in the log; too many: dropped
      silently), so a handler taking `*values` never sees a wrong count: the check is here.
    - Files: a value shaped like Gradio's FileData is copied into the cache before any
      handler runs, from any path or URL the client names. Only files uploaded through
      `/gradio_api/upload` (inside the upload folder) pass.
    """

    def validate_inputs(block_fn: Any, inputs: list) -> None:
        names = fields.get(block_fn.api_name)
        wanted = len(block_fn.inputs)
        if len(inputs) < wanted or (names is not None and len(inputs) != wanted):
            names = names or [f"input {index}" for index in range(wanted)]
            name = block_fn.api_name or block_fn.name or "this event"
            raise gr.Error(count_message(name, names, len(inputs)), print_exception=False)
        for index, value in enumerate(inputs):
            component = block_fn.inputs[index] if index < len(block_fn.inputs) else None
            if isinstance(component, gr.File) and value is not None and not file_paths(value):
                # Gradio would validate it as FileData and log a traceback: refuse it here.
                raise gr.Error("file: please upload a file", print_exception=False)
            if not all(map(uploaded, file_paths(value))):
                name = names[index] if names and index < len(names) else f"input {index}"
                raise gr.Error(
                    f"{name}: a file must be uploaded first (POST /gradio_api/upload)",
                    print_exception=False,
                )
        gradio_check(block_fn, inputs)

    return validate_inputs


def forgetting_single_use_sessions(process_api: Callable, blocks: gr.Blocks) -> Callable:
    """Blocks.process_api, then the session dropped if it was made for this one call.

    A call by name (`/gradio_api/call/<slug>`, gradio_client) brings no session: Gradio makes
    one named after the event and keeps it, with the call's values, until 10_000 newer ones
    push it out (SESSION_CAPACITY). Dropped at once, such calls neither hold memory nor push
    out the sessions of open pages.
    """

    async def process_api_once(*args: Any, **kwargs: Any) -> Any:
        try:
            return await process_api(*args, **kwargs)
        finally:
            session = kwargs.get("session_hash")
            if session is not None and session == kwargs.get("event_id"):
                holder = blocks.state_holder
                with holder.lock:
                    holder.session_data.pop(session, None)
                    holder.time_last_used.pop(session, None)

    return process_api_once


def file_paths(value: Any) -> list[Any]:
    """The `path` of every FileData-shaped dict in a JSON value."""
    if isinstance(value, dict):
        if "path" in value and isinstance(value.get("meta"), dict):
            return [value["path"]]
        return [path for item in value.values() for path in file_paths(item)]
    if isinstance(value, list):
        return [path for item in value for path in file_paths(item)]
    return []


def uploaded(path: Any) -> bool:
    """A local path inside Gradio's upload folder (where /gradio_api/upload writes)."""
    if not isinstance(path, str) or "://" in path or "\0" in path:
        return False
    folder = Path(gr_utils.get_upload_folder()).resolve()
    try:
        return Path(path).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


class Guard:
    """ASGI middleware in front of every route (plain ASGI: event streams pass unbuffered).

    - `POST /gradio_api/{call,call/v2,run,api}/<name>` for a name that is not a public demo
      endpoint: 404 naming the endpoints (Gradio: a 500 and a traceback; private events ran).
    - A 503 (queue full) or 422 (malformed body) answer is rewritten to one short line,
      with `Retry-After` on the 503 (Gradio's 422 echoes the whole input back).
    - `/gradio_api/file=<URL>`: 403 (Gradio would fetch any public URL for the client).
    - An exception escaping a route (a bad fn_index, a bad keyword) is one log line, not a
      traceback: the client already got Gradio's 500.
    """

    NAMED = re.compile(r"/gradio_api/(?:call/v2|call|run|api)/([^/]*)/?")
    FILE = re.compile(r"/gradio_api/file[=/](.*)", re.DOTALL)

    def __init__(self, app: Any, public: Collection[str]) -> None:
        self.app = app
        self.public = set(public)
        self.endpoints = ", ".join(f"/{name}" for name in sorted(self.public))

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/gradio_api/"):
            await self.app(scope, receive, send)
            return
        named = self.NAMED.fullmatch(path)
        if scope["method"] == "POST" and named and named[1] not in self.public:
            detail = shorten(f"no public endpoint /{named[1]} (endpoints: {self.endpoints})")
            await respond(send, 404, detail)
            return
        served = self.FILE.fullmatch(path)
        if served and "://" in served[1]:
            await respond(send, 403, "the app serves no URLs")
            return
        rewriter = ErrorRewriter(send)
        try:
            await self.app(scope, receive, rewriter)
        except (StarletteHTTPException, *BODY_LIMIT_SIGNALS):
            raise  # an answer on its way: the body limit's 413
        except Exception as error:
            where = traceback.extract_tb(error.__traceback__)[-1]
            log.warning(
                shorten(
                    f"{scope['method']} {path}: {type(error).__name__}: {error} "
                    f"(at {Path(where.filename).name}:{where.lineno})"
                )
            )
            if not rewriter.started:
                await respond(send, 500, "internal error")


async def respond(send: Callable, status: int, detail: str, headers: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ErrorRewriter:
    """The `send` of one request: holds a 422 or 503 answer and sends one short line instead."""

    def __init__(self, send: Callable) -> None:
        self.send = send
        self.started = False
        self.held: dict | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if message["status"] in (422, 503):
                self.held = message
                return
        elif message["type"] == "http.response.body" and self.held is not None:
            self.chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            status = self.held["status"]
            if status == 503:
                detail = f"busy: too many requests are waiting; retry in {RETRY_AFTER_S} seconds"
                extra = [(b"retry-after", str(RETRY_AFTER_S).encode())]
            else:
                detail, extra = validation_detail(b"".join(self.chunks)), []
            await respond(self.send, status, detail, extra)
            return
        await self.send(message)


def validation_detail(body: bytes) -> str:
    """FastAPI's 422 body (a list of errors, each echoing its input) as one line."""
    try:
        detail = json.loads(body)["detail"]
    except (ValueError, KeyError, TypeError):
        return "malformed request"
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = list(first.get("loc", ()))
        if loc[:1] == ["body"]:
            loc = loc[1:]
        # A loc of (body, <int>) is a position in the raw body (malformed JSON), not a field.
        where = ".".join(str(part) for part in loc) if loc and isinstance(loc[0], str) else ""
        more = f" (+{len(detail) - 1} more)" if len(detail) > 1 else ""
        return shorten(f"{where or 'body'}: {first.get('msg', 'invalid')}{more}")
    return shorten(str(detail))
