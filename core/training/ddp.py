"""Data-parallel training: ring all-reduce, gradient buckets, and K real gloo processes.

Li et al. 2020 (PyTorch Distributed: buckets, overlap); Patarasuk & Yuan 2009 (ring all-reduce);
Sergeev & Del Balso 2018 (Horovod); Li et al. 2014 (parameter server); Goyal et al. 2017.

The pure part (no processes) simulates N ranks: `ring_all_reduce` follows the schedule below chunk
by chunk, `bucket_assignment` is DDP's bucketing rule, `overlap_timeline` places each bucket's
all-reduce behind the backward pass. `distributed_gradients` starts K real worker processes
(forkserver, gloo on 127.0.0.1) and returns their averaged gradients.
"""

from __future__ import annotations

import functools
import io
import math
import multiprocessing
import os
import queue as queue_module
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.trace import Trace

# --- ring all-reduce, simulated ----------------------------------------------------------------------


def ring_all_reduce(tensors: Sequence[torch.Tensor], *, trace: Trace | None = None) -> list:
    """Each rank's tensor replaced by the elementwise sum over ranks, by the ring schedule.

    Patarasuk & Yuan 2009. tensors: N ≥ 1 of one shape and dtype (left unchanged) -> N new
    tensors, bit-identical across ranks. Each flattened tensor is cut by
    `torch.tensor_split(flat, N)`; reduce-scatter step s = 0…N−2: rank r sends chunk (r − s) mod N
    to (r + 1) mod N, which adds it; all-gather step s: rank r sends chunk (r + 1 − s) mod N to
    (r + 1) mod N, which copies it. `trace` gets a "transfer" event per message (phase, step,
    src, dst, chunk, numel) and a "state" event after each step (phase, step, buffers: N flat
    tensors, held: (N, numel) int64, how many ranks' contributions each element holds).
    """
    n = len(tensors)
    if n < 1:
        raise ValueError("tensors: at least one rank")
    shape, dtype = tensors[0].shape, tensors[0].dtype
    if any(t.shape != shape or t.dtype != dtype for t in tensors):
        raise ValueError("tensors: every rank needs one shape and dtype")
    chunks = [list(torch.tensor_split(t.detach().reshape(-1).clone(), n)) for t in tensors]
    held = [[torch.ones(c.numel(), dtype=torch.int64) for c in rank] for rank in chunks]

    def record_state(phase: str, step: int) -> None:
        if trace is not None:
            trace.record(
                "state",
                phase=phase,
                step=step,
                buffers=[torch.cat(rank) for rank in chunks],
                held=torch.stack([torch.cat(rank) for rank in held]),
            )

    record_state("start", -1)
    for phase in ("reduce_scatter", "all_gather"):
        for step in range(n - 1):
            offset = -step if phase == "reduce_scatter" else 1 - step
            # every rank sends at once: read all messages before any rank writes
            messages = []
            for src in range(n):
                c = (src + offset) % n
                messages.append(
                    (src, (src + 1) % n, c, chunks[src][c].clone(), held[src][c].clone())
                )
            for src, dst, c, payload, count in messages:
                if phase == "reduce_scatter":
                    chunks[dst][c] = chunks[dst][c] + payload
                    held[dst][c] = held[dst][c] + count
                else:
                    chunks[dst][c] = payload
                    held[dst][c] = count
                if trace is not None:
                    trace.record(
                        "transfer",
                        phase=phase,
                        step=step,
                        src=src,
                        dst=dst,
                        chunk=c,
                        numel=payload.numel(),
                    )
            record_state(phase, step)
    return [torch.cat(rank).reshape(shape) for rank in chunks]


def ring_bytes_per_rank(n_ranks: int, n_bytes: float) -> float:
    """Bytes each rank sends in a ring all-reduce of n_bytes: 2(N−1)/N · n_bytes."""
    if n_ranks < 1:
        raise ValueError("n_ranks: at least 1")
    return 2.0 * (n_ranks - 1) / n_ranks * float(n_bytes)


