"""Pretrain the tiny LM of the prompt-tuning demo and write assets/models/tiny_lm.npz.

    python -m core.finetuning.train_tiny_lm          # one thread, deterministic

The file holds float32 arrays only (np.load(..., allow_pickle=False) reads it).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from core.finetuning.tiny_lm import pretrain

OUT = Path(__file__).resolve().parents[2] / "assets" / "models" / "tiny_lm.npz"


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    result = pretrain()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **{name: t.numpy() for name, t in result["weights"].items()})
    print(f"{time.perf_counter() - start:.1f} s, final loss {result['losses'][-20:].mean():.4f}")
    print("exact match per task:", result["accuracy"])
    print(f"wrote {OUT} ({OUT.stat().st_size / 1000:.0f} KB)")


if __name__ == "__main__":
    main()
