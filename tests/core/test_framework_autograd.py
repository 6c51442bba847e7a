"""core.framework.autograd: the parser follows the Contract's grammar, gradients equal torch's."""

from __future__ import annotations

import math
import multiprocessing
import random

import pytest
import torch

from core.framework import autograd as ag

# --- the grammar --------------------------------------------------------------------------------


def shape(tree: ag.Expr) -> str:
    """The tree written back with every operation bracketed, to read precedence off."""
    if tree.op == "number":
        return f"{tree.value:g}"
    if tree.op == "variable":
        return tree.name
    if tree.op == "neg":
        return f"(-{shape(tree.children[0])})"
    if tree.op in ag.FUNCTIONS:
        return f"{tree.op}({shape(tree.children[0])})"
    symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}[tree.op]
    return f"({shape(tree.children[0])}{symbol}{shape(tree.children[1])})"


@pytest.mark.parametrize(
    "expression,expected",
    [
        ("-x**2", "(-(x**2))"),
        ("2**-x", "(2**(-x))"),
        ("x**y**z", "(x**(y**z))"),
        ("-x*y", "((-x)*y)"),
        ("x-y-z", "((x-y)-z)"),
        ("x/y*z", "((x/y)*z)"),
        ("x+y*z", "(x+(y*z))"),
        ("(x+y)*z", "((x+y)*z)"),
        ("--x", "(-(-x))"),
        (".5 + 1e-3 + 2.", "((0.5+0.001)+2)"),
        ("sin(x)**2", "(sin(x)**2)"),
    ],
)
def test_parse_follows_pythons_precedence(expression, expected):
    assert shape(ag.parse(expression)) == expected


@pytest.mark.parametrize(
    "expression,column",
    [
        ("x $ y", 3),  # a refused character
        ("x + __import__", 5),  # "_" is not allowed
        ("x.grad", 2),  # attributes: "." starts no number
        ("x y", 3),  # no implicit multiplication
        ("2x", 2),
        ("foo(x)", 1),  # unknown name
        ("sin x", 5),
        ("x + ", 5),  # the end where an operand is needed
        ("(x", 3),
        ("x)", 2),
        ("+x", 1),  # no unary plus in the grammar
        ("sin(x, y)", 6),
        ("2e7 * x", 1),  # above 1e6
        ("1e400", 1),
    ],
)
def test_refusals_name_the_column(expression, column):
    with pytest.raises(ValueError) as raised:
        ag.parse(expression)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"column {column}:"), message


def test_caps_on_length_and_nesting():
    ag.parse("x" + "+x" * 99)  # 199 characters
    with pytest.raises(ValueError, match="longer than 200"):
        ag.parse("x" + "+x" * 100)
    ag.parse("(" * 32 + "x" + ")" * 32)
    with pytest.raises(ValueError, match="column 33: nested deeper than 32"):
        ag.parse("(" * 33 + "x" + ")" * 33)
    with pytest.raises(ValueError, match="nested deeper"):
        ag.parse("-" * 33 + "x")
    with pytest.raises(ValueError, match="nested deeper"):
        ag.parse("x" + "**x" * 33)
    with pytest.raises(ValueError, match="empty"):
        ag.parse("   ")


# --- gradients against torch built directly -------------------------------------------------------

UNARY = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "exp": torch.exp,
    "relu": torch.relu,
    "sqrt": torch.sqrt,
    "log": torch.log,
    "detach": torch.Tensor.detach,
}
BINARY = {
    "+": torch.add,
    "-": torch.sub,
    "*": torch.mul,
    "/": torch.div,
    "**": torch.pow,
}


def random_tree(rng: random.Random, depth: int):
    """(text, function of the leaves building the same computation in torch)."""
    if depth == 0 or rng.random() < 0.25:
        choice = rng.choice(["x", "y", "z", "number"])
        if choice == "number":
            value = round(rng.uniform(0.1, 3), 2)
            return f"{value:g}", lambda env, v=value: torch.tensor(v, dtype=torch.float64)
        return choice, lambda env, name=choice: env[name]
    kind = rng.random()
    if kind < 0.35:
        name = rng.choice(list(UNARY))
        text, build = random_tree(rng, depth - 1)
        return f"{name}({text})", lambda env: UNARY[name](build(env))
    if kind < 0.45:
        text, build = random_tree(rng, depth - 1)
        return f"-({text})", lambda env: -build(env)
    symbol = rng.choice(list(BINARY))
    left, build_left = random_tree(rng, depth - 1)
    right, build_right = random_tree(rng, depth - 1)
    return (
        f"({left}) {symbol} ({right})",
        lambda env: BINARY[symbol](build_left(env), build_right(env)),
    )


N_RANDOM = 300


