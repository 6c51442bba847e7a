"""The Gradio playground: a gallery, one page per demo, and an API endpoint per demo.

Holds no algorithm: controls come from each demo's `Params`, figures from its `render`.
`python -m app` starts it (see app/__main__.py).
"""

import os

os.environ.setdefault(
    "GRADIO_ANALYTICS_ENABLED", "False"
)  # before Gradio is imported: no calls home
# Before torch is imported (lazily, by the first render): one intra-op thread per render. The
# server runs two renders at once on a 2-core machine (app.ui.RENDER_CONCURRENCY), and the
# demos' tensors are small: more threads only spin and contend (measured up to 60× slower
# under load). Set OMP_NUM_THREADS to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _cap_malloc_arenas() -> None:
    """At most PLAYGROUND_MALLOC_ARENAS (default 2) glibc malloc arenas, set before the server
    starts its threads. glibc gives each new thread an arena of its own, up to 8 per core; the
    server's thread pool then keeps freed memory in many half-empty arenas. Measured with
    `python -m benchmarks.load --abuse --rounds 2`: 1,398 MB after two rounds with glibc's
    default, 962 MB with two arenas (MALLOC_ARENA_MAX=2). A no-op off glibc."""
    import ctypes
    import ctypes.util

    arenas = int(os.environ.get("PLAYGROUND_MALLOC_ARENAS", "2"))
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


_cap_malloc_arenas()
