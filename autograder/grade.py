"""Autograde every submission in a folder, one isolated nbgrader run per notebook.

Usage::

    make grade SUBMISSIONS=<dir>              # = python -m autograder.grade <dir>
    python -m autograder.grade <dir> --course-root <copy of the repository> --timeout 900 \
        --cell-timeout 600 --jobs 2 --disk-budget 512 [--no-sandbox]

``<dir>`` holds ``<student_id>/<mission>/<mission>.ipynb`` (plus ``timestamp.txt`` if
nbgrader's exchange wrote one). For every (student, mission) this

1. takes the submission in (``autograder/intake.py``): only the notebook (nbformat 4,
   old formats upgraded, a lone misnamed notebook accepted) and ``timestamp.txt`` are
   copied into ``autograder/submitted/<student_id>/<mission>/``; an empty, truncated
   or ambiguous submission is reported and leaves any earlier grade as it was;
2. registers the student in the gradebook if unknown;
3. runs ``nbgrader autograde <mission> --student <id> --force`` in its own process group
   with a wall-clock limit, so an infinite loop or a crashed kernel in one submission
   never stops the others. The kernel runs in a bubblewrap sandbox
   (``autograder/sandbox.py``) that cannot see solutions, hidden tests, the gradebook
   or other submissions, holds no privileges even when grading as root, has no network
   (nbgrader reaches it over Unix sockets) and may write ``--disk-budget`` MiB in all;
   without bwrap grading stops and says so (``--no-sandbox``
   overrides, loudly). Deleted test cells are restored and graded, a cell's output is
   capped while it runs (``autograder/limits.py``);
4. runs ``nbgrader generate_feedback`` for it: one HTML per notebook under
   ``autograder/feedback/<student_id>/<mission>/``, in which test cells show only the
   failing check's message (see ``autograder/feedback.py``).

Steps 3-4 run for ``--jobs`` submissions at a time (default: one per CPU core, at most
four; ``make bench`` measured sequential against parallel on 2 cores). The gradebook is
switched to SQLite's WAL journal so that concurrent nbgrader processes do not lock
each other out.

Finally ``autograder/grades.csv`` is written from the gradebook (nbgrader export's
columns, ``assignment, student_id, score, max_score`` among them; every cell quoted,
formula-like cells neutralised), rows sorted so that grading the same folder twice gives
the same file. Every failure prints one line ``FAILED <student>/<mission>: <why>`` (also
kept in ``autograder/grade.log``); an unexpected error in one submission's step becomes
that submission's FAILED line and the others are graded as usual.

Student ids (folder names) must match :data:`STUDENT_ID`; others are not graded, and are
shown escaped (``repr``) in their one FAILED line.

Exit status: 0 when the pipeline ran, even if students' code failed or timed out;
1 when the pipeline itself failed (no such folder, gradebook or export unusable).
``--course-root`` grades into another copy of the course (tests use a scratch copy, so
the repository's ``autograder/`` folder is never written).
"""

from __future__ import annotations

import argparse
import csv
import html
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder import COURSE_ID, MISSIONS, ROOT, db_url
from autograder import sandbox as sandboxing
from autograder.guarded_execute import MARKER
from autograder.intake import IntakeError, take_in
from autograder.release import generate, nbgrader_env
from autograder.scan import scan_notebook

# A student id is a folder name that ends up on nbgrader's command line (where `*`, `?`
# and `[` are wildcards matching other students), in paths, in the gradebook, in the log
# and in grades.csv (where a newline forges a row and a leading `=`, `+`, `-` or `@` is a
# spreadsheet formula). Letters, digits, `.`, `_`, `-`, starting with a letter or digit,
# at most 64 characters: enough for university logins and e-mail local parts, none of
# those dangers. Mission folder names must be one of MISSIONS.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEFAULT_TIMEOUT_S = 900
DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 4))
UNSANDBOXED_WARNING = (
    "WARNING: grading WITHOUT a sandbox (--no-sandbox): student code runs with your rights "
    "and can read solutions and hidden tests, rewrite the gradebook and patch the grader. "
    "Do this only inside a throw-away container or as a separate user.")


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
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    feedback: list[Path] = field(default_factory=list)


