"""Runs INSIDE the grading kernel: before each instructor cell, puts back what answer cells rewired.

Why: nbgrader runs the hidden tests in the student's own kernel, after the student's code.
An answer cell can register IPython input transformers or event hooks that rewrite or
watch every later cell, set a trace function, swallow exceptions with a custom handler,
replace a method of the shell or the kernel, rebind the names the tests use
(``grading = Fake()``) or replace functions in ``helpers.grading``, Keras or NumPy under
any name (``vars(m)[...]``, ``m.__dict__``, an alias). The saved notebook looks intact.

``autograder/guarded_execute.py`` sends this file's text to the kernel once, before the
first cell runs (so before any student code), and then asks it, before every locked
cell, to compare the kernel with the state it recorded before the first answer cell and
to put back whatever changed. It never goes through the machinery it protects: the
grader sends an *empty* cell whose ``user_expressions`` IPython evaluates with ``eval``,
without input transformers, AST transformers or event callbacks. Every answer is signed
(HMAC) with a secret handed over before any student code ran, so an answer cell that
replaces the guard, the shell's ``user_expressions`` or the kernel's ``do_execute``
produces no valid answer, and the grader flags the submission.

Limits: this is Python in the student's process. Code that digs the secret or the
recorded state out of memory (``gc``, frames, closures, ``ctypes``) can still defeat it;
the answer scan (``autograder/scan.py``) flags those tools, and the README says what is
and is not protected.

Only the standard library, imported at install time: nothing here may be looked up
after student code has run.
"""

from __future__ import annotations

import builtins
import sys
import threading
from builtins import (  # noqa: UP029 - bound before student code runs: later lookups can be patched
    all,
    callable,
    delattr,
    dict,
    getattr,
    isinstance,
    len,
    list,
    set,
    setattr,
    str,
    type,
    vars,
    zip,
)
from hashlib import sha256
from hmac import new as hmac_new
from json import dumps, loads

ATTRIBUTE = "__course_kernel_guard__"  # where the signed entry point lives: sys.<ATTRIBUTE>

# Keras/NumPy classes and modules whose functions the tests call (helpers.* is watched whole).
WATCHED_CLASSES = (
    "keras.Model",
    "keras.Sequential",
    "keras.layers.Layer",
    "keras.layers.Dense",
    "keras.layers.Dropout",
    "keras.layers.Flatten",
    "keras.layers.InputLayer",
    "keras.callbacks.Callback",
    "keras.callbacks.EarlyStopping",
    "keras.callbacks.History",
    "keras.optimizers.Adam",
    "numpy.ndarray",
)
WATCHED_MODULES = (
    "builtins",
    "numpy",
    "numpy.testing",
    "keras",
    "keras.layers",
    "keras.callbacks",
    "keras.ops",
    "keras.activations",
    "keras.losses",
    "keras.metrics",
    "keras.optimizers",
)
# Callbacks registered by the libraries themselves (matplotlib's pyplot on its first figure,
# the inline backend): allowed, everything else registered after the baseline is removed.
ALLOWED_CALLBACKS = (
    ("matplotlib.pyplot", "_draw_all_if_interactive"),
    ("matplotlib_inline.backend_inline", "flush_figures"),
)
# Entries Python or a library writes into a class by itself (lazily created annotations).
CLASS_CACHES = ("__annotations__", "__slotnames__", "_abc_impl", "__abstractmethods__")
SYS_HOOKS = ("displayhook", "excepthook", "breakpointhook", "stdout", "stderr", "stdin")
SHELL_OBJECTS = (
    "input_transformer_manager",
    "events",
    "InteractiveTB",
    "SyntaxTB",
    "displayhook",
    "display_pub",
    "display_formatter",
    "compile",
    "kernel",
    "user_ns",
    "user_module",
    "builtin_trap",
    "display_trap",
    "custom_exceptions",
)

_MISSING = object()
UNDERSCORES = ("_", "__", "___")  # IPython's output history, updated by every cell


