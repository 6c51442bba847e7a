"""Session-wide setup that must happen before any test module is imported.

Triton picks its interpreter when `triton.language` is imported and `@triton.jit` decorates, so
the flag is set here, before `core.attention.flash_triton` is imported by any test. Without a
CUDA GPU the Triton kernel then runs on CPU tensors in the interpreter; on a GPU machine
nothing changes and it runs compiled. No other test reads the variable.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
