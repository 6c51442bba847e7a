"""Session-wide setup that must happen before any test module is imported.

Triton picks its interpreter when `triton.language` is imported and `@triton.jit` decorates, so
the flag is set here, before `core.attention.flash_triton` is imported by any test. Without a
CUDA GPU the Triton kernel then runs on CPU tensors in the interpreter; on a GPU machine
nothing changes and it runs compiled. No other test reads the variable.
"""

import os

# Before torch is imported: one intra-op thread, as the app renders (app/__init__.py) and as the
# budgets are stated; two workers already share the two cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# PLAYGROUND_CLONE_TO=38 runs the suite as it will be at 38 demos: the live demos cloned onto
# the free catalogue slugs, here and in the app the tests start (app/process.py). It measures
# what the generic per-demo tests cost; it is not how CI runs.
if os.environ.get("PLAYGROUND_CLONE_TO"):
    from benchmarks.clones import clone_to

    clone_to(int(os.environ["PLAYGROUND_CLONE_TO"]))
