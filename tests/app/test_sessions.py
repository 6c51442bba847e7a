"""A session is made without serialising every component of its Blocks (app.mount), and is
otherwise Gradio's own: the same attributes, the same config once read."""

from __future__ import annotations

import gradio as gr
import gradio.state_holder as gr_state

from app.mount import LazySessionState

ORIGINAL = LazySessionState.__mro__[1]  # Gradio's SessionState


def blocks() -> gr.Blocks:
    with gr.Blocks() as demo:
        number = gr.Slider(0, 10, value=3, label="n")
        state = gr.State({"a": 1})
        plot = gr.Plot(label="figure")
        gr.Button().click(lambda n, s: None, [number, state], plot)
    return demo


def test_sessions_are_lazy_and_otherwise_gradios_own() -> None:
    demo = blocks()
    lazy, plain = LazySessionState(demo), ORIGINAL(demo)
    assert lazy._some == {} and not lazy._all  # nothing serialised yet
    assert set(vars(plain)) - {"config_values"} <= set(vars(lazy))
    assert lazy.config_values == plain.config_values
    ids = [key for key, block in demo.blocks.items() if isinstance(block, gr.State)]
    assert lazy[ids[0]] == plain[ids[0]] == {"a": 1}
    slider = next(k for k, b in demo.blocks.items() if isinstance(b, gr.Slider))
    lazy._update_value_in_config(slider, 7)
    plain._update_value_in_config(slider, 7)
    assert lazy.config_values == plain.config_values
    assert list(lazy.components) == list(plain.components)


def test_the_state_holder_makes_lazy_sessions() -> None:
    holder = gr_state.StateHolder()
    holder.set_blocks(blocks())
    assert type(holder["some-session"]) is LazySessionState


def test_setting_and_updating_entries_match_gradio() -> None:
    demo = blocks()
    lazy, plain = LazySessionState(demo), ORIGINAL(demo)
    state = next(k for k, b in demo.blocks.items() if isinstance(b, gr.State))
    plot = next(k for k, b in demo.blocks.items() if isinstance(b, gr.Plot))
    for session in (lazy, plain):
        session[state] = {"b": 2}
        session[plot] = gr.Plot(label="another")
        session._update_config(plot)
    assert lazy._all is False  # still not the whole dict
    assert lazy[state] == plain[state] == {"b": 2}
    assert lazy.config_values == plain.config_values
