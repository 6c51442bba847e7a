"""`import demos` stays light: the gallery lists every demo before any heavy library loads.

torch, SciPy, scikit-learn, XGBoost, Gradio and `core` are imported inside the functions that need
them (render and its helpers), so the landing page, a link's parameters and the controls cost
only what pydantic and Plotly cost. Type hints name them under `if TYPE_CHECKING:`.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "scipy", "sklearn", "xgboost", "gradio", "core")

# What the gallery and a link read of every demo, then the heavy modules that got imported.
GALLERY = f"""
import json, sys
import demos
for demo in demos.all_demos:
    demo.title.en, demo.summary.zh, demo.explanation.en, demo.controls, demo.figure_count()
    for name, params in demo.presets.items():
        demo.preset_titles[name].zh, demo.parse(params.model_dump())
    demo.parse({{}})
# A `core` module may be loaded (a Params validator may parse with one) as long as it brings no
# heavy library: torch is what the gallery must not pay for.
heavy = {tuple(h for h in HEAVY if h != "core")!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_import_demos_and_read_the_gallery_without_heavy_libraries():
    result = subprocess.run(
        [sys.executable, "-c", GALLERY], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"`import demos` loaded {loaded[:10]}"


def _module_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, top-level package) of every import run when the module is imported: not inside a
    function, and not under `if TYPE_CHECKING:`."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_demo_module_imports_a_heavy_library_at_module_level():
    problems = []
    for path in sorted((ROOT / "demos").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, package in _module_level_imports(tree):
            if package in HEAVY:
                problems.append(
                    f"demos/{path.name}:{line}: imports {package} at module level; import it "
                    "inside the function that uses it (type hints: under `if TYPE_CHECKING:`)"
                )
    assert not problems, "\n".join(problems)


def test_the_ast_check_finds_a_top_level_torch_import_and_spares_lazy_ones():
    source = """
from typing import TYPE_CHECKING
import numpy as np
import torch.nn.functional as F
from core.trace import Trace
if TYPE_CHECKING:
    import torch
def render():
    import torch
"""
    found = _module_level_imports(ast.parse(source))
    assert [(line, p) for line, p in found if p in HEAVY] == [(4, "torch"), (5, "core")]
