"""The recorder every algorithm in `core` accepts as `trace=None`.

An algorithm that is given a `Trace` appends named events to it (a tile's running max, a
layer's gradient norm, an iterate); with `trace=None` it records nothing and pays nothing,
because every recording site is guarded by `if trace is not None`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch


def _snapshot(value: Any) -> Any:
    """A copy of `value` that later in-place updates of the algorithm cannot change."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _snapshot(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(item) for item in value)
    return value


@dataclass
class Trace:
    """Named lists of events, in the order an algorithm recorded them.

    `trace.record("layer", index=3, grad_norm=0.2)` appends `{"index": 3, "grad_norm": 0.2}`
    to `trace["layer"]`; `trace.record("output", tensor)` appends the tensor itself.
    Tensors are stored as detached CPU copies.
    """

    events: dict[str, list[Any]] = field(default_factory=dict)

    def record(self, name: str, value: Any = None, /, **fields: Any) -> None:
        if fields and value is not None:
            raise ValueError("record takes either one value or keyword fields, not both")
        self.events.setdefault(name, []).append(_snapshot(fields if fields else value))

    def __getitem__(self, name: str) -> list[Any]:
        return self.events[name]

    def __contains__(self, name: object) -> bool:
        return name in self.events

    def __iter__(self) -> Iterator[str]:
        return iter(self.events)

    def __len__(self) -> int:
        return sum(len(items) for items in self.events.values())

    def column(self, name: str, key: str) -> list[Any]:
        """One field of every event called `name`: `trace.column("layer", "grad_norm")`."""
        return [event[key] for event in self.events.get(name, [])]
