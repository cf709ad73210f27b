"""Run each graded notebook's kernel inside a bubblewrap sandbox.

Why: nbgrader executes a student's notebook with the instructor's rights. Without a
sandbox the student's code could read ``source_notebooks/`` (solutions and hidden
tests), rewrite ``autograder/gradebook.db``, look at other students' submissions, or
patch the installed ``nbgrader`` / ``helpers`` code that grades it.

How: ``autograder.grade`` gives nbgrader a kernel spec named ``python3`` (found first via
``JUPYTER_PATH``) whose command is this file. It sets the limits, then runs the normal
IPython kernel under ``bwrap`` in new user, mount, PID, IPC, UTS and network namespaces:

* who: an ordinary user (uid/gid 1000) with no capabilities and ``no_new_privs``, in a
  user namespace where it cannot create another one. Even when the grader runs as root
  (as in most containers) the kernel is not root in there, so it cannot remount the
  read-only folders writable, mount anything, or gain privileges through a setuid
  program;
* network: a namespace of its own with nothing but a loopback interface no other
  kernel shares; it talks to nbgrader over Unix sockets (``autograder/kernel_channels.py``),
  so no kernel can reach another's ports or occupy the ports another one needs;
* read-only: the system (``/usr``, ``/etc``, ...), the virtual environment, the course's
  ``helpers/`` package and its ``data/`` sets, the kernel's connection file; the sandbox's
  root and ``/dev`` are remounted read-only too;
* writable, all in ONE tmpfs of ``--disk-budget`` bytes (a memory-backed file system
  that lives as long as the kernel): ``/tmp`` and the notebook's working folder, shown at
  its real path ``autograder/autograded/<student>/<mission>/``. The kernel never writes
  the grader's disk: nothing it leaves behind reaches ``autograded/`` or ``feedback/``,
  and a kernel that writes more than the budget gets ``OSError: No space left on
  device`` in its cell. (Plus a 64 MiB ``/dev/shm``, as Docker gives, and a 1 MiB folder
  for the sockets.) Its process-level stdout and stderr are a pipe to the launcher,
  which passes on the first 64 KiB and drops the rest: the kernel holds no file of the
  grader's open. nbclient sends the notebook's code to the kernel, so the kernel never
  needs the notebook file;
* not there at all: everything else, among it ``source_notebooks/``, the rest of
  ``autograder/`` (gradebook, other submissions, other kernels' sockets), ``.git``,
  ``tests/``, ``release/`` and the user's home.

Not protected (see README, "Grading safely"): CPU time is bounded by nbgrader's per-cell
timeout and the per-submission wall clock, not here.

Usage (written into the kernel spec by :func:`write_kernelspec`)::

    PYTHONPATH=<repo> python -m autograder.sandbox --bwrap B --ro PATH ... --memory BYTES \
        --disk-budget BYTES {connection_file}

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
import threading
from pathlib import Path

from autograder import kernel_channels
from autograder.layout import REPO

LOCAL_BWRAP = REPO / ".venv" / "sandbox" / "usr" / "bin" / "bwrap"
DEBIAN_PACKAGE = "bubblewrap=0.8.0-2+deb12u1"
DEBIAN_SHA256 = "3cc9134a3286ad01a323dcd924ba123eb634cefaeec82d774257e06308aeaadb"
DEFAULT_MEMORY = 8 * 2**30  # address space per kernel; TensorFlow training needs ~2 GiB
DEFAULT_DISK_BUDGET = 512 * 2**20  # all a kernel may write; each mission's answer: 112 KiB
SHM_SIZE = 64 * 2**20  # /dev/shm (multiprocessing's semaphores), Docker's default size
CHANNEL_DIR_SIZE = 2**20  # the sockets' folder: sockets take no space
KERNEL_OUTPUT_CAP = 64 * 2**10  # the kernel's own stdout/stderr that reaches the job's log
PARENT = os.getppid()  # the grading job that started this launcher (see die_with_parent)
SANDBOX_UID = SANDBOX_GID = 1000  # who the kernel is inside: an ordinary user, never root
SYSTEM_DIRS = ("/usr", "/etc", "/opt", "/sys")
MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Passed into the sandbox; everything else in the grader's environment (tokens,
# credentials, paths) stays outside.
KEPT_ENV = (
    "LANG",
    "LC_ALL",
    "TF_CPP_MIN_LOG_LEVEL",
    "PYTHONWARNINGS",
    "NBGRADER_EXECUTION",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "KERAS_BACKEND",
)


# What check() runs inside: the sandbox must hold even when the grader is root.
SELF_TEST = """
import os, pathlib
status = pathlib.Path("/proc/self/status").read_text()
assert os.getuid() != 0 and "CapEff:\t0000000000000000" in status, "kernel would be privileged"
assert "NoNewPrivs:\t1" in status, "no_new_privs is not set"
pathlib.Path("/tmp/probe").write_text("ok")
pathlib.Path("probe").write_text("ok")
"""


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
            "and pass --no-sandbox (see README, 'Grading safely')."
        )
    with tempfile.TemporaryDirectory(prefix="sandbox-check-") as tmp:
        connection_file = Path(tmp, "runtime", "kernel.json")
        connection_file.parent.mkdir()
        connection_file.write_text("{}")
        probe = subprocess.run(
            bwrap_command(
                bwrap,
                str(connection_file),
                tmp,
                [],
                str(connection_file.parent),
                2**20,
                command=[sys.executable, "-c", SELF_TEST],
            ),
            capture_output=True,
            text=True,
        )
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]
        raise SandboxError(
            f"{bwrap} cannot create a sandbox here ({why}); "
            "unprivileged user namespaces may be disabled "
            "(sysctl kernel.unprivileged_userns_clone=1). Grade in a throw-away container or "
            "as a separate user and pass --no-sandbox."
        )
    return bwrap


def fetch(dest: Path = LOCAL_BWRAP.parents[2]) -> Path:
    """Unpack Debian's bubblewrap (checksum-verified) into ``dest`` unless bwrap exists."""
    found = find_bwrap()
    if found:
        return found
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise SandboxError(
            "no bwrap, and no apt-get/dpkg to fetch Debian's bubblewrap: "
            "install bubblewrap with your system's package manager"
        )
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
            raise SandboxError(
                f"{debs[0].name} has SHA-256 {digest}, expected {DEBIAN_SHA256}; not unpacking it"
            )
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


