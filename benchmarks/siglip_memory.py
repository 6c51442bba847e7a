"""SigLIP's loss at a large batch: peak memory and time of the full N×N loss vs the chunked ring.

    .venv/bin/python -m benchmarks.siglip_memory                # N = 8,192, 8 chunks, printed
    .venv/bin/python -m benchmarks.siglip_memory --n 4096 --chunks 4 16

Each variant runs forward + backward with respect to both embeddings (float32, 1 torch thread,
256-d embeddings) in a fresh Python process, so that one variant's freed memory cannot hide
another's peak. Peak memory: the process's resident-set high-water mark (getrusage) after the
call minus its resident set just before it (inputs already built). Loss and gradients are
compared with the full formula's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

LOG_T, BIAS = 2.302585, -10.0  # the paper's initialisation


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _inputs(n: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, dim, generator=generator), torch.randn(n, dim, generator=generator)


def measure(n: int, dim: int, chunks: int) -> dict:
    """One variant in this process: chunks = 0 is the full `siglip_loss`."""
    from core.multimodal.contrastive import siglip_loss, siglip_loss_chunked

    torch.set_num_threads(1)
    x, y = _inputs(n, dim)
    x.requires_grad_()
    y.requires_grad_()
    before = _rss_bytes()
    start = time.perf_counter()
    if chunks == 0:
        loss = siglip_loss(x, y, LOG_T, BIAS)[0]
    else:
        loss = siglip_loss_chunked(x, y, LOG_T, BIAS, chunks)
    loss.backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    torch.save({"gx": x.grad, "gy": y.grad}, f"/tmp/siglip_memory_{chunks}.pt")
    return {"peak": peak, "seconds": seconds, "loss": float(loss.detach())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--chunks", type=int, nargs="+", default=[8])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one variant
    arguments = parser.parse_args()
    if arguments.one is not None:
        print(json.dumps(measure(arguments.n, arguments.dim, arguments.one)))
        return
    rows = {}
    for chunks in [0, *arguments.chunks]:
        command = [sys.executable, "-m", "benchmarks.siglip_memory", "--n", str(arguments.n)]
        command += ["--dim", str(arguments.dim), "--one", str(chunks)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows[chunks] = json.loads(output.strip().splitlines()[-1])
    full = torch.load("/tmp/siglip_memory_0.pt")
    print(f"N = {arguments.n}, embedding dim {arguments.dim}, float32, forward + backward")
    print("| variant | peak memory | time | loss | max abs grad diff vs full |")
    print("|---|---:|---:|---:|---:|")
    for chunks, row in rows.items():
        grads = torch.load(f"/tmp/siglip_memory_{chunks}.pt")
        diff = max(float((grads[k] - full[k]).abs().max()) for k in ("gx", "gy"))
        name = "siglip_loss (full N×N)" if chunks == 0 else f"siglip_loss_chunked, {chunks} chunks"
        print(
            f"| {name} | {row['peak'] / 2**20:.0f} MiB | {row['seconds']:.2f} s | "
            f"{row['loss']:.6f} | {diff:.1e} |"
        )
    print(f"full N×N float32 logits alone: {4 * arguments.n**2 / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
