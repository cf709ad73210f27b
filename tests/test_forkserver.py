"""The grading job server (autograder/forkserver.py): each job a fork in a process group of
its own, killed with its descendants at its limit; a dead server is reported and replaced."""

import json
import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from autograder.forkserver import ForkServer, ForkServerError
from autograder.layout import REPO
from autograder.nbgrader_run import nbgrader_env

TESTS = Path(__file__).resolve().parent


def _env(**extra: str) -> dict[str, str]:
    env = nbgrader_env()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS)])
    env.update(extra)
    return env


@pytest.fixture
def server(tmp_path):
    """A server that imports only the test jobs (fast to start), with a variable of its own
    that no job asked for."""
    with ForkServer(tmp_path, _env(FORKSERVER_TEST="server"), warm=("forkserver_jobs",)) as srv:
        yield srv


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_job_gets_its_arguments_environment_folder_and_own_session(server, tmp_path):
    out = tmp_path / "out.txt"
    before = time.time()
    run = server.run(
        ["7", "x"], _env(FORKSERVER_TEST="yes"), out, timeout=60, target="forkserver_jobs:report"
    )
    assert run.code == 7 and not run.timed_out
    seen = json.loads(run.output.splitlines()[0])
    assert seen["argv"] == ["7", "x"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["marker"] == "yes"  # the request's environment, not the server's
    assert seen["own_group"] and seen["own_session"]  # so kill_tree can take the whole group
    assert before <= seen["started"] <= time.time()
    assert "to stderr" in run.output and out.read_text() == run.output


def test_a_job_sees_only_its_own_environment(server, tmp_path):
    server.run(
        ["0"], _env(FORKSERVER_TEST="first"), tmp_path / "a", 60, target="forkserver_jobs:report"
    )
    run = server.run(["0"], _env(), tmp_path / "b", 60, target="forkserver_jobs:report")
    assert json.loads(run.output.splitlines()[0])["marker"] is None  # not the server's either


def test_a_job_past_its_limit_is_killed_with_its_descendants(server, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    start = time.perf_counter()
    run = server.run(
        [str(pid_file)],
        _env(),
        tmp_path / "out",
        timeout=3,
        target="forkserver_jobs:hang_with_child",
    )
    assert run.timed_out and run.code is None
    assert time.perf_counter() - start < 30
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(grandchild), "the job's own child (a kernel, in grading) outlived the limit"


def test_a_job_that_raises_fails_with_its_traceback(server, tmp_path):
    run = server.run([], _env(), tmp_path / "out", 60, target="forkserver_jobs:crash")
    assert run.code == 1
    assert "ValueError: the job broke" in run.output


def test_jobs_from_several_threads_run_at_once(server, tmp_path):
    runs = []

    def one(k: int) -> None:
        runs.append(
            server.run(["2"], _env(), tmp_path / f"out{k}", 60, target="forkserver_jobs:sleep")
        )

    start = time.perf_counter()
    threads = [threading.Thread(target=one, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.code for r in runs] == [0, 0, 0]
    assert time.perf_counter() - start < 5.5  # three 2-second jobs, not one after another


def test_a_dead_server_fails_its_jobs_clearly_stops_them_and_is_replaced(server, tmp_path):
    result = {}
    pid_file = tmp_path / "grandchild.pid"

    def waiting_job() -> None:
        try:
            server.run(
                [str(pid_file)],
                _env(),
                tmp_path / "out",
                60,
                target="forkserver_jobs:hang_with_child",
            )
        except ForkServerError as exc:
            result["error"] = str(exc)

    t = threading.Thread(target=waiting_job)
    t.start()
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    server._proc.kill()
    t.join(timeout=30)
    assert result.get("error") == "the grading job server exited"
    # the orphaned job would otherwise go on (and could record a score after its FAILED line)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(grandchild)
    run = server.run(["0"], _env(), tmp_path / "again", 60, target="forkserver_jobs:report")
    assert run.code == 0 and server.restarts == 1


def test_a_job_that_cannot_fork_fails_alone(tmp_path):
    """No process to spare (another student's kernel used them all up): that job fails
    with the reason, and the server, with the jobs it runs, goes on."""
    flag = tmp_path / "no-fork"
    env = _env(FORKSERVER_TEST_NO_FORK_WHILE=str(flag))
    with ForkServer(tmp_path, env, warm=("forkserver_jobs",)) as srv:
        running = []
        t = threading.Thread(
            target=lambda: running.append(
                srv.run(["3"], _env(), tmp_path / "a", 60, target="forkserver_jobs:sleep")
            )
        )
        t.start()
        time.sleep(1)  # the first job is running
        flag.touch()
        with pytest.raises(ForkServerError, match="could not be started.*Resource temporarily"):
            srv.run(["0"], _env(), tmp_path / "b", 60, target="forkserver_jobs:report")
        flag.unlink()
        t.join(timeout=30)
        assert [r.code for r in running] == [0]  # not killed along
        assert srv.run(["0"], _env(), tmp_path / "c", 60, target="forkserver_jobs:report").code == 0
        assert srv.restarts == 0


def test_closing_the_server_kills_jobs_still_running(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    srv = ForkServer(tmp_path, _env(), warm=("forkserver_jobs",)).start()
    t = threading.Thread(
        target=lambda: _ignore(
            srv.run,
            [str(pid_file)],
            _env(),
            tmp_path / "out",
            None,
            target="forkserver_jobs:hang_with_child",
        ),
        daemon=True,
    )
    t.start()
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    srv.close()  # as when a grading run ends, or the grader dies and its pipe closes
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(grandchild)


def _ignore(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ForkServerError:
        pass


def test_a_server_that_cannot_start_says_so(tmp_path):
    srv = ForkServer(tmp_path, _env(), warm=("no_such_module_anywhere",))
    with pytest.raises(ForkServerError, match="did not start"):
        srv.start()


@pytest.mark.slow
def test_interrupting_make_grade_stops_its_jobs_and_says_what_happened(tmp_path):
    """Ctrl-C while a submission is graded: the grader stops within seconds, says what
    was kept, and leaves no job, kernel or sandbox of that course running."""
    import signal
    import subprocess
    import sys

    import nbformat
    from mission_support import make_course, submission

    course = make_course(_mkdir(tmp_path / "course"))
    mission = "mission3_dropout"  # the slowest: still running when the signal comes
    for student in ("ana", "ben", "cho"):
        folder = _mkdir(tmp_path / "subs" / student / mission)
        nbformat.write(submission(mission, "reference"), folder / f"{mission}.ipynb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder.grade",
            str(tmp_path / "subs"),
            "--course-root",
            str(course),
            "--jobs",
            "1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As at a terminal: a shell runs a background job (CI's, say) with SIGINT ignored,
        # and Python then never turns SIGINT into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        kernel = None
        deadline = time.monotonic() + 300
        while kernel is None and time.monotonic() < deadline:  # wait for the first kernel
            time.sleep(0.5)
            kernel = next(iter(_processes_of(course, "ipykernel")), None)
        assert kernel is not None, "no kernel started"
        family = psutil.Process(proc.pid).children(recursive=True)  # server, job, kernel...
        assert len(family) >= 4, family
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "grading interrupted" in err and "Run the same command again" in err
    assert "graded cho/" not in out  # the third submission never started
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(p.pid) for p in family):
        time.sleep(0.2)
    left = [p.pid for p in family if not _gone(p.pid)]
    assert not left, [p for p in family if p.pid in left]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _processes_of(course: Path, word: str = "") -> list[dict]:
    """Live processes whose command line names ``course`` (and ``word``)."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            line = " ".join(p.info["cmdline"] or [])
        except psutil.Error:
            continue
        if str(course) in line and word in line and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p.info)
    return found


def test_every_job_names_its_course_on_its_command_line(server, tmp_path):
    """A fork shows the server's command line: it carries the course, so a leftover job of a
    grading run can be found by its course (tests/test_adversarial.py does)."""
    run = server.run(["0"], _env(), tmp_path / "out", 60, target="forkserver_jobs:command_line")
    assert run.code == 0
    assert str(tmp_path) in run.output and "autograder.forkserver" in run.output
