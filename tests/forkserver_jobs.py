"""Jobs for tests/test_forkserver.py: what a fork of the job server runs, in miniature."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

# A server started with this variable cannot fork while the file it names exists, as when a
# kernel's fork bomb has used up the machine's processes (imported by the server, this
# replaces the os.fork it calls).
_NO_FORK_WHILE = os.environ.get("FORKSERVER_TEST_NO_FORK_WHILE")
if _NO_FORK_WHILE:
    _real_fork = os.fork

    def _fork() -> int:
        if os.path.exists(_NO_FORK_WHILE):
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return _real_fork()

    os.fork = _fork


def report(argv: list[str], started: float) -> int:
    """Print what the job saw (arguments, folder, environment, process group), exit argv[0]."""
    print(
        json.dumps(
            {
                "argv": argv,
                "cwd": os.getcwd(),
                "marker": os.environ.get("FORKSERVER_TEST"),
                "started": started,
                "own_group": os.getpgid(0) == os.getpid(),
                "own_session": os.getsid(0) == os.getpid(),
            }
        )
    )
    print("to stderr", file=sys.stderr)
    return int(argv[0])


def sleep(argv: list[str], started: float) -> int:
    time.sleep(float(argv[0]))
    return 0


def hang_with_child(argv: list[str], started: float) -> int:
    """Start a grandchild in a session of its own (as jupyter_client starts a kernel), write
    its pid to argv[0], then never finish."""
    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    Path(argv[0]).write_text(str(child.pid))
    while True:
        time.sleep(1)


def crash(argv: list[str], started: float) -> int:
    raise ValueError("the job broke")


def command_line(argv: list[str], started: float) -> int:
    """Print this process's command line as ps shows it."""
    print(Path(f"/proc/{os.getpid()}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return 0
