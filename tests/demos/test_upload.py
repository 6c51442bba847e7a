"""demos.base: a demo may take an uploaded file (Upload), checked before its render sees it."""

import pytest
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, ParamsError, Rendered, Text, Upload, param


class Params(BaseModel):
    model_config = PARAMS_CONFIG
    scale: int = param(1, en="Scale", zh="比例", ge=1, le=3)


def _load(raw: bytes) -> list[int]:
    if raw.startswith(b"bad"):
        raise ParamsError("file: starts with bad\nsecond line")
    if raw.startswith(b"boom"):
        raise KeyError("a loader bug")
    return [int(part) for part in raw.split(b",")]


def _render_with_data(p: Params, lang: str, data: list[int] | None) -> Rendered:
    return Rendered([], f"{lang}:{p.scale}:{data}")


def _render(p: Params, lang: str) -> Rendered:
    return Rendered([], f"{lang}:{p.scale}")


def _demo(upload: Upload | None, render=_render_with_data) -> Demo:
    return Demo(
        slug="map",
        section="vision",
        title=Text("t", "标题"),
        summary=Text("s", "摘要"),
        sources=(),
        Params=Params,
        render_fn=render,
        presets={},
        preset_titles={},
        explanation=Text("e", "说明"),
        upload=upload,
    )


UPLOAD = Upload(
    label=Text("Numbers (CSV)", "数字（CSV）"),
    help=Text("Comma-separated integers.", "逗号分隔的整数。"),
    max_bytes=20,
    suffixes=(".csv",),
    load=_load,
)


def test_render_passes_the_loaded_data_and_none_without_a_file():
    demo = _demo(UPLOAD)
    data = demo.load_upload(b"1,2,3")
    assert data == [1, 2, 3]
    assert demo.render(lang="zh", data=data).notes == "zh:1:[1, 2, 3]"
    assert demo.render(Params(scale=2)).notes == "en:2:None"


def test_a_demo_without_upload_renders_as_before():
    demo = _demo(None, render=_render)
    assert demo.upload is None
    assert demo.render(Params(scale=3), lang="zh").notes == "zh:3"
    with pytest.raises(ParamsError, match="takes no file"):
        demo.load_upload(b"1")


def test_the_size_is_checked_before_the_loader_runs():
    demo = _demo(UPLOAD)
    assert demo.load_upload(b"1" * 20) == [int(b"1" * 20)]
    with pytest.raises(
        ParamsError, match=r"^file: larger than 0.02 KB \(0.033 KB given\)$"
    ) as error:
        demo.load_upload(b"bad" + b"1" * 30)  # would be refused by the loader too
    assert "starts with bad" not in str(error.value)


def test_loader_errors_come_back_as_one_line_and_bugs_as_a_generic_message():
    demo = _demo(UPLOAD)
    with pytest.raises(ParamsError) as error:
        demo.load_upload(b"bad,1")
    assert str(error.value) == "file: starts with bad second line"
    with pytest.raises(ParamsError) as error:
        demo.load_upload(b"boom")
    assert str(error.value) == "file: could not be read as Numbers (CSV)"
    assert isinstance(error.value.__cause__, KeyError)
    with pytest.raises(ParamsError, match="could not be read"):
        demo.load_upload(b"x,y")  # the loader's ValueError
    with pytest.raises(ParamsError, match="bytes"):
        demo.load_upload("1,2")


def test_upload_size_cap_is_the_apps():
    too_big = Upload(UPLOAD.label, UPLOAD.help, 1_000_001, (".csv",), _load)
    with pytest.raises(ValueError, match="max_bytes"):
        _demo(too_big)
