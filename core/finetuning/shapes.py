"""Real transformer shapes and the (in, out) of each linear matrix a method can adapt.

A shape config is a dict {"d_model", "n_layers", "n_heads", "n_kv_heads", "d_ffn", "gated_mlp"}
or one of the names of MODEL_SHAPES. Matrices (in, out): q, o (d, d); k, v (d, d_kv) with
d_kv = n_kv_heads·d/n_heads; gate (gated MLP only) and up (d, d_ffn); down (d_ffn, d).
"""

from __future__ import annotations

from typing import Any

MODEL_SHAPES: dict[str, dict[str, Any]] = {
    "llama-7b": {"d_model": 4096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 32,
                 "d_ffn": 11008, "gated_mlp": True},
    "llama-13b": {"d_model": 5120, "n_layers": 40, "n_heads": 40, "n_kv_heads": 40,
                  "d_ffn": 13824, "gated_mlp": True},
    "llama2-70b": {"d_model": 8192, "n_layers": 80, "n_heads": 64, "n_kv_heads": 8,
                   "d_ffn": 28672, "gated_mlp": True},
    "gpt3-175b": {"d_model": 12288, "n_layers": 96, "n_heads": 96, "n_kv_heads": 96,
                  "d_ffn": 49152, "gated_mlp": False},
}  # fmt: skip

# Target sets of the demos: the paper's Wq, Wv; all of attention; every linear layer.
TARGET_SETS: dict[str, tuple[str, ...]] = {
    "q,v": ("q", "v"),
    "attention": ("q", "k", "v", "o"),
    "all linear": ("q", "k", "v", "o", "gate", "up", "down"),
}


def resolve(shape_config: str | dict[str, Any]) -> dict[str, Any]:
    """The full config of a name or a dict, with n_kv_heads = n_heads and gated_mlp = True by
    default; ValueError for an unknown name or a missing key."""
    if isinstance(shape_config, str):
        if shape_config not in MODEL_SHAPES:
            raise ValueError(f"shape_config: unknown name {shape_config!r} (allowed: "
                             f"{', '.join(MODEL_SHAPES)})")  # fmt: skip
        return dict(MODEL_SHAPES[shape_config])
    config = dict(shape_config)
    for key in ("d_model", "n_layers", "n_heads", "d_ffn"):
        if key not in config:
            raise ValueError(f"shape_config: missing {key!r}")
    config.setdefault("n_kv_heads", config["n_heads"])
    config.setdefault("gated_mlp", True)
    return config


def d_kv(shape_config: str | dict[str, Any]) -> int:
    """Width of the keys and values of one layer: n_kv_heads·d/n_heads (grouped-query)."""
    c = resolve(shape_config)
    return c["n_kv_heads"] * c["d_model"] // c["n_heads"]


def matrices(shape_config: str | dict[str, Any]) -> dict[str, tuple[int, int]]:
    """{name: (in, out)} of the linear matrices of one layer (no gate in a plain MLP)."""
    c = resolve(shape_config)
    d, kv, f = c["d_model"], d_kv(c), c["d_ffn"]
    shapes = {"q": (d, d), "k": (d, kv), "v": (d, kv), "o": (d, d)}
    if c["gated_mlp"]:
        shapes["gate"] = (d, f)
    shapes |= {"up": (d, f), "down": (f, d)}
    return shapes


def block_parameters(shape_config: str | dict[str, Any]) -> int:
    """Weights of all layers' linear matrices (embeddings and norms not counted)."""
    c = resolve(shape_config)
    return c["n_layers"] * sum(i * o for i, o in matrices(c).values())
