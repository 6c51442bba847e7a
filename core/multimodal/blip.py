"""BLIP's three objectives on one text transformer: their attention masks and losses.

Li, Li, Xiong & Hoi 2022 (BLIP): image–text contrastive (ITC, a unimodal encoder with [CLS]),
image–text matching (ITM, an image-grounded encoder with [ENC], hard negatives) and language
modelling (LM, an image-grounded decoder with [DEC], causal). ITC's momentum-distilled soft
targets and similarity-sampled negatives come from ALBEF (Li et al. 2021).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.trace import Trace

MODES = ("itc", "itm", "lm")


def attention_masks(n_text: int, n_image: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Which keys each text query may attend, for one of BLIP's three objectives.

    Li et al. 2022, Figure 2: ITC's encoder sees the whole caption and no image; ITM's sees
    both; LM's decoder sees earlier tokens (causal, diagonal included) and the whole image.
    -> (self_mask (n_text, n_text), cross_mask (n_text, n_image)), bool, True = may attend.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if n_text < 0 or n_image < 0:
        raise ValueError("n_text and n_image must be ≥ 0")
    if mode == "lm":
        self_mask = torch.ones(n_text, n_text, dtype=torch.bool).tril()
    else:
        self_mask = torch.ones(n_text, n_text, dtype=torch.bool)
    cross_mask = torch.full((n_text, n_image), mode != "itc", dtype=torch.bool)
    return self_mask, cross_mask


def itc_loss(
    logits: torch.Tensor,
    momentum_logits: torch.Tensor | None = None,
    alpha: float = 0.4,
    *,
    trace: Trace | None = None,
) -> torch.Tensor:
    """ITC with optional momentum-distilled soft targets.

    ALBEF (Li et al. 2021), Eq. 2 and Section 3.3: targets (1 − α)·I + α·softmax(momentum
    logits), by rows for image→text and by columns for text→image, held constant;
    loss = ½ (mean over rows of −Σ targets·log_softmax(logits) + the same for logitsᵀ).
    logits: (N, N) image i vs text j, already divided by the temperature -> 0-d.
    """
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"logits must be (N, N); got {tuple(logits.shape)}")
    n = logits.shape[0]
    eye = torch.eye(n, dtype=logits.dtype, device=logits.device)
    if momentum_logits is None:
        row_targets = column_targets = eye
    else:
        soft = momentum_logits.detach().to(logits.dtype)
        row_targets = (1 - alpha) * eye + alpha * torch.softmax(soft, dim=1)
        column_targets = (1 - alpha) * eye + alpha * torch.softmax(soft.T, dim=1)
    image_to_text = -(row_targets * F.log_softmax(logits, dim=1)).sum(1).mean()
    text_to_image = -(column_targets * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    if trace is not None:
        trace.record("soft_targets", rows=row_targets, columns=column_targets)
    return 0.5 * (image_to_text + text_to_image)


def sample_hard_negatives(
    similarity: torch.Tensor, generator: torch.Generator, *, trace: Trace | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One hard negative per image and per text, drawn in proportion to exp(similarity).

    ALBEF (Li et al. 2021), Section 3.2, used by BLIP's ITM: image i gets text j ≠ i with
    probability ∝ exp(s_ij); text j gets image i ≠ j with probability ∝ exp(s_ij). The
    positive has probability exactly 0 (no smoothing constant). similarity: (N, N), N ≥ 2
    -> (neg_text (N,), neg_image (N,)) int64. Trace: the sampling weights of both sides.
    """
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be (N, N); got {tuple(similarity.shape)}")
    n = similarity.shape[0]
    if n < 2:
        raise ValueError("similarity: N must be at least 2 (a negative needs another pair)")
    diagonal = torch.eye(n, dtype=torch.bool, device=similarity.device)
    scores = similarity.detach().double().masked_fill(diagonal, float("-inf"))
    text_weights = torch.softmax(scores, dim=1)  # row i: texts for image i
    image_weights = torch.softmax(scores.T, dim=1)  # row j: images for text j
    neg_text = torch.multinomial(text_weights, 1, generator=generator).squeeze(1)
    neg_image = torch.multinomial(image_weights, 1, generator=generator).squeeze(1)
    if trace is not None:
        trace.record("sampling_weights", text=text_weights, image=image_weights)
    return neg_text, neg_image


def itm_loss(logits: torch.Tensor) -> torch.Tensor:
    """ITM: 2-way cross-entropy over B positive pairs then 2B hard-negative pairs.

    Li et al. 2022, Section 3.2. logits: (3B, 2), rows [positives; negatives] -> 0-d.
    """
    if logits.ndim != 2 or logits.shape[1] != 2 or logits.shape[0] % 3:
        raise ValueError(f"logits must be (3B, 2); got {tuple(logits.shape)}")
    b = logits.shape[0] // 3
    labels = torch.cat([torch.ones(b), torch.zeros(2 * b)]).long().to(logits.device)
    return F.cross_entropy(logits, labels)


def lm_loss(
    logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0, smoothing: float = 0.1
) -> torch.Tensor:
    """LM: next-token cross-entropy with label smoothing, padding ignored.

    Li et al. 2022, Section 3.2 (ε = 0.1). logits: (..., L, V) predicting targets (..., L),
    already shifted (inputs [DEC] + words, targets words + [SEP]) -> 0-d.
    """
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=smoothing,
    )