def isolation_flags() -> list[str]:
    """Every namespace new, the kernel an unprivileged user without capabilities.

    ``--unshare-user`` with a non-zero ``--uid`` maps that uid to the grader's own: run
    as root, the kernel is still uid 1000 inside, with an empty capability set, so the
    read-only binds stay read-only. ``--disable-userns`` stops it from making a nested
    user namespace to get capabilities back; bwrap always sets ``no_new_privs``. Not
    ``--share-net``: the kernel talks to nbgrader over Unix sockets only.
    """
    return [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_GID),
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--hostname",
        "grader",
    ]


def writable_mounts(workdir: str, disk_budget: int) -> list[str]:
    """``/tmp`` and the working folder on one tmpfs of ``disk_budget`` bytes.

    bwrap cannot mount one tmpfs at two places, so the working folder is a folder in the
    ``/tmp`` tmpfs when it lies under ``/tmp`` (a course in a temporary folder, as in the
    tests); otherwise the tmpfs is mounted at the working folder and ``/tmp`` is a link to
    its ``.tmp`` folder. Either way the kernel sees its working folder at its real path.
    Mounted before the read-only binds, which may lie under ``/tmp`` (a clone there).
    """
    size = ["--size", str(disk_budget), "--tmpfs"]
    if Path(workdir).is_relative_to("/tmp"):
        return [*size, "/tmp", "--dir", workdir]
    # A relative link: bwrap resolves an absolute one on the grader's side while it builds
    # the sandbox, where that folder does not exist, so nothing could be mounted under
    # /tmp (the kernel's sockets are, in the grader's temporary folder).
    link = os.path.relpath(f"{workdir}/.tmp", "/")
    return [*size, workdir, "--dir", f"{workdir}/.tmp", "--symlink", link, "/tmp"]


