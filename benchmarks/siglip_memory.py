"""SigLIP's loss at a large batch: peak memory and time of the full N×N loss vs the chunked ring.

    .venv/bin/python -m benchmarks.siglip_memory                # N = 8,192, D = 8 chunks, printed
    .venv/bin/python -m benchmarks.siglip_memory --n 4096 --chunks 4 16

Each call is forward + backward with respect to both embeddings (float32, 1 torch thread, 256-d
embeddings). Peak memory is `benchmarks.attention.peak_bytes`: the high-water mark of the bytes
the call allocates and has not yet freed, from torch.profiler's memory events (inputs excluded).
The difference of the two losses and of their gradients is printed beside.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.attention import peak_bytes
from core.multimodal.contrastive import siglip_loss, siglip_loss_chunked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--chunks", type=int, nargs="+", default=[8])
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(arguments.n, arguments.dim, generator=generator)
    y = torch.randn(arguments.n, arguments.dim, generator=generator)

    def run(chunks: int | None):
        a, b = x.clone().requires_grad_(), y.clone().requires_grad_()
        if chunks is None:
            loss = siglip_loss(a, b, 2.302585, -10.0)[0]
        else:
            loss = siglip_loss_chunked(a, b, 2.302585, -10.0, chunks)
        loss.backward()
        return float(loss), a.grad, b.grad

    _, full_gx, full_gy = run(None)
    print(f"N = {arguments.n}, embedding dim {arguments.dim}, float32, forward + backward")
    print("| variant | peak memory | time | loss | max abs grad diff vs full |")
    print("|---|---:|---:|---:|---:|")
    for chunks in [None, *arguments.chunks]:
        start = time.perf_counter()
        loss, gx, gy = run(chunks)
        seconds = time.perf_counter() - start
        peak = peak_bytes(lambda chunks=chunks: run(chunks))
        diff = max(float((gx - full_gx).abs().max()), float((gy - full_gy).abs().max()))
        name = (
            "siglip_loss (full N×N)" if chunks is None else f"siglip_loss_chunked, {chunks} chunks"
        )
        print(f"| {name} | {peak / 2**20:.1f} MiB | {seconds:.2f} s | {loss:.6f} | {diff:.1e} |")
    print(f"full N×N float32 logits alone: {4 * arguments.n**2 / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
