"""core.sequence.rnn against torch.nn.RNN / LSTM / GRU and torch.autograd.functional.jacobian.

Same equations, same order of additions up to a few terms: float64 agrees to 1e-10, float32
to 1e-5 (a few ulps of values ~1 after T steps).
"""

import pytest
import torch

from core.sequence import rnn
from core.trace import Trace

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
FUNCTIONS = {"rnn": rnn.rnn, "lstm": rnn.lstm, "gru": rnn.gru}


def reference(kind, T, B, inputs, H, dtype, bias=True, seed=0):
    torch.manual_seed(seed)
    module = MODULES[kind](inputs, H, bias=bias).to(dtype)
    x = torch.randn(T, B, inputs, dtype=dtype)
    h0 = torch.randn(1, B, H, dtype=dtype)
    c0 = torch.randn(1, B, H, dtype=dtype)
    weights = [module.weight_ih_l0, module.weight_hh_l0]
    weights += [module.bias_ih_l0, module.bias_hh_l0] if bias else [None, None]
    return module, x, h0, c0, weights


def run_both(kind, module, x, h0, c0, weights):
    if kind == "lstm":
        expected, (h_n, c_n) = module(x, (h0, c0))
        out, (mine_h, mine_c) = rnn.lstm(x, *weights, h0[0], c0[0])
        return [(out, expected), (mine_h, h_n[0]), (mine_c, c_n[0])]
    expected, h_n = module(x, h0)
    out, mine_h = FUNCTIONS[kind](x, *weights, h0[0])
    return [(out, expected), (mine_h, h_n[0])]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(
    "dtype,tol,T,bias", [(torch.float64, 1e-10, 7, True), (torch.float32, 1e-5, 5, False)]
)
def test_cell_matches_torch_nn(kind, dtype, tol, T, bias):
    module, x, h0, c0, weights = reference(kind, T, 3, 4, 5, dtype, bias)
    for mine, expected in run_both(kind, module, x, h0, c0, weights):
        assert (mine - expected).abs().max() < tol


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_single_step_and_zero_initial_state(kind):
    module, x, _, _, weights = reference(kind, 1, 2, 3, 4, torch.float64, seed=1)
    out = FUNCTIONS[kind](x, *weights)[0]
    assert (out - module(x)[0]).abs().max() < 1e-12


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradients_match_torch_nn(kind):
    module, x, h0, c0, weights = reference(kind, 6, 2, 3, 4, torch.float64, seed=2)
    x.requires_grad_(True)
    pairs = run_both(kind, module, x, h0, c0, weights)
    mine = torch.autograd.grad(pairs[0][0].sum(), [x, *weights])
    theirs = torch.autograd.grad(pairs[0][1].sum(), [x, *weights])
    for a, b in zip(mine, theirs, strict=True):
        assert (a - b).abs().max() < 1e-10


def test_lstm_trace_has_one_event_per_step_with_the_gate_values():
    _, x, _, _, weights = reference("lstm", 4, 2, 3, 5, torch.float64)
    trace = Trace()
    out, (_, c_n) = rnn.lstm(x, *weights, trace=trace)
    events = trace["lstm"]
    assert len(events) == 4 and set(events[0]) == {"i", "f", "g", "o", "c", "h"}
    assert all(events[-1][k].shape == (2, 5) for k in "ifgoch")
    assert torch.equal(events[-1]["c"], c_n.detach()) and torch.equal(events[2]["h"], out[2])
    first = events[0]
    assert torch.allclose(first["c"], first["i"] * first["g"])  # c_0 = f·0 + i·g


def test_gru_trace_records_r_z_n_h():
    _, x, _, _, weights = reference("gru", 3, 1, 2, 4, torch.float64)
    trace = Trace()
    rnn.gru(x, *weights, trace=trace)
    assert [set(e) for e in trace["gru"]] == [{"r", "z", "n", "h"}] * 3


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_input_gradient_norms_match_the_jacobian(kind):
    torch.manual_seed(3)
    T, inputs, H = 9, 2, 4
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    w_ih = torch.randn(gates * H, inputs, dtype=torch.float64)
    w_hh = torch.randn(gates * H, H, dtype=torch.float64) * 0.7
    b_ih, b_hh = torch.randn(2, gates * H, dtype=torch.float64)
    x = torch.randn(T, inputs, dtype=torch.float64)

    def last(inputs):
        out = FUNCTIONS[kind](inputs[:, None, :], w_ih, w_hh, b_ih, b_hh)[0]
        return out[-1, 0]

    jacobian = torch.autograd.functional.jacobian(last, x)  # (H, T, I)
    expected = jacobian.square().sum(dim=(0, 2)).sqrt().flip(0)
    norms = rnn.input_gradient_norms(kind, x, w_ih, w_hh, b_ih, b_hh)
    assert norms.shape == (T,)
    assert torch.allclose(norms, expected, rtol=1e-10, atol=1e-14)


def test_attention_gradient_norms_match_the_jacobian():
    torch.manual_seed(4)
    x = torch.randn(8, 3, dtype=torch.float64)
    w_q, w_k, w_v = torch.randn(3, 5, 3, dtype=torch.float64)

    def last(inputs):
        return rnn.causal_self_attention(inputs[:, None, :], w_q, w_k, w_v)[-1, 0]

    expected = torch.autograd.functional.jacobian(last, x).square().sum(dim=(0, 2)).sqrt()
    assert torch.allclose(rnn.attention_gradient_norms(x, w_q, w_k, w_v), expected.flip(0))


def test_causal_attention_ignores_the_future():
    torch.manual_seed(5)
    x = torch.randn(6, 1, 2, dtype=torch.float64)
    w = torch.randn(3, 4, 2, dtype=torch.float64)
    changed = x.clone()
    changed[4:] += 1.0
    a, b = rnn.causal_self_attention(x, *w), rnn.causal_self_attention(changed, *w)
    assert torch.equal(a[:4], b[:4]) and not torch.equal(a[4:], b[4:])


def test_unknown_kind_and_costs():
    with pytest.raises(ValueError, match="kind"):
        rnn.input_gradient_norms(
            "transformer", torch.zeros(2, 1), torch.zeros(1, 1), torch.zeros(1, 1)
        )
    costs = rnn.layer_costs(64, 64)  # the crossover n = d: equal operations
    assert costs["self_attention"]["operations"] == costs["recurrent"]["operations"] == 64**3
    assert rnn.layer_costs(10, 4)["recurrent"]["sequential"] == 10.0
    with pytest.raises(ValueError):
        rnn.layer_costs(0, 4)
