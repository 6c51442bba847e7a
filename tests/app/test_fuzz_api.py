"""Every public endpoint of the running app against hostile requests, and the server's log.

Through gradio_client (as a Python user calls an endpoint) and raw HTTP (what a client library
would not send: NaN, a wrong number of values, malformed bodies, file references), against an
app started for this module with its own log and upload folder. Every refusal is one short
line naming the field (the same line `demo.parse` gives in-process), nothing leaks a
traceback or a path, the log gets no traceback, and the server answers the next request.

Generic over `demos.all_demos`: a demo added later is fuzzed as it is.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.process import AppStartError, serving
from benchmarks.load import app_pid, call_endpoint, rss_mb, run_sync
from demos import all_demos
from demos.base import ParamsError

ROOT = Path(__file__).resolve().parents[2]
DEMOS = {demo.slug: demo for demo in all_demos}
SLUGS = list(DEMOS)
MB_STRING = "x" * 1_000_000
LEAKS = ("Traceback", 'File "', '.py"', "/work/", str(ROOT), "site-packages")


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    uploads: Path

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("fuzz-app")
    uploads = base / "uploads"
    uploads.mkdir()
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GRADIO_TEMP_DIR", str(uploads))  # read by the app as it starts
            try:
                url, _ = stack.enter_context(serving(base / "server.log", timeout_s=60))
            except AppStartError as error:
                pytest.fail(str(error))
        yield Server(url, base / "server.log", uploads)


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[Client]:
    client = Client(server.url + "/", verbose=False)
    yield client
    client.close()


def defaults(demo: Any) -> list[Any]:
    params = demo.Params()
    return [getattr(params, name) for name in demo.fields]


def with_value(demo: Any, field: str, value: Any) -> list[Any]:
    values = defaults(demo)
    values[demo.fields.index(field)] = value
    return values


def in_process_refusal(demo: Any, values: list[Any]) -> str | None:
    """The message `demo.parse` gives for these positional values, None if it accepts them."""
    try:
        demo.parse(dict(zip(demo.fields, values, strict=True)))
    except ParamsError as error:
        return str(error)
    return None


def assert_short(message: Any) -> None:
    text = message if isinstance(message, str) else json.dumps(message)
    assert len(text) <= 400 and "\n" not in text.strip(), text[:400]
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} in {text[:300]}"


def raw_batch(server: Server, calls: list[tuple[str, bytes]]) -> list[tuple[str, Any]]:
    """Each (slug, body) posted to /gradio_api/call/<slug>, 16 at a time (well inside the
    queue, which answers "busy" beyond its size); (outcome, data) each."""

    async def run() -> list[tuple[str, Any]]:
        slots = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:

            async def one(slug: str, raw: bytes) -> tuple[str, Any]:
                async with slots:
                    return await call_endpoint(http, slug, raw)

            return await asyncio.gather(*(one(s, b) for s, b in calls))

    return run_sync(run())


def body(values: Any) -> bytes:
    return json.dumps({"data": values}).encode()  # NaN and Infinity go out as such


def assert_serves(server: Server, demo: Any) -> None:
    """The next valid request is answered, with every figure."""
    ((outcome, data),) = raw_batch(server, [(demo.slug, body(defaults(demo)))])
    assert outcome == "complete", (outcome, str(data)[:300])
    assert len(data) == len(demo.render().figures) + 1


def assert_log_clean(server: Server, offset: int, max_lines: int) -> None:
    """Since `offset`: no traceback, at most `max_lines` lines (one per refused request at most)."""
    text = server.log_since(offset)
    for leak in ("Traceback", 'File "'):
        assert leak not in text, text[:3000]
    assert len(text.splitlines()) <= max_lines, text[:3000]


# --- bad values: each refused with the in-process message ---------------------------------------


def bad_values(control: Any) -> list[Any]:
    """JSON values the field must refuse (NaN and ±inf only through raw HTTP)."""
    common = [MB_STRING, "", None, {"value": 1}]
    if control.kind == "slider":
        span = control.maximum - control.minimum
        low, high = control.minimum - span / 2 - 1, control.maximum + span / 2 + 1
        if control.integer:
            low, high = math.floor(low), math.ceil(high)
        return [
            low,
            high,
            "abc",
            10**400,
            [control.maximum],
            math.nan,
            math.inf,
            -math.inf,
            *common,
        ]
    if control.kind == "checkbox":
        return ["maybe", 2, [True], *common[:1]]
    if control.kind == "checkboxes":
        return [["no-such-choice"], [MB_STRING], control.choices[0][0], *common]
    if control.kind == "text":  # one character over the cap, and what is not a string
        return ["x" * (control.max_length + 1), MB_STRING, 3, [control.default], None, {"value": 1}]
    return ["no-such-choice", control.choices[0][0].upper() + "!", 3, [control.default], *common]


# Every bad value of every control crosses the server for the first two demos, and for the rare
# kinds of control (boxes, text) everywhere; sliders and choices elsewhere send two rows each,
# rotating through their table by the demo's place in the catalogue, so that across the catalogue
# every row reaches the server (a test checks it). In process, `tests/demos` refuses the whole
# table for every demo.
DEEP = set(SLUGS[:2])
RARE = ("checkbox", "checkboxes", "text")


def bad_rows(demo: Any) -> list[tuple[Any, int]]:
    """(control, row of its bad-value table) for each case this demo sends."""
    if demo.slug in DEEP:
        return [(c, k) for c in demo.controls for k in range(len(bad_values(c)))]
    turn = SLUGS.index(demo.slug)
    rows = []
    for i, control in enumerate(demo.controls):
        n = len(bad_values(control))
        if control.kind in RARE:
            rows += [(control, k) for k in range(n)]
        else:
            rows += [(control, (turn + i) % n), (control, (turn + i + n // 2) % n)]
    return rows


def bad_cases(demo: Any) -> list[tuple[str, Any]]:
    return [(control.name, bad_values(control)[k]) for control, k in bad_rows(demo)]


def test_every_row_of_each_bad_value_table_reaches_the_server_somewhere() -> None:
    sent: dict[str, set[int]] = {}
    sizes: dict[str, int] = {}
    for demo in DEMOS.values():
        for control, k in bad_rows(demo):
            sent.setdefault(control.kind, set()).add(k)
            sizes[control.kind] = len(bad_values(control))
    for kind, rows in sent.items():
        assert rows == set(range(sizes[kind])), (kind, sorted(set(range(sizes[kind])) - rows))


@pytest.mark.parametrize("slug", SLUGS)
def test_bad_values_are_refused_with_the_in_process_message(server: Server, slug: str) -> None:
    demo = DEMOS[slug]
    cases = bad_cases(demo)
    offset = server.log_size()
    answers = raw_batch(server, [(slug, body(with_value(demo, f, v))) for f, v in cases])
    for (field, value), (outcome, data) in zip(cases, answers, strict=True):
        expected = in_process_refusal(demo, with_value(demo, field, value))
        assert expected is not None, f"{field}={str(value)[:40]} is accepted in-process"
        assert expected.startswith(f"{field}: ")
        assert (outcome, data["error"]) == ("error", expected), str(value)[:40]
        assert_short(data)
    assert_serves(server, demo)
    assert_log_clean(server, offset, max_lines=0)


@pytest.mark.parametrize("slug", SLUGS)
def test_bad_values_through_gradio_client(server: Server, client: Client, slug: str) -> None:
    """The same refusals as a Python user meets them: AppError with the one line."""
    demo = DEMOS[slug]
    sliders = [c for c in demo.controls if c.kind == "slider"][:1]
    choices = [c for c in demo.controls if c.choices][:1]
    cases = [(c.name, v) for c in sliders for v in bad_values(c)[:4]]
    cases += [(c.name, v) for c in choices for v in bad_values(c)[:2]]
    jobs = [client.submit(*with_value(demo, f, v), api_name=f"/{slug}") for f, v in cases]
    for (field, value), job in zip(cases, jobs, strict=True):
        with pytest.raises(AppError) as raised:
            job.result(timeout=60)
        assert str(raised.value) == in_process_refusal(demo, with_value(demo, field, value))
    assert (
        len(client.predict(*defaults(demo), api_name=f"/{slug}")) == len(demo.render().figures) + 1
    )


@pytest.mark.parametrize("slug", SLUGS)
def test_a_wrong_number_of_values_is_refused_by_name(server: Server, slug: str) -> None:
    demo = DEMOS[slug]
    values, wanted = defaults(demo), len(demo.fields)
    variants = [[], values[:1], values[:-1], [*values, 1], [*values, *values]]
    offset = server.log_size()
    answers = raw_batch(server, [(slug, body(v)) for v in variants])
    for sent, (outcome, data) in zip(variants, answers, strict=True):
        assert outcome == "error", (len(sent), outcome, str(data)[:200])
        message = data["error"]
        assert message.startswith(f"/{slug} takes {wanted} inputs ("), message
        assert f"; got {len(sent)}" in message and demo.fields[0] in message, message
        assert_short(message)
    assert_serves(server, demo)
    assert_log_clean(server, offset, max_lines=0)


MALFORMED = {
    "data-is-a-string": (422, b'{"data": "' + b"x" * 100_000 + b'"}'),
    "data-is-an-object": (422, b'{"data": {"x_range": 3}}'),
    "data-is-null": (422, b'{"data": null}'),
    "no-data": (422, b"{}"),
    "not-json": (422, b"{data: [1, 2"),
    "empty-body": (422, b""),
    "binary": (422, bytes(range(256))),
    "deep-nesting": (400, b'{"data": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    "over-2mb": (413, b'{"data": ["' + b"x" * 2_100_000 + b'"]}'),
}


def test_malformed_bodies_get_a_short_4xx(server: Server) -> None:
    slug = SLUGS[0]
    offset = server.log_size()
    answers = raw_batch(server, [(slug, raw) for _, raw in MALFORMED.values()])
    for (case, (status, _)), (outcome, text) in zip(MALFORMED.items(), answers, strict=True):
        assert outcome == f"http {status}", (case, outcome, text[:300])
        assert_short(text)
    assert_serves(server, DEMOS[slug])
    assert_log_clean(server, offset, max_lines=0)


def private_names(server: Server) -> list[str]:
    """The events of a demo's page (the page calls them itself; none is public)."""
    config = httpx.get(f"{server.url}/demo/{SLUGS[0]}/config", timeout=30).json()
    return sorted(
        {
            dep["api_name"]
            for dep in config["dependencies"]
            if dep.get("api_name") and dep["api_name"] not in DEMOS
        }
    )