@dataclass
class Settings:
    """How each submission runs: limits, parallelism and the kernel's sandbox."""

    timeout: float = DEFAULT_TIMEOUT_S  # wall clock per submission, seconds
    cell_timeout: float | None = None  # per cell; None: nbgrader_config.py's value
    jobs: int = DEFAULT_JOBS
    sandbox: bool = True
    kernel_path: Path | None = None  # folder holding the sandboxed kernel spec
    disk_budget: int = sandboxing.DEFAULT_DISK_BUDGET  # bytes a sandboxed kernel may write


class Log:
    """Prints and appends to autograder/grade.log (thread-safe enough: one write per line)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")
        self._fh.write(f"\n=== grading run {time.strftime('%Y-%m-%d %H:%M:%S')}\n")

    def __call__(self, line: str, error: bool = False) -> None:
        line = one_line(line)  # a newline in a name must never forge a second log line
        print(line, file=sys.stderr if error else sys.stdout, flush=True)
        self._fh.write(line + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def one_line(text: str) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``, ...)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def shown(name: str) -> str:
    """A student id or mission as the log shows it: as is when valid, else escaped (repr)."""
    return name if STUDENT_ID.fullmatch(name) else ascii(name)


def run_limited(cmd: list[str], cwd: Path, timeout: float,
                env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Run ``cmd`` in a new process group; on timeout kill that group. (returncode|None, output)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env or nbgrader_env(), stdout=subprocess.PIPE,
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


def nbgrader(args: list[str], root: Path, timeout: float,
             env: dict[str, str] | None = None) -> tuple[int | None, str]:
    return run_limited([sys.executable, "-m", "nbgrader", *args], root, timeout, env)


def autograde_env(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """nbgrader's options and environment: the sandboxed ``python3`` kernel spec found
    first, and the kernel's sockets in a folder of this nbgrader process's own."""
    env = nbgrader_env()
    if settings.kernel_path is None:
        return [], env
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(settings.kernel_path), *filter(None, [env.get("JUPYTER_PATH")])])
    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir=settings.kernel_path))
    return sandboxing.nbgrader_options(runtime), env


def prepare_sandbox(root: Path, settings: Settings, workdir: Path, log: Log) -> None:
    """Write the sandboxed kernel spec into ``workdir``, or stop if bwrap cannot run."""
    if not settings.sandbox:
        log(UNSANDBOXED_WARNING, error=True)
        return
    try:
        bwrap = sandboxing.check()
    except sandboxing.SandboxError as exc:
        raise PipelineError(str(exc)) from exc
    import helpers.datasets

    read_only = sorted({str(ROOT / "helpers"), str(Path(helpers.__file__).parent),
                        str(helpers.datasets.data_dir())})
    sandboxing.write_kernelspec(workdir, bwrap, read_only, disk_budget=settings.disk_budget)
    settings.kernel_path = workdir
    log(f"sandbox: kernels run in {bwrap} as uid {sandboxing.SANDBOX_UID} without capabilities "
        f"or network, {settings.disk_budget / 2**20:g} MiB to write "
        f"(read-only: {', '.join(read_only)})")


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


def use_wal_journal(root: Path) -> None:
    """Let concurrent nbgrader processes read and write the gradebook without locking out."""
    con = sqlite3.connect(root / "autograder" / "gradebook.db", timeout=60)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def register_student(root: Path, student: str) -> None:
    with _gradebook(root) as gb:
        gb.update_or_create_student(student)


FLAG_COMMENT = "Flagged for review:"  # starts the comment zero_pending_review writes


def zero_pending_review(root: Path, outcome: Outcome) -> None:
    """Override every automatically graded cell of the submission with 0 points and say why
    in that cell's comment (shown in the feedback and the Formgrader)."""
    # The comment is rendered as Markdown/HTML in the feedback and the Formgrader, and the
    # flags quote student code: escape it.
    why = (FLAG_COMMENT + " the notebook replaces what the tests rely on ("
           + html.escape("; ".join(f[:300] for f in outcome.flags[:3])) + "). Automatic points "
           "are 0 until an instructor has read it.")
    with _gradebook(root) as gb:
        nb = gb.find_submission_notebook(outcome.mission, outcome.mission, outcome.student)
        for grade in nb.grades:
            if grade.auto_score is not None:
                grade.manual_score = 0.0
        for comment in nb.comments:
            comment.manual_comment = why
        gb.db.commit()


