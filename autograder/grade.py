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
4. flags a notebook that replaces what the tests rely on (``autograder/scan.py``, the
   kernel guard's notices): automatic points 0 pending review;
5. runs ``nbgrader generate_feedback`` for it: one HTML per notebook under
   ``autograder/feedback/<student_id>/<mission>/``, in which test cells show only the
   failing check's message (see ``autograder/feedback.py``).

Steps 3-5 run in one process per submission (``autograder/nbgrader_job.py``), forked
from a server that imported nbgrader once for the whole run (``autograder/forkserver.py``):
a session and process group of its own per submission, killed with every descendant at
``--timeout``, for ``--jobs`` submissions at a time
(default: one per CPU core, at most four; ``make bench`` measured sequential against
parallel on 2 cores). The gradebook is
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
1 when the pipeline itself failed (no such folder, gradebook or export unusable); 130
when interrupted (Ctrl-C): running jobs are stopped, what was graded keeps its grade, and
the same command grades the folder again, the rest included.
``--course-root`` grades into another copy of the course (tests use a scratch copy, so
the repository's ``autograder/`` folder is never written). ``--shard I/N`` grades one
shard of the folder and writes a bundle that ``python -m autograder.shards merge`` combines
with the others (``autograder/shards.py``, docs/grading-at-scale.md).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder import MISSIONS, PipelineError
from autograder import gradebook as gbk
from autograder import sandbox as sandboxing
from autograder.export import export_csv
from autograder.forkserver import ForkServer, ForkServerError
from autograder.grading_job import (
    DEFAULT_JOBS,
    DEFAULT_TIMEOUT_S,
    Outcome,
    Settings,
    grade_one,
)
from autograder.intake import IntakeError, take_in
from autograder.layout import COURSE, REPO, CourseLayout
from autograder.nbgrader_run import nbgrader_env
from autograder.release import generate
from autograder.shards import Shard, ShardError, default_bundle, write_bundle

# A student id is a folder name that ends up on nbgrader's command line (where `*`, `?`
# and `[` are wildcards matching other students), in paths, in the gradebook, in the log
# and in grades.csv (where a newline forges a row and a leading `=`, `+`, `-` or `@` is a
# spreadsheet formula). Letters, digits, `.`, `_`, `-`, starting with a letter or digit,
# at most 64 characters: enough for university logins and e-mail local parts, none of
# those dangers. Mission folder names must be one of MISSIONS.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
UNSANDBOXED_WARNING = (
    "WARNING: grading WITHOUT a sandbox (--no-sandbox): student code runs with your rights "
    "and can read solutions and hidden tests, rewrite the gradebook and patch the grader. "
    "Do this only inside a throw-away container or as a separate user."
)


class Log:
    """Prints and appends to autograder/grade.log (thread-safe enough: one write per line)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")
        self.lines: list[str] = []  # this run's lines (a shard's bundle keeps them)
        self._fh.write(f"\n=== grading run {time.strftime('%Y-%m-%d %H:%M:%S')}\n")

    def __call__(self, line: str, error: bool = False) -> None:
        line = one_line(line)  # a newline in a name must never forge a second log line
        print(line, file=sys.stderr if error else sys.stdout, flush=True)
        self.lines.append(line)
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


def prepare_sandbox(settings: Settings, workdir: Path, log: Log) -> Path | None:
    """Write the sandboxed kernel spec into ``workdir`` and return that folder (None when
    grading unsandboxed), or stop if bwrap cannot run."""
    if not settings.sandbox:
        log(UNSANDBOXED_WARNING, error=True)
        return None
    try:
        bwrap = sandboxing.check()
    except sandboxing.SandboxError as exc:
        raise PipelineError(str(exc)) from exc
    import helpers.datasets

    read_only = sorted(
        {
            str(REPO / "helpers"),
            str(Path(helpers.__file__).parent),
            str(helpers.datasets.data_dir()),
        }
    )
    sandboxing.write_kernelspec(workdir, bwrap, read_only, disk_budget=settings.disk_budget)
    log(
        f"sandbox: kernels run in {bwrap} as uid {sandboxing.SANDBOX_UID} without capabilities "
        f"or network, {settings.disk_budget / 2**20:g} MiB to write "
        f"(read-only: {', '.join(read_only)})"
    )
    return workdir


def ensure_gradebook(course: CourseLayout, missions, log: Log) -> None:
    """Every mission, with its notebook and graded cells, must be in the gradebook.

    A fresh checkout has no gradebook.db (it is not committed): generate the missions
    into a temporary folder, which fills the gradebook and leaves release/ untouched.
    """
    missing = gbk.missions_missing(course.db_url, missions)
    if not missing:
        return
    log(f"adding to the gradebook: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        try:
            generate(course.root, missing, release_dir=tmp)
        except RuntimeError as exc:
            raise PipelineError(str(exc)) from exc


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


def intake(course: CourseLayout, student: str, mission: str, src: Path) -> Outcome:
    """Take the submission in and register the student; problems end up in the Outcome.

    Never raises: whatever goes wrong with this one submission becomes its FAILED line.
    """
    start = time.perf_counter()

    def refused(problem: str) -> Outcome:
        return Outcome(
            student, mission, problems=(problem,), phases={"intake": time.perf_counter() - start}
        )

    try:
        gbk.register_student(course.db_url, student)  # listed in the CSV even if not graded
        if src.is_symlink():
            raise IntakeError(
                f"the folder {src.name!r} is a symbolic link; links are not "
                "followed, hand in a plain folder"
            )
        taken = take_in(
            src,
            course.submitted_folder(student, mission),
            mission,
            course.release_notebook(mission),
        )
    except IntakeError as exc:
        return refused(f"{exc}; not graded (an earlier grade, if any, is kept)")
    except OSError as exc:
        return refused(f"cannot read the submission: {exc}; not graded")
    except Exception as exc:  # noqa: BLE001 - one odd file must never stop the batch
        return refused(f"intake failed ({type(exc).__name__}: {str(exc)[:200]}); not graded")
    return Outcome(
        student,
        mission,
        taken_in=True,
        notes=tuple(taken.notes),
        phases={"intake": time.perf_counter() - start},
    )


@contextlib.contextmanager
def job_server(course: CourseLayout, ready: list[Outcome]):
    """The warm process every grading job of this run is forked from (``autograder/
    forkserver.py``); none when there is nothing to grade."""
    if not ready:
        yield None
        return
    try:
        server = ForkServer(course.root).start()
    except ForkServerError as exc:
        raise PipelineError(str(exc)) from exc
    try:
        yield server
    finally:
        server.close()


def report(outcome: Outcome, log: Log) -> None:
    """The submission's lines: notes, then one ``graded``, ``FLAGGED`` or ``FAILED`` line."""
    who = f"{shown(outcome.student)}/{shown(outcome.mission)}"
    for note in outcome.notes:
        log(f"note {who}: {note}")
    if outcome.graded:
        manual = " + written answer to grade by hand" if outcome.needs_manual else ""
        log(
            f"graded {who}: {outcome.score:g} / {outcome.max_score:g}{manual} "
            f"({outcome.seconds:.0f} s)"
        )
    if outcome.flags:
        log(
            f"FLAGGED {who}: automatic points set to 0 pending review; {'; '.join(outcome.flags)}",
            error=True,
        )
    if outcome.problems:
        log(f"FAILED {who}: {'; '.join(outcome.problems)}", error=True)


def refuse_names(submissions, log: Log) -> list[tuple[str, str, Path]]:
    """The submissions whose student id and mission are acceptable; one FAILED line each other."""
    accepted = []
    for student, mission, path in submissions:
        who = f"{shown(student)}/{shown(mission)}"
        if not STUDENT_ID.fullmatch(student):
            log(
                f"FAILED {who}: not a valid student id (expected letters, digits, '.', '_' "
                "or '-', starting with a letter or digit, at most 64 characters); not graded",
                error=True,
            )
        elif mission == "":
            log(
                f"FAILED {who}: the student folder is a symbolic link; links are not "
                "followed, hand in a plain folder; not graded",
                error=True,
            )
        elif mission not in MISSIONS:
            log(f"FAILED {who}: not a mission of this course ({', '.join(MISSIONS)})", error=True)
        else:
            accepted.append((student, mission, path))
    return accepted


def grade_folder(
    folder: Path,
    root: Path = REPO,
    log: Log | None = None,
    settings: Settings | None = None,
    shard: Shard | None = None,
    bundle: Path | None = None,
) -> list[Outcome]:
    """Grade every submission under ``folder`` into the course at ``root``; export the CSV.

    With ``shard``, only that shard's (student, mission) pairs, and their results are
    written to ``bundle`` as well (``autograder/shards.py``)."""
    settings = settings or Settings()
    course = CourseLayout.at(root)
    own_log = log is None
    log = log or Log(course.grade_log)
    try:
        if not folder.is_dir():
            raise PipelineError(f"no submissions folder {folder}")
        submissions = find_submissions(folder)
        if shard is not None:
            submissions = [s for s in submissions if shard.owns(s[0], s[1])]
            log(f"shard {shard}: {len(submissions)} folder(s) of this shard")
        if not submissions:
            log(f"no <student>/<mission>/ folders in {folder}; nothing to grade")
        known = refuse_names(submissions, log)
        with tempfile.TemporaryDirectory(prefix="grading-") as tmp:
            kernel_path = prepare_sandbox(settings, Path(tmp), log)  # first: it may refuse
            settings = dataclasses.replace(settings, kernel_path=kernel_path)
            ensure_gradebook(course, sorted({m for _, m, _ in known}), log)
            gbk.use_wal_journal(course.gradebook_db)
            taken = [intake(course, student, mission, path) for student, mission, path in known]
            ready = [o for o in taken if o.taken_in]
            for outcome in taken:
                if not outcome.taken_in:
                    report(outcome, log)
            log(f"grading {len(ready)} submission(s), {settings.jobs} at a time")
            graded = {}
            with job_server(course, ready) as server:
                pool = ThreadPoolExecutor(max_workers=max(1, settings.jobs))
                try:
                    for outcome in pool.map(
                        lambda o: grade_one(course, o, settings, server), ready
                    ):
                        report(outcome, log)
                        graded[(outcome.student, outcome.mission)] = outcome
                finally:
                    # Normally every job is done here. Interrupted (Ctrl-C), the jobs not
                    # started never start, and closing the server stops those running.
                    pool.shutdown(wait=False, cancel_futures=True)
        csv_path = export_csv(course.root)
        log(f"wrote {csv_path} and feedback under {course.feedback}")
        outcomes = [graded.get((o.student, o.mission), o) for o in taken]
        if shard is not None:
            target = write_bundle(
                course,
                shard,
                bundle or default_bundle(course, shard),
                [(s, m) for s, m, _ in known],
                {s for s, _, _ in known},
                outcomes,
                log.lines,
            )
            log(f"shard {shard}: results in {target}")
        return outcomes
    finally:
        if own_log:
            log.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.grade", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "submissions", type=Path, help="folder holding <student_id>/<mission>/<mission>.ipynb"
    )
    parser.add_argument(
        "--course-root",
        type=Path,
        default=COURSE.root,
        help="course root to grade into (default: this repository)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"wall-clock seconds per submission (default {DEFAULT_TIMEOUT_S})",
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        help="seconds per cell (default: nbgrader_config.py's Execute.timeout)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"submissions graded at once (default {DEFAULT_JOBS})",
    )
    parser.add_argument(
        "--disk-budget",
        type=float,
        metavar="MIB",
        default=sandboxing.DEFAULT_DISK_BUDGET / 2**20,
        help="MiB a sandboxed kernel may write in all, /tmp and its working "
        "folder together (default %(default)g)",
    )
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="grade only shard I of N (a stable hash of student/mission) and write a bundle "
        "for `python -m autograder.shards merge`",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        default=None,
        help="where a shard's bundle goes (default <course>/autograder/bundles/shard-I-of-N)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code unsandboxed (only in a throw-away container)",
    )
    args = parser.parse_args(argv)
    # nbgrader's gradebook runs `alembic` from PATH: this environment's bin/ comes first.
    os.environ["PATH"] = nbgrader_env()["PATH"]
    root = args.course_root.resolve()
    folder = args.submissions if args.submissions.is_absolute() else Path.cwd() / args.submissions
    settings = Settings(
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        jobs=args.jobs,
        sandbox=not args.no_sandbox,
        disk_budget=int(args.disk_budget * 2**20),
    )
    try:
        shard = Shard.parse(args.shard) if args.shard else None
    except ShardError as exc:
        parser.error(str(exc))
    try:
        grade_folder(
            folder.resolve(),
            root,
            settings=settings,
            shard=shard,
            bundle=args.bundle.resolve() if args.bundle else None,
        )
    except PipelineError as exc:
        print(f"grading pipeline failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "grading interrupted: the jobs still running were stopped and the submissions "
            "not started were left; what was graded keeps its grade in the gradebook, "
            "grades.csv was not rewritten. Run the same command again: it grades the folder "
            "again, the rest included.",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
