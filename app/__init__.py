"""The Gradio playground: builds every demo of the registry into tabs, endpoints and pages.

Holds no algorithm: controls come from each demo's `Params`, figures from its `render`.
`python -m app` starts it (see app/__main__.py).
"""
