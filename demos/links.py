"""Links that carry a demo's state: Params <-> URL query, generic over every demo.

A link names the demo and only the parameters that differ from their defaults, e.g.
`?demo=activations&functions=gelu,silu&x_range=8&lang=zh`. Reading a link never fails: a value
that is unknown, malformed or out of range falls back to its default and yields a note that
says so, in the page's language.

The browser keeps the URL up to date itself (app/ui.py's script writes the same format), so
the two encodings here and there must agree: lists are comma-joined, booleans are
`true`/`false`, numbers are their shortest decimal form, text is the string itself (URL-encoded
with the rest of the query, `urllib.parse.urlencode`; spaces and `+ * / ( )` survive).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from demos.base import Control, Demo, ParamsError, Text

# Query keys that belong to the page, not to a demo's Params.
PAGE_KEYS = frozenset({"demo", "lang", "theme", "__theme", "present", "embed"})

NOTES = {
    "unknown": Text("unknown parameter `{name}` ignored", "未知参数 `{name}` 已忽略"),
    "invalid": Text(
        "`{name}={value}` cannot be used (allowed: {allowed}); the default is used",
        "`{name}={value}` 无法使用（允许：{allowed}），已改用默认值",
    ),
    "heading": Text("This link had problems:", "链接中有参数无法使用："),
}


def encode_value(value: Any) -> str:
    """One parameter value as it appears in a link."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_query(demo: Demo, params: BaseModel) -> dict[str, str]:
    """The link's query for `params`: the demo, then every field that differs from its default."""
    defaults = demo.Params()
    query = {"demo": demo.slug}
    for name in demo.fields:
        value = getattr(params, name)
        if value != getattr(defaults, name):
            query[name] = encode_value(value)
    return query


def _decode(control: Control, raw: str) -> Any:
    """The typed value a link's string stands for; pydantic then checks bounds and choices."""
    if control.kind == "text":
        return raw  # as typed: the Params' own validator judges it (spaces included)
    text = raw.strip()
    if control.kind == "checkboxes":
        return [part.strip() for part in text.split(",") if part.strip()]
    if control.kind == "checkbox":
        lowered = text.lower()
        if lowered in {"true", "1", "yes", "on"}:
            return True
        if lowered in {"false", "0", "no", "off"}:
            return False
        raise ParamsError(f"{control.name}: not true or false")
    if control.kind == "slider":
        number = float(text)  # ValueError for junk; inf/nan are rejected by Params
        if control.integer:
            if not number.is_integer():
                raise ParamsError(f"{control.name}: a whole number is needed")
            return int(number)
        return number
    return text


def _clip(value: str, limit: int = 40) -> str:
    """A user's string made safe to quote in a note: short, one line, no backticks or tags."""
    value = " ".join(value.split()).replace("`", "'").replace("<", "‹").replace(">", "›")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def from_query(
    demo: Demo, query: Mapping[str, str], lang: str = "en"
) -> tuple[BaseModel, list[str]]:
    """Params from a link's query, and one note per value that could not be used.

    Each field is checked on its own against the defaults, so one bad value never discards the
    good ones; fields that are fine alone but clash together fall back to the defaults as a
    whole (with a note).
    """
    values: dict[str, Any] = {}
    notes: list[str] = []
    by_name = {control.name: control for control in demo.controls}
    for key, raw in query.items():
        if key in PAGE_KEYS:
            continue
        control = by_name.get(key)
        if control is None:
            notes.append(NOTES["unknown"](lang).format(name=_clip(key)))
            continue
        try:
            value = _decode(control, raw)
            demo.parse({key: value})
        except ValueError:  # ParamsError included
            notes.append(
                NOTES["invalid"](lang).format(
                    name=key, value=_clip(raw), allowed=_clip(control.allowed(), 160)
                )
            )
            continue
        values[key] = value
    try:
        return demo.parse(values), notes
    except ParamsError as error:
        notes.append(str(error))
        return demo.Params(), notes


def notes_markdown(notes: list[str], lang: str = "en") -> str:
    """The visible note shown above a demo opened from a link with problems ('' when none)."""
    if not notes:
        return ""
    items = "\n".join(f"- {note}" for note in notes[:8])
    more = f"\n- … (+{len(notes) - 8})" if len(notes) > 8 else ""
    return f"**{NOTES['heading'](lang)}**\n{items}{more}"
