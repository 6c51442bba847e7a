"""Pretrain the tiny LM of the prompt-tuning demo and write assets/models/tiny_lm.npz.

    python -m core.finetuning.train_tiny_lm                  # writes assets/models/tiny_lm.npz
    python -m core.finetuning.train_tiny_lm --out other.npz

One thread, kernels pinned (core/pinned.py): the same weights on every x86-64 CPU. The file
holds float32 arrays only (np.load(..., allow_pickle=False) reads it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from core.finetuning.tiny_lm import pretrain
from core.pinned import configure_torch, ensure_pinned

OUT = Path(__file__).resolve().parents[2] / "assets" / "models" / "tiny_lm.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args().out
    ensure_pinned("core.finetuning.train_tiny_lm", sys.argv[1:])
    configure_torch()
    start = time.perf_counter()
    result = pretrain()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **{name: t.numpy() for name, t in result["weights"].items()})
    print(f"{time.perf_counter() - start:.1f} s, final loss {result['losses'][-20:].mean():.4f}")
    print("exact match per task:", result["accuracy"])
    print(f"wrote {out} ({out.stat().st_size / 1000:.0f} KB)")


if __name__ == "__main__":
    main()