# --- the α–β cost model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommCost:
    """One all-reduce scheme: bytes the busiest node sends, and the time."""

    scheme: str
    busiest_sent_bytes: float
    time_s: float


def comm_costs(n_ranks: int, n_bytes: float, latency_s: float, bandwidth: float) -> list:
    """Ring, parameter server and reduce-to-rank-0 + broadcast under α (s per message) and β
    (bytes/s per link, full duplex).

    ring: 2(N−1) steps, each one message of S/N per rank: 2(N−1)(α + S/(Nβ)), each rank sends
    2(N−1)/N·S; parameter server: N pushes of S into its link, then N pulls out:
    2(α + N·S/β), the server sends N·S; reduce + broadcast: rank 0 receives N−1 tensors, then
    sends N−1: 2(N−1)(α + S/β), rank 0 sends (N−1)·S.
    """
    n, s = n_ranks, float(n_bytes)
    if n == 1:
        return [CommCost(name, 0.0, 0.0) for name in ("ring", "server", "reduce_broadcast")]
    return [
        CommCost(
            "ring", ring_bytes_per_rank(n, s), 2 * (n - 1) * (latency_s + s / (n * bandwidth))
        ),
        CommCost("server", n * s, 2 * (latency_s + n * s / bandwidth)),
        CommCost("reduce_broadcast", (n - 1) * s, 2 * (n - 1) * (latency_s + s / bandwidth)),
    ]


# --- DDP's buckets and their overlap with backward ------------------------------------------------------


def bucket_assignment(
    param_bytes: Sequence[int], bucket_cap_bytes: int, first_bucket_cap_bytes: int | None = None
) -> list[list[int]]:
    """Indices of `param_bytes` grouped into buckets, in the order gradients become ready.

    Li et al. 2020, §3.2.3. Each gradient joins the open bucket, which closes once its total
    reaches its cap (the first bucket's is `first_bucket_cap_bytes` when given); the last may stay
    under. For one dtype this is torch's `_compute_bucket_assignment_by_size`."""
    buckets: list[list[int]] = []
    current: list[int] = []
    total = 0
    cap = bucket_cap_bytes if first_bucket_cap_bytes is None else first_bucket_cap_bytes
    for index, size in enumerate(param_bytes):
        current.append(index)
        total += size
        if total >= cap:
            buckets.append(current)
            current, total, cap = [], 0, bucket_cap_bytes
    if current:
        buckets.append(current)
    return buckets


@dataclass(frozen=True)
class Timeline:
    """Backward (compute lane) and bucket all-reduces (network lane), in seconds."""

    backward: list  # (layer index, start, end), last layer first
    buckets: list  # (layer indices, bytes, start, end)
    total_s: float
    no_overlap_s: float  # backward, then the same all-reduces one after another


def overlap_timeline(
    layer_backward_s: Sequence[float],
    layer_bytes: Sequence[int],
    *,
    n_ranks: int,
    bucket_cap_bytes: int,
    first_bucket_cap_bytes: int | None = None,
    latency_s: float,
    bandwidth: float,
) -> Timeline:
    """Each layer's backward interval (last layer first) and each bucket's ring all-reduce.

    A bucket's all-reduce starts once its last gradient is ready and the previous bucket's
    all-reduce is done (one communication stream, as in DDP); its duration is the ring's α–β
    time for the bucket's bytes."""
    order = list(range(len(layer_backward_s)))[::-1]  # gradients become ready from the top
    backward, now, ready = [], 0.0, {}
    for layer in order:
        start, now = now, now + layer_backward_s[layer]
        backward.append((layer, start, now))
        ready[layer] = now
    ready_bytes = [layer_bytes[layer] for layer in order]
    buckets, free = [], 0.0
    for members in bucket_assignment(ready_bytes, bucket_cap_bytes, first_bucket_cap_bytes):
        layers = [order[i] for i in members]
        size = sum(layer_bytes[layer] for layer in layers)
        cost = comm_costs(n_ranks, size, latency_s, bandwidth)[0].time_s
        start = max(max(ready[layer] for layer in layers), free)
        free = start + cost
        buckets.append((layers, size, start, free))
    total = max(now, free)
    no_overlap = now + sum(end - start for _, _, start, end in buckets)
    return Timeline(backward, buckets, total, no_overlap)


