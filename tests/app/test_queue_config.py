"""The queues bound concurrency and waiting requests (in-process: the built apps' settings)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from app.server import create_app
from app.ui import API_CONCURRENCY, QUEUE_SIZE, RENDER_CONCURRENCY, RENDER_SLOTS
from demos import all_demos


def test_every_render_is_in_a_bounded_concurrency_group_and_the_queues_are_bounded():
    app = create_app()
    api = app.state.api.blocks("")
    page = app.state.pages.blocks(all_demos[0].slug)
    for blocks, limit in ((api, API_CONCURRENCY), (page, RENDER_CONCURRENCY)):
        assert blocks._queue.max_size == QUEUE_SIZE
        renders = [fn for fn in blocks.fns.values() if fn.concurrency_id == "render"]
        assert renders and all(fn.concurrency_limit == limit for fn in renders)
    api_names = {fn.api_name for fn in api.fns.values() if fn.concurrency_id == "render"}
    assert {demo.slug for demo in all_demos} <= api_names  # every public endpoint renders there
    heavy = [fn for fn in page.fns.values() if fn.name in ("render", "on_load", "switch_lang")]
    assert len(heavy) >= 3 and all(fn.concurrency_id == "render" for fn in heavy)
    # Each page has its own queue: one semaphore bounds the renders of all of them together.
    assert RENDER_SLOTS._initial_value == RENDER_CONCURRENCY
