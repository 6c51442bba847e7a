"""TensorFlow's `tf_export` pattern: one decorator gives an object its public names.

PEP 318 (decorators) and PEP 309 (`functools.partial`), both 2003; Abadi et al. 2016.
`tf_export = functools.partial(api_export, api_name="tensorflow")` fixes one keyword;
`@tf_export("math.add", "add")` then builds an `api_export` object (`__init__` keeps the names)
and calls it on the function (`__call__` sets `_tf_api_names`, registers every name, returns
the function itself, unchanged). The registry maps (api, version, public name) to the object.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from core.trace import Trace

API_ATTRIBUTES = {
    "tensorflow": ("_tf_api_names", "_tf_api_names_v1"),
    "keras": ("_keras_api_names", "_keras_api_names_v1"),
}
Registry = dict[tuple[str, int, str], Any]  # (api_name, version, public name) -> object


def _checked_names(names: Iterable[Any], which: str) -> tuple[str, ...]:
    checked = []
    for name in names:
        if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"{which}: {str(name)[:40]!r} is not a dotted name like 'math.add'")
        if name not in checked:
            checked.append(name)
    return tuple(checked)


class api_export:  # TensorFlow's lower-case name: it is used as a decorator
    """`@api_export("math.add", "add", v1=None, api_name="tensorflow", registry=r)`.

    names: the v2 names; v1: the v1 names (None: the same as v2). Applied to an object it sets
    the api's two attributes to tuples, registers every name in `registry` and returns the
    object itself. ValueError, changing nothing, for: no names at all, a name that is not
    dotted identifiers, a name already bound to another object, an object already exported
    under this api (an attribute inherited from a base class does not count)."""

    def __init__(
        self,
        *names: str,
        v1: Iterable[str] | None = None,
        api_name: str = "tensorflow",
        registry: Registry,
        trace: Trace | None = None,
    ) -> None:
        if api_name not in API_ATTRIBUTES:
            raise ValueError(f"api_name: {api_name!r} is not one of {', '.join(API_ATTRIBUTES)}")
        if not isinstance(registry, dict):
            raise ValueError("registry: a dict the caller creates")
        self._names = _checked_names(names, "names")
        self._names_v1 = self._names if v1 is None else _checked_names(list(v1), "v1")
        if not self._names and not self._names_v1:
            raise ValueError("names: give at least one public name (v2 or v1)")
        self._api_name = api_name
        self._registry = registry
        self._trace = trace
        if trace is not None:
            trace.record("init", api_name=api_name, names=self._names, names_v1=self._names_v1)

    def __call__(self, func: Any) -> Any:
        attribute, attribute_v1 = API_ATTRIBUTES[self._api_name]
        own = getattr(func, "__dict__", {})
        if attribute in own or attribute_v1 in own:
            raise ValueError(
                f"{getattr(func, '__name__', 'object')}: already exported under "
                f"{self._api_name} as {own.get(attribute) or own.get(attribute_v1)}"
            )
        wanted = [(2, name) for name in self._names] + [(1, name) for name in self._names_v1]
        for version, name in wanted:
            bound = self._registry.get((self._api_name, version, name), func)
            if bound is not func:
                raise ValueError(
                    f"{name}: already bound to {getattr(bound, '__name__', type(bound).__name__)}"
                    f" in {self._api_name} v{version}"
                )
        try:
            setattr(func, attribute, self._names)
            setattr(func, attribute_v1, self._names_v1)
        except (AttributeError, TypeError):
            raise ValueError(f"{type(func).__name__}: cannot carry attributes") from None
        if self._trace is not None:
            self._trace.record("set", attribute=attribute, value=self._names)
            self._trace.record("set", attribute=attribute_v1, value=self._names_v1)
        for version, name in wanted:
            self._registry[(self._api_name, version, name)] = func
            if self._trace is not None:
                self._trace.record("register", api_name=self._api_name, version=version, name=name)
        return func


tf_export = functools.partial(api_export, api_name="tensorflow")
keras_export = functools.partial(api_export, api_name="keras")


def lookup(name: str, registry: Registry, *, version: int = 2, api_name: str = "tensorflow") -> Any:
    """The object exported as `name` (e.g. "math.add") in `api_name`'s v1 or v2 API.

    KeyError when nothing is exported under that name."""
    key = (api_name, version, name)
    if key not in registry:
        raise KeyError(f"{api_name} v{version} has no {name!r}")
    return registry[key]