# --- K real processes -------------------------------------------------------------------------------

MAX_WORLD = 4
PRELOAD = ["torch", "torch.distributed", "torch.nn.parallel", "torch._dynamo", "core.training.ddp"]
_RUN_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def mlp(width: int, depth: int, n_in: int = 8, n_out: int = 1, dtype: str = "float64") -> nn.Module:
    """A plain MLP (Linear, Tanh)×depth then Linear: a picklable `model_fn` via functools.partial."""
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.Tanh()]
        size = width
    layers.append(nn.Linear(size, n_out))
    return nn.Sequential(*layers).to(getattr(torch, dtype))


def _context() -> Any:
    """The forkserver context, its server preloaded with torch (started by the first run)."""
    if "context" not in _STATE:
        if "forkserver" not in multiprocessing.get_all_start_methods():
            raise RuntimeError("this platform has no forkserver start method")
        if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
            raise RuntimeError("this torch build has no gloo backend")
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _STATE["context"] = context
    return _STATE["context"]


def _to_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _from_bytes(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), weights_only=True)


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: (torch.zeros_like(p) if p.grad is None else p.grad.detach().clone())
        for name, p in model.named_parameters()
    }


def _socket_addresses() -> list[str]:
    """Local IPv4/IPv6 addresses of this process's TCP sockets (Linux /proc; [] elsewhere)."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                link = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        found = []
        for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
            if not os.path.exists(table):
                continue
            with open(table) as handle:
                for line in handle.readlines()[1:]:
                    fields = line.split()
                    if fields[9] in inodes:
                        found.append(_address(fields[1].split(":")[0], width))
        return found
    except OSError:
        return []


def _address(hex_ip: str, width: int) -> str:
    raw = bytes.fromhex(hex_ip)
    if width == 8:  # little-endian IPv4
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    packed = b"".join(words)
    if packed[:12] == b"\x00" * 10 + b"\xff\xff":  # IPv4-mapped
        return ".".join(str(b) for b in packed[12:])
    return ":".join(packed[i : i + 2].hex() for i in range(0, 16, 2))


def _ring_by_hand(flat: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """The module's ring schedule over point-to-point isend/recv (sum, in place on chunks)."""
    import torch.distributed as dist

    chunks = list(torch.tensor_split(flat, world))
    right, left = (rank + 1) % world, (rank - 1) % world
    for phase in ("reduce_scatter", "all_gather"):
        for step in range(world - 1):
            offset = -step if phase == "reduce_scatter" else 1 - step
            send_chunk = (rank + offset) % world
            recv_chunk = (left + offset) % world
            incoming = torch.empty_like(chunks[recv_chunk])
            request = dist.isend(chunks[send_chunk].contiguous(), right)
            dist.recv(incoming, left)
            request.wait()
            if phase == "reduce_scatter":
                chunks[recv_chunk] = chunks[recv_chunk] + incoming
            else:
                chunks[recv_chunk] = incoming
    return torch.cat(chunks)


