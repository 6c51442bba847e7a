"""N concurrent clients against a locally started app for a fixed time: served, errors, latency.

    .venv/bin/python -m benchmarks.load                        # 32 clients, 60 s, update RESULTS.md
    .venv/bin/python -m benchmarks.load --clients 8 --seconds 10 --no-write
    .venv/bin/python -m benchmarks.load --defaults-only    # every demo at its defaults only
    .venv/bin/python -m benchmarks.load --url http://127.0.0.1:7860 --no-write   # a running app
    .venv/bin/python -m benchmarks.load --abuse      # what a stranger can make it keep (abuse.py)

Each client is a closed loop (the next request leaves when the answer is in, no think time):
it picks a demo at random, then its defaults or one of its presets, and calls the public
endpoint the way any HTTP client can (`POST /gradio_api/call/<slug>`, then the event stream
of that call). Every answer is compared with the render done here in-process: an answer that
differs counts as an error. A 503 (queue full) counts as "busy", apart from the errors.

The app is started with app/process.py `serving` (unless `--url`); its RSS (VmRSS) is read
after a warm-up pass over every request of the mix, sampled every second, and read at the end.
The clients run in this process on the same machine, so they take CPU from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.bounds import write_section

START, END = "<!-- load:start -->", "<!-- load:end -->"
DEFAULTS_MARKS = ("<!-- load-defaults:start -->", "<!-- load-defaults:end -->")
GOAL_P95_S = 1.0


@dataclass(frozen=True)
class Call:
    """One request of the mix and the answer it must get."""

    slug: str
    label: str
    values: list
    expected: list


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    busy: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        """Count an error; its kind is the text up to the first " (" or ":"."""
        kind = what.split(" (")[0].split(":")[0]
        key = next((k for k in self.errors if k.split(" (")[0].split(":")[0] == kind), what)
        self.errors[key] = self.errors.get(key, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def request_mix(demos: Any = None, presets: bool = True) -> dict[str, list[Call]]:
    """Per demo slug: its defaults and every preset (or the defaults alone), each with the
    expected answer."""
    from demos import all_demos
    from demos.theme import figure_json

    mix: dict[str, list[Call]] = {}
    for demo in demos if demos is not None else all_demos:
        variants = [("defaults", demo.Params()), *(demo.presets.items() if presets else [])]
        calls = []
        for label, params in variants:
            rendered = demo.render(params)
            expected = [
                {"type": "plotly", "plot": figure_json(f, "light")} for f in rendered.figures
            ]
            values = [getattr(params, name) for name in demo.fields]
            calls.append(Call(demo.slug, label, values, [*expected, rendered.notes]))
        mix[demo.slug] = calls
    return mix


async def call(http: httpx.AsyncClient, request: Call) -> tuple[str, Any]:
    """One call of the endpoint with the request's values (see `call_endpoint`)."""
    return await call_endpoint(http, request.slug, json.dumps({"data": request.values}).encode())


async def call_endpoint(http: httpx.AsyncClient, slug: str, body: bytes) -> tuple[str, Any]:
    """POST `body` to /gradio_api/call/<slug>, then read that call's event stream.

    ('complete' | 'error', data) from the stream; ('busy', detail) for a 503 (queue full);
    ('http <status>', text) for any other refusal of the POST.
    """
    posted = await http.post(
        f"/gradio_api/call/{slug}", content=body, headers={"Content-Type": "application/json"}
    )
    if posted.status_code == 503:
        return "busy", posted.json().get("detail")
    if posted.status_code != 200:
        return f"http {posted.status_code}", posted.text[:2000]
    return await listen(http, slug, posted.json()["event_id"])


