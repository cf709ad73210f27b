"""Run each graded notebook's kernel inside a bubblewrap sandbox.

Why: nbgrader executes a student's notebook with the instructor's rights. Without a
sandbox the student's code could read ``source_notebooks/`` (solutions and hidden
tests), rewrite ``autograder/gradebook.db``, look at other students' submissions, or
patch the installed ``nbgrader`` / ``helpers`` code that grades it.

How: ``autograder.grade`` gives nbgrader a kernel spec named ``python3`` (found first via
``JUPYTER_PATH``) whose command is this file. It sets the limits, then replaces itself
with ``bwrap`` running the normal IPython kernel in a new mount, PID, IPC and UTS
namespace where the file system is an allow-list:

* read-only: the system (``/usr``, ``/etc``, ...), the virtual environment, the course's
  ``helpers/`` package and its ``data/`` sets, the kernel's connection file;
* writable: the notebook's own folder in ``autograder/autograded/<student>/<mission>/``
  and a private ``/tmp`` (a scratch folder on disk, deleted afterwards);
* not there at all: everything else, among it ``source_notebooks/``, the rest of
  ``autograder/`` (gradebook, other submissions), ``.git``, ``tests/``, ``release/``
  and the user's home.

Not protected (see README, "Grading safely"): the network namespace is shared, because
the kernel talks to nbgrader over loopback TCP (the grading machines reach no internet);
CPU time is bounded by nbgrader's per-cell timeout and the per-submission wall clock,
not here.

Usage (written into the kernel spec by :func:`write_kernelspec`)::

    python autograder/sandbox.py --bwrap B --ro PATH ... --memory BYTES -- {connection_file}

``python -m autograder.sandbox check`` says whether the sandbox works on this machine;
``python -m autograder.sandbox fetch`` unpacks Debian's bubblewrap into ``.venv/sandbox``
when no ``bwrap`` is installed (``apt-get download`` + ``dpkg -x``, no root).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
LOCAL_BWRAP = REPO / ".venv" / "sandbox" / "usr" / "bin" / "bwrap"
DEBIAN_PACKAGE = "bubblewrap=0.8.0-2+deb12u1"
DEBIAN_SHA256 = "3cc9134a3286ad01a323dcd924ba123eb634cefaeec82d774257e06308aeaadb"
DEFAULT_MEMORY = 8 * 2**30  # address space per kernel; TensorFlow training needs ~2 GiB
DEFAULT_FILE_SIZE = 2 * 2**30  # largest file a kernel may write
SYSTEM_DIRS = ("/usr", "/etc", "/opt", "/sys")
MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Passed into the sandbox; everything else in the grader's environment (tokens,
# credentials, paths) stays outside.
KEPT_ENV = ("LANG", "LC_ALL", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS", "NBGRADER_EXECUTION",
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
            "TF_NUM_INTEROP_THREADS", "KERAS_BACKEND")


class SandboxError(RuntimeError):
    """The sandbox cannot be used on this machine (no bwrap, or no user namespaces)."""


# --------------------------------------------------------------------------- finding bwrap
def find_bwrap() -> Path | None:
    """``$COURSE_BWRAP`` if set (and nothing else), else ``bwrap`` on PATH, else the copy
    `make setup` unpacked into ``.venv/sandbox``."""
    chosen = os.environ.get("COURSE_BWRAP")
    candidates = [chosen] if chosen else [shutil.which("bwrap"), LOCAL_BWRAP]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def check(bwrap: Path | None = None) -> Path:
    """Return a working bwrap, or raise SandboxError saying what is missing and what to do."""
    bwrap = bwrap or find_bwrap()
    if bwrap is None:
        raise SandboxError(
            "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed. "
            "Run `make setup` (it unpacks Debian's bubblewrap into .venv/sandbox) or install "
            "the `bubblewrap` package; or grade in a throw-away container / as a separate user "
            "and pass --no-sandbox (see README, 'Grading safely').")
    probe = subprocess.run([str(bwrap), *system_binds(), "--unshare-all", "--share-net",
                            "--die-with-parent", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxError(
            f"{bwrap} cannot create a sandbox here ({probe.stderr.strip() or probe.returncode}); "
            "unprivileged user namespaces may be disabled "
            "(sysctl kernel.unprivileged_userns_clone=1). Grade in a throw-away container or "
            "as a separate user and pass --no-sandbox.")
    return bwrap


def fetch(dest: Path = LOCAL_BWRAP.parents[2]) -> Path:
    """Unpack Debian's bubblewrap (checksum-verified) into ``dest`` unless bwrap exists."""
    found = find_bwrap()
    if found:
        return found
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise SandboxError("no bwrap, and no apt-get/dpkg to fetch Debian's bubblewrap: "
                           "install bubblewrap with your system's package manager")
    with tempfile.TemporaryDirectory(prefix="bwrap-") as tmp:
        cmd = ["apt-get", "download", DEBIAN_PACKAGE]
        run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if run.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        debs = sorted(Path(tmp).glob("bubblewrap_*.deb"))
        if run.returncode != 0 or not debs:
            raise SandboxError(f"`{' '.join(cmd)}` failed: {run.stderr.strip()[-300:]}")
        digest = hashlib.sha256(debs[0].read_bytes()).hexdigest()
        if digest != DEBIAN_SHA256:
            raise SandboxError(f"{debs[0].name} has SHA-256 {digest}, expected {DEBIAN_SHA256}; "
                               "not unpacking it")
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(debs[0]), str(dest)], check=True)
    return LOCAL_BWRAP


