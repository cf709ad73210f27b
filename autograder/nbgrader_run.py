"""The one way this project runs nbgrader: a child process with a wall-clock limit.

Why one module: releasing and grading both start ``python -m nbgrader``. Each run gets
this environment's ``bin/`` first on PATH (nbgrader's gradebook runs ``alembic`` from
PATH), runs in a process group of its own, and on timeout loses that group and every
descendant (the kernel nbgrader starts lives in a session of its own), so a looping
submission never outlives its limit.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import QUIET_TF_LOG_LEVEL


@dataclass(frozen=True)
class Run:
    """What one nbgrader run left: exit code (None: killed at its limit), output, seconds."""

    code: int | None
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.code is None


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader: this Python's bin/ first on PATH (nbgrader runs `alembic`)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    return env


def kill_tree(pid: int) -> None:
    """Kill the process ``pid`` started, its process group, and every descendant.

    The kernel nbgrader starts lives in a session of its own (jupyter_client does that so
    it can be interrupted), so killing nbgrader's group alone would leave it running.
    """
    try:
        import psutil  # installed with ipykernel

        descendants = psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - no psutil, or the process is already gone
        descendants = []
    try:
        os.killpg(pid, signal.SIGKILL)  # the group run_limited created with start_new_session
    except ProcessLookupError:
        pass
    for child in descendants:
        try:
            child.kill()
        except Exception:  # noqa: BLE001 - it exited meanwhile
            pass


def run_limited(
    cmd: list[str], cwd: Path, timeout: float | None, env: dict[str, str] | None = None
) -> Run:
    """Run ``cmd`` in a new process group; on timeout kill that group and its descendants."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env or nbgrader_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return Run(proc.returncode, out, time.perf_counter() - start)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        out, _ = proc.communicate()
        return Run(None, out, time.perf_counter() - start)


def run_nbgrader(
    args: list[str], root: Path, timeout: float | None = None, env: dict[str, str] | None = None
) -> Run:
    """``python -m nbgrader ARGS`` in ``root`` (whose nbgrader_config.py sets every path)."""
    return run_limited([sys.executable, "-m", "nbgrader", *args], root, timeout, env)


_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Interrupt)):\s*(.*)$")


def last_error(output: str) -> str:
    """The most telling line of nbgrader's output: the last exception, else the last ERROR."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if _EXCEPTION_LINE.match(ln):
            return ln[:300]
    boring = ("Please see", "There was an error processing", "Removing failed")
    for ln in reversed(lines):
        if "ERROR]" in ln and not any(b in ln for b in boring):
            return ln.split("ERROR]", 1)[1].strip()[:300]
    return (lines[-1] if lines else "no output")[:300]
