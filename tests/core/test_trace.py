"""core.trace.Trace: the one recorder every algorithm takes as `trace=None`."""

import pytest
import torch

from core import activations as act
from core.trace import Trace


def test_record_keeps_events_in_order_by_name():
    trace = Trace()
    trace.record("step", index=0, value=1.5)
    trace.record("step", index=1, value=2.5)
    trace.record("output", torch.ones(2))
    assert trace.column("step", "value") == [1.5, 2.5]
    assert "output" in trace and "missing" not in trace
    assert len(trace) == 3
    assert list(trace) == ["step", "output"]


def test_recorded_tensors_are_detached_copies():
    x = torch.zeros(3, requires_grad=True)
    y = x * 2
    trace = Trace()
    trace.record("y", y)
    with torch.no_grad():
        x.add_(5)
    assert not trace["y"][0].requires_grad
    assert torch.equal(trace["y"][0], torch.zeros(3))


def test_nested_fields_are_snapshotted_too():
    buffer = torch.zeros(2)
    trace = Trace()
    trace.record("tile", stats={"m": buffer}, rows=[buffer])
    buffer += 1
    assert torch.equal(trace["tile"][0]["stats"]["m"], torch.zeros(2))
    assert torch.equal(trace["tile"][0]["rows"][0], torch.zeros(2))


def test_record_rejects_a_value_and_fields_together():
    with pytest.raises(ValueError, match="either one value or keyword fields"):
        Trace().record("x", 1, y=2)


@pytest.mark.parametrize("name", ["relu", "swiglu"])
def test_tracing_does_not_change_the_result(name):
    plain = act.gradient_norms_by_depth(name, depth=6, residual=True)
    trace = Trace()
    traced = act.gradient_norms_by_depth(name, depth=6, residual=True, trace=trace)
    assert torch.equal(plain.weight_grad_norm, traced.weight_grad_norm)
    assert torch.equal(trace["layers"][0]["weight_grad_norm"], traced.weight_grad_norm)
