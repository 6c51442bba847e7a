"""Page weight, first figure and cold start: the playground against a minimal Gradio app.

    .venv/bin/python -m benchmarks.pages                  # measure, print, update RESULTS.md
    .venv/bin/python -m benchmarks.pages --no-write --runs 3

Three servers, each started by app/process.py `serving` in the same run:
- the minimal app (benchmarks/minimal_app.py: one slider, one plot);
- the playground with one demo registered (`--only <slug>`, benchmarks/clones.py);
- the playground with the live demos cloned onto every free catalogue slug (38 demos).
Per server: cold start (process start to the first 200 on `/`; median of `--starts`), the
bytes of the demo's page HTML (`/demo/<slug>`, config included; `/` for the minimal app),
and the first figure drawn in a fresh Chromium context (goto to a Plotly graph with data in
the page's first plot; median of `--runs`), each also as a ratio to the minimal app's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import httpx

from benchmarks.bounds import write_section

START, END = "<!-- pages:start -->", "<!-- pages:end -->"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]
DRAWN_JS = """(sel) => { const gd = document.querySelector(sel + ' .js-plotly-plot');
  return !!(gd && gd._fullData && gd._fullData.length); }"""


def first_figure_s(url: str, selector: str, runs: int) -> float:
    """Median seconds from `goto` to a drawn figure under `selector`, fresh context each time."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(runs + 1):  # the first visit also builds the page on the server
            context = browser.new_context()
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.wait_for_function(DRAWN_JS, arg=selector, timeout=60_000, polling=20)
            times.append(time.perf_counter() - start)
            context.close()
        browser.close()
    return statistics.median(times[1:])


def measure(module: str, args: tuple, path: str, selector: str, runs: int, starts: int) -> dict:
    from app.process import serving

    colds = []
    for index in range(starts):
        with serving(module=module, args=args) as (url, cold_s):
            colds.append(cold_s)
            if index == starts - 1:
                page_bytes = len(httpx.get(url + path, follow_redirects=True, timeout=60).content)
                figure_s = first_figure_s(url + path, selector, runs)
    return {"cold_s": statistics.median(colds), "bytes": page_bytes, "figure_s": figure_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", default="activations", help="the demo whose page is measured")
    parser.add_argument("--runs", type=int, default=5, help="page loads per server")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per server")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    slug = args.slug
    servers = {
        "minimal Gradio app": ("benchmarks.minimal_app", (), "/", "#fig0"),
        f"playground, `{slug}` alone": (
            "benchmarks.clones",
            ("--only", slug),
            f"/demo/{slug}",
            f"#{slug}-fig0",
        ),
        "playground, 38 demos": (
            "benchmarks.clones",
            ("--count", "38"),
            f"/demo/{slug}",
            f"#{slug}-fig0",
        ),
    }
    results = {}
    for name, (module, extra, path, selector) in servers.items():
        results[name] = measure(module, extra, path, selector, args.runs, args.starts)
        print(name, results[name], flush=True)
    base = results["minimal Gradio app"]
    alone = results[f"playground, `{slug}` alone"]
    rows = [
        "| server | cold start (s) | × minimal | page HTML (KB) | × alone | first figure (s) "
        "| × minimal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        rows.append(
            f"| {name} | {r['cold_s']:.2f} | {r['cold_s'] / base['cold_s']:.2f} "
            f"| {r['bytes'] / 1000:.1f} | "
            + (f"{r['bytes'] / alone['bytes']:.2f}" if name != "minimal Gradio app" else "—")
            + f" | {r['figure_s']:.2f} | {r['figure_s'] / base['figure_s']:.2f} |"
        )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = "\n".join(
        [
            f"Measured {now} on {platform.machine()}, {os.cpu_count()} cores "
            f"(`python -m benchmarks.pages --runs {args.runs} --starts {args.starts}`): page "
            f"`/demo/{slug}`; cold start = process start to the first 200 on `/` (median of "
            f"{args.starts}); first figure = `goto` to a drawn Plotly graph in a fresh Chromium "
            f"context (median of {args.runs}, after one visit that builds the page).",
            "",
            *rows,
        ]
    )
    print(section)
    if not args.no_write:
        write_section(START, END, "Pages: weight, first figure, cold start", section)


if __name__ == "__main__":
    main()