def bwrap_command(
    bwrap: Path,
    connection_file: str,
    workdir: str,
    read_only: list[str],
    channel_dir: str,
    disk_budget: int = DEFAULT_DISK_BUDGET,
    info_fd: int | None = None,
    command: list[str] | None = None,
) -> list[str]:
    """The bwrap command line that runs the kernel (or ``command``: check()'s self-test).

    ``channel_dir``: the folder the kernel binds its sockets in (kernel_channels.py).
    """
    args = [str(bwrap), *isolation_flags(), *system_binds(), *writable_mounts(workdir, disk_budget)]
    for path in [*python_dirs(), *read_only]:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    # The sockets' folder: private to this kernel (kernel_channels.py), then read-only
    # /dev and root, so nothing outside the budget stays writable.
    args += [
        "--size",
        str(CHANNEL_DIR_SIZE),
        "--tmpfs",
        channel_dir,
        "--ro-bind",
        connection_file,
        connection_file,
        "--size",
        str(SHM_SIZE),
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        workdir,
    ]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    args += [
        "--clearenv",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "PATH",
        f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp/matplotlib",
        "--setenv",
        "MPLBACKEND",
        "agg",
        "--setenv",
        "COURSE_SANDBOXED",
        "1",
    ]
    for name in KEPT_ENV:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    data = os.environ.get("COURSE_DATA_DIR")
    if data:
        args += ["--setenv", "COURSE_DATA_DIR", data]
    command = command or [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
    return [*args, "--", *command]


def set_limits(memory: int) -> None:
    """Address space, no core files: inherited by the kernel and anything it starts.

    No RLIMIT_FSIZE: the tmpfs caps what the kernel writes, in total rather than per file.
    """
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def forward_capped(pipe, limit: int = KERNEL_OUTPUT_CAP, to=None) -> None:
    """Copy the kernel's process-level output to this process's stderr (the grading
    job's log), at most ``limit`` bytes; read and drop the rest, so a kernel writing
    without end neither blocks on a full pipe nor fills the grader's disk."""
    to = to if to is not None else sys.stderr.buffer
    left = limit
    while chunk := pipe.read1(65536):
        if left > 0:
            to.write(chunk[:left])
            if len(chunk) >= left:
                to.write(b"\n[grader] the kernel's own output was cut here\n")
            to.flush()
            left -= len(chunk)


def die_with_parent(parent: int) -> bool:
    """Have the kernel's launcher killed when the grading job that started it dies; False
    if that job is gone already.

    Why: jupyter_client starts the launcher in a session of its own, and bwrap's
    ``--die-with-parent`` follows the launcher, not the job. A job killed from outside
    (the out-of-memory killer, a crash) takes no kernel along: nbclient never stops it,
    the wall clock's kill_tree no longer finds it among the job's descendants, and the
    sandbox would run on after grading, orphaned."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: bwrap does not run there either
    return os.getppid() == parent  # the job may have died before prctl


def launch(argv: list[str] | None = None) -> int:
    """Kernel spec entry point: limits, bwrap, the socket links; returns bwrap's status.

    This process stays bwrap's parent (the process jupyter_client started and signals):
    it learns the sandbox's pid from ``--info-fd`` to link the kernel's sockets.
    """
    if not die_with_parent(PARENT):
        return 1
    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox")
    parser.add_argument("--bwrap", required=True)
    parser.add_argument("--ro", action="append", default=[], help="extra read-only path")
    parser.add_argument("--memory", type=int, default=DEFAULT_MEMORY)
    parser.add_argument("--disk-budget", type=int, default=DEFAULT_DISK_BUDGET)
    parser.add_argument("connection_file")
    args, kernel_args = parser.parse_known_args(argv)  # the rest goes to ipykernel
    try:
        sockets = kernel_channels.socket_paths(args.connection_file)
    except kernel_channels.ChannelError as exc:
        print(f"[grader] cannot start the sandboxed kernel: {exc}", file=sys.stderr)
        return 1
    set_limits(args.memory)
    # jupyter_client interrupts a kernel with SIGINT to its whole process group. This
    # process and bwrap would die of it (and take the kernel along); ignored signals
    # survive exec, and ipykernel installs its own SIGINT handler while it runs a cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    info_read, info_write = os.pipe()
    cmd = bwrap_command(
        Path(args.bwrap),
        args.connection_file,
        os.getcwd(),
        args.ro,
        os.path.dirname(sockets[0]),
        args.disk_budget,
        info_fd=info_write,
    )
    cmd += kernel_args
    # The kernel's own stdout and stderr (what ipykernel saves before it captures them)
    # come to this process through a pipe, never the grading job's output file: that
    # file lies outside the sandbox, so a kernel holding it could write past its disk
    # budget onto the grader's disk, and the grader reads the whole file back.
    proc = subprocess.Popen(
        cmd, pass_fds=(info_write,), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    os.close(info_write)
    forwarder = threading.Thread(target=forward_capped, args=(proc.stdout,), daemon=True)
    forwarder.start()
    try:
        kernel_channels.link_sockets(sockets, kernel_channels.read_child_pid(info_read))
    except (kernel_channels.ChannelError, OSError, ValueError) as exc:
        print(f"[grader] cannot reach the sandboxed kernel: {exc}", file=sys.stderr)
        proc.kill()
    code = proc.wait()
    forwarder.join(timeout=1)  # the last lines; a lingering writer holds no one up
    return code if code >= 0 else 128 - code


def nbgrader_options(runtime_dir: Path) -> list[str]:
    """nbgrader's options for a sandboxed kernel: ipc sockets ``<runtime_dir>/kernel-<n>``
    beside the connection file ``<runtime_dir>/kernel.json``, one folder per nbgrader
    process so that no two kernels share one. Both named explicitly: nbclient's defaults
    are a relative socket path (in the grader's folder) and a file in the system's /tmp,
    left behind when a submission is killed; this folder goes with the grading run's."""
    return [
        "--KernelManager.transport=ipc",
        f"--KernelManager.ip={runtime_dir}/kernel",
        f"--KernelManager.connection_file={runtime_dir}/kernel.json",
    ]


def write_kernelspec(
    folder: Path,
    bwrap: Path,
    read_only: list[str],
    memory: int = DEFAULT_MEMORY,
    disk_budget: int = DEFAULT_DISK_BUDGET,
) -> Path:
    """A ``kernels/python3/kernel.json`` under ``folder`` that starts the sandboxed kernel.

    Put ``folder`` first on ``JUPYTER_PATH`` for nbgrader: its ``python3`` then wins over
    the environment's own kernel spec.
    """
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "autograder.sandbox",
        "--bwrap",
        str(bwrap),
        "--memory",
        str(memory),
        "--disk-budget",
        str(disk_budget),
    ]
    for path in read_only:
        argv += ["--ro", str(path)]
    # The launcher runs in the notebook's folder: it finds this package through PYTHONPATH
    # (its own environment only; the kernel's is cleared).
    spec = {
        "argv": [*argv, "{connection_file}"],
        "env": {"PYTHONPATH": str(REPO)},
        "display_name": "Python 3 (sandboxed grading)",
        "language": "python",
        "metadata": {"debugger": False},
    }
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
    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())
