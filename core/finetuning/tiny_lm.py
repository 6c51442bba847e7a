"""A tiny pre-norm causal transformer (2 layers, d = 48, 4 heads) on `prefix_attention`, its
digit tasks, and the prompt methods fine-tuned on it (the frozen model's weights never change).

Pretraining sequences: a random run of filler tokens, a task token, 4 digits, "=", the answer.
The fillers put every example at a varying position, so virtual tokens prepended later stay in
distribution. Tasks: copy, reverse, sort, add one (to each digit, mod 10); fine-tuning drops the
task token (the prompt must take its place) or asks for a new, composite skill.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.finetuning.prompt_tuning import _attend
from core.trace import Trace

DIGITS = [str(i) for i in range(10)]
TASKS = ("copy", "reverse", "sort", "add one")
FILLERS = (".", ",", "_")
VOCAB = (*DIGITS, *(f"<{t}>" for t in TASKS), "=", *FILLERS)
TOKEN = {name: i for i, name in enumerate(VOCAB)}
N_DIGITS, MAX_FILLERS = 4, 16
D_MODEL, N_HEADS, N_LAYERS, D_FFN = 48, 4, 2, 96
MAX_LEN = MAX_FILLERS + 1 + 2 * N_DIGITS + 1
FINE_TUNE_TASKS = (*TASKS, "reverse + add one")
TUNE_METHODS = ("prompt", "p-tuning-mlp", "p-tuning-lstm", "prefix", "deep-prompt", "full")


def answer(task: str, digits: torch.Tensor) -> torch.Tensor:
    """The answer digits of a task. digits: (B, 4) ints 0..9 -> (B, 4)."""
    if task == "copy":
        return digits
    if task == "reverse":
        return digits.flip(1)
    if task == "sort":
        return digits.sort(dim=1).values
    if task == "add one":
        return (digits + 1) % 10
    if task == "reverse + add one":
        return (digits.flip(1) + 1) % 10
    raise ValueError(f"task: unknown {task!r} (allowed: {', '.join(FINE_TUNE_TASKS)})")


def pretraining_batch(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens (B, MAX_LEN), loss mask (B, MAX_LEN)): fillers, task, digits, =, answer, padded
    with fillers at the end (masked out). The mask marks the positions that predict the answer."""
    n_fill = torch.randint(0, MAX_FILLERS + 1, (batch,), generator=generator)
    tokens = torch.randint(0, len(FILLERS), (batch, MAX_LEN), generator=generator) + TOKEN["."]
    task = torch.randint(0, len(TASKS), (batch,), generator=generator)
    digits = torch.randint(0, 10, (batch, N_DIGITS), generator=generator)
    answers = torch.stack([answer(name, digits) for name in TASKS])[task, torch.arange(batch)]
    task_tokens = torch.tensor([TOKEN[f"<{name}>"] for name in TASKS])[task]
    body = torch.cat(
        [task_tokens[:, None], digits, torch.full((batch, 1), TOKEN["="]), answers], dim=1
    )
    rows = torch.arange(batch)[:, None]
    columns = n_fill[:, None] + torch.arange(body.shape[1])[None, :]
    tokens[rows, columns] = body
    targets_mask = torch.zeros(batch, MAX_LEN, dtype=torch.bool)
    # position p predicts token p + 1: the answer is predicted from "=" and the digits after it
    targets_mask[rows, n_fill[:, None] + 1 + N_DIGITS + torch.arange(N_DIGITS)[None, :]] = True
    return tokens, targets_mask


def init_weights(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)

    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=generator) * std

    w = {"embed": normal(len(VOCAB), D_MODEL), "position": normal(MAX_LEN + 16, D_MODEL)}
    for layer in range(N_LAYERS):
        w[f"{layer}.ln1"] = torch.ones(D_MODEL)
        w[f"{layer}.qkv"] = normal(3 * D_MODEL, D_MODEL)
        w[f"{layer}.out"] = normal(D_MODEL, D_MODEL, std=0.02 / math.sqrt(2 * N_LAYERS))
        w[f"{layer}.ln2"] = torch.ones(D_MODEL)
        w[f"{layer}.up"] = normal(D_FFN, D_MODEL)
        w[f"{layer}.down"] = normal(D_MODEL, D_FFN, std=0.02 / math.sqrt(2 * N_LAYERS))
    w["ln_f"] = torch.ones(D_MODEL)
    return w


