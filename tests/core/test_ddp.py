"""core.training.ddp: the ring against the sum, buckets against torch, real gloo runs."""

from __future__ import annotations

import functools
import operator
import os
import time

import pytest
import torch
import torch.distributed as dist

from core.trace import Trace
from core.training import ddp

# --- the simulated ring --------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 10))
@pytest.mark.parametrize("numel", [1, 5, 23])  # below N, not divisible by N
def test_ring_all_reduce_is_the_exact_sum_for_integers(n, numel):
    generator = torch.Generator().manual_seed(n * 100 + numel)
    tensors = [torch.randint(-(10**12), 10**12, (numel,), generator=generator) for _ in range(n)]
    before = [t.clone() for t in tensors]
    out = ddp.ring_all_reduce(tensors)
    expected = torch.stack(tensors).sum(0)
    assert all(torch.equal(o, expected) for o in out)  # int64: exact
    assert all(torch.equal(a, b) for a, b in zip(tensors, before, strict=True))  # unchanged


@pytest.mark.parametrize("n", [2, 3, 7])
def test_ring_all_reduce_float64_is_bit_identical_across_ranks(n):
    generator = torch.Generator().manual_seed(n)
    tensors = [torch.randn(3, 5, generator=generator, dtype=torch.float64) for _ in range(n)]
    out = ddp.ring_all_reduce(tensors)
    assert out[0].shape == (3, 5)
    torch.testing.assert_close(out[0], torch.stack(tensors).sum(0), rtol=0, atol=1e-12)
    assert all(torch.equal(o, out[0]) for o in out)


def test_ring_trace_follows_the_schedule_and_counts_contributions():
    n = 4
    trace = Trace()
    ddp.ring_all_reduce([torch.arange(8.0) for _ in range(n)], trace=trace)
    transfers = trace["transfer"]
    assert len(transfers) == 2 * (n - 1) * n
    for t in transfers:
        offset = -t["step"] if t["phase"] == "reduce_scatter" else 1 - t["step"]
        assert t["chunk"] == (t["src"] + offset) % n and t["dst"] == (t["src"] + 1) % n
    after_scatter = [s for s in trace["state"] if s["phase"] == "reduce_scatter"][-1]["held"]
    complete = (after_scatter == n).reshape(n, n, 2).all(-1)  # rank × chunk
    assert complete.sum(1).tolist() == [1] * n  # each rank owns one complete chunk
    assert (trace["state"][-1]["held"] == n).all()  # after all-gather, all do
    sent = sum(t["numel"] for t in transfers if t["src"] == 0) * 8
    assert sent == ddp.ring_bytes_per_rank(n, 8 * 8)


def test_ring_bytes_and_cost_model():
    assert ddp.ring_bytes_per_rank(4, 100) == 150.0
    assert ddp.ring_bytes_per_rank(1, 100) == 0.0
    ring, server, reduce = ddp.comm_costs(1024, 1e9, 1e-5, 1e10)
    assert ring.busiest_sent_bytes < 2e9 and server.busiest_sent_bytes == 1024e9
    assert ring.time_s == pytest.approx(2 * 1023 * (1e-5 + 1e9 / 1024 / 1e10))
    assert reduce.time_s > ring.time_s


