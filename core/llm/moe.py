"""A Mixture-of-Experts layer: top-k routing, expert capacity and drops, the Switch aux loss.

Shazeer et al. 2017 (sparsely-gated MoE); Lepikhin et al. 2020 (GShard: top-2, capacity);
Fedus et al. 2022 (Switch Transformer: top-1, capacity factor, the load-balancing loss
N·Σ_i f_i·P_i, eq. 4); Jiang et al. 2024 (Mixtral: top-2 of 8 SwiGLU experts, gates
renormalised over the chosen two); DeepSeek-AI 2024 (shared experts, fine-grained experts).
Also the total and active parameter counts of a model configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.trace import Trace

Experts = Sequence[Callable[[Tensor], Tensor]] | tuple[Tensor, Tensor, Tensor]


def route(
    logits: Tensor, k: int, capacity: int | None = None, renormalize: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """Top-k routing with an optional per-expert capacity.

    logits: (T, E) -> gates (T, k), expert_index (T, k) int64 (the k likeliest experts,
    descending, as torch.topk), dropped (T, k) bool. Probabilities are a softmax over all E;
    gates are the chosen probabilities, divided by their sum if `renormalize`. With a capacity,
    an expert takes at most that many assignments: every first choice is served before any
    second (GShard's priority), tokens in order within a rank; the rest are dropped (their gates
    are left as they are: the caller skips them).
    """
    if logits.dim() != 2:
        raise ValueError(f"logits: expected shape (T, E), got {tuple(logits.shape)}")
    n_tokens, n_experts = logits.shape
    if not 1 <= k <= n_experts:
        raise ValueError(f"k: expected 1..{n_experts} (the number of experts), got {k}")
    if capacity is not None and capacity < 0:
        raise ValueError(f"capacity: expected ≥ 0 or None, got {capacity}")
    probs = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
    top, expert_index = torch.topk(probs, k, dim=-1)
    gates = top / top.sum(dim=-1, keepdim=True) if renormalize else top
    gates = gates.to(logits.dtype)
    dropped = torch.zeros(n_tokens, k, dtype=torch.bool, device=logits.device)
    if capacity is not None:
        dropped = assignment_slots(expert_index, n_experts) > capacity
    return gates, expert_index, dropped


def assignment_slots(expert_index: Tensor, n_experts: int) -> Tensor:
    """(T, k) 1-based place of each assignment in its expert's queue, GShard's priority.

    All first choices come before any second choice, tokens in order within a rank; an
    assignment is dropped at capacity C when its slot exceeds C.
    """
    n_tokens, k = expert_index.shape
    order = expert_index.T.reshape(-1)  # rank-major: all first choices, then all second …
    one_hot = F.one_hot(order, n_experts)
    slot = (one_hot.cumsum(dim=0) * one_hot).sum(dim=-1)
    return slot.view(k, n_tokens).T


def load_balancing_loss(router_probs: Tensor, expert_index: Tensor, n_experts: int) -> Tensor:
    """Switch's auxiliary loss N·Σ_i f_i·P_i (Fedus et al. 2022, eq. 4), 0-d.

    router_probs: (T, E) softmax outputs; expert_index: (T, k) the choices, before capacity.
    f_i is the share of the T·k choices sent to expert i (not differentiable), P_i the mean
    probability of expert i (differentiable). Uniform routing gives 1.
    """
    counts = torch.bincount(expert_index.reshape(-1), minlength=n_experts)[:n_experts]
    f = counts.to(router_probs.dtype) / expert_index.numel()
    p = router_probs.mean(dim=0)
    return n_experts * (f * p).sum()


def swiglu_expert(w_gate: Tensor, w_up: Tensor, w_down: Tensor, x: Tensor) -> Tensor:
    """e(x) = (SiLU(x W_gateᵀ) ⊙ x W_upᵀ) W_downᵀ: x (n, d), w_gate, w_up (F, d), w_down (d, F)."""
    return (F.silu(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T


def _expert_fn(experts: Experts, e: int) -> Callable[[Tensor], Tensor]:
    if isinstance(experts, tuple) and len(experts) == 3 and isinstance(experts[0], Tensor):
        w_gate, w_up, w_down = experts
        return lambda x: swiglu_expert(w_gate[e], w_up[e], w_down[e], x)
    return experts[e]


def _n_experts(experts: Experts) -> int:
    if isinstance(experts, tuple) and len(experts) == 3 and isinstance(experts[0], Tensor):
        return experts[0].shape[0]
    return len(experts)


def moe_forward(
    x: Tensor,
    router_weight: Tensor,
    experts: Experts,
    k: int,
    capacity_factor: float | None = None,
    renormalize: bool = True,
    *,
    trace: Trace | None = None,
) -> Tensor:
    """A routed MoE layer: y_t = Σ gate·expert_e(x_t) over t's kept assignments.

    x: (T, d), router_weight: (E, d), logits x Wᵀ; capacity ⌈capacity_factor·k·T/E⌉ when a
    factor is given. experts: E callables (n, d) -> (n, d), or tensors (w_gate, w_up, w_down) of
    shapes (E, F, d), (E, F, d), (E, d, F) for SwiGLU experts. Tokens reach an expert by gather
    and come back by `index_add`; a dropped assignment adds nothing (the residual carries the
    token in a Transformer). Differentiable in the router weight through the gates.
    Trace: "routing" (probs, expert_index, gates, dropped, capacity), "load" (chosen, kept per
    expert), "aux_loss".
    """
    if x.dim() != 2:
        raise ValueError(f"x: expected shape (T, d), got {tuple(x.shape)}")
    n_experts = _n_experts(experts)
    if router_weight.shape != (n_experts, x.shape[1]):
        raise ValueError(
            f"router_weight: expected ({n_experts}, {x.shape[1]}), got {tuple(router_weight.shape)}"
        )
    if capacity_factor is not None and capacity_factor < 0:
        raise ValueError(f"capacity_factor: expected ≥ 0 or None, got {capacity_factor}")
    n_tokens = x.shape[0]
    logits = x @ router_weight.T
    capacity = None
    if capacity_factor is not None:
        capacity = math.ceil(capacity_factor * k * n_tokens / n_experts)
    gates, expert_index, dropped = route(logits, k, capacity, renormalize)
    y = torch.zeros_like(x)
    kept = ~dropped
    for e in range(n_experts):
        token, rank = torch.nonzero((expert_index == e) & kept, as_tuple=True)
        if token.numel() == 0:
            continue
        out = _expert_fn(experts, e)(x[token])  # gather
        y = y.index_add(0, token, gates[token, rank, None].to(out.dtype) * out)
    if trace is not None:
        probs = torch.softmax(logits.float() if logits.dtype != torch.float64 else logits, -1)
        trace.record(
            "routing",
            probs=probs,
            expert_index=expert_index,
            gates=gates,
            dropped=dropped,
            capacity=capacity,
        )
        chosen = torch.bincount(expert_index.reshape(-1), minlength=n_experts)
        kept_count = torch.bincount(expert_index[kept], minlength=n_experts)
        trace.record("load", chosen=chosen, kept=kept_count)
        aux = load_balancing_loss(probs.detach(), expert_index, n_experts)
        trace.record("aux_loss", float(aux))
    return y


def dense_mixture(
    x: Tensor,
    router_weight: Tensor,
    experts: Experts,
    k: int,
    capacity_factor: float | None = None,
    renormalize: bool = True,
) -> Tensor:
    """The same mixture computed densely: every expert on every token, weighted by a (T, E) mask.

    The reference for `moe_forward` (Shazeer et al. 2017, eq. 1 with the sparse gate).
    """
    n_experts = _n_experts(experts)
    logits = x @ router_weight.T
    capacity = None
    if capacity_factor is not None:
        capacity = math.ceil(capacity_factor * k * x.shape[0] / n_experts)
    gates, expert_index, dropped = route(logits, k, capacity, renormalize)
    weights = torch.zeros(x.shape[0], n_experts, dtype=x.dtype)
    weights = weights.scatter_add(1, expert_index, torch.where(dropped, 0, gates).to(x.dtype))
    outputs = torch.stack([_expert_fn(experts, e)(x) for e in range(n_experts)], dim=1)
    return (weights[..., None] * outputs).sum(dim=1)


# --- parameter counts ----------------------------------------------------------------------


@dataclass(frozen=True)
class MoEConfig:
    """A decoder-only MoE model's sizes (SwiGLU FFNs, untied embeddings, RMSNorm)."""

    vocab: int
    d_model: int
    n_layers: int
    n_experts: int
    top_k: int
    expert_ffn: int
    n_shared: int = 0
    n_dense_layers: int = 0  # the first layers keep a dense FFN
    dense_ffn: int = 0
    n_heads: int = 0
    n_kv_heads: int = 0
    head_dim: int = 0
    # MLA (DeepSeek-V2/V3) when kv_rank > 0
    q_rank: int = 0
    kv_rank: int = 0
    nope_dim: int = 0
    rope_dim: int = 0
    v_dim: int = 0


