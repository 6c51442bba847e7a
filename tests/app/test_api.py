"""The public API of the running app, through gradio_client and plain HTTP.

Generic over `demos.all_demos`: a demo added later is covered by these tests as it is.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from demos import all_demos

ROOT = Path(__file__).resolve().parents[2]
DEMOS = list(all_demos)
SLUGS = [demo.slug for demo in DEMOS]
BY_SLUG = {demo.slug: demo for demo in DEMOS}
MB_STRING = "x" * 1_000_000


@pytest.fixture(scope="module")
def client(app_url: str) -> Iterator[Client]:
    client = Client(app_url + "/", verbose=False)
    yield client
    client.close()  # ends its heartbeat stream, which would hold up the server's shutdown


def defaults(demo: Any) -> dict[str, Any]:
    return demo.Params().model_dump()


def values_of(demo: Any, overrides: dict[str, Any] | None = None) -> list[Any]:
    """The endpoint's positional values: the defaults, with `overrides`, in field order."""
    values = {**defaults(demo), **(overrides or {})}
    return [values[name] for name in demo.fields]


def call(client: Client, demo: Any, values: list[Any]) -> tuple:
    result = client.predict(*values, api_name=f"/{demo.slug}")
    return result if isinstance(result, tuple) else (result,)


# --- figure data: base64 `bdata` decoded, compared exactly -------------------------------------


def decode(obj: Any) -> Any:
    """Plotly JSON with every `{dtype, bdata[, shape]}` replaced by its numpy array."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj and set(obj) <= {"bdata", "dtype", "shape"}:
            array = np.frombuffer(
                base64.b64decode(obj["bdata"]), dtype=np.dtype("<" + obj["dtype"])
            )
            shape = obj.get("shape")
            if shape is not None:
                if isinstance(shape, str):
                    shape = [int(part) for part in shape.split(",")]
                array = array.reshape(shape)
            return array
        return {key: decode(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [decode(value) for value in obj]
    return obj


def _is_numbers(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    return isinstance(value, list) and all(
        isinstance(item, int | float | np.number) and not isinstance(item, bool) for item in value
    )


def assert_same(got: Any, want: Any, path: str = "data") -> None:
    if _is_numbers(got) and _is_numbers(want):
        got_array = np.asarray(got, dtype=float)
        want_array = np.asarray(want, dtype=float)
        assert got_array.shape == want_array.shape, f"{path}: shape"
        np.testing.assert_array_equal(got_array, want_array, err_msg=path)
    elif isinstance(got, dict) and isinstance(want, dict):
        assert sorted(got) == sorted(want), f"{path}: keys"
        for key in got:
            assert_same(got[key], want[key], f"{path}.{key}")
    elif isinstance(got, list | np.ndarray) and isinstance(want, list | np.ndarray):
        got_list, want_list = list(got), list(want)
        assert len(got_list) == len(want_list), f"{path}: length"
        for index, (a, b) in enumerate(zip(got_list, want_list, strict=True)):
            assert_same(a, b, f"{path}[{index}]")
    elif isinstance(got, float) and isinstance(want, float | np.floating):
        assert got == want or (math.isnan(got) and math.isnan(want)), path
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def check_result(demo: Any, result: tuple, overrides: dict[str, Any] | None = None) -> None:
    """The API's result is what `demo.render` gives in-process for the same values."""
    want = demo.render(demo.Params(**{**defaults(demo), **(overrides or {})}))
    assert len(result) == len(want.figures) + 1
    *plots, notes = result
    for index, (plot, figure) in enumerate(zip(plots, want.figures, strict=True)):
        assert isinstance(plot, dict) and plot.get("type") == "plotly", f"fig{index}: {plot!r:.200}"
        spec = json.loads(plot["plot"])
        assert spec.get("data"), f"fig{index} has no traces"
        want_data = decode(figure.to_plotly_json()["data"])
        assert_same(decode(spec["data"]), want_data, f"fig{index}.data")
    assert isinstance(notes, str)
    assert notes == want.notes


# --- the endpoints ------------------------------------------------------------------------------


