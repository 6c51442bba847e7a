"""Training whose weights are the same on every x86-64 CPU: the kernels pinned, one thread.

A float32 training of thousands of steps is chaotic in its rounding: the last-bit differences
between a CPU's AVX-512 kernels and another's AVX2 kernels (matmuls summing in another order,
vectorised exp and tanh) grew to 0.1–0.5 in the committed models' weights when they were trained
again on another machine, and training in float64 did not help (0.04–0.49: the divergence
saturates instead of staying at float64's scale). What does help is to take the choice of
kernels away from the CPU, before torch is imported:

- `ATEN_CPU_CAPABILITY=default`: ATen's portable kernels, not its AVX2/AVX-512 builds;
- `MKL_CBWR=COMPATIBLE`: MKL's conditional numerical reproducibility, one code path on every
  x86 CPU (same results with `MKL_ENABLE_INSTRUCTIONS` capped at SSE4.2, measured);
- one thread; and oneDNN off (`torch.backends.mkldnn.enabled = False`, `configure_torch`), so
  convolutions go through MKL's GEMM.

Slower (the tiny LM: 30 s → about 70 s), which only the training scripts and their tests pay.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

PINNED = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def pinned_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with the pinned variables."""
    return {**(os.environ if base is None else base), **PINNED}


def is_pinned() -> bool:
    return all(os.environ.get(key) == value for key, value in PINNED.items())


def ensure_pinned(module: str, argv: Sequence[str]) -> None:
    """Run `python -m module argv` again in this process's place with the pinned environment,
    unless it is already set (torch reads it once, when it is first imported)."""
    if not is_pinned():
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", module, *argv], pinned_env())


def configure_torch() -> None:
    """One intra-op thread and no oneDNN: the rest of the pinning, inside the process."""
    import torch

    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
