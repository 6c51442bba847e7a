"""Inference latency of LoRA (merged, unmerged) and Houlsby adapters beside the base model.

    .venv/bin/python -m benchmarks.peft_latency            # print the table
    .venv/bin/python -m benchmarks.peft_latency --write    # and write benchmarks/peft_latency.json

Hu et al. 2021, Table 1, in miniature: a stack of 24 linear layers of width 1,024 (GPT-2 medium's
depth and width) with a tanh between them, batch 1, sequence 1..128, fp32 on the CPU, one thread.
base: x Wᵀ per layer; merged LoRA: the same with W + (α/r)BA (r = 8); unmerged: the extra
(x Aᵀ)Bᵀ path per layer; adapter: a Houlsby adapter (m = 64) after each layer. Median of --runs
calls after a warm-up. The demo `lora` reads the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from core.finetuning.lora import adapter, lora_linear, merge

OUT = Path(__file__).resolve().parent / "peft_latency.json"
WIDTH, LAYERS, RANK, BOTTLENECK, ALPHA = 1024, 24, 8, 64, 16.0
SEQUENCES = (1, 8, 32, 128)


def _median_ms(function, runs: int) -> float:
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(runs: int) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    weights = [torch.randn(WIDTH, WIDTH, generator=generator) / WIDTH**0.5 for _ in range(LAYERS)]
    lora_a = [torch.randn(RANK, WIDTH, generator=generator) / WIDTH**0.5 for _ in range(LAYERS)]
    lora_b = [torch.randn(WIDTH, RANK, generator=generator) * 0.01 for _ in range(LAYERS)]
    merged = [merge(w, a, b, ALPHA) for w, a, b in zip(weights, lora_a, lora_b, strict=True)]
    down = torch.randn(BOTTLENECK, WIDTH, generator=generator) / WIDTH**0.5
    up = torch.randn(WIDTH, BOTTLENECK, generator=generator) * 0.01
    down_b, up_b = torch.zeros(BOTTLENECK), torch.zeros(WIDTH)

    def stack(x, layer):
        for i in range(LAYERS):
            x = torch.tanh(layer(x, i))
        return x

    variants = {
        "base": lambda x, i: x @ weights[i].T,
        "merged": lambda x, i: x @ merged[i].T,
        "unmerged": lambda x, i: lora_linear(x, weights[i], None, lora_a[i], lora_b[i], ALPHA),
        "adapter": lambda x, i: adapter(x @ weights[i].T, down, down_b, up, up_b),
    }
    rows = []
    with torch.inference_mode():
        for sequence in SEQUENCES:
            x = torch.randn(1, sequence, WIDTH, generator=generator)
            row = {"sequence": sequence}
            for name, layer in variants.items():
                row[name] = _median_ms(lambda layer=layer, x=x: stack(x, layer), runs)
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="write benchmarks/peft_latency.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = measure(args.runs)
    print("sequence   base   merged   unmerged   adapter   (ms)")
    for row in rows:
        print(f"{row['sequence']:8d} {row['base']:7.3f} {row['merged']:7.3f} "
              f"{row['unmerged']:9.3f} {row['adapter']:8.3f}")  # fmt: skip
    if args.write:
        meta = {"width": WIDTH, "layers": LAYERS, "rank": RANK, "bottleneck": BOTTLENECK,
                "threads": 1, "runs": args.runs, "load_average_1min": os.getloadavg()[0], "machine": platform.processor() or platform.machine(),
                "torch": torch.__version__}  # fmt: skip
        OUT.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
