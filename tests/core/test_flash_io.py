"""core.attention.io: the paper's HBM counts in closed form, and the loops that count them.

References: Algorithm 0 and Algorithm 1 of Dao et al. 2022 counted by hand, Theorem 2's
Θ(N²d²/M), and the byte counters recorded by the instrumented loops themselves.
"""

import math

import pytest
import torch

from core.attention import io
from core.attention.flash import flash_attention, flash_attention_v1
from core.attention.naive import naive_attention
from core.trace import Trace

KB = 1024


def test_standard_attention_moves_4nd_plus_4n_squared_elements():
    # Algorithm 0: reads Q, K, S, P, V = 3Nd + 2N², writes S, P, O = 2N² + Nd.
    assert io.hbm_bytes(1024, 64, 100 * KB, "standard") == 2 * (4 * 1024 * 64 + 4 * 1024**2)
    assert io.hbm_bytes(1, 1, 4, "standard", bytes_per_element=4) == 4 * 8
    for n, d in [(7, 3), (4096, 128)]:
        assert io.hbm_bytes(n, d, 64 * KB, "standard", 1) == 4 * (n * d + n * n)  # 4·Θ(Nd + N²)


def test_flash_count_by_hand_for_the_papers_setting():
    # N = 1024, d = 64, M = 100 KB / 2 bytes = 51 200 elements: B_c = ⌈51200/256⌉ = 200,
    # T_c = ⌈1024/200⌉ = 6. Init 1024·64 + 2·1024; K, V 2·1024·64; per key block:
    # reads 2·1024·64 + 2·1024, writes 1024·64 + 2·1024.
    elements = (65536 + 2048) + 131072 + 6 * ((131072 + 2048) + (65536 + 2048))
    assert elements == 1_402_880
    assert io.hbm_bytes(1024, 64, 100 * KB, "flash") == 2 * elements
    assert io.paper_block_sizes(64, 100 * KB) == (64, 200)


def test_block_sizes_follow_line_1_of_algorithm_1():
    assert io.paper_block_sizes(128, 100 * KB) == (100, 100)  # B_c = ⌈51200/512⌉ < d
    assert io.paper_block_sizes(64, 16, bytes_per_element=2) == (1, 1)  # M < 4d: one row
    assert io.paper_block_sizes(16, 192 * KB, bytes_per_element=4) == (16, 768)


def test_flash_traffic_is_theta_n2_d2_over_m():
    n, d, sram = 2**16, 64, 128 * KB  # M = 65 536: B_c = 256 divides N, T_c = 4Nd/M exactly
    m = sram // 2
    exact = io.hbm_bytes(n, d, sram, "flash") // 2  # elements of 2 bytes
    assert exact == (12 * d * d + 16 * d) * n * n // m + 3 * n * d + 2 * n
    assert exact / (n * n * d * d / m) == pytest.approx(12, rel=0.03)  # 12 + 16/d + O(M/N)
    assert io.flash_leading_bytes(n, d, sram) == 2 * (exact - 3 * n * d - 2 * n)