def test_public_endpoints_are_the_demos(client: Client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {f"/{slug}" for slug in SLUGS}
    for demo in DEMOS:
        parameters = api["named_endpoints"][f"/{demo.slug}"]["parameters"]
        assert [p["parameter_name"] for p in parameters] == demo.fields


@pytest.mark.parametrize("slug", SLUGS)
def test_defaults(client: Client, slug: str) -> None:
    demo = BY_SLUG[slug]
    check_result(demo, call(client, demo, values_of(demo)))


PRESETS = [(demo.slug, name) for demo in DEMOS for name in demo.presets]


@pytest.mark.parametrize(("slug", "preset"), PRESETS)
def test_presets(client: Client, slug: str, preset: str) -> None:
    demo = BY_SLUG[slug]
    values = demo.presets[preset].model_dump()
    check_result(demo, call(client, demo, values_of(demo, values)), values)


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("which", ["min", "max"])
def test_all_at_bounds(client: Client, slug: str, which: str) -> None:
    """Every slider at one end together; for "max" also every list full (the heaviest call).

    Each bound value thus crosses the API and renders; one slider at a time would cost two
    renders per slider per demo through the server (most of this file's time at 38 demos)
    and check nothing more: tests/demos renders every demo at its bounds, and the fuzz tests
    draw accepted values at random."""
    demo = BY_SLUG[slug]
    values = demo.bounds(which).model_dump()
    check_result(demo, call(client, demo, values_of(demo, values)), values)


# --- bad values ---------------------------------------------------------------------------------


def _bad_cases() -> list[Any]:
    cases = []
    for demo in DEMOS:
        slider = next((c for c in demo.controls if c.kind == "slider"), None)
        choice = next((c for c in demo.controls if c.choices), None)
        if slider is not None:
            span = slider.maximum - slider.minimum
            above = slider.maximum + span
            below = slider.minimum - span
            if slider.integer:
                above, below = int(above), int(below)
            cases += [
                pytest.param(demo.slug, slider.name, above, id=f"{demo.slug}-above-max"),
                pytest.param(demo.slug, slider.name, below, id=f"{demo.slug}-below-min"),
                pytest.param(demo.slug, slider.name, "abc", id=f"{demo.slug}-string-for-number"),
                pytest.param(demo.slug, slider.name, MB_STRING, id=f"{demo.slug}-1mb-number"),
            ]
        if choice is not None:
            unknown = ["no-such-choice"] if choice.kind == "checkboxes" else "no-such-choice"
            big = [MB_STRING] if choice.kind == "checkboxes" else MB_STRING
            cases += [
                pytest.param(demo.slug, choice.name, unknown, id=f"{demo.slug}-unknown-choice"),
                pytest.param(demo.slug, choice.name, big, id=f"{demo.slug}-1mb-choice"),
            ]
    return cases


def assert_short_message(message: str, field: str) -> None:
    assert message.startswith(f"{field}:"), message[:400]
    assert len(message) < 400, f"{len(message)} characters: {message[:200]}…"
    assert "\n" not in message.strip(), message
    assert "Traceback" not in message
    assert "/work/" not in message and ".py" not in message, message
    assert str(ROOT) not in message


@pytest.mark.parametrize(("slug", "field", "value"), _bad_cases())
def test_bad_value_is_one_short_line(client: Client, slug: str, field: str, value: Any) -> None:
    demo = BY_SLUG[slug]
    with pytest.raises(AppError) as raised:
        call(client, demo, values_of(demo, {field: value}))
    assert_short_message(str(raised.value), field)
    # The server is fine afterwards.
    assert len(call(client, demo, values_of(demo))) == len(demo.render().figures) + 1


# gradio_client refuses to send NaN ("Out of range float values are not JSON compliant"), but
# Python's json (and so a raw HTTP client) writes NaN and Infinity: post them ourselves.


def raw_call(app_url: str, slug: str, data: list[Any]) -> tuple[str, Any]:
    """POST /gradio_api/call/<slug>, then read the event stream: (last event, its data)."""
    body = json.dumps({"data": data})  # allow_nan: NaN and Infinity go out as such
    with httpx.Client(base_url=app_url, timeout=30) as http:
        posted = http.post(
            f"/gradio_api/call/{slug}",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert posted.status_code == 200, posted.text[:400]
        event_id = posted.json()["event_id"]
        event, payload = "", None
        with http.stream("GET", f"/gradio_api/call/{slug}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    payload = json.loads(line.removeprefix("data:").strip())
                    if event in ("complete", "error"):
                        break
    return event, payload


FIRST_SLIDERS = [
    (demo.slug, slider.name)
    for demo in DEMOS
    for slider in [next((c for c in demo.controls if c.kind == "slider"), None)]
    if slider is not None
]
NON_FINITE = [
    pytest.param(slug, field, value, id=f"{slug}-{label}")
    for slug, field in FIRST_SLIDERS
    for label, value in (("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf))
]


@pytest.mark.parametrize(("slug", "field", "value"), NON_FINITE)
def test_non_finite_number_is_rejected(app_url: str, slug: str, field: str, value: float) -> None:
    demo = BY_SLUG[slug]
    event, payload = raw_call(app_url, slug, values_of(demo, {field: value}))
    assert event == "error", f"{event}: {str(payload)[:300]}"
    assert_short_message(payload["error"], field)
    event, payload = raw_call(app_url, slug, values_of(demo))
    assert event == "complete"
    assert len(payload) == len(demo.render().figures) + 1


@pytest.mark.parametrize("slug", SLUGS)
def test_wrong_number_of_values(app_url: str, client: Client, slug: str) -> None:
    demo = BY_SLUG[slug]
    values = values_of(demo)
    event, payload = raw_call(app_url, slug, values[:-1])
    assert event == "error", f"too few values accepted: {str(payload)[:300]}"
    # Gradio rejects it before the handler and, with show_error=False, says nothing more.
    assert payload.get("error") is None or len(str(payload["error"])) < 400
    event, payload = raw_call(app_url, slug, [])
    assert event == "error", f"no values accepted: {str(payload)[:300]}"
    # Too many: Gradio drops the extra values before the handler; either way, no crash.
    event, _ = raw_call(app_url, slug, [*values, 1, 2])
    assert event in ("complete", "error")
    assert len(call(client, demo, values)) == len(demo.render().figures) + 1


# --- routes and files ---------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_demo_page_is_served_with_or_without_slash(app_url: str, slug: str) -> None:
    for path in (f"/demo/{slug}", f"/demo/{slug}/", f"/demo/{slug}?lang=zh"):
        response = httpx.get(app_url + path, follow_redirects=False)
        assert response.status_code == 200, path
        assert f'"{slug}-fig0"' in response.text  # the page's config: this demo's plots


def test_unknown_demo_link_is_404(app_url: str) -> None:
    response = httpx.get(f"{app_url}/demo/no-such-demo", follow_redirects=False)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", str(ROOT / "app" / "server.py"), str(ROOT / "pyproject.toml")],
    ids=["etc-passwd", "app-server-py", "pyproject"],
)
def test_files_are_not_served(app_url: str, path: str) -> None:
    response = httpx.get(f"{app_url}/gradio_api/file={path}", follow_redirects=False)
    assert response.status_code in (403, 404), (response.status_code, response.text[:200])
    assert "root:" not in response.text
    assert "import" not in response.text
