"""The Gradio side of the server: a Blocks turned into a guarded ASGI app (imported when the
first page or the API is built, not to serve the gallery).

- a demo endpoint refuses a wrong number of inputs by name (`checked_inputs`);
- a request may name only files it uploaded, never a server path or a URL (`checked_inputs`
  and Gradio's own check, which mounting leaves off: `has_launched`);
- calls by name leave no session behind (`forgetting_single_use_sessions`), and the event ids
  Gradio keeps per session are bounded (`BoundedDict`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home at start

import gradio as gr
import gradio.utils as gr_utils
from fastapi import FastAPI

from app.server import (
    ASSETS,
    MAX_BODY_BYTES,
    PENDING_SESSIONS,
    SESSION_CAPACITY,
    count_message,
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
    return host.routes[-1].app


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