def attention_parameters(c: MoEConfig) -> int:
    """One layer's attention weights: GQA projections, or MLA's (with its two latent norms)."""
    d = c.d_model
    if c.kv_rank:
        q_dim = c.n_heads * (c.nope_dim + c.rope_dim)
        q = d * q_dim if not c.q_rank else d * c.q_rank + c.q_rank + c.q_rank * q_dim
        kv = (
            d * (c.kv_rank + c.rope_dim)
            + c.kv_rank
            + c.kv_rank * c.n_heads * (c.nope_dim + c.v_dim)
        )
        return q + kv + c.n_heads * c.v_dim * d
    return d * c.head_dim * (2 * c.n_heads + 2 * c.n_kv_heads)


def parameter_counts(c: MoEConfig) -> dict[str, int]:
    """Parameters by part, with "total" and "active" (one token: top-k + shared experts).

    Parts: embeddings (input and output, untied), attention, dense_ffn, router, shared_experts,
    active_experts (top-k routed, all MoE layers), idle_experts (the rest), norms.
    """
    expert = 3 * c.d_model * c.expert_ffn
    moe_layers = c.n_layers - c.n_dense_layers
    parts = {
        "embeddings": 2 * c.vocab * c.d_model,
        "attention": c.n_layers * attention_parameters(c),
        "dense_ffn": c.n_dense_layers * 3 * c.d_model * c.dense_ffn,
        "router": moe_layers * c.n_experts * c.d_model,
        "shared_experts": moe_layers * c.n_shared * expert,
        "active_experts": moe_layers * c.top_k * expert,
        "idle_experts": moe_layers * (c.n_experts - c.top_k) * expert,
        "norms": (2 * c.n_layers + 1) * c.d_model,
    }
    parts["total"] = sum(parts.values())
    parts["active"] = parts["total"] - parts["idle_experts"]
    return parts


