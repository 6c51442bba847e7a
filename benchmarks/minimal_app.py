"""The smallest Gradio app of the page benchmarks: one slider, one Plotly plot, served the way
the playground is (FastAPI + mount_gradio_app + uvicorn) on GRADIO_SERVER_PORT."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import plotly.graph_objects as go
import uvicorn
from fastapi import FastAPI


def figure(a: float) -> go.Figure:
    xs = [i / 10 for i in range(-50, 51)]
    return go.Figure(go.Scatter(x=xs, y=[a * x * x for x in xs]))


def main() -> None:
    with gr.Blocks() as blocks:
        slider = gr.Slider(0, 2, value=1, label="a")
        plot = gr.Plot(figure(1), elem_id="fig0")
        slider.change(figure, slider, plot)
    app = gr.mount_gradio_app(FastAPI(), blocks, path="/", ssr_mode=False)
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
