"""One demo a page: a page's weight does not grow with the number of demos, pages are built
on their first request, old links land on the demo's page, and the API is still at `/`.

In-process (FastAPI's TestClient runs the app's lifespan), with the registry changed the way
benchmarks/clones.py changes it; the registry is restored after each test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from benchmarks.clones import clone_to, only
from demos import CATALOGUE, all_demos

LIVE = list(all_demos)
MAX_RATIO = 1.25  # the rule: one page at 38 demos ≤ 1.25 × the same page alone


@pytest.fixture
def registry() -> Iterator[None]:
    yield
    all_demos[:] = LIVE


def page_bytes(slug: str) -> int:
    from app.server import create_app

    with TestClient(create_app()) as client:
        response = client.get(f"/demo/{slug}")
        assert response.status_code == 200
        return len(response.content)


@pytest.mark.parametrize("slug", ["activations", "map"])
def test_a_page_weighs_the_same_with_38_demos(registry: None, slug: str) -> None:
    only(slug)
    alone = page_bytes(slug)
    all_demos[:] = LIVE
    clone_to(len(CATALOGUE))
    assert len(all_demos) == len(CATALOGUE) == 38
    crowded = page_bytes(slug)
    assert crowded <= MAX_RATIO * alone, (alone, crowded)


def test_pages_are_built_on_first_request_only(registry: None) -> None:
    from app.server import create_app

    app = create_app()
    with TestClient(app) as client:
        assert app.state.pages.apps == {}  # nothing built at start
        assert client.get("/").status_code == 200
        assert app.state.pages.apps == {}  # the gallery builds no page
        assert client.get("/demo/spp").status_code == 200
        assert set(app.state.pages.apps) == {"spp"}


def test_page_carries_its_demo_only(registry: None) -> None:
    from app.server import create_app

    with TestClient(create_app()) as client:
        text = client.get("/demo/spp").text
    # Components of one demo only (its elem_ids); the others appear as links, not controls.
    ids = set(re.findall(r'"elem_id":\s*"([a-z0-9-]+)-(?:fig0|preset)"', text))
    assert ids == {"spp"}, ids
    for demo in LIVE:
        if demo.slug != "spp":
            assert f'"{demo.slug}-preset"' not in text
            assert f"/demo/{demo.slug}" in text  # the navigation links to it


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/?demo=spp", "/demo/spp"),
        ("/?demo=spp&levels=3&lang=zh", "/demo/spp?levels=3&lang=zh"),
        ("/?demo=spp&embed=1&theme=dark", "/demo/spp?theme=dark"),
    ],
)
def test_old_links_land_on_the_demo_page(registry: None, path: str, target: str) -> None:
    from app.server import create_app

    with TestClient(create_app()) as client:
        response = client.get(path, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == target


def test_page_without_trailing_slash_serves_assets(registry: None) -> None:
    """`/demo/<slug>` (no slash) is the page; its relative assets resolve to /demo/assets/."""
    from app.server import create_app

    with TestClient(create_app()) as client:
        text = client.get("/demo/spp").text
        asset = re.search(r'src="\./(assets/[^"]+\.js)"', text)
        assert asset, text[:500]
        assert client.get(f"/demo/{asset[1]}").status_code == 200
        assert client.get(f"/demo/spp/{asset[1]}").status_code == 200
        assert client.get("/demo/no-such-demo").status_code == 404


def test_export_link_ignores_a_forwarded_host_unless_trusted(
    registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone can send X-Forwarded-Host: the export's link back uses the request's own host."""
    from app.server import create_app

    monkeypatch.delenv("PLAYGROUND_TRUST_FORWARDED_HOST", raising=False)
    headers = {"x-forwarded-host": "evil.example", "host": "playground.test"}
    with TestClient(create_app()) as client:
        page = client.get("/export/spp.html", headers=headers).text
        assert "evil.example" not in page and "http://playground.test/demo/spp" in page
        monkeypatch.setenv("PLAYGROUND_TRUST_FORWARDED_HOST", "1")
        page = client.get("/export/spp.html", headers=headers).text
        assert "http://evil.example/demo/spp" in page


@pytest.mark.parametrize("path", ["/", "/config", "/demo/spp", "/gradio_api/info"])
def test_a_very_long_url_is_414_in_one_line(registry: None, path: str) -> None:
    from app.server import create_app

    with TestClient(create_app()) as client:
        response = client.get(f"{path}?a={'x' * 20_000}")  # httpx refuses 65,536
    assert response.status_code == 414
    assert len(response.text) < 200 and "Traceback" not in response.text
