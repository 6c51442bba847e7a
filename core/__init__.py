"""Algorithms of the playground, each with an optional `trace` recorder (see `core.trace`).

This package imports neither Gradio nor Plotly, and needs no GPU.
"""
