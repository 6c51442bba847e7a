"""Security defaults: loopback bind, no code or pickle from input, bounded uploads that are
deleted, and file routes that serve nothing of the repository or the system.

Checked against the running app (`app_url`), in-process on the built app, and on the source.
"""

from __future__ import annotations

import ast
import os
import socket
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from app import __main__ as entry
from app import server as app_server
from app.process import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("core", "demos", "app")


# --- no eval, exec, pickle or unsafe loaders in the code -----------------------------------------

UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "marshal",
    "shelve",
    "joblib",
}
UNSAFE_CALLS = {
    "eval",
    "exec",
    "__import__",
    "torch.load",
    "numpy.load",
    "np.load",
    "pandas.read_pickle",
    "pd.read_pickle",
    "yaml.load",
    "yaml.unsafe_load",
    "yaml.full_load",
    "os.system",
    "os.popen",
}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def unsafe_uses(source: str, filename: str = "<source>") -> list[str]:
    """`file:line what` for each import of a pickle-like module and each unsafe call.

    Parsed, not grepped: `model.eval()` (a torch module's mode switch) is not `eval(...)`.
    Allowed: `yaml.load(..., Loader=yaml.SafeLoader)`, `np.load(...)` without allow_pickle,
    `torch.load(..., weights_only=True)` (torch's restricted unpickler: tensors and plain
    containers only, no code).
    """
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            found += [f"{where} import {n}" for n in names if n.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.Call):
            name = dotted(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if name in {"numpy.load", "np.load"}:
                pickle = keywords.get("allow_pickle")
                if not (isinstance(pickle, ast.Constant) and pickle.value is True):
                    continue
            if name == "torch.load":
                restricted = keywords.get("weights_only")
                if isinstance(restricted, ast.Constant) and restricted.value is True:
                    continue
            if name == "yaml.load" and dotted(keywords.get("Loader", ast.Name(""))).endswith(
                ("SafeLoader", "CSafeLoader")
            ):
                continue
            if name in UNSAFE_CALLS:
                found.append(f"{where} {name}(...)")
            shell = keywords.get("shell")
            if name.startswith("subprocess.") and isinstance(shell, ast.Constant) and shell.value:
                found.append(f"{where} {name}(shell=True)")
    return found


def test_no_eval_exec_pickle_or_unsafe_loader_in_the_code() -> None:
    files = [path for folder in SCANNED for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 5
    found = []
    for path in files:
        found += unsafe_uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        "eval(text)",
        "exec(code)",
        "import pickle",
        "from pickle import loads",
        "import dill as d",
        "torch.load(path)",
        "torch.load(path, weights_only=False)",
        "np.load(path, allow_pickle=True)",
        "yaml.load(text)",
        "yaml.load(text, Loader=yaml.FullLoader)",
        "subprocess.run(cmd, shell=True)",
        "os.system(cmd)",
    ],
)
def test_the_scan_finds_each_unsafe_use(snippet: str) -> None:
    assert len(unsafe_uses(snippet)) == 1


@pytest.mark.parametrize(
    "snippet",
    [
        "model.eval()",
        "np.load(path)",
        "yaml.load(text, Loader=yaml.SafeLoader)",
        "yaml.safe_load(t)",
        "torch.load(buffer, weights_only=True)",
    ],
)
def test_the_scan_leaves_safe_code_alone(snippet: str) -> None:
    assert unsafe_uses(snippet) == []


# --- binds the loopback interface unless told otherwise --------------------------------------------


def started_host(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    """The host `python -m app` would serve on with this environment (uvicorn not started)."""
    seen: dict[str, Any] = {}
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.setenv("GRADIO_SERVER_PORT", str(free_port()))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(app_server, "create_app", lambda: "app")
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, **_: seen.update(host=host))
    entry.main()
    return seen["host"]


def test_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert started_host(monkeypatch, {}) == "127.0.0.1"


def test_binds_another_address_only_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert started_host(monkeypatch, {"GRADIO_SERVER_NAME": "0.0.0.0"}) == "0.0.0.0"


