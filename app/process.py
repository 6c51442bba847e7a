"""Start the playground in a child process and wait until it serves (tests and benchmarks).

with serving(log_path) as (url, started_in_s):
    ...                              # url has no trailing slash
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class AppStartError(RuntimeError):
    """The app exited or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path | None) -> str:
    if path is None:
        return "(log not kept)"
    try:
        return path.read_text(errors="replace")[-5000:]
    except OSError:
        return "(no log)"


@contextmanager
def serving(
    log_path: Path | None = None, timeout_s: float = 60, module: str = "app", args: tuple = ()
) -> Iterator[tuple[str, float]]:
    """`python -m app` (or `python -m <module> <args>`) on a free loopback port: yields its URL
    and the seconds it took to answer `/` with 200 (the cold start); stops it afterwards.

    With PLAYGROUND_CLONE_TO=<n> in the environment (the suite at 38 demos, tests/conftest.py),
    the app serves the live demos cloned onto free catalogue slugs up to n (benchmarks/clones.py).
    """
    clone_to = os.environ.get("PLAYGROUND_CLONE_TO", "")
    if module == "app" and clone_to:
        module, args = "benchmarks.clones", ("--count", clone_to)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log_path or os.devnull, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                if process.poll() is not None:
                    raise AppStartError(
                        f"the app exited with {process.returncode} before serving:\n"
                        f"{_tail(log_path)}"
                    )
                try:
                    with urllib.request.urlopen(url + "/", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.perf_counter() - started > timeout_s:
                    raise AppStartError(
                        f"the app did not answer on {url}/ within {timeout_s} s:\n{_tail(log_path)}"
                    )
                time.sleep(0.05)
            cold_start = time.perf_counter() - started
            # The API app is built in the background after `/` answers: wait for it, so that
            # a client's first call does not wait on Gradio's import.
            while time.perf_counter() - started < timeout_s:
                if process.poll() is not None:
                    raise AppStartError(f"the app exited:\n{_tail(log_path)}")
                try:
                    with urllib.request.urlopen(url + "/config", timeout=30) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.1)
            yield url, cold_start
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
