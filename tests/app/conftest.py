"""The real app in a subprocess (once per session), Chromium's launch options, and page helpers.

See /work/shared/TESTING.md: a free port, `/` polled until it answers, the ready marker set by
the load handler, figure data read from `gd._fullData` (never pixels), no sleeps.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from app.process import AppStartError, serving

START_TIMEOUT_S = 60
PAGE_TIMEOUT_MS = 30_000
READY = "html[data-app-ready='1']"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
EXTRA_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    # No DNS at all: Chromium's own lookups (accounts.google.com, ...) fail at once.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m app` on a free loopback port; its URL without a trailing slash."""
    log_path = tmp_path_factory.mktemp("app") / "server.log"
    try:
        with serving(log_path, timeout_s=START_TIMEOUT_S) as (url, _):
            yield url
    except AppStartError as error:
        pytest.fail(str(error))


def _require_chromium() -> None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": EXTRA_ARGS}


@pytest.fixture
def page(page: Any) -> Any:
    """pytest-playwright's page with the suite's default timeout (also for `expect`)."""
    from playwright.sync_api import expect

    page.set_default_timeout(PAGE_TIMEOUT_MS)
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    return page


def open_ready(page: Any, url: str) -> None:
    """Open `url` and wait until the load handler has run (values set, first render done)."""
    page.goto(url)
    page.wait_for_selector(READY, state="attached")


# The data of every Plotly graph under the elements matching `sel` (null until all are drawn).
FIG_JS = """(sel) => {
  const graphs = [...document.querySelectorAll(sel)].flatMap(
    (el) => el.matches('.js-plotly-plot') ? [el] : [...el.querySelectorAll('.js-plotly-plot')]);
  if (graphs.length === 0 || graphs.some((gd) => !gd._fullData)) return null;
  const list = (v) => (v == null ? [] : Array.from(v, (e) => (ArrayBuffer.isView(e) ? Array.from(e) : e)));
  return graphs.map((gd) => gd._fullData.map((t) => ({
    name: t.name ?? null, type: t.type, x: list(t.x), y: list(t.y), z: list(t.z),
  })));
}"""


def read_figure(page: Any, sel: str) -> Any:
    return page.evaluate(FIG_JS, sel)


def figure_data(
    page: Any, sel: str, changed_from: Any = None, timeout: int = PAGE_TIMEOUT_MS
) -> Any:
    """Wait until the graphs under `sel` are drawn (and differ from `changed_from`); their data."""
    old = (
        "null" if changed_from is None else page.evaluate("(f) => JSON.stringify(f)", changed_from)
    )
    page.wait_for_function(
        f"([s, o]) => {{ const f = ({FIG_JS})(s); return f !== null && JSON.stringify(f) !== o; }}",
        arg=[sel, old],
        timeout=timeout,
    )
    return read_figure(page, sel)


@pytest.fixture(scope="session")
def wait_ready() -> Any:
    """`wait_ready(page, url)`: goto and wait for the ready marker."""
    return open_ready


@pytest.fixture(scope="session")
def wait_figure() -> Any:
    """`wait_figure(page, sel, changed_from=None)`: the drawn data of the graphs under `sel`."""
    return figure_data