def forward(
    w: dict[str, torch.Tensor],
    embeddings: torch.Tensor,
    prefixes: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    trace: Trace | None = None,
    last: int | None = None,
    start: int = 0,
    keys_values: list | None = None,
) -> torch.Tensor:
    """Logits (B, T, V) of input embeddings (B, T, d) (positions added here); `prefixes`: per layer
    (prefix_k, prefix_v), each (H, P, d_head) or (B, H, P, d_head). Head tied to the embedding.
    `last`: only the last positions' logits (B, last, V); the final layer then computes queries
    and the MLP for those alone (what the loss reads), keys and values for all. `start`: the
    position of the first embedding (a cached prefix of `start` tokens before it).
    `keys_values`: a list that receives each layer's (k, v), (B, H, T, d_head), with their graph.
    With `trace`: an "attention" event per layer (weights (B, H, T, P + T), q, k, v, prefixes)."""
    batch, length, _ = embeddings.shape
    x = embeddings + w["position"][start : start + length]
    head_dim = D_MODEL // N_HEADS
    for layer in range(N_LAYERS):
        h = F.layer_norm(x, (D_MODEL,), w[f"{layer}.ln1"])
        q, k, v = (
            F.linear(h, w[f"{layer}.qkv"])
            .view(batch, length, 3, N_HEADS, head_dim)
            .permute(2, 0, 3, 1, 4)
        )
        if keys_values is not None:
            keys_values.append((k, v))
        if last is not None and layer == N_LAYERS - 1:
            q, x = q[:, :, -last:], x[:, -last:]
        if prefixes is None:
            empty = q.new_zeros(N_HEADS, 0, head_dim)
            prefix_k, prefix_v = empty, empty
        else:
            prefix_k, prefix_v = prefixes[layer]
        attended, weights = _attend(q, k, v, prefix_k, prefix_v, causal=True)
        if trace is not None:
            trace.record(
                "attention", layer=layer, weights=weights, q=q, k=k, v=v,
                prefix_k=prefix_k, prefix_v=prefix_v,
            )  # fmt: skip
        x = x + F.linear(
            attended.transpose(1, 2).reshape(batch, q.shape[2], D_MODEL), w[f"{layer}.out"]
        )
        h = F.layer_norm(x, (D_MODEL,), w[f"{layer}.ln2"])
        x = x + F.linear(F.gelu(F.linear(h, w[f"{layer}.up"])), w[f"{layer}.down"])
    return F.linear(F.layer_norm(x, (D_MODEL,), w["ln_f"]), w["embed"])