def _resolve(path: str):
    """``"keras.layers.Dense"`` -> the object, from sys.modules only (no import)."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is not None:
            obj = module
            for name in parts[i:]:
                obj = getattr(obj, name, None)
            return obj
    return None


def _name(obj) -> str:
    """A short, safe description of a callable for the log (never its source)."""
    qual = getattr(obj, "__qualname__", None) or type(obj).__name__
    return str(qual)[:60]


def sign(secret: bytes, nonce: str, findings: list[str], notes: list[str]) -> str:
    """The answer the grader expects: the payload and its HMAC-SHA256 under ``secret``."""
    payload = dumps({"nonce": nonce, "findings": findings, "notes": notes}, sort_keys=True)
    return dumps(
        {"payload": payload, "mac": hmac_new(secret, payload.encode(), sha256).hexdigest()}
    )


class Guard:
    """The kernel's state before the first answer cell, and the means to put it back."""

    def __init__(self):
        from IPython.core.interactiveshell import InteractiveShell

        self._shell = InteractiveShell.instance()
        self._baseline: dict | None = None
        self._names: dict[str, object] = {}  # user_ns names bound by instructor cells

    def handle(self, request: str, saved_trace) -> tuple[list[str], list[str]]:
        """One request: capture names, record the baseline, check and reset. (findings, notes)"""
        findings: list[str] = []
        notes: list[str] = []
        try:
            req = loads(request)
            # First the names the instructor cell just run bound: their values are now the
            # ones the tests expect (a later instructor cell may rebind a name legitimately).
            for name in req.get("capture", []):
                value = self._shell.user_ns.get(name, _MISSING)
                if value is not _MISSING:
                    self._names[name] = value
            if self._baseline is None and req.get("baseline"):
                self._baseline = self._record()
            if req.get("check") and self._baseline is not None:
                findings += self._restore(self._baseline, saved_trace)
                f, n = self._restore_names(req.get("uses", []))
                findings += f
                notes += n
        except Exception as exc:  # noqa: BLE001 - reported to the grader, which flags it
            findings.append(f"the kernel guard failed: {type(exc).__name__}: {exc}"[:200])
        return findings, notes

    # ---------------------------------------------------------------- baseline
    def _record(self) -> dict:
        shell = self._shell
        tm = shell.input_transformer_manager
        lists = {
            "input transformers (cleanup)": (tm, "cleanup_transforms"),
            "input transformers (line)": (tm, "line_transforms"),
            "input transformers (token)": (tm, "token_transformers"),
            "input transformers (post)": (shell, "input_transformers_post"),
            "AST transformers": (shell, "ast_transformers"),
            "sys.meta_path": (sys, "meta_path"),
            "sys.path_hooks": (sys, "path_hooks"),
        }
        objects = [self._shell_objects(shell), self._instance_dicts(shell)]
        classes = {}
        owners = [
            shell,
            shell.kernel,
            shell.compile,
            shell.events,
            tm,
            shell.displayhook,
            shell.display_pub,
            shell.display_formatter,
        ]
        owner_classes = [type(o) for o in owners if o is not None]
        owner_classes += [c for c in map(_resolve, WATCHED_CLASSES) if isinstance(c, type)]
        helpers_modules = {
            n: m for n, m in sys.modules.items() if n == "helpers" or n.startswith("helpers.")
        }
        for module in helpers_modules.values():
            owner_classes += [
                v
                for v in vars(module).values()
                if isinstance(v, type) and getattr(v, "__module__", "") == module.__name__
            ]
        for cls in owner_classes:
            for base in cls.__mro__:
                if base.__module__ != "builtins" and base not in classes:
                    classes[base] = dict(vars(base))
        modules = {}
        for name in (*WATCHED_MODULES, *helpers_modules):
            module = sys.modules.get(name)
            if module is None:
                continue
            entries = dict(vars(module))
            if name not in helpers_modules:  # libraries: only their functions and classes
                entries = {k: v for k, v in entries.items() if callable(v)}
            modules[name] = (module, entries)
        containers = {}
        grading = sys.modules.get("helpers.grading")
        if grading is not None:
            for key, value in vars(grading).items():
                if type(value) in (dict, list, set):
                    containers[key] = (value, value.copy())
        return {
            "lists": {
                label: (owner, attr, list(getattr(owner, attr)))
                for label, (owner, attr) in lists.items()
            },
            "events": (shell.events, {k: list(v) for k, v in shell.events.callbacks.items()}),
            "objects": objects,
            "sys": {name: getattr(sys, name, None) for name in SYS_HOOKS},
            "trace": (
                sys.gettrace(),
                sys.getprofile(),
                getattr(threading, "_trace_hook", None),
                getattr(threading, "_profile_hook", None),
            ),
            "classes": classes,
            "modules": modules,
            "sys.modules": {
                n: m
                for n, m in sys.modules.items()
                if n.split(".")[0]
                in ("helpers", "keras", "numpy", "IPython", "ipykernel", "builtins")
            },
            "containers": containers,
            "allowed": {
                (m, a): getattr(sys.modules[m], a)
                for m, a in ALLOWED_CALLBACKS
                if m in sys.modules and hasattr(sys.modules[m], a)
            },
        }

    @staticmethod
    def _shell_objects(shell) -> dict:
        return {name: getattr(shell, name, None) for name in SHELL_OBJECTS}

    @staticmethod
    def _instance_dicts(shell) -> dict:
        owners = {
            "the shell": shell,
            "the kernel": shell.kernel,
            "the compiler": shell.compile,
            "the event manager": shell.events,
        }
        # Per object: its attributes at baseline (set_custom_exc replaces ``CustomTB`` there;
        # ``shell.run_cell = ...`` adds an attribute that hides the class's method).
        return {
            label: (obj, dict(vars(obj)))
            for label, obj in owners.items()
            if getattr(obj, "__dict__", None) is not None
        }

    # ---------------------------------------------------------------- check and reset
    def _restore(self, base: dict, saved_trace) -> list[str]:
        found: list[str] = []
        shell = self._shell
        if saved_trace is not base["trace"][0] or sys.getprofile() is not base["trace"][1]:
            found.append("a trace or profile function (sys.settrace/setprofile)")
        sys.settrace(base["trace"][0])
        sys.setprofile(base["trace"][1])
        for i, attr in ((2, "_trace_hook"), (3, "_profile_hook")):
            if getattr(threading, attr, None) is not base["trace"][i]:
                found.append(f"threading.{attr.strip('_').replace('_hook', '')} hook")
                setattr(threading, attr, base["trace"][i])
        for name, value in base["sys"].items():
            if getattr(sys, name, None) is not value:
                found.append(f"sys.{name}")
                setattr(sys, name, value)
        for name, value in base["objects"][0].items():
            if getattr(shell, name, None) is not value:
                found.append(f"the shell's {name}")
                setattr(shell, name, value)
        for label, (obj, entries) in base["objects"][1].items():
            now = vars(obj)
            for key in list(now):
                was = entries.get(key, _MISSING)
                if was is _MISSING and callable(getattr(type(obj), key, None)):
                    found.append(f"{label}'s {key} (replaced on the object)")
                    del now[key]
                elif was is not _MISSING and callable(was) and now[key] is not was:
                    found.append(
                        "a custom exception handler (set_custom_exc)"
                        if key == "CustomTB"
                        else f"{label}'s {key}"
                    )
                    now[key] = was
        for label, (owner, attr, items) in base["lists"].items():
            current = getattr(owner, attr)
            if list(current) != items or any(
                a is not b for a, b in zip(current, items, strict=False)
            ):
                extra = [_name(f) for f in current if all(f is not g for g in items)]
                found.append(f"{label}: {', '.join(extra) or 'changed'}")
                try:
                    current[:] = items
                except TypeError:
                    setattr(owner, attr, list(items))
        events, callbacks = base["events"]
        allowed = _allowed_callbacks(base["allowed"])
        for event, items in callbacks.items():
            current = events.callbacks.get(event, [])
            extra = [f for f in current if all(f is not g for g in items)]
            missing = [g for g in items if all(f is not g for f in current)]
            foreign = [f for f in extra if all(f is not g for g in allowed)]
            if foreign or missing:
                names = ", ".join(_name(f) for f in foreign) or "callbacks removed"
                found.append(f"IPython event '{event}': {names}")
                events.callbacks[event] = [*items, *(f for f in extra if f not in foreign)]
        for cls, entries in base["classes"].items():
            now = vars(cls)
            for key in set(now) | set(entries):
                was, is_ = entries.get(key, _MISSING), now.get(key, _MISSING)
                if was is is_ or key in CLASS_CACHES or _inherited(cls, key) is is_:
                    continue  # unchanged, a cache Python fills in, or re-set to what it inherits
                found.append(f"{cls.__module__.split('.')[0]}'s {cls.__qualname__}.{key}")
                try:
                    if was is _MISSING:
                        delattr(cls, key)
                    else:
                        setattr(cls, key, was)
                except (AttributeError, TypeError):
                    pass
        for name, (module, entries) in base["modules"].items():
            now = vars(module)
            for key, was in entries.items():
                if _ignored(name, key):
                    continue
                if now.get(key, _MISSING) is not was:
                    found.append(f"{name}.{key}")
                    now[key] = was
        for name, module in base["sys.modules"].items():
            if sys.modules.get(name) is not module:
                found.append(f"sys.modules['{name}']")
                sys.modules[name] = module
        for key, (obj, copy) in base["containers"].items():
            if obj != copy:
                found.append(f"the contents of helpers.grading.{key}")
                obj.clear()
                obj.update(copy) if isinstance(obj, (dict, set)) else obj.extend(copy)
        return found

    def _restore_names(self, uses: list[str]) -> tuple[list[str], list[str]]:
        """Names the instructor's cells bound, and builtins the next test uses, put back."""
        found, notes = [], []
        ns = self._shell.user_ns
        for name, value in self._names.items():
            if ns.get(name, _MISSING) is not value:
                (found if name in uses else notes).append(
                    f"the name `{name}` that the tests use was rebound"
                )
                ns[name] = value
        for name in uses:
            if name in ns and name not in self._names and _is_builtin(name):
                shadow = ns.pop(name)
                (found if callable(shadow) else notes).append(
                    f"the builtin `{name}` was shadowed in the notebook"
                )
        return found, notes


