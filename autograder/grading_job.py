"""One submission through the grading job: run it, read what it left, say what happened.

``autograder.grade`` takes submissions in and hands each taken-in one to :func:`grade_one`
with the run's :class:`Settings` and its job server (``autograder/forkserver.py``). The job
(``autograder/nbgrader_job.py``: autograde, flags, feedback) runs in a fork of that server,
in a process group of its own with the submission's wall-clock limit; this module then reads
the job's result and timing files and the score from the gradebook, and returns a new
:class:`Outcome`. Nothing here prints or logs: the pipeline reports outcomes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import gradebook as gbk
from autograder import sandbox as sandboxing
from autograder.forkserver import ForkServer
from autograder.guarded_execute import PHASES_ENV
from autograder.layout import CourseLayout
from autograder.nbgrader_run import last_error, nbgrader_env

DEFAULT_TIMEOUT_S = 900
DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class Outcome:
    """What happened to one (student, mission): taken in, then graded, or why not.

    Two stages, two fields: ``taken_in`` (intake accepted it; nbgrader may grade it) and
    ``graded`` (a score is in the gradebook). Each step returns a new Outcome.
    """

    student: str
    mission: str
    taken_in: bool = False
    graded: bool = False
    score: float | None = None
    max_score: float | None = None
    needs_manual: bool = False
    seconds: float = 0.0
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    feedback: tuple[Path, ...] = ()
    phases: dict = field(default_factory=dict)  # phase name -> seconds (benchmarks)

    @property
    def ok(self) -> bool:
        """Graded: a score is recorded for this submission."""
        return self.graded


@dataclass(frozen=True)
class Settings:
    """How each submission runs: limits, parallelism and the kernel's sandbox."""

    timeout: float = DEFAULT_TIMEOUT_S  # wall clock per submission, seconds
    cell_timeout: float | None = None  # per cell; None: nbgrader_config.py's value
    jobs: int = DEFAULT_JOBS
    sandbox: bool = True
    kernel_path: Path | None = None  # folder holding the sandboxed kernel spec
    disk_budget: int = sandboxing.DEFAULT_DISK_BUDGET  # bytes a sandboxed kernel may write


def autograde_env(kernel_path: Path | None) -> tuple[list[str], dict[str, str]]:
    """nbgrader's options and environment: the sandboxed ``python3`` kernel spec found
    first, and the kernel's sockets in a folder of this nbgrader process's own."""
    env = nbgrader_env()
    if kernel_path is None:
        return [], env
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(kernel_path), *filter(None, [env.get("JUPYTER_PATH")])]
    )
    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir=kernel_path))
    return sandboxing.nbgrader_options(runtime), env


LOCKED = "database is locked"


def locked_before_any_cell(code: int | None, output: str, timing: dict) -> bool:
    """Whether a failed job should simply run again: the gradebook was locked by another
    job, and no cell of the notebook had run yet.

    Why "no cell": the job's output also carries text a student controls (a cell that
    times out is quoted in the error). A notebook that says "database is locked" in a
    looping cell must not buy itself three runs of the wall-clock limit. Before the first
    cell, every line of the output is nbgrader's own.

    Why an exit status above 0: nbgrader reports a locked gradebook by exiting 1, and a
    job that exits has written its timing file (with the first cell, if one ran). A job
    killed by a signal (the out-of-memory killer, say) never wrote it, while its kernel
    may already have written "database is locked" to its own stdout, which reaches the
    job's output: that must not buy three runs either."""
    return code is not None and code > 0 and LOCKED in output and not timing.get("first_cell")


def grade_one(
    course: CourseLayout, taken: Outcome, settings: Settings, server: ForkServer
) -> Outcome:
    """Autograde one taken-in submission and generate its feedback; never raises.

    Returns a new Outcome (``taken`` is left as it was)."""
    try:
        return _grade_one(course, taken, settings, server)
    except Exception as exc:  # noqa: BLE001 - one submission's failure stays its own
        return dataclasses.replace(
            taken,
            graded=False,
            problems=(*taken.problems, f"grading failed ({type(exc).__name__}: {str(exc)[:200]})"),
        )


def autograde_problem(code: int | None, out: str, timeout: float) -> str:
    """The FAILED reason for an autograde run that did not finish cleanly."""
    if code is None:
        return (
            f"autograde timed out after {timeout:.0f} s (killed); "
            "no grade recorded for this submission"
        )
    why = last_error(out)
    if code < 0:  # its last lines may be the kernel's own (forwarded stdout), not nbgrader's
        why = (
            f"the grading job was killed by signal {-code} (out of memory?); "
            "no grade recorded for this submission"
        )
    elif "DeadKernelError" in out or "Kernel died" in out:
        why = "the kernel died while running the notebook (os._exit, a crash or out of memory)"
    elif "CellTimeoutError" in out:
        why = (
            "a cell ran past the per-cell time limit and did not stop when interrupted; "
            "no grade recorded for this submission"
        )
    return f"autograde failed (exit {code}): {why}"


