"""The queue bounds concurrency and waiting requests (in-process: the built app's settings)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from app.server import create_app
from app.ui import QUEUE_SIZE, RENDER_CONCURRENCY
from demos import all_demos


def test_every_render_shares_one_bounded_concurrency_group_and_the_queue_is_bounded():
    blocks = create_app().state.blocks
    assert blocks._queue.max_size == QUEUE_SIZE
    renders = [fn for fn in blocks.fns.values() if fn.concurrency_id == "render"]
    api_names = {fn.api_name for fn in renders}
    assert {demo.slug for demo in all_demos} <= api_names  # every public endpoint renders there
    assert all(fn.concurrency_limit == RENDER_CONCURRENCY for fn in renders)
    heavy = [fn for fn in blocks.fns.values() if fn.name in ("ui_handler", "render_current")]
    assert heavy and all(fn.concurrency_id == "render" for fn in heavy)