async def listen(http: httpx.AsyncClient, slug: str, event_id: str) -> tuple[str, Any]:
    """('complete' | 'error', data): the end of one call's event stream."""
    event, data = "", None
    async with http.stream("GET", f"/gradio_api/call/{slug}/{event_id}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.removeprefix("data:"))
                break
    return event or "no answer", data


async def client_loop(
    http: httpx.AsyncClient, mix: dict[str, list[Call]], seed: int, deadline: float, tally: Tally
) -> None:
    rng = random.Random(seed)
    slugs = sorted(mix)
    while time.perf_counter() < deadline:
        request = rng.choice(mix[rng.choice(slugs)])
        start = time.perf_counter()
        try:
            outcome, data = await call(http, request)
        except httpx.HTTPError as error:
            at = time.perf_counter() - deadline
            tally.error(f"{type(error).__name__} (first {at:+.0f} s from the end): {error}"[:160])
            await asyncio.sleep(0.5)  # no tight loop against a server that is not there
            continue
        if outcome == "busy":
            tally.busy += 1
            await asyncio.sleep(1)  # what the 503's Retry-After asks, give or take
        elif outcome != "complete":
            tally.error(f"{request.slug}/{request.label}: {outcome} {str(data)[:120]}")
        elif data != request.expected:
            tally.error(f"{request.slug}/{request.label}: a wrong answer")
        else:
            tally.latencies.append(time.perf_counter() - start)


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def app_pid(url: str) -> int | None:
    """The `python -m app` child of this process (started by `serving`) serving `url`."""
    port = url.rstrip("/").rsplit(":", 1)[-1].encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if (
            parent == os.getpid()
            and command[1:3] == [b"-m", b"app"]
            and b"GRADIO_SERVER_PORT=" + port in environment
        ):
            return int(entry.name)
    return None


async def run_async(
    url: str, mix: dict[str, list[Call]], clients: int, seconds: float, pid: int | None, seed: int
) -> dict:
    limits = httpx.Limits(max_connections=2 * clients, max_keepalive_connections=2 * clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        warmup = Tally()
        for calls in mix.values():  # every request once, in turn: first allocations, checks
            for request in calls:
                outcome, data = await call(http, request)
                if outcome != "complete" or data != request.expected:
                    warmup.error(f"{request.slug}/{request.label}: {outcome}")
        rss = [rss_mb(pid)]
        tally = Tally()
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        tasks = [
            asyncio.create_task(client_loop(http, mix, seed + index, deadline, tally))
            for index in range(clients)
        ]
        while not all(task.done() for task in tasks):
            await asyncio.sleep(1)
            rss.append(rss_mb(pid))
        for task in tasks:
            task.result()  # re-raise anything unexpected in a client
        elapsed = time.perf_counter() - started
    latencies = np.array(tally.latencies) if tally.latencies else np.array([np.nan])
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    samples = [value for value in rss if value is not None]
    return {
        "clients": clients,
        "seconds": seconds,
        "elapsed_s": elapsed,
        "served": len(tally.latencies),
        "busy": tally.busy,
        "errors": tally.error_count,
        "error_kinds": dict(sorted(tally.errors.items(), key=lambda item: -item[1])[:5]),
        "warmup_errors": warmup.error_count,
        "p50_s": float(p50),
        "p95_s": float(p95),
        "p99_s": float(p99),
        "rss_start_mb": samples[0] if samples else None,
        "rss_end_mb": samples[-1] if samples else None,
        "rss_max_mb": max(samples) if samples else None,
        # At each quarter of the run: growth that goes on shows here, a plateau too.
        "rss_quarters_mb": [samples[len(samples) * q // 4 - 1] for q in (1, 2, 3, 4)]
        if len(samples) >= 4
        else [],
        "requests_in_mix": sum(len(calls) for calls in mix.values()),
    }


def run(
    url: str,
    mix: dict[str, list[Call]],
    clients: int = 32,
    seconds: float = 60,
    pid: int | None = None,
    seed: int = 0,
) -> dict:
    """Warm up, then `clients` closed loops for `seconds`; the figures as a dict."""
    return run_sync(run_async(url, mix, clients, seconds, pid, seed))


def run_sync(coroutine: Any) -> Any:
    """`asyncio.run`, in a thread of its own when this thread already runs an event loop
    (Playwright's sync API leaves one running in pytest's thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def report(
    result: dict, cold_start: float | None, load: tuple[float, float, float], presets: bool = True
) -> str:
    import gradio
    import torch

    from app.ui import API_CONCURRENCY, QUEUE_SIZE, RENDER_CONCURRENCY

    throughput = result["served"] / result["elapsed_s"]
    quarters = " / ".join(f"{value:.0f}" for value in result["rss_quarters_mb"])
    rss = (
        f"Server RSS: {result['rss_start_mb']:.0f} MB after the warm-up; {quarters} MB at "
        f"each quarter of the run; {result['rss_max_mb']:.0f} MB at most (sampled every second)."
        if result["rss_start_mb"] is not None
        else "Server RSS: not measured (an app not started here)."
    )
    errors = result["errors"] + result["warmup_errors"]
    goal = "met" if errors == 0 and result["p95_s"] <= GOAL_P95_S else "**missed**"
    lines = [
        f"Measured {datetime.date.today().isoformat()} with `python -m benchmarks.load "
        f"--clients {result['clients']} --seconds {result['seconds']:g}"
        f"{'' if presets else ' --defaults-only'}` on {os.cpu_count()} CPU "
        f"cores, {platform.machine()}, Python {platform.python_version()}, torch "
        f"{torch.__version__}, gradio {gradio.__version__}; queue {QUEUE_SIZE}, "
        f"{API_CONCURRENCY} API calls and {RENDER_CONCURRENCY} renders at a time. Clients and server share the machine, which "
        f"other work shares too: load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1/5/15 min) at the start.",
        "",
        f"Mix: every demo's defaults{' and presets' if presets else ''} "
        f"({result['requests_in_mix']} distinct "
        "requests), a demo picked at random, then one of its requests; each answer compared "
        "with the in-process render."
        + (f" Cold start {cold_start:.1f} s." if cold_start is not None else ""),
        "",
        "| clients | duration | served | req/s | errors | busy (503) | p50 | p95 | p99 | goal |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {result['clients']} | {result['elapsed_s']:.0f} s | {result['served']} "
        f"| {throughput:.1f} | {errors} | {result['busy']} "
        f"| {1000 * result['p50_s']:.0f} ms | {1000 * result['p95_s']:.0f} ms "
        f"| {1000 * result['p99_s']:.0f} ms | {goal} (0 errors, p95 ≤ {GOAL_P95_S:g} s) |",
        "",
        f"With no think time a client waits about clients ÷ throughput (Little's law): "
        f"{result['clients']} ÷ {throughput:.1f} req/s = {result['clients'] / throughput:.1f} s; "
        f"p95 ≤ {GOAL_P95_S:g} s needs {result['clients'] / GOAL_P95_S:.0f} req/s or fewer clients.",
        "",
        rss,
    ]
    if result["error_kinds"]:
        lines += [
            "",
            "Errors, most frequent first: "
            + "; ".join(f"{what} ×{count}" for what, count in result["error_kinds"].items()),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="an app already running (default: start one here)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --abuse: rounds on one server (at most 6)"
    )
    parser.add_argument(
        "--defaults-only", action="store_true", help="each demo at its defaults, no presets"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--abuse",
        action="store_true",
        help="the abuse mode (benchmarks/abuse.py): at most 16 clients and 30 s, loopback only",
    )
    args = parser.parse_args()
    if args.abuse:
        from benchmarks import abuse

        clients = args.clients if "--clients" in sys.argv else abuse.MAX_CLIENTS
        seconds = args.seconds if "--seconds" in sys.argv else abuse.MAX_SECONDS
        abuse.main(clients, seconds, write=not args.no_write, rounds=args.rounds)
        return

    import torch

    from app.process import serving

    torch.set_num_threads(1)  # the expected answers are rendered as the server renders them
    load = os.getloadavg()
    presets = not args.defaults_only
    mix = request_mix(presets=presets)
    if args.url:
        result, cold_start = run(args.url, mix, args.clients, args.seconds, None, args.seed), None
    else:
        with tempfile.TemporaryDirectory() as folder:
            log = Path(folder) / "server.log"
            with serving(log) as (url, cold_start):
                result = run(url, mix, args.clients, args.seconds, app_pid(url), args.seed)
            if result["errors"]:
                print(f"server log, last lines:\n{log.read_text()[-3000:]}", file=sys.stderr)
    section = report(result, cold_start, load, presets)
    print(section)
    if not args.no_write:
        if presets:
            write_section(START, END, "Load", section)
        else:
            write_section(*DEFAULTS_MARKS, "Load at the defaults", section)


if __name__ == "__main__":
    main()
