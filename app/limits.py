"""What a stranger can make the server keep: uploads nobody reads and results nobody fetches.

- `UploadGate` (ASGI, in front of `/gradio_api/upload` of the API and of every page): at most
  `UPLOAD_FILES` files a request, `UPLOAD_CLIENT_BYTES` per client within `UPLOAD_TTL_S`, and a
  folder of at most `UPLOAD_FOLDER_BYTES`; each refusal is one line (413, 429 or 507).
- `remember_uploads` / `uploaded_by`: an upload event reads only a file the same client
  uploaded (a path seen on a shared screen or in a log is not enough).
- `sweep_uploads`: files in the upload folder older than `UPLOAD_TTL_S` are deleted. A demo
  reads its upload at once and deletes it (`app.ui`), so an old file is one no event read.
- `PendingResults`: Gradio keeps each call's result until the client fetches it
  (`GET /gradio_api/call/<name>/<id>`). Here a session's messages are forgotten `RESULT_TTL_S`
  after its last one, and the unread results held by one Blocks are bounded in bytes
  (`RESULT_BYTES`), the oldest session forgotten first.
- `housekeeping`: the server's background task that runs both sweeps every `SWEEP_S`.
- `count_received` / `collect_garbage`: a full garbage collection once `GARBAGE_BYTES` of
  request bodies have arrived since the last. A refused call's exception and its traceback
  sit in reference cycles (Gradio's error path) with the event's frames, whose locals hold the
  request's values; they wait for Python's rare full collections. Measured: 100 refused calls
  of 1 MB each kept about 80 MB, batch after batch, until a `gc.collect()` (which, with every
  demo loaded, takes about 0.15 s).

Imports no Gradio: the server's middleware stays light.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _setting(name: str, default: float) -> float:
    """PLAYGROUND_<NAME> from the environment (tests shorten times and budgets), else default."""
    try:
        return float(os.environ.get(f"PLAYGROUND_{name}", default))
    except ValueError:
        return default


UPLOAD_TTL_S = _setting("UPLOAD_TTL_S", 300.0)  # an upload no event has read by then is deleted
UPLOAD_FILES = 4  # files in one upload request (a demo takes one)
UPLOAD_CLIENT_BYTES = int(_setting("UPLOAD_CLIENT_BYTES", 8e6))  # per client within the TTL
UPLOAD_FOLDER_BYTES = int(_setting("UPLOAD_FOLDER_BYTES", 64e6))  # the whole upload folder
RESULT_TTL_S = _setting("RESULT_TTL_S", 120.0)  # a session's messages after its last one
RESULT_BYTES = int(_setting("RESULT_BYTES", 64e6))  # unfetched results held by one Blocks
SWEEP_S = _setting("SWEEP_S", 15.0)
GARBAGE_BYTES = int(_setting("GARBAGE_BYTES", 32e6))  # request bytes between full collections
_RECEIVED = [0]  # request-body bytes since the last full collection


def upload_folder() -> Path:
    """Gradio's upload folder, as `gradio.utils.get_upload_folder` computes it."""
    import tempfile

    return Path(
        os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    ).resolve()


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def sweep_uploads(folder: Path | None = None, ttl_s: float = UPLOAD_TTL_S) -> int:
    """Delete files older than `ttl_s` (by modification time) and the folders they leave empty;
    the number of files deleted."""
    folder = folder or upload_folder()
    if not folder.is_dir():
        return 0
    cutoff = time.time() - ttl_s
    deleted = 0
    for root, _, files in os.walk(folder, topdown=False):
        for name in files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if os.lstat(path).st_mtime < cutoff:
                    os.unlink(path)
                    deleted += 1
        if root != str(folder):
            with contextlib.suppress(OSError):
                os.rmdir(root)  # only when empty
    return deleted