def test_standard_over_flash_tends_to_m_over_3d2_plus_4d():
    """Both grow as N², so the saving tends to 4N² / ((12d² + 16d)N²/M) = M/(3d² + 4d)."""
    d, sram = 64, 128 * KB
    ratios = [
        io.hbm_bytes(n, d, sram, "standard") / io.hbm_bytes(n, d, sram, "flash")
        for n in (256, 1024, 4096, 2**16, 2**20)
    ]
    assert ratios == sorted(ratios)
    assert ratios[-1] == pytest.approx((sram // 2) / (3 * d * d + 4 * d), rel=1e-3)


def test_one_key_block_means_one_pass():
    # N ≤ B_c: T_c = 1, so 3Nd + 2N + 3Nd + 4N = 6Nd + 6N.
    assert io.hbm_bytes(100, 16, 100 * KB, "flash", 1) == 6 * 100 * 16 + 6 * 100


def test_more_sram_never_means_more_traffic():
    counts = [io.hbm_bytes(8192, 64, kb * KB, "flash") for kb in (16, 32, 64, 128, 256)]
    assert counts == sorted(counts, reverse=True)


def test_peak_memory_is_quadratic_for_standard_and_linear_for_flash():
    assert io.peak_bytes(1000, 64, "standard") == 2 * (4 * 1000 * 64 + 2 * 1000**2)
    assert io.peak_bytes(1000, 64, "flash") == 2 * (4 * 1000 * 64 + 2 * 1000)
    assert io.peak_bytes(2000, 64, "flash") == 2 * io.peak_bytes(1000, 64, "flash")


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: io.hbm_bytes(10, 8, 1024, "tiled"), "method"),
        (lambda: io.hbm_bytes(0, 8, 1024, "flash"), "n:"),
        (lambda: io.hbm_bytes(10, 8, 1, "flash", 2), "sram_bytes"),
        (lambda: io.peak_bytes(10, 0, "flash"), "d:"),
        (lambda: io.paper_block_sizes(8, 1024.0), "sram_bytes"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- the loops count the same bytes ------------------------------------------------------


def traced_bytes(forward, q, k, v, **kwargs):
    trace = Trace()
    forward(q, k, v, trace=trace, **kwargs)
    reads = sum(t["hbm_read_bytes"] for t in trace["tile"])
    writes = sum(t["hbm_write_bytes"] for t in trace["tile"])
    return reads, writes


@pytest.mark.parametrize(
    "n,d,sram,dtype",
    [
        (100, 16, 4 * KB, torch.float32),
        (257, 8, 2 * KB, torch.float32),
        (64, 16, 1 * KB, torch.float64),
        (33, 4, 600, torch.float64),
    ],
)
def test_algorithm_1_loop_moves_exactly_the_bytes_of_the_io_model(n, d, sram, dtype):
    """fp32 and fp64: O, ℓ, m and the inputs share one element size, as the model assumes."""
    size = torch.finfo(dtype).bits // 8
    block_r, block_c = io.paper_block_sizes(d, sram, size)
    q = torch.randn(1, 1, n, d, dtype=dtype)
    reads, writes = traced_bytes(flash_attention_v1, q, q, q, block_m=block_r, block_n=block_c)
    assert reads + writes == io.hbm_bytes(n, d, sram, "flash", size)


def test_naive_attention_counts_algorithm_0():
    q = torch.randn(1, 1, 50, 8)
    trace = Trace()
    naive_attention(q, q, q, trace=trace)
    (hbm,) = trace["hbm"]
    total = hbm["hbm_read_bytes"] + hbm["hbm_write_bytes"]
    assert total == io.hbm_bytes(50, 8, 4, "standard", bytes_per_element=4)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q,n_k,block_m,block_n", [(100, 70, 16, 32), (64, 64, 16, 16)])
def test_flashattention_2_loop_reads_q_once_and_k_v_once_per_query_block(
    n_q, n_k, block_m, block_n, causal
):
    d, batch, heads = 8, 2, 3
    q = torch.randn(batch, heads, n_q, d, dtype=torch.float16)
    k = torch.randn(batch, heads, n_k, d, dtype=torch.float16)
    reads, writes = traced_bytes(
        flash_attention, q, k, k, causal=causal, block_m=block_m, block_n=block_n
    )
    bh, t_r = batch * heads, math.ceil(n_q / block_m)
    # Keys a query block loads: whole key blocks up to the last key it may see.
    keys = [
        n_k
        if not causal
        else min(n_k, math.ceil(min(n_k, (i + 1) * block_m, n_q) / block_n) * block_n)
        for i in range(t_r)
    ]
    assert reads == bh * 2 * d * (n_q + 2 * sum(keys))  # fp16 Q once, K and V per query block
    assert writes == bh * n_q * (2 * d + 4)  # O in fp16 and the fp32 log-sum-exp, once