def test_random_expressions_match_torch_autograd_grad():
    rng = random.Random(0)
    compared = refused = 0
    worst = 0.0
    for _ in range(N_RANDOM):
        text, build = random_tree(rng, rng.randint(1, 5))
        vector = rng.random() < 0.3
        values = {
            "x": [rng.uniform(0.2, 2) for _ in range(3)] if vector else rng.uniform(0.2, 2),
            "y": rng.uniform(0.2, 2),
            "z": rng.uniform(-2, 2),
        }
        if vector:
            text, inner = f"sum({text})", build
            build = lambda env, inner=inner: torch.sum(inner(env))  # noqa: E731
        leaves = {
            k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()
        }
        reference = build(leaves)
        if len(text) > ag.MAX_CHARACTERS:
            continue
        try:
            value, grads, trace = ag.gradients(text, values)
        except ValueError:
            refused += 1  # a non-finite value somewhere (log of a negative, overflow)
            continue
        assert torch.isfinite(reference).all()
        assert value == pytest.approx(float(reference.detach()), rel=1e-12, abs=1e-12)
        if reference.requires_grad:
            expected = torch.autograd.grad(reference, list(leaves.values()), allow_unused=True)
        else:
            expected = [None] * 3
        for name, want in zip(leaves, expected, strict=True):
            want = torch.zeros_like(leaves[name]) if want is None else want
            assert grads[name].shape == leaves[name].shape
            if torch.isfinite(want).all():
                # float64 and the same torch ops in the same order: agree to rounding
                assert torch.allclose(grads[name], want, rtol=1e-12, atol=1e-12), text
                worst = max(worst, float((grads[name] - want).abs().max()))
        assert trace[-1]["grad"].item() == 1.0
        compared += 1
    assert compared > 200 and refused < 100
    assert worst < 1e-12


def test_trace_names_torchs_grad_fns_and_gradients_flowing_in():
    value, grads, trace = ag.gradients("x*y + sin(x)", {"x": 0.5, "y": 3.0})
    assert value == pytest.approx(1.5 + math.sin(0.5), rel=1e-12)
    by_label = {(node["label"], node["column"]): node for node in trace}
    assert by_label[("×", 2)]["grad_fn"] == "MulBackward0"
    assert by_label[("sin", 7)]["grad_fn"] == "SinBackward0"
    assert by_label[("+", 5)]["grad_fn"] == "AddBackward0"
    assert by_label[("x", 1)]["grad_fn"] is None
    assert by_label[("×", 2)]["next_functions"] == ["AccumulateGrad", "AccumulateGrad"]
    assert by_label[("sin", 7)]["grad"].item() == 1.0
    assert by_label[("y", 3)]["grad"].item() == 0.5  # ∂/∂y (x·y) = x
    assert grads["x"].item() == pytest.approx(3.0 + math.cos(0.5), rel=1e-12)


def test_number_literals_keep_torchs_scalar_grad_fns():
    trace = ag.gradients("x**2 + 2**x", {"x": 1.0})[2]
    names = [node["grad_fn"] for node in trace if node["op"] == "pow"]
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    assert names == [type((x**2).grad_fn).__name__, type((2**x).grad_fn).__name__]


def test_detach_and_unused_variables_get_zero_gradients():
    value, grads, trace = ag.gradients("x * detach(y)", {"x": 2.0, "y": 3.0, "z": [1.0, 2.0]})
    assert value == 6.0
    assert grads["y"].item() == 0.0 and grads["x"].item() == 3.0
    assert grads["z"].tolist() == [0.0, 0.0]
    detach = next(node for node in trace if node["op"] == "detach")
    assert detach["grad"].item() == 2.0  # the gradient reaches detach, and stops there
    assert next(n for n in trace if n["label"] == "y")["grad"].item() == 0.0


@pytest.mark.parametrize(
    "expression,values,message",
    [
        ("x", {"x": [1.0, 2.0]}, "reduce it with sum or mean"),
        ("x + y", {"x": 1.0}, "no value given for y"),
        ("x", {"x": 1.0, "w": 1.0}, "unknown variable"),
        ("sum(x + y)", {"x": [1.0, 2.0], "y": [1.0, 2.0, 3.0]}, "different lengths"),
        ("x", {"x": [1.0] * 17}, "1..16"),
        ("x", {"x": []}, "1..16"),
        ("x", {"x": float("nan")}, "finite"),
        ("log(x)", {"x": -1.0}, "non-finite"),
        ("x / 0", {"x": 1.0}, "non-finite"),
        ("exp(x)**1000000", {"x": 5.0}, "non-finite"),
        ("x", {"x": True}, "numbers"),
    ],
)
def test_bad_values_are_refused_in_one_line(expression, values, message):
    with pytest.raises(ValueError, match=message) as raised:
        ag.gradients(expression, values)
    assert "\n" not in str(raised.value)


# --- hostile input, each call in a child process that is killed on timeout -------------------------

HOSTILE = [
    "__import__('os').system('echo hacked')",
    "exec('1')",
    "x.__class__.__bases__",
    "lambda: 1",
    "x if y else z",
    "[x for x in y]",
    "9" * 199,
    "1000000**1000000**1000000",
    "exp(exp(exp(exp(exp(x)))))",
    "x" + "**x" * 32,
    "(" * 500 + "x" + ")" * 500,
    "-" * 10_000 + "x",
    "x+" * 50_000 + "x",
    "sin(" * 40 + "x" + ")" * 40,
    "x\n+ y",
    "ｘ + 1",  # a full-width letter
    "x\x00",
]


def _run(expression: str, queue) -> None:
    try:
        ag.gradients(expression, {"x": 2.0, "y": 1.0, "z": 0.5})
        queue.put("ok")
    except ValueError as error:
        queue.put(f"refused: {error}")
    except BaseException as error:  # anything else is a failure of the parser
        queue.put(f"crashed: {type(error).__name__}")


def test_hostile_inputs_are_refused_quickly_in_one_line():
    context = multiprocessing.get_context("fork")
    for expression in HOSTILE:
        queue = context.Queue()
        child = context.Process(target=_run, args=(expression, queue))
        child.start()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join()
            pytest.fail(f"timeout on {expression[:40]!r}")
        outcome = queue.get(timeout=1)
        assert outcome.startswith("refused: "), (expression[:40], outcome)
        assert "\n" not in outcome and len(outcome) < 300
