"""Contrastive image–text losses: CLIP's softmax over the batch, SigLIP's sigmoid per pair.

Radford et al. 2021 (CLIP), a symmetric InfoNCE (van den Oord, Li & Vinyals 2018) over the
N×N similarity matrix; Zhai, Mustafa, Kolesnikov & Beyer 2023 (SigLIP), one binary
classification per pair, and its chunked form that never holds the whole matrix.
Embeddings are (N, D), row i of the images and row i of the texts a matching pair; every
function L2-normalises them along D. Log-sigmoid and logsumexp throughout: no exp overflows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.trace import Trace

LOG_SCALE_MAX = math.log(100.0)  # CLIP clips the multiplier s = exp(logit_scale) at 100


def _scalar(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A float or 0-d tensor as a 0-d tensor of `like`'s dtype (gradients flow through)."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype=like.dtype, device=like.device)
    # Straight to the embeddings' dtype: via float32 a float64 loss would lose 1e-8.
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


def _check_pair(image_emb: torch.Tensor, text_emb: torch.Tensor) -> None:
    if image_emb.ndim != 2 or image_emb.shape != text_emb.shape:
        raise ValueError(
            f"image_emb and text_emb must both be (N, D); got {tuple(image_emb.shape)} "
            f"and {tuple(text_emb.shape)}"
        )
    if image_emb.shape[0] < 1:
        raise ValueError("image_emb: N must be at least 1")


def clip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    logit_scale: float | torch.Tensor,
    *,
    trace: Trace | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP's symmetric cross-entropy over the batch's N×N similarity matrix.

    Radford et al. 2021, Figure 3: logits = s · x̂ ŷᵀ with s = exp(min(logit_scale, ln 100));
    loss = ½ [CE(logits, arange N) + CE(logitsᵀ, arange N)], each a mean over N.
    image_emb, text_emb: (N, D) -> (loss 0-d, logits (N, N)); rows images, columns texts.
    """
    _check_pair(image_emb, text_emb)
    x = F.normalize(image_emb, dim=-1)
    y = F.normalize(text_emb, dim=-1)
    s = torch.exp(torch.clamp(_scalar(logit_scale, x), max=LOG_SCALE_MAX))
    logits = s * x @ y.T
    # CE of row i: logsumexp over the row minus the diagonal logit (no softmax is formed).
    diagonal = torch.diagonal(logits)
    row_ce = torch.logsumexp(logits, dim=1) - diagonal  # image i → its text among N
    column_ce = torch.logsumexp(logits, dim=0) - diagonal  # text j → its image among N
    loss = 0.5 * (row_ce.mean() + column_ce.mean())
    if trace is not None:
        trace.record("logits", logits)
        trace.record("row_softmax", torch.softmax(logits, dim=1))
        trace.record("column_softmax", torch.softmax(logits, dim=0))
        trace.record("row_ce", row_ce)
        trace.record("column_ce", column_ce)
        trace.record("scale", float(s.detach()))
    return loss, logits