def _inherited(cls: type, key: str):
    """What ``cls.key`` would be without ``cls``'s own entry (``_MISSING`` if nothing)."""
    for base in cls.__mro__[1:]:
        if key in vars(base):
            return vars(base)[key]
    return _MISSING


def _allowed_callbacks(recorded: dict) -> list:
    """Event callbacks that matplotlib registers by itself when a notebook first plots.

    Taken as recorded before student code ran where the module was loaded by then (so an
    answer cell cannot get its own function allowed by putting it in their place).
    """
    found = []
    for module, attr in ALLOWED_CALLBACKS:
        if (module, attr) in recorded:
            found.append(recorded[module, attr])
        elif module in sys.modules:
            found.append(getattr(sys.modules[module], attr, None))
    return [f for f in found if f is not None]


def _ignored(module: str, key: str) -> bool:
    """Module attributes that change by themselves: IPython's ``_`` in builtins, dunders."""
    if module == "builtins":
        return key in UNDERSCORES
    return key.startswith("__") and key.endswith("__")


def _is_builtin(name: str) -> bool:
    return not name.startswith("_") and name in vars(builtins)


def install(secret: str) -> str:
    """Called once, before the first cell: keep the guard where the grader's requests find it.

    The secret stays in this closure, not in an attribute an answer cell could read.
    """
    key = secret.encode()
    guard = Guard()

    def call(nonce: str, request: str) -> str:
        saved_trace = sys.gettrace()  # a tracer must not watch the guard work
        sys.settrace(None)
        sys.setprofile(None)
        findings, notes = guard.handle(request, saved_trace)
        return sign(key, nonce, findings, notes)

    setattr(sys, ATTRIBUTE, call)
    return sign(key, "install", [], [])
