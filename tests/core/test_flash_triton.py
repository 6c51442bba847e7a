"""core.attention.flash_triton: the Triton FlashAttention kernel against PyTorch's attention.

Without a CUDA GPU the kernel runs under Triton's interpreter on CPU tensors (tests/conftest.py
sets TRITON_INTERPRET=1); on a GPU machine the same tests run the compiled kernel on CUDA
tensors. The reference is `scaled_dot_product_attention` on fp32 copies of the inputs and
`torch.logsumexp` of the scaled scores. One test compiles the kernel for the H100 (sm_90) on
the CPU, in a subprocess, to catch what the interpreter does not check (shared memory, K ≥ 16).
"""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.attention.flash_triton import (
    flash_attention_triton,
    flash_attention_triton_trace,
    kernel_config,
    triton_backend,
)

ROOT = Path(__file__).resolve().parents[2]
BACKEND, REASON = triton_backend()
DEVICE = "cuda" if BACKEND == "gpu" else "cpu"
needs_kernel = pytest.mark.skipif(BACKEND is None, reason=REASON)
# triton 3.6's interpreter turns a 1-element array into a loop bound; NumPy 2.3 warns about it
pytestmark = pytest.mark.filterwarnings("ignore:Conversion of an array with ndim > 0")

# Max abs error allowed in the output, by input dtype: fp32 is exact up to rounding; fp16/bf16
# round P to the input dtype before P·V (as FlashAttention does), so they sit near the dtype's
# own error (SDPA in fp16 is off by ~1.3e-3, in bf16 by ~9e-3 on these shapes).
OUT_TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}
LSE_TOL = 1e-4  # m and l are fp32 whatever the input dtype
DTYPES = list(OUT_TOL)

# (N, d, block): one row and a single tile, ragged N with d=32, exact tiles, ragged N with d=128
SHAPES = [(1, 16, 16), (37, 32, 16), (64, 64, 32), (100, 128, 64)]


def random_qkv(n_q, n_k, d, dtype, *, seed=0, batch=1, heads=2):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, n, d, generator=gen) for n in (n_q, n_k, n_k))
    return tuple(x.to(dtype).to(DEVICE) for x in (q, k, v))


def scaled_scores(q, k, causal):
    """s = q kᵀ/√d in fp32 on the CPU, −inf where causal attention hides key j from query i."""
    q, k = q.float().cpu(), k.float().cpu()
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        n_q, n_k = s.shape[-2:]
        hidden = torch.ones(n_q, n_k, dtype=torch.bool).tril().logical_not()
        s = s.masked_fill(hidden, -math.inf)
    return s


def reference(q, k, v, causal):
    out = F.scaled_dot_product_attention(
        q.float().cpu(), k.float().cpu(), v.float().cpu(), is_causal=causal
    )
    return out, torch.logsumexp(scaled_scores(q, k, causal), dim=-1)


def max_abs(a, b):
    return (a.float().cpu() - b.float().cpu()).abs().max().item()