def siglip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    log_t: float | torch.Tensor,
    b: float | torch.Tensor,
    *,
    trace: Trace | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SigLIP's loss: every pair of the batch a binary classification, positive on the diagonal.

    Zhai et al. 2023, Algorithm 1: logits = exp(log_t) · x̂ ŷᵀ + b, z = 2I − 1,
    loss = −(1/N) Σ_i Σ_j log σ(z_ij · logits_ij).
    image_emb, text_emb: (N, D) -> (loss 0-d, logits (N, N)).
    """
    _check_pair(image_emb, text_emb)
    x = F.normalize(image_emb, dim=-1)
    y = F.normalize(text_emb, dim=-1)
    t = torch.exp(_scalar(log_t, x))
    logits = t * x @ y.T + _scalar(b, x)
    n = logits.shape[0]
    z = 2 * torch.eye(n, dtype=logits.dtype, device=logits.device) - 1
    terms = -F.logsigmoid(z * logits)  # one pair's binary cross-entropy
    loss = terms.sum() / n
    if trace is not None:
        trace.record("labels", z)
        trace.record("pair_terms", terms)
        # d loss / d logits_ij = −z_ij · σ(−z_ij · logits_ij) / N: a pair's own logit only.
        trace.record("pair_gradients", -z * torch.sigmoid(-z * logits) / n)
    return loss, logits


class _ChunkedSigmoid(torch.autograd.Function):
    """The sigmoid loss block by block in ring order, its backward recomputing each block.

    Only one ⌈N/D⌉-sized block of logits exists at a time, forward and backward: the memory
    of a device in SigLIP's chunked implementation (Zhai et al. 2023, Section 3.3).
    """

    @staticmethod
    def forward(ctx, x, y, t, b, n_chunks, trace, record_terms):
        ctx.save_for_backward(x, y, t, b)
        ctx.n_chunks = n_chunks
        n = x.shape[0]
        total = x.new_zeros(())
        for step, device, rows, cols in _ring(n, n_chunks):
            block = t * x[rows] @ y[cols].T + b
            z = _block_labels(rows, cols, block)
            terms = -F.logsigmoid(z * block)
            block_loss = terms.sum()
            total = total + block_loss
            if trace is not None:
                if record_terms:
                    trace.record("block_terms", terms)
                trace.record(
                    "block",
                    step=step,
                    device=device,
                    text_chunk=(device + step) % n_chunks,
                    rows=(rows.start, rows.stop),
                    cols=(cols.start, cols.stop),
                    loss=float(block_loss),
                    size=block.numel(),
                )
        return total / n

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        x, y, t, b = ctx.saved_tensors
        n = x.shape[0]
        grad_x, grad_y = torch.zeros_like(x), torch.zeros_like(y)
        grad_t, grad_b = torch.zeros_like(t), torch.zeros_like(b)
        for _, _, rows, cols in _ring(n, ctx.n_chunks):
            similarity = x[rows] @ y[cols].T
            block = t * similarity + b
            z = _block_labels(rows, cols, block)
            grad_block = -z * torch.sigmoid(-z * block) * (grad_output / n)
            grad_x[rows] += t * grad_block @ y[cols]
            grad_y[cols] += t * grad_block.T @ x[rows]
            grad_t += (grad_block * similarity).sum()
            grad_b += grad_block.sum()
        return grad_x, grad_y, grad_t, grad_b, None, None, None


def _ring(n: int, n_chunks: int):
    """(step, device, image rows, text columns): device d holds text chunk (d + step) mod D."""
    bounds = [(int(part[0]), int(part[-1]) + 1) for part in torch.arange(n).tensor_split(n_chunks)]
    for step in range(n_chunks):
        for device in range(n_chunks):
            held = (device + step) % n_chunks
            yield step, device, slice(*bounds[device]), slice(*bounds[held])


def _block_labels(rows: slice, cols: slice, block: torch.Tensor) -> torch.Tensor:
    """z = 2I − 1 restricted to a block: +1 where the global row index equals the column's."""
    row_index = torch.arange(rows.start, rows.stop, device=block.device)[:, None]
    col_index = torch.arange(cols.start, cols.stop, device=block.device)[None, :]
    return torch.where(row_index == col_index, 1.0, -1.0).to(block.dtype)


def siglip_loss_chunked(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    log_t: float | torch.Tensor,
    b: float | torch.Tensor,
    n_chunks: int,
    *,
    trace: Trace | None = None,
    record_terms: bool = False,
) -> torch.Tensor:
    """`siglip_loss`'s value and gradients without the N×N matrix: D = n_chunks devices in a ring.

    Zhai et al. 2023, Section 3.3: device d holds image chunk d and, at step k, text chunk
    (d + k) mod D; it scores that block, adds its terms, and passes the text chunk on. Chunks
    are `torch.tensor_split`'s (N need not divide); no block exceeds ⌈N/D⌉². The positives
    all sit in step 0's blocks. Trace: one "block" event per (step, device) (the text chunk
    held, rows, columns, the block's loss and size), and with `record_terms` the block's
    pair terms as "block_terms".
    image_emb, text_emb: (N, D) -> loss (0-d).
    """
    _check_pair(image_emb, text_emb)
    n = image_emb.shape[0]
    if not 1 <= int(n_chunks) <= n or int(n_chunks) != n_chunks:
        raise ValueError(f"n_chunks must be an integer in 1..N = {n}; got {n_chunks}")
    x = F.normalize(image_emb, dim=-1)
    y = F.normalize(text_emb, dim=-1)
    t = torch.exp(_scalar(log_t, x))
    return _ChunkedSigmoid.apply(x, y, t, _scalar(b, x), int(n_chunks), trace, record_terms)


def zero_shot_logits(image_emb: torch.Tensor, class_text_embs: torch.Tensor) -> torch.Tensor:
    """Cosine of each image with each class's text embedding, CLIP's zero-shot classifier.

    Radford et al. 2021, Section 3.1.4: a class is the L2-normalised mean of its prompts'
    L2-normalised embeddings (an ensemble in embedding space).
    image_emb: (N, D); class_text_embs: (C, P, D) for P prompts per class, or (C, D) -> (N, C).
    """
    if class_text_embs.ndim == 3:
        classes = F.normalize(F.normalize(class_text_embs, dim=-1).mean(dim=1), dim=-1)
    elif class_text_embs.ndim == 2:
        classes = F.normalize(class_text_embs, dim=-1)
    else:
        raise ValueError(
            f"class_text_embs must be (C, P, D) or (C, D); got {class_text_embs.ndim}-d"
        )
    return F.normalize(image_emb, dim=-1) @ classes.T
