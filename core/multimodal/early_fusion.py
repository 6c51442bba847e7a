"""Early fusion: text and image codes in one token stream, and the fixes that keep it stable.

Chameleon Team 2024: images become discrete codes in the same vocabulary as text, framed by
begin/end-of-image tokens; QK-norm and z-loss (Chowdhery et al. 2022) against logit drift.
"""

from __future__ import annotations

import torch

from core.trace import Trace


def z_loss(logits: torch.Tensor, weight: float = 1e-5) -> torch.Tensor:
    """weight · mean over positions of log²Z, Z = Σ_v exp(logits_v) (Chowdhery et al. 2022).

    logits (..., V) -> 0-d; logsumexp keeps float32 finite at |logits| ≈ 10⁴.
    """
    return weight * torch.logsumexp(logits, dim=-1).pow(2).mean()


def interleave(segments: list[torch.Tensor], image_offset: int, boi: int, eoi: int) -> torch.Tensor:
    """One int64 stream: a 1-D segment is text (copied), a 2-D (h, w) one an image's codes,
    written as boi, codes in row-major order + image_offset, eoi."""
    parts = []
    for segment in segments:
        if segment.ndim == 1:
            parts.append(segment.long())
        elif segment.ndim == 2:
            parts.append(torch.tensor([boi], dtype=torch.long))
            parts.append(segment.reshape(-1).long() + image_offset)
            parts.append(torch.tensor([eoi], dtype=torch.long))
        else:
            raise ValueError(f"segments: 1-D text or 2-D image codes; got {segment.ndim}-d")
    if not parts:
        return torch.zeros(0, dtype=torch.long)
    return torch.cat(parts)


def deinterleave(
    stream: torch.Tensor, image_offset: int, boi: int, eoi: int, shapes: list[tuple[int, int]]
) -> list[torch.Tensor]:
    """The inverse of `interleave`, given each image's (h, w) in order."""
    segments, text, i, images = [], [], 0, iter(shapes)
    values = stream.tolist()
    while i < len(values):
        if values[i] == boi:
            if text:
                segments.append(torch.tensor(text, dtype=torch.long))
                text = []
            h, w = next(images)
            codes = torch.tensor(values[i + 1 : i + 1 + h * w], dtype=torch.long) - image_offset
            if values[i + 1 + h * w] != eoi:
                raise ValueError("stream: an image's codes are not followed by eoi")
            segments.append(codes.reshape(h, w))
            i += h * w + 2
        else:
            text.append(values[i])
            i += 1
    if text:
        segments.append(torch.tensor(text, dtype=torch.long))
    return segments


# --- attention with optional QK-norm, and a tiny decoder trained live ---------------------------


def attention_logits(
    q: torch.Tensor, k: torch.Tensor, qk_norm: bool, eps: float = 1e-5
) -> torch.Tensor:
    """q kᵀ/√d per head, after LayerNorm on each head's q and k when `qk_norm` (Chameleon Team
    2024, Section 2.3; Dehghani et al. 2023). q, k: (..., heads, L, d) -> (..., heads, L, L)."""
    if qk_norm:
        q = torch.nn.functional.layer_norm(q, q.shape[-1:], eps=eps)
        k = torch.nn.functional.layer_norm(k, k.shape[-1:], eps=eps)
    return q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5


class _Block(torch.nn.Module):
    def __init__(self, width: int, heads: int, qk_norm: bool) -> None:
        super().__init__()
        self.heads, self.qk_norm = heads, qk_norm
        self.norm1, self.norm2 = torch.nn.LayerNorm(width), torch.nn.LayerNorm(width)
        self.qkv = torch.nn.Linear(width, 3 * width)
        self.out = torch.nn.Linear(width, width)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(width, 4 * width), torch.nn.GELU(), torch.nn.Linear(4 * width, width)
        )
        if qk_norm:  # learned gains of the per-head LayerNorms on q and k
            self.q_norm = torch.nn.LayerNorm(width // heads)
            self.k_norm = torch.nn.LayerNorm(width // heads)

    def forward(self, x: torch.Tensor, stats: list) -> torch.Tensor:
        b, n, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        logits = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        stats.append(float(logits.detach().abs().max()))
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        weights = torch.softmax(logits.masked_fill(~causal, float("-inf")), dim=-1)
        x = x + self.out((weights @ v).transpose(1, 2).reshape(b, n, width))
        return x + self.mlp(self.norm2(x))


class TinyDecoder(torch.nn.Module):
    """A decoder-only transformer (pre-LayerNorm): 2 layers, width 32, 4 heads, causal."""

    def __init__(self, vocabulary: int, length: int, qk_norm: bool, width: int = 32) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocabulary, width)
        self.position = torch.nn.Parameter(torch.zeros(length, width))
        self.blocks = torch.nn.ModuleList(_Block(width, 4, qk_norm) for _ in range(2))
        self.norm = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, vocabulary)

    def forward(self, tokens: torch.Tensor, stats: list) -> torch.Tensor:
        x = self.embed(tokens) + self.position[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x, stats)
        return self.head(self.norm(x))


TEXT_VOCABULARY, CODES = 12, 16  # toy sizes: 12 words, a 16-code image codebook
BOI, EOI = TEXT_VOCABULARY, TEXT_VOCABULARY + 1
IMAGE_OFFSET = TEXT_VOCABULARY + 2


def toy_sequences(count: int, generator: torch.Generator) -> torch.Tensor:
    """Interleaved toy documents: 3 words, an image of 2×2 codes that the words determine,
    2 more words (the first two repeated): (count, 3 + 1 + 4 + 1 + 2) int64."""
    words = torch.randint(TEXT_VOCABULARY, (count, 3), generator=generator)
    codes = torch.stack(
        [(words[:, 0] + words[:, 1]) % CODES, (words[:, 1] * 3) % CODES,
         (words[:, 2] + 5) % CODES, (words[:, 0] * words[:, 2]) % CODES],
        dim=1,
    ).reshape(count, 2, 2)  # fmt: skip
    # `interleave` of [words, codes, words[:2]] for every row at once (a test checks it is)
    frame = torch.full((count, 1), BOI, dtype=torch.long)
    return torch.cat(
        [words, frame, codes.reshape(count, -1) + IMAGE_OFFSET, frame + (EOI - BOI), words[:, :2]],
        dim=1,
    )


def train_tiny_decoder(
    steps: int,
    lr: float,
    qk_norm: bool,
    z_weight: float,
    seed: int,
    *,
    batch: int = 32,
    trace: Trace | None = None,
) -> list[dict]:
    """Adam on next-token cross-entropy (+ z_weight · z-loss) over toy interleaved sequences.

    Returns (and traces as "step") per step: loss, max |attention logit| over layers and heads,
    mean log Z of the output logits.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    length = 11
    model = TinyDecoder(IMAGE_OFFSET + CODES, length, qk_norm)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    log = []
    for step in range(steps):
        tokens = toy_sequences(batch, generator)
        stats: list[float] = []
        logits = model(tokens[:, :-1], stats)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1)
        )
        total = loss + z_loss(logits, z_weight) if z_weight > 0 else loss
        log_z = float(torch.logsumexp(logits.detach(), -1).mean())
        row = {"step": step, "loss": float(loss.detach()), "max_logit": max(stats), "log_z": log_z}
        log.append(row)
        if trace is not None:
            trace.record("step", **row)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    return log
