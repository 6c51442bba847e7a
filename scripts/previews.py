"""Make the gallery's preview pictures: each live demo's first figure at its defaults.

    .venv/bin/python -m scripts.previews            # every demo whose picture is missing or stale
    .venv/bin/python -m scripts.previews --all      # every demo
    .venv/bin/python -m scripts.previews map spp    # these demos

Plotly's own static export (`Plotly.toImage`) in Debian's chromium, driven by Playwright, with
the plotly.js that the plotly package bundles (nothing is fetched). Writes
assets/previews/<slug>.light.webp and .dark.webp, and, in assets/previews/index.json, the hash of
the default render each picture shows (app.gallery.render_hash): tests/app/test_gallery.py fails
when a demo's render changed and its picture was not made again.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import plotly

from app.gallery import PREVIEW_SIZE, PREVIEWS, preview_index, preview_name, render_hash
from demos import all_demos
from demos.theme import figure_json

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]
SCALE = 1.5  # layout of 480 × 300 CSS pixels drawn at 720 × 450: sharp on a 1.5× screen
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

EXPORT_JS = """async ([spec, width, height, scale]) => {
  const div = document.createElement('div');
  document.body.appendChild(div);
  const layout = {...spec.layout, width, height, title: {text: ''}, updatemenus: [], sliders: [],
                  margin: {l: 40, r: 10, t: 16, b: 32}, showlegend: false};
  await Plotly.newPlot(div, spec.data, layout, {staticPlot: true});
  const url = await Plotly.toImage(div, {format: 'webp', width, height, scale});
  Plotly.purge(div); div.remove();
  return url;
}"""


def preview_figure(demo) -> object:
    return demo.render(lang="en").figures[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="demos to draw (default: missing or stale)")
    parser.add_argument("--all", action="store_true", help="draw every live demo")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    index = preview_index()
    hashes = {demo.slug: render_hash(demo) for demo in all_demos}
    wanted = [
        demo
        for demo in all_demos
        if args.all
        or demo.slug in args.slugs
        or (
            not args.slugs
            and (
                index.get(demo.slug) != hashes[demo.slug]
                or not all(
                    (PREVIEWS / preview_name(demo.slug, t)).is_file() for t in ("light", "dark")
                )
            )
        )
    ]
    PREVIEWS.mkdir(parents=True, exist_ok=True)
    width, height = PREVIEW_SIZE
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.set_content("<html><body style='margin:0'></body></html>")
        page.add_script_tag(path=str(PLOTLY_JS))
        for demo in wanted:
            figure = preview_figure(demo)
            for theme in ("light", "dark"):
                spec = json.loads(figure_json(figure, theme))
                url = page.evaluate(EXPORT_JS, [spec, width, height, SCALE])
                data = url.split(",", 1)[1]
                import base64

                (PREVIEWS / preview_name(demo.slug, theme)).write_bytes(base64.b64decode(data))
            index[demo.slug] = hashes[demo.slug]
            print(f"{demo.slug}: drawn")
        browser.close()
    live = {demo.slug for demo in all_demos}
    index = {slug: value for slug, value in sorted(index.items()) if slug in live}
    (PREVIEWS / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
