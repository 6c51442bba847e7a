"""Per demo: server-side render time, figure payload, and the end-to-end update through a client.

    .venv/bin/python -m benchmarks.latency            # measure, print, update RESULTS.md
    .venv/bin/python -m benchmarks.latency --no-write

Server side: `demo.render(params)` plus the serialisation the app does (`figure_json`), with one
torch thread as the app runs it; median of `--runs` calls after one warm-up, at the defaults
and at the heaviest accepted input (`demo.bounds("max")`). End to end: the app started for
real on a free port; cold start = process start to the first 200 on `/`; then
`gradio_client.Client.predict` at the defaults (its polling puts a floor of ~50-75 ms on it),
and, where Playwright and Debian chromium are installed, a page load to the ready marker.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- latency:start -->", "<!-- latency:end -->"


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up: first-call allocations, lazy imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def machine_speed_ms() -> float:
    """A fixed pure-Python loop, timed alongside: this shared VM's speed drifts by up to 2x
    between runs, and this number lets two result tables be compared."""

    def loop() -> int:
        total = 0
        for i in range(1_000_000):
            total += i
        return total

    return median_ms(loop, 5)


def server_side(runs: int) -> list[dict]:
    import torch

    from demos import all_demos
    from demos.theme import figure_json

    torch.set_num_threads(1)  # as app.server does
    rows = []
    for demo in all_demos:
        row = {"slug": demo.slug}
        for label, params in (("default", demo.Params()), ("max", demo.bounds("max"))):

            def update(params=params, demo=demo):
                return [figure_json(f) for f in demo.render(params).figures]

            row[f"{label}_ms"] = median_ms(update, runs)
            row[f"{label}_kb"] = sum(len(s) for s in update()) / 1024
        rows.append(row)
    return rows


def end_to_end(runs: int) -> tuple[float, float | None, list[dict]]:
    from gradio_client import Client

    from app.process import serving
    from demos import all_demos

    with serving() as (url, cold_start):
        client = Client(url + "/", verbose=False)
        rows = []
        for demo in all_demos:
            values = [getattr(demo.Params(), name) for name in demo.fields]

            def call(values=values, endpoint=f"/{demo.slug}"):
                return client.predict(*values, api_name=endpoint)

            rows.append({"slug": demo.slug, "client_ms": median_ms(call, runs)})
        return cold_start, page_ready_s(url), rows


def page_ready_s(url: str, loads: int = 5) -> float | None:
    """Median seconds from navigation to the page's ready marker in Debian chromium (a fresh
    browser context each time, so nothing is cached); None without Playwright or chromium."""
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.access(chromium, os.X_OK):
        return None
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--disable-gpu", "--disable-quic"]
        )
        for _ in range(loads):
            context = browser.new_context()
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url + "/demo/activations")  # a demo's page ("/" is the plain gallery)
            page.wait_for_selector("html[data-app-ready='1']", state="attached", timeout=60_000)
            times.append(time.perf_counter() - start)
            context.close()
        browser.close()
    return statistics.median(times)


def table(
    server: list[dict], cold_start: float, page_ready: float | None, client: list[dict], runs: int
) -> str:
    import gradio
    import torch

    by_slug = {row["slug"]: row for row in client}
    lines = [
        f"Measured {datetime.date.today().isoformat()} with `python -m benchmarks.latency` "
        f"({runs} runs, medians) on {os.cpu_count()} CPU cores, {platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, gradio {gradio.__version__}.",
        "",
        f"Cold start, process start to the first 200 on `/`: **{cold_start:.2f} s**. "
        + (
            f"Page load to ready (controls live, load handler done) in chromium: "
            f"**{page_ready:.2f} s** (median of 5)."
            if page_ready is not None
            else "(No chromium here: page load not measured.)"
        ),
        "",
        "| demo | render + serialise at defaults | payload | at the heaviest input | payload "
        "| end to end (gradio_client) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in server:
        lines.append(
            f"| `{row['slug']}` | {row['default_ms']:.1f} ms | {row['default_kb']:.0f} KB "
            f"| {row['max_ms']:.1f} ms | {row['max_kb']:.0f} KB "
            f"| {by_slug[row['slug']]['client_ms']:.0f} ms |"
        )
    return "\n".join(lines)


def write(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"{START}\n{section}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Demo latency\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed calls per measurement (≥ 20)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    speed_before = machine_speed_ms()
    server = server_side(args.runs)
    speed_after = machine_speed_ms()
    cold_start, page_ready, client = end_to_end(args.runs)
    section = table(server, cold_start, page_ready, client, args.runs)
    section += (
        f"\n\nMachine speed, a 1M-iteration Python loop (median of 5): {speed_before:.0f} ms "
        f"before the render timings, {speed_after:.0f} ms after. Compare tables only at "
        "similar speeds: this shared VM's speed drifts between runs."
    )
    print(section)
    if not args.no_write:
        write(section)


if __name__ == "__main__":
    main()
