"""The Gradio side of the server: a Blocks turned into a guarded ASGI app (imported when the
first page or the API is built, not to serve the gallery).

- a demo endpoint refuses a wrong number of inputs by name (`checked_inputs`);
- a request may name only files it uploaded, never a server path or a URL (`checked_inputs`
  and Gradio's own check, which mounting leaves off: `has_launched`);
- a new session does not serialise every component of its Blocks (`LazySessionState`);
- calls by name leave no session behind (`forgetting_single_use_sessions`), the event ids
  Gradio keeps per session are bounded (`BoundedDict`), and results nobody fetches expire
  and are bounded in bytes (`app.limits.PendingResults`);
- an event that fails answers its error as one line, and the log gets one line, never a
  traceback (`one_line_errors`); the queue's routes refuse an event or session they do not
  know in one line (`QueueGuard`).
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home at start

import gradio as gr
import gradio.state_holder as gr_state
import gradio.utils as gr_utils
from fastapi import FastAPI

from app.limits import PendingResults
from app.server import (
    ASSETS,
    MAX_BODY_BYTES,
    PENDING_SESSIONS,
    SESSION_CAPACITY,
    count_message,
    log,
    read_body,
    replay,
    respond,
    shorten,
)
from app.ui import QUEUE_SIZE, RENDER_CONCURRENCY

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


class BoundedDict(OrderedDict):
    """A dict that forgets its oldest keys past `capacity` (Gradio's pending event ids)."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > self.capacity:
            self.popitem(last=False)


class LazySessionState(gr_state.SessionState):
    """Gradio's SessionState with the config of a component serialised when it is needed, not
    every component's at creation.

    Gradio makes a session for every call by name and, making it, serialises the config of
    every component of the Blocks (`config_for_block`, an `inspect.signature` each), which only
    a deep link reads in full; a call then updates its inputs' entries. The API Blocks holds
    every demo's hidden controls and plots (about 500 components): that took 68 % of the
    server's time under 32 clients at the defaults (py-spy), about 60 ms a call, and capped the
    app at 14 calls a second. Here a call serialises its own inputs; the whole dict, in
    Gradio's order, is built the first time something reads it (a deep link)."""

    def __init__(self, blocks: gr.Blocks) -> None:
        self._blocks = blocks
        self._some: dict = {}  # the entries made so far, by block id
        self._all = False
        self.blocks_config = copy.copy(blocks.default_config)
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600

    def _entry(self, key: int) -> dict:
        if key not in self._some:
            block = self.blocks_config.blocks[key]
            self._some[key] = self.blocks_config.config_for_block(key, [], block)
        return self._some[key]

    @property
    def config_values(self) -> dict:
        if not self._all:
            made = self._some
            self._some = {
                key: made[key] if key in made else self.blocks_config.config_for_block(key, [], b)
                for key, b in self.blocks_config.blocks.items()
                if key in self._blocks.blocks or key in made
            }
            self._all = True
        return self._some

    @config_values.setter
    def config_values(self, value: dict) -> None:
        self._some, self._all = value, True

    def __setitem__(self, key: int, value: Any) -> None:
        # Gradio's, with the one entry made directly (its own reads the whole dict)
        from gradio.components import State

        block = self.blocks_config.blocks.get(key)
        if isinstance(block, State):
            self._state_ttl[key] = (block.time_to_live, datetime.datetime.now())
            self.state_data[key] = value
        else:
            self.blocks_config.blocks[key] = value
        if block:
            self._some[key] = self.blocks_config.config_for_block(key, [], block)

    def _update_config(self, key: int) -> None:
        if self[key] is not None:
            self._some[key] = self.blocks_config.config_for_block(key, [], self[key])

    def _update_value_in_config(self, key: int, value: Any) -> None:
        entry = self._entry(key)
        if "props" in entry:
            entry["props"]["value"] = value


# StateHolder.__getitem__ makes its sessions from this module attribute.
gr_state.SessionState = LazySessionState


def mount_blocks(blocks: gr.Blocks, path: str, fields: dict[str, list[str]]) -> Any:
    """Blocks -> its Gradio ASGI app, served under `path`, with the playground's guards."""
    queue_size = int(os.environ.get("PLAYGROUND_QUEUE_SIZE", QUEUE_SIZE))
    # api_open=False: the direct routes (/gradio_api/run|api/<name>) would run any event,
    # picked by fn_index, beside the queue and its bounds. (Gradio closes them on Spaces only.)
    blocks.queue(default_concurrency_limit=RENDER_CONCURRENCY, max_size=queue_size, api_open=False)
    blocks.validate_inputs = checked_inputs(blocks.validate_inputs, fields)
    blocks.state_session_capacity = SESSION_CAPACITY  # read when the app is mounted
    blocks.process_api = one_line_errors(forgetting_single_use_sessions(blocks.process_api, blocks))
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
    queue = blocks._queue
    queue.pending_messages_per_session = PendingResults(
        PENDING_SESSIONS,
        busy=lambda session: any(
            e.session_hash == session for e in list(queue.event_ids_to_events.values())
        ),
    )
    # Every queue polls its jobs in a loop, every 1 ms when idle: one per opened page would add
    # up (0.5 % of a core each, measured). Pages poll every 10 ms; the API app, which serves
    # bursts of calls, keeps 1 ms; progress updates (unused here) every 50 ms.
    if not fields:
        blocks._queue.sleep_when_free = 0.01
    blocks._queue.progress_update_sleep_when_free = 0.05
    # Mounted (not launched), Gradio skips its own check that a file named in a request was
    # uploaded by a user, and copies any server file into its cache, where /file= serves it.
    # `launch()` sets this flag; the check then refuses files from outside the upload folder.
    blocks.has_launched = True
    return QueueGuard(host.routes[-1].app, blocks)


class QueueGuard:
    """ASGI wrapper of one Blocks' app: the queue's routes, given an event or a session that
    does not exist, answer one line (Gradio: a 500 and a log line for a `fn_index` it has not,
    an event without a server function queued and failing with a traceback, and on
    `/queue/data` or `/call/<api>/<id>` a stream that ends without completing the response).
    """

    JOIN = re.compile(r".*/gradio_api/queue/join/?")
    DATA = re.compile(r".*/gradio_api/queue/data/?")
    RESULT = re.compile(r".*/gradio_api/call/(?:v2/)?[^/]+/([^/]+)/?")

    def __init__(self, app: Any, blocks: gr.Blocks) -> None:
        self.app = app
        self.blocks = blocks

    def __getattr__(self, name: str) -> Any:  # the wrapped app's router, lifespan, state
        return getattr(self.app, name)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        method = scope.get("method")
        if method == "POST" and self.JOIN.fullmatch(path):
            body = await read_body(receive, MAX_BODY_BYTES)
            if body is None:
                await respond(send, 413, f"request body larger than {MAX_BODY_BYTES} bytes")
                return
            refusal = self.join_refusal(body)
            if refusal:
                await respond(send, refusal[0], refusal[1])
                return
            receive = replay(body, receive)
        elif method == "GET" and (self.DATA.fullmatch(path) or self.RESULT.fullmatch(path)):
            result = self.RESULT.fullmatch(path)
            session = self.session_of(result[1]) if result else self.query_session(scope)
            if session not in self.blocks._queue.pending_messages_per_session:
                what = f"event {result[1]!r}" if result else f"session {session!r}"
                await respond(send, 404, shorten(f"no pending {what}: it ended or never was"))
                return
        await self.app(scope, receive, send)

    def join_refusal(self, body: bytes) -> tuple[int, str] | None:
        """(status, line) for a join naming an event the server cannot run; None to pass."""
        try:
            fn_index = json.loads(body).get("fn_index")
        except (ValueError, AttributeError):
            return None  # Gradio's 422, rewritten to one line by the Guard
        if not isinstance(fn_index, int) or isinstance(fn_index, bool):
            return None
        block_fn = self.blocks.fns.get(fn_index)
        if block_fn is None:
            return 404, f"no event with fn_index {fn_index}"
        if block_fn.fn is None:
            return 400, f"event {fn_index} runs in the browser: nothing to run on the server"
        return None

    def session_of(self, event_id: str) -> str | None:
        """The session of an event id, as Gradio's `/call/<api>/<id>` finds it, or None.

        Gradio falls back to taking the id for a session hash: given a page's session hash
        (seen on a shared screen, in a log), it streamed that session's results. Only an
        event's own id is taken here."""
        queue = self.blocks._queue
        event = queue.event_ids_to_events.get(event_id)
        if event is not None:
            return event.session_hash
        owners = (s for s, ids in queue.pending_event_ids_session.items() if event_id in ids)
        return next(owners, None)

    @staticmethod
    def query_session(scope: dict) -> str:
        query = parse_qs((scope.get("query_string") or b"").decode(errors="replace"))
        return (query.get("session_hash") or [""])[0]


def one_line_errors(process_api: Callable) -> Callable:
    """Blocks.process_api whose failures reach the queue as a `gr.Error` that prints nothing.

    Gradio prints the traceback of any other exception (a component's preprocess refusing a
    null, a file that is gone) and of a `gr.Error` left with print_exception=True; the client
    gets the message either way. Here the log gets one line naming the error instead.
    """

    async def process_api_quietly(*args: Any, **kwargs: Any) -> Any:
        try:
            return await process_api(*args, **kwargs)
        except gr.Error as error:
            error.print_exception = False
            raise
        except Exception as error:
            name = getattr(kwargs.get("block_fn"), "api_name", None) or "event"
            log.warning(shorten(f"{name}: {type(error).__name__}: {error}"))
            message = shorten(f"{type(error).__name__}: {error}")
            raise gr.Error(message, print_exception=False) from None

    return process_api_quietly


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
    """A file inside Gradio's upload folder (where /gradio_api/upload writes); not a folder,
    which Gradio would take for a file it made and fail to delete at shutdown, nor a path
    that is gone, which its preprocess would fail on with a traceback."""
    if not isinstance(path, str) or "://" in path or "\0" in path:
        return False
    folder = Path(gr_utils.get_upload_folder()).resolve()
    try:
        resolved = Path(path).resolve()
        return resolved.is_relative_to(folder) and resolved.is_file()
    except (OSError, ValueError):
        return False