def clear_pending_review(root: Path, student: str, mission: str) -> bool:
    """Undo an earlier flag's overrides when a resubmission is graded clean.

    Why: nbgrader keeps manual scores across ``autograde --force``, so the zeros that
    :func:`zero_pending_review` wrote for a flagged submission would stay on an honest
    resubmission. Only overrides that carry this module's flag comment are removed; an
    instructor's own manual scores and comments stay. Returns whether anything was undone.
    """
    with _gradebook(root) as gb:
        nb = gb.find_submission_notebook(mission, mission, student)
        flagged = [c for c in nb.comments
                   if (c.manual_comment or "").startswith(FLAG_COMMENT)]
        if not flagged:
            return False
        for comment in flagged:
            comment.manual_comment = None
        for grade in nb.grades:
            if grade.auto_score is not None and grade.manual_score == 0.0:
                grade.manual_score = None
        gb.db.commit()
    return True


def read_score(root: Path, outcome: Outcome) -> None:
    with _gradebook(root) as gb:
        sub = gb.find_submission(outcome.mission, outcome.student)
        outcome.score = float(sub.score)
        outcome.max_score = float(sub.max_score)
        outcome.needs_manual = bool(sub.needs_manual_grade)


# --------------------------------------------------------------------------- steps
def _is_dir_no_link(path: Path) -> bool:
    try:
        return path.is_dir() and not path.is_symlink()
    except OSError:
        return False


def find_submissions(folder: Path) -> list[tuple[str, str, Path]]:
    """(student, mission, path) for every ``<student>/<mission>/`` folder, sorted.

    Symbolic links to folders are listed too (intake refuses them, with a FAILED line),
    but never entered: a linked student folder shows up as one entry with mission "".
    """
    found = []
    for student_dir in sorted(folder.iterdir()):
        if student_dir.name.startswith((".", "_")) or not student_dir.is_dir():
            continue
        if not _is_dir_no_link(student_dir):
            found.append((student_dir.name, "", student_dir))
            continue
        for mission_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if not mission_dir.name.startswith((".", "_")):
                found.append((student_dir.name, mission_dir.name, mission_dir))
    return found


def intake(root: Path, student: str, mission: str, src: Path) -> Outcome:
    """Take the submission in and register the student; problems end up in the Outcome.

    Never raises: whatever goes wrong with this one submission becomes its FAILED line.
    """
    outcome = Outcome(student, mission)
    try:
        register_student(root, student)  # listed in the CSV even if nothing can be graded
        if src.is_symlink():
            raise IntakeError(f"the folder {src.name!r} is a symbolic link; links are not "
                              "followed, hand in a plain folder")
        dest = root / "autograder" / "submitted" / student / mission
        taken = take_in(src, dest, mission, root / "release" / mission / f"{mission}.ipynb")
    except IntakeError as exc:
        outcome.problems.append(f"{exc}; not graded (an earlier grade, if any, is kept)")
        return outcome
    except OSError as exc:
        outcome.problems.append(f"cannot read the submission: {exc}; not graded")
        return outcome
    except Exception as exc:  # noqa: BLE001 - one odd file must never stop the batch
        outcome.problems.append(f"intake failed ({type(exc).__name__}: {str(exc)[:200]}); "
                                "not graded")
        return outcome
    outcome.notes = taken.notes
    outcome.ok = True  # ready for autograde
    return outcome


LOCKED = "database is locked"


def guard_findings(path: Path) -> list[str]:
    """What the kernel guard had to put back while the notebook ran (its stdout notices)."""
    import nbformat

    found = []
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") if output.get("output_type") == "stream" else ""
            if isinstance(text, str) and text.startswith(MARKER):
                why = text.split("put it back:", 1)[-1].strip()
                found.append(f"cell {index + 1}, the kernel guard reset: {why[:400]}")
    return found


def grade_one(root: Path, outcome: Outcome, settings: Settings) -> Outcome:
    """Autograde one taken-in submission and generate its feedback; never raises."""
    try:
        return _grade_one(root, outcome, settings)
    except Exception as exc:  # noqa: BLE001 - one submission's failure stays its own
        outcome.ok = False
        outcome.problems.append(f"grading failed ({type(exc).__name__}: {str(exc)[:200]})")
        return outcome


