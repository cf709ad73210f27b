"""Start grading jobs from a warm process: nbgrader imported once per run, forked per job.

Why: a grading job (``autograder/nbgrader_job.py``) used to be a fresh ``python -m``
process. Starting Python and importing nbgrader, nbconvert, jupyter_client and SQLAlchemy
took about 2 s of every submission, and shutting that interpreter down another 0.5 s:
more than half of the grader's fixed cost (``make bench``'s phase table). Here one
server process pays the imports once, and every job is a ``fork()`` of it: a copy of the
warm interpreter in a session (and process group) of its own, which runs the job and
leaves with ``os._exit``.

Isolation is what it was: each submission still gets its own grading process, with its
own memory, its own process group that :func:`autograder.nbgrader_run.kill_tree` kills at
the wall-clock limit, and its own sandboxed kernel. The server runs no student code and
reads no submission; it only imports modules, forks and reports exit statuses, and it
stays single-threaded, so each fork starts from a consistent interpreter.

Protocol (JSON lines; the client is :class:`ForkServer`):

* server to client, once: ``{"ready": true, "pid": P}`` when the imports are done;
* client to server: ``{"id": N, "target": "module:function", "argv": [...],
  "env": {...}, "cwd": "...", "output": "FILE"}``: fork, and in the child set the
  environment and folder, send stdout and stderr to ``FILE``, call
  ``function(argv, started=<fork time>)`` and exit with what it returns;
* server to client: ``{"id": N, "pid": P}`` once forked, ``{"id": N, "status": S}`` when
  the job has ended (its exit code; minus the signal number if a signal ended it), or
  ``{"id": N, "error": "..."}`` when it could not fork (that job alone fails: a server
  that died of it would take every running job along).

When the client closes its end (the grading run is over, or the grader died), the
server kills whatever jobs are still running and exits.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from autograder.nbgrader_run import Run, kill_tree, nbgrader_env

JOB_TARGET = "autograder.nbgrader_job:main"
# What every job needs, imported before the first fork. Not the course's nbgrader_config
# module: nbgrader reads the configuration afresh in each job, as the command line does.
WARM_MODULES = (
    "nbgrader.apps",
    "nbgrader.api",
    "nbgrader.preprocessors",
    "nbconvert.exporters.html",
    "nbconvert.preprocessors",
    "jupyter_client.manager",
    "jupyter_client.provisioning.local_provisioner",
    "nbclient",
    "psutil",
    "autograder.nbgrader_job",
    "autograder.guarded_execute",
    "autograder.feedback",
    "autograder.gradebook",
    "autograder.scan",
)
READY_TIMEOUT_S = 120  # imports take about 2 s; a very busy machine may need far longer


class ForkServerError(RuntimeError):
    """The server could not start, or died: the jobs it held have no result."""


# --------------------------------------------------------------------------- server side
def warm_up(modules: tuple[str, ...] = WARM_MODULES) -> None:
    for name in modules:
        importlib.import_module(name)


def _send(fh, message: dict) -> None:
    fh.write((json.dumps(message) + "\n").encode())
    fh.flush()


def _run_child(request: dict, wake: tuple[int, int]) -> None:
    """In the forked child: become the job, never return."""
    code = 1
    try:
        started = time.time()
        os.setsid()  # a session and process group of its own, as start_new_session gave
        signal.set_wakeup_fd(-1)
        for fd in wake:
            os.close(fd)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)
        out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        module, _, function = request["target"].partition(":")
        job = getattr(importlib.import_module(module), function)
        code = int(job(list(request["argv"]), started=started) or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the job's output shows it; the status says failed
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(stdin=None, stdout=None) -> int:
    """The server's loop: fork a job per request, report each exit, until stdin closes."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    wake = os.pipe()
    os.set_blocking(wake[1], False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select() below
    signal.set_wakeup_fd(wake[1])
    jobs: dict[int, int] = {}  # pid -> request id
    buffer = b""
    _send(stdout, {"ready": True, "pid": os.getpid()})
    open_ = True
    while open_ or jobs:
        if not open_:  # the client is gone: nobody waits for these jobs any more
            for pid in list(jobs):
                kill_tree(pid)
        try:
            ready, _, _ = select.select([stdin, wake[0]] if open_ else [wake[0]], [], [], 1.0)
        except InterruptedError:
            ready = []
        if wake[0] in ready:
            os.read(wake[0], 4096)
        while jobs:  # reap every job that has ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in jobs:
                _try_send(
                    stdout, {"id": jobs.pop(pid), "status": os.waitstatus_to_exitcode(status)}
                )
        if open_ and stdin in ready:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                open_ = False
                continue
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                try:
                    pid = os.fork()
                except OSError as exc:
                    # No process to spare (a kernel that forks without end can use up the
                    # machine's pids): this job fails, the jobs running go on.
                    _try_send(stdout, {"id": request["id"], "error": f"cannot fork: {exc}"})
                    continue
                if pid == 0:
                    _run_child(request, wake)
                jobs[pid] = request["id"]
                _try_send(stdout, {"id": request["id"], "pid": pid})
    return 0


def _try_send(fh, message: dict) -> None:
    try:
        _send(fh, message)
    except BrokenPipeError:
        pass  # the client is gone; the loop notices when stdin closes


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.forkserver --course ROOT [MODULE ...]``: import the modules
    (default :data:`WARM_MODULES`), then serve. ``--course`` names the course the jobs
    grade; it only labels the process: every job, a fork, shows the same command line,
    so ``ps`` (and a test looking for leftovers) can tell which course a job belongs to."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--course"]:
        argv = argv[2:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client stops it by closing stdin
    warm_up(tuple(argv) if argv else WARM_MODULES)
    return serve()


# --------------------------------------------------------------------------- client side
class ForkServer:
    """The grader's handle on one server: :meth:`run` is :func:`nbgrader_run.run_limited`'s
    counterpart for a job, safe to call from several threads at once."""

    def __init__(
        self,
        cwd: Path,
        env: dict[str, str] | None = None,
        warm: tuple[str, ...] = WARM_MODULES,
    ):
        self.cwd = Path(cwd)
        self.env = env or nbgrader_env()
        self.warm = warm
        self._lock = threading.Lock()
        # job id -> (the server it was sent to, its pid, its exit status)
        self._pending: dict[int, tuple[subprocess.Popen, Future, Future]] = {}
        self._next = 0
        self._proc: subprocess.Popen | None = None
        self.restarts = 0

    # -- life cycle
    def start(self) -> ForkServer:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.forkserver", "--course", str(self.cwd), *self.warm],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        ready: Future = Future()
        threading.Thread(target=self._read, args=(self._proc, ready), daemon=True).start()
        try:
            ready.result(timeout=READY_TIMEOUT_S)
        except (FutureTimeout, ForkServerError) as exc:
            self.close()
            raise ForkServerError(
                f"the grading job server did not start within {READY_TIMEOUT_S} s "
                f"({exc or 'no answer'}); see its errors above"
            ) from None
        return self

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Close the server's input: it kills jobs still running, then exits."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()

    def __enter__(self) -> ForkServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self, proc: subprocess.Popen, ready: Future) -> None:
        """Hand each line from the server to the job waiting for it."""
        for raw in proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if message.get("ready"):
                ready.set_result(message["pid"])
                continue
            with self._lock:
                entry = self._pending.get(message.get("id"))
            if entry is None:
                continue
            if "error" in message:
                entry[1].set_exception(
                    ForkServerError(f"the job could not be started ({message['error']})")
                )
            elif "pid" in message:
                entry[1].set_result(message["pid"])
            elif "status" in message:
                entry[2].set_result(message["status"])
        gone = ForkServerError("the grading job server exited")
        if not ready.done():
            ready.set_exception(gone)
        with self._lock:  # the jobs this server held (not those of a restarted one)
            orphans = [e for e in self._pending.values() if e[0] is proc]
        for _, pid, status in orphans:
            # Nobody reports their end any more: stop them, so that a job the grader has
            # given up on cannot record a score after its FAILED line.
            if pid.done() and not pid.exception() and not status.done():
                kill_tree(pid.result())
            for future in (pid, status):
                if not future.done():
                    future.set_exception(gone)

    # -- jobs
    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        output: Path,
        timeout: float | None,
        target: str = JOB_TARGET,
    ) -> Run:
        """Run ``target(argv)`` in a fork with ``env``; on timeout kill its process group
        and descendants. stdout and stderr go to ``output`` (the Run carries them too)."""
        start = time.perf_counter()
        pid_future, status_future = Future(), Future()
        with self._lock:
            if not self.alive():
                if self._proc is not None:
                    self.restarts += 1
                self._start_locked()
            self._next += 1
            job_id = self._next
            self._pending[job_id] = (self._proc, pid_future, status_future)
            request = {
                "id": job_id,
                "target": target,
                "argv": argv,
                "env": env,
                "cwd": str(self.cwd),
                "output": str(output),
            }
            try:
                _send(self._proc.stdin, request)
            except OSError as exc:
                del self._pending[job_id]
                raise ForkServerError(f"the grading job server is gone ({exc})") from None
        try:
            pid = pid_future.result(timeout=60)
            try:
                status = status_future.result(timeout=timeout)
            except FutureTimeout:
                kill_tree(pid)
                status_future.result(timeout=60)  # reaped by the server
                status = None
        finally:
            with self._lock:
                self._pending.pop(job_id, None)
        return Run(status, _read_text(output), time.perf_counter() - start)

    def _start_locked(self) -> None:
        proc_before = self._proc
        self._proc = None
        if proc_before is not None:
            try:
                proc_before.kill()
            except OSError:
                pass
        # start() takes no lock: only called here, under it, or before any thread runs
        self.start()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