MIXTRAL_8X7B = MoEConfig(
    vocab=32000, d_model=4096, n_layers=32, n_experts=8, top_k=2, expert_ffn=14336,
    n_heads=32, n_kv_heads=8, head_dim=128,
)  # fmt: skip
DEEPSEEK_V3 = MoEConfig(
    vocab=129280, d_model=7168, n_layers=61, n_experts=256, top_k=8, expert_ffn=2048,
    n_shared=1, n_dense_layers=3, dense_ffn=18432, n_heads=128, q_rank=1536, kv_rank=512,
    nope_dim=128, rope_dim=64, v_dim=128,
)  # fmt: skip


# --- a tiny trainer ------------------------------------------------------------------------


def clustered_task(
    n_tokens: int, n_clusters: int, d: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Tokens around n_clusters centres, each cluster with its own linear target map.

    Returns x (T, d), targets (T, d) = A_c x + b_c, cluster (T,) int64.
    """
    centres = torch.randn(n_clusters, d, generator=generator) * 2.0
    cluster = torch.randint(0, n_clusters, (n_tokens,), generator=generator)
    x = centres[cluster] + 0.5 * torch.randn(n_tokens, d, generator=generator)
    maps = torch.randn(n_clusters, d, d, generator=generator) / math.sqrt(d)
    shifts = torch.randn(n_clusters, d, generator=generator)
    targets = torch.einsum("tij,tj->ti", maps[cluster], x) + shifts[cluster]
    return x, targets, cluster


def _top_k(probs: np.ndarray, k: int) -> np.ndarray:
    """(k, T) indices of the k largest of each column of probs (E, T), descending (torch.topk)."""
    if k == 1:
        return probs.argmax(axis=0)[None]
    top = torch.topk(torch.from_numpy(np.ascontiguousarray(probs.T)), k, dim=1).indices
    return np.ascontiguousarray(top.numpy().T)


def moe_step(
    weights: dict[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    k: int,
    capacity: int | None,
    aux_weight: float,
    renormalize: bool,
    workspace: dict[str, np.ndarray] | None = None,
) -> tuple[float, float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Loss and gradients of MSE(moe(x), targets) + aux_weight·N·Σ f_i·P_i, written out in NumPy.

    weights: router (E, d), w_gate_up (E, 2F, d) = [w_gate; w_up], w_down (E, d, F); x, targets
    (T, d). The routing and capacity of `route`, the layer of `moe_forward`: assignments
    (rank-major, so first choices come first) are sorted by expert, the kept ones run through
    their expert as one matrix product per expert, and the backward pass retraces the same
    products. Activations are kept feature-major, (features, assignments), so every elementwise
    step reads contiguous rows. tests/core/test_moe.py checks every gradient against torch
    autograd on `dense_mixture`. Returns task loss, aux loss, gradients (keys and shapes of
    weights), the load (E,) share of the T·k choices and the (T, k) dropped mask. `workspace`: a
    dict that keeps scratch arrays from one call to the next.
    """
    router, w_gate_up, w_down = weights["router"], weights["w_gate_up"], weights["w_down"]
    n_tokens, n_experts = x.shape[0], router.shape[0]
    ffn = w_down.shape[2]
    x_t = np.ascontiguousarray(x.T)
    logits = router @ x_t  # (E, T)
    logits -= logits.max(axis=0)
    probs = np.exp(logits)
    probs /= probs.sum(axis=0)
    expert_index = _top_k(probs, k)  # (k, T)
    top = np.take_along_axis(probs, expert_index, axis=0)
    total = top.sum(axis=0)
    gates = top / total if renormalize else top
    # assignment a = rank·T + token; a stable sort by expert keeps first choices first
    expert_of = expert_index.reshape(-1).astype(np.int16)
    order = np.argsort(expert_of, kind="stable")
    counts = np.bincount(expert_of, minlength=n_experts)
    served = counts if capacity is None else np.minimum(counts, capacity)
    chosen = order
    if capacity is not None:
        slot = np.arange(order.size) - np.repeat(np.cumsum(counts) - counts, counts)
        chosen = order[slot < served[expert_of[order]]]
    token = chosen % n_tokens
    ends = np.cumsum(served)
    groups = [(e, int(ends[e] - served[e]), int(ends[e])) for e in np.flatnonzero(served)]
    n_chosen, d = chosen.size, x.shape[1]
    if workspace is None:
        workspace = {}

    def buffer(name: str, rows: int) -> np.ndarray:
        """A (rows, n_chosen) array reused across steps (fresh ~100 KB arrays cost page faults)."""
        flat = workspace.get(name)
        if flat is None or flat.size < rows * n_chosen or flat.dtype != x.dtype:
            flat = workspace[name] = np.empty(rows * k * n_tokens, dtype=x.dtype)
        return flat[: rows * n_chosen].reshape(rows, n_chosen)

    xs = np.take(x_t, token, axis=1, out=buffer("xs", d))  # gathered inputs
    hidden = buffer("hidden", 2 * ffn)
    for e, a, b in groups:
        np.matmul(w_gate_up[e], xs[:, a:b], out=hidden[:, a:b])
    g, u = hidden[:ffn], hidden[ffn:]
    sig = np.negative(g, out=buffer("sig", ffn))
    np.exp(sig, out=sig)
    sig += 1.0
    np.reciprocal(sig, out=sig)  # σ(g)
    act = np.multiply(g, sig, out=buffer("act", ffn))  # SiLU(g)
    z = np.multiply(act, u, out=buffer("z", ffn))
    out = buffer("out", d)
    for e, a, b in groups:
        np.matmul(w_down[e], z[:, a:b], out=out[:, a:b])
    gate = gates.reshape(-1)[chosen]
    weighted = np.zeros((d, k * n_tokens), dtype=x.dtype)
    weighted[:, chosen] = np.multiply(out, gate, out=buffer("scratch", d))
    residual = weighted.reshape(d, k, n_tokens).sum(axis=1) - targets.T
    task = float(np.mean(residual**2))
    f = counts / (n_tokens * k)
    aux = float(n_experts * np.dot(f, probs.mean(axis=1)))
    # backward
    d_weighted = np.take(residual, token, axis=1, out=buffer("d_weighted", d))
    d_weighted *= 2.0 / residual.size
    d_gate = np.einsum("da,da->a", d_weighted, out)
    d_out = np.multiply(d_weighted, gate, out=buffer("scratch", d))
    d_z = buffer("d_z", ffn)
    d_w_down = np.zeros_like(w_down)
    for e, a, b in groups:
        np.matmul(d_out[:, a:b], z[:, a:b].T, out=d_w_down[e])
        np.matmul(w_down[e].T, d_out[:, a:b], out=d_z[:, a:b])
    d_hidden = buffer("d_hidden", 2 * ffn)
    np.multiply(d_z, act, out=d_hidden[ffn:])
    d_g = np.subtract(1.0, sig, out=d_hidden[:ffn])  # SiLU'(g) = σ + SiLU·(1 − σ)
    d_g *= act
    d_g += sig
    d_g *= u
    d_g *= d_z
    d_w_gate_up = np.zeros_like(w_gate_up)
    for e, a, b in groups:
        np.matmul(d_hidden[:, a:b], xs[:, a:b].T, out=d_w_gate_up[e])
    d_gates = np.zeros(k * n_tokens, dtype=x.dtype)
    d_gates[chosen] = d_gate
    d_gates = d_gates.reshape(k, n_tokens)
    # gates = top / Σ top when renormalised
    d_top = (d_gates - (d_gates * gates).sum(axis=0)) / total if renormalize else d_gates
    d_probs = np.zeros_like(probs)
    np.put_along_axis(d_probs, expert_index, d_top, axis=0)
    d_probs += (aux_weight * n_experts / n_tokens) * f[:, None].astype(x.dtype)  # ∂aux/∂P_i
    d_logits = probs * (d_probs - (d_probs * probs).sum(axis=0))
    grads = {"router": d_logits @ x, "w_gate_up": d_w_gate_up, "w_down": d_w_down}
    dropped = np.ones(k * n_tokens, dtype=bool)
    dropped[chosen] = False
    return task, aux, grads, f, dropped.reshape(k, n_tokens).T


def train_moe(
    n_tokens: int = 512,
    n_experts: int = 8,
    k: int = 2,
    aux_weight: float = 0.01,
    steps: int = 200,
    capacity_factor: float | None = None,
    *,
    d: int = 8,
    ffn: int = 16,
    lr: float = 1e-2,
    router_scale: float = 0.1,
    seed: int = 0,
    trace: Trace | None = None,
) -> dict[str, Tensor]:
    """Fit an MoE layer to `clustered_task` with Adam: task MSE + aux_weight·Switch loss.

    Fedus et al. 2022 use aux_weight = 0.01. Gates are renormalised for k > 1 and raw for k = 1
    (Switch), so the router learns from the task. Steps run `moe_step` in float32 (NumPy, one
    matrix product per expert) and Adam (Kingma & Ba 2015, torch's defaults). Trace, per step:
    "step" (task_loss, aux_loss, load: (E,) share of the T·k choices, dropped: share of
    assignments over capacity). Returns the trained router (E, d), experts (w_gate, w_up,
    w_down) as float32 tensors in `moe_forward`'s shapes, and the task (x, targets, cluster).
    """
    generator = torch.Generator().manual_seed(seed)
    x, targets, cluster = clustered_task(n_tokens, n_experts, d, generator)
    router = router_scale * torch.randn(n_experts, d, generator=generator)
    w_gate, w_up, w_down = (
        torch.randn(n_experts, *shape, generator=generator) / math.sqrt(shape[1])
        for shape in ((ffn, d), (ffn, d), (d, ffn))
    )
    weights = {
        "router": router.numpy(),
        "w_gate_up": torch.cat([w_gate, w_up], dim=1).numpy(),
        "w_down": w_down.numpy(),
    }
    x_np, targets_np = x.numpy(), targets.numpy()
    capacity = None
    if capacity_factor is not None:
        capacity = math.ceil(capacity_factor * k * n_tokens / n_experts)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    moments = {key: (np.zeros_like(w), np.zeros_like(w)) for key, w in weights.items()}
    workspace: dict[str, np.ndarray] = {}
    for step in range(1, steps + 1):
        task, aux, grads, load, dropped = moe_step(
            weights, x_np, targets_np, k, capacity, aux_weight, k > 1, workspace
        )
        for key, w in weights.items():
            m, v = moments[key]
            m *= beta1
            m += (1 - beta1) * grads[key]
            v *= beta2
            v += (1 - beta2) * grads[key] ** 2
            m_hat = m / (1 - beta1**step)
            w -= lr * m_hat / (np.sqrt(v / (1 - beta2**step)) + eps)
        if trace is not None:
            trace.record(
                "step", task_loss=task, aux_loss=aux, load=load, dropped=float(dropped.mean())
            )
    w_gate_up = torch.from_numpy(weights["w_gate_up"])
    return {
        "router": torch.from_numpy(weights["router"]),
        "experts": (w_gate_up[:, :ffn], w_gate_up[:, ffn:], torch.from_numpy(weights["w_down"])),
        "x": x,
        "targets": targets,
        "cluster": cluster,
    }
