"""The ASGI app: the gallery, one lazily built Gradio app per demo page, and the API.

Routes: `/` the gallery of every demo (app/gallery.py; an old link `/?demo=<slug>&...` is
redirected to that demo's page), `/demo/<slug>` one demo's page (`?lang=zh&theme=dark&present=1`
plus the demo's parameters), `/export/<slug>.html` a demo as one offline HTML file, and
Gradio's `/gradio_api/...` of the API app at `/` (each demo's endpoint is `/<slug>`) and of each
page at `/demo/<slug>/gradio_api/...` (app/routes.py).

Pages are built on their first request, never at start: starting the playground costs the
same with 8 demos or 38, and a page downloads only its own demo. A page's Gradio app is a
plain mount, with its own queue; `app.ui.RENDER_SLOTS` bounds the renders across all of them.

Anyone can send anything to a public Space, so the app bounds what one request can cost and
keeps each refusal to one short line, for the client and in the log (see tests/app/test_fuzz_api.py
and test_security.py):
- request bodies are capped (`MAX_BODY_BYTES`; uploads at 1 MB by Gradio), the queues too;
- a demo endpoint refuses a wrong number of inputs by name (`checked_inputs`);
- a request may name only files it uploaded, never a server path or a URL (`checked_inputs`
  and Gradio's own check, which mounting leaves off: `has_launched`);
- only the public endpoints are callable by name, `/gradio_api/file=` serves no URL, a full
  queue answers "busy, retry", a malformed body gets one line (`Guard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home at start

import gradio as gr
import gradio.utils as gr_utils
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import body_limit
from starlette.routing import Match, Mount

from app.routes import add_routes
from app.ui import QUEUE_SIZE, RENDER_CONCURRENCY, build_api, build_page
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
# Event ids Gradio keeps per session until their results are read (about 0.4 KB each for a
# call by name, whose session is the call): the oldest sessions are forgotten past this.
PENDING_SESSIONS = 1024
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
# In an iframe, with `embed=1` or with `present=1`, the page shows the demo alone.
PAGE_JS = """
() => {
  const query = new URLSearchParams(window.location.search);
  const theme = query.get('theme') || query.get('__theme') || 'light';
  document.body.classList.toggle('dark', theme === 'dark');
  document.documentElement.lang = query.get('lang') === 'zh' ? 'zh-CN' : 'en';
  const on = (key) => ['1', 'true', 'yes'].includes((query.get(key) || '').toLowerCase());
  let framed = false;
  try { framed = window.self !== window.top; } catch (error) { framed = true; }
  document.body.classList.toggle('present', on('present'));
  document.body.classList.toggle('embed', on('embed') || on('present') || framed);
}
"""


def create_app() -> FastAPI:
    """The playground from `demos.all_demos` as it is now (tests may extend it first)."""
    demos = list(all_demos)
    slugs = [demo.slug for demo in demos]
    pages = LazyGradio("/demo", {demo.slug: (lambda d=demo: build_page(d)) for demo in demos})
    api = LazyGradio("", {"": build_api}, public={demo.slug: demo.fields for demo in demos})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # The API app is built in the background once the server is up: a first client
        # finds it ready, and the first page never waits for it.
        warm = asyncio.get_running_loop().run_in_executor(None, api.build, "")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await warm
            await pages.close()
            await api.close()

    app = FastAPI(
        title="ML explainers playground",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        max_body_size=MAX_BODY_BYTES,
        lifespan=lifespan,
    )
    add_routes(app, demos)
    app.mount("/demo", pages)
    app.mount("/", api)
    app.state.pages = pages  # for tests and tools that inspect a page's Blocks
    app.state.api = api
    app.add_middleware(Guard, public=set(slugs), pages=set(slugs))
    return app


class BoundedDict(OrderedDict):
    """A dict that forgets its oldest keys past `capacity` (Gradio's pending event ids)."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > self.capacity:
            self.popitem(last=False)


def mount_blocks(blocks: gr.Blocks, path: str, fields: dict[str, list[str]]) -> Any:
    """Blocks -> its Gradio ASGI app, served under `path`, with the playground's guards."""
    queue_size = int(os.environ.get("PLAYGROUND_QUEUE_SIZE", QUEUE_SIZE))
    # api_open=False: the direct routes (/gradio_api/run|api/<name>) would run any event,
    # picked by fn_index, beside the queue and its bounds. (Gradio closes them on Spaces only.)
    blocks.queue(default_concurrency_limit=RENDER_CONCURRENCY, max_size=queue_size, api_open=False)
    blocks.validate_inputs = checked_inputs(blocks.validate_inputs, fields)
    blocks.state_session_capacity = SESSION_CAPACITY  # read when the app is mounted
    blocks.process_api = forgetting_single_use_sessions(blocks.process_api, blocks)
    host = FastAPI(max_body_size=MAX_BODY_BYTES)
    gr.mount_gradio_app(
        host,
        blocks,
        path=path or "/",
        theme=THEME,
        css_paths=[ASSETS / "app.css"],
        js=PAGE_JS,
        show_error=False,
        ssr_mode=False,
        footer_links=["api"] if fields else [],
        max_file_size="1mb",
    )
    blocks._queue.pending_event_ids_session = BoundedDict(PENDING_SESSIONS)
    # Mounted (not launched), Gradio skips its own check that a file named in a request was
    # uploaded by a user, and copies any server file into its cache, where /file= serves it.
    # `launch()` sets this flag; the check then refuses files from outside the upload folder.
    blocks.has_launched = True
    return host.routes[-1].app


class LazyGradio:
    """ASGI app: Gradio apps under `prefix`, one per key, each built on its first request.

    Keys are the first path segment after `prefix` (a demo's slug), or "" for one app that
    serves everything under `prefix`. A path under `prefix` whose first segment is not a key
    is Gradio's static files (`/demo/assets/...` of a page opened without a trailing slash),
    served by any app, or 404.
    """

    STATIC = ("assets", "static", "theme.css", "favicon.ico", "manifest.json", "svelte")

    def __init__(
        self,
        prefix: str,
        builders: dict[str, Callable[[], gr.Blocks]],
        public: dict[str, list[str]] | None = None,
    ) -> None:
        self.prefix = prefix
        self.builders = builders
        self.public = public or {}
        self.apps: dict[str, tuple[Mount, gr.Blocks]] = {}
        self.started: set[str] = set()
        self.lock = threading.Lock()  # Gradio's build context is global: one build at a time
        self.stack = contextlib.AsyncExitStack()

    def blocks(self, key: str) -> gr.Blocks:
        return self.build(key)[1]

    def build(self, key: str) -> tuple[Mount, gr.Blocks]:
        with self.lock:
            if key not in self.apps:
                blocks = self.builders[key]()
                path = f"{self.prefix}/{key}" if key else self.prefix
                asgi = mount_blocks(blocks, path, self.public)
                self.apps[key] = (Mount(f"/{key}" if key else "", app=asgi), blocks)
            return self.apps[key]

    async def start(self, key: str) -> Mount:
        if key not in self.apps:
            await asyncio.get_running_loop().run_in_executor(None, self.build, key)
        mount, blocks = self.apps[key]
        if key not in self.started:
            self.started.add(key)
            asgi = mount.app
            await self.stack.enter_async_context(asgi.router.lifespan_context(asgi))
            blocks.run_startup_events()
            await blocks.run_extra_startup_events()
        return mount

    async def close(self) -> None:
        await self.stack.aclose()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":  # the parent app's lifespan starts nothing here
            return
        path = scope["path"]
        rest = path[len(self.prefix) :] if path.startswith(self.prefix) else path
        first = rest.lstrip("/").split("/", 1)[0]
        if "" in self.builders:
            key = ""
        elif first in self.builders:
            key = first
            if rest.rstrip("/") == f"/{key}" and not rest.endswith("/"):
                # /demo/<slug> is the page itself, as /demo/<slug>/ (assets resolve to
                # /demo/assets/, served below)
                scope = {**scope, "path": path + "/", "raw_path": (path + "/").encode()}
        elif first in self.STATIC and self.builders:
            key = next(iter(self.apps), None) or next(iter(self.builders))
            mount = await self.start(key)
            child = {**scope, "root_path": scope.get("root_path", "")}
            await mount.app(child, receive, send)
            return
        else:
            await respond(send, 404, f"no demo {first[:60]!r}")
            return
        mount = await self.start(key)
        match, child_scope = mount.matches(scope)
        if match is not Match.FULL:
            await respond(send, 404, "not found")
            return
        await mount.app({**scope, **child_scope}, receive, send)


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

    # Gradio's routes of the API app (`/gradio_api/...`) and of a page (`/demo/<slug>/gradio_api/...`).
    API = re.compile(r"(/demo/[^/]+)?(/gradio_api/.*)", re.DOTALL)
    NAMED = re.compile(r"/gradio_api/(call/v2|call|run|api)/([^/]*)/?")
    FILE = re.compile(r"/gradio_api/file[=/](.*)", re.DOTALL)
    # What Gradio's client utilities raise for a bad keyword of /call/v2 (a 500 otherwise).
    KEYWORD = re.compile(r"(Parameter `[^`]{0,80}` is [^.]*|No value provided for [^.]*)")

    def __init__(self, app: Any, public: Collection[str], pages: Collection[str] = ()) -> None:
        self.app = app
        self.public = set(public)
        self.pages = set(pages)
        self.endpoints = ", ".join(f"/{name}" for name in sorted(self.public))

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        api = self.API.fullmatch(path) if scope["type"] == "http" else None
        if api is None:
            await self.app(scope, receive, send)
            return
        page, route = api[1], api[2]
        named = self.NAMED.fullmatch(route)
        # Pages have no public endpoint: their events are called by the page itself.
        public = set() if page else self.public
        if scope["method"] == "POST" and named and named[2] not in public:
            where = f"{page}: " if page else ""
            endpoints = "none; the API is at /gradio_api/" if page else self.endpoints
            detail = shorten(f"{where}no public endpoint /{named[2]} (endpoints: {endpoints})")
            await respond(send, 404, detail)
            return
        served = self.FILE.fullmatch(route)
        if served and "://" in served[1]:
            await respond(send, 403, "the app serves no URLs")
            return
        rewriter = ErrorRewriter(send)
        try:
            await self.app(scope, receive, rewriter)
        except (StarletteHTTPException, *BODY_LIMIT_SIGNALS):
            raise  # an answer on its way: the body limit's 413
        except Exception as error:
            keyword = self.KEYWORD.search(str(error)) if named and named[1] == "call/v2" else None
            if keyword and not rewriter.started:
                fields = f" (parameters: {', '.join(self.public_fields(named[2]))})"
                await respond(send, 400, shorten(f"/{named[2]}: {keyword[1]}{fields}"))
                return
            where = traceback.extract_tb(error.__traceback__)[-1]
            log.warning(
                shorten(
                    f"{scope['method']} {path}: {type(error).__name__}: {error} "
                    f"(at {Path(where.filename).name}:{where.lineno})"
                )
            )
            if not rewriter.started:
                await respond(send, 500, "internal error")

    def public_fields(self, name: str) -> list[str]:
        demo = next((demo for demo in all_demos if demo.slug == name), None)
        return demo.fields if demo is not None else []


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
