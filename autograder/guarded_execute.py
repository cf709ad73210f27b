"""nbgrader's Execute step with a guard that puts the kernel back before each instructor cell.

Why: an answer cell runs in the same kernel as the hidden tests after it. It can register
IPython input transformers or event hooks, set a trace function or a custom exception
handler, replace shell or kernel methods, rebind the names the tests use or replace
library and ``helpers.grading`` functions under any alias; the saved notebook still
looks intact and the tests would run rewired. Before every locked cell (tests and the
read-only cells that call the student's functions) :class:`GuardedExecute` asks the
kernel guard (``autograder/kernel_guard.py``, sent to the kernel before the first cell)
to compare the kernel with the state it recorded before the first answer cell and to
put back whatever changed. What it put back is written into that cell's outputs as one
stdout line starting with :data:`MARKER`; ``autograder.grade`` flags such a submission
(automatic points 0 pending review).

The guard is reached through ``user_expressions`` of an empty execute request, which
IPython evaluates without input transformers, AST transformers or event callbacks, and
every answer carries an HMAC under a secret sent before any student code ran: no answer,
a wrong nonce or a wrong MAC also counts as tampering. See README, "Grading safely", for
what this in-process defence cannot stop.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from queue import Empty

from nbclient.util import ensure_async, run_sync
from nbformat.v4 import new_output
from traitlets import Bool, Integer

from autograder.kernel_guard import ATTRIBUTE
from autograder.limits import CappedExecute

MARKER = "[grader-guard]"
GUARD_SOURCE = (Path(__file__).with_name("kernel_guard.py")).read_text(encoding="utf-8")
# The grader names a file here (never the kernel: the sandbox passes it no such variable) to
# learn where an autograde run's seconds went: kernel start, answer cells, test cells.
PHASES_ENV = "GRADER_PHASES_FILE"


def cell_role(cell) -> str:
    """``"test"`` (graded, locked code), ``"instructor"`` (other locked code) or ``"answer"``."""
    meta = cell.metadata.get("nbgrader", {}) if isinstance(cell.metadata, dict) else {}
    if not isinstance(meta, dict) or meta.get("solution") or not meta.get("locked"):
        return "answer"
    return "test" if meta.get("grade") else "instructor"


def bound_names(source: str) -> list[str]:
    """Names a cell binds (imports, assignments, ``with ... as``, ``def``, ``class``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return sorted(names)


def used_names(source: str) -> list[str]:
    """Names a cell reads (a name it only assigns does not count)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted(
        {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    )


def verify(secret: str, nonce: str, reply: dict | None) -> tuple[list[str], list[str]]:
    """(findings, notes) from the guard's reply; a missing or forged answer is a finding."""
    try:
        result = reply["content"]["user_expressions"]["guard"]
        if result.get("status") != "ok":
            return [
                f"the kernel guard raised {result.get('ename')}: {str(result.get('evalue'))[:100]}"
            ], []
        answer = json.loads(ast.literal_eval(result["data"]["text/plain"]))
        payload = answer["payload"]
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(answer["mac"])):
            return ["the kernel guard's answer is not signed by the grader (it was replaced)"], []
        data = json.loads(payload)
        if data["nonce"] != nonce:
            return ["the kernel guard answered an earlier request (replayed)"], []
        return [str(f)[:200] for f in data["findings"]], [str(n)[:200] for n in data["notes"]]
    except Exception as exc:  # noqa: BLE001 - any malformed reply means the guard was defeated
        return [f"the kernel guard gave no valid answer ({type(exc).__name__})"], []


class GuardedExecute(CappedExecute):
    """CappedExecute plus the kernel guard before every locked cell."""

    guard_kernel = Bool(
        True, help="Check and reset the kernel before every locked cell (kernel_guard.py)."
    ).tag(config=True)
    guard_timeout = Integer(
        20,
        help="Seconds the kernel has to answer the guard (it needs milliseconds; a kernel "
        "still stuck in an interrupted cell may not answer at all).",
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._secret = None
        self._capture: list[str] = []
        self._silent = False  # the guard went unanswered once: flagged, not asked again
        self._timing = {
            "preprocess_start": time.time(),
            "first_cell": None,
            "cells": {"answer": 0.0, "instructor": 0.0, "test": 0.0},
        }
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._timing["preprocess_end"] = time.time()
            self._write_timing()

    def _write_timing(self) -> None:
        """Where this run's seconds went, for ``make bench`` (see :data:`PHASES_ENV`)."""
        target = os.environ.get(PHASES_ENV)
        if target:
            try:
                Path(target).write_text(json.dumps(self._timing))
            except OSError:
                pass  # timing is for benchmarks only; grading goes on

    def preprocess_cell(self, cell, resources, index):
        timing = getattr(self, "_timing", None)
        if timing is not None and timing["first_cell"] is None:
            timing["first_cell"] = time.time()  # the kernel has started
        start = time.perf_counter()
        try:
            return self._preprocess_cell(cell, resources, index)
        finally:
            if timing is not None and cell.cell_type == "code":
                timing["cells"][cell_role(cell)] += time.perf_counter() - start
                timing["last_cell_end"] = time.time()

    def _preprocess_cell(self, cell, resources, index):
        if not self.guard_kernel or cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        role = cell_role(cell)
        findings = self._guard_before(cell, role)
        cell, resources = super().preprocess_cell(cell, resources, index)
        self._capture = bound_names(cell.source) if role == "instructor" else []
        if findings:
            text = (
                f"{MARKER} before this cell the notebook had changed what the tests rely "
                f"on; the grader put it back: {'; '.join(findings)}\n"
            )
            cell.outputs.insert(0, new_output("stream", name="stdout", text=text))
        return cell, resources

    def _guard_before(self, cell, role: str) -> list[str]:
        if getattr(self, "_silent", False):
            return []
        if getattr(self, "_secret", None) is None:
            self._secret = secrets.token_hex(32)
            install = (
                f"(lambda ns: (exec({GUARD_SOURCE!r}, ns), ns['install']"
                f"({self._secret!r}))[1])({{'__name__': 'course_kernel_guard'}})"
            )
            findings, _ = verify(self._secret, "install", self._ask(install))
            if findings:
                self._silent = True
                return findings
        request = {
            "capture": self._capture,
            "baseline": role != "instructor",
            "check": role != "answer",
            "uses": used_names(cell.source),
        }
        nonce = secrets.token_hex(16)
        expression = f"__import__('sys').{ATTRIBUTE}({nonce!r}, {json.dumps(request)!r})"
        reply = self._ask(expression)
        if reply is None:
            self._silent = True  # a stuck kernel: waiting again before every cell helps no one
        findings, _ = verify(self._secret, nonce, reply)
        return findings

    async def _async_ask(self, expression: str) -> dict | None:
        """The kernel's reply to an empty cell evaluating ``expression``; None if none came."""
        msg_id = self.kc.execute(
            "",
            silent=True,
            store_history=False,
            allow_stdin=False,
            user_expressions={"guard": expression},
            stop_on_error=False,
        )
        if hasattr(msg_id, "__await__"):
            msg_id = await msg_id
        deadline = time.monotonic() + self.guard_timeout
        while time.monotonic() < deadline:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
            except Empty:
                await self._async_check_alive()  # a dead kernel ends grading as usual
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    _ask = run_sync(_async_ask)
