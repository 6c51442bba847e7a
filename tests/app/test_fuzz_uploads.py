"""Uploads, in-process: every demo with an `upload` refuses hostile files in one short line.

The contract (demos.base): `Demo.upload` is None or an Upload (`label`, `help`, `max_bytes` ≤
1 MB, `suffixes`, `load(bytes)` raising ParamsError); `Demo.load_upload(raw)` checks the size
first, then calls `load`, and raises only ParamsError, with a one-line message.

Generic over `demos.all_demos`; the checks are also run on a small JSON-loading stand-in
defined here (`BOXES`), and on two broken ones, so that they are known to pass on a correct
upload and to fail on a careless one before any real demo has an upload.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demos import all_demos
from demos.base import ParamsError, Text

APP_MAX_FILE_BYTES = 1024 * 1024  # app.server mounts Gradio with max_file_size="1mb"
DEEP = 100_000  # nesting depth: far past Python's recursion limit, well under 1 MB


# --- a stand-in with the same interface, and two careless ones ---------------------------------


@dataclass(frozen=True)
class StandInUpload:
    label: Text
    help: Text
    max_bytes: int
    suffixes: tuple[str, ...]
    load: Any


@dataclass(frozen=True)
class StandInDemo:
    slug: str
    upload: StandInUpload
    check_size: bool = True

    def load_upload(self, raw: bytes) -> Any:
        if self.check_size and len(raw) > self.upload.max_bytes:
            raise ParamsError(
                f"{self.upload.label.en}: {len(raw):,} bytes, over the "
                f"{self.upload.max_bytes:,}-byte limit"
            )
        return self.upload.load(raw)


def load_boxes(raw: bytes) -> list[list[float]]:
    """{"boxes": [[x1, y1, x2, y2], ...]} with at most 1000 finite boxes."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ParamsError("boxes file: not UTF-8 text") from None
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise ParamsError("boxes file: not valid JSON") from None
    shape = 'boxes file: expected {"boxes": [[x1, y1, x2, y2], ...]} with at most 1000 boxes'
    if not isinstance(document, dict) or set(document) != {"boxes"}:
        raise ParamsError(shape)
    boxes = document["boxes"]
    if not isinstance(boxes, list) or len(boxes) > 1000:
        raise ParamsError(shape)
    for box in boxes:
        if not (
            isinstance(box, list)
            and len(box) == 4
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in box
            )
        ):
            raise ParamsError(f"{shape}; each box four finite numbers")
    return boxes


def load_boxes_carelessly(raw: bytes) -> Any:
    return json.loads(raw)["boxes"]  # any exception escapes


def stand_in(load: Any, check_size: bool = True) -> StandInDemo:
    upload = StandInUpload(
        Text("Boxes (JSON)", "框（JSON）"),
        Text("Up to 1000 boxes", "最多 1000 个框"),
        200_000,
        (".json",),
        load,
    )
    return StandInDemo("stand-in", upload, check_size)


BOXES = stand_in(load_boxes)
CARELESS_LOADER = stand_in(load_boxes_carelessly)
NO_SIZE_CHECK = stand_in(load_boxes, check_size=False)


# --- the checks -----------------------------------------------------------------------------------


def refusal_problem(demo: Any, raw: bytes, must_refuse: bool) -> str | None:
    """What is wrong with how `demo.load_upload(raw)` answers, or None."""
    try:
        demo.load_upload(raw)
    except ParamsError as error:
        message = str(error)
        if "\n" in message or len(message) > 300:
            return f"not one short line: {message[:200]!r}"
        for leak in ("Traceback", "/work/", '.py"', 'File "'):
            if leak in message:
                return f"leaks {leak!r}: {message[:200]!r}"
        return None
    except Exception as error:  # anything but ParamsError reaches the user as a crash
        return f"{type(error).__name__} escaped: {str(error)[:120]}"
    return "accepted" if must_refuse else None


