"""Per demo: time and peak memory of the largest (and smallest) request its Params accept.

    .venv/bin/python -m benchmarks.bounds                 # every demo, update RESULTS.md
    .venv/bin/python -m benchmarks.bounds --demo activations --no-write
    .venv/bin/python -m benchmarks.bounds --demo xgboost --choices --no-write

The request is what the app does for one call: `demo.render(params)` plus `figure_json` of
every figure, with one torch thread as app.server runs it, at `demo.bounds("max")` (every
slider at its max, every list full, every box ticked) and at `demo.bounds("min")`. With
`--choices`, also "choices": sliders at max with each combination of the radio and dropdown
values in turn, each a new training setting for the demos that train; the slowest first call
is reported with its combination.

Each (demo, bound) runs in a fresh Python process, so one demo's caches and lazy imports
cannot hide or inflate another's. Memory is the growth of the resident set (RSS) during the
calls: the kernel's high-water mark `VmHWM` is reset (`/proc/self/clear_refs`, "5") after a
warm-up render at the defaults, then read after the calls, minus the RSS just before. RSS
and not tracemalloc, because torch's CPU allocator is invisible to tracemalloc and a request
costs what the process holds, Python objects, numpy and torch buffers alike. Where the reset
is not allowed, the lifetime peak (`ru_maxrss`) is used, which can only overstate the growth.

Time: the first call (cold: lazy imports, first allocations) and the median of `--runs` calls.
Goal per request on the 2-core machine: ≤ 1 s and ≤ 1 GB.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- bounds:start -->", "<!-- bounds:end -->"
GOAL_S = 1.0
GOAL_MB = 1024.0


def _status_kb(field: str) -> int:
    """A `kB` field of /proc/self/status (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure(slug: str, which: str, runs: int) -> dict:
    """In this process: the request at `demo.bounds(which)`, timed and its RSS growth."""
    import torch

    from demos import all_demos
    from demos.theme import figure_json

    torch.set_num_threads(1)  # as app.server does
    demo = next(d for d in all_demos if d.slug == slug)
    params = demo.bounds("max" if which == "choices" else which)

    def request() -> int:
        return sum(len(figure_json(f)) for f in demo.render(params).figures)

    for figure in demo.render().figures:  # imports and first allocations of the demo itself
        figure_json(figure)
    before_kb = _status_kb("VmRSS")
    exact = _reset_peak()
    combination = ""
    if which == "choices":  # sliders at max, each combination of the choices: the slowest
        first_s, payload, combination = 0.0, 0, ""
        for values in choice_combinations(demo):
            try:
                candidate = demo.parse({**params.model_dump(), **values})
            except ValueError:  # a combination the demo refuses
                continue
            start = time.perf_counter()
            size = sum(len(figure_json(f)) for f in demo.render(candidate).figures)
            elapsed = time.perf_counter() - start
            if elapsed >= first_s:
                first_s, payload, params = elapsed, size, candidate
                combination = ", ".join(f"{k}={v}" for k, v in values.items())
    else:
        start = time.perf_counter()
        payload = request()
        first_s = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        request()
        times.append(time.perf_counter() - start)
    peak_kb = _status_kb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "slug": slug,
        "bound": which,
        "first_s": first_s,
        "median_s": statistics.median(times),
        "peak_mb": max(0, peak_kb - before_kb) / 1024,
        "rss_mb": before_kb / 1024,
        "payload_kb": payload / 1024,
        "exact_peak": exact,
        "combination": combination,
    }


def choice_combinations(demo, limit: int = 48) -> list[dict]:
    """Every combination of the demo's radio and dropdown values (the first `limit`)."""
    import itertools

    choices = [c for c in demo.controls if c.kind in ("radio", "dropdown")]
    names = [c.name for c in choices]
    values = [[value for value, _ in c.choices] for c in choices]
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.islice(itertools.product(*values), limit)
    ]


def measure_in_child(slug: str, which: str, runs: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.bounds", "--child", slug, which, str(runs)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{slug} at {which}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(row: dict) -> str:
    misses = []
    if row["median_s"] > GOAL_S:
        misses.append(f"time {row['median_s'] / GOAL_S:.1f}× the goal")
    if row["peak_mb"] > GOAL_MB:
        misses.append(f"memory {row['peak_mb'] / GOAL_MB:.1f}× the goal")
    return "ok" if not misses else "**misses: " + ", ".join(misses) + "**"


def table(rows: list[dict], runs: int, load: tuple[float, float, float]) -> str:
    import gradio
    import torch

    exact = all(row["exact_peak"] for row in rows)
    lines = [
        f"Measured {datetime.date.today().isoformat()} with `python -m benchmarks.bounds` "
        f"(median of {runs} calls after a first, cold one; a fresh process per row) on "
        f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}, gradio {gradio.__version__}. Load average at the start "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min): the machine is shared.",
        "",
        "A request = `demo.render(params)` + `figure_json` of every figure, one torch thread. "
        + (
            "Peak memory = the process's RSS high-water mark during the calls (reset after a "
            "warm-up at the defaults) minus its RSS before them."
            if exact
            else "Peak memory = lifetime peak RSS (ru_maxrss) minus the RSS before the calls "
            "(an upper bound: the high-water mark could not be reset here)."
        )
        + f" Goal per request: ≤ {GOAL_S:g} s and ≤ {GOAL_MB / 1024:g} GB.",
        "",
        "| demo | bound | first call | median | peak memory (RSS growth) | process RSS before "
        "| payload | goal |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        bound = row["bound"] + (f" ({row['combination']})" if row.get("combination") else "")
        lines.append(
            f"| `{row['slug']}` | {bound} | {1000 * row['first_s']:.0f} ms "
            f"| {1000 * row['median_s']:.0f} ms | {row['peak_mb']:.1f} MB "
            f"| {row['rss_mb']:.0f} MB | {row['payload_kb']:.0f} KB | {verdict(row)} |"
        )
    return "\n".join(lines)


def write_section(start: str, end: str, title: str, section: str) -> None:
    """Replace the text between `start` and `end` in RESULTS.md, or append a new section."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"{start}\n{section}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="append", help="a slug (repeatable); default: all")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per bound")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--choices",
        action="store_true",
        help="also: sliders at max with each combination of the choices (a new training "
        "setting each), the slowest first call",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("SLUG", "BOUND", "RUNS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        slug, which, runs = args.child
        print(json.dumps(measure(slug, which, int(runs))))
        return

    from demos import all_demos

    load = os.getloadavg()
    slugs = args.demo or [demo.slug for demo in all_demos]
    rows = []
    for slug in slugs:
        for which in ("max", "min", *(["choices"] if args.choices else [])):
            rows.append(measure_in_child(slug, which, args.runs))
            print(f"{slug} {which}: {verdict(rows[-1])}", file=sys.stderr, flush=True)
    section = table(rows, args.runs, load)
    print(section)
    if not args.no_write:
        write_section(START, END, "Resource bounds", section)


if __name__ == "__main__":
    main()
