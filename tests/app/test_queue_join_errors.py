"""The queue's routes of the API app and of a page, against events and sessions that do not
exist or cannot run (issue 29, finding 5): each answers one short line, and the server's log
gets no traceback.

Raw HTTP, as a page's JavaScript talks to `/gradio_api/queue/join` and `/queue/data`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from app.process import AppStartError, serving
from demos import all_demos
from tests.app.test_fuzz_api import LEAKS, Server, assert_log_clean

BASES = ["", "/demo/iou-losses", "/demo/map"]  # the API app, a page, a page with an upload


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("queue-app")
    uploads = base / "uploads"
    uploads.mkdir()
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GRADIO_TEMP_DIR", str(uploads))
            try:
                url, _ = stack.enter_context(serving(base / "server.log", timeout_s=60))
            except AppStartError as error:
                pytest.fail(str(error))
        yield Server(url, base / "server.log", uploads)
    # stopped: nothing a request left behind (a folder taken for an upload) fails at shutdown
    assert "Traceback" not in (base / "server.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def dependencies(http: httpx.Client, base: str) -> list[dict]:
    assert http.get(base + "/").status_code == 200  # a page is built on its first request
    return http.get(base + "/config").json()["dependencies"]


def assert_one_line(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:500]
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and len(detail) <= 300, detail
    for leak in LEAKS:
        assert leak not in detail, detail
    return detail


def join(http: httpx.Client, base: str, fn_index, data, session: str) -> httpx.Response:
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None}
    return http.post(base + "/gradio_api/queue/join", json=body)


def completion(http: httpx.Client, base: str, session: str) -> dict:
    """The `process_completed` message of the session's event, from its event stream."""
    with http.stream("GET", base + "/gradio_api/queue/data", params={"session_hash": session}) as s:
        assert s.status_code == 200
        for line in s.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line[6:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the stream ended without process_completed")


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("fn_index", [9999, -1])
def test_join_with_an_unknown_fn_index_is_a_404_line(server, http, base, fn_index):
    dependencies(http, base)
    offset = server.log_size()
    detail = assert_one_line(join(http, base, fn_index, [], "unknownfn1"), 404)
    assert str(fn_index) in detail
    assert_log_clean(server, offset, 0)


@pytest.mark.parametrize("base", BASES)
def test_join_of_an_event_without_a_server_function_is_a_400_line(server, http, base):
    browser_only = [d["id"] for d in dependencies(http, base) if not d.get("backend_fn")]
    if not browser_only:
        pytest.skip("no browser-only event here")
    offset = server.log_size()
    for fn_index in browser_only:
        detail = assert_one_line(join(http, base, fn_index, [], "jsonly1234"), 400)
        assert "browser" in detail
    assert_log_clean(server, offset, 0)


@pytest.mark.parametrize("base", BASES)
def test_every_server_event_given_nulls_completes_with_one_line(server, http, base):
    events = [d for d in dependencies(http, base) if d.get("backend_fn")]
    offset = server.log_size()
    for number, event in enumerate(events):
        session = f"nulls{number:05d}"
        response = join(http, base, event["id"], [None] * len(event["inputs"]), session)
        assert response.status_code == 200, response.text[:300]
        message = completion(http, base, session)
        if not message["success"]:
            error = message["output"]["error"] or ""
            assert "\n" not in error and not any(leak in error for leak in LEAKS), error
    assert_log_clean(server, offset, len(events))


@pytest.mark.parametrize("name", ["no-such-file.json", "", "folder"])
def test_the_upload_event_given_a_missing_file_or_a_folder_answers_one_line(server, http, name):
    # inside the upload folder, so that the check that a file was uploaded lets it through
    (server.uploads / "folder").mkdir(exist_ok=True)
    path = str(server.uploads / name) if name else str(server.uploads)
    uploads = [
        d
        for d in dependencies(http, "/demo/map")
        if d.get("backend_fn") and d["inputs"] and any(t[1] == "upload" for t in d["targets"])
    ]
    assert uploads, "the map page has an upload event"
    offset = server.log_size()
    for number, event in enumerate(uploads):
        session = f"upload{number:04d}{name}"
        value = {"path": path, "meta": {"_type": "gradio.FileData"}}
        data = [value] + [None] * (len(event["inputs"]) - 1)
        assert join(http, "/demo/map", event["id"], data, session).status_code == 200
        message = completion(http, "/demo/map", session)
        assert not message["success"]
        error = message["output"]["error"]
        assert "\n" not in error and not any(leak in error for leak in LEAKS), error
    assert_log_clean(server, offset, len(uploads))


@pytest.mark.parametrize("base", BASES)
def test_unknown_event_ids_and_sessions_are_a_404_line(server, http, base):
    dependencies(http, base)
    offset = server.log_size()
    assert_one_line(http.get(base + "/gradio_api/call/iou-losses/nosuchevent123"), 404)
    assert_one_line(http.get(base + "/gradio_api/call/v2/iou-losses/nosuchevent123"), 404)
    queue_data = http.get(base + "/gradio_api/queue/data", params={"session_hash": "nosuch"})
    assert_one_line(queue_data, 404)
    assert_one_line(http.get(base + "/gradio_api/queue/data"), 404)
    assert_log_clean(server, offset, 0)


@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b"123", b'"text"', b"{", b'{"n": null}', b"[1, 2]", b"{}",
     b'{"oauth_token": 1}', b'{"steps": "abc"}', b'{"steps": null, "pred_cx": [1]}'],
)  # fmt: skip
def test_call_v2_oddities_answer_one_line(server, http, body):
    offset = server.log_size()
    response = http.post(
        "/gradio_api/call/v2/iou-losses", content=body, headers={"content-type": "application/json"}
    )
    if response.status_code == 200:  # accepted: the event's stream says how it ended
        event_id = response.json()["event_id"]
        text = http.get(f"/gradio_api/call/iou-losses/{event_id}").text
        assert "Traceback" not in text
    else:
        assert_one_line(response, response.status_code)
    assert_log_clean(server, offset, 0)


def test_a_session_hash_is_not_an_event_id(server, http):
    """GET /gradio_api/call/<api>/<id> streams an event's result, not a session's: Gradio took
    an unknown id for a session hash, so a page's hash, once seen, read that page's results."""
    demo = next(iter(all_demos))
    deps = dependencies(http, "")
    fn_index = next(i for i, d in enumerate(deps) if d.get("api_name") == demo.slug)
    values = demo.Params().model_dump()
    session = "a-page-session-seen-on-a-shared-screen"
    assert join(http, "", fn_index, [values[f] for f in demo.fields], session).status_code == 200
    detail = assert_one_line(http.get(f"/gradio_api/call/{demo.slug}/{session}"), 404)
    assert detail.startswith("no pending event")
    assert completion(http, "", session)["success"]  # its own stream still gets it
