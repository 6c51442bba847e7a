"""core.attention: naive and tiled FlashAttention against torch's scaled_dot_product_attention.

The reference is `torch.nn.functional.scaled_dot_product_attention` (SDPA): outputs, its
autograd gradients, and `torch.logsumexp` of the masked scores for the log-sum-exp.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.attention.flash import (
    blocks,
    flash_attention,
    flash_attention_backward,
    flash_attention_v1,
    tile_status,
)
from core.attention.naive import naive_attention
from core.trace import Trace

SIZES = [1, 7, 64, 100, 257]
HEAD_DIMS = [8, 16, 64]
FORWARDS = [flash_attention, flash_attention_v1]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiles are small: one thread (as the app renders) beats several fighting for shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def qkv(n_q, n_k, d, dtype=torch.float64, seed=0, batch=1, heads=2):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, n_q, d, generator=g, dtype=torch.float64)
    k = torch.randn(batch, heads, n_k, d, generator=g, dtype=torch.float64)
    v = torch.randn(batch, heads, n_k, d, generator=g, dtype=torch.float64)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def masked_scores(q, k, causal):
    """S = QKᵀ/√d in fp64, −inf where SDPA's is_causal mask (ones(Nq, Nk).tril()) hides a key."""
    s = q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        keep = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool).tril()
        s = s.masked_fill(~keep, float("-inf"))
    return s


def sdpa(q, k, v, causal):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


