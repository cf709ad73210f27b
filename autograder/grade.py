"""Autograde every submission in a folder, one isolated nbgrader run per notebook.

Usage::

    make grade SUBMISSIONS=<dir>              # = python -m autograder.grade <dir>
    python -m autograder.grade <dir> --course-root <copy of the repository> --timeout 900

``<dir>`` holds ``<student_id>/<mission>/<mission>.ipynb`` (plus ``timestamp.txt`` if
nbgrader's exchange wrote one). For every (student, mission) this

1. copies the submission into ``autograder/submitted/<student_id>/<mission>/``;
2. registers the student in the gradebook if unknown;
3. runs ``nbgrader autograde <mission> --student <id> --force`` in its own process group
   with a wall-clock limit, so an infinite loop or a crashed kernel in one submission
   never stops the others;
4. runs ``nbgrader generate_feedback`` for it: one HTML per notebook under
   ``autograder/feedback/<student_id>/<mission>/``, in which test cells show only the
   failing check's message (see ``autograder/feedback.py``).

Finally ``nbgrader export`` writes ``autograder/grades.csv`` (columns include
``assignment, student_id, score, max_score``). Every failure prints one line
``FAILED <student>/<mission>: <why>`` (also kept in ``autograder/grade.log``).

Exit status: 0 when the pipeline ran, even if students' code failed or timed out;
1 when the pipeline itself failed (no such folder, gradebook or export unusable).
``--course-root`` grades into another copy of the course (tests use a scratch copy, so
the repository's ``autograder/`` folder is never written).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import COURSE_ID, MISSIONS, ROOT, db_url
from autograder.release import generate, nbgrader_env

DEFAULT_TIMEOUT_S = 900


class PipelineError(RuntimeError):
    """The grading pipeline itself failed (not a student's code)."""


@dataclass
class Outcome:
    student: str
    mission: str
    ok: bool = False
    score: float | None = None
    max_score: float | None = None
    needs_manual: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    feedback: list[Path] = field(default_factory=list)


class Log:
    """Prints and appends to autograder/grade.log."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")
        self._fh.write(f"\n=== grading run {time.strftime('%Y-%m-%d %H:%M:%S')}\n")

    def __call__(self, line: str, error: bool = False) -> None:
        print(line, file=sys.stderr if error else sys.stdout, flush=True)
        self._fh.write(line + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def run_limited(cmd: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run ``cmd`` in a new process group; on timeout kill that group. (returncode|None, output)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=nbgrader_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        out, _ = proc.communicate()
        return None, out


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
        os.killpg(pid, signal.SIGKILL)  # the group this module created with start_new_session
    except ProcessLookupError:
        pass
    for child in descendants:
        try:
            child.kill()
        except Exception:  # noqa: BLE001 - it exited meanwhile
            pass


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


def nbgrader(args: list[str], root: Path, timeout: float) -> tuple[int | None, str]:
    return run_limited([sys.executable, "-m", "nbgrader", *args], root, timeout)


# --------------------------------------------------------------------------- gradebook
def _gradebook(root: Path):
    from nbgrader.api import Gradebook

    return Gradebook(db_url(root), course_id=COURSE_ID)


def ensure_gradebook(root: Path, missions, log: Log) -> None:
    """Every mission, with its notebook and graded cells, must be in the gradebook.

    A fresh checkout has no gradebook.db (it is not committed): generate the missions
    into a temporary folder, which fills the gradebook and leaves release/ untouched.
    """
    missing = []
    with _gradebook(root) as gb:
        for mission in missions:
            try:
                assignment = gb.find_assignment(mission)
                if not assignment.notebooks:
                    missing.append(mission)
            except Exception:  # noqa: BLE001 - MissingEntry: not there yet
                missing.append(mission)
    if not missing:
        return
    log(f"adding to the gradebook: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        try:
            generate(root, missing, release_dir=tmp)
        except RuntimeError as exc:
            raise PipelineError(str(exc)) from exc


def register_student(root: Path, student: str) -> None:
    with _gradebook(root) as gb:
        gb.update_or_create_student(student)


def read_score(root: Path, outcome: Outcome) -> None:
    with _gradebook(root) as gb:
        sub = gb.find_submission(outcome.mission, outcome.student)
        outcome.score = float(sub.score)
        outcome.max_score = float(sub.max_score)
        outcome.needs_manual = bool(sub.needs_manual_grade)


# --------------------------------------------------------------------------- steps
def find_submissions(folder: Path) -> list[tuple[str, str, Path]]:
    """(student, mission, path) for every ``<student>/<mission>/`` folder, sorted."""
    found = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if student_dir.name.startswith((".", "_")):
            continue
        for mission_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if not mission_dir.name.startswith((".", "_")):
                found.append((student_dir.name, mission_dir.name, mission_dir))
    return found


def copy_submission(src: Path, root: Path, student: str, mission: str) -> Path:
    dest = root / "autograder" / "submitted" / student / mission
    if src.resolve() == dest.resolve():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest


def grade_one(root: Path, student: str, mission: str, src: Path, timeout: float,
              log: Log) -> Outcome:
    outcome = Outcome(student, mission)
    start = time.perf_counter()
    expected = f"{mission}.ipynb"
    notebooks = sorted(p.name for p in src.glob("*.ipynb"))
    if expected not in notebooks:
        outcome.problems.append(f"no {expected} in {src} (found: {', '.join(notebooks) or 'none'}); "
                                "the mission scores 0")
    copy_submission(src, root, student, mission)
    register_student(root, student)
    code, out = nbgrader(["autograde", mission, "--student", student, "--force"], root, timeout)
    if code is None:
        outcome.problems.append(f"autograde timed out after {timeout:.0f} s (killed)")
    elif code != 0:
        outcome.problems.append(f"autograde failed (exit {code}): {last_error(out)}")
    else:
        try:
            read_score(root, outcome)
            outcome.ok = True
        except Exception as exc:  # noqa: BLE001 - report and carry on with the others
            outcome.problems.append(f"no score in the gradebook: {exc}")
    if outcome.ok:
        code, out = nbgrader(["generate_feedback", mission, "--student", student, "--force"],
                             root, 300)
        folder = root / "autograder" / "feedback" / student / mission
        outcome.feedback = sorted(folder.glob("*.html")) if folder.exists() else []
        if code != 0 or not outcome.feedback:
            why = "timed out" if code is None else f"exit {code}: {last_error(out)}"
            outcome.problems.append(f"feedback not generated ({why})")
    outcome.seconds = time.perf_counter() - start
    return outcome


def export_csv(root: Path, timeout: float = 300) -> Path:
    target = root / "autograder" / "grades.csv"
    code, out = nbgrader(["export", f"--to={target}"], root, timeout)
    if code != 0 or not target.exists():
        raise PipelineError(f"nbgrader export failed: {last_error(out)}")
    with target.open(newline="") as fh:
        header = next(csv.reader(fh), [])
    missing = {"assignment", "student_id", "score", "max_score"} - set(header)
    if missing:
        raise PipelineError(f"{target} lacks the columns {sorted(missing)}")
    return target


def grade_folder(folder: Path, root: Path = ROOT, timeout: float = DEFAULT_TIMEOUT_S,
                 log: Log | None = None) -> list[Outcome]:
    """Grade every submission under ``folder`` into the course at ``root``; export the CSV."""
    own_log = log is None
    log = log or Log(root / "autograder" / "grade.log")
    try:
        if not folder.is_dir():
            raise PipelineError(f"no submissions folder {folder}")
        submissions = find_submissions(folder)
        if not submissions:
            log(f"no <student>/<mission>/ folders in {folder}; nothing to grade")
        known = [s for s in submissions if s[1] in MISSIONS]
        for student, mission, _ in submissions:
            if mission not in MISSIONS:
                log(f"FAILED {student}/{mission}: not a mission of this course "
                    f"({', '.join(MISSIONS)})", error=True)
        ensure_gradebook(root, sorted({m for _, m, _ in known}), log)
        outcomes = []
        for student, mission, path in known:
            outcome = grade_one(root, student, mission, path, timeout, log)
            outcomes.append(outcome)
            if outcome.ok:
                manual = " + written answer to grade by hand" if outcome.needs_manual else ""
                log(f"graded {student}/{mission}: {outcome.score:g} / {outcome.max_score:g}"
                    f"{manual} ({outcome.seconds:.0f} s)")
            for problem in outcome.problems:
                log(f"FAILED {student}/{mission}: {problem}", error=True)
        csv_path = export_csv(root)
        log(f"wrote {csv_path} and feedback under {root / 'autograder' / 'feedback'}")
        return outcomes
    finally:
        if own_log:
            log.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.grade",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path,
                        help="folder holding <student_id>/<mission>/<mission>.ipynb")
    parser.add_argument("--course-root", type=Path, default=ROOT,
                        help="course root to grade into (default: this repository)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"wall-clock seconds per submission (default {DEFAULT_TIMEOUT_S})")
    args = parser.parse_args(argv)
    root = args.course_root.resolve()
    folder = args.submissions if args.submissions.is_absolute() else Path.cwd() / args.submissions
    try:
        grade_folder(folder.resolve(), root, args.timeout)
    except PipelineError as exc:
        print(f"grading pipeline failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
