"""What a stranger can make a public server keep, tried from outside against a running app:
uploads nobody reads, too many or too large uploads, and results nobody fetches (issue 29).

The app runs with short times and small budgets (PLAYGROUND_* in `app.limits`), so that what
takes minutes on a Space takes seconds here.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.process import AppStartError, serving
from benchmarks.load import listen, run_sync
from demos import all_demos
from tests.app.test_queue_join_errors import completion, dependencies, join

SETTINGS = {
    "PLAYGROUND_UPLOAD_TTL_S": "4",
    "PLAYGROUND_UPLOAD_CLIENT_BYTES": "3000000",
    "PLAYGROUND_UPLOAD_FOLDER_BYTES": "6000000",
    "PLAYGROUND_RESULT_TTL_S": "8",
    "PLAYGROUND_RESULT_BYTES": "400000",
    "PLAYGROUND_SWEEP_S": "0.5",
    "PLAYGROUND_TRUST_FORWARDED_HOST": "1",  # X-Forwarded-For names the client (two here)
}
KB900 = b"x" * 900_000


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    uploads: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("limits-app")
    uploads = base / "uploads"
    uploads.mkdir()
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GRADIO_TEMP_DIR", str(uploads))
            for key, value in SETTINGS.items():
                patch.setenv(key, value)
            try:
                url, _ = stack.enter_context(serving(base / "server.log", timeout_s=90))
            except AppStartError as error:
                pytest.fail(str(error))
        yield Server(url, base / "server.log", uploads)


def upload(server: Server, *files: bytes, client: httpx.Client | None = None) -> httpx.Response:
    parts = [("files", (f"f{i}.json", data, "application/json")) for i, data in enumerate(files)]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        return (client or http).post("/gradio_api/upload", files=parts)


def stored(server: Server) -> list[Path]:
    return [p for p in server.uploads.rglob("*") if p.is_file()]


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return condition()


def one_line(response: httpx.Response, status: int, start: str) -> None:
    assert response.status_code == status, response.text[:300]
    detail = response.json()["detail"]
    assert detail.startswith(start) and "\n" not in detail and len(detail) < 200, detail


def test_an_upload_nobody_reads_is_deleted(server: Server) -> None:
    answer = upload(server, b'{"images": []}')
    assert answer.status_code == 200, answer.text
    (path,) = answer.json()
    assert Path(path).is_file()
    assert wait_until(lambda: not Path(path).exists(), 15)  # TTL 4 s, swept every 0.5 s


def test_too_many_files_in_one_upload_are_refused(server: Server) -> None:
    one_line(upload(server, *[b"{}"] * 5), 413, "file: at most 4 files")


def test_one_client_cannot_fill_the_disk(server: Server) -> None:
    wait_until(lambda: not stored(server), 15)
    answers = []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for _ in range(5):  # 0.9 MB each, within seconds: the fourth passes 3 MB
            answers.append(upload(server, KB900, client=http))
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    one_line(answers[3], 429, "file: more than 3 MB uploaded")


def test_a_full_upload_folder_answers_one_line_until_the_sweep(server: Server) -> None:
    time.sleep(4.5)  # the previous test's client window passes
    filler = server.uploads / "filler" / "big.bin"
    filler.parent.mkdir(exist_ok=True)
    with open(filler, "wb") as handle:
        handle.truncate(6_000_000)  # sparse: counts its size, costs no disk
    time.sleep(1.2)  # the gate measures the folder at most once a second
    one_line(upload(server, b"{}"), 507, "file: the server's upload space is full")
    assert wait_until(lambda: not filler.exists(), 15)  # older than the TTL: swept
    time.sleep(1.2)
    assert upload(server, b"{}").status_code == 200


def _post(http: httpx.Client, slug: str) -> str:
    demo = next(d for d in all_demos if d.slug == slug)
    values = demo.Params().model_dump()
    posted = http.post(f"/gradio_api/call/{slug}", json={"data": [values[f] for f in demo.fields]})
    assert posted.status_code == 200, posted.text[:300]
    return posted.json()["event_id"]


def _fetch(server: Server, slug: str, event_id: str) -> tuple[str, object]:
    async def run():
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            return await listen(http, slug, event_id)

    return run_sync(run())


def test_a_result_nobody_fetches_expires(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        late, soon = _post(http, "activations"), _post(http, "activations")
    outcome, data = _fetch(server, "activations", soon)
    assert outcome == "complete" and len(data) > 1, data
    time.sleep(10)  # the TTL is 8 s after the session's last message
    outcome, _ = _fetch(server, "activations", late)
    assert outcome != "complete"


def test_unfetched_results_are_bounded_in_bytes(server: Server) -> None:
    # upsampling's default answer is about 0.2 MB; the budget is 0.4 MB of unread results
    with httpx.Client(base_url=server.url, timeout=60) as http:
        ids = [_post(http, "upsampling") for _ in range(4)]
    assert _fetch(server, "upsampling", ids[3])[0] == "complete"  # waits for the last one
    time.sleep(1)
    # three unread answers are more than the budget, two fit: the oldest one not still
    # running was forgotten (which one depends on the order the renders finished in)
    kept = [_fetch(server, "upsampling", event)[0] == "complete" for event in ids[:3]]
    assert sum(kept) <= 2, kept  # fewer if the 8 s TTL passed under load


def test_the_log_has_no_traceback(server: Server) -> None:
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_an_upload_is_read_only_by_the_client_that_sent_it(server: Server) -> None:
    time.sleep(4.5)  # earlier uploads' client windows pass
    alice, mallory = {"X-Forwarded-For": "10.0.0.1"}, {"X-Forwarded-For": "10.0.0.2"}
    with httpx.Client(base_url=server.url, timeout=60) as http:  # the page built first
        (event,) = [
            d
            for d in dependencies(http, "/demo/map")
            if d.get("backend_fn") and d["inputs"] and any(t[1] == "upload" for t in d["targets"])
        ]
    with httpx.Client(base_url=server.url, timeout=60, headers=alice) as http:
        sample = http.get("/example/map")
        assert sample.status_code == 200
        answer = upload(server, sample.content, client=http)
        assert answer.status_code == 200, answer.text
    (path,) = answer.json()
    value = {"path": path, "meta": {"_type": "gradio.FileData"}}
    data = [value] + [None] * (len(event["inputs"]) - 1)
    for name, who in (("mallory", mallory), ("alice", alice)):
        with httpx.Client(base_url=server.url, timeout=60, headers=who) as http:
            assert join(http, "/demo/map", event["id"], data, f"{name}-session").status_code == 200
            message = completion(http, "/demo/map", f"{name}-session")
        if name == "mallory":
            assert not message["success"]
            assert message["output"]["error"] == "file: please upload a file"
            assert Path(path).is_file()  # neither read nor deleted
        else:
            assert message["success"], message
            assert not Path(path).exists()  # read once, then deleted


def test_a_full_collection_follows_enough_request_bytes() -> None:
    """Garbage in reference cycles (a refused call's traceback holding its 1 MB value) is
    collected once GARBAGE_BYTES of request bodies have arrived, not at Python's leisure."""
    import gc

    from app import limits

    class Cycle:
        def __init__(self) -> None:
            self.me = self
            self.payload = "x" * 1_000_000

    gc.collect()
    limits._RECEIVED[0] = 0
    gc.disable()
    try:
        probe = weakref.ref(Cycle())
        assert probe() is not None  # only a collection frees a cycle
        limits.count_received(100)
        assert not limits.collect_garbage(threshold=1_000)  # not enough bytes yet
        assert probe() is not None
        limits.count_received(1_000)
        assert limits.collect_garbage(threshold=1_000)
        assert probe() is None and limits._RECEIVED[0] == 0
    finally:
        gc.enable()
