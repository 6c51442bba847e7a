"""Attention forward: time, memory and throughput of the implementations in core.attention.

    .venv/bin/python -m benchmarks.attention                  # CPU table, printed
    .venv/bin/python -m benchmarks.attention --write          # and put into RESULTS.md
    python -m benchmarks.attention --device cuda --write      # on a GPU machine (torch + triton)

CPU (`--device cpu`): the naive baseline (S and P materialised), the tiled FlashAttention in
PyTorch and `scaled_dot_product_attention`, fp32, over N: median wall time of `--runs` calls
after a warm-up, and peak memory. Peak memory is measured, not modelled: the high-water mark of
the bytes the call allocates and has not yet freed (inputs excluded, output included), replayed
from torch.profiler's memory events (each op's own allocations at its start, frees at its end).
Errors are max |out − SDPA in float64|.

GPU (`--device cuda`): the Triton kernel against every SDPA backend that runs
(`torch.nn.attention.sdpa_kernel` with FLASH_ATTENTION, EFFICIENT_ATTENTION, CUDNN_ATTENTION), bf16,
causal and not, d 64/128, N 1k-16k at the FlashAttention-2 paper's setting (B·N = 16k tokens,
H·d = 2048). Time: `triton.testing.do_bench` median after its warm-up (the first call, which
compiles, is made before). TFLOP/s from the forward FLOPs 4·B·H·Nq·Nk·d, halved when causal.
Correctness at every shape against fp32 SDPA (math backend, no TF32) on the first two heads,
and a bf16 matmul's TFLOP/s in the same run as the ceiling to compare with. Needs only torch,
triton and numpy; exits non-zero if the Triton kernel's error exceeds bf16's tolerance.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.latency import machine_speed_ms, median_ms

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTIONS = {
    "cpu": ("Attention on the CPU: naive, tiled, SDPA", "attention-cpu"),
    "cuda": ("Attention on the GPU: the Triton kernel and SDPA's backends", "attention-gpu"),
}
GPU = "cuda"  # the device of the GPU part (a module constant so it can be smoke-run on the CPU)
BF16_TOLERANCE = 2e-2  # the tests' bound for the Triton kernel's bf16 output vs fp32 SDPA


# --- CPU ---------------------------------------------------------------------------------


def peak_bytes(fn: Callable[[], object]) -> int:
    """High-water mark of the bytes `fn()` allocates on the CPU, from torch.profiler's events."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    changes = []
    for event in prof.events():
        size = event.self_cpu_memory_usage
        if size > 0:
            changes.append((event.time_range.start, size))
        elif size < 0:
            changes.append((event.time_range.end, size))
    live = peak = 0
    for _, size in sorted(changes):
        live += size
        peak = max(peak, live)
    return peak


def cpu_rows(ns: list[int], heads: int, head_dim: int, causal: bool, block: int, runs: int):
    from core.attention.flash import flash_attention
    from core.attention.naive import naive_attention

    methods = {
        "naive": lambda q, k, v: naive_attention(q, k, v, causal=causal),
        "tiled": lambda q, k, v: flash_attention(
            q, k, v, causal=causal, block_m=block, block_n=block
        ),
        "sdpa": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
    }
    gen = torch.Generator().manual_seed(0)
    rows = []
    for n in ns:
        q, k, v = (torch.randn(1, heads, n, head_dim, generator=gen) for _ in range(3))
        exact = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=causal)
        row = {"n": n}
        for name, method in methods.items():

            def call(method=method, q=q, k=k, v=v):
                return method(q, k, v)

            result = call()
            out = result[0] if isinstance(result, tuple) else result
            row[name] = {
                "ms": median_ms(call, runs),
                "peak": peak_bytes(call),
                "error": (out.double() - exact).abs().max().item(),
            }
        rows.append(row)
    return rows