def test_call_v2_with_an_unknown_keyword_names_it(server: Server) -> None:
    """Gradio answers 500 (and logs a traceback) for a keyword the endpoint does not take."""
    demo = DEMOS[SLUGS[0]]
    offset = server.log_size()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        answer = http.post(f"/gradio_api/call/v2/{demo.slug}", json={"no_such_knob": 1})
    assert answer.status_code == 400, answer.text[:300]
    detail = answer.json()["detail"]
    assert "no_such_knob" in detail and demo.fields[0] in detail
    assert_short(answer.text)
    assert_log_clean(server, offset, max_lines=0)


def test_only_public_endpoints_are_callable_by_name(server: Server) -> None:
    """Private events (the page's own) and unknown names: 404 naming the public endpoints,
    on every by-name route (Gradio alone answers 500 with a traceback, or runs them)."""
    names = [*private_names(server), "no_such_endpoint", ""]
    assert len(names) > 2, "the page has private events"
    offset = server.log_size()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for name in names:
            for route in ("call", "call/v2", "run", "api"):
                answer = http.post(f"/gradio_api/{route}/{name}", json={"data": []})
                assert answer.status_code == 404, (route, name, answer.text[:200])
                assert f"/{SLUGS[0]}" in answer.json()["detail"]
                assert_short(answer.text)
            # A page has no public endpoint at all, not even its demo's.
            for route in ("call", "call/v2"):
                for target in (name, SLUGS[0]):
                    answer = http.post(
                        f"/demo/{SLUGS[0]}/gradio_api/{route}/{target}", json={"data": []}
                    )
                    assert answer.status_code == 404, (route, target, answer.text[:200])
                    assert_short(answer.text)
        # A name that decodes to a path is not a route at all.
        answer = http.post("/gradio_api/call/..%2F..%2Fetc", json={"data": []})
        assert answer.status_code == 404 and "root:" not in answer.text
    assert_log_clean(server, offset, max_lines=0)