def _worker(rank: int, world: int, port: int, job: dict, results: Any) -> None:
    """One rank: join the gloo group on 127.0.0.1, compute local and averaged gradients.

    `job` comes from the parent process (multiprocessing passes it), never from a request."""
    try:
        import torch.distributed as dist

        os.environ["GLOO_SOCKET_IFNAME"] = "lo"  # gloo binds to loopback, never the host name
        torch.set_num_threads(1)  # K workers share the cores: no oversubscription
        store = dist.TCPStore(
            "127.0.0.1",
            port,
            world + 1,
            is_master=False,
            timeout=timedelta(seconds=job["timeout_s"]),
        )
        dist.init_process_group(
            "gloo",
            store=store,
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=job["timeout_s"]),
        )
        torch.manual_seed(job["seed"])
        model = job["model_fn"]()
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor, 0)  # every rank starts from rank 0's values
        start_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        rows = job["inputs"].shape[0] // world
        x = job["inputs"][rank * rows : (rank + 1) * rows]
        y = job["targets"][rank * rows : (rank + 1) * rows]
        loss_fn = job["loss_fn"]

        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        local = _grads(model)
        buckets: list[dict] = []
        if job["mode"] == "ddp":
            averaged = _ddp_gradients(model, x, y, loss_fn, world, job, buckets)
        else:
            averaged = {}
            names = list(local)
            if job["mode"] == "all_reduce":
                for name in names:
                    tensor = local[name].clone()
                    dist.all_reduce(tensor)
                    averaged[name] = tensor / world
            else:
                flat = torch.cat([local[name].reshape(-1) for name in names])
                summed = _ring_by_hand(flat, rank, world) / world
                for name, piece in zip(
                    names, torch.split(summed, [local[n].numel() for n in names]), strict=True
                ):
                    averaged[name] = piece.reshape(local[name].shape).clone()
        dist.barrier()
        sockets = _socket_addresses()
        dist.destroy_process_group()
        result = {"averaged": averaged, "local": local, "state_dict": start_state}
        results.put((rank, _to_bytes(result), buckets, sockets, ""))
    except BaseException as error:  # the parent reports it in one line
        message = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        results.put((rank, b"", [], [], message))