def _grade_one(root: Path, outcome: Outcome, settings: Settings) -> Outcome:
    student, mission = outcome.student, outcome.mission
    start = time.perf_counter()
    outcome.ok = False
    args = ["autograde", mission, "--student", student, "--force"]
    if settings.cell_timeout:
        args.append(f"--Execute.timeout={int(settings.cell_timeout)}")
    options, env = autograde_env(settings)
    args += options
    for _attempt in range(3):
        code, out = nbgrader(args, root, settings.timeout, env)
        if not (code and LOCKED in out):
            break
        time.sleep(2)
    if code is None:
        outcome.problems.append(f"autograde timed out after {settings.timeout:.0f} s (killed); "
                                "no grade recorded for this submission")
    elif code != 0:
        why = last_error(out)
        if "DeadKernelError" in out or "Kernel died" in out:
            why = "the kernel died while running the notebook (os._exit, a crash or out of memory)"
        elif "CellTimeoutError" in out:
            why = ("a cell ran past the per-cell time limit and did not stop when interrupted; "
                   "no grade recorded for this submission")
        outcome.problems.append(f"autograde failed (exit {code}): {why}")
    else:
        try:
            outcome.flags = scan_notebook(root / "autograder" / "submitted" / student / mission
                                          / f"{mission}.ipynb")
            outcome.flags += guard_findings(root / "autograder" / "autograded" / student
                                            / mission / f"{mission}.ipynb")
            if outcome.flags:
                zero_pending_review(root, outcome)
            elif clear_pending_review(root, student, mission):
                outcome.notes.append("an earlier flag's zero overrides were removed: "
                                     "this submission was graded clean")
            read_score(root, outcome)
            outcome.ok = True
        except Exception as exc:  # noqa: BLE001 - report and carry on with the others
            outcome.problems.append(f"no score in the gradebook: {exc}")
    if outcome.ok:
        # A flagged notebook may have smuggled hidden test code into its own outputs:
        # its feedback shows no outputs at all, only the tests' one-line messages.
        hide = ["--HideTestCode.hide_all_outputs=True"] if outcome.flags else []
        code, out = nbgrader(["generate_feedback", mission, "--student", student, "--force",
                              *hide], root, 300)
        folder = root / "autograder" / "feedback" / student / mission
        outcome.feedback = sorted(folder.glob("*.html")) if folder.exists() else []
        if code != 0 or not outcome.feedback:
            why = "timed out" if code is None else f"exit {code}: {last_error(out)}"
            outcome.problems.append(f"feedback not generated ({why})")
    outcome.seconds = time.perf_counter() - start
    return outcome


CSV_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
               "email", "raw_score", "late_submission_penalty", "score", "max_score"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """One CSV cell: text, with a spreadsheet formula (``=HYPERLINK(...)``) made inert.

    A number keeps its sign: only text that a spreadsheet would evaluate gets a ``'``.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def grade_rows(root: Path) -> list[list[str]]:
    """nbgrader export's rows, read from the gradebook: every student x every mission."""
    from nbgrader.api import MissingEntry

    rows = []
    with _gradebook(root) as gb:
        for assignment in gb.assignments:
            for student in gb.students:
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    timestamp, raw, penalty, score = None, 0.0, 0.0, 0.0
                else:
                    timestamp, raw = sub.timestamp, sub.score
                    penalty = sub.late_submission_penalty
                    score = max(0.0, raw - penalty)
                rows.append([csv_cell(v) for v in (
                    assignment.name, assignment.duedate, timestamp, student.id,
                    student.last_name, student.first_name, student.email, raw, penalty, score,
                    assignment.max_score)])
    rows.sort(key=lambda r: (r[0], r[3]))
    return rows


def export_csv(root: Path) -> Path:
    """Write ``autograder/grades.csv`` from the gradebook, every cell quoted.

    Why not ``nbgrader export``: it writes ids and names unquoted, so a newline or a comma
    in one forges rows; here the csv module quotes everything and formulas are neutralised.
    """
    target = root / "autograder" / "grades.csv"
    try:
        rows = grade_rows(root)
    except Exception as exc:  # noqa: BLE001 - the gradebook itself is unusable
        raise PipelineError(f"cannot read the gradebook to write {target}: {exc}") from exc
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            [CSV_COLUMNS, *rows])
    tmp.replace(target)
    return target


