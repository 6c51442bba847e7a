"""What a stranger can make the server keep: the abuse mode of `benchmarks.load` (issue 29).

    .venv/bin/python -m benchmarks.load --abuse                 # 16 clients, 30 s, RESULTS.md
    .venv/bin/python -m benchmarks.load --abuse --clients 8 --seconds 10 --no-write
    .venv/bin/python -m benchmarks.load --abuse --rounds 4      # 4 rounds on one server: a plateau?

Starts its own app on loopback (never another host: at most 16 clients, at most 30 s), with its
own upload folder and log. Each client loops, picking at random one of:
- an upload of 0.9 MB that no event ever reads;
- a call at a demo's heaviest accepted values (`demo.bounds("max")`) whose result is never
  fetched;
- a URL of 60,000 characters (httpx refuses 65,536) (on `/` and on `/gradio_api/call/<slug>`);
- a junk `POST /gradio_api/queue/join` (unknown fn_index, no JSON, nulls for an event's inputs).
Reported before and after: the server's RSS (and its peak, sampled every second), the upload
folder's bytes, the answers by status, and the tracebacks in the server's log.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from benchmarks.load import app_pid, rss_mb, run_sync

START, END = "<!-- abuse:start -->", "<!-- abuse:end -->"
MAX_CLIENTS, MAX_SECONDS, MAX_ROUNDS = 16, 30.0, 6
JUNK_JOINS = [
    b'{"fn_index": 9999, "data": [], "session_hash": "abuse"}',
    b'{"fn_index": -1, "data": [], "session_hash": "abuse"}',
    b"this is not json",
    b'{"fn_index": 0, "data": [null, null, null], "session_hash": "abuse", "event_data": null}',
]


def _heaviest_calls() -> list[tuple[str, bytes]]:
    from demos import all_demos

    calls = []
    for demo in all_demos:
        values = demo.bounds("max").model_dump()
        calls.append((demo.slug, json.dumps({"data": [values[f] for f in demo.fields]}).encode()))
    return calls


async def _client(
    http: httpx.AsyncClient, calls: list, seed: int, deadline: float, answers: Counter
) -> None:
    rng = random.Random(seed)
    junk_upload = b"x" * 900_000
    while time.monotonic() < deadline:
        kind = rng.choice(["upload", "unread call", "long url", "junk join"])
        try:
            if kind == "upload":
                files = [("files", ("junk.json", junk_upload, "application/json"))]
                response = await http.post("/gradio_api/upload", files=files)
            elif kind == "unread call":
                slug, body = rng.choice(calls)
                response = await http.post(
                    f"/gradio_api/call/{slug}",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
            elif kind == "long url":
                where = rng.choice(["/", f"/gradio_api/call/{rng.choice(calls)[0]}"])
                response = await http.request(
                    "GET" if where == "/" else "POST", where + "?a=" + "x" * 60_000
                )
            else:
                response = await http.post(
                    "/gradio_api/queue/join",
                    content=rng.choice(JUNK_JOINS),
                    headers={"Content-Type": "application/json"},
                )
            answers[f"{kind}: {response.status_code}"] += 1
        except httpx.HTTPError as error:
            answers[f"{kind}: {type(error).__name__}"] += 1


async def _abuse(url: str, pid: int | None, clients: int, seconds: float) -> dict:
    calls = _heaviest_calls()
    answers: Counter = Counter()
    rss = [rss_mb(pid)]
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        deadline = time.monotonic() + seconds
        tasks = [
            asyncio.create_task(_client(http, calls, seed, deadline, answers))
            for seed in range(clients)
        ]
        while not all(task.done() for task in tasks):
            await asyncio.sleep(1)
            rss.append(rss_mb(pid))
        for task in tasks:
            task.result()
    return {"answers": dict(sorted(answers.items())), "rss": [r for r in rss if r is not None]}


def run_abuse(clients: int, seconds: float, rounds: int = 1) -> dict:
    """Start an app on loopback, abuse it `rounds` times (each at most 30 s), and measure after
    each round: a bounded server levels off after the first; the figures as a dict."""
    from app.limits import RESULT_BYTES, UPLOAD_FOLDER_BYTES, folder_bytes
    from app.process import serving

    clients, seconds = min(clients, MAX_CLIENTS), min(seconds, MAX_SECONDS)
    rounds = max(1, min(rounds, MAX_ROUNDS))
    answers: Counter = Counter()
    peaks, after_each = [], []
    with tempfile.TemporaryDirectory() as base:
        uploads, log = Path(base) / "uploads", Path(base) / "server.log"
        uploads.mkdir()
        os.environ["GRADIO_TEMP_DIR"] = str(uploads)
        with serving(log, timeout_s=90) as (url, _):
            assert url.startswith("http://127.0.0.1:"), url  # loopback only
            pid = app_pid(url)
            httpx.get(url + "/gradio_api/info", timeout=60)  # the API app built
            time.sleep(2)
            before = {"rss_mb": rss_mb(pid), "upload_bytes": folder_bytes(uploads)}
            for _ in range(rounds):
                result = run_sync(_abuse(url, pid, clients, seconds))
                answers.update(result["answers"])
                peaks.append(max(result["rss"]) if result["rss"] else None)
                time.sleep(2)
                after_each.append({"rss_mb": rss_mb(pid), "upload_bytes": folder_bytes(uploads)})
        text = log.read_text(errors="replace")
    return {
        "clients": clients,
        "seconds": seconds,
        "rounds": rounds,
        "before": before,
        "after": after_each[-1],
        "after_each": after_each,
        "peak_each": peaks,
        "rss_max_mb": max((p for p in peaks if p is not None), default=None),
        "answers": dict(sorted(answers.items())),
        "tracebacks": text.count("Traceback"),
        "log_lines": len(text.splitlines()),
        "upload_folder_cap": UPLOAD_FOLDER_BYTES,
        "result_bytes_cap": RESULT_BYTES,
    }


def report(result: dict) -> str:
    import datetime
    import platform

    load = os.getloadavg()
    rounds = result["rounds"]
    answers = ", ".join(f"{k} ×{v}" for k, v in result["answers"].items())
    return "\n".join(
        [
            f"Measured {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
            f"load average {load[0]:.1f} at the start; `python -m benchmarks.load --abuse "
            f"--clients {result['clients']} --seconds {result['seconds']:g}"
            f"{f' --rounds {rounds}' if rounds > 1 else ''}`"
            f"{f' ({rounds} rounds on one server)' if rounds > 1 else ''}.",
            "",
            "| | before | " + " | ".join(f"after round {i + 1}" for i in range(rounds)) + " |",
            "|---|---:|" + "---:|" * rounds,
            f"| server RSS (MB) | {result['before']['rss_mb']:.0f} | "
            + " | ".join(f"{a['rss_mb']:.0f}" for a in result["after_each"])
            + " |",
            "| peak RSS in the round (MB) | | "
            + " | ".join(f"{p:.0f}" if p is not None else "?" for p in result["peak_each"])
            + " |",
            f"| upload folder (MB) | {result['before']['upload_bytes'] / 1e6:.1f} | "
            + " | ".join(f"{a['upload_bytes'] / 1e6:.1f}" for a in result["after_each"])
            + " |",
            "",
            f"Peak RSS {result['rss_max_mb']:.0f} MB; upload folder capped at "
            f"{result['upload_folder_cap'] / 1e6:.0f} MB, unread results at "
            f"{result['result_bytes_cap'] / 1e6:.0f} MB per Blocks. Tracebacks in the log: "
            f"{result['tracebacks']} ({result['log_lines']} lines). Answers: {answers}.",
        ]
    )


def main(clients: int, seconds: float, write: bool, rounds: int = 1) -> None:
    from benchmarks.bounds import write_section

    result = run_abuse(clients, seconds, rounds)
    section = report(result)
    print(section)
    if write:
        write_section(START, END, "Abuse", section)