@needs_kernel
@pytest.mark.parametrize("n, d, block", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_flash_triton_matches_sdpa(dtype, causal, n, d, block):
    q, k, v = random_qkv(n, n, d, dtype)
    out, lse = flash_attention_triton(q, k, v, causal=causal, block_m=block, block_n=block)
    ref_out, ref_lse = reference(q, k, v, causal)
    assert out.dtype == dtype and out.shape == q.shape and out.device == q.device
    assert lse.dtype == torch.float32 and lse.shape == q.shape[:3]
    assert max_abs(out, ref_out) <= OUT_TOL[dtype]
    assert max_abs(lse, ref_lse) <= LSE_TOL


@needs_kernel
@pytest.mark.parametrize("causal", [False, True])
def test_flash_triton_query_and_key_lengths_differ(causal):
    # Nq < Nk and Nq > Nk (causal: the last 37 queries see every key); d not a power of two;
    # block_m ≠ block_n either way round, so the causal diagonal spans several key blocks.
    for n_q, n_k, d, block_m, block_n in [(50, 70, 40, 32, 16), (70, 33, 80, 16, 32)]:
        q, k, v = random_qkv(n_q, n_k, d, torch.float32, seed=n_q)
        out, lse = flash_attention_triton(q, k, v, causal=causal, block_m=block_m, block_n=block_n)
        ref_out, ref_lse = reference(q, k, v, causal)
        assert out.shape == (1, 2, n_q, d)
        assert max_abs(out, ref_out) <= OUT_TOL[torch.float32]
        assert max_abs(lse, ref_lse) <= LSE_TOL


@needs_kernel
def test_flash_triton_takes_any_strides():
    gen = torch.Generator().manual_seed(1)
    b, h, n, d = 2, 3, 45, 32
    q = torch.randn(b, n, h, d, generator=gen).transpose(1, 2)  # (B, N, H, d) memory layout
    k = torch.randn(b, 1, n, d, generator=gen).expand(b, h, n, d)  # stride 0 over heads (MQA)
    v = torch.randn(b, h, n, 2 * d, generator=gen)[..., ::2]  # every other element
    q, k, v = (x.to(DEVICE) for x in (q, k, v))
    assert not any(x.is_contiguous() for x in (q, k, v))
    out, lse = flash_attention_triton(q, k, v, causal=True, block_m=16, block_n=32)
    ref_out, ref_lse = reference(q.contiguous(), k.contiguous(), v.contiguous(), True)
    assert max_abs(out, ref_out) <= OUT_TOL[torch.float32]
    assert max_abs(lse, ref_lse) <= LSE_TOL


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32], ids=str)
def test_flash_triton_default_blocks_are_the_shipped_config(dtype):
    config = kernel_config(64, dtype)
    assert all(config[key] in (16, 32, 64, 128) for key in ("block_m", "block_n"))
    n = config["block_m"] + 3  # one full query block and a ragged one
    q, k, v = random_qkv(n, n, 64, dtype, batch=1, heads=1)
    out, lse = flash_attention_triton(q, k, v, causal=True)
    ref_out, ref_lse = reference(q, k, v, True)
    assert max_abs(out, ref_out) <= OUT_TOL[dtype]
    assert max_abs(lse, ref_lse) <= LSE_TOL


@needs_kernel
def test_flash_triton_empty_query_gives_empty_output():
    q, k, v = random_qkv(0, 5, 16, torch.float32)
    out, lse = flash_attention_triton(q, k, v)
    assert out.shape == (1, 2, 0, 16) and lse.shape == (1, 2, 0)


@needs_kernel
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda q, k, v: (q[..., :8], k[..., :8], v[..., :8]), "head_dim"),
        (lambda q, k, v: (q.repeat(1, 1, 1, 3), k.repeat(1, 1, 1, 3), v.repeat(1, 1, 1, 3)), "head_dim"),
        (lambda q, k, v: (q, k.half(), v), "share a dtype"),
        (lambda q, k, v: (q.long(), k.long(), v.long()), "dtype"),
        (lambda q, k, v: (q, k[:, :1], v[:, :1]), "shapes"),
        (lambda q, k, v: (q[0], k[0], v[0]), "4-D"),
        (lambda q, k, v: (q, k[:, :, :0], v[:, :, :0]), "at least one key"),
        (lambda q, k, v: (q.to("meta"), k.to("meta"), v.to("meta")), "tensors"),
    ],
)  # fmt: skip
def test_flash_triton_rejects_bad_input(change, message):
    q, k, v = change(*random_qkv(8, 8, 64, torch.float32))
    with pytest.raises(ValueError, match=message):
        flash_attention_triton(q, k, v)


@needs_kernel
def test_flash_triton_rejects_block_sizes_that_are_not_powers_of_two():
    q, k, v = random_qkv(8, 8, 16, torch.float32)
    with pytest.raises(ValueError, match="block_m"):
        flash_attention_triton(q, k, v, block_m=48)
    with pytest.raises(ValueError, match="block_n"):
        flash_attention_triton(q, k, v, block_n=8)