def report(outcome: Outcome, log: Log) -> None:
    """The submission's lines: notes, then one ``graded``, ``FLAGGED`` or ``FAILED`` line."""
    who = f"{shown(outcome.student)}/{shown(outcome.mission)}"
    for note in outcome.notes:
        log(f"note {who}: {note}")
    if outcome.ok:
        manual = " + written answer to grade by hand" if outcome.needs_manual else ""
        log(f"graded {who}: {outcome.score:g} / {outcome.max_score:g}{manual} "
            f"({outcome.seconds:.0f} s)")
    if outcome.flags:
        log(f"FLAGGED {who}: automatic points set to 0 pending review; "
            f"{'; '.join(outcome.flags)}", error=True)
    if outcome.problems:
        log(f"FAILED {who}: {'; '.join(outcome.problems)}", error=True)


def refuse_names(submissions, log: Log) -> list[tuple[str, str, Path]]:
    """The submissions whose student id and mission are acceptable; one FAILED line each other."""
    accepted = []
    for student, mission, path in submissions:
        who = f"{shown(student)}/{shown(mission)}"
        if not STUDENT_ID.fullmatch(student):
            log(f"FAILED {who}: not a valid student id (expected letters, digits, '.', '_' "
                "or '-', starting with a letter or digit, at most 64 characters); not graded",
                error=True)
        elif mission == "":
            log(f"FAILED {who}: the student folder is a symbolic link; links are not "
                "followed, hand in a plain folder; not graded", error=True)
        elif mission not in MISSIONS:
            log(f"FAILED {who}: not a mission of this course ({', '.join(MISSIONS)})",
                error=True)
        else:
            accepted.append((student, mission, path))
    return accepted


def grade_folder(folder: Path, root: Path = ROOT, log: Log | None = None,
                 settings: Settings | None = None) -> list[Outcome]:
    """Grade every submission under ``folder`` into the course at ``root``; export the CSV."""
    settings = settings or Settings()
    own_log = log is None
    log = log or Log(root / "autograder" / "grade.log")
    try:
        if not folder.is_dir():
            raise PipelineError(f"no submissions folder {folder}")
        submissions = find_submissions(folder)
        if not submissions:
            log(f"no <student>/<mission>/ folders in {folder}; nothing to grade")
        known = refuse_names(submissions, log)
        with tempfile.TemporaryDirectory(prefix="grading-") as tmp:
            prepare_sandbox(root, settings, Path(tmp), log)  # first: it may refuse to grade
            ensure_gradebook(root, sorted({m for _, m, _ in known}), log)
            use_wal_journal(root)
            outcomes = [intake(root, student, mission, path) for student, mission, path in known]
            ready = [o for o in outcomes if o.ok]
            for outcome in outcomes:
                if not outcome.ok:
                    report(outcome, log)
            log(f"grading {len(ready)} submission(s), {settings.jobs} at a time")
            with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
                for outcome in pool.map(lambda o: grade_one(root, o, settings), ready):
                    report(outcome, log)
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
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds per cell (default: nbgrader_config.py's Execute.timeout)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help=f"submissions graded at once (default {DEFAULT_JOBS})")
    parser.add_argument("--disk-budget", type=float, metavar="MIB",
                        default=sandboxing.DEFAULT_DISK_BUDGET / 2**20,
                        help="MiB a sandboxed kernel may write in all, /tmp and its working "
                             "folder together (default %(default)g)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code unsandboxed (only in a throw-away container)")
    args = parser.parse_args(argv)
    # nbgrader's gradebook runs `alembic` from PATH: this environment's bin/ comes first.
    os.environ["PATH"] = nbgrader_env()["PATH"]
    root = args.course_root.resolve()
    folder = args.submissions if args.submissions.is_absolute() else Path.cwd() / args.submissions
    settings = Settings(timeout=args.timeout, cell_timeout=args.cell_timeout, jobs=args.jobs,
                        sandbox=not args.no_sandbox, disk_budget=int(args.disk_budget * 2**20))
    try:
        grade_folder(folder.resolve(), root, settings=settings)
    except PipelineError as exc:
        print(f"grading pipeline failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