def listening_hosts(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (Linux /proc/net/tcp{,6})."""
    hosts = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, size, 4))
                family = socket.AF_INET if size == 4 else socket.AF_INET6
                hosts.add(socket.inet_ntop(family, raw))
    return hosts


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's socket table")
def test_the_running_app_listens_on_loopback_only(app_url: str) -> None:
    port = urllib.parse.urlsplit(app_url).port
    assert listening_hosts(port) == {"127.0.0.1"}


# --- file routes serve nothing of the repository or the system --------------------------------------

SECRET_MARKERS = ("root:x:", "[project]", "import ", "GRADIO", "PATH=")
PROBES = [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=/proc/self/environ",
    f"/gradio_api/file={ROOT}/pyproject.toml",
    f"/gradio_api/file={ROOT}/app/server.py",
    "/gradio_api/file=pyproject.toml",
    "/gradio_api/file=app/server.py",
    "/gradio_api/file=../../../../etc/passwd",
    "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/gradio_api/file=/tmp/gradio/../../etc/passwd",
    "/gradio_api/file/etc/passwd",
    f"/gradio_api/file/{ROOT}/pyproject.toml",
    "/gradio_api/file=http://127.0.0.1:1/",
    "/gradio_api/file=https://example.com/",
    "/gradio_api/proxy=http://127.0.0.1:1/",
    "/gradio_api/proxy=https://example.com/",
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/assets/..%2f..%2f..%2fetc/passwd",
    "/file=/etc/passwd",
    "/gradio_api/file=/dev/zero",
]


@pytest.mark.parametrize("path", PROBES)
def test_file_routes_serve_nothing_of_the_repository_or_the_system(app_url: str, path: str) -> None:
    with httpx.Client(timeout=15) as http:
        response = http.get(app_url + path, follow_redirects=False)
    assert response.status_code in (400, 403, 404, 405), (response.status_code, response.text[:200])
    for marker in SECRET_MARKERS:
        assert marker not in response.text, (marker, response.text[:200])


# --- uploads: capped before parsing, stored under a hashed folder, deleted ----------------------


def upload(url: str, files: list[tuple[str, bytes]], http: httpx.Client) -> httpx.Response:
    return http.post(
        url + "/gradio_api/upload", files=[("files", (name, data)) for name, data in files]
    )


def test_uploads_over_one_megabyte_are_refused(app_url: str) -> None:
    with httpx.Client(timeout=60) as http:
        one = upload(app_url, [("big.json", b" " * (1024 * 1024 + 1))], http)
        assert one.status_code == 413, one.text[:200]
        assert "maximum allowed size" in one.text
        # Many files, each under the limit: the request body limit (2 MB) refuses them.
        many = upload(app_url, [(f"f{i}.json", b" " * 900_000) for i in range(5)], http)
        assert many.status_code == 413, many.text[:200]
        small = upload(app_url, [("ok.json", b"{}")], http)
        assert small.status_code == 200


def test_uploaded_names_never_become_paths(app_url: str) -> None:
    with httpx.Client(timeout=60) as http:
        answer = upload(app_url, [("../../../etc/evil.json", b'{"x": 1}')], http)
    assert answer.status_code == 200, answer.text[:200]
    (stored,) = answer.json()
    stored_path = Path(stored)
    assert stored_path.name == "evil.json"
    assert stored_path.parent.name != "etc" and len(stored_path.parent.name) == 64  # a sha256


def test_the_built_app_keeps_its_guards() -> None:
    """Settings a refactoring could drop silently: the upload cache is cleaned every 10
    minutes, files are capped at 1 MB and bodies at 2 MB, Gradio's check that a request
    names only uploaded files is on (mounting, unlike launch(), leaves it off), and the
    sessions kept in memory are bounded."""
    app = app_server.create_app()
    assert app.max_body_size == app_server.MAX_BODY_BYTES <= 2_000_000
    for blocks in (app.state.api.blocks(""), app.state.pages.blocks("spp")):
        assert blocks.delete_cache == (600, 600)
        assert blocks.max_file_size == 1024 * 1024
        assert blocks.has_launched is True
        assert blocks.state_holder.capacity == app_server.SESSION_CAPACITY <= 1000
        assert blocks._queue.pending_event_ids_session.capacity == app_server.PENDING_SESSIONS


@pytest.fixture
def isolated_server(tmp_path: Path) -> Iterator[tuple[str, Path, ExitStack]]:
    """An app of its own, with its own upload folder, stopped by closing the ExitStack."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GRADIO_TEMP_DIR", str(uploads))
            url, _ = stack.enter_context(serving(tmp_path / "server.log", timeout_s=60))
        yield url, uploads, stack


def test_uploads_are_deleted_when_the_app_stops(isolated_server: tuple) -> None:
    url, uploads, stack = isolated_server
    with httpx.Client(timeout=60) as http:
        answer = upload(url, [("boxes.json", b'{"boxes": []}')], http)
    (stored,) = answer.json()
    assert Path(stored).is_file() and Path(stored).is_relative_to(uploads)
    stack.close()  # stops the app: its shutdown deletes what it cached
    assert [path for path in uploads.rglob("*") if path.is_file()] == []
