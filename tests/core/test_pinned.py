"""The pinned environment of the training scripts takes the kernel choice away from the CPU."""

import subprocess
import sys

from core.pinned import PINNED, pinned_env

PROBE = (
    "import os, torch; from core.pinned import configure_torch, is_pinned; configure_torch(); "
    "print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), "
    "torch.backends.mkldnn.enabled, is_pinned())"
)


def test_a_pinned_process_runs_aten_default_kernels_one_thread_without_onednn() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=pinned_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["DEFAULT", "1", "False", "True"]


def test_pinned_env_keeps_the_rest_of_the_environment() -> None:
    env = pinned_env({"PATH": "/bin", "MKL_CBWR": "AUTO"})
    assert env["PATH"] == "/bin" and all(env[key] == value for key, value in PINNED.items())