def job_phases(timing: dict, result: dict, spawned: float, seconds: float) -> dict[str, float]:
    """Split one grading job's wall time into its phases: nbgrader start-up (interpreter,
    imports, configuration, copying the submission in), sandbox and kernel start, the
    notebook's own cells, the hidden tests, autograde's finish (scores saved to the
    gradebook, notebook written, kernel stopped), the flags, the feedback page."""
    try:
        first = timing["first_cell"] or timing["preprocess_end"]
        end = result.get("autograde_end", spawned + seconds)
        phases = {
            "nbgrader_startup": timing["preprocess_start"] - spawned,
            "kernel_start": first - timing["preprocess_start"],
            "notebook_cells": timing["cells"]["answer"] + timing["cells"]["instructor"],
            "hidden_tests": timing["cells"]["test"],
            "autograde_finish": end - timing["preprocess_end"],
        }
        if timing.get("last_cell_end"):
            phases["kernel_stop"] = timing["preprocess_end"] - timing["last_cell_end"]
        if result.get("finished"):
            phases["job_exit"] = spawned + seconds - result["finished"]
    except (KeyError, TypeError):
        return {"autograde": seconds}  # it never reached the notebook: one figure
    if "flags_and_gradebook" in result:
        phases["flags_and_gradebook"] = result["flags_and_gradebook"]
    if "feedback" in result:
        phases["feedback"] = result["feedback"]
    if "kernel_max_rss_mib" in result:
        phases["kernel_max_rss_mib"] = result["kernel_max_rss_mib"]  # memory, not seconds
    return phases


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def flag_after_failed_job(
    course: CourseLayout, student: str, mission: str, problems: list[str]
) -> list[str]:
    """The flags of a submission whose job failed after its cells ran; a flagged one's
    automatic points are set to 0 pending review here, in the grader.

    Why: nbgrader saves the scores before the job applies the flags. A job killed in
    between (at the wall clock, by the out-of-memory killer) would leave a flagged
    notebook's points in the gradebook and in grades.csv. Nothing is cleared here: what
    the gradebook holds after a failed job is not a clean grade."""
    from autograder.nbgrader_job import find_flags

    try:
        flags = find_flags(course.root, mission, student)
    except Exception as exc:  # noqa: BLE001 - an unreadable notebook, say
        problems.append(f"flags not checked after the failure ({type(exc).__name__})")
        return []
    if flags:
        try:
            gbk.zero_pending_review(course.db_url, student, mission, flags)
        except Exception:  # noqa: BLE001, S110 - not in the gradebook: no points to take away
            pass
    return flags


def _grade_one(
    course: CourseLayout, taken: Outcome, settings: Settings, server: ForkServer
) -> Outcome:
    """One grading job (``autograder/nbgrader_job.py``: autograde, flags, feedback in one
    process forked from ``server``), then the score read back from the gradebook."""
    student, mission = taken.student, taken.mission
    start = time.perf_counter()
    problems, notes = list(taken.problems), list(taken.notes)
    options, env = autograde_env(settings.kernel_path)
    if settings.cell_timeout:
        options.append(f"--Execute.timeout={int(settings.cell_timeout)}")
    own = Path(tempfile.mkdtemp(prefix="job-"))  # the job's result: out of the kernel's sight
    env[PHASES_ENV] = str(own / "timing.json")
    argv = [mission, student, "--result", str(own / "result.json"), "--", *options]
    try:
        for _attempt in range(3):
            (own / "timing.json").unlink(missing_ok=True)
            spawned = time.time()
            run = server.run(argv, env, own / "output.txt", settings.timeout)
            timing = _read_json(own / "timing.json")
            if not locked_before_any_cell(run.code, run.output, timing):
                break
            time.sleep(2)
        result = _read_json(own / "result.json")
        phases = {**taken.phases, **job_phases(timing, result, spawned, run.seconds)}
    finally:
        shutil.rmtree(own, ignore_errors=True)
    flags = [str(f) for f in result.get("flags", [])]
    score = None
    if run.code != 0:
        problems.append(autograde_problem(run.code, run.output, settings.timeout))
        if timing.get("first_cell"):
            flags = flag_after_failed_job(course, student, mission, problems)
    elif "flag_error" in result or "flags_and_gradebook" not in result:
        problems.append(f"no score in the gradebook: {result.get('flag_error', 'no result')}")
    else:
        if result.get("cleared"):
            notes.append(
                "an earlier flag's zero overrides were removed: this submission was graded clean"
            )
        try:
            t0 = time.perf_counter()
            score = gbk.read_score(course.db_url, student, mission)
            phases["flags_and_gradebook"] += time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - report and carry on with the others
            problems.append(f"no score in the gradebook: {exc}")
    feedback: list[Path] = []
    if score is not None:
        folder = course.feedback_folder(student, mission)
        feedback = sorted(folder.glob("*.html")) if folder.exists() else []
        if result.get("feedback_error") or not feedback:
            why = f"{result.get('feedback_error') or 'no page'}: {last_error(run.output)}"
            problems.append(f"feedback not generated ({why})")
    return dataclasses.replace(
        taken,
        graded=score is not None,  # a missing feedback page is a problem, not a lost grade
        problems=tuple(problems),
        notes=tuple(notes),
        flags=tuple(flags),
        feedback=tuple(feedback),
        phases=phases,
        seconds=time.perf_counter() - start,
        score=score.score if score else None,
        max_score=score.max_score if score else None,
        needs_manual=score.needs_manual if score else False,
    )
