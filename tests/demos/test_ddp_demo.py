"""The ddp demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np

from demos import ddp as demo


def test_ring_frames_end_with_every_rank_holding_every_contribution():
    figure = demo.render(demo.presets["ring of 4: reduce-scatter, then all-gather"]).figures[0]
    assert len(figure.frames) == 1 + 2 * 3  # the start, then 2(N−1) steps
    assert (np.asarray(figure.frames[0].data[0].z) == 1).all()
    after_scatter = np.asarray(figure.frames[3].data[0].z)
    assert ((after_scatter == 4).reshape(4, 4, 2).all(-1).sum(1) == 1).all()
    assert (np.asarray(figure.frames[-1].data[0].z) == 4).all()
    assert "sent per rank 96 of 2(N−1)/N·S = 96 bytes" in figure.frames[-1].data[2].text[0]


def test_ring_bytes_approach_two_s_while_the_server_grows_with_n():
    figure = demo.render(demo.presets["1024 ranks send under 2× the gradient"]).figures[1]
    lines = {t.name: np.asarray(t.y) for t in figure.data if t.xaxis in (None, "x")}
    ring, server = lines["ring all-reduce"], lines["parameter server"]
    assert ring[-1] < 2 and ring[-1] > 1.99
    assert server[-1] == 1024


def test_small_buckets_lose_to_the_default_cap():
    def total(params):
        return demo._timeline(params, params.bucket_cap_mb).total_s

    small, right = demo.presets["buckets too small"], demo.presets["buckets just right"]
    assert total(small) > total(small.model_copy(update={"bucket_cap_mb": 25.0}))
    timeline = demo._timeline(right, right.bucket_cap_mb)
    assert timeline.total_s < timeline.no_overlap_s  # overlap pays off at the default


def test_real_run_preset_draws_errors_under_fp32_epsilon():
    rendered = demo.render(demo.presets["real processes: DDP = one process on the full batch"])
    figure = rendered.figures[3]
    errors = np.asarray(figure.data[0].y)
    assert (errors < 1e-12).all()
    assert "TCP sockets on 127.0.0.1" in rendered.notes and "4 distinct pids" in rendered.notes
    note = figure.layout.annotations[0].text
    logged, predicted = note.split("parameters each; bucket_assignment predicts ")
    assert logged.split(": ")[-1].strip() == predicted.strip()


def test_default_render_starts_no_process():
    rendered = demo.render(demo.Params())
    assert len(rendered.figures) == 4 and rendered.notes.startswith("**Ring all-reduce:**")
    assert "Tick" in rendered.figures[3].layout.annotations[0].text
