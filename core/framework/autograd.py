"""A small expression language whose evaluation is recorded by torch's define-by-run autograd.

Wengert 1964 (the evaluation trace); Baydin et al. 2018 (reverse mode); Paszke et al. 2017/2019.
`parse` is a hand-written tokenizer and recursive-descent parser (nothing is ever handed to
`eval`, `exec`, `compile` or `ast`), so a typed expression can only name x, y, z, numbers and
the functions below. `gradients` evaluates the tree in float64 torch and reports, per node, its
value, torch's `grad_fn` name and the gradient of the result flowing into it.

Grammar (Python's precedence; `**` right-associative and tighter than a unary minus on its left):
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | power
    power   := atom ["**" unary]
    atom    := number | x | y | z | function "(" sum ")" | "(" sum ")"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


# torch is imported on first use: the demo's Params validate an expression with `parse`, which
# must not load torch for the gallery (that lists every demo without running any).
class _LazyTorch:
    def __getattr__(self, name: str):
        import torch as module

        globals()["torch"] = module
        return getattr(module, name)


torch = _LazyTorch()

MAX_CHARACTERS = 200
MAX_DEPTH = 32  # parentheses, calls, unary minus and ** each add one level
MAX_NUMBER = 1e6
MAX_VECTOR = 16
VARIABLES = ("x", "y", "z")
# name in an expression -> the torch function that evaluates it
FUNCTIONS = {
    "sin": "sin",
    "cos": "cos",
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "relu": "relu",
    "sum": "sum",
    "mean": "mean",
    "detach": "Tensor.detach",
}


def _function(name: str):
    target = torch
    for part in FUNCTIONS[name].split("."):
        target = getattr(target, part)
    return target


ALLOWED = re.compile(r"[A-Za-z0-9.+\-*/(), ]")
TOKEN = re.compile(
    r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z]+)"
    r"|(?P<op>\*\*|[-+*/(),])|(?P<space> +)"
)
BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}


@dataclass(frozen=True)
class Expr:
    """One node: op is "number", "variable", "neg", add/sub/mul/div/pow or a function name.

    `column` is the 1-based column of its token (an operator's, a call's name, a leaf's)."""

    op: str
    column: int
    children: tuple[Expr, ...] = ()
    value: float | None = None  # a number's value
    name: str = ""  # a variable's name

    @property
    def label(self) -> str:
        if self.op == "number":
            return f"{self.value:g}"
        if self.op == "variable":
            return self.name
        if self.op == "neg":
            return "−"
        symbols = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "**"}
        return symbols.get(self.op, self.op)


@dataclass(frozen=True)
class _Token:
    kind: str  # "number" | "name" | "op" | "end"
    text: str
    column: int


