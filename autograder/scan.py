"""Read a submission's answer cells for code that rewires what the tests rely on.

Why: the hidden tests run in the student's own kernel, so an answer can replace the
functions they call, or the machinery that runs them. The kernel guard
(``autograder/kernel_guard.py``) puts the usual targets back before every test while the
notebook runs; this scan reads the answer cells' source (never runs it) and flags

* assignments to, ``del`` of, or ``setattr``/``delattr`` on, attributes of the libraries
  and course modules *under any name the notebook gives them*: ``keras.Model.evaluate =
  ...``, ``import helpers.grading as g; g.check = ...``, ``from helpers import grading as
  q``, ``M = keras.Model; M.fit = ...`` (aliases are followed through imports and plain
  assignments across all answer cells);
* the ways into a module's or a function's insides: ``vars(m)``, ``m.__dict__``,
  ``__code__``, ``__closure__``, ``__globals__``, ``__subclasses__``, frames
  (``sys._getframe``, ``f_back``, ``f_globals``), ``sys.modules``, ``__builtins__``;
* IPython's and Python's execution machinery: ``get_ipython``, ``events.register``,
  ``input_transformers_*``, ``ast_transformers``, ``set_custom_exc``, ``sys.settrace``,
  ``setprofile``, ``addaudithook``, ``displayhook``/``excepthook``, IPython's input history
  (``In``, ``_ih``, ``_i3``: it holds the hidden tests once they ran);
* imports of ``builtins``, ``ctypes``, ``gc``, ``importlib``, ``inspect``, ``linecache``,
  ``nbgrader``, ``ipykernel`` and ``IPython.core``, and calls of ``exec``, ``eval``,
  ``compile``, ``__import__``, ``globals``.

A flagged submission's automatic points are set to 0 in the gradebook pending review
(``autograder.grade`` logs ``FLAGGED <student>/<mission>: ...`` with the cell and line);
an instructor who finds the code harmless clears the override in the Formgrader. Code
the scan cannot read (built at run time, hidden in a string) is left to the kernel guard
and the sandbox; see README, "Grading safely".
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

# Names that refer to a library or course module (or something inside one) before any
# alias is followed; the scan adds every alias the notebook creates for them.
MODULE_NAMES = {
    "keras",
    "tf",
    "tensorflow",
    "np",
    "numpy",
    "builtins",
    "__builtins__",
    "helpers",
    "grading",
    "sys",
    "importlib",
    "plt",
    "matplotlib",
    "nbgrader",
    "mission_data",
    "datasets",
    "preprocessing",
    "os",
    "io",
    "json",
    "pathlib",
    "IPython",
    "ipykernel",
    "load_mission_data",
    "plot_history",
    "threading",
    "warnings",
}
MODULE_ROOTS = {
    "keras",
    "tensorflow",
    "numpy",
    "helpers",
    "builtins",
    "sys",
    "importlib",
    "matplotlib",
    "nbgrader",
    "IPython",
    "ipykernel",
    "threading",
    "warnings",
    "os",
    "io",
    "json",
    "pathlib",
}
FORBIDDEN_IMPORTS = {
    "builtins",
    "ctypes",
    "gc",
    "nbgrader",
    "importlib",
    "inspect",
    "linecache",
    "ipykernel",
    "IPython.core",
    "traceback",
    "code",
    "codeop",
    "runpy",
    "pickle",
    "marshal",
    "dis",
}
FORBIDDEN_CALLS = {
    "exec",
    "eval",
    "compile",
    "setattr",
    "delattr",
    "__import__",
    "globals",
    "breakpoint",
}
# Attributes that lead into interpreters, frames, functions' and modules' insides, or
# IPython's execution machinery. None is needed to build or train a model.
FORBIDDEN_ATTRIBUTES = {
    "__dict__",
    "__code__",
    "__closure__",
    "__globals__",
    "__builtins__",
    "__subclasses__",
    "__bases__",
    "__base__",
    "__mro__",
    "__func__",
    "__self__",
    "__defaults__",
    "__kwdefaults__",
    "__wrapped__",
    "__getattribute__",
    "__setattr__",
    "__delattr__",
    "__import__",
    "__loader__",
    "__spec__",
    "cell_contents",
    "f_back",
    "f_globals",
    "f_locals",
    "f_code",
    "f_builtins",
    "f_trace",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "ag_frame",
    "_getframe",
    "_current_frames",
    "settrace",
    "setprofile",
    "addaudithook",
    "displayhook",
    "excepthook",
    "breakpointhook",
    "meta_path",
    "path_hooks",
    "modules",
    "get_ipython",
    "events",
    "input_transformers_cleanup",
    "input_transformers_post",
    "input_transformer_manager",
    "ast_transformers",
    "set_custom_exc",
    "custom_exceptions",
    "CustomTB",
    "InteractiveTB",
    "showtraceback",
    "_showtraceback",
    "run_cell",
    "run_cell_async",
    "transform_cell",
    "user_expressions",
    "do_execute",
    "display_pub",
    "display_formatter",
    "user_ns",
    "user_global_ns",
}
# Common words in honest code too (``layer.events``?): flagged only on a watched module.
WATCHED_ONLY = {"events", "modules"}
ALLOWED_IMPORTS = {"IPython.core.display"}  # an old spelling of IPython.display
FORBIDDEN_NAMES = {
    "get_ipython",
    "__builtins__",
    "__import__",
    "In",
    "Out",
    "_ih",
    "_oh",
    "_i",
    "_ii",
    "_iii",
    "_dh",
    "__loader__",
    "__spec__",
}
HISTORY_NAME = re.compile(r"_i\d+|_\d+")


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _reference_root(node: ast.AST) -> str | None:
    """The name a pure reference starts from: ``keras.Model``, ``m["x"]``, ``getattr(h, "g")``.

    A call's result (``keras.Sequential([...])``) is a new object, not an alias.
    """
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
        ):
            node = node.args[0]
        elif isinstance(node, ast.NamedExpr):
            node = node.value
        else:
            return node.id if isinstance(node, ast.Name) else None


def _targets(node: ast.AST):
    if isinstance(node, (ast.Assign,)):
        yield from node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        yield node.target
    elif isinstance(node, ast.Delete):
        yield from node.targets


def _flatten(target: ast.AST):
    if isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
        for elt in target.elts if not isinstance(target, ast.Starred) else [target.value]:
            yield from _flatten(elt)
    else:
        yield target


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the cell fails when it runs; nothing to rewire


def find_aliases(sources: list[str], known: set[str] | None = None) -> set[str]:
    """Every name that refers to a watched module or to something inside one.

    ``import helpers.grading as g``, ``from helpers import grading as q``, ``from keras
    import Model``, ``M = keras.Model``, ``m = sys.modules[...]`` and ``a = b = grading``
    all add their names; repeated until nothing new appears (an alias of an alias).
    """
    names = set(MODULE_NAMES if known is None else known)
    trees = [t for t in map(_parse, sources) if t is not None]
    changed = True
    while changed:
        changed = False
        for tree in trees:
            for node in ast.walk(tree):
                new: list[str] = []
                if isinstance(node, ast.Import):
                    new = [
                        (a.asname or a.name).split(".")[0]
                        for a in node.names
                        if a.name.split(".")[0] in MODULE_ROOTS
                        or a.asname
                        and a.name.split(".")[0] in names
                    ]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    if node.module.split(".")[0] in MODULE_ROOTS | names:
                        new = [a.asname or a.name for a in node.names if a.name != "*"]
                elif (
                    isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr))
                    and node.value is not None
                    and _reference_root(node.value) in names
                ):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    new = [
                        t.id for tgt in targets for t in _flatten(tgt) if isinstance(t, ast.Name)
                    ]
                elif (
                    isinstance(node, (ast.For, ast.comprehension))
                    and _reference_root(node.iter) in names
                ):
                    new = [t.id for t in _flatten(node.target) if isinstance(t, ast.Name)]
                elif (
                    isinstance(node, ast.withitem)
                    and node.optional_vars is not None
                    and _reference_root(node.context_expr) in names
                ):
                    new = [t.id for t in _flatten(node.optional_vars) if isinstance(t, ast.Name)]
                fresh = set(new) - names
                if fresh:
                    names |= fresh
                    changed = True
    return names


def _attribute_name(call: ast.Call) -> str | None:
    """The constant attribute name of ``getattr(obj, "name")``/``hasattr``, if any."""
    if (
        len(call.args) >= 2
        and isinstance(call.args[1], ast.Constant)
        and isinstance(call.args[1].value, str)
    ):
        return call.args[1].value
    return None


def scan_source(source: str, aliases: set[str] | None = None) -> list[str]:
    """Findings for one cell's source: ``"line N: what"``; empty when nothing is flagged.

    ``aliases``: the names referring to watched modules (default: :func:`find_aliases` of
    this cell alone); pass the notebook's, since cells share one namespace.
    """
    tree = _parse(source)
    if tree is None:
        return []
    names = find_aliases([source]) if aliases is None else aliases
    findings = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        for target in _targets(node):
            for t in _flatten(target):
                if isinstance(t, ast.Attribute) and _root_name(t) in names:
                    findings.append(f"line {line}: replaces {ast.unparse(t)[:120]}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if isinstance(node, ast.ImportFrom) and node.module:
                modules += [f"{node.module}.{a.name}" for a in node.names]
            for name in modules:
                parts = name.split(".")
                if name not in ALLOWED_IMPORTS and any(
                    ".".join(parts[:i]) in FORBIDDEN_IMPORTS for i in range(1, len(parts) + 1)
                ):
                    findings.append(f"line {line}: imports {name}")
                    break
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES | FORBIDDEN_ATTRIBUTES and isinstance(
                    node, ast.ImportFrom
                ):
                    findings.append(f"line {line}: imports {alias.name}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_CALLS:
                findings.append(f"line {line}: calls {node.func.id}()")
            elif node.func.id == "vars" and node.args:
                findings.append(f"line {line}: reads a namespace with vars()")
            elif node.func.id in ("getattr", "hasattr"):
                attr = _attribute_name(node)
                if attr in FORBIDDEN_ATTRIBUTES or (attr and attr.startswith("__")):
                    findings.append(f"line {line}: reaches {attr} through {node.func.id}()")
                elif attr is None and _root_name(node.args[0] if node.args else node) in names:
                    findings.append(
                        f"line {line}: looks up a computed name in {ast.unparse(node.args[0])[:60]}"
                    )
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            if node.attr not in WATCHED_ONLY or _root_name(node) in names | {"get_ipython"}:
                findings.append(f"line {line}: uses .{node.attr}")
        if isinstance(node, ast.Name) and (
            node.id in FORBIDDEN_NAMES or HISTORY_NAME.fullmatch(node.id)
        ):
            findings.append(f"line {line}: uses {node.id}")
    return sorted(set(findings), key=lambda f: (int(f.split()[1].rstrip(":")), f))


def answer_cells(nb) -> list:
    """The code cells a student wrote (locked cells are restored from the release anyway)."""
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (isinstance(meta, dict) and meta.get("locked")):
            continue
        found.append(cell)
    return found


def scan_notebook(path: Path) -> list[str]:
    """Findings for every answer (solution) cell of the notebook: ``"cell <id>, line N: ..."``."""
    nb = nbformat.read(path, as_version=4)
    cells = answer_cells(nb)
    aliases = find_aliases([c.source for c in cells])
    findings = []
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        where = (meta.get("grade_id") if isinstance(meta, dict) else None) or cell.get("id") or "?"
        findings += [f"cell {where}, {f}" for f in scan_source(cell.source, aliases)]
    return findings
