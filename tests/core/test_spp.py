"""core.vision.spp against torch.nn.functional.adaptive_{max,avg}_pool2d.

Max pooling selects values: exact equality, indices included. Average pooling sums in another
order: float32 rounding (1e-6 on values ~1).
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.trace import Trace
from core.vision.spp import adaptive_pool, bin_edges, spatial_pyramid_pool

REFERENCE = {"max": F.adaptive_max_pool2d, "avg": F.adaptive_avg_pool2d}


def reference(x: torch.Tensor, levels, mode: str) -> torch.Tensor:
    return torch.cat([REFERENCE[mode](x, level).flatten(1) for level in levels], dim=1)


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    channels=st.integers(1, 4),
    levels=st.lists(st.integers(1, 7), min_size=1, max_size=4),
    mode=st.sampled_from(["max", "avg"]),
    seed=st.integers(0, 2**16),
)
def test_matches_concatenated_adaptive_pools(height, width, channels, levels, mode, seed):
    x = torch.randn(2, channels, height, width, generator=torch.Generator().manual_seed(seed))
    out = spatial_pyramid_pool(x, levels, mode)
    assert out.shape == (2, channels * sum(level * level for level in levels))
    if mode == "max":
        assert torch.equal(out, reference(x, levels, mode))
    else:
        torch.testing.assert_close(out, reference(x, levels, mode), rtol=0, atol=1e-6)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_a_3x3_map_at_level_4_repeats_rows_like_torch(mode):
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(
        spatial_pyramid_pool(x, (1, 2, 4), mode), reference(x, (1, 2, 4), mode)
    )
    assert bin_edges(3, 4).tolist() == [[0, 1], [0, 2], [1, 3], [2, 3]]


def test_the_length_does_not_depend_on_the_input_size():
    lengths = {
        spatial_pyramid_pool(torch.rand(1, 5, h, w)).shape for h, w in [(1, 1), (13, 13), (40, 61)]
    }
    assert lengths == {torch.Size([1, 5 * 21])}


def test_bin_edges_are_floor_and_ceil_of_i_h_over_l():
    for size in range(1, 25):
        for level in range(1, 9):
            edges = bin_edges(size, level)
            for i, (start, end) in enumerate(edges.tolist()):
                assert start == (i * size) // level
                assert end == -((-(i + 1) * size) // level)  # ceil
            assert edges[0, 0] == 0 and edges[-1, 1] == size


def test_max_indices_match_torch_including_ties():
    x = torch.randint(0, 3, (2, 3, 7, 6)).float()  # many equal values: the first one wins
    for level in (1, 2, 3, 4, 8):
        values, indices = adaptive_pool(x, level, "max")
        ref_values, ref_indices = F.adaptive_max_pool2d(x, level, return_indices=True)
        assert torch.equal(values, ref_values) and torch.equal(indices, ref_indices)


def test_trace_records_each_levels_bins_in_order():
    trace = Trace()
    x = torch.randn(1, 2, 13, 18)
    spatial_pyramid_pool(x, (4, 1, 2), "max", trace=trace)
    assert [event["level"] for event in trace["level"]] == [4, 1, 2]
    first = trace["level"][0]
    assert torch.equal(first["row_edges"], bin_edges(13, 4))
    assert torch.equal(first["col_edges"], bin_edges(18, 4))
    assert torch.equal(first["pooled"], F.adaptive_max_pool2d(x, 4))
    assert torch.equal(first["argmax"], F.adaptive_max_pool2d(x, 4, return_indices=True)[1])


def test_nan_propagates_like_torchs_max_pool():
    x = torch.randn(1, 1, 4, 4)
    x[0, 0, 1, 1] = float("nan")
    out = spatial_pyramid_pool(x, (1, 2), "max")
    assert torch.equal(out.isnan(), reference(x, (1, 2), "max").isnan())


@pytest.mark.parametrize(
    "x,kwargs",
    [
        (torch.rand(2, 3, 3), {}),
        (torch.rand(1, 1, 4, 4), {"levels": (0, 2)}),
        (torch.rand(1, 1, 4, 4), {"levels": ()}),
        (torch.rand(1, 1, 4, 4), {"mode": "sum"}),
        (torch.ones(1, 1, 4, 4, dtype=torch.int64), {}),
    ],
)
def test_rejects_bad_input_with_a_value_error(x, kwargs):
    with pytest.raises(ValueError):
        spatial_pyramid_pool(x, **kwargs)