def cpu_table(rows, heads, head_dim, causal, block, runs, speed_ms) -> str:
    mib = 2**20
    lines = [
        f"Measured {datetime.date.today().isoformat()} with `python -m benchmarks.attention "
        f"--device cpu` on {os.cpu_count()} CPU cores ({platform.machine()}, "
        f"{torch.get_num_threads()} torch thread), Python {platform.python_version()}, "
        f"torch {torch.__version__}. fp32, B = 1, H = {heads}, d = {head_dim}, "
        f"{'causal' if causal else 'not causal'}; tiled = `core.attention.flash.flash_attention` "
        f"with {block} × {block} tiles. Time: median of {runs} calls after a warm-up. "
        "Peak memory: measured with torch.profiler (bytes allocated during the call and not yet "
        "freed, inputs excluded, output and LSE included). Error: max |out − SDPA in float64|. "
        f"Machine speed (1M-iteration Python loop): {speed_ms:.0f} ms; this shared VM's speed "
        "drifts, so compare times within a table, or across tables at similar speeds.",
        "",
        "| N | naive time | tiled time | SDPA time | naive peak | tiled peak | SDPA peak "
        "| naive error | tiled error | SDPA error |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [f"{row[m]['ms']:.1f} ms" for m in ("naive", "tiled", "sdpa")]
        cells += [f"{row[m]['peak'] / mib:.2f} MiB" for m in ("naive", "tiled", "sdpa")]
        cells += [f"{row[m]['error']:.1e}" for m in ("naive", "tiled", "sdpa")]
        lines.append(f"| {row['n']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Naive materialises S, P and one more N×N temporary (3·B·H·N²·4 bytes); the tiled "
        "version keeps one "
        "block_m × block_n tile of scores per head plus O(N·d) state, and SDPA's CPU kernel is "
        "tiled too. The tiled version takes one Python loop step per tile (all heads at once), "
        "so at small N its time is mostly interpreter overhead.",
    ]
    return "\n".join(lines)


# --- GPU ---------------------------------------------------------------------------------


def sdpa_backends():
    from torch.nn.attention import SDPBackend

    return {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
    }


def matmul_tflops(do_bench, size: int = 8192) -> float:
    a = torch.randn(size, size, device=GPU, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=GPU, dtype=torch.bfloat16)
    ms = do_bench(lambda: a @ b, warmup=100, rep=500, return_mode="median")
    return 2 * size**3 / ms / 1e9


def reference_fp32(q, k, v, causal):
    """fp32 SDPA (math backend, TF32 off) and the row log-sum-exp on the first batch's first
    two heads: exact up to fp32 rounding, and small enough (2 heads) at N = 16k."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = (x[:1, :2].float() for x in (q, k, v))
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with sdpa_kernel(SDPBackend.MATH):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if causal:
            n_q, n_k = s.shape[-2:]
            s = s.masked_fill(
                torch.ones(n_q, n_k, dtype=torch.bool, device=s.device).tril().logical_not(),
                -math.inf,
            )
        lse = torch.logsumexp(s, dim=-1)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return out, lse


def gpu_rows(ns: list[int], head_dims: list[int], causals: list[bool], tokens: int, hidden: int):
    from torch.nn.attention import sdpa_kernel
    from triton.testing import do_bench

    from core.attention.flash_triton import flash_attention_triton, triton_backend

    backend, reason = triton_backend()
    if backend != "gpu":
        sys.exit(f"the Triton kernel cannot run compiled here: {reason}")
    peak = matmul_tflops(do_bench)
    rows = []
    for head_dim in head_dims:
        for causal in causals:
            for n in ns:
                b, h = max(1, tokens // n), hidden // head_dim
                gen = torch.Generator(device=GPU).manual_seed(n + head_dim)
                q, k, v = (
                    torch.randn(b, h, n, head_dim, device=GPU, dtype=torch.bfloat16, generator=gen)
                    for _ in range(3)
                )
                flops = 4 * b * h * n * n * head_dim * (0.5 if causal else 1.0)
                ref_out, ref_lse = reference_fp32(q, k, v, causal)
                row = {"d": head_dim, "causal": causal, "n": n, "b": b, "h": h}

                out, lse = flash_attention_triton(q, k, v, causal=causal)  # compiles
                ms = do_bench(
                    lambda q=q, k=k, v=v, c=causal: flash_attention_triton(q, k, v, causal=c),
                    return_mode="median",
                )
                row["triton"] = {
                    "tflops": flops / ms / 1e9,
                    "error": (out[:1, :2].float() - ref_out).abs().max().item(),
                    "lse_error": (lse[:1, :2] - ref_lse).abs().max().item(),
                }
                for name, sdpa_backend in sdpa_backends().items():
                    try:
                        with sdpa_kernel(sdpa_backend), warnings.catch_warnings(record=True) as why:
                            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                            torch.cuda.synchronize()
                            ms = do_bench(
                                lambda q=q, k=k, v=v, c=causal: F.scaled_dot_product_attention(
                                    q, k, v, is_causal=c
                                ),
                                return_mode="median",
                            )
                    except RuntimeError as error:  # this backend does not take these inputs
                        # torch says why in warnings ("... not used because ..."), if at all
                        reasons = [str(w.message).strip() for w in why] + [str(error)]
                        reason = " ".join(r for r in reasons if "because" in r) or str(error)
                        row[name] = {"skipped": " ".join(reason.split())[:200]}
                        continue
                    row[name] = {
                        "tflops": flops / ms / 1e9,
                        "error": (out[:1, :2].float() - ref_out).abs().max().item(),
                    }
                rows.append(row)
                print(gpu_row_line(row, peak), flush=True)
                del q, k, v, out, lse, ref_out, ref_lse
                torch.cuda.empty_cache()
    return rows, peak


GPU_METHODS = ("triton", "flash", "efficient", "cudnn")


def gpu_row_line(row, peak) -> str:
    def speed(method):
        cell = row[method]
        return "n/a" if "skipped" in cell else f"{cell['tflops']:.0f}"

    def error(method):
        cell = row[method]
        return "n/a" if "skipped" in cell else f"{cell['error']:.1e}"

    sdpa_best = max(
        (row[m]["tflops"] for m in GPU_METHODS[1:] if "skipped" not in row[m]), default=None
    )
    ratio = f"{row['triton']['tflops'] / sdpa_best:.2f}" if sdpa_best else "n/a"
    return (
        f"| {row['d']} | {'yes' if row['causal'] else 'no'} | {row['n']} | {row['b']}×{row['h']} | "
        + " | ".join(speed(m) for m in GPU_METHODS)
        + f" | {ratio} | {100 * row['triton']['tflops'] / peak:.0f} % | "
        + " | ".join(error(m) for m in GPU_METHODS)
        + f" | {row['triton']['lse_error']:.1e} |"
    )


def gpu_table(rows, peak, tokens, hidden) -> str:
    import triton

    name = torch.cuda.get_device_name()
    skipped = sorted(
        {f"{m}: {row[m]['skipped']}" for row in rows for m in GPU_METHODS if "skipped" in row[m]}
    )
    lines = [
        f"Measured {datetime.date.today().isoformat()} with `python -m benchmarks.attention "
        f"--device cuda` on {name}, torch {torch.__version__} (CUDA {torch.version.cuda}, "
        f"cuDNN {torch.backends.cudnn.version()}), triton {triton.__version__}. bf16 forward, "
        f"B = {tokens}/N, H = {hidden}/d; TFLOP/s = 4·B·H·N²·d (halved when causal) / "
        "`triton.testing.do_bench` median. bf16 matmul 8192³ in the same run: "
        f"**{peak:.0f} TFLOP/s**. Errors: max |out − fp32 SDPA| on the first two heads.",
        "",
        "| d | causal | N | B×H | Triton TFLOP/s | SDPA flash | SDPA efficient | SDPA cuDNN "
        "| Triton / best SDPA | Triton / matmul | Triton error | flash error | efficient error "
        "| cuDNN error | Triton LSE error |",
        "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [gpu_row_line(row, peak) for row in rows]
    if skipped:
        lines += ["", "Backends that did not run: " + "; ".join(skipped)]
    return "\n".join(lines)


# --- RESULTS.md --------------------------------------------------------------------------


def write(device: str, body: str) -> None:
    heading, marker = SECTIONS[device]
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = RESULTS.read_text(encoding="utf-8")
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {heading}\n\n{block}\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--n", type=int, nargs="+", help="sequence lengths")
    parser.add_argument("--causal", action="store_true", help="CPU: causal attention")
    parser.add_argument("--heads", type=int, default=4, help="CPU: heads (B = 1)")
    parser.add_argument("--head-dim", type=int, default=64, help="CPU: head dimension")
    parser.add_argument("--block", type=int, default=64, help="CPU: tile size of the tiled version")
    parser.add_argument("--runs", type=int, default=5, help="CPU: timed calls per measurement")
    parser.add_argument("--threads", type=int, default=1, help="CPU: torch threads")
    parser.add_argument("--head-dims", type=int, nargs="+", default=[64, 128], help="GPU")
    parser.add_argument("--tokens", type=int, default=16384, help="GPU: B·N")
    parser.add_argument("--hidden", type=int, default=2048, help="GPU: H·d")
    parser.add_argument("--write", action="store_true", help="put the table into RESULTS.md")
    args = parser.parse_args()

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
        ns = args.n or [256, 512, 1024, 2048, 4096]
        speed = machine_speed_ms()
        started = time.perf_counter()
        rows = cpu_rows(ns, args.heads, args.head_dim, args.causal, args.block, args.runs)
        body = cpu_table(rows, args.heads, args.head_dim, args.causal, args.block, args.runs, speed)
        print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    else:
        if not torch.cuda.is_available():
            sys.exit("--device cuda: no CUDA GPU here")
        ns = args.n or [1024, 2048, 4096, 8192, 16384]
        rows, peak = gpu_rows(ns, args.head_dims, [False, True], args.tokens, args.hidden)
        body = gpu_table(rows, peak, args.tokens, args.hidden)
    print(body)
    if args.write:
        write(args.device, body)
    if args.device == "cuda":
        worst = max(row["triton"]["error"] for row in rows)
        if not worst <= BF16_TOLERANCE:
            sys.exit(f"Triton kernel's max error {worst:.2e} exceeds {BF16_TOLERANCE}")


if __name__ == "__main__":
    main()