def client_from(host: str | None, forwarded_for: str | None) -> str:
    """The client's address; behind a proxy of ours (PLAYGROUND_TRUST_FORWARDED_HOST=1) the
    last X-Forwarded-For entry, the one that proxy appended (a client can send the header
    itself, so earlier entries, and the header without such a proxy, prove nothing)."""
    if forwarded_for and os.environ.get("PLAYGROUND_TRUST_FORWARDED_HOST") == "1":
        return forwarded_for.split(",")[-1].strip()
    return host or "?"


def client_of(scope: dict) -> str:
    """`client_from` an ASGI scope."""
    forwarded = next(
        (v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"x-forwarded-for"),
        None,
    )
    client = scope.get("client")
    return client_from(client[0] if client else None, forwarded)


# Who uploaded each file (resolved path -> client, when): an upload event reads only a file
# its own client uploaded, never another's whose path it has seen.
OWNERS: dict[str, tuple[str, float]] = {}
MAX_OWNERS = 10_000


def _key(path: str) -> str:
    return str(Path(path).resolve())


def remember_uploads(client: str, body: bytes) -> None:
    """The paths of a successful upload's answer (a JSON list), as this client's."""
    try:
        paths = json.loads(body)
    except ValueError:
        return
    now = time.monotonic()
    for path in paths if isinstance(paths, list) else []:
        if isinstance(path, str) and "\0" not in path:
            with contextlib.suppress(OSError, ValueError):
                OWNERS[_key(path)] = (client, now)
    while len(OWNERS) > MAX_OWNERS:
        del OWNERS[next(iter(OWNERS))]


def uploaded_by(path: str, client: str) -> bool:
    try:
        owner = OWNERS.get(_key(path))
    except (OSError, ValueError):
        return False
    return owner is not None and owner[0] == client


def forget_old_owners(ttl_s: float = UPLOAD_TTL_S) -> None:
    cutoff = time.monotonic() - ttl_s
    for path in [p for p, (_, t) in OWNERS.items() if t < cutoff]:
        OWNERS.pop(path, None)


class UploadGate:
    """The bounds of `POST …/gradio_api/upload`, checked before Gradio stores anything."""

    def __init__(self, folder: Callable[[], Path] = upload_folder) -> None:
        self.folder = folder
        self.sent: dict[str, deque[tuple[float, int]]] = {}
        self.measured = (0.0, 0)  # (when, folder bytes): the folder is walked at most once a second

    def client_bytes(self, client: str, now: float) -> int:
        sent = self.sent.get(client)
        while sent and sent[0][0] < now - UPLOAD_TTL_S:
            sent.popleft()
        if sent is not None and not sent:
            del self.sent[client]
        return sum(size for _, size in sent or ())

    def stored_bytes(self, now: float) -> int:
        when, size = self.measured
        if now - when > 1.0:
            folder = self.folder()
            size = folder_bytes(folder) if folder.is_dir() else 0
            self.measured = (now, size)
        return size

    def refusal(self, scope: dict, body: bytes) -> tuple[int, str] | None:
        """(status, one line) when this upload must be refused, else None (and it is counted)."""
        now = time.monotonic()
        files = body.count(b'filename="')
        if files > UPLOAD_FILES:
            return 413, f"file: at most {UPLOAD_FILES} files in one upload ({files} sent)"
        client = client_of(scope)
        if self.client_bytes(client, now) + len(body) > UPLOAD_CLIENT_BYTES:
            minutes = UPLOAD_TTL_S / 60
            return 429, (
                f"file: more than {UPLOAD_CLIENT_BYTES // 1_000_000} MB uploaded in "
                f"{minutes:g} minutes; try again later"
            )
        if self.stored_bytes(now) + len(body) > UPLOAD_FOLDER_BYTES:
            return 507, "file: the server's upload space is full; try again in a few minutes"
        self.sent.setdefault(client, deque()).append((now, len(body)))
        self.measured = (self.measured[0], self.measured[1] + len(body))
        return None


