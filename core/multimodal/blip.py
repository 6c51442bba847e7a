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
    similarity: torch.Tensor,
    generator: torch.Generator,
    *,
    draws: int | None = None,
    trace: Trace | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One hard negative per image and per text, drawn in proportion to exp(similarity).

    ALBEF (Li et al. 2021), Section 3.2, used by BLIP's ITM: image i gets text j ≠ i with
    probability ∝ exp(s_ij); text j gets image i ≠ j with probability ∝ exp(s_ij). The
    positive has probability exactly 0 (no smoothing constant). similarity: (N, N), N ≥ 2
    -> (neg_text (N,), neg_image (N,)) int64. `draws`: that many independent draws per row
    instead, (N, draws) each. Trace: the sampling weights of both sides.
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
    if draws is None:
        neg_text = torch.multinomial(text_weights, 1, generator=generator).squeeze(1)
        neg_image = torch.multinomial(image_weights, 1, generator=generator).squeeze(1)
    else:
        if draws < 1:
            raise ValueError(f"draws must be ≥ 1; got {draws}")
        neg_text = torch.multinomial(text_weights, draws, replacement=True, generator=generator)
        neg_image = torch.multinomial(image_weights, draws, replacement=True, generator=generator)
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


# --- BLIP-2's Q-Former: learned queries and text in one self-attention ---------------------------

QFORMER_MODES = ("itc", "itm", "itg")


def qformer_masks(
    n_query: int, n_text: int, n_image: int, mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Q-Former's masks: queries then text share one self-attention; only queries see the image.

    Li et al. 2023 (BLIP-2), Figure 2: ITC's uni-modal mask (queries see queries, text sees
    text), ITM's bi-directional mask (all see all), ITG's multimodal causal mask (queries see
    queries, text sees every query and the earlier text, diagonal included). The queries
    cross-attend all image features; text tokens have no cross-attention.
    -> (self_mask (Q+T, Q+T), cross_mask (Q+T, n_image)), bool, rows and columns queries first.
    """
    if mode not in QFORMER_MODES:
        raise ValueError(f"mode must be one of {QFORMER_MODES}; got {mode!r}")
    if min(n_query, n_text, n_image) < 0:
        raise ValueError("n_query, n_text and n_image must be ≥ 0")
    n = n_query + n_text
    is_query = torch.arange(n) < n_query
    if mode == "itm":
        self_mask = torch.ones(n, n, dtype=torch.bool)
    else:
        self_mask = is_query[:, None] == is_query[None, :]  # within one modality
        if mode == "itg":
            causal_text = torch.ones(n_text, n_text, dtype=torch.bool).tril()
            self_mask[n_query:, n_query:] = causal_text
            self_mask[n_query:, :n_query] = True  # text reads every query
    cross_mask = is_query[:, None].expand(n, n_image).clone()
    return self_mask, cross_mask


# --- a generated world: items named by colour, shape and position -------------------------------

COLOURS = ("red", "green", "blue", "yellow", "purple")
SHAPES = ("circle", "square", "triangle", "star", "ring")
POSITIONS = ("left", "right", "top", "bottom", "centre")
WORDS = (*COLOURS, *SHAPES, *POSITIONS)  # item (c, s, p) says WORDS[c], WORDS[5 + s], WORDS[10 + p]
N_COMPOSITIONS = len(COLOURS) * len(SHAPES) * len(POSITIONS)
EMBEDDING_DIM = 32
IMAGE_NOISE = 1.5  # noise norm of an image embedding, against √3 for its three words
TEXT_NOISE = 0.3  # a caption says its words, up to phrasing
# The stand-in filter's ITM head: P(match) = σ(SCORE_SLOPE · (cos − SCORE_CENTRE)); the centre
# lies between a true caption's cosine (≈ 0.74 ± 0.07) and one wrong in a word's (≈ 0.48 ± 0.12).
SCORE_SLOPE, SCORE_CENTRE = 10.0, 0.6


def caption(item: torch.Tensor | tuple[int, int, int]) -> str:
    """The caption of an item (colour, shape, position): 'a red circle at the left'."""
    colour, shape, position = (int(v) for v in item)
    return f"a {COLOURS[colour]} {SHAPES[shape]} at the {POSITIONS[position]}"


def compositions(indices: torch.Tensor) -> torch.Tensor:
    """Composition numbers 0…124 -> (…, 3) int64 rows (colour, shape, position)."""
    return torch.stack([indices // 25, indices // 5 % 5, indices % 5], dim=-1).long()


def composition_ids(items: torch.Tensor) -> torch.Tensor:
    """The inverse of `compositions`: (…, 3) -> (…) int64 in 0…124."""
    return items[..., 0] * 25 + items[..., 1] * 5 + items[..., 2]


def word_vectors(generator: torch.Generator, dim: int = EMBEDDING_DIM) -> torch.Tensor:
    """One random unit vector per word of WORDS: (15, dim) float32."""
    return F.normalize(torch.randn(len(WORDS), dim, generator=generator), dim=1)


def embed(
    items: torch.Tensor, vectors: torch.Tensor, noise: float, generator: torch.Generator
) -> torch.Tensor:
    """Unit embeddings of items: the sum of their three word vectors plus Gaussian noise.

    items: (M, 3) int64, vectors: (15, D) -> (M, D); the noise has expected norm ≈ `noise`.
    """
    words = items + torch.tensor([0, len(COLOURS), len(COLOURS) + len(SHAPES)])
    dim = vectors.shape[1]
    # the three words as a multi-hot row times the vectors: a gather of (M, 3, D) costs 5× more
    bag = torch.zeros(len(items), len(WORDS), dtype=vectors.dtype).scatter_(1, words, 1.0)
    noise_vectors = torch.randn(len(items), dim, generator=generator, dtype=vectors.dtype)
    return F.normalize(bag @ vectors + noise / dim**0.5 * noise_vectors, dim=1)


def caption_embeddings(vectors: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A text encoder's view of the 125 captions: one embedding per caption (the same text
    always encodes the same), row = composition id. -> (125, D)."""
    every = compositions(torch.arange(N_COMPOSITIONS))
    return embed(every, vectors, TEXT_NOISE, generator)