# --- buckets and the timeline -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_bucket_assignment_matches_torch(seed):
    generator = torch.Generator().manual_seed(seed)
    sizes = (torch.randint(1, 400, (30,), generator=generator) * 4).tolist()
    tensors = [torch.empty(size // 4) for size in sizes]  # float32: 4 bytes each
    for cap, first in [(1000, None), (1000, 200), (50, 4000), (10**9, None)]:
        limits = [cap] if first is None else [first, cap]
        expected, _ = dist._compute_bucket_assignment_by_size(tensors, limits)
        assert ddp.bucket_assignment(sizes, cap, first) == expected


def test_one_bucket_is_backward_then_communication():
    timeline = ddp.overlap_timeline(
        [1e-3] * 5, [10**6] * 5, n_ranks=4, bucket_cap_bytes=10**9, latency_s=1e-5, bandwidth=1e9
    )
    assert len(timeline.buckets) == 1
    (_, size, start, end) = timeline.buckets[0]
    assert size == 5 * 10**6 and start == pytest.approx(5e-3) and end == timeline.total_s
    assert timeline.total_s == pytest.approx(timeline.no_overlap_s)
    assert [layer for layer, _, _ in timeline.backward] == [4, 3, 2, 1, 0]


@pytest.mark.parametrize("cap", [10**5, 10**6, 3 * 10**6])
def test_timeline_invariants(cap):
    timeline = ddp.overlap_timeline(
        [1e-3] * 12, [10**6] * 12, n_ranks=8, bucket_cap_bytes=cap, latency_s=1e-4, bandwidth=1e9
    )
    backward_end = timeline.backward[-1][2]
    network = sum(end - start for *_, start, end in timeline.buckets)
    assert timeline.total_s >= backward_end and timeline.total_s >= network
    assert timeline.total_s <= timeline.no_overlap_s + 1e-12
    ends = [end for *_, end in timeline.buckets]
    assert ends == sorted(ends)  # one communication stream


# --- real gloo processes ----------------------------------------------------------------------------

MODEL = functools.partial(ddp.mlp, 16, 2)


def single_process(inputs, targets):
    torch.manual_seed(0)
    model = MODEL()
    torch.nn.functional.mse_loss(model(inputs), targets).backward()
    return {name: p.grad for name, p in model.named_parameters()}


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(12, 8, generator=generator, dtype=torch.float64)
    return inputs, torch.randn(12, 1, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("mode", ["ddp", "all_reduce", "ring"])
@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_averaged_gradients_equal_one_process_on_the_full_batch(batch, mode, world_size):
    inputs, targets = batch
    result = ddp.distributed_gradients(
        MODEL, inputs, targets, world_size=world_size, mode=mode, seed=0
    )
    expected = single_process(inputs, targets)
    assert list(result["gradients"]) == list(expected)
    for rank_gradients in result["rank_gradients"]:
        for name, want in expected.items():
            # fp64: the only difference is the order of the sums
            torch.testing.assert_close(rank_gradients[name], want, rtol=0, atol=1e-12)
    assert len(result["local_gradients"]) == len(result["pids"]) == world_size
    assert set(result["sockets"]) <= {"127.0.0.1"}  # gloo and the store on loopback only
    assert list(result["state_dict"]) == list(MODEL().state_dict())


def test_ddp_hook_logs_one_bucket_then_the_rebuilt_buckets(batch):
    inputs, targets = batch
    cap_mb = 0.001  # 1048 bytes: several buckets for this MLP
    result = ddp.distributed_gradients(
        MODEL, inputs, targets, world_size=2, mode="ddp", bucket_cap_mb=cap_mb
    )
    iteration = {0: [], 1: []}
    for bucket in result["buckets"]:
        iteration[bucket["iteration"]].append(bucket)
    assert len(iteration[0]) == 1
    model = MODEL()
    names = [n for n, _ in model.named_parameters()][::-1]  # ready from the last layer
    sizes = [p.numel() * 8 for p in model.parameters()][::-1]
    cap = int(cap_mb * 1024 * 1024)
    predicted = ddp.bucket_assignment(sizes, cap, cap)
    assert [sorted(b["parameters"]) for b in iteration[1]] == [
        sorted(names[i] for i in bucket) for bucket in predicted
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split()[2] != "Z"


def test_a_failing_model_fn_is_one_line_and_leaves_no_process(batch):
    inputs, targets = batch
    failing = functools.partial(operator.truediv, 1, 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError") as raised:
        ddp.distributed_gradients(failing, inputs, targets, world_size=2)
    assert "\n" not in str(raised.value)
    assert not any(alive(pid) for pid in ddp._STATE["last_pids"])


def test_a_timeout_ends_the_workers(batch):
    inputs, targets = batch
    sleepy = functools.partial(time.sleep, 30)
    begin = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out"):
        ddp.distributed_gradients(sleepy, inputs, targets, world_size=2, timeout_s=3.0)
    assert time.monotonic() - begin < 20
    pids = ddp._STATE["last_pids"]
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)


def test_a_batch_that_does_not_split_is_refused(batch):
    inputs, targets = batch
    with pytest.raises(ValueError, match="split evenly"):
        ddp.distributed_gradients(MODEL, inputs[:10], targets[:10], world_size=4)