def _size(value: Any) -> int:
    """Rough bytes of a result as JSON: the strings and numbers in it (figures are strings)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, dict):
        return sum(len(str(k)) + _size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    if hasattr(value, "__dict__"):
        return _size(vars(value))
    return 8


class PendingResults(OrderedDict):
    """Gradio's `pending_messages_per_session` (session -> asyncio.Queue of messages) with an
    age limit and a byte budget. A session it has forgotten gets a queue that keeps nothing."""

    def __init__(
        self,
        capacity: int,
        ttl_s: float = RESULT_TTL_S,
        max_bytes: int = RESULT_BYTES,
        busy: Callable[[str], bool] = lambda session: False,
    ) -> None:
        super().__init__()
        self.capacity, self.ttl_s, self.max_bytes = capacity, ttl_s, max_bytes
        self.busy = busy  # a session with an event waiting or running is never forgotten
        self.born: dict[str, float] = {}
        self.bytes: dict[str, int] = {}
        self.finished: set[str] = set()  # sessions holding a finished result
        LIVE_RESULTS.append(weakref.ref(self))  # for `housekeeping`

    def __setitem__(self, key: str, queue: Any) -> None:
        if key not in self:
            self.born[key] = time.monotonic()
            self.bytes[key] = 0
            put = queue.put_nowait

            def counted(message: Any, key: str = key, put: Callable = put) -> None:
                if key in self.bytes:
                    self.born[key] = time.monotonic()  # the age counts from the last message
                    self.bytes[key] += _size(message)
                    kind = getattr(message, "msg", None)
                    if getattr(kind, "value", kind) == "process_completed":
                        self.finished.add(key)
                put(message)
                self.expire()

            queue.put_nowait = counted
        super().__setitem__(key, queue)
        self.expire()

    def __missing__(self, key: str) -> Any:
        return asyncio.Queue()  # an expired session: its messages go nowhere

    def __delitem__(self, key: str) -> None:
        if key in self:
            super().__delitem__(key)
        self.born.pop(key, None)
        self.bytes.pop(key, None)
        self.finished.discard(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.born.pop(key, None)
        self.bytes.pop(key, None)
        self.finished.discard(key)
        return super().pop(key, *default)

    def held_bytes(self) -> int:
        for key, queue in self.items():
            if queue.empty():
                self.bytes[key] = 0  # read by its stream
        return sum(self.bytes.values())

    def expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, t in self.born.items() if now - t > self.ttl_s]:
            if not self.busy(key):
                del self[key]
        if len(self) <= self.capacity and self.held_bytes() <= self.max_bytes:
            return
        for key in list(self):  # the oldest first
            over_count = len(self) > self.capacity
            if not over_count and self.held_bytes() <= self.max_bytes:
                break
            # for bytes, only a finished result nobody fetched is let go: a session whose
            # event has not finished (or not even started) frees nothing and would lose it
            if not self.busy(key) and (over_count or key in self.finished):
                del self[key]


LIVE_RESULTS: list[weakref.ref[PendingResults]] = []  # one per mounted Blocks


def count_received(size: int) -> None:
    """Note `size` bytes of a request body (app.server.read_body)."""
    _RECEIVED[0] += size


def collect_garbage(threshold: int = GARBAGE_BYTES) -> bool:
    """A full garbage collection if `threshold` request bytes arrived since the last one."""
    if _RECEIVED[0] < threshold:
        return False
    _RECEIVED[0] = 0
    gc.collect()
    return True


async def garbage_watch(every_s: float = 0.5) -> None:
    """`collect_garbage` twice a second, forever (the server cancels it at exit)."""
    while True:
        await asyncio.sleep(every_s)
        collect_garbage()


async def housekeeping(every_s: float = SWEEP_S) -> None:
    """Sweep uploads and expire unfetched results, forever (the server cancels it at exit)."""
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(sweep_uploads)
        forget_old_owners()
        LIVE_RESULTS[:] = [ref for ref in LIVE_RESULTS if ref() is not None]
        for ref in list(LIVE_RESULTS):
            pending = ref()
            with contextlib.suppress(Exception):
                if pending is not None:
                    pending.expire()
