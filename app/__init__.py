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
