"""The playground with a chosen registry, for measuring pages at 1 demo and at 38.

    .venv/bin/python -m benchmarks.clones --count 38     # live demos cloned onto every free slug
    .venv/bin/python -m benchmarks.clones --only activations

Clones are `dataclasses.replace(demo, slug=<free catalogue slug>)` of the live demos in turn,
so a 38-demo page carries 38 real entries in its navigation and 38 endpoints in the API.
"""

from __future__ import annotations

import argparse
import dataclasses

from demos import CATALOGUE, all_demos


def clone_to(count: int) -> None:
    """Extend `demos.all_demos` to `count` demos with copies of the live ones."""
    live = list(all_demos)
    taken = {demo.slug for demo in live}
    free = [slug for slug in CATALOGUE if slug not in taken]
    for index, slug in enumerate(free[: max(0, count - len(live))]):
        all_demos.append(dataclasses.replace(live[index % len(live)], slug=slug, _controls=[]))


def only(slug: str) -> None:
    """Leave `demos.all_demos` with one demo."""
    all_demos[:] = [demo for demo in all_demos if demo.slug == slug]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=0, help="clone up to this many demos")
    parser.add_argument("--only", default="", help="register this demo alone")
    args = parser.parse_args()
    if args.only:
        only(args.only)
    if args.count:
        clone_to(args.count)
    from app.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