# --- forward against SDPA ------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("d", HEAD_DIMS)
@pytest.mark.parametrize("n", SIZES)
def test_flash_matches_sdpa_and_logsumexp_in_fp64(n, d, causal):
    q, k, v = qkv(n, n, d, seed=n * d)
    reference = sdpa(q, k, v, causal)
    lse_reference = torch.logsumexp(masked_scores(q, k, causal), dim=-1)
    for block_m, block_n in [(16, 16), (32, 32), (64, 64), (16, 64)]:
        out, lse = flash_attention(q, k, v, causal=causal, block_m=block_m, block_n=block_n)
        assert out.dtype == torch.float64 and lse.shape == (1, 2, n)
        # fp64 with O(N) terms per output: a few ulps of the O(1) values.
        torch.testing.assert_close(out, reference, atol=1e-13, rtol=0)
        torch.testing.assert_close(lse, lse_reference, atol=1e-13, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", SIZES)
def test_algorithm_1_loop_order_matches_sdpa_in_fp64(n, causal):
    q, k, v = qkv(n, n, 16, seed=n + 1)
    for block_m, block_n in [(16, 16), (32, 64), (64, 16)]:
        out, lse = flash_attention_v1(q, k, v, causal=causal, block_m=block_m, block_n=block_n)
        torch.testing.assert_close(out, sdpa(q, k, v, causal), atol=1e-13, rtol=0)
        lse_reference = torch.logsumexp(masked_scores(q, k, causal), dim=-1)
        torch.testing.assert_close(lse, lse_reference, atol=1e-13, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", SIZES)
def test_flash_matches_sdpa_in_fp32(n, causal):
    for d in HEAD_DIMS:
        q, k, v = qkv(n, n, d, dtype=torch.float32, seed=7 * n + d)
        out, lse = flash_attention(q, k, v, causal=causal, block_m=32, block_n=16)
        assert out.dtype == torch.float32 and lse.dtype == torch.float32
        # fp32 accumulation over ≤ 257 keys: ~1e-6 apart from fp32 SDPA; 1e-5 is the bound.
        torch.testing.assert_close(out, sdpa(q, k, v, causal), atol=1e-5, rtol=0)
        lse_reference = torch.logsumexp(masked_scores(q, k, causal), dim=-1)
        torch.testing.assert_close(lse.double(), lse_reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q,n_k", [(7, 64), (64, 7), (100, 257), (257, 100), (1, 64), (64, 1)])
def test_flash_matches_sdpa_when_queries_and_keys_differ_in_length(n_q, n_k, causal):
    """Causal with Nq ≠ Nk follows SDPA: query i sees keys j ≤ i (mask aligned top-left)."""
    q, k, v = qkv(n_q, n_k, 16, seed=n_q + 3 * n_k)
    reference = sdpa(q, k, v, causal)
    lse_reference = torch.logsumexp(masked_scores(q, k, causal), dim=-1)
    for forward in FORWARDS:
        out, lse = forward(q, k, v, causal=causal, block_m=16, block_n=32)
        torch.testing.assert_close(out, reference, atol=1e-13, rtol=0)
        torch.testing.assert_close(lse, lse_reference, atol=1e-13, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_accumulated_in_fp32_and_rounded_once(dtype):
    q, k, v = qkv(100, 100, 64, dtype=dtype, seed=5)
    reference = sdpa(q.double(), k.double(), v.double(), True)
    out, lse = flash_attention(q, k, v, causal=True, block_m=32, block_n=32)
    assert out.dtype == dtype and lse.dtype == torch.float32
    # Rounding the fp32 result to `dtype` once costs at most half an ulp: eps/2 relative.
    bound = torch.finfo(dtype).eps / 2 * reference.abs() + 1e-5
    assert ((out.double() - reference).abs() <= bound).all()


def test_naive_attention_matches_sdpa_and_records_the_full_matrices():
    q, k, v = qkv(37, 53, 8, seed=11)
    for causal in (False, True):
        trace = Trace()
        out, lse = naive_attention(q, k, v, causal=causal, trace=trace)
        torch.testing.assert_close(out, sdpa(q, k, v, causal), atol=1e-14, rtol=0)
        s = masked_scores(q, k, causal)
        torch.testing.assert_close(lse, torch.logsumexp(s, dim=-1), atol=1e-14, rtol=0)
        (scores,), (probs,) = trace["scores"], trace["probs"]
        assert scores.shape == probs.shape == (1, 2, 37, 53)
        torch.testing.assert_close(probs, torch.softmax(s, dim=-1), atol=1e-15, rtol=0)


@settings(max_examples=25, deadline=None)
@given(
    n_q=st.integers(1, 40),
    n_k=st.integers(1, 40),
    d=st.integers(1, 12),
    block_m=st.integers(1, 17),
    block_n=st.integers(1, 17),
    causal=st.booleans(),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
)
def test_any_shape_and_block_size_matches_sdpa(n_q, n_k, d, block_m, block_n, causal, scale):
    """Large `scale` makes scores of ±100s: the running max must keep exp from overflowing."""
    q, k, v = qkv(n_q, n_k, d, seed=n_q * 41 + n_k)
    q = q * scale
    reference = sdpa(q, k, v, causal)
    for forward in FORWARDS:
        out, _ = forward(q, k, v, causal=causal, block_m=block_m, block_n=block_n)
        torch.testing.assert_close(out, reference, atol=1e-12, rtol=0)


def test_inputs_are_left_unchanged_and_batches_are_independent():
    q, k, v = qkv(20, 30, 8, batch=3, heads=2, seed=2)
    copies = [x.clone() for x in (q, k, v)]
    out, _ = flash_attention(q, k, v, causal=True, block_m=8, block_n=8)
    for x, copy in zip((q, k, v), copies, strict=True):
        assert torch.equal(x, copy)
    single, _ = flash_attention(q[1:2, 1:2], k[1:2, 1:2], v[1:2, 1:2], causal=True, block_m=8)
    torch.testing.assert_close(out[1:2, 1:2], single, atol=1e-15, rtol=0)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"q": torch.zeros(2, 3, 4)}, "q: expected shape"),
        ({"k": torch.zeros(1, 1, 5, 4, dtype=torch.float32)}, "one dtype"),
        (
            {
                "k": torch.zeros(1, 1, 0, 4, dtype=torch.float64),
                "v": torch.zeros(1, 1, 0, 4, dtype=torch.float64),
            },
            "at least one key",
        ),
        ({"v": torch.zeros(1, 1, 6, 4, dtype=torch.float64)}, "same shape"),
        ({"q": torch.zeros(1, 1, 3, 4, dtype=torch.int64)}, "floating"),
        ({"block_m": 0}, "block_m"),
        ({"block_n": 2.5}, "block_n"),
    ],
)
def test_bad_inputs_raise_value_errors_that_name_the_argument(change, message):
    args = {
        "q": torch.zeros(1, 1, 3, 4, dtype=torch.float64),
        "k": torch.zeros(1, 1, 5, 4, dtype=torch.float64),
        "v": torch.zeros(1, 1, 5, 4, dtype=torch.float64),
        "block_m": 4,
        "block_n": 4,
    }
    args.update(change)
    q, k, v = args.pop("q"), args.pop("k"), args.pop("v")
    for forward in FORWARDS:
        with pytest.raises(ValueError, match=message):
            forward(q, k, v, **args)


# --- backward against autograd through SDPA -----------------------------------------------------