def running_max_and_sum(q, k, causal, block_m, block_n):
    """What the kernel's trace must hold, recomputed from the scores in float64.

    After key block j, row r has seen keys < min((j+1)·block_n, Nk) (the causal ones among
    them): m_i = their max score, l_i = Σ exp(s − m_i). A causal tile whose first key lies past
    the query block's last row is never visited: NaN. -> m_i, l_i: (B, H, n_qb, n_kb, block_m).
    """
    s = scaled_scores(q, k, causal).double()
    b, h, n_q, n_k = s.shape
    n_qb, n_kb = -(-n_q // block_m), -(-n_k // block_n)
    m_i = torch.full((b, h, n_qb * block_m, n_kb), math.nan, dtype=torch.float64)
    l_i = torch.full_like(m_i, math.nan)
    for j in range(n_kb):
        seen = s[..., : min((j + 1) * block_n, n_k)]
        m_i[:, :, :n_q, j] = seen.amax(dim=-1)
        l_i[:, :, :n_q, j] = torch.exp(seen - m_i[:, :, :n_q, j, None]).sum(dim=-1)
    m_i = m_i.reshape(b, h, n_qb, block_m, n_kb).transpose(-1, -2).clone()
    l_i = l_i.reshape(b, h, n_qb, block_m, n_kb).transpose(-1, -2).clone()
    if causal:
        for i in range(n_qb):
            last_key = min((i + 1) * block_m, n_k) - 1
            m_i[:, :, i, last_key // block_n + 1 :] = math.nan
            l_i[:, :, i, last_key // block_n + 1 :] = math.nan
    return m_i, l_i


@needs_kernel
@pytest.mark.parametrize(
    "causal, block_m, block_n, visited",
    # Nq = 37, Nk = 45. Blocks 16 × 16: 3 × 3 tiles, causal visits 1 + 2 + 3 of them;
    # 32 × 16: 2 × 3 tiles, 2 + 3 (a diagonal of two key blocks); 16 × 32: 3 × 2, 1 + 1 + 2
    [(False, 16, 16, 9), (True, 16, 16, 6), (True, 32, 16, 2 + 3), (True, 16, 32, 1 + 1 + 2)],
)
def test_flash_triton_trace_matches_running_max_and_sum(causal, block_m, block_n, visited):
    q, k, v = random_qkv(37, 45, 32, torch.float32, seed=3)
    out, lse, m_i, l_i = flash_attention_triton_trace(
        q, k, v, causal=causal, block_m=block_m, block_n=block_n
    )
    n_qb, n_kb = -(-37 // block_m), -(-45 // block_n)
    assert m_i.shape == l_i.shape == (1, 2, n_qb, n_kb, block_m)
    assert m_i.dtype == l_i.dtype == torch.float32 and m_i.device.type == l_i.device.type == "cpu"
    ref_m, ref_l = running_max_and_sum(q, k, causal, block_m, block_n)
    assert torch.equal(m_i.isnan(), ref_m.isnan())  # same tiles visited, rows past Nq NaN
    tiles_visited = (~m_i[0, 0, :, :, 0].isnan()).sum().item()
    assert tiles_visited == visited
    torch.testing.assert_close(m_i.double(), ref_m, rtol=1e-6, atol=1e-5, equal_nan=True)
    torch.testing.assert_close(l_i.double(), ref_l, rtol=1e-5, atol=0, equal_nan=True)

    # after the last tile a row visits, m_i + log l_i is the row's log-sum-exp
    rows = torch.arange(n_qb * block_m).reshape(n_qb, block_m)
    for i in range(n_qb):
        last = n_kb - 1 if not causal else (min((i + 1) * block_m, 45) - 1) // block_n
        valid = rows[i] < 37
        final = m_i[:, :, i, last] + torch.log(l_i[:, :, i, last])
        torch.testing.assert_close(final[..., valid], lse[:, :, rows[i][valid]].cpu())

    # the debug flag changes what is stored, not what is computed
    plain_out, plain_lse = flash_attention_triton(
        q, k, v, causal=causal, block_m=block_m, block_n=block_n
    )
    torch.testing.assert_close(out, plain_out, rtol=0, atol=1e-6)
    torch.testing.assert_close(lse, plain_lse, rtol=0, atol=1e-6)


def test_triton_backend_names_the_path_and_why():
    if torch.cuda.is_available():
        assert BACKEND == "gpu" and "sm_" in REASON
    else:
        assert BACKEND == "interpreter" and "interpreter" in REASON.lower()
    assert triton_backend() == (BACKEND, REASON)  # asked once


def run_python(code, **env_changes):
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env.update(env_changes, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_module_chooses_the_interpreter_itself_without_cuda():
    out = run_python("""
        import os, torch
        from core.attention.flash_triton import triton_backend
        print(triton_backend()[0], os.environ.get("TRITON_INTERPRET"))
    """)  # no TRITON_INTERPRET in the environment
    expected = "gpu None" if torch.cuda.is_available() else "interpreter 1"
    assert out.split() == expected.split()


def test_module_imports_without_triton():
    out = run_python("""
        import sys
        sys.modules["triton"] = None  # `import triton` now raises ImportError
        import torch
        from core.attention import flash_triton
        backend, reason = flash_triton.triton_backend()
        assert backend is None and "Triton not installed" in reason, reason
        x = torch.zeros(1, 1, 4, 16)
        try:
            flash_triton.flash_attention_triton(x, x, x)
        except RuntimeError as error:
            print(error)
    """)
    assert "cannot run here: Triton not installed" in out


# H100 / H200: 227 KB of shared memory per thread block (cudaDevAttrMaxSharedMemoryPerBlockOptin)
H100_SHARED_BYTES = 232448

COMPILE_FOR_SM90 = """
    import json, torch, triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from core.attention import flash_triton

    kernel = flash_triton._attn_fwd
    names = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
    results = []
    for dtype, head_dim, debug in CASES:
        dtype = getattr(torch, dtype)
        config = flash_triton.kernel_config(head_dim, dtype)
        signature, constants = {}, {}
        for arg in kernel.arg_names:
            if arg in ("Q", "K", "V", "Out"):
                signature[arg] = "*" + names[dtype]
            elif arg == "LSE" or (arg in ("M_DBG", "L_DBG") and debug):
                signature[arg] = "*fp32"
            elif arg in ("M_DBG", "L_DBG"):  # None when the flag is off
                signature[arg], constants[arg] = "constexpr", None
            elif arg.startswith("stride_") or arg in ("H", "N_Q", "N_K"):
                signature[arg] = "i32"
            elif arg == "qk_scale":
                signature[arg] = "fp32"
            else:
                signature[arg] = "constexpr"
        constants.update(
            HEAD_DIM=head_dim, BLOCK_D=triton.next_power_of_2(head_dim),
            BLOCK_M=config["block_m"], BLOCK_N=config["block_n"], CAUSAL=True, DOT_F32=False,
            PRECISION="ieee" if dtype == torch.float32 else "tf32", DEBUG=debug,
        )
        compiled = triton.compile(
            ASTSource(kernel, signature, constexprs=constants),
            target=GPUTarget("cuda", 90, 32),
            options={"num_warps": config["num_warps"], "num_stages": config["num_stages"]},
        )
        results.append({
            "case": [names[dtype], head_dim, debug], "config": config,
            "shared": compiled.metadata.shared, "wgmma": "wgmma" in compiled.asm["ptx"],
            "stores": compiled.asm["ttir"].count("tt.store"),
        })
    print(json.dumps(results))
"""


def test_shipped_configs_compile_for_h100():
    # Compiled, not interpreted: TRITON_INTERPRET=0 keeps the module from choosing the
    # interpreter; the wheel's LLVM and ptxas build sm_90 code without a GPU (Triton caches it).
    cases = [
        (dtype, head_dim, debug)
        for dtype in ("float16", "bfloat16")
        for head_dim in (64, 128)  # the largest head_dim of each of the two fp16/bf16 configs
        for debug in (False, True)
    ] + [("float32", 128, False)]
    code = f"CASES = {cases!r}\n" + textwrap.dedent(COMPILE_FOR_SM90)
    results = json.loads(run_python(code, TRITON_INTERPRET="0").splitlines()[-1])
    assert len(results) == len(cases)
    stores = {}
    for result in results:
        dtype, head_dim, debug = result["case"]
        assert result["shared"] <= H100_SHARED_BYTES, result
        # fp16/bf16 dots on Hopper tensor cores; fp32 asks for exact ("ieee") FMA dots, no TF32
        assert result["wgmma"] == (dtype != "fp32"), result
        stores[dtype, head_dim, debug] = result["stores"]
    for dtype in ("fp16", "bf16"):
        for head_dim in (64, 128):
            assert stores[dtype, head_dim, False] == 2  # O and LSE, nothing else
            assert stores[dtype, head_dim, True] > stores[dtype, head_dim, False]
