"""The registry of live demos, in the catalogue order of ../shared/TOPICS.md.

Adding a topic: write `demos/<topic>.py` declaring `DEMO = Demo(...)`, add its module name to
`LIVE`, and write its tests. Nothing in `app/` changes. Importing this package builds the
gallery, so a demo module imports torch, SciPy, scikit-learn, XGBoost and `core` only inside the
functions that use them (tests/demos/test_lazy_imports.py checks).

    from demos import all_demos
    for demo in all_demos():        # also iterable directly: `for demo in all_demos`
        demo.render(demo.Params())
"""

from __future__ import annotations

import importlib

from demos.base import CATALOGUE, SECTIONS, Demo, ParamsError, Rendered, Text

# Module names of the live demos (any order: the catalogue decides the order shown).
LIVE = (
    "activations",
    "flash_attention",
    "upsampling",
    "spp",
    "adam_vs_adamw",
    "stochastic_approximation",
    "iou_losses",
    "map",
    "attention_variants",
    "llama_blocks",
    "rnn_vs_transformer",
    "ssm",
    "autograd",
    "nn_vs_functional",
    "api_export",
    "varifocal",
    "centernet",
    "lora",
    "prompt_tuning",
    "clip",
    "siglip",
    "ddp",
    "detr",
    "blip",
    "chameleon",
    "gradient_checkpointing",
    "mixed_precision",
    "dpo",
    "alpaca",
    "pose_rle",
    "xgboost_trees",
    "ensembles",
    "face_recognition",
    "normalizing_flows",
    "flow_matching",
    "sd3",
    "moe",
    "medusa",
)


class _Catalogue(list):
    """The live demos; callable too, so `all_demos()` and `all_demos` both work."""

    def __call__(self) -> list[Demo]:
        return list(self)

    def sections(self) -> list[tuple[str, list[Demo]]]:
        """(section key, its demos) in catalogue order, sections with no live demo left out."""
        return [
            (key, [demo for demo in self if demo.section == key])
            for key in SECTIONS
            if any(demo.section == key for demo in self)
        ]


all_demos = _Catalogue(
    sorted(
        (importlib.import_module(f"demos.{name}").DEMO for name in LIVE),
        key=lambda demo: CATALOGUE.index(demo.slug),
    )
)

__all__ = ["CATALOGUE", "SECTIONS", "Demo", "ParamsError", "Rendered", "Text", "all_demos"]
