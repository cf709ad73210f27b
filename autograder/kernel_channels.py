"""Let nbgrader reach a sandboxed kernel over Unix sockets that only it can see.

Why: over TCP every kernel on the machine shares the loopback interface, so one
student's kernel can find the ports of the kernel graded beside it, read its IOPub
stream (answers, hidden tests) or hold every free port. So each sandboxed kernel gets a
network namespace of its own (nothing but a loopback of its own) and talks to nbgrader over
ZMQ's ``ipc`` transport: Unix sockets, which jupyter_client names
``<connection file stem>-ipc-<port>``.

Where the sockets live: the kernel binds them inside the sandbox, on a small tmpfs of its
own mounted over the connection file's folder, so a kernel never sees another kernel's
sockets and cannot write to the grader's disk through that folder. The grader reaches
them through the kernel's root, ``/proc/<pid>/root``: for every socket the connection
file names, :func:`link_sockets` puts a symbolic link at that name on the grader's side.
``connect()`` follows the link; only processes allowed to look into the sandbox (the
grader's own user) can use it. jupyter_client removes the links when the kernel stops.

Known limit: the kernel may replace its own socket with a symbolic link to an absolute
path, which the grader resolves in its own file system; nbgrader would then speak
Jupyter's protocol to some other Unix socket of the grading machine whose path the
kernel guessed. It sends nothing there but this submission's own cells, and other
kernels' sockets lie in folders with random names the kernel cannot list.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
MAX_SOCKET_PATH = 107  # sockaddr_un.sun_path holds 108 bytes with the final NUL


class ChannelError(RuntimeError):
    """The connection file cannot be served from inside the sandbox."""


def socket_paths(connection_file: str) -> list[str]:
    """The Unix socket paths the kernel will bind, as the connection file names them.

    Refuses TCP (a kernel in its own network namespace is unreachable over it) and paths
    too long for a Unix socket.
    """
    info = json.loads(Path(connection_file).read_text())
    if info.get("transport") != "ipc":
        raise ChannelError(
            f"{connection_file} asks for transport {info.get('transport')!r}; the sandboxed "
            "kernel has its own network namespace and is reachable only over 'ipc' "
            "(run nbgrader with --KernelManager.transport=ipc, as autograder.grade does)"
        )
    if not os.path.isabs(info["ip"]):
        raise ChannelError(
            f"socket path {info['ip']!r} is relative; set an absolute JUPYTER_RUNTIME_DIR"
        )
    paths = [f"{info['ip']}-{info[name]}" for name in PORT_NAMES]
    too_long = [p for p in paths if len(p.encode()) > MAX_SOCKET_PATH]
    if too_long:
        raise ChannelError(
            f"socket path {too_long[0]} is longer than {MAX_SOCKET_PATH} bytes; "
            "use a shorter JUPYTER_RUNTIME_DIR"
        )
    return paths


def read_child_pid(info_fd: int) -> int:
    """The sandbox's first process, from bwrap's ``--info-fd`` JSON (read until bwrap closes it)."""
    chunks = []
    while chunk := os.read(info_fd, 4096):
        chunks.append(chunk)
    os.close(info_fd)
    if not chunks:
        raise ChannelError("bwrap exited before it started the sandbox")
    return int(json.loads(b"".join(chunks))["child-pid"])


def link_sockets(paths: list[str], child_pid: int) -> None:
    """A link at each socket path on the grader's side, to the same path inside the sandbox."""
    root = f"/proc/{child_pid}/root"
    for path in paths:
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(root + path, path)