def _tokens(expression: str) -> list[_Token]:
    if not isinstance(expression, str):
        raise ValueError("expression: must be text")
    if len(expression) > MAX_CHARACTERS:
        raise ValueError(f"expression: longer than {MAX_CHARACTERS} characters")
    tokens, position = [], 0
    while position < len(expression):
        if not ALLOWED.fullmatch(expression[position]):
            raise ValueError(
                f"column {position + 1}: character {expression[position]!r} is not allowed"
            )
        match = TOKEN.match(expression, position)
        if match is None:  # a "." that starts no number
            raise ValueError(f"column {position + 1}: {expression[position]!r} starts no number")
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(expression) + 1))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def deeper(self, column: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError(f"column {column}: nested deeper than {MAX_DEPTH} levels")

    def sum(self) -> Expr:
        node = self.product()
        while self.current.text in ("+", "-"):
            token = self.take()
            node = Expr(BINARY[token.text], token.column, (node, self.product()))
        return node

    def product(self) -> Expr:
        node = self.unary()
        while self.current.text in ("*", "/"):
            token = self.take()
            node = Expr(BINARY[token.text], token.column, (node, self.unary()))
        return node

    def unary(self) -> Expr:
        if self.current.text == "-":
            token = self.take()
            self.deeper(token.column)
            node = Expr("neg", token.column, (self.unary(),))
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.current.text != "**":
            return base
        token = self.take()
        self.deeper(token.column)
        node = Expr("pow", token.column, (base, self.unary()))  # right-associative via unary
        self.depth -= 1
        return node

    def expect(self, text: str) -> None:
        token = self.current
        if token.text != text:
            found = "the end" if token.kind == "end" else repr(token.text)
            raise ValueError(f"column {token.column}: expected {text!r}, found {found}")
        self.take()

    def atom(self) -> Expr:
        token = self.take()
        if token.kind == "number":
            value = float(token.text)
            if not value <= MAX_NUMBER:  # also catches 1e400 = inf
                raise ValueError(f"column {token.column}: number above {MAX_NUMBER:g}")
            return Expr("number", token.column, value=value)
        if token.kind == "name" and token.text in VARIABLES:
            return Expr("variable", token.column, name=token.text)
        if token.kind == "name" and token.text in FUNCTIONS:
            self.deeper(token.column)
            self.expect("(")
            node = Expr(token.text, token.column, (self.sum(),))
            self.expect(")")
            self.depth -= 1
            return node
        if token.kind == "name":
            raise ValueError(
                f"column {token.column}: unknown name {token.text[:20]!r} "
                f"(variables x y z; functions {' '.join(FUNCTIONS)})"
            )
        if token.text == "(":
            self.deeper(token.column)
            node = self.sum()
            self.expect(")")
            self.depth -= 1
            return node
        found = "the end" if token.kind == "end" else repr(token.text)
        raise ValueError(f"column {token.column}: expected a number, x, y, z or '(', found {found}")


def parse(expression: str) -> Expr:
    """The expression's tree; ValueError with one line naming the column otherwise."""
    tokens = _tokens(expression)
    if len(tokens) == 1:
        raise ValueError("expression: empty")
    parser = _Parser(tokens)
    tree = parser.sum()
    token = parser.current
    if token.kind != "end":
        hint = " (no implicit multiplication: write *)" if token.kind != "op" else ""
        raise ValueError(f"column {token.column}: unexpected {token.text!r}{hint}")
    return tree


def nodes(tree: Expr) -> list[Expr]:
    """The tree's nodes in evaluation order (children before parents, left to right)."""
    order: list[Expr] = []

    def visit(node: Expr) -> None:
        for child in node.children:
            visit(child)
        order.append(node)

    visit(tree)
    return order


def _leaf_values(values: dict) -> dict[str, torch.Tensor]:
    if not isinstance(values, dict):
        raise ValueError("values: a mapping of x, y, z to numbers or lists")
    leaves, lengths = {}, set()
    for name, value in values.items():
        if name not in VARIABLES:
            raise ValueError(f"values: unknown variable {str(name)[:20]!r} (x, y or z)")
        items = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and not 1 <= len(value) <= MAX_VECTOR:
            raise ValueError(f"values: {name} needs 1..{MAX_VECTOR} numbers")
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise ValueError(f"values: {name} must be numbers")
            if not math.isfinite(item):
                raise ValueError(f"values: {name} must be finite")
        tensor = torch.tensor(value, dtype=torch.float64)
        if tensor.dim() == 1:
            lengths.add(tensor.numel())
        leaves[name] = tensor
    if len(lengths) > 1:
        raise ValueError(f"values: vectors of different lengths {sorted(lengths)}")
    return leaves


def _apply(node: Expr, operands: list) -> torch.Tensor:
    """One node's op on its operands (tensors, or floats for number literals)."""
    if node.op in FUNCTIONS:
        (operand,) = operands
        if not isinstance(operand, torch.Tensor):
            operand = torch.tensor(operand, dtype=torch.float64)
        return _function(node.op)(operand)
    if node.op == "neg":
        return -_as_tensor(operands[0])
    a, b = operands
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        a = torch.tensor(a, dtype=torch.float64)
    ops = {
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "div": lambda: a / b,
        "pow": lambda: a**b,
    }
    return ops[node.op]()


def _evaluate(tree: Expr, leaves: dict[str, torch.Tensor], every_node_a_leaf: bool) -> list:
    """Each node's tensor in evaluation order.

    With `every_node_a_leaf`, numbers and detach outputs become leaves that require grad and
    each use of a variable a view of its own, so autograd can be asked for the gradient flowing
    into every node and along every edge (it still stops at detach)."""
    computed: dict[int, torch.Tensor | float] = {}
    order = nodes(tree)
    for node in order:
        if node.op == "number":
            value = torch.tensor(node.value, dtype=torch.float64)
            computed[id(node)] = value.requires_grad_() if every_node_a_leaf else node.value
            continue
        if node.op == "variable":
            if node.name not in leaves:
                raise ValueError(f"column {node.column}: no value given for {node.name}")
            leaf = leaves[node.name]
            computed[id(node)] = leaf.view_as(leaf) if every_node_a_leaf else leaf
            continue
        operands = [computed[id(child)] for child in node.children]
        value = _apply(node, operands)
        if node.op == "detach" and every_node_a_leaf:
            value = value.detach().requires_grad_()
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"column {node.column}: {node.label} gives a non-finite value")
        computed[id(node)] = value
    return [_as_tensor(computed[id(node)]) for node in order]


