"""Train the medusa demo's character-level LM and its 4 Medusa-1 heads on the US Constitution.

    python -m scripts.train_medusa_lm            # writes assets/models/medusa_char_lm.npz

Seeded, one thread. 700 base steps (OneCycle): 2,000 overfit the 41 KB text (held-out
2.29 nats/char against 1.36). The last 10 % of the text is held out; the file keeps the
weights (fp32), the vocabulary and the held-out figures the demo quotes. Loaded with
allow_pickle=False.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.llm import char_lm

ROOT = Path(__file__).resolve().parents[1]
TEXT = ROOT / "assets" / "text" / "us_constitution.txt"
OUT = ROOT / "assets" / "models" / "medusa_char_lm.npz"
N_MEDUSA = 4


def load_text() -> tuple[str, str, list[str]]:
    text = TEXT.read_text(encoding="utf-8")
    split = int(0.9 * len(text))
    return text[:split], text[split:], sorted(set(text))


def batches(ids: torch.Tensor, batch: int, length: int, generator: torch.Generator):
    while True:
        start = torch.randint(0, len(ids) - length - 1, (batch,), generator=generator)
        yield torch.stack([ids[s : s + length + 1] for s in start.tolist()])


@torch.no_grad()
def evaluate(params, heads, ids: torch.Tensor) -> dict[str, float]:
    """Held-out loss (nats/char) and each head's top-1 accuracy over non-overlapping windows."""
    losses, correct, counted = [], np.zeros(N_MEDUSA), np.zeros(N_MEDUSA)
    for s in range(0, len(ids) - 1, char_lm.CONTEXT):
        window = ids[s : s + char_lm.CONTEXT + 1]
        if len(window) < 8:
            continue
        x, y = window[:-1], window[1:]
        hidden = char_lm.lm_hidden(params, x[None])[0]
        logits = hidden @ params["lm_head"].T
        losses.append(F.cross_entropy(logits, y, reduction="sum").item())
        head_logits = char_lm.medusa_logits(heads, hidden)
        for k in range(N_MEDUSA):
            ahead = k + 2
            if len(window) <= ahead:
                continue
            pred = head_logits[k][: len(window) - ahead].argmax(-1)
            correct[k] += (pred == window[ahead:]).sum().item()
            counted[k] += len(pred)
    return {"loss": sum(losses) / (len(ids) - 1), "head_acc": correct / counted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--head-steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    train, held_out, vocab = load_text()
    index = {c: i for i, c in enumerate(vocab)}
    train_ids = torch.tensor([index[c] for c in train])
    held_ids = torch.tensor([index[c] for c in held_out])
    generator = torch.Generator().manual_seed(args.seed)
    params = char_lm.init_lm(len(vocab), generator)
    for value in params.values():
        value.requires_grad_(True)
    optimizer = torch.optim.Adam(params.values(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=args.steps)
    stream = batches(train_ids, 32, char_lm.CONTEXT, generator)
    for step in range(args.steps):
        batch = next(stream)
        logits = char_lm.lm_logits(params, batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 200 == 0:
            print(
                f"base {step}: {loss.item():.3f} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    params = {key: value.detach() for key, value in params.items()}
    heads = char_lm.init_medusa(params, N_MEDUSA)
    for value in heads.values():
        value.requires_grad_(True)
    optimizer = torch.optim.Adam(heads.values(), lr=2e-3)
    for step in range(args.head_steps):
        batch = next(stream)
        with torch.no_grad():
            hidden = char_lm.lm_hidden(params, batch)
        loss = char_lm.medusa_loss(heads, hidden, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            print(
                f"heads {step}: {loss.item():.3f} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    heads = {key: value.detach() for key, value in heads.items()}
    scores = evaluate(params, heads, held_ids)
    seconds = time.perf_counter() - started
    print(f"held-out {scores['loss']:.3f} nats/char, heads {scores['head_acc']}, {seconds:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        vocab=np.array([ord(c) for c in vocab], dtype=np.int32),
        held_out_start=np.array(len(train)),
        held_out_loss=np.array(scores["loss"]),
        head_accuracy=scores["head_acc"],
        train_seconds=np.array(seconds),
        steps=np.array([args.steps, args.head_steps]),
        **{k: v.astype(np.float32) for k, v in char_lm.to_arrays(params, "lm.").items()},
        **{k: v.astype(np.float32) for k, v in char_lm.to_arrays(heads, "medusa.").items()},
    )


if __name__ == "__main__":
    main()