# --------------------------------------------------------------------------- the command
def system_binds() -> list[str]:
    """Read-only binds of the operating system (merged-/usr links kept as links)."""
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in MERGED_USR_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args + ["--proc", "/proc", "--dev", "/dev"]


def python_dirs() -> list[str]:
    """The interpreter's installation and this environment: read-only, outside /usr or not."""
    dirs = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    return sorted(d for d in dirs if not d.startswith(SYSTEM_DIRS))


def bwrap_command(bwrap: Path, connection_file: str, workdir: str, read_only: list[str],
                  scratch: str) -> list[str]:
    # /tmp first: a later bind of a path under /tmp (a course cloned there) must not be
    # hidden by the scratch folder mounted over it.
    args = [str(bwrap), *system_binds(), "--bind", scratch, "/tmp"]
    for path in [*python_dirs(), *read_only]:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--bind", workdir, workdir,
             "--ro-bind", connection_file, connection_file,
             "--chdir", workdir,
             "--unshare-all", "--share-net", "--die-with-parent",
             "--hostname", "grader", "--clearenv",
             "--setenv", "HOME", "/tmp",
             "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin",
             "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib",
             "--setenv", "MPLBACKEND", "agg",
             "--setenv", "COURSE_SANDBOXED", "1"]
    for name in KEPT_ENV:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    data = os.environ.get("COURSE_DATA_DIR")
    if data:
        args += ["--setenv", "COURSE_DATA_DIR", data]
    return args + ["--", sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]


def set_limits(memory: int, file_size: int) -> None:
    """Address space and file size limits, inherited by the kernel and anything it starts."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def launch(argv: list[str] | None = None) -> None:
    """Kernel spec entry point: limits, then exec bwrap (never returns)."""
    parser = argparse.ArgumentParser(prog="autograder/sandbox.py")
    parser.add_argument("--bwrap", required=True)
    parser.add_argument("--ro", action="append", default=[], help="extra read-only path")
    parser.add_argument("--memory", type=int, default=DEFAULT_MEMORY)
    parser.add_argument("--scratch-root", required=True)
    parser.add_argument("connection_file")
    args, kernel_args = parser.parse_known_args(argv)  # the rest goes to ipykernel
    workdir = os.getcwd()
    # The kernel's /tmp: a fresh folder on disk (a tmpfs would fill RAM) under the grading
    # run's temporary folder, which autograder.grade deletes at the end.
    os.makedirs(args.scratch_root, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="kernel-", dir=args.scratch_root)
    set_limits(args.memory, DEFAULT_FILE_SIZE)
    # jupyter_client interrupts a kernel with SIGINT to its whole process group. bwrap
    # would die of it (and take the kernel along); ignored signals survive exec, and
    # ipykernel installs its own SIGINT handler while it runs a cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cmd = bwrap_command(Path(args.bwrap), args.connection_file, workdir, args.ro, scratch)
    cmd += kernel_args
    os.execv(cmd[0], cmd)


def write_kernelspec(folder: Path, bwrap: Path, read_only: list[str], scratch_root: Path,
                     memory: int = DEFAULT_MEMORY) -> Path:
    """A ``kernels/python3/kernel.json`` under ``folder`` that starts the sandboxed kernel.

    Put ``folder`` first on ``JUPYTER_PATH`` for nbgrader: its ``python3`` then wins over
    the environment's own kernel spec.
    """
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(HERE), "--bwrap", str(bwrap), "--memory", str(memory),
            "--scratch-root", str(scratch_root)]
    for path in read_only:
        argv += ["--ro", str(path)]
    spec = {"argv": [*argv, "{connection_file}"], "display_name": "Python 3 (sandboxed grading)",
            "language": "python", "metadata": {"debugger": False}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        try:
            print(f"sandbox ready: {check()}")
        except SandboxError as exc:
            print(f"sandbox unavailable: {exc}", file=sys.stderr)
            return 1
        return 0
    if argv[:1] == ["fetch"]:
        try:
            print(f"sandbox: using {check(fetch())}")
        except (SandboxError, subprocess.CalledProcessError) as exc:
            print(f"sandbox: {exc}", file=sys.stderr)
            return 1
        return 0
    launch(argv)
    return 1  # not reached: launch() replaces the process


if __name__ == "__main__":
    sys.exit(main())