def pretrain(steps: int = 3000, batch: int = 64, lr: float = 3e-3, seed: int = 0) -> dict[str, Any]:
    """Train the tiny LM from scratch (AdamW, cosine decay); deterministic for a seed and one
    thread. Returns {"weights", "losses", "accuracy" per task (exact match, fresh examples)}."""
    torch.manual_seed(seed)
    w = {name: t.requires_grad_() for name, t in init_weights(seed).items()}
    optimizer = torch.optim.AdamW(w.values(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    generator = torch.Generator().manual_seed(seed + 1)
    losses = []
    for _ in range(steps):
        tokens, mask = pretraining_batch(batch, generator)
        logits = forward(w, w["embed"][tokens[:, :-1]])
        loss = F.cross_entropy(logits[mask[:, :-1]], tokens[:, 1:][mask[:, :-1]])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    weights = {name: t.detach() for name, t in w.items()}
    accuracy = {task: exact_match_with_task_token(weights, task) for task in TASKS}
    return {"weights": weights, "losses": np.asarray(losses), "accuracy": accuracy}


def exact_match_with_task_token(w: dict[str, torch.Tensor], task: str, n: int = 256) -> float:
    """Share of fresh examples whose whole answer the model gets right, fillers then the task."""
    generator = torch.Generator().manual_seed(12345)
    digits = torch.randint(0, 10, (n, N_DIGITS), generator=generator)
    tokens = torch.cat(
        [
            torch.full((n, 3), TOKEN["."]),
            torch.full((n, 1), TOKEN[f"<{task}>"]),
            digits,
            torch.full((n, 1), TOKEN["="]),
            answer(task, digits),
        ],
        dim=1,
    )
    with torch.no_grad():
        logits = forward(w, w["embed"][tokens[:, :-1]])
    # position p predicts token p + 1: the last N_DIGITS logits predict the answer
    predicted = logits[:, -N_DIGITS:].argmax(-1)
    return float((predicted == tokens[:, -N_DIGITS:]).all(1).float().mean())


# --- fine-tuning the frozen model with prompt methods -------------------------------------------

INPUT_METHODS = ("prompt", "p-tuning-mlp", "p-tuning-lstm")
KV_METHODS = ("prefix", "deep-prompt")


def load_weights(path) -> dict[str, torch.Tensor]:
    """The pretrained weights written by `python -m core.finetuning.train_tiny_lm`."""
    with np.load(path, allow_pickle=False) as data:
        return {name: torch.from_numpy(data[name].copy()) for name in data.files}


def task_examples(task: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 9) tokens: 4 digits, "=", the answer. No task token: the method must supply it."""
    digits = torch.randint(0, 10, (n, N_DIGITS), generator=generator)
    return torch.cat([digits, torch.full((n, 1), TOKEN["="]), answer(task, digits)], dim=1)


def _group_logits(
    w: dict[str, torch.Tensor],
    kind: str,
    outputs: list[Any],
    body: torch.Tensor,
    n_virtual: int,
    trace: Trace | None = None,
) -> torch.Tensor:
    """Answer logits (k, B, 4, V) of k methods on the same examples `body` (B, 9), run as one
    batch of k·B sequences: n virtual positions, then digits, "=", answer[:-1] at n, n + 1, ...

    "input": outputs are virtual-token blocks (n, d) prepended to the input. "kv": outputs are
    lists of per-layer (prefix_k, prefix_v), (H, n, d_head), that stand in for the keys and values
    of the n virtual positions. "full": n fillers "." instead (outputs ignored). Untraced, input
    blocks are run once each and handed on as key/value prefixes (causal: the virtual tokens see
    only themselves), so both kinds share one batch; traced, input blocks are concatenated to
    the sequence, so the attention maps have every row.
    """
    batch, n = body.shape[0], n_virtual
    tokens = body[:, :-1]
    if kind == "full":
        tokens = torch.cat([torch.full((batch, n), TOKEN["."]), tokens], dim=1)
        logits = forward(w, w["embed"][tokens], trace=trace, last=None if trace else N_DIGITS)
        return logits[None, :, -N_DIGITS:]
    k = len(outputs)
    if kind == "input" and trace is not None:
        virtual = torch.stack(outputs)  # (k, n, d)
        embeddings = torch.cat(
            [
                virtual[:, None].expand(k, batch, n, D_MODEL),
                w["embed"][tokens].expand(k, batch, -1, D_MODEL),
            ],
            dim=2,
        ).reshape(k * batch, n + tokens.shape[1], D_MODEL)
        logits = forward(w, embeddings, trace=trace)
        return logits[:, -N_DIGITS:].reshape(k, batch, N_DIGITS, len(VOCAB))
    blocks = [out for out in outputs if isinstance(out, torch.Tensor)]
    computed = []
    if blocks:  # the input blocks' keys and values, one short run for all of them
        forward(w, torch.stack(blocks), last=1, keys_values=computed)
    prefixes, i = [[] for _ in range(N_LAYERS)], 0
    for out in outputs:
        for layer in range(N_LAYERS):
            if isinstance(out, torch.Tensor):
                pair = (computed[layer][0][i], computed[layer][1][i])
            else:
                pair = out[layer]
            prefixes[layer].append(pair)
        i += isinstance(out, torch.Tensor)
    prefixes = [
        tuple(torch.stack([pair[j] for pair in layer]).repeat_interleave(batch, 0) for j in (0, 1))
        for layer in prefixes
    ]  # per layer (k·B, H, n, d_head)
    embeddings = w["embed"][tokens].repeat(k, 1, 1)
    last = None if trace is not None else N_DIGITS  # traced: every row of the attention maps
    logits = forward(w, embeddings, prefixes, trace=trace, last=last, start=n)
    return logits[:, -N_DIGITS:].reshape(k, batch, N_DIGITS, len(VOCAB))


def _filler_start(w: dict[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    """A run of n "." fillers: their embeddings (n, d) and, as the deep prompts' layout
    (n, L·2·H·d_head), the keys and values the frozen model computes for them."""
    tokens = torch.full((1, n), TOKEN["."])
    events = Trace()
    with torch.no_grad():
        forward(w, w["embed"][tokens], trace=events)
    kv = torch.stack(
        [torch.stack([e["k"][0], e["v"][0]]) for e in events["attention"]]
    )  # (L, 2, H, n, d_head)
    return {"input": w["embed"][tokens[0]], "kv": kv.permute(3, 0, 1, 2, 4).reshape(n, -1)}


def fine_tune(
    w: dict[str, torch.Tensor],
    methods: tuple[str, ...],
    task: str,
    *,
    n_virtual: int = 4,
    encoder_hidden: int = 48,
    reparameterise: bool = True,
    steps: int = 100,
    lr: float = 0.01,
    full_lr: float = 1e-3,
    batch: int = 16,
    evaluations: int = 6,
    seed: int = 0,
    trace: Trace | None = None,
) -> dict[str, Any]:
    """Fine-tune the frozen tiny LM on `task` with each of `methods` (and "full": every weight).

    Adam, fresh examples each step (batch), cross-entropy on the 4 answer digits; prompt methods
    at `lr`, full fine-tuning at `full_lr` (a learning rate fit for prompts would wreck the
    weights). Each method trains alone; a step of all methods shares the examples.
    Returns per method {"losses" (steps,), "exact_match" at "eval_steps", "trainable",
    "stored", "prompt" (its stored output)} under "runs", and "eval_steps". With `trace`: one
    "attention" event per layer and method on 64 held-out examples (`forward`'s events, tagged).
    """
    from core.finetuning.prompt_tuning import DirectPrompt, make_prompt

    for method in methods:
        if method not in TUNE_METHODS:
            raise ValueError(f"methods: unknown {method!r} (allowed: {', '.join(TUNE_METHODS)})")
    frozen = {name: t.detach() for name, t in w.items()}
    prompts, groups, prompt_params = {}, [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fillers = _filler_start(frozen, n_virtual)
        for method in methods:
            if method == "full":
                tuned = {name: t.clone().requires_grad_() for name, t in frozen.items()}
                prompts[method] = tuned
                groups.append({"params": list(tuned.values()), "lr": full_lr})
                continue
            module = make_prompt(method, n_virtual, D_MODEL, N_LAYERS, N_HEADS, encoder_hidden)
            # start from real tokens (Lester et al. 2021 §3; Li & Liang 2021 §7.2): the
            # embeddings of a run of fillers, or the keys and values the model gives them; an
            # encoder starts there on average, through the bias of its last layer
            start = fillers["input"] if method in INPUT_METHODS else fillers["kv"]
            with torch.no_grad():
                if method in ("prompt", "deep-prompt"):
                    module.embedding.copy_(start)
                else:
                    module.encoder[-1].bias.copy_(start.mean(0))
                    if not reparameterise:  # the same start, trained directly
                        module = DirectPrompt(module)
            prompts[method] = module
            prompt_params += list(module.parameters())
    if prompt_params:
        groups.append({"params": prompt_params, "lr": lr})
    # fused, two groups: one update per step for all the prompts (independent all the same)
    optimizer = torch.optim.Adam(groups, fused=True)
    warmup = max(1, steps // 10)  # a linear warm-up: Adam's first steps at full rate overshoot
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    generator = torch.Generator().manual_seed(seed + 100)
    held_out = task_examples(task, 64, torch.Generator().manual_seed(seed + 200))
    checkpoints = sorted({round(i * steps / evaluations) for i in range(evaluations + 1)})
    losses = {m: [] for m in methods}
    exact = {m: [] for m in methods}

    prompted = [m for m in methods if m != "full"]
    kinds = {"prompted": prompted} if prompted else {}
    if "full" in methods:
        kinds["full"] = ["full"]

    def run(kind, body, trace=None):
        """{method: answer logits (B, 4, V)} of the methods of a kind: "prompted" (one batch for
        all prompt methods), "full", or (traced) "input" or "kv" alone."""
        if kind == "full":
            logits = _group_logits(prompts["full"], "full", [], body, n_virtual, trace)
            return {"full": logits[0]}
        outputs = [prompts[m]() for m in kinds[kind]]
        logits = _group_logits(frozen, kind, outputs, body, n_virtual, trace)
        return dict(zip(kinds[kind], logits, strict=True))

    answers = held_out[:, -N_DIGITS:]
    for step in range(steps + 1):
        if step in checkpoints:
            with torch.no_grad():
                for kind in kinds:
                    for method, logits in run(kind, held_out).items():
                        correct = (logits.argmax(-1) == answers).all(1)
                        exact[method].append(float(correct.float().mean()))
        if step == steps:
            break
        body = task_examples(task, batch, generator)
        targets = body[:, -N_DIGITS:].reshape(-1)
        total = 0
        for kind in kinds:
            for method, logits in run(kind, body).items():
                loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), targets)
                losses[method].append(loss.item())
                total = total + loss
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        schedule.step()

    if trace is not None:
        kinds = {
            "input": [m for m in methods if m in INPUT_METHODS],
            "kv": [m for m in methods if m in KV_METHODS],
            "full": [m for m in methods if m == "full"],
        }
        kinds = {kind: members for kind, members in kinds.items() if members}
        with torch.no_grad():
            for kind in kinds:
                example, count = Trace(), len(kinds[kind])
                run(kind, held_out[:64], example)
                for event in example["attention"]:
                    for i, method in enumerate(kinds[kind]):
                        # fields batched over the methods (count·64, ...) split per method
                        fields = {
                            name: value.view(count, 64, *value.shape[1:])[i]
                            if isinstance(value, torch.Tensor) and value.shape[:1] == (count * 64,)
                            else value
                            for name, value in event.items()
                        }
                        trace.record("attention", method=method, **fields)

    runs = {}
    for method in methods:
        module = prompts[method]
        if method == "full":
            trainable = stored = sum(t.numel() for t in module.values())
            stored_prompt = None
        else:
            trainable = sum(p.numel() for p in module.parameters())
            with torch.no_grad():  # detached copies: prompt tuning's output is its parameter
                output = module()
            if method in INPUT_METHODS:
                stored_prompt = output.detach().clone()
                stored = stored_prompt.numel()
            else:
                stored_prompt = [(k.detach().clone(), v.detach().clone()) for k, v in output]
                stored = sum(k.numel() + v.numel() for k, v in stored_prompt)
        runs[method] = {
            "losses": np.asarray(losses[method]),
            "exact_match": np.asarray(exact[method]),
            "trainable": trainable,
            "stored": stored,
            "prompt": stored_prompt,
        }
    return {"runs": runs, "eval_steps": np.asarray(checkpoints), "held_out": held_out}