def evaluate(expression: str, leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    """The expression's value on the given tensors, recorded by autograd as torch records it."""
    return _evaluate(parse(expression), leaves, every_node_a_leaf=False)[-1]


def _as_tensor(value: torch.Tensor | float) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=torch.float64)


def grad_fn_name(tensor: torch.Tensor) -> str | None:
    """torch's name for the backward node that made `tensor` (None for a leaf or a constant)."""
    return None if tensor.grad_fn is None else type(tensor.grad_fn).__name__


def next_function_names(tensor: torch.Tensor) -> list[str | None]:
    """`tensor.grad_fn.next_functions` as torch prints them: names, None where no gradient goes."""
    if tensor.grad_fn is None:
        return []
    return [None if fn is None else type(fn).__name__ for fn, _ in tensor.grad_fn.next_functions]


def gradients(expression: str, values: dict) -> tuple[float, dict[str, torch.Tensor], list[dict]]:
    """The expression's value, ∂result/∂variable for each variable in `values`, and the trace.

    values: x, y, z -> a finite float (0-d) or a list of 1..16 floats (scalars broadcast).
    -> (value, {name: tensor of its shape}, [node dicts in evaluation order, root last]).
    Each node dict: op, label, column, value (tensor), grad (∂result/∂node, zeros where none
    reaches), grad_fn, next_functions, children (indices into the trace).
    """
    tree = parse(expression)
    given = _leaf_values(values)
    leaves = {name: tensor.clone().requires_grad_() for name, tensor in given.items()}
    tensors = _evaluate(tree, leaves, every_node_a_leaf=False)
    result = tensors[-1]
    if result.numel() != 1:
        raise ValueError(
            f"expression: the result has {result.numel()} values; reduce it with sum or mean"
        )
    names = list(leaves)
    if result.requires_grad:
        found = torch.autograd.grad(
            result, [leaves[n] for n in names], allow_unused=True, retain_graph=True
        )
    else:  # no variable reaches the result (numbers only, or all under detach)
        found = [None] * len(names)
    grads = {
        name: (torch.zeros_like(given[name]) if g is None else g.detach())
        for name, g in zip(names, found, strict=True)
    }

    # The gradient flowing into every node and along every edge: the same tree with numbers,
    # detach outputs and each use of a variable as tensors of their own, on fresh leaves.
    fresh = {name: tensor.clone().requires_grad_() for name, tensor in given.items()}
    every = _evaluate(tree, fresh, every_node_a_leaf=True)
    node_grads = [torch.zeros_like(t) for t in every]
    node_grads[-1] = torch.ones_like(every[-1])
    order = nodes(tree)
    edges: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in order]
    index = {id(node): i for i, node in enumerate(order)}
    for i in range(len(order) - 1, -1, -1):  # reverse evaluation order: a topological order
        children = [index[id(child)] for child in order[i].children]
        if not children:
            continue
        inputs = [every[c] for c in children]
        upstream = node_grads[i]
        # vector-Jacobian products: upstream × local, and the local derivative alone (ones)
        flowing = torch.autograd.grad(
            every[i], inputs, grad_outputs=upstream, allow_unused=True, retain_graph=True
        )
        local = torch.autograd.grad(
            every[i], inputs, torch.ones_like(every[i]), allow_unused=True, retain_graph=True
        )
        for c, into, slope in zip(children, flowing, local, strict=True):
            into = torch.zeros_like(every[c]) if into is None else into.detach()
            slope = torch.zeros_like(every[c]) if slope is None else slope.detach()
            node_grads[c] = node_grads[c] + into
            edges[i].append((slope, into))
    for i, node in enumerate(order):  # a variable's node: ∂result/∂variable, all uses summed
        if node.op == "variable":
            node_grads[i] = grads[node.name]
    trace = [
        {
            "op": node.op,
            "label": node.label,
            "column": node.column,
            "value": tensor.detach(),
            "grad": node_grads[i],
            "grad_fn": grad_fn_name(tensor),
            "next_functions": next_function_names(tensor),
            "children": [index[id(child)] for child in node.children],
            "local": [slope for slope, _ in edges[i]],  # ∂node/∂child (times ones)
            "flowing": [into for _, into in edges[i]],  # upstream × local, per child
            "requires_grad": tensor.requires_grad,
        }
        for i, (node, tensor) in enumerate(zip(order, tensors, strict=True))
    ]
    return float(result.detach().reshape(())), grads, trace