@pytest.mark.parametrize("slug", SLUGS)
def test_direct_routes_do_not_bypass_the_queue(server: Server, slug: str) -> None:
    """/gradio_api/run|api/<name> would run any event (picked by fn_index) beside the queue,
    unbounded: closed, for the public endpoints too."""
    demo = DEMOS[slug]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for route in ("run", "api"):
            for extra in ({}, {"fn_index": 0}):
                answer = http.post(
                    f"/gradio_api/{route}/{slug}", json={"data": defaults(demo), **extra}
                )
                assert answer.status_code == 404, (route, extra, answer.text[:200])
                assert "join the queue" in answer.json()["detail"]


def queue_call(server: Server, fn_index: int, data: list, session: str) -> dict:
    """The browser's way: join the queue, then read the session's stream to the end."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        joined = http.post(
            "/gradio_api/queue/join",
            json={"fn_index": fn_index, "data": data, "session_hash": session, "trigger_id": None},
        )
        if joined.status_code == 413:  # the body cap refused it before anything ran
            return {"msg": "refused", "success": False, "output": {"error": joined.text[:300]}}
        assert joined.status_code == 200, joined.text[:300]
        event_id = joined.json()["event_id"]
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line.removeprefix("data:"))
                if message.get("msg") == "process_completed" and message["event_id"] == event_id:
                    return message
    raise AssertionError("no process_completed message")


def page_events(server: Server) -> list[dict]:
    config = httpx.get(server.url + "/config", timeout=30).json()
    return [dep for dep in config["dependencies"] if dep.get("backend_fn")]


JUNK = {"lists": ["x", [1]], "strings": "x" * 100_000, "numbers": -1e308, "nulls": None}
# Page events known to log a traceback for a kind of junk (none: keep it that way).
KNOWN_UNGUARDED: dict[str, set[str]] = {}


@pytest.mark.parametrize("kind", list(JUNK))
def test_page_events_take_junk_without_a_traceback(server: Server, kind: str) -> None:
    """Private events are private to the API page only: the browser's route (queue/join with
    fn_index) runs them for anyone, with whatever values are sent. Each event, every input
    the same junk: answered, one short line if refused, no traceback in the log."""
    unguarded = set()
    for event in page_events(server):
        name = re.sub(r"_\d+$", "", event.get("api_name") or str(event["id"]))
        offset = server.log_size()
        data = [JUNK[kind]] * len(event["inputs"])
        message = queue_call(server, event["id"], data, session=f"junk-{kind}-{event['id']}")
        if not message["success"]:
            assert_short(message["output"].get("error") or "")
        if "Traceback" in server.log_since(offset):
            unguarded.add(name)
    assert unguarded == KNOWN_UNGUARDED.get(kind, set()), "update KNOWN_UNGUARDED"
    assert_serves(server, DEMOS[SLUGS[0]])


def test_bad_queue_joins_are_refused_without_a_traceback(server: Server) -> None:
    config = httpx.get(server.url + "/config", timeout=30).json()
    private = [dep["id"] for dep in config["dependencies"] if dep.get("backend_fn")]
    joins = [
        {"fn_index": 10_000, "data": [], "session_hash": "fuzz0001"},
        {"fn_index": -1, "data": [], "session_hash": "fuzz0002"},
        {"fn_index": "x", "data": [], "session_hash": "fuzz0003"},
        {"fn_index": private[0], "data": [], "session_hash": None},
        *(
            {"fn_index": index, "data": [], "session_hash": f"fuzz1{index:03d}"}
            for index in private
        ),
    ]
    offset = server.log_size()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for join in joins:
            answer = http.post("/gradio_api/queue/join", json=join)
            assert answer.status_code in (200, 400, 404, 422, 500), answer.status_code
            assert_short(answer.text)
    assert_serves(server, DEMOS[SLUGS[0]])
    # A fn_index the app has not is refused before Gradio's route (which raised a KeyError).
    assert_log_clean(server, offset, max_lines=0)


FILE_REFERENCES = [
    "/etc/passwd",
    str(ROOT / "pyproject.toml"),
    "../../../../etc/hostname",
    "http://127.0.0.1:1/x.json",
    "https://example.invalid/boxes.json",
]


@pytest.mark.parametrize("slug", SLUGS)
def test_file_references_in_values_are_refused_before_any_copy(server: Server, slug: str) -> None:
    """A FileData-shaped value would have Gradio copy that file (or download that URL) into
    its cache, where /gradio_api/file= serves it: refused, and nothing lands in the cache."""
    demo = DEMOS[slug]
    before = sorted(server.uploads.rglob("*"))
    cases = [
        (field, {"path": path, "meta": {"_type": "gradio.FileData"}})
        for field in demo.fields[:2]
        for path in FILE_REFERENCES
    ]
    offset = server.log_size()
    answers = raw_batch(server, [(slug, body(with_value(demo, f, v))) for f, v in cases])
    for (field, value), (outcome, data) in zip(cases, answers, strict=True):
        assert outcome == "error", (field, value["path"], outcome, str(data)[:200])
        assert data["error"].startswith(f"{field}: a file must be uploaded first"), data
        assert "root:" not in data["error"]
    assert sorted(server.uploads.rglob("*")) == before
    assert_serves(server, demo)
    assert_log_clean(server, offset, max_lines=0)


def test_calls_by_name_leave_nothing_behind(server: Server) -> None:
    """Gradio keeps a session's inputs in memory; a call by name brings no session, so each
    made one (1 MB here) until 10_000 had piled up. Now dropped with the call: kept sessions
    would grow the server by about 100 MB a batch of 100 such calls, batch after batch; the
    allocator's own growth (16 calls at once in flight) levels off within a few batches."""
    pid = app_pid(server.url)
    assert pid is not None
    demo = DEMOS[SLUGS[0]]
    big = [(demo.slug, body(with_value(demo, demo.fields[0], MB_STRING)))]
    sizes = [rss_mb(pid)]
    for _ in range(4):  # warm-up: until one batch adds under 40 MB
        raw_batch(server, big * 100)
        sizes.append(rss_mb(pid))
        if sizes[-1] - sizes[-2] < 40:
            break
    before = sizes[-1]
    for _ in range(3):
        answers = raw_batch(server, big * 100)
        assert {outcome for outcome, _ in answers} == {"error"}
        sizes.append(rss_mb(pid))
    assert (sizes[-1] - before) / 3 < 40, sizes


# --- hypothesis: the API agrees with the in-process validation on any JSON --------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_api_refuses_exactly_what_params_refuse(server: Server, slug: str) -> None:
    demo = DEMOS[slug]
    choices = [value for c in demo.controls for value, _ in c.choices]
    replacement = JSON | st.sampled_from([*choices, "no-such-choice"]) if choices else JSON

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from(demo.fields), replacement, min_size=1, max_size=3))
    def check(changes: dict[str, Any]) -> None:
        values = [
            changes.get(name, value)
            for name, value in zip(demo.fields, defaults(demo), strict=True)
        ]
        expected = in_process_refusal(demo, values)
        ((outcome, data),) = raw_batch(server, [(slug, body(values))])
        if expected is None:
            assert outcome == "complete", (outcome, str(data)[:300])
        else:
            assert (outcome, data["error"]) == ("error", expected)

    offset = server.log_size()
    check()
    assert_log_clean(server, offset, max_lines=0)
