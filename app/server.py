"""The ASGI app: the gallery, one lazily built Gradio app per demo page, and the API.

Routes: `/` the gallery of every demo (app/gallery.py; an old link `/?demo=<slug>&...` is
redirected to that demo's page), `/demo/<slug>` one demo's page (`?lang=zh&theme=dark&present=1`
plus the demo's parameters), `/export/<slug>.html` a demo as one offline HTML file (both in
app/routes.py), and Gradio's `/gradio_api/...`: of the API app at `/` (each demo's endpoint is
`/<slug>`) and of each page at `/demo/<slug>/gradio_api/...`.

Gradio apps are built on their first request (the API's also in the background once the server
is up), never at start: starting costs the same with 8 demos or 38, the gallery is served
without importing Gradio or torch, and a page downloads only its own demo. Each Gradio app has
its own queue; `app.ui.RENDER_SLOTS` bounds the renders running across all of them.

Anyone can send anything to a public Space, so the app bounds what one request can cost and
keeps each refusal to one short line, for the client and in the log (see tests/app/test_fuzz_api.py
and test_security.py): request bodies are capped (`MAX_BODY_BYTES`; uploads at 1 MB by Gradio),
the queues too; app/mount.py guards each Gradio app (input counts, files, sessions); `Guard`
lets only the public endpoints be called by name, names an unknown keyword, serves no URL from
`/gradio_api/file=`, answers "busy, retry" for a full queue and one line for a malformed body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import body_limit
from starlette.routing import Match, Mount

from app.limits import (
    UploadGate,
    client_of,
    count_received,
    garbage_watch,
    housekeeping,
    remember_uploads,
)
from app.routes import add_routes
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
MAX_URL = 16_384  # path + query, in bytes: the longest link of any demo is a few hundred

# What Starlette's body limit raises once its 413 is sent (FastAPI lets them pass the same way).
BODY_LIMIT_SIGNALS: tuple[type[BaseException], ...] = tuple(
    getattr(body_limit, name)
    for name in ("_RequestBodyTooLarge", "_RequestBodyLimitResponseSent")
    if hasattr(body_limit, name)
)

log = logging.getLogger("uvicorn.error")  # printed by uvicorn at its log level


def create_app() -> FastAPI:
    """The playground from `demos.all_demos` as it is now (tests may extend it first)."""
    demos = list(all_demos)
    slugs = [demo.slug for demo in demos]
    pages = LazyGradio("/demo", {demo.slug: (lambda d=demo: _ui().build_page(d)) for demo in demos})
    api = LazyGradio("", {"": lambda: _ui().build_api()}, public={d.slug: d.fields for d in demos})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # The API app is built in the background once the server is up: a first client
        # finds it ready, and the first page never waits for it.
        warm = asyncio.get_running_loop().run_in_executor(None, api.build, "")
        sweeper = asyncio.create_task(housekeeping())
        collector = asyncio.create_task(garbage_watch())
        try:
            yield
        finally:
            sweeper.cancel()
            collector.cancel()
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


def _ui() -> Any:
    """app.ui, imported on the first build (Gradio is not needed to serve the gallery)."""
    import app.ui

    return app.ui


# Gradio's build context (gr.context.Context) is global: one Blocks is built at a time.
BUILD_LOCK = threading.Lock()


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
        builders: dict[str, Callable[[], Any]],
        public: dict[str, list[str]] | None = None,
    ) -> None:
        self.prefix = prefix
        self.builders = builders
        self.public = public or {}
        self.apps: dict[str, tuple[Mount, Any]] = {}
        self.started: set[str] = set()
        self.stack = contextlib.AsyncExitStack()

    def blocks(self, key: str) -> Any:
        return self.build(key)[1]

    def build(self, key: str) -> tuple[Mount, Any]:
        with BUILD_LOCK:
            if key not in self.apps:
                from app.mount import mount_blocks

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
        child = {**scope, **child_scope}
        page = getattr(self.apps[key][1], "playground_page", None)
        if page is not None and scope.get("method") == "GET" and scope["path"].endswith(f"/{key}/"):
            await self.send_prefilled(mount, page, child, receive, send)
            return
        await mount.app(child, receive, send)

    async def send_prefilled(
        self, mount: Mount, page: Any, scope: dict, receive: Callable, send: Callable
    ) -> None:
        """A page's HTML, its config filled in for the link's query (app.ui.prefilled_html)."""
        from urllib.parse import parse_qsl

        # Uncompressed, so that it can be read and changed.
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"accept-encoding"]
        scope = {**scope, "headers": headers}
        start: dict = {}
        chunks: list[bytes] = []

        async def hold(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await mount.app(scope, receive, hold)
        body = b"".join(chunks)
        content_type = dict(start.get("headers", [])).get(b"content-type", b"")
        if start.get("status") == 200 and content_type.startswith(b"text/html"):
            raw = scope.get("query_string", b"").decode("latin-1")
            query = dict(parse_qsl(raw, keep_blank_values=True))
            loop = asyncio.get_running_loop()
            try:
                text = await loop.run_in_executor(
                    None, page.prefilled_html, body.decode("utf-8"), query
                )
                body = text.encode("utf-8")
            except Exception as error:  # the page still works: its load event fills it in
                log.warning(shorten(f"page {scope['path']}: not prefilled: {error!r}"))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def owning(send: Callable, client: str) -> Callable:
    """`send` that notes the paths of a successful upload's answer as `client`'s."""
    state = {"status": 0, "body": b""}

    async def send_and_note(message: dict) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
        elif message["type"] == "http.response.body" and state["status"] == 200:
            state["body"] += message.get("body", b"")
            if not message.get("more_body"):
                remember_uploads(client, state["body"])
        await send(message)

    return send_and_note


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count_message(name: str, fields: list[str], got: int) -> str:
    """'/activations takes 3 inputs (a, b, c); got 2' (one line)."""
    return shorten(f"/{name} takes {len(fields)} inputs ({', '.join(fields)}); got {got}")


class Guard:
    """ASGI middleware in front of every route (plain ASGI: event streams pass unbuffered).

    - `POST /gradio_api/{call,call/v2,run,api}/<name>` for a name that is not a public demo
      endpoint: 404 naming the endpoints (Gradio: a 500 and a traceback; private events ran).
    - A 503 (queue full) or 422 (malformed body) answer is rewritten to one short line,
      with `Retry-After` on the 503 (Gradio's 422 echoes the whole input back).
    - `/gradio_api/file=<URL>`: 403 (Gradio would fetch any public URL for the client).
    - `POST …/gradio_api/upload`: bounded per request, per client and in total (`app.limits`).
    - An exception escaping a route is one log line, not a traceback: the client already
      got Gradio's 500. (The queue's unknown events and sessions: `app.mount.QueueGuard`.)
    """

    # Gradio's routes of the API app (`/gradio_api/...`) and of a page (`/demo/<slug>/gradio_api/...`).
    API = re.compile(r"(/demo/[^/]+)?(/gradio_api/.*)", re.DOTALL)
    NAMED = re.compile(r"/gradio_api/(call/v2|call|run|api)/([^/]*)/?")
    FILE = re.compile(r"/gradio_api/file[=/](.*)", re.DOTALL)

    def __init__(self, app: Any, public: Collection[str], pages: Collection[str] = ()) -> None:
        self.app = app
        self.public = set(public)
        self.pages = set(pages)
        self.endpoints = ", ".join(f"/{name}" for name in sorted(self.public))
        self.uploads = UploadGate()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http":
            receive = counted(receive)
        if scope["type"] == "http" and (
            len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > MAX_URL
        ):
            # Gradio rebuilds the URL with httpx, whose limit is 65,536: a traceback, and on
            # /call an event stream that never ends. No link of the playground is this long.
            await respond(send, 414, f"URL longer than {MAX_URL} characters")
            return
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
        if scope["method"] == "POST" and route.rstrip("/") == "/gradio_api/upload":
            body = await read_body(receive, MAX_BODY_BYTES)
            if body is None:
                await respond(send, 413, f"request body larger than {MAX_BODY_BYTES} bytes")
                return
            refused = self.uploads.refusal(scope, body)
            if refused is not None:
                await respond(send, *refused)
                return
            receive = replay(body, receive)
            send = owning(send, client_of(scope))
        served = self.FILE.fullmatch(route)
        if served and "://" in served[1]:
            await respond(send, 403, "the app serves no URLs")
            return
        if scope["method"] == "POST" and named and named[1] == "call/v2" and named[2] in public:
            # Keywords are matched to the endpoint's parameters inside Gradio, whose error
            # is a 500 with a traceback: an unknown one is named here instead.
            body = await read_body(receive, MAX_BODY_BYTES)
            if body is None:
                await respond(send, 413, f"request body larger than {MAX_BODY_BYTES} bytes")
                return
            unknown = unknown_keywords(body, self.public_fields(named[2]))
            if unknown:
                fields = ", ".join(self.public_fields(named[2]))
                detail = f"/{named[2]}: unknown parameter `{unknown[:60]}` (parameters: {fields})"
                await respond(send, 400, shorten(detail))
                return
            receive = replay(body, receive)
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

    def public_fields(self, name: str) -> list[str]:
        demo = next((demo for demo in all_demos if demo.slug == name), None)
        return demo.fields if demo is not None else []


async def read_body(receive: Callable, limit: int) -> bytes | None:
    """A request's whole body, or None past `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def counted(receive: Callable) -> Callable:
    """`receive`, each body chunk's bytes noted for `app.limits.collect_garbage`."""

    async def counting() -> dict:
        message = await receive()
        if message.get("type") == "http.request":
            count_received(len(message.get("body", b"")))
        return message

    return counting


def replay(body: bytes, receive: Callable) -> Callable:
    """A `receive` that gives `body` again (read_body took it), then the client's messages."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if sent:
            return await receive()  # e.g. the disconnect
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def unknown_keywords(body: bytes, fields: list[str]) -> str:
    """The first key of a /call/v2 JSON body that is not a parameter ('' when all are)."""
    try:
        values = json.loads(body)
    except ValueError:
        return ""  # Gradio's own 422, rewritten to one line by ErrorRewriter
    if not isinstance(values, dict):
        return ""
    allowed = {*fields, "oauth_token"}
    return next((str(key) for key in values if key not in allowed), "")


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
