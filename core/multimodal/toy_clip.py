"""A toy dual encoder (about 100k parameters) for the shapes world, and its saved weights.

Image encoder: two 3×3 convolutions (each followed by ReLU and 2×2 max-pooling) and an MLP;
text encoder: the mean of the caption's word embeddings and an MLP; both end in the 32-d
joint space. The architecture of CLIP (Radford et al. 2021) at a scale a CPU trains in a
minute; nothing of its numbers carries over, the mechanism does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.multimodal import shapes

JOINT_DIM = 32
ASSETS = Path(__file__).resolve().parents[2] / "assets" / "models"


class ToyDualEncoder(nn.Module):
    """Images (B, 3, 24, 24) and word ids (B, MAX_WORDS) → embeddings (B, 32), not normalised."""

    def __init__(self, vocabulary: int = len(shapes.VOCABULARY), width: int = 64) -> None:
        super().__init__()
        self.image = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 6 * 6, width),
            nn.ReLU(),
            nn.Linear(width, JOINT_DIM),
        )
        self.words = nn.Embedding(vocabulary, 48, padding_idx=0)
        self.text = nn.Sequential(nn.Linear(48, width), nn.ReLU(), nn.Linear(width, JOINT_DIM))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.image(images)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        present = (ids != 0).to(self.words.weight.dtype)  # padding is not a word
        mean = (self.words(ids) * present[..., None]).sum(1) / present.sum(1, keepdim=True)
        return self.text(mean)


def save(path: Path, model: ToyDualEncoder, extra: dict[str, np.ndarray]) -> None:
    """Weights under their state-dict names, and `extra` (scalars, the training log)."""
    arrays = {f"weight/{k}": v.detach().numpy() for k, v in model.state_dict().items()}
    arrays.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load(path: Path) -> tuple[ToyDualEncoder, dict[str, np.ndarray]]:
    """The model of a saved file (eval mode) and the file's other arrays."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    model = ToyDualEncoder()
    state = {
        k[len("weight/") :]: torch.from_numpy(v)
        for k, v in arrays.items()
        if k.startswith("weight/")
    }
    model.load_state_dict(state)
    model.eval()
    return model, {k: v for k, v in arrays.items() if not k.startswith("weight/")}