def _ddp_gradients(model, x, y, loss_fn, world, job, buckets) -> dict:
    """Two DDP iterations; the comm hook logs each bucket and averages it with all_reduce."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    names = {id(p): n for n, p in model.named_parameters()}
    ddp = DistributedDataParallel(model, bucket_cap_mb=job["bucket_cap_mb"])
    iteration = {"value": 0}

    def hook(state, bucket):  # unannotated: DDP checks annotations against GradBucket
        tensor = bucket.buffer()
        buckets.append(
            {
                "iteration": iteration["value"],
                "index": bucket.index(),
                "parameters": [names[id(p)] for p in bucket.parameters()],
                "bytes": tensor.numel() * tensor.element_size(),
            }
        )
        tensor.div_(world)
        future = dist.all_reduce(tensor, async_op=True).get_future()
        return future.then(lambda done: done.value()[0])

    ddp.register_comm_hook(None, hook)
    for step in range(2):  # iteration 0: one bucket; iteration 1: rebuilt in gradient order
        iteration["value"] = step
        ddp.zero_grad(set_to_none=True)
        loss_fn(ddp(x), y).backward()
    return _grads(model)


def distributed_gradients(
    model_fn: Callable[[], nn.Module],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    world_size: int,
    loss_fn: Callable = F.mse_loss,
    mode: str = "ddp",
    seed: int = 0,
    timeout_s: float = 60.0,
    bucket_cap_mb: float = 25.0,
) -> dict:
    """Averaged gradients from `world_size` real gloo processes (one run at a time).

    Li et al. 2020. Rank r takes rows [r·B/K, (r+1)·B/K) of inputs/targets (B divisible by K).
    mode: "ddp" (DistributedDataParallel with a logging comm hook), "all_reduce" (each gradient
    summed by dist.all_reduce, ÷K) or "ring" (the ring schedule over isend/recv, ÷K).
    -> {"gradients": rank 0's averaged gradients by parameter name, "rank_gradients": K dicts,
        "local_gradients": K dicts (each shard alone), "state_dict": starting values,
        "pids": K worker pids, "buckets": rank 0's hook log (ddp), "sockets": local addresses
        of the workers' TCP sockets, "server_start_s", "run_s"}.
    RuntimeError (one line) if a worker fails or the run times out; its workers are ended.
    """
    if not 1 <= world_size <= MAX_WORLD:
        raise ValueError(f"world_size: 1..{MAX_WORLD}")
    if mode not in ("ddp", "all_reduce", "ring"):
        raise ValueError("mode: one of ddp, all_reduce, ring")
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] % world_size:
        raise ValueError(
            f"inputs: the batch ({inputs.shape[0]}) must split evenly over {world_size} ranks"
        )
    import torch.distributed as dist

    with _RUN_LOCK:
        started = time.perf_counter()
        context = _context()
        first = "server_started" not in _STATE
        job = {
            "model_fn": model_fn,
            "loss_fn": loss_fn,
            "inputs": inputs.detach().cpu(),
            "targets": targets.detach().cpu(),
            "mode": mode,
            "seed": seed,
            "timeout_s": timeout_s,
            "bucket_cap_mb": bucket_cap_mb,
        }
        store = dist.TCPStore(
            "127.0.0.1",
            0,
            world_size + 1,
            is_master=True,
            timeout=timedelta(seconds=timeout_s),
            wait_for_workers=False,
        )  # port 0: the OS picks a free port, held by this store for the whole run
        results = context.Queue()
        workers = [
            context.Process(
                target=_worker, args=(rank, world_size, store.port, job, results), daemon=True
            )
            for rank in range(world_size)
        ]
        try:
            for worker in workers:
                worker.start()
            _STATE["server_started"] = True
            server_s = time.perf_counter() - started if first else 0.0
            collected = {}
            deadline = time.monotonic() + timeout_s
            while len(collected) < world_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"distributed run timed out after {timeout_s:g} s")
                try:
                    rank, data, buckets, sockets, error = results.get(timeout=min(left, 0.5))
                except queue_module.Empty:
                    dead = [w for w in workers if w.exitcode not in (None, 0)]
                    if dead:
                        raise RuntimeError(
                            f"worker {workers.index(dead[0])} exited with code {dead[0].exitcode}"
                        ) from None
                    continue
                if error:
                    raise RuntimeError(f"rank {rank} failed: {error}")
                collected[rank] = (_from_bytes(data), buckets, sockets)
            for worker in workers:
                worker.join(timeout=5)
        finally:
            _STATE["last_pids"] = [w.pid for w in workers]  # for checks that none is left
            for worker in workers:
                if worker.is_alive():
                    worker.kill()  # by pid: only the workers this run started
                    worker.join(timeout=5)
            results.close()
            del store
        ranks = [collected[r][0] for r in range(world_size)]
        return {
            "gradients": ranks[0]["averaged"],
            "rank_gradients": [r["averaged"] for r in ranks],
            "local_gradients": [r["local"] for r in ranks],
            "state_dict": ranks[0]["state_dict"],
            "pids": [w.pid for w in workers],
            "buckets": collected[0][1],
            "sockets": sorted({a for r in range(world_size) for a in collected[r][2]}),
            "server_start_s": server_s,
            "run_s": time.perf_counter() - started,
        }


@functools.lru_cache(maxsize=32)
def cached_mlp_run(
    width: int, depth: int, batch_per_rank: int, world_size: int, mode: str, bucket_cap_mb: float
) -> dict:
    """A seeded MLP regression run, cached in-process by its parameters (the demo's real run),
    with the single-process reference on the full batch under "reference"."""
    generator = torch.Generator().manual_seed(0)
    batch = batch_per_rank * world_size
    inputs = torch.randn(batch, 8, generator=generator, dtype=torch.float64)
    targets = torch.randn(batch, 1, generator=generator, dtype=torch.float64)
    model_fn = functools.partial(mlp, width, depth)
    result = distributed_gradients(
        model_fn,
        inputs,
        targets,
        world_size=world_size,
        mode=mode,
        timeout_s=60.0,
        bucket_cap_mb=bucket_cap_mb,
    )
    torch.manual_seed(0)
    reference = model_fn()
    reference.load_state_dict(result["state_dict"])
    F.mse_loss(reference(inputs), targets).backward()
    result["reference"] = _grads(reference)
    result["param_bytes"] = [p.numel() * p.element_size() for p in reference.parameters()]
    result["param_names"] = [name for name, _ in reference.named_parameters()]
    return result


def fp_epsilon(dtype: torch.dtype = torch.float32) -> float:
    return float(torch.finfo(dtype).eps)


def log_range(low: float, high: float, n: int) -> list[float]:
    """n points evenly spaced on a log scale from low to high."""
    return [
        math.exp(math.log(low) + (math.log(high) - math.log(low)) * k / (n - 1)) for k in range(n)
    ]
