"""The Gradio playground: a gallery, one page per demo, and an API endpoint per demo.

Holds no algorithm: controls come from each demo's `Params`, figures from its `render`.
`python -m app` starts it (see app/__main__.py).
"""

import os

os.environ.setdefault(
    "GRADIO_ANALYTICS_ENABLED", "False"
)  # before Gradio is imported: no calls home
