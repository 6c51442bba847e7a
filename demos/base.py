"""The demo contract: what every topic module declares, and the helpers they share.

A demo is one `Demo` object in `demos/<topic>.py`: slug, titles and explanation in English and
Chinese, a pydantic `Params` model (bounds are the resource guard), a pure `render` and named
presets. The app builds its controls, endpoints and links from nothing else.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types
import plotly.graph_objects as go
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

# Every Params model: unknown fields rejected, NaN and ±inf rejected before any bound check.
PARAMS_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


@dataclass(frozen=True)
class Text:
    """A string in both languages; `text("zh")` picks one, `str(text)` is the English."""

    en: str
    zh: str

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __str__(self) -> str:
        return self.en


# Every topic slug of ../shared/TOPICS.md, in its order: the registry lists live demos so.
CATALOGUE: tuple[str, ...] = (
    "flash-attention", "attention-variants", "rnn-vs-transformer", "ssm", "llama-blocks", "moe",
    "medusa", "activations", "adam-vs-adamw", "stochastic-approximation",
    "gradient-checkpointing", "mixed-precision", "autograd", "nn-vs-functional", "ddp",
    "api-export", "upsampling", "spp", "iou-losses", "map", "varifocal", "centernet", "detr",
    "pose-rle", "face-recognition", "normalizing-flows", "flow-matching", "sd3", "xgboost",
    "ensembles", "lora", "prompt-tuning", "dpo", "alpaca", "clip", "siglip", "blip", "chameleon",
)  # fmt: skip

SECTIONS: dict[str, Text] = {  # catalogue order of ../shared/TOPICS.md
    "attention": Text("Attention and sequence models", "注意力与序列模型"),
    "training": Text("Training and optimization", "训练与优化"),
    "vision": Text("Vision and detection", "视觉与检测"),
    "generative": Text("Generative models", "生成模型"),
    "classic": Text("Classic machine learning", "经典机器学习"),
    "finetuning": Text("Fine-tuning and alignment", "微调与对齐"),
    "multimodal": Text("Multimodal", "多模态"),
}


@dataclass(frozen=True)
class Source:
    """A paper or article a demo explains."""

    title: str
    authors: str
    year: int
    url: str = ""

    def markdown(self) -> str:
        title = f"[{self.title}]({self.url})" if self.url else self.title
        return f"{self.authors} ({self.year}). *{title}*"


@dataclass
class Rendered:
    """What `render` returns: Plotly figures, and short markdown for numbers better read."""

    figures: list[go.Figure]
    notes: str = ""


def param(
    default: Any,
    *,
    en: str,
    zh: str,
    help_en: str = "",
    help_zh: str = "",
    step: float | None = None,
    choices: dict[str, Text] | None = None,
    **constraints: Any,
) -> Any:
    """A pydantic Field with labels in both languages and hints for the generated control.

    `constraints` are pydantic's (`ge`, `le`, `min_length`, ...); `step` is the slider step;
    `choices` labels the values of a Literal field.
    """
    extra: dict[str, Any] = {"label_zh": zh, "help_zh": help_zh}
    if step is not None:
        extra["step"] = step
    if choices:
        extra["choices"] = {value: [text.en, text.zh] for value, text in choices.items()}
    return Field(default, title=en, description=help_en, json_schema_extra=extra, **constraints)


@dataclass(frozen=True)
class Control:
    """What the app needs to build one control for a Params field."""

    name: str
    kind: Literal["slider", "radio", "dropdown", "checkbox", "checkboxes", "text"]
    default: Any
    label: Text
    help: Text
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    integer: bool = False
    choices: tuple[tuple[str, Text], ...] = ()
    max_length: int | None = None  # a "text" control's cap in characters

    def allowed(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind == "slider":
            return f"{_number(self.minimum)}..{_number(self.maximum)}"
        if self.kind == "checkbox":
            return "true or false"
        if self.kind == "text":
            return f"one line of at most {self.max_length} characters"
        return ", ".join(value for value, _ in self.choices)


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _bound(info: Any, kind: type, attribute: str) -> float | None:
    for item in info.metadata:
        if isinstance(item, kind):
            return getattr(item, attribute)
    return None


def controls(params_type: type[BaseModel]) -> list[Control]:
    """One Control per field, in declaration order (which is also the API's argument order)."""
    result = []
    for name, info in params_type.model_fields.items():
        extra = info.json_schema_extra or {}
        label = Text(info.title or name, extra.get("label_zh") or info.title or name)
        help_text = Text(info.description or "", extra.get("help_zh", ""))
        annotation = info.annotation
        choice_labels = extra.get("choices", {})

        def labelled(values: tuple[str, ...], names: dict = choice_labels) -> tuple:
            return tuple((v, Text(*names.get(v, (v, v)))) for v in values)

        common = {
            "name": name,
            "default": info.default,
            "label": label,
            "help": help_text,
        }
        if annotation is bool:
            result.append(Control(kind="checkbox", **common))
        elif annotation is str:
            max_length = _bound(info, annotated_types.MaxLen, "max_length")
            if max_length is None:
                raise TypeError(f"{params_type.__name__}.{name}: text needs max_length=")
            result.append(Control(kind="text", max_length=max_length, **common))
        elif annotation in (int, float):
            minimum = _bound(info, annotated_types.Ge, "ge")
            maximum = _bound(info, annotated_types.Le, "le")
            if minimum is None or maximum is None:
                raise TypeError(f"{params_type.__name__}.{name}: numbers need ge= and le=")
            integer = annotation is int
            step = extra.get("step") or (1 if integer else (maximum - minimum) / 100)
            result.append(
                Control(
                    kind="slider",
                    minimum=minimum,
                    maximum=maximum,
                    step=step,
                    integer=integer,
                    **common,
                )
            )
        elif typing.get_origin(annotation) is Literal:
            values = typing.get_args(annotation)
            kind = "radio" if len(values) <= 4 else "dropdown"
            result.append(Control(kind=kind, choices=labelled(values), **common))
        elif typing.get_origin(annotation) is list:
            (item,) = typing.get_args(annotation)
            if typing.get_origin(item) is not Literal:
                raise TypeError(f"{params_type.__name__}.{name}: lists must be of a Literal")
            values = typing.get_args(item)
            result.append(Control(kind="checkboxes", choices=labelled(values), **common))
        else:
            raise TypeError(f"{params_type.__name__}.{name}: no control for {annotation!r}")
    return result


MAX_UPLOAD_BYTES = 1_000_000  # the app's cap on an uploaded file


@dataclass(frozen=True)
class Upload:
    """A file the learner may give a demo (the app shows a file picker)."""

    label: Text  # e.g. Text("COCO ground truth + detections (JSON)", "...")
    help: Text  # what the file must contain, one or two sentences
    max_bytes: int  # at most 1_000_000 (the app's cap)
    suffixes: tuple[str, ...]  # e.g. (".json",)
    load: Callable[[bytes], Any]  # parse + schema-check; raises ParamsError with a one-line message
    example: str = ""  # a sample file, relative to the repository root, offered for download


@dataclass(frozen=True)
class Demo:
    """One topic of the playground (see ../shared/ARCHITECTURE.md, "demos/")."""

    slug: str
    section: str
    title: Text
    summary: Text
    sources: tuple[Source, ...]
    Params: type[BaseModel]
    render_fn: Callable[..., Rendered]  # (params, lang), or (params, lang, data) with an upload
    presets: dict[str, BaseModel]
    preset_titles: dict[str, Text]
    explanation: Text
    _controls: list[Control] = field(default_factory=list, repr=False)
    upload: Upload | None = None  # data given to render_fn: what upload.load returned, or None
    # How many figures `render` returns (always the same number): the app lays out that many
    # plots before anything renders. None: counted by one render at the defaults when needed.
    figures: int | None = None

    def __post_init__(self) -> None:
        if self.slug not in CATALOGUE:
            raise ValueError(f"{self.slug}: not a topic of the catalogue")
        if self.section not in SECTIONS:
            raise ValueError(f"{self.slug}: unknown section {self.section!r}")
        if set(self.presets) != set(self.preset_titles):
            raise ValueError(f"{self.slug}: every preset needs a title in both languages")
        if self.upload is not None and not 0 < self.upload.max_bytes <= MAX_UPLOAD_BYTES:
            raise ValueError(f"{self.slug}: upload.max_bytes must be in 1..{MAX_UPLOAD_BYTES}")
        if self.figures is not None and self.figures < 1:
            raise ValueError(f"{self.slug}: figures must be at least 1")
        self._controls.extend(controls(self.Params))

    @property
    def controls(self) -> list[Control]:
        return self._controls

    def figure_count(self) -> int:
        """The number of figures `render` returns: declared, or counted once at the defaults."""
        if self.figures is None:
            object.__setattr__(self, "figures", len(self.render().figures))
        return self.figures

    @property
    def fields(self) -> list[str]:
        return [control.name for control in self._controls]

    def render(
        self, params: BaseModel | None = None, *, lang: str = "en", data: Any = None
    ) -> Rendered:
        """Figures for `params` (the defaults when None), and for `data` loaded from an upload
        when the demo takes one. Pure: same input, same output."""
        if params is None:
            params = self.Params()
        elif not isinstance(params, self.Params):
            raise TypeError(f"{self.slug}: render takes {self.Params.__name__}")
        if self.upload is not None:
            return self.render_fn(params, lang, data)
        return self.render_fn(params, lang)

    def load_upload(self, raw: bytes) -> Any:
        """The demo's data from an uploaded file; raises ParamsError with one clear line."""
        if self.upload is None:
            raise ParamsError(f"{self.slug}: this demo takes no file")
        if not isinstance(raw, (bytes, bytearray)):
            raise ParamsError("file: expected the file's bytes")
        if len(raw) > self.upload.max_bytes:
            raise ParamsError(
                f"file: larger than {self.upload.max_bytes / 1000:g} KB "
                f"({len(raw) / 1000:.4g} KB given)"
            )
        try:
            return self.upload.load(raw)
        except ParamsError as error:
            raise ParamsError(_shorten(str(error))) from None
        except Exception as error:  # a loader's bug or an unforeseen file: one line, not a trace
            raise ParamsError(f"file: could not be read as {self.upload.label.en}") from error

    def bounds(self, which: Literal["min", "max"]) -> BaseModel:
        """Params at one end of every range: sliders at their min or max; for "max" every list
        full and every checkbox ticked (the heaviest request `Params` accept). Text keeps its
        default: which string is heaviest is the demo's to say (its presets and tests)."""
        values: dict[str, Any] = {}
        for control in self._controls:
            if control.kind == "slider":
                values[control.name] = control.minimum if which == "min" else control.maximum
            elif control.kind == "checkboxes" and which == "max":
                values[control.name] = [value for value, _ in control.choices]
            elif control.kind == "checkbox":
                values[control.name] = which == "max"
        return self.Params(**values)

    def parse(self, values: dict[str, Any]) -> BaseModel:
        """Params from raw values (a request, a link); raises ParamsError with one clear line."""
        try:
            return self.Params(**values)
        except ValidationError as error:
            raise ParamsError(self.describe(error)) from None

    def describe(self, error: ValidationError) -> str:
        """'field: what is wrong (allowed ...)' for the first problem of a validation error."""
        problems = error.errors(include_url=False, include_input=False)
        first = problems[0]
        name = str(first["loc"][0]) if first["loc"] else "params"
        message = first["msg"]
        if first["type"] == "value_error":  # a validator's own one line, e.g. "column 3: ..."
            message = message.removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown parameter (allowed: {', '.join(self.fields)})"
        elif first["type"] == "literal_error":
            control = next(c for c in self._controls if c.name == name)
            message = f"unknown choice (allowed: {control.allowed()})"
        else:
            control = next((c for c in self._controls if c.name == name), None)
            if control is not None and control.kind != "text":  # text: the message says it
                message += f" (allowed {control.allowed()})"
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return _shorten(f"{name}: {message}{more}")


class ParamsError(ValueError):
    """A request's parameters were rejected; the message is one line for the user."""


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
