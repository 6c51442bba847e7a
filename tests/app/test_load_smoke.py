"""A short load run (benchmarks/load.py, 8 clients for 10 s) and a full queue's answer.

No latency is asserted (the machine is shared); every answer must be right, none an error.
The long run is a benchmark: `python -m benchmarks.load` (32 clients, 60 s).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from app.process import serving
from benchmarks.load import call_endpoint, listen, request_mix, run, run_sync
from demos import all_demos

SMOKE_CLIENTS = 8
SMOKE_SECONDS = 10
JSON = {"Content-Type": "application/json"}


def test_eight_clients_for_ten_seconds_get_only_right_answers(app_url: str) -> None:
    mix = request_mix()
    result = run(app_url, mix, clients=SMOKE_CLIENTS, seconds=SMOKE_SECONDS)
    assert result["warmup_errors"] == 0
    assert result["errors"] == 0, result["error_kinds"]
    assert result["busy"] == 0  # 8 clients never fill a queue of 64
    assert result["served"] >= SMOKE_CLIENTS  # every client got answers, not one stuck


def test_a_full_queue_answers_busy_retry_and_then_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queue of 2 (PLAYGROUND_QUEUE_SIZE), 16 heavy calls at once: the extra ones get a 503
    that says busy and when to retry, at once (no hang); the accepted ones finish; the
    server serves afterwards."""
    heavy = []
    for demo in all_demos:
        params = demo.bounds("max")
        values = [getattr(params, name) for name in demo.fields]
        heavy.append((demo.slug, json.dumps({"data": values}).encode()))
    calls = [heavy[index % len(heavy)] for index in range(16)]
    monkeypatch.setenv("PLAYGROUND_QUEUE_SIZE", "2")
    with serving(tmp_path / "server.log", timeout_s=60) as (url, _):
        monkeypatch.delenv("PLAYGROUND_QUEUE_SIZE")

        async def burst() -> tuple[list, list]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                posts = await asyncio.gather(
                    *(
                        http.post(f"/gradio_api/call/{slug}", content=raw, headers=JSON)
                        for slug, raw in calls
                    )
                )
                accepted = [
                    listen(http, slug, post.json()["event_id"])
                    for (slug, _), post in zip(calls, posts, strict=True)
                    if post.status_code == 200
                ]
                return posts, await asyncio.gather(*accepted)

        posts, finished = run_sync(burst())
        statuses = [post.status_code for post in posts]
        assert set(statuses) == {200, 503}, statuses
        for post in posts:
            if post.status_code == 503:
                assert post.json()["detail"].startswith("busy:"), post.text
                assert "retry" in post.json()["detail"]
                assert int(post.headers["retry-after"]) > 0
        assert [outcome for outcome, _ in finished] == ["complete"] * len(finished)
        assert run_sync(_one(url, heavy[0]))[0] == "complete"
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-2000:]


async def _one(url: str, call: tuple[str, bytes]) -> tuple[str, object]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return await call_endpoint(http, *call)