def hostile_files(demo: Any) -> dict[str, bytes]:
    """Files every upload must refuse, whatever its schema."""
    limit = demo.upload.max_bytes
    return {
        "empty": b"",
        "whitespace": b" \n\t ",
        "truncated-object": b'{"boxes": [[0, 0, 1, 1], [0, 0',
        "truncated-list": b"[[1, 2, 3",
        "not-json": b"hello, world",
        "python-literal": b"{'boxes': [(0, 0, 1, 1)]}",
        "binary": bytes(range(256)) * 4,
        "png-header": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        "nul-bytes": b"\x00" * 1000,
        "invalid-utf8": b'{"boxes": "\xff\xfe"}',
        "utf16": '{"boxes": []}'.encode("utf-16"),
        "deep-lists": b"[" * DEEP + b"]" * DEEP,
        "deep-objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        "number": b"42",
        "string": b'"boxes"',
        "null": b"null",
        # Valid JSON padded past the limit: only a size check done before parsing refuses it.
        "oversized": b'{"boxes": []}' + b" " * limit,
        "oversized-binary": b"\x00" * (limit + 1),
    }


def maybe_files() -> dict[str, bytes]:
    """Files a schema may accept or refuse, but must not crash on."""
    return {
        "object": b"{}",
        "list": b"[]",
        "nan": b'{"boxes": [[NaN, 0, 1, 1]]}',
        "infinity": b'{"boxes": [[0, 0, Infinity, 1e999]]}',
        "huge-int": b'{"boxes": [[' + b"9" * 5000 + b", 0, 1, 1]]}",
        "unknown-key": b'{"no_such_key": 1}',
        "wrong-types": b'{"boxes": "all of them", "score": [true, null]}',
        "many-items": json.dumps({"boxes": [[0, 0, 1, 1]] * 20_000}).encode(),
        "bom": b'\xef\xbb\xbf{"boxes": []}',
        "duplicate-keys": b'{"boxes": [], "boxes": [[0, 0, 1, 1]]}',
    }


def problems(demo: Any) -> list[str]:
    found = []
    for name, raw in hostile_files(demo).items():
        problem = refusal_problem(demo, raw, must_refuse=True)
        if problem:
            found.append(f"{name}: {problem}")
    for name, raw in maybe_files().items():
        problem = refusal_problem(demo, raw, must_refuse=False)
        if problem:
            found.append(f"{name}: {problem}")
    return found


# --- the tests ------------------------------------------------------------------------------------

UPLOADING = [demo for demo in all_demos if getattr(demo, "upload", None)]
# Every real upload, and the stand-in: the checks are seen to pass on a careful upload.
CHECKED = [pytest.param(demo, id=demo.slug) for demo in UPLOADING]
CHECKED.append(pytest.param(BOXES, id="stand-in"))


@pytest.mark.parametrize("demo", CHECKED)
def test_upload_is_declared_within_the_app_limits(demo: Any) -> None:
    upload = demo.upload
    assert 0 < upload.max_bytes <= 1_000_000 <= APP_MAX_FILE_BYTES
    assert upload.suffixes and all(suffix.startswith(".") for suffix in upload.suffixes)
    assert upload.label.en and upload.label.zh


@pytest.mark.parametrize("demo", CHECKED)
def test_hostile_files_are_refused_in_one_line(demo: Any) -> None:
    assert problems(demo) == []


@pytest.mark.parametrize("demo", CHECKED)
def test_random_bytes_and_json_never_crash_the_loader(demo: Any) -> None:
    documents = st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=30,
    )
    files = st.binary(max_size=2000) | documents.map(lambda d: json.dumps(d).encode())

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(files)
    def check(raw: bytes) -> None:
        assert refusal_problem(demo, raw, must_refuse=False) is None

    check()


def test_the_stand_in_accepts_a_good_file() -> None:
    assert BOXES.load_upload(b'{"boxes": [[0, 0, 1, 1.5]]}') == [[0, 0, 1, 1.5]]


@pytest.mark.parametrize(
    ("careless", "expected"),
    [
        (CARELESS_LOADER, ["deep-lists: RecursionError escaped", "not-json: JSONDecodeError"]),
        (NO_SIZE_CHECK, ["oversized: accepted"]),
    ],
    ids=["exceptions-escape", "no-size-check"],
)
def test_the_checks_catch_a_careless_upload(careless: StandInDemo, expected: list[str]) -> None:
    found = problems(careless)
    for problem in expected:
        assert any(line.startswith(problem) for line in found), (problem, found)