def shares_word(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Whether items a and b (…, 3) share a colour, shape or position: (…) bool."""
    return (a == b).any(-1)


def filter_scores(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """The stand-in filter's ITM match probability of (M, D) unit image and text embeddings."""
    cosine = (image * text).sum(-1)
    return torch.sigmoid(SCORE_SLOPE * (cosine - SCORE_CENTRE))


def world_batch(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """n distinct items of the world, their image and caption embeddings, and a momentum pair.

    The momentum encoder (ALBEF's exponential moving average of the model) is stood in for by
    the same word vectors with fresh noise. -> items (n, 3), image, text, momentum_image,
    momentum_text (n, D).
    """
    if not 1 <= n <= N_COMPOSITIONS:
        raise ValueError(f"n must be in 1..{N_COMPOSITIONS}; got {n}")
    vectors = word_vectors(generator)
    ids = torch.randperm(N_COMPOSITIONS, generator=generator)[:n]
    items = compositions(ids)
    return {
        "items": items,
        "image": embed(items, vectors, IMAGE_NOISE, generator),
        "text": caption_embeddings(vectors, generator)[ids],
        "momentum_image": embed(items, vectors, IMAGE_NOISE, generator),
        "momentum_text": caption_embeddings(vectors, generator)[ids],
    }


def _other_items(items: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random item different from each of `items` (M, 3)."""
    shift = torch.randint(1, N_COMPOSITIONS, (len(items),), generator=generator)
    return compositions((composition_ids(items) + shift) % N_COMPOSITIONS)


def _neighbour_items(items: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each item with one of its three words changed to another value (a near miss)."""
    which = torch.randint(0, 3, (len(items),), generator=generator)
    shift = torch.randint(1, 5, (len(items),), generator=generator)
    neighbours = items.clone()
    rows = torch.arange(len(items))
    neighbours[rows, which] = (items[rows, which] + shift) % 5
    return neighbours


def capfilt(
    n_web: int,
    rho: float,
    q: float,
    threshold: float,
    generator: torch.Generator,
    *,
    trace: Trace | None = None,
) -> dict[str, int]:
    """CapFilt on the generated world: caption every web image, keep the pairs the filter passes.

    Li et al. 2022 (BLIP), Section 4: web pairs (I_w, T_w) and synthetic pairs (I_w, T_s) from a
    captioner both go through a filter, which keeps a pair when its ITM head calls it a match.
    Here a web caption is another item's with probability `rho`; the captioner writes the right
    caption with probability `q`, else a neighbour's (one word wrong); the filter keeps a pair
    whose stand-in ITM score reaches `threshold`. -> counts "<web|synthetic>/<clean|noisy>/
    <kept|removed>". Trace "filter_scores": web and synthetic scores and their clean flags.
    """
    if n_web < 1:
        raise ValueError(f"n_web must be ≥ 1; got {n_web}")
    for name, value in (("rho", rho), ("q", q), ("threshold", threshold)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in 0..1; got {value}")
    vectors = word_vectors(generator)
    captions = caption_embeddings(vectors, generator)
    items = compositions(torch.randint(0, N_COMPOSITIONS, (n_web,), generator=generator))
    images = embed(items, vectors, IMAGE_NOISE, generator)

    web_clean = torch.rand(n_web, generator=generator) >= rho
    web_items = torch.where(web_clean[:, None], items, _other_items(items, generator))
    synthetic_clean = torch.rand(n_web, generator=generator) < q
    synthetic_items = torch.where(
        synthetic_clean[:, None], items, _neighbour_items(items, generator)
    )
    counts = {}
    scores = {}
    for source, caption_items, clean in (
        ("web", web_items, web_clean),
        ("synthetic", synthetic_items, synthetic_clean),
    ):
        score = filter_scores(images, captions[composition_ids(caption_items)])
        kept = score >= threshold
        scores[source], scores[f"{source}_clean"] = score, clean
        for flag, name in ((clean, "clean"), (~clean, "noisy")):
            counts[f"{source}/{name}/kept"] = int((flag & kept).sum())
            counts[f"{source}/{name}/removed"] = int((flag & ~kept).sum())
    if trace is not None:
        trace.record("filter_scores", **scores)
    return counts
