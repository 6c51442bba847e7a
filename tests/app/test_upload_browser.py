"""Uploads in the real browser, for every demo that declares one (generic over the registry).

The demo's own example file (offered at /example/<slug>) is uploaded through the file picker:
the notes must change to the file's evaluation. A malformed file must give a one-line error
toast, keep the page working, and the upload must be gone from the server's cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from demos import all_demos

ROOT = Path(__file__).resolve().parents[2]
WITH_UPLOAD = [demo for demo in all_demos if demo.upload is not None]


@pytest.mark.parametrize("demo", WITH_UPLOAD, ids=lambda demo: demo.slug)
def test_example_file_is_served(app_url: str, demo: Any) -> None:
    response = httpx.get(f"{app_url}/example/{demo.slug}")
    assert response.status_code == 200
    assert response.content == (ROOT / demo.upload.example).read_bytes()
    # The example loads with the demo's own loader.
    assert demo.load_upload(response.content) is not None


def test_no_example_route_for_demos_without_upload(app_url: str) -> None:
    plain = next(demo for demo in all_demos if demo.upload is None)
    assert httpx.get(f"{app_url}/example/{plain.slug}").status_code == 404
    assert httpx.get(f"{app_url}/example/..%2F..%2Fetc%2Fpasswd").status_code == 404


@pytest.mark.parametrize("demo", WITH_UPLOAD, ids=lambda demo: demo.slug)
def test_upload_drives_the_demo_and_bad_files_get_a_message(
    page: Any, app_url: str, wait_ready: Any, demo: Any, tmp_path: Path
) -> None:
    slug = demo.slug
    wait_ready(page, f"{app_url}/demo/{slug}")
    notes = page.locator(f"#{slug}-notes")
    before = notes.inner_text()
    page.set_input_files(f"#{slug}-upload input[type=file]", str(ROOT / demo.upload.example))
    page.wait_for_function(
        "([sel, old]) => { const el = document.querySelector(sel);"
        " return el && el.innerText !== old && el.innerText.trim().length > 0; }",
        arg=[f"#{slug}-notes", before],
    )
    assert notes.inner_text() != before

    # Remove the file (the demo goes back to its own data), then try a malformed one.
    page.locator(f"#{slug}-upload button[aria-label='Clear']").first.click()
    page.wait_for_selector(f"#{slug}-upload input[type=file]", state="attached")
    bad = tmp_path / f"bad{demo.upload.suffixes[0]}"
    bad.write_bytes(b"\xff\xfe not text at all")
    page.set_input_files(f"#{slug}-upload input[type=file]", str(bad))
    toast = page.locator(".toast-body").filter(has_text="file:")
    toast.first.wait_for()
    message = toast.first.inner_text()
    assert "Traceback" not in message and "/" not in message.split("file:", 1)[1][:80]
