"""Train the toy dual encoder twice, with CLIP's softmax loss and with SigLIP's sigmoid loss.

`python -m core.multimodal.train_toy_clip` writes assets/models/toy_clip.npz and
toy_siglip.npz: the weights, the final temperature (and bias), and a log every 25 steps
(loss, scale or t and b, held-out zero-shot accuracy). One thread, seeded, kernels pinned
(core/pinned.py): the same weights on every x86-64 CPU.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from core.multimodal import shapes
from core.multimodal.contrastive import LOG_SCALE_MAX, clip_loss, siglip_loss, zero_shot_logits
from core.multimodal.toy_clip import ASSETS, ToyDualEncoder, save
from core.pinned import configure_torch, ensure_pinned

STEPS = 1200
BATCH = 64
LOG_EVERY = 25
LEARNING_RATE = 2e-3
SEED = 0


def held_out_accuracy(model: ToyDualEncoder, images: torch.Tensor) -> float:
    """Zero-shot colour+shape accuracy on the 50 held-out compositions, prompt "a {}"."""
    held = [i for i, c in enumerate(shapes.COMPOSITIONS) if c.held_out]
    labels = [(c, s) for c in shapes.COLOURS for s in shapes.SHAPES]
    prompts = torch.from_numpy(np.stack([shapes.tokens(f"a {c} {s}") for c, s in labels]))
    truth = torch.tensor(
        [labels.index((shapes.COMPOSITIONS[i].colour, shapes.COMPOSITIONS[i].shape)) for i in held]
    )
    with torch.no_grad():
        scores = zero_shot_logits(model.encode_image(images[held]), model.encode_text(prompts))
    return float((scores.argmax(1) == truth).float().mean())


def train(loss_kind: str, steps: int = STEPS, seed: int = SEED) -> tuple[ToyDualEncoder, dict]:
    """One run; loss_kind "clip" (log-scale from log(1/0.07), clamped at ln 100 after each
    step) or "siglip" (log t = log 10, b = −10, both learned)."""
    torch.manual_seed(seed)
    images, captions, _ = shapes.training_set(variants=8, seed=seed)
    images, captions = torch.from_numpy(images), torch.from_numpy(captions)
    canonical = torch.from_numpy(shapes.canonical_images().transpose(0, 3, 1, 2).copy())
    model = ToyDualEncoder()
    if loss_kind == "clip":
        temperature = {"logit_scale": torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))}
    elif loss_kind == "siglip":
        temperature = {
            "log_t": torch.nn.Parameter(torch.tensor(math.log(10.0))),
            "b": torch.nn.Parameter(torch.tensor(-10.0)),
        }
    else:
        raise ValueError(f"loss_kind must be 'clip' or 'siglip'; got {loss_kind!r}")
    optimiser = torch.optim.Adam([*model.parameters(), *temperature.values()], lr=LEARNING_RATE)
    order = torch.Generator().manual_seed(seed)
    log: dict[str, list[float]] = {"step": [], "loss": [], "accuracy": []}
    log.update({name: [] for name in temperature})
    for step in range(steps + 1):
        batch = torch.randint(len(images), (BATCH,), generator=order)
        x = model.encode_image(images[batch])
        y = model.encode_text(captions[batch])
        if loss_kind == "clip":
            loss, _ = clip_loss(x, y, temperature["logit_scale"])
        else:
            loss, _ = siglip_loss(x, y, temperature["log_t"], temperature["b"])
        if step % LOG_EVERY == 0:
            model.eval()
            log["step"].append(step)
            log["loss"].append(float(loss.detach()))
            log["accuracy"].append(held_out_accuracy(model, canonical))
            for name, value in temperature.items():
                log[name].append(float(value.detach()))
            model.train()
        if step == steps:
            break
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if loss_kind == "clip":
            with torch.no_grad():  # Radford et al. 2021: the multiplier is clipped at 100
                temperature["logit_scale"].clamp_(max=LOG_SCALE_MAX)
    model.eval()
    extra = {f"log/{k}": np.asarray(v, dtype=np.float32) for k, v in log.items()}
    extra.update({k: np.float32(v.detach()) for k, v in temperature.items()})
    return model, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS)
    parser.add_argument("--kind", choices=["clip", "siglip"], action="append")
    arguments = parser.parse_args()
    ensure_pinned("core.multimodal.train_toy_clip", sys.argv[1:])
    configure_torch()
    for kind in arguments.kind or ("clip", "siglip"):
        start = time.perf_counter()
        model, extra = train(kind)
        path = arguments.out / f"toy_{kind}.npz"
        save(path, model, extra)
        print(
            f"{kind}: {time.perf_counter() - start:.1f} s, held-out accuracy "
            f"{extra['log/accuracy'][-1]:.2f}, {path.stat().st_size / 1000:.0f} KB"
        )


if __name__ == "__main__":
    main()