def backward_chain(expression: str, values: dict) -> list[str]:
    """`result.grad_fn` and its `next_functions`, recursively, one line per function.

    Lines are indented by depth; a leaf's AccumulateGrad names its variable."""
    leaves = {n: t.clone().requires_grad_() for n, t in _leaf_values(values).items()}
    result = evaluate(expression, leaves)
    names = {id(leaf): name for name, leaf in leaves.items()}
    lines: list[str] = []

    def walk(function, prefix: str, last: bool, top: bool) -> None:
        if len(lines) >= 60:
            return
        if function is None:
            label = "None"
        else:
            label = type(function).__name__
            variable = getattr(function, "variable", None)
            if variable is not None:
                label += f" ({names.get(id(variable), '?')})"
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + label)
        if function is None:
            return
        nexts = [fn for fn, _ in function.next_functions]
        below = prefix if top else prefix + ("   " if last else "│  ")
        for k, fn in enumerate(nexts):
            walk(fn, below, k == len(nexts) - 1, False)

    if result.grad_fn is None:
        return ["None (the result needs no gradient)"]
    walk(result.grad_fn, "", True, True)
    return lines


def accumulated_grads(
    expression: str, values: dict, calls: int, *, zero_grad: bool = False
) -> list[dict[str, torch.Tensor | None]]:
    """Each variable's `.grad` after each of `calls` backward() calls on one graph.

    `retain_graph=True` keeps the graph for the next call; without `zero_grad` the gradients
    add up (.grad doubles after two calls), with it `.grad` is set to None before each call."""
    leaves = {n: t.clone().requires_grad_() for n, t in _leaf_values(values).items()}
    result = evaluate(expression, leaves).sum()
    after: list[dict[str, torch.Tensor | None]] = []
    for _ in range(calls):
        if zero_grad:
            for leaf in leaves.values():
                leaf.grad = None  # what optimizer.zero_grad() does (set_to_none=True)
        if result.requires_grad:
            result.backward(retain_graph=True)
        after.append({n: None if t.grad is None else t.grad.clone() for n, t in leaves.items()})
    return after


def no_grad_backward(expression: str, values: dict) -> tuple[float, bool, str]:
    """Evaluate under `torch.no_grad()`, then call backward(): (value, requires_grad, torch's
    error message, first line)."""
    leaves = {n: t.clone().requires_grad_() for n, t in _leaf_values(values).items()}
    with torch.no_grad():
        result = evaluate(expression, leaves).sum()
    try:
        result.backward()
    except RuntimeError as error:
        return float(result), result.requires_grad, str(error).splitlines()[0]
    return float(result), result.requires_grad, ""


def gradcheck(expression: str, values: dict) -> bool:
    """torch.autograd.gradcheck of the expression: autograd against finite differences."""
    given = _leaf_values(values)
    names = list(given)
    inputs = tuple(given[n].clone().requires_grad_() for n in names)

    def function(*tensors: torch.Tensor) -> torch.Tensor:
        return evaluate(expression, dict(zip(names, tensors, strict=True)))

    return bool(torch.autograd.gradcheck(function, inputs, raise_exception=False))
