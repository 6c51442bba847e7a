"""An autouse fixture for the generative tests: torch on one intra-op thread, restored after.

Their models are tiny (batches of 128–256, widths ≤ 64), so a second thread only adds
synchronisation; on a shared, loaded machine OpenMP's spinning threads made one 100-step
training 60× slower in wall time. The budgets of these demos are stated for one thread too.
Import it into a test module: `from tests.one_thread import one_thread  # noqa: F401`.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