@pytest.mark.parametrize(
    "n_q,n_k,d,causal,block_m,block_n",
    [
        (1, 1, 8, False, 16, 16),
        (7, 7, 8, True, 16, 16),
        (64, 64, 16, True, 16, 32),
        (100, 100, 64, False, 32, 16),
        (257, 257, 16, True, 64, 64),
        (100, 257, 16, True, 32, 16),
        (257, 100, 8, True, 16, 64),
        (64, 7, 16, False, 16, 16),
    ],
)
def test_backward_matches_autograd_through_sdpa_in_fp64(n_q, n_k, d, causal, block_m, block_n):
    q, k, v = qkv(n_q, n_k, d, seed=n_q + n_k + d)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    reference = sdpa(*leaves, causal)
    grad_out = torch.randn(
        reference.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    reference.backward(grad_out)
    out, lse = flash_attention(q, k, v, causal=causal, block_m=block_m, block_n=block_n)
    grads = flash_attention_backward(
        q, k, v, out, lse, grad_out, causal=causal, block_m=block_m, block_n=block_n
    )
    for grad, leaf in zip(grads, leaves, strict=True):
        assert grad.shape == leaf.shape and grad.dtype == torch.float64
        torch.testing.assert_close(grad, leaf.grad, atol=1e-12, rtol=0)


def test_backward_in_fp32_matches_autograd_to_fp32_accuracy():
    q, k, v = qkv(100, 100, 32, dtype=torch.float32, seed=9)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    reference = sdpa(*leaves, True)
    grad_out = torch.randn(reference.shape, generator=torch.Generator().manual_seed(2))
    reference.backward(grad_out)
    out, lse = flash_attention(q, k, v, causal=True)
    grads = flash_attention_backward(q, k, v, out, lse, grad_out, causal=True)
    for grad, leaf in zip(grads, leaves, strict=True):
        torch.testing.assert_close(grad, leaf.grad, atol=1e-4, rtol=0)


def test_backward_rejects_a_lse_of_the_wrong_shape():
    q, k, v = qkv(5, 5, 4)
    with pytest.raises(ValueError, match="lse"):
        flash_attention_backward(q, k, v, q, torch.zeros(1, 2, 4, dtype=q.dtype), q)


# --- the trace ------------------------------------------------------------------------------


def tiles(trace):
    return trace["tile"]


@pytest.mark.parametrize("forward", FORWARDS)
@pytest.mark.parametrize("causal", [False, True])
def test_after_its_last_tile_each_row_holds_its_max_and_its_sum(forward, causal):
    """m = max_j s_ij and l = Σ_j exp(s_ij − m) over the keys the row may see; m + log l = lse."""
    q, k, v = qkv(45, 70, 8, seed=4)
    trace = Trace()
    _, lse = forward(q, k, v, causal=causal, block_m=16, block_n=16, trace=trace)
    s = masked_scores(q, k, causal)
    row_max = s.amax(dim=-1)
    row_sum = torch.exp(s - row_max[..., None]).sum(dim=-1)
    last = {}
    for tile in tiles(trace):
        if tile["status"] != "skipped":
            last[tile["q_block"]] = tile  # the loops visit each row's keys in increasing order
    for tile in last.values():
        r0, r1 = tile["rows"]
        torch.testing.assert_close(tile["m"], row_max[:, :, r0:r1], atol=1e-14, rtol=0)
        torch.testing.assert_close(tile["l"], row_sum[:, :, r0:r1], atol=1e-13, rtol=0)
        torch.testing.assert_close(
            tile["m"] + torch.log(tile["l"]), lse[:, :, r0:r1], atol=1e-14, rtol=0
        )


@pytest.mark.parametrize("forward", FORWARDS)
def test_partial_outputs_are_softmax_over_the_keys_seen_so_far(forward):
    """After tile (i, j): m = max over keys < c1, acc / l = softmax(S[:, :c1]) V[:c1]."""
    q, k, v = qkv(40, 50, 8, seed=6)
    trace = Trace()
    forward(q, k, v, causal=True, block_m=16, block_n=16, trace=trace, trace_accumulator=True)
    s = masked_scores(q, k, True)
    visited = [t for t in tiles(trace) if t["status"] != "skipped"]
    assert visited and all(t["acc"] is not None for t in visited)
    for tile in visited:
        (r0, r1), (_, c1) = tile["rows"], tile["cols"]
        seen = s[:, :, r0:r1, :c1]
        torch.testing.assert_close(tile["m"], seen.amax(dim=-1), atol=1e-14, rtol=0)
        partial = torch.softmax(seen, dim=-1) @ v[:, :, :c1]
        torch.testing.assert_close(tile["acc"] / tile["l"][..., None], partial, atol=1e-14, rtol=0)


def test_running_max_never_decreases_and_is_only_recorded_for_visited_tiles():
    q, k, v = qkv(64, 64, 8, seed=8)
    trace = Trace()
    flash_attention(q, k, v, causal=True, block_m=16, block_n=8, trace=trace)
    previous = {}
    for tile in tiles(trace):
        if tile["status"] == "skipped":
            assert tile["m"] is None and tile["l"] is None
            continue
        i = tile["q_block"]
        if i in previous:
            assert (tile["m"] >= previous[i]).all()
        previous[i] = tile["m"]
    assert all(t["acc"] is None for t in tiles(trace)), "acc only with trace_accumulator"


def element_classification(n_q, n_k, rows, cols):
    """A tile's status from SDPA's own mask, element by element."""
    hidden = ~torch.ones(n_q, n_k, dtype=torch.bool).tril()[
        rows.start : rows.stop, cols.start : cols.stop
    ]
    if hidden.all():
        return "skipped"
    return "masked" if hidden.any() else "computed"


@pytest.mark.parametrize(
    "n_q,n_k,block_m,block_n",
    [
        (64, 64, 16, 16),
        (100, 100, 32, 32),
        (257, 257, 64, 64),
        (7, 7, 2, 2),
        (50, 90, 16, 8),
        (90, 50, 8, 16),
        (33, 33, 16, 4),
        (1, 10, 4, 4),
    ],
)
def test_tile_statuses_follow_sdpas_causal_mask_and_the_skip_count_formula(
    n_q, n_k, block_m, block_n
):
    q, k, v = qkv(n_q, n_k, 4)
    trace = Trace()
    flash_attention(q, k, v, causal=True, block_m=block_m, block_n=block_n, trace=trace)
    t_r, t_c = math.ceil(n_q / block_m), math.ceil(n_k / block_n)
    assert len(tiles(trace)) == t_r * t_c
    for tile in tiles(trace):
        rows, cols = range(*tile["rows"]), range(*tile["cols"])
        assert tile["status"] == element_classification(n_q, n_k, rows, cols)
    skipped = sum(t["status"] == "skipped" for t in tiles(trace))
    # Row block i ends at r1 = min((i+1)·B_r, Nq); its keys < min(Nk, r1) fill
    # ⌈min(Nk, r1)/B_c⌉ key blocks, the rest of the T_c are skipped.
    formula = sum(
        t_c - math.ceil(min(n_k, min((i + 1) * block_m, n_q)) / block_n) for i in range(t_r)
    )
    assert skipped == formula
    if n_q == n_k and block_m == block_n:
        assert skipped == t_r * (t_r - 1) // 2  # the strict upper triangle of T×T tiles


def test_loop_orders_visit_tiles_in_their_kernel_order_and_agree_on_every_statistic():
    q, k, v = qkv(40, 40, 8, seed=12)
    fa2, fa1 = Trace(), Trace()
    flash_attention(q, k, v, causal=True, block_m=16, block_n=8, trace=fa2)
    flash_attention_v1(q, k, v, causal=True, block_m=16, block_n=8, trace=fa1)
    order2 = [(t["q_block"], t["k_block"]) for t in tiles(fa2) if t["status"] != "skipped"]
    order1 = [(t["q_block"], t["k_block"]) for t in tiles(fa1) if t["status"] != "skipped"]
    assert order2 == sorted(order2)  # FA2: query blocks outside
    assert order1 == sorted(order1, key=lambda ij: (ij[1], ij[0]))  # Algorithm 1: keys outside
    by_tile = {(t["q_block"], t["k_block"]): t for t in tiles(fa1)}
    for tile in tiles(fa2):
        other = by_tile[(tile["q_block"], tile["k_block"])]
        assert other["status"] == tile["status"]
        if tile["m"] is not None:
            torch.testing.assert_close(other["m"], tile["m"], atol=0, rtol=0)
            torch.testing.assert_close(other["l"], tile["l"], atol=1e-13, rtol=0)
    (config,) = fa2["config"]
    assert config["n_q_blocks"] == 3 and config["n_k_blocks"] == 5 and config["loop_order"] == "fa2"


def test_blocks_cover_the_sequence_with_a_ragged_last_block():
    assert blocks(10, 4) == [range(0, 4), range(4, 8), range(8, 10)]
    assert blocks(8, 4) == [range(0, 4), range(4, 8)]
    assert blocks(0, 4) == []
    assert tile_status(range(0, 4), range(4, 8), causal=False) == "computed"
