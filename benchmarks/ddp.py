"""The ddp demo's real run at its heaviest accepted input: first and later run times, and memory.

    .venv/bin/python -m benchmarks.ddp               # K = 4, width 256, depth 6, 64 rows per rank
    .venv/bin/python -m benchmarks.ddp --runs 9 --mode ring

The first run starts multiprocessing's forkserver (preloaded with torch); later runs fork K gloo
workers from it. Times are wall clock around `distributed_gradients` (medians of the later runs).
Memory: the proportional set size (PSS, /proc/<pid>/smaps_rollup) of this process, the forkserver
and the workers, summed, sampled every 20 ms during the runs; the peak is printed. PSS splits the
pages forked processes share, so the sum is what the machine really holds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import threading
import time
from pathlib import Path


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-size", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--batch-per-rank", type=int, default=64)
    parser.add_argument("--mode", default="ddp", choices=["ddp", "all_reduce", "ring"])
    parser.add_argument("--runs", type=int, default=5, help="later runs after the first")
    args = parser.parse_args()

    import torch

    from core.training.ddp import distributed_gradients, mlp

    torch.set_num_threads(1)
    peak = {"kb": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["kb"] = max(peak["kb"], sum(map(_pss_kb, _descendants(os.getpid()))))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    generator = torch.Generator().manual_seed(0)
    batch = args.batch_per_rank * args.world_size
    inputs = torch.randn(batch, 8, generator=generator, dtype=torch.float64)
    targets = torch.randn(batch, 1, generator=generator, dtype=torch.float64)
    model_fn = functools.partial(mlp, args.width, args.depth)
    times = []
    for _ in range(args.runs + 1):
        start = time.perf_counter()
        distributed_gradients(
            model_fn, inputs, targets, world_size=args.world_size, mode=args.mode, timeout_s=60
        )
        times.append(time.perf_counter() - start)
    done.set()
    sampler.join()
    print(
        json.dumps(
            {
                **vars(args),
                "first_s": round(times[0], 3),
                "later_median_s": round(statistics.median(times[1:]), 3),
                "later_max_s": round(max(times[1:]), 3),
                "peak_pss_mb": round(peak["kb"] / 1024, 1),
                "load_average": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
