"""Read a submission's answer cells for code that rewires what the tests rely on.

Why: the hidden tests run in the student's own kernel, so an answer can replace the
functions they call. ``helpers.grading.assert_not_tampered`` notices the usual targets
while the notebook runs, but it cannot notice being replaced itself. This scan reads the
answer cells' source (never runs it) and flags

* assignments to, or ``setattr``/``delattr`` on, attributes of the libraries and course
  modules (``keras.Model.evaluate = ...``, ``grading.assert_not_tampered = ...``,
  ``np.testing.assert_allclose = ...``, ``builtins.print = ...``);
* ``sys.modules``, ``__builtins__``, ``import builtins``, ``ctypes``, ``exec`` and ``eval``.

A flagged submission's automatic points are set to 0 in the gradebook pending review
(``autograder.grade`` logs ``FLAGGED <student>/<mission>: ...`` with the cell and line);
an instructor who finds the code harmless clears the override in the Formgrader. Code
the scan cannot read (built at run time, hidden in a string) is left to the runtime check
and the sandbox; see README, "Grading safely".
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

MODULE_NAMES = {
    "keras", "tf", "tensorflow", "np", "numpy", "builtins", "__builtins__", "helpers",
    "grading", "sys", "importlib", "plt", "matplotlib", "nbgrader", "mission_data",
    "datasets", "preprocessing", "os", "io", "json", "pathlib", "IPython",
}
FORBIDDEN_IMPORTS = {"builtins", "ctypes", "gc", "nbgrader"}
FORBIDDEN_CALLS = {"exec", "eval", "setattr", "delattr", "__import__", "globals"}


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _targets(node: ast.AST):
    if isinstance(node, (ast.Assign,)):
        yield from node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        yield node.target
    elif isinstance(node, ast.Delete):
        yield from node.targets


def _flatten(target: ast.AST):
    if isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _flatten(elt)
    else:
        yield target


def scan_source(source: str) -> list[str]:
    """Findings for one cell's source: ``"line N: what"``; empty when nothing is flagged."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the cell fails when it runs; nothing to rewire
    findings = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        for target in _targets(node):
            for t in _flatten(target):
                if isinstance(t, ast.Attribute) and _root_name(t) in MODULE_NAMES:
                    findings.append(f"line {line}: replaces {ast.unparse(t)}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                if name and name.split(".")[0] in FORBIDDEN_IMPORTS:
                    findings.append(f"line {line}: imports {name}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in FORBIDDEN_CALLS:
            findings.append(f"line {line}: calls {node.func.id}()")
        if isinstance(node, ast.Attribute) and node.attr == "modules" \
                and _root_name(node) == "sys":
            findings.append(f"line {line}: uses sys.modules")
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            findings.append(f"line {line}: uses __builtins__")
    return sorted(set(findings), key=lambda f: int(f.split()[1].rstrip(":")))


def scan_notebook(path: Path) -> list[str]:
    """Findings for every answer (solution) cell of the notebook: ``"cell <id>, line N: ..."``."""
    nb = nbformat.read(path, as_version=4)
    findings = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked"):
            continue  # locked cells are restored from the instructor's version anyway
        where = meta.get("grade_id") or cell.get("id") or "?"
        findings += [f"cell {where}, {f}" for f in scan_source(cell.source)]
    return findings
