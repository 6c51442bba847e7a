"""The IO model: HBM bytes moved and held by standard attention and by FlashAttention.

Dao et al. 2022, Section 3.2 and Theorem 2: for sequence length N, head dimension d and
on-chip SRAM of M elements (d ≤ M ≤ Nd), standard attention makes Θ(Nd + N²) HBM accesses
and FlashAttention Θ(N²d²/M). The functions below count the accesses of the paper's
Algorithm 0 and Algorithm 1 exactly, line by line, for one head (multiply by batch × heads).
One element size `bytes_per_element` is used for every tensor, as in the paper's model.
"""

from __future__ import annotations

import math
from typing import Literal

Method = Literal["standard", "flash"]


def _check(n: int, d: int, bytes_per_element: int) -> None:
    for name, value in (("n", n), ("d", d), ("bytes_per_element", bytes_per_element)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected an integer ≥ 1, got {value!r}")


def paper_block_sizes(d: int, sram_bytes: int, bytes_per_element: int = 2) -> tuple[int, int]:
    """(B_r, B_c): the block sizes of Algorithm 1, line 1, for an SRAM of `sram_bytes`.

    M = sram_bytes // bytes_per_element elements; B_c = ⌈M/(4d)⌉, B_r = min(⌈M/(4d)⌉, d).
    """
    _check(1, d, bytes_per_element)
    if isinstance(sram_bytes, bool) or not isinstance(sram_bytes, int):
        raise ValueError(f"sram_bytes: expected an integer, got {sram_bytes!r}")
    m = sram_bytes // bytes_per_element
    if m < 1:
        raise ValueError(
            f"sram_bytes: must hold at least one element of {bytes_per_element} bytes, "
            f"got {sram_bytes}"
        )
    block_c = math.ceil(m / (4 * d))
    return min(block_c, d), block_c


def hbm_bytes(n: int, d: int, sram_bytes: int, method: Method, bytes_per_element: int = 2) -> int:
    """Bytes read from plus written to HBM by one head of attention over N tokens.

    method "standard" (Algorithm 0; `sram_bytes` is checked but does not matter):
        line 1: read Q, K (2Nd), write S (N²);
        line 2: read S (N²), write P (N²);
        line 3: read P (N²) and V (Nd), write O (Nd);
        total 4Nd + 4N² elements = Θ(Nd + N²).
    method "flash" (Algorithm 1, with B_c = ⌈M/(4d)⌉ and T_c = ⌈N/B_c⌉):
        line 2: write O = 0, ℓ = 0, m = −∞ (Nd + 2N);
        line 6, once per key block j: read K_j, V_j (2Nd over all j);
        line 8, per (j, i): read Q_i, O_i, ℓ_i, m_i (2Nd + 2N per j, summed over i);
        lines 12–13, per (j, i): write O_i, ℓ_i, m_i (Nd + 2N per j);
        total 3Nd + 2N + T_c·(3Nd + 4N) elements. When 4d divides M and B_c divides N,
        T_c = 4Nd/M exactly and the total is (12d² + 16d)·N²/M + 3Nd + 2N: Θ(N²d²/M).
        Only T_c enters: B_r sets how the work is cut, not how much is moved.
    Returns bytes = elements × bytes_per_element.
    """
    _check(n, d, bytes_per_element)
    _, block_c = paper_block_sizes(d, sram_bytes, bytes_per_element)
    if method == "standard":
        elements = 4 * n * d + 4 * n * n
    elif method == "flash":
        t_c = math.ceil(n / block_c)
        elements = 3 * n * d + 2 * n + t_c * (3 * n * d + 4 * n)
    else:
        raise ValueError(f"method: expected 'standard' or 'flash', got {method!r}")
    return elements * bytes_per_element


def flash_leading_bytes(n: int, d: int, sram_bytes: int, bytes_per_element: int = 2) -> float:
    """The N² part (12d² + 16d)·N²/M of FlashAttention's count (M in elements), in bytes.

    12d²N²/M is the re-reading and re-writing of Q and O, 16dN²/M that of ℓ and m; it is the
    whole count but 3Nd + 2N when 4d divides M and B_c divides N (see `hbm_bytes`).
    """
    _check(n, d, bytes_per_element)
    m = sram_bytes // bytes_per_element
    return (12 * d * d + 16 * d) * n * n / m * bytes_per_element


def peak_bytes(n: int, d: int, method: Method, bytes_per_element: int = 2) -> int:
    """Bytes the algorithm keeps in HBM at its peak, for one head.

    "standard" (Algorithm 0): Q, K, V, O (4Nd) and the N×N matrices S and P it writes: 4Nd + 2N².
    "flash" (Algorithm 1): Q, K, V, O and the statistics ℓ, m (2N): 4Nd + 2N. Tiles live in SRAM.
    """
    _check(n, d, bytes_per_element)
    if method == "standard":
        elements = 4 * n * d + 2 * n * n
    elif method == "flash":
        elements = 4 * n * d + 2 * n
    else:
        raise ValueError(f"method: expected 'standard' or 'flash', got {method!r}")
    return elements * bytes_per_element
